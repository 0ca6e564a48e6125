"""Every notebook in notebooks/ (found by glob): committed clean, thin, and executed: the report's steps by the
report run, the others (readers of a finished run, e.g. explore.ipynb) by papermill over that run."""

import ast

import nbformat
import papermill
import pytest

from gentrend.analysis.selection import default_references, select_scores
from gentrend.core import paths
from gentrend.pipeline import plan
from gentrend.pipeline.notebooks import declared_parameters
from gentrend.profiling import defaults_for

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb"))
STEPS = {getattr(plan, name) for name in dir(plan) if name.endswith("_NB")}  # what the report run executes
READERS = [nb for nb in NOTEBOOKS if nb.name not in STEPS]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_thin(notebook):
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs (nbstripout)"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters`"
    assigned = set()
    for node in ast.parse(tagged[0].source).body:  # typed, commented literals only
        assert isinstance(node, (ast.Assign, ast.AnnAssign)), ast.dump(node)
        ast.literal_eval(node.value)
        assigned |= {t.id for t in getattr(node, "targets", [getattr(node, "target", None)])}
    # papermill skips lines it cannot parse (e.g. a comment holding '='): every parameter must be visible to it
    assert set(declared_parameters(notebook)) == assigned and "output_dir" in assigned
    for cell in code:  # logic lives in gentrend, not in notebooks
        tree = ast.parse(
            "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        )
        assert not [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))], (
            cell.source
        )
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "open with a title"


# parameters whose 0 is a value, not "the default": a bootstrap seed, and a match that must be exact
REAL_ZEROS = {"seed", "match_tolerance"}


def _parameters_cell(notebook) -> str:
    nb = nbformat.read(notebook, as_version=4)
    return next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_are_typed_and_none_means_the_default(notebook):
    """No "", [] or 0 standing for "the default" (papermill would pass such a value on as a real one): the
    default is None, and every parameter says its type (a type comment papermill reads)."""
    declared = declared_parameters(notebook)
    for node in ast.parse(_parameters_cell(notebook)).body:
        name, value = node.targets[0].id, ast.literal_eval(node.value)
        sentinel = value in ("", [], (), {}) or (value == 0 and value is not False and name not in REAL_ZEROS)
        assert not sentinel, f"{notebook.name}: {name} = {value!r} (use None for the default)"
        typed = declared[name]["inferred_type_name"]
        assert typed != "None", f"{notebook.name}: {name} has no type comment"
        assert value is not None or typed.endswith("|None"), f"{notebook.name}: {name} defaults to None: {typed}"


def _set_up(notebook: str, **injected) -> dict:
    """The namespace after a notebook's parameters cell, the values papermill would inject, and the cell that
    sets the notebook up (the one after the parameters)."""
    nb = nbformat.read(paths.NOTEBOOKS_DIR / notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    first = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    namespace: dict = {}
    exec(code[first].source, namespace)
    namespace.update(injected)
    exec(code[first + 1].source, namespace)
    return namespace


def test_none_parameters_reach_the_library_as_the_defaults(scores, tmp_path, monkeypatch):
    """Run as in JupyterLab (nothing injected, or only what is named): None selects the library's defaults."""
    monkeypatch.setenv("GENTREND_REPORTS", str(tmp_path))
    density = _set_up(plan.DENSITY_NB)  # reference generation, benchmarks and run folder
    assert density["reference"] == default_references(scores)[density["track"]]
    assert density["selected"].equals(select_scores(scores, density["track"]).kept)
    assert density["out"].run == tmp_path / "interactive"
    profile = _set_up(plan.PROFILE_NB, device="cpu")  # the grid, the backend and the precisions
    assert profile["settings"] == defaults_for("cpu") and profile["precisions"] == ()


def test_the_trend_report_only_reads_and_lays_out():
    """No analysis in the report notebook: it imports the layout, the summary (which publishes page one's numbers
    from the run's tables) and the catalogue. That the layout adds no number of its own is checked on its
    behaviour in test_summary.py."""
    report = nbformat.read(paths.NOTEBOOKS_DIR / "08_trend_report.ipynb", as_version=4)
    imported = set()
    for cell in report.cells:
        if cell.cell_type == "code":
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.ImportFrom):
                    imported |= {f"{node.module}.{a.name}" for a in node.names}
    assert imported == {
        "gentrend.report.layout",
        "gentrend.report.summary",
        "gentrend.models.catalogue.load_catalogue",
    }


@pytest.mark.slow
@pytest.mark.parametrize("notebook", [nb for nb in NOTEBOOKS if nb.name in STEPS], ids=lambda p: p.name)
def test_executed_in_the_report_run_without_errors(notebook, report_run):
    """Each notebook ran (once or once per generation / track / model) in the session's report run."""
    executed = sorted((report_run / "notebooks").glob(f"{notebook.stem}*.ipynb"))
    assert executed and not [p for p in executed if p.name.endswith(".partial.ipynb")]
    for path in executed:
        outputs = [o for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], path.name
        assert outputs, f"{path.name} shows nothing"
        assert not [o for o in outputs if "IProgress" in o.get("text", "")], f"{path.name}: widget warning"


def test_every_notebook_is_a_report_step_or_the_explorer():
    """A notebook the report run does not execute needs its own execution test, as explore.ipynb has below."""
    assert {nb.name for nb in NOTEBOOKS} - STEPS == {"explore.ipynb"}


@pytest.mark.slow
def test_the_explore_notebook_runs_over_a_finished_run(two_runs, tmp_path):
    """Defaults only: the latest run, its table re-plotted, compared with the run before it."""
    out = tmp_path / "explore.ipynb"
    papermill.execute_notebook(
        str(paths.NOTEBOOKS_DIR / "explore.ipynb"), str(out), kernel_name="python3", progress_bar=False
    )
    cells = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    outputs = [o for c in cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.get("name") == "stderr"], "warnings or progress noise in the output"
    text = "\n".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in outputs)
    assert "<gentrend run second: complete" in text and "comparing run second with first" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the chart redrawn
    compared = cells[-1].outputs[0]["data"]["text/plain"]
    assert "first" in compared and "second" in compared
