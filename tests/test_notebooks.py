"""Every notebook in notebooks/ (found by glob): committed clean, thin, and runnable under papermill."""

import ast

import nbformat
import pytest

from gentrend import paths
from gentrend.runner import NotebookJob, declared_parameters, execute

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb"))


def test_notebooks_exist():
    assert len(NOTEBOOKS) >= 5


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
    assert set(declared_parameters(notebook)) == assigned
    for cell in code:  # logic lives in gentrend, not in notebooks
        tree = ast.parse("\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith(("%", "!"))))
        assert not [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))], cell.source
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "open with a title"


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_with_its_defaults_in_small_mode(notebook, tmp_path):
    """Defaults, except tiny architectures where the notebook profiles models (CPU, seconds)."""
    parameters = {"tiny": True} if "tiny" in declared_parameters(notebook) else {}
    executed = nbformat.read(execute(NotebookJob(notebook.name, parameters), tmp_path), as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "every notebook shows at least one chart"
