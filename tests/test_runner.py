"""The runner's plan (which notebooks, with which parameters), its checks before work, and notebook execution."""

import nbformat
import pytest

from gentrend.analysis.selection import default_references
from gentrend.core import paths
from gentrend.core.errors import GentrendError, NotebookError, RunLockedError, SettingError
from gentrend.pipeline.notebooks import check_parameters, execute
from gentrend.pipeline.plan import (
    DENSITY_NB,
    EVALUATE_NB,
    GENERATION_NB,
    PER_SIZE_NB,
    PROFILE_NB,
    TREND_REPORT_NB,
    NotebookJob,
    plan,
)
from gentrend.pipeline.request import EvalRequest, ReportRequest
from gentrend.pipeline.rundir import check_run_id, new_run_id, point_latest, reports_lock


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("threshold = 1  # a parameter\noutput_dir = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


CPU = ReportRequest(device="cpu", tiny=True)


def test_default_plan_covers_every_generation_and_track_and_profiles_the_smallest_models(catalogue, scores):
    jobs = plan(catalogue, scores, CPU)
    assert [j.parameters for j in jobs if j.notebook == GENERATION_NB] == [
        {"generation": g} for g in catalogue.generations
    ]
    tracks = {track: {"track": track, "reference_generation": ref} for track, ref in default_references(scores).items()}
    for notebook in (DENSITY_NB, PER_SIZE_NB):  # once per track, each against the track's reference
        assert [j.parameters for j in jobs if j.notebook == notebook] == list(tracks.values())
    smallest = [m.id for m in catalogue.smallest_per_generation()]
    assert [j.parameters["model"] for j in jobs if j.notebook == PROFILE_NB] == smallest
    assert jobs[-1].notebook == TREND_REPORT_NB and jobs[-1].parameters == {}
    assert len({j.output_name for j in jobs}) == len(jobs)  # no executed notebook overwrites another


def _evaluating(tmp_path, **kwargs) -> ReportRequest:
    return ReportRequest(
        device="cpu",
        tiny=True,
        evaluation=EvalRequest(tasks=("gentrend_example_mc",), mode="local", local_dir=str(tmp_path), **kwargs),
    )


def test_every_notebook_of_the_suite_is_planned(catalogue, scores, tmp_path, monkeypatch):
    monkeypatch.setattr("gentrend.pipeline.plan.check_checkpoint_folder", lambda path: None)
    planned = {j.notebook for j in plan(catalogue, scores, _evaluating(tmp_path))}
    readers = {"explore.ipynb"}  # reads a finished run by hand (tests/test_notebooks.py executes it)
    assert planned == {p.name for p in paths.NOTEBOOKS_DIR.glob("*.ipynb")} - readers


def test_evaluation_scores_every_model_with_the_checkpoint_then_analyses_the_measured_scores(
    catalogue, scores, tmp_path, monkeypatch
):
    monkeypatch.setattr("gentrend.pipeline.plan.check_checkpoint_folder", lambda path: None)
    jobs = plan(catalogue, scores, _evaluating(tmp_path, checkpoint="base"))
    evaluated = [j.parameters["model"] for j in jobs if j.notebook == EVALUATE_NB]
    assert evaluated == [m.id for m in catalogue if m.repos.base]  # Qwen3.5 publishes no base checkpoint
    assert {j.parameters["path"] for j in jobs if j.notebook == EVALUATE_NB} == {str(tmp_path / m) for m in evaluated}
    measured = [j for j in jobs if j.parameters.get("scores_source") == "measured"]
    assert [(j.notebook, j.parameters["track"]) for j in measured] == [(DENSITY_NB, "base"), (PER_SIZE_NB, "base")]
    # what was not asked for reaches the notebook as None ("the default"), never as "" (papermill passes it as is)
    unasked = {j.parameters[k] for j in jobs if j.notebook == EVALUATE_NB for k in ("task_dir", "gen_kwargs")}
    assert unasked == {None} and {j.parameters["measured_note"] for j in jobs if j.notebook == EVALUATE_NB} == {None}
    one = plan(catalogue, scores, _evaluating(tmp_path, models=("qwen3-0.6b",)))
    assert not [
        j for j in one if j.parameters.get("scores_source") == "measured"
    ]  # one model: no curve to compare with


def test_evaluation_checks_its_settings_tasks_and_weights_before_work(catalogue, scores, tmp_path):
    with pytest.raises(GentrendError, match="unknown task|no_such_task"):
        plan(
            catalogue,
            scores,
            ReportRequest(
                device="cpu", evaluation=EvalRequest(tasks=("no_such_task",), mode="local", local_dir=str(tmp_path))
            ),
        )
    with pytest.raises(GentrendError, match="qwen3-0.6b.*config.json"):
        plan(catalogue, scores, _evaluating(tmp_path, models=("qwen3-0.6b",)))
    with pytest.raises(SettingError, match="thinking=True needs chat_template=True"):
        plan(catalogue, scores, _evaluating(tmp_path, thinking=True))
    with pytest.raises(SettingError, match="--eval-mode local needs --eval-dir"):
        EvalRequest(tasks=("x",), mode="local")


def test_device_precision_and_grid_are_resolved_once_and_passed_down(catalogue, scores):
    request = ReportRequest(profile_models=("qwen3-4b",), device="cpu", batch_sizes=(1, 4), new_tokens=8, tiny=True)
    (job,) = [j for j in plan(catalogue, scores, request) if j.notebook == PROFILE_NB]
    assert job.parameters["device"] == "cpu" and job.parameters["dtype"] == "fp32"  # "auto" resolved for the CPU
    assert job.parameters["batch_sizes"] == [1, 4] and job.parameters["new_tokens"] == 8
    assert job.parameters["backend"] == "eager" and job.parameters["tiny"] is True


@pytest.mark.parametrize(
    "request_kwargs, message",
    [
        ({"profile_models": ("qwen3-5b",)}, "unknown model 'qwen3-5b'"),
        ({"batch_sizes": (0,)}, "batch_sizes must be positive integers"),
        ({"batch_sizes": ()}, "batch_sizes is empty"),  # None is the default, an empty grid is not
        ({"new_tokens": 1}, "new_tokens must be an integer >= 2"),
        ({"new_tokens": 0}, "new_tokens must be an integer >= 2, got 0"),
        ({"device": "cuda:7"}, "cuda:7"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
    ],
)
def test_bad_requests_fail_in_the_plan_before_any_notebook(catalogue, scores, request_kwargs, message):
    with pytest.raises(GentrendError, match=message):
        plan(catalogue, scores, ReportRequest(**{"device": "cpu", "tiny": True, **request_kwargs}))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dtype": "fp8"}, "unknown precision 'fp8'"),
        ({"mode": "download"}, "unknown weights mode 'download'"),
        ({"backend": "vllm"}, "unknown backend 'vllm'"),
        ({"backend": ""}, "unknown backend ''"),
    ],
)
def test_typos_fail_when_the_request_is_made(kwargs, message):
    with pytest.raises(SettingError, match=message):
        ReportRequest(**kwargs)


def test_hub_weights_that_cannot_be_reached_fail_in_the_plan(catalogue, scores):
    with pytest.raises(GentrendError, match="(?s)qwen3-0.6b.*not in the local Hugging Face cache"):
        plan(catalogue, scores, ReportRequest(profile_models=("qwen3-0.6b",), mode="hub", device="cpu"))


def test_unknown_parameter_is_an_error_listing_the_declared_ones(tmp_path):
    nb = _notebook(tmp_path / "n.ipynb", "print(threshold)")
    with pytest.raises(NotebookError, match=r"(?s)n.ipynb has no parameter\(s\) treshold.*output_dir, threshold"):
        check_parameters(nb, {"treshold": 2})


@pytest.mark.parametrize("run_id", ["latest", "cache", "index", "../escape", "a/b", "..", ".hidden", "x" * 101, ""])
def test_run_ids_that_would_escape_or_shadow_are_refused(run_id):
    with pytest.raises(SettingError, match="invalid run id"):
        check_run_id(run_id)


def test_default_run_ids_differ_within_one_second():
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50 and all(check_run_id(i) for i in ids)


def test_second_run_on_one_reports_folder_stops_with_its_own_exit_code(tmp_path):
    with reports_lock(tmp_path), pytest.raises(RunLockedError, match="another gentrend run holds the lock") as err:
        with reports_lock(tmp_path):
            pass
    assert err.value.exit_code == 3
    with reports_lock(tmp_path):  # released: the next run goes ahead
        pass


@pytest.mark.slow
def test_failing_notebook_names_notebook_and_cell_and_keeps_the_partial_output(tmp_path):
    _notebook(tmp_path / "broken.ipynb", "print('first cell ran')", "1 / 0")
    with pytest.raises(NotebookError, match=r"(?s)broken-x.ipynb failed in cell 4 .*ZeroDivisionError.*partial"):
        execute(NotebookJob("broken.ipynb", {"threshold": 3}, "x"), tmp_path / "run", notebooks_dir=tmp_path)
    assert not (tmp_path / "run" / "notebooks" / "broken-x.ipynb").exists()  # never under its final name
    partial = nbformat.read(tmp_path / "run" / "notebooks" / "broken-x.partial.ipynb", as_version=4)
    ran = next(c for c in partial.cells if c.source == "print('first cell ran')")
    assert ran.outputs[0]["text"] == "first cell ran\n"
    assert any(c.source.startswith("# Parameters\nthreshold = 3") for c in partial.cells)  # papermill's injected cell


@pytest.mark.slow
def test_an_error_raised_in_a_notebook_is_reported_with_its_fix_once(tmp_path):
    _notebook(tmp_path / "raises.ipynb", "from gentrend.core.vocab import precision_name\nprecision_name('fp8')")
    with pytest.raises(NotebookError) as err:
        execute(NotebookJob("raises.ipynb", {}, "x"), tmp_path / "run", notebooks_dir=tmp_path)
    assert str(err.value).count("How to fix") == 1 and "use auto or one of" in str(err.value)


def test_latest_points_to_the_newest_run(tmp_path):
    for run in ("run-1", "run-2"):
        (tmp_path / run).mkdir()
        point_latest(tmp_path / run)
    assert (tmp_path / "latest").resolve() == (tmp_path / "run-2").resolve()


@pytest.mark.slow
def test_a_kernel_that_dies_is_a_clear_error(tmp_path):
    """E.g. a profiling kernel killed for memory: one message with the likely cause, no traceback."""
    _notebook(tmp_path / "dies.ipynb", "import os; os._exit(1)")
    with pytest.raises(NotebookError, match=r"(?s)dies-x.ipynb: the kernel died.*out of memory"):
        execute(NotebookJob("dies.ipynb", {}, "x"), tmp_path / "run", notebooks_dir=tmp_path)


@pytest.mark.slow
def test_a_different_catalogue_runs_through_the_same_code(tmp_path, monkeypatch):
    """A fourth generation, added as data only, is planned, analysed and laid out by the unchanged code."""
    from fixtures.fourth_generation import fourth_generation_data

    from gentrend.analysis.scores import load_scores
    from gentrend.models.catalogue import load_catalogue
    from gentrend.report.layout import RunArtefacts

    monkeypatch.setenv("GENTREND_DATA", str(fourth_generation_data(tmp_path)))
    catalogue = load_catalogue()
    jobs = plan(catalogue, load_scores(catalogue=catalogue), ReportRequest(profile_models=(), device="cpu"))
    assert "4" in [j.parameters.get("generation") for j in jobs]
    wanted = {"01_generation-qwen4.ipynb", "02_density-base.ipynb", "03_per_size-base.ipynb", "08_trend_report.ipynb"}
    run = tmp_path / "run"
    with monkeypatch.context() as env:
        for key, value in paths.environment().items():
            env.setenv(key, value)
        for job in (j for j in jobs if j.output_name in wanted):
            execute(job, run)
    artefacts = RunArtefacts(run)
    assert "Qwen4-1.7B" in set(artefacts.frame("density-base", "per_model")["model"])
    assert "4" in set(artefacts.frame("per-size-base", "summary")["generation"])
    assert artefacts.has("generation-qwen4", "architecture")
