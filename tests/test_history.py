"""Run history: manifests, reuse of unchanged steps, "changed since", and the index of runs."""

import json

import pandas as pd

from gentrend.core.files import write_csv
from gentrend.core.keys import file_digest
from gentrend.pipeline.history import baseline, changes, changes_reading, write_index
from gentrend.pipeline.manifest import Manifest
from gentrend.pipeline.steps import link_files, produced, reusable, snapshot, upstream


def _run(reports, name, status="complete", started="2026-11-01T00:00:00+00:00", **tables):
    run = reports / name
    for relative, frame in tables.items():
        write_csv(frame, run / relative.replace("__", "/").replace("_csv", ".csv"))
    Manifest(
        run, {"run_id": name, "status": status, "started": started, "jobs": [], "headlines": [f"<b>{name}</b>"]}
    ).save()
    return run


def _point(value, p10, p90, metric="decode_tokens_per_s"):
    return {
        "scope": "point",
        "model_id": "m",
        "backend": "eager",
        "dtype": "fp32",
        "device_name": "cpu",
        "tiny": False,
        "batch_size": 1,
        "prompt_length": 8,
        "metric": metric,
        "value": value,
        "p10": p10,
        "p90": p90,
    }


SCORES = pd.DataFrame(
    {
        "model": ["Org/M-1B", "Org/M-2B"],
        "variant": "base",
        "benchmark": "X",
        "setting": "5-shot",
        "source_url": "https://a",
        "score": ["50.0", "60.0"],
    }
)


def test_changes_lists_models_scores_measurements_and_verdicts(tmp_path):
    old = _run(
        tmp_path,
        "old",
        tables__models_csv=pd.DataFrame({"model": ["M-1B", "M-2B"]}),
        inputs__published_scores_csv=SCORES,
        results__profile_m_csv=pd.DataFrame([_point(10, 9.5, 10.5), _point(1.0, 0.9, 1.1, "ttft_s")]),
        tables__claims_ledger_csv=pd.DataFrame(
            {"id": ["C1", "C2"], "claim": ["a", "b"], "verdict": ["supported", "refuted"]}
        ),
    )
    scores = SCORES.assign(score=["50.0", "61.5"])
    new = _run(
        tmp_path,
        "new",
        tables__models_csv=pd.DataFrame({"model": ["M-1B", "M-2B", "M-4B"]}),
        inputs__published_scores_csv=pd.concat([scores, SCORES.iloc[:1].assign(benchmark="Y")]),
        results__profile_m_csv=pd.DataFrame([_point(20, 19, 21), _point(1.05, 1.0, 1.1, "ttft_s")]),
        tables__claims_ledger_csv=pd.DataFrame(
            {"id": ["C1", "C2"], "claim": ["a", "b"], "verdict": ["supported", "not testable"]}
        ),
    )
    table = changes(new, old)
    kinds = table.groupby("kind")["item"].apply(list).to_dict()
    assert kinds["model added"] == ["M-4B"]
    assert kinds["score changed"] == ["Org/M-2B X (base, 5-shot)"] and kinds["score added"] == [
        "Org/M-1B Y (base, 5-shot)"
    ]
    assert kinds["measurement moved"] == [
        "m decode_tokens_per_s at batch 1 × prompt 8 (fp32, eager)"
    ]  # TTFT within spread
    assert table.loc[table["kind"] == "verdict flipped", ["before", "after"]].values.tolist() == [
        ["refuted", "not testable"]
    ]
    assert "1 model added" in changes_reading(table, "old") and "nothing" not in changes_reading(table, "old").lower()
    assert changes(old, old).empty and changes_reading(changes(old, old), "old").startswith(
        "- Nothing changed since run old"
    )


def test_baseline_is_the_newest_complete_run_with_different_content(tmp_path):
    same = pd.DataFrame({"model": ["M-1B"]})
    _run(tmp_path, "a", started="2026-11-01", tables__models_csv=pd.DataFrame({"model": ["M-0B"]}))
    _run(tmp_path, "b", started="2026-11-02", tables__models_csv=same)
    _run(tmp_path, "c", started="2026-11-03", status="partial", tables__models_csv=pd.DataFrame({"model": ["X"]}))
    current = _run(tmp_path, "d", started="2026-11-04", tables__models_csv=same)
    assert baseline(tmp_path, current, ("tables/models.csv",)).run_dir.name == "a"  # b is identical, c incomplete


def test_index_lists_runs_newest_first_with_escaped_headlines(tmp_path):
    _run(tmp_path, "first", started="2026-11-01")
    _run(tmp_path, "second", status="partial", started="2026-11-02")
    page = write_index(tmp_path).read_text()
    assert page.index("second") < page.index("first")
    assert "&lt;b&gt;second&lt;/b&gt;" in page and "<b>second" not in page
    assert 'class="status-partial"' in page


def test_index_counts_notebooks_not_steps(tmp_path):
    run = _run(tmp_path, "r")
    manifest = Manifest.load(run)
    names = ["run inputs", "01_generation-qwen3.ipynb", "02_density-base.ipynb", "changes", "render"]
    manifest.data["jobs"] = [{"name": n, "status": "reused"} for n in names]
    manifest.save()
    notebooks = sum(n.endswith(".ipynb") for n in names)
    assert f"<td>{notebooks} of {notebooks}</td>" in write_index(tmp_path).read_text()


def _multipliers(track, values):
    from gentrend.report.publish import Publisher

    return lambda run: Publisher(run, "density", track).table(
        pd.DataFrame(
            {
                "generation": ["2.5", "3"],
                "multiplier": [1.0, values],
                "method": ["reference", "direct"],
                "reference": "2.5",
            }
        ),
        "multipliers",
        f"Density multiplier per generation vs 2.5, {track}",
        source="test",
    )


def test_index_charts_the_headline_figures_across_runs(tmp_path):
    import base64
    import io

    from bs4 import BeautifulSoup
    from PIL import Image

    speeds = {"a": 20.0, "b": 12.0}  # a regression between the runs
    for i, (name, speed) in enumerate(speeds.items()):
        run = _run(
            tmp_path,
            name,
            started=f"2026-11-0{i + 1}",
            results__profile_m_csv=pd.DataFrame([_point(speed, speed, speed) | {"weights": "synthetic"}]),
        )
        _multipliers("base", 1.5 + i)(run)
    page = BeautifulSoup(write_index(tmp_path).read_text(), "html.parser")
    image = page.find("img")
    assert image["src"].startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(image["src"].split(",", 1)[1]))).size[0] > 300
    alt = image["alt"]
    assert "2 runs" in alt and "decode speed, m on cpu" in alt and f"{speeds['b']:.3g} in run b" in alt
    assert "density multiplier, base: generation 3 vs 2.5: 2.5 in run b" in alt


def test_a_step_is_reusable_only_while_its_files_are_intact(tmp_path):
    source = tmp_path / "a"
    write_csv(pd.DataFrame({"x": [1]}), source / "tables" / "t.csv")
    manifest = Manifest(
        source,
        {
            "jobs": [
                {
                    "name": "s",
                    "key": "k1",
                    "status": "executed",
                    "files": {"tables/t.csv": file_digest(source / "tables" / "t.csv")},
                }
            ]
        },
    )
    assert reusable("s", "k1", [manifest])[1]["name"] == "s"
    assert reusable("s", "k2", [manifest]) is None  # another key: inputs changed
    target = tmp_path / "b"
    link_files(["tables/t.csv"], source, target)
    assert (target / "tables" / "t.csv").read_text() == (source / "tables" / "t.csv").read_text()
    (source / "tables" / "t.csv").write_text("x\n2\n")  # the earlier run's file was changed by hand
    assert reusable("s", "k1", [manifest]) is None


def test_snapshot_sees_what_a_step_wrote_and_upstream_hashes_what_it_reads(tmp_path):
    write_csv(pd.DataFrame({"x": [1]}), tmp_path / "tables" / "old.csv")
    before = snapshot(tmp_path)
    write_csv(pd.DataFrame({"x": [2]}), tmp_path / "tables" / "new.csv")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "a.partial.ipynb").write_text("{}")  # partial files are never outputs
    (tmp_path / "manifest.json").write_text(json.dumps({}))  # nor is the bookkeeping
    assert produced(before, snapshot(tmp_path)) == ["tables/new.csv"]
    assert set(upstream(tmp_path, ("tables/*.csv",))) == {"tables/old.csv", "tables/new.csv"}


def test_manifest_survives_a_damaged_file(tmp_path):
    (tmp_path / "manifest.json").write_text("{ not json")
    assert Manifest.load(tmp_path) is None
    assert Manifest.load(tmp_path / "missing") is None
