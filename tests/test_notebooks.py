"""Every notebook in notebooks/ (found by glob): committed clean, thin, and executed by the report run."""

import ast

import nbformat
import pytest

from gentrend.core import paths
from gentrend.pipeline.notebooks import declared_parameters

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb"))


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
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_in_the_report_run_without_errors(notebook, report_run):
    """Each notebook ran (once or once per generation / track / model) in the session's report run."""
    executed = sorted((report_run / "notebooks").glob(f"{notebook.stem}*.ipynb"))
    assert executed and not [p for p in executed if p.name.endswith(".partial.ipynb")]
    for path in executed:
        outputs = [o for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], path.name
        assert outputs, f"{path.name} shows nothing"
