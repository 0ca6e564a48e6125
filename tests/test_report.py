"""The main job end to end (the session's report run), and the CLI's checks before work."""

import hashlib
import json
import re
import shutil
import subprocess

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from conftest import E2E_REQUEST
from PIL import Image

from gentrend.claims import VERDICTS
from gentrend.claims.ledger import load_claims
from gentrend.cli import main
from gentrend.core import paths
from gentrend.pipeline.manifest import Manifest
from gentrend.pipeline.runner import run_report
from gentrend.plots import MIN_TEXT_PT
from gentrend.report.publish import FIGURE_DPI

SECTIONS = (
    "Capability density",
    "Robustness",
    "Per-size comparisons",
    "Speed and memory",
    "Claims ledger",
    "Appendix: sources",
    "Appendix: models and architecture",
)
BODY_PAGES = 20  # the most pages before the first appendix


def _squash(text: str) -> str:
    """Text without whitespace or hyphens (pdftotext joins a word hyphenated at a line end: non-|thinking)."""
    return re.sub(r"[\s-]+", "", text)


@pytest.fixture(scope="module")
def soup(report_run):
    return BeautifulSoup((report_run / "trend_report.html").read_text(), "html.parser")


@pytest.mark.slow
def test_run_folder_holds_report_notebooks_tables_and_results(report_run):
    assert (report_run.parent / "latest").resolve() == report_run.resolve()
    assert {"profile_qwen2.5-0.5b.csv", "profile_qwen3.5-0.8b.csv"} <= {
        p.name for p in (report_run / "results").iterdir()
    }
    assert not list((report_run / "results" / "partial").glob("*.csv"))  # finished sweeps leave no partial file
    ledger = pd.read_csv(report_run / "tables" / "claims_ledger.csv")
    assert list(ledger["id"]) == [c["id"] for c in load_claims()]
    assert set(ledger["verdict"]) <= set(VERDICTS)


@pytest.mark.slow
def test_no_table_is_written_twice_or_under_two_names(report_run):
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (report_run / "tables").glob("*.csv")]
    assert len(digests) == len(set(digests))


@pytest.mark.slow
def test_html_report_has_every_section_with_charts_and_tables_as_csv(report_run, soup):
    headings = [h.get_text().rstrip("¶") for h in soup.find_all("h2")]
    assert all(s in headings for s in SECTIONS), headings
    images = soup.select('img[src^="data:image/png;base64,"]')
    per_model = [p for p in (report_run / "figures").glob("*.png") if p.name.startswith("profile_")]
    assert len(images) == len(list((report_run / "figures").glob("*.png"))) - len(per_model)  # all but 04's own
    assert all(img["alt"] and "No description" not in img["alt"] for img in images)
    assert not soup.select("p.missing")  # the full run produced every artefact the report lays out
    assert all("no rows in this run" not in p.get_text() for p in soup.select("p.empty"))  # each says why
    captions = [c.get_text() for c in soup.find_all("caption")]
    for caption in captions:  # every table shown is also a CSV, named in its caption
        csv = re.search(r"CSV: (tables/[\w.-]+\.csv)", caption).group(1)
        assert (report_run / csv).exists(), caption


def _section(soup, anchor: str) -> str:
    """The text of one report section: from its h2 up to the next h2."""
    start, text = soup.find("h2", id=anchor), []
    for piece in start.find_all_next(string=True):
        if piece.find_parent("h2") not in (None, start):
            break
        text.append(piece)
    return "".join(text)


@pytest.mark.slow
def test_density_and_claims_sections_state_their_rules(report_run, soup):
    density = _section(soup, "Capability-density")
    for rule in (
        "Bounds in the median",
        "Benchmark families",
        "Reference range",
        "Evaluation pipelines",
        "Doubling time",
    ):
        assert rule in density
    families = pd.read_csv(report_run / "tables" / "benchmark_families_counted_once_base.csv")
    assert {"EvalPlus", "MMLU"} <= set(families["family"])  # the base track's families with two members
    claims = _section(soup, "Claims-ledger")
    assert claims.index("How verdicts are given") < claims.index("Claims ledger — source")  # the rule above the ledger
    for doubling in (report_run / "tables").glob("density_doubling_time*.csv"):
        row = pd.read_csv(doubling).iloc[0]
        assert row["bound"] == "=" or pd.isna(row["ci_low"])  # never an interval for a bound


@pytest.mark.slow
def test_speed_numbers_say_they_come_from_synthetic_tiny_models(report_run, soup):
    summary = pd.read_csv(report_run / "tables" / "profile_summary.csv")
    assert set(summary["weights"]) == {"synthetic (tiny)"}
    speed = soup.find("h2", id="Speed-and-memory").find_next("table")
    assert "synthetic (tiny)" in speed.get_text()


@pytest.mark.slow
def test_pdf_has_every_chart_and_table_of_the_html(report_run, soup):
    pdf = str(report_run / "trend_report.pdf")
    text = subprocess.run(["pdftotext", pdf, "-"], capture_output=True, text=True, check=True).stdout
    text = _squash(re.sub(r"page \d+ of \d+", "", text))  # the page footers, wherever a caption breaks
    # WeasyPrint shares one image object between pages that show the same PNG: count distinct objects
    listing = subprocess.run(
        ["pdfimages", "-list", pdf], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert len({tuple(line.split()[10:12]) for line in listing if line.split()[2] == "image"}) == len(
        {img["src"] for img in soup.find_all("img")}
    )
    for caption in soup.find_all("caption"):
        assert _squash(caption.get_text()) in text
    for section in SECTIONS:
        assert _squash(section) in text


@pytest.mark.slow
def test_page_one_numbers_carry_their_basis_and_the_robustness_section_one_verdict_each(report_run):
    headlines = pd.read_csv(report_run / "tables" / "page_one_headline_numbers.csv", dtype={"subject": str})
    density = headlines[headlines["finding"] == "density"]
    assert not density.empty and density[["n_models", "n_families", "bounded_share"]].notna().all().all()
    exact = density[density["bound"] == "exact"]
    assert (exact[["value", "low", "high"]].notna()).all().all()  # an exact value has its interval
    assert density.loc[density["bound"] != "exact", "value"].isna().all()  # a bound has no point value
    for track in density["track"].unique():
        name = f"robustness_of_the_generation_multipliers_{track.replace('-', '_')}.csv"
        robust = pd.read_csv(report_run / "tables" / name, dtype={"generation": str})
        newer = density[(density["track"] == track) & density["holds"].notna()]
        assert sorted(robust["generation"]) == sorted(newer["subject"])
        assert robust["verdict"].str.match(r"^(holds|moves|not estimable)").all()
    trend = headlines[headlines["finding"] == "trend"]
    assert (trend["value"].isna() == (trend["n_generations"] < 3)).all()  # refused below three exact generations


@pytest.mark.slow
def test_pdf_is_tagged_and_every_figure_keeps_its_alt_text(report_run, soup):
    from pypdf import PdfReader

    reader = PdfReader(report_run / "trend_report.pdf")
    root = reader.trailer["/Root"]
    alts = []

    def walk(node):
        node = node.get_object()
        if not isinstance(node, dict):
            return
        if node.get("/S") == "/Figure":
            alts.append(node.get("/Alt"))
        kids = node.get("/K", [])
        for kid in kids if isinstance(kids, list) else [kids]:
            walk(kid)

    walk(root["/StructTreeRoot"])
    images = soup.select("img")
    assert len(alts) >= len({img["src"] for img in images}) and all(alts)
    assert {str(a) for a in alts} >= {img["alt"] for img in images}


@pytest.mark.slow
def test_the_pdf_body_fits_the_page_budget_and_the_run_records_it(report_run):
    from pypdf import PdfReader

    reader = PdfReader(report_run / "trend_report.pdf")

    def bookmarks(outline):  # one per heading, nested as the headings are
        for item in outline:
            yield from bookmarks(item) if isinstance(item, list) else [item]

    first_appendix = min(
        reader.get_destination_page_number(b) for b in bookmarks(reader.outline) if b.title.startswith("Appendix")
    )
    assert first_appendix <= BODY_PAGES  # 0-based: the pages before it
    recorded = json.loads((report_run / "trend_report.pages.json").read_text())
    assert recorded == {"pages": len(reader.pages), "body_pages": first_appendix}


@pytest.mark.slow
def test_every_chart_of_the_pdf_prints_its_text_at_7_pt_or_more_with_readable_labels(report_run):
    """Each embedded chart's smallest text (recorded at the chart's own size when it was published), scaled by how
    large the PDF prints the image (its resolution on the page, from pdfimages), and its labels."""
    charts = [
        item
        for index in (report_run / "artefacts").glob("*.json")
        for item in json.loads(index.read_text())["items"].values()
        if item["kind"] == "figure"
    ]
    assert charts and all(not item["label_problems"] for item in charts), [c["label_problems"] for c in charts]
    smallest = {}  # pixel size -> the smallest text (points at the chart's own size) of the charts of that size
    for item in charts:
        with Image.open(report_run / item["file"]) as png:
            smallest[png.size] = min(smallest.get(png.size, item["text_pt"]), item["text_pt"])
    listing = subprocess.run(
        ["pdfimages", "-list", str(report_run / "trend_report.pdf")], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    printed = [  # page, number, type, width, height, ..., x-ppi: the resolution the page prints the image at
        (f[0], smallest[int(f[3]), int(f[4])] * FIGURE_DPI / float(f[12]))
        for f in (line.split() for line in listing)
        if f[2] == "image"
    ]
    assert printed and all(pt >= MIN_TEXT_PT for _, pt in printed), [p for p in printed if p[1] < MIN_TEXT_PT]


def test_cli_prints_one_clear_error_for_bad_input(capsys):
    assert main(["report", "--models", "qwen3-5b", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gentrend: error: unknown model 'qwen3-5b'") and err.count("How to fix: use one of:") == 1
    assert "Traceback" not in err


def test_a_bad_value_fails_before_any_work_with_one_message(capsys, monkeypatch):
    monkeypatch.setattr("gentrend.pipeline.runner.plan", lambda *a, **k: pytest.fail("planned despite a bad value"))
    assert main(["report", "--dtype", "fp8", "--tiny"]) == 2
    err = capsys.readouterr().err
    assert err.count("unknown precision 'fp8'") == 1 and err.count("How to fix") == 1


def test_cli_check_validates_the_data(capsys, catalogue, scores):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"ok: {len(catalogue)} models in {len(catalogue.generations)} generations, "
        f"{len(scores)} published scores, {len(load_claims())} claims"
    )


@pytest.mark.slow
def test_an_unchanged_second_run_reuses_everything(report_run):
    again = run_report("e2e-again", E2E_REQUEST, reports_dir=report_run.parent)
    assert again.status == "complete" and again.executed == 0 and again.reused > 0  # its time: docs/measurements.md
    jobs = Manifest.load(again.run_dir).data["jobs"]
    assert {j["reused_from"] for j in jobs} == {"e2e"}
    assert (again.run_dir / "trend_report.pdf").read_bytes() == (report_run / "trend_report.pdf").read_bytes()
    assert (report_run.parent / "latest").resolve() == again.run_dir.resolve()
    index = (report_run.parent / "index.html").read_text()
    assert index.index("e2e-again") < index.index('"e2e/trend_report.html"')  # newest first


@pytest.mark.slow
def test_a_changed_input_reruns_only_what_depends_on_it_and_says_what_changed(report_run, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(paths.data_dir(), data)
    claims = (data / "claims.yaml").read_text()
    assert 'check: dense_hybrid_layout\n    args: {generation: "3.5"}' in claims
    (data / "claims.yaml").write_text(claims.replace('args: {generation: "3.5"}', 'args: {generation: "2.5"}'))
    monkeypatch.setenv("GENTREND_DATA", str(data))
    result = run_report("e2e-changed", E2E_REQUEST, reports_dir=report_run.parent)
    assert result.status == "complete"
    status = {j["name"]: j["status"] for j in Manifest.load(result.run_dir).data["jobs"]}
    assert status["07_claims.ipynb"] == "executed" and status["08_trend_report.ipynb"] == "executed"
    assert {s for n, s in status.items() if n.startswith(("01_", "02_", "03_", "04_", "05_"))} == {"reused"}
    (table,) = (result.run_dir / "tables").glob("changed_since_run_*.csv")
    changes = pd.read_csv(table)
    flipped = changes[changes["kind"] == "verdict flipped"]
    assert flipped["item"].str.startswith("C13").any()
    soup = BeautifulSoup((result.run_dir / "trend_report.html").read_text(), "html.parser")
    assert "verdict flipped" in soup.get_text()


@pytest.mark.slow
def test_one_command_scores_several_generations_and_reports_the_measured_density(report_run, catalogue):
    """The evaluation path of the session's run (tiny local checkpoints, random weights with a real tokenizer): one
    lm-eval run per model, then density and per-size over the measured scores, laid out under "Measured here"."""
    models = E2E_REQUEST.evaluation.models
    assert {p.name for p in (report_run / "results").glob("eval_*.csv")} == {f"eval_{m}-base.csv" for m in models}
    measured = pd.read_csv(next((report_run / "tables").glob("measured_here_density_ratio_per_model_*.csv")))
    newer = {
        catalogue.get(m).name for m in models if catalogue.get(m).generation != catalogue.get(models[0]).generation
    }
    assert not measured.empty and set(measured["model"]) <= newer
    soup = BeautifulSoup((report_run / "trend_report.html").read_text(), "html.parser")
    captions = [c.get_text() for c in soup.find("h2", id="Measured-here").find_all_next("caption")]
    assert any(c.startswith("Measured here: Density ratio per model") for c in captions)
    assert any(c.startswith(f"Evaluation {models[-1]} (base)") for c in captions)
