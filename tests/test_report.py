"""The main job end to end (tiny profiled architectures so it takes a minute), and the CLI's error path."""

import hashlib
import re

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from gentrend.cli import main
from gentrend.runner import run_report

SECTIONS = ("Models", "Capability density", "Per-size comparisons", "Speed and memory", "Claims ledger", "Sources")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    return run_report("e2e", profile_models=["qwen2.5-0.5b", "qwen3.5-0.8b"], profile={"tiny": True}, reports_dir=reports)


@pytest.mark.slow
def test_run_folder_holds_report_notebooks_tables_and_results(run):
    assert (run.parent / "latest").resolve() == run.resolve()
    executed = sorted(p.name for p in (run / "notebooks").glob("*.ipynb"))
    assert executed == sorted(
        ["01_generation-qwen2.5.ipynb", "01_generation-qwen3.ipynb", "01_generation-qwen3.5.ipynb",
         "02_density.ipynb", "03_per_size.ipynb", "04_profile-qwen2.5-0.5b.ipynb", "04_profile-qwen3.5-0.8b.ipynb",
         "05_trend_report.ipynb"]
    )
    assert {"profile_qwen2.5-0.5b.csv", "profile_qwen3.5-0.8b.csv"} <= {p.name for p in (run / "results").iterdir()}
    ledger = pd.read_csv(run / "tables" / "claims_ledger.csv")
    assert list(ledger["id"]) == [f"C{i}" for i in range(1, 14)]
    assert set(ledger["verdict"]) <= {"supported", "partly supported", "refuted", "not testable"}


@pytest.mark.slow
def test_html_report_has_every_section_with_charts_and_tables_as_csv(run):
    soup = BeautifulSoup((run / "trend_report.html").read_text(), "html.parser")
    headings = [h.get_text().rstrip("¶") for h in soup.find_all("h2")]
    assert all(s in headings for s in SECTIONS), headings
    assert len(soup.select('img[src^="data:image/png;base64,"]')) >= 12
    captions = [c.get_text() for c in soup.find_all("caption")]
    assert len(captions) >= 15
    for caption in captions:  # every table shown is also a CSV, named in its caption
        csv = re.search(r"CSV: (tables/[\w.-]+\.csv)", caption).group(1)
        assert (run / csv).exists(), caption
    assert "synthetic" in soup.get_text()  # profiled with synthetic weights, and it says so


@pytest.mark.slow
def test_pdf_has_every_chart_and_table_of_the_html(run):
    soup = BeautifulSoup((run / "trend_report.html").read_text(), "html.parser")
    reader = PdfReader(run / "trend_report.pdf")
    text = _squash("".join(page.extract_text() for page in reader.pages))
    # WeasyPrint shares one resource dictionary between pages: count distinct images, not references.
    embedded = {hashlib.sha1(image.data).hexdigest() for page in reader.pages for image in page.images}
    assert len(embedded) == len({img["src"] for img in soup.find_all("img")})
    for caption in soup.find_all("caption"):
        assert _squash(caption.get_text()) in text
    for section in SECTIONS:
        assert _squash(section) in text


def test_cli_prints_one_clear_error_for_bad_input(capsys):
    assert main(["report", "--models", "qwen3-5b"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gentrend: error: unknown model 'qwen3-5b'") and "How to fix: use one of:" in err
    assert "Traceback" not in err


def test_cli_check_validates_the_data(capsys):
    assert main(["check"]) == 0
    assert capsys.readouterr().out.startswith("ok: 12 models, 1172 published scores, 13 claims")
