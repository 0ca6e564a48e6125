"""Shared fixtures. Tests never reach the network: the hub is offline, plots render headless."""

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Reports, results and the profiling cache of test runs go to a scratch folder, never into reports/.
os.environ["GENTREND_REPORTS"] = tempfile.mkdtemp(prefix="gentrend-test-reports-")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import yaml  # noqa: E402

from gentrend import paths  # noqa: E402
from gentrend.catalogue import load_catalogue  # noqa: E402
from gentrend.scores import load_scores  # noqa: E402


def _e2e_request():
    from gentrend.runner import ReportRequest

    return ReportRequest(profile_models=("qwen2.5-0.5b", "qwen3.5-0.8b"), device="cpu", tiny=True,
                         batch_sizes=(1, 2), prompt_lengths=(8,), new_tokens=4)


E2E_REQUEST = _e2e_request()


@pytest.fixture(scope="session")
def report_run(tmp_path_factory):
    """The main job end to end, once per test session: every notebook of the suite executes here (tiny profiled
    architectures on a small CPU grid, so it takes about two minutes). Tests of the report, the notebooks and
    the rendering read this run folder."""
    from gentrend.runner import run_report

    result = run_report("e2e", E2E_REQUEST, reports_dir=tmp_path_factory.mktemp("reports"))
    assert result.status == "complete", result.failures
    return result.run_dir


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
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path

    return write
