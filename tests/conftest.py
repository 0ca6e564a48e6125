"""Shared fixtures. Tests never reach the network: the hub is offline, plots render headless."""

import os
import shutil
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["GENTREND_CONTENTION"] = "off"  # tiny models timed on a shared machine: judged only where a test asks
# Reports, results and the profiling cache of test runs go to a scratch folder, never into reports/.
SCRATCH = tempfile.mkdtemp(prefix="gentrend-test-reports-")
os.environ["GENTREND_REPORTS"] = SCRATCH

from pathlib import Path

import pytest
import yaml
from fixtures.fourth_generation import PlainDumper
from ray_cluster import Cluster, cluster_unavailable

from gentrend.analysis.scores import load_scores
from gentrend.core import paths
from gentrend.models.catalogue import load_catalogue

EVAL_DIR = Path(tempfile.mkdtemp(prefix="gentrend-test-checkpoints-"))
EVAL_MODELS = ("qwen2.5-0.5b", "qwen2.5-1.5b", "qwen3-0.6b", "qwen3-1.7b")


def _e2e_request():
    from gentrend.pipeline.request import EvalRequest, ReportRequest

    evaluation = EvalRequest(
        tasks=("gentrend_example_mc",), models=EVAL_MODELS, mode="local", local_dir=str(EVAL_DIR), checkpoint="base"
    )
    return ReportRequest(
        profile_models=("qwen2.5-0.5b", "qwen3.5-0.8b"),
        device="cpu",
        tiny=True,
        batch_sizes=(1, 2),
        prompt_lengths=(8,),
        new_tokens=4,
        evaluation=evaluation,
    )


E2E_REQUEST = _e2e_request()


def tiny_checkpoints(folder: Path, model_ids, catalogue) -> None:
    """Save a tiny random model of each architecture with a real (small) tokenizer: what lm-eval loads locally."""
    from gentrend.evaluation import synthetic_tokenizer
    from gentrend.models.loading import load_model

    tokenizer = synthetic_tokenizer()
    for model_id in model_ids:
        net = load_model(catalogue.get(model_id), "synthetic", device="cpu", tiny=True).model
        for config in (net.config, net.generation_config):  # special tokens inside the tiny vocabulary
            config.eos_token_id, config.pad_token_id, config.bos_token_id = (
                tokenizer.eos_token_id,
                tokenizer.pad_token_id,
                None,
            )
        net.save_pretrained(folder / model_id)
        tokenizer.save_pretrained(folder / model_id)


@pytest.fixture(scope="session")
def report_run(tmp_path_factory):
    """The main job end to end, once per test session: every notebook of the suite executes here (tiny profiled
    architectures on a small CPU grid; lm-eval on tiny local checkpoints of two generations; a few minutes). Tests of the report, the notebooks and
    the rendering read this run folder."""
    from gentrend.models.catalogue import load_catalogue
    from gentrend.pipeline.runner import run_report

    tiny_checkpoints(EVAL_DIR, EVAL_MODELS, load_catalogue())
    result = run_report("e2e", E2E_REQUEST, reports_dir=tmp_path_factory.mktemp("reports"))
    assert result.status == "complete", result.failures
    return result.run_dir


@pytest.fixture
def two_runs(report_run, tmp_path, monkeypatch):
    """A reports folder holding the session's run twice (hard-linked: no copy), `latest` on the second, the first
    started earlier: what explore.ipynb opens and compares."""
    import json
    import shutil

    reports = tmp_path / "reports"
    for name in ("first", "second"):
        shutil.copytree(report_run, reports / name, copy_function=os.link)
    manifest = reports / "first" / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.unlink()  # written anew, not through the hard link
    manifest.write_text(json.dumps(data | {"started": "2000-01-01T00:00:00+00:00"}))
    (reports / "latest").symlink_to("second")
    monkeypatch.setenv("GENTREND_REPORTS", str(reports))
    return reports


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """The hermetic two-node Ray cluster (tests/ray_cluster.py) every Ray test of the session runs its drivers in:
    started when the first one asks for it, stopped at the session's end. A skip (a failure under CI=1) where this
    machine cannot make the namespaces or lacks ray."""
    reason = cluster_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = Cluster(tmp_path_factory.mktemp("ray-cluster"))
    yield cluster
    timings = cluster.stop()
    print(f"Ray test cluster phases (s): {timings}")
    assert "stop" in timings, "the Ray test cluster was not stopped by its script's trap"


@pytest.fixture(scope="session")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="session")
def scores(catalogue):
    return load_scores(catalogue=catalogue)


@pytest.fixture
def catalogue_yaml(tmp_path):
    """Write a (possibly edited) copy of data/models.yaml into tmp_path; config paths stay valid.

    Usage: path = catalogue_yaml(lambda raw: raw["generations"][0]["models"][0].pop("license"))
    """

    def write(edit=lambda raw: None) -> Path:
        raw = yaml.safe_load(paths.data_file("models.yaml").read_text())
        for gen in raw["generations"]:
            for model in gen["models"]:
                model["config"] = str(paths.data_dir() / model["config"])
        edit(raw)
        path = tmp_path / "models.yaml"
        path.write_text(yaml.dump(raw, Dumper=PlainDumper, sort_keys=False))
        return path

    return write


def pytest_sessionfinish(session):
    """The scratch folders go with the session (pytest keeps its own tmp_path folders, a few sessions at most)."""
    for folder in (SCRATCH, EVAL_DIR):
        shutil.rmtree(folder, ignore_errors=True)


# The full report runs: the session's (above) and the one on data with markup in every text field
# (tests/test_reliability.py's hostile_run, a few minutes: the other process would be far the longer with it).
REPORT_RUNS = ("report_run", "hostile_run")


def pytest_collection_modifyitems(items):
    """Tests that read a full report run are marked `e2e`: `make test-all` runs them in one process and the rest
    in another, side by side, so each run is built once and the machine's two cores both work."""
    for item in items:
        if set(REPORT_RUNS) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
