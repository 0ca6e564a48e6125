import nbformat
import pytest

from gentrend.errors import NotebookError
from gentrend.runner import (
    GENERATION_NB,
    PROFILE_NB,
    TREND_REPORT_NB,
    NotebookJob,
    check_parameters,
    execute,
    plan,
    point_latest,
)


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("threshold = 1  # a parameter\noutput_dir = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_default_plan_covers_every_generation_and_profiles_the_smallest_models(catalogue):
    jobs = plan(catalogue)
    assert [j.parameters for j in jobs if j.notebook == GENERATION_NB] == [{"generation": g} for g in ("2.5", "3", "3.5")]
    assert [j.parameters["model"] for j in jobs if j.notebook == PROFILE_NB] == ["qwen2.5-0.5b", "qwen3-0.6b", "qwen3.5-0.8b"]
    assert jobs[-1].notebook == TREND_REPORT_NB
    assert jobs[-1].parameters["profiled_models"] == ["qwen2.5-0.5b", "qwen3-0.6b", "qwen3.5-0.8b"]
    assert len({j.output_name for j in jobs}) == len(jobs)  # no executed notebook overwrites another


def test_plan_passes_profile_settings_and_rejects_unknown_models(catalogue):
    jobs = plan(catalogue, ["qwen3-4b"], profile={"tiny": True})
    assert [j.parameters for j in jobs if j.notebook == PROFILE_NB] == [{"model": "qwen3-4b", "tiny": True}]
    with pytest.raises(Exception, match="unknown model 'qwen3-5b'"):
        plan(catalogue, ["qwen3-5b"])


def test_every_planned_parameter_is_declared_by_its_notebook(catalogue):
    from gentrend import paths

    for job in plan(catalogue, profile={"tiny": True, "force": True, "device": "cpu"}):
        check_parameters(paths.NOTEBOOKS_DIR / job.notebook, {**job.parameters, "output_dir": ""})


def test_unknown_parameter_is_an_error_listing_the_declared_ones(tmp_path):
    nb = _notebook(tmp_path / "n.ipynb", "print(threshold)")
    with pytest.raises(NotebookError, match=r"(?s)n.ipynb has no parameter\(s\) treshold.*output_dir, threshold"):
        check_parameters(nb, {"treshold": 2})


@pytest.mark.slow
def test_failing_notebook_names_notebook_and_cell_and_keeps_the_partial_output(tmp_path):
    _notebook(tmp_path / "broken.ipynb", "print('first cell ran')", "1 / 0")
    with pytest.raises(NotebookError, match=r"(?s)broken-x.ipynb failed in cell 4 .*ZeroDivisionError.*partially executed"):
        execute(NotebookJob("broken.ipynb", {"threshold": 3}, "x"), tmp_path / "run", notebooks_dir=tmp_path)
    partial = nbformat.read(tmp_path / "run" / "notebooks" / "broken-x.ipynb", as_version=4)
    ran = next(c for c in partial.cells if c.source == "print('first cell ran')")
    assert ran.outputs[0]["text"] == "first cell ran\n"
    assert any(c.source.startswith("# Parameters\nthreshold = 3") for c in partial.cells)  # papermill's injected cell


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
