"""The library's import graph: no cycle, and packages import downwards only (the layers below), so the tree
tells the architecture: pipeline above report above the analyses and the models, all above core."""

import ast
import importlib
import json
import os
import subprocess
import sys

import pytest

from gentrend.core import paths

ROOT = paths.REPO_ROOT / "lib" / "gentrend"
# lowest first; a module may import its own package and the packages of lower layers, never a higher one
LAYERS = (
    ("core",),
    ("models",),
    ("profiling", "evaluation"),
    ("analysis",),
    ("claims",),
    ("plots",),
    ("report",),
    ("pipeline",),
    ("cli",),
)


def _module(path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in ROOT.rglob("*.py")}
    graph = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    graph[name].add(full if full in modules else target)
            elif isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names}
    return {m: {t for t in targets if t in modules and t != m} for m, targets in graph.items()}


def _layer(module: str) -> int | None:
    """The layer of gentrend.<package>...; None for the package root (gentrend/__init__.py)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    return next(i for i, names in enumerate(LAYERS) if parts[1] in names)


def test_no_import_cycle():
    graph, done, stack = _graph(), set(), []

    def visit(module):
        if module in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(module) :] + [module]))
        if module not in done:
            stack.append(module)
            for target in sorted(graph[module]):
                visit(target)
            stack.pop()
            done.add(module)

    for module in sorted(graph):
        visit(module)


def test_every_module_belongs_to_a_layer_and_imports_only_downwards():
    graph = _graph()
    upward = [
        f"{m} -> {t}"
        for m, targets in graph.items()
        for t in targets
        if _layer(m) is not None and _layer(t) is not None and _layer(t) > _layer(m)
    ]
    assert not upward, "imports that go up a layer:\n" + "\n".join(sorted(upward))


def test_the_layer_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The check above is not vacuous: a core module importing the pipeline is reported."""
    graph = _graph()
    graph["gentrend.core.paths"].add("gentrend.pipeline.runner")
    upward = [
        m
        for m, targets in graph.items()
        for t in targets
        if _layer(m) is not None and _layer(t) is not None and _layer(t) > _layer(m)
    ]
    assert upward == ["gentrend.core.paths"]


@pytest.mark.parametrize("package", sorted({n for names in LAYERS for n in names} - {"cli"}))
def test_each_layer_package_exists(package):
    assert (ROOT / package / "__init__.py").is_file()


# What the light commands may never import: each costs seconds (torch alone ~10 s on a loaded machine), and
# `gentrend check` must refuse a bad data file in seconds.
HEAVY = ("torch", "transformers", "lm_eval", "ray", "matplotlib", "weasyprint", "papermill", "nbconvert")
LIGHT_COMMANDS = (["check"], ["models"], ["clean", "--keep", "5", "--dry-run"], ["--help"], ["report", "--help"])
PROBE = """
import contextlib, io, json, sys
from gentrend.cli import main
heavy, found = json.loads(sys.argv[1]), {}
for step in json.loads(sys.argv[2]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        exec(step) if isinstance(step, str) else main(step)
    found[" ".join(step) if isinstance(step, list) else step] = [m for m in heavy if m in sys.modules]
print(json.dumps(found))
"""


def _heavy_imports(steps: list, tmp_path) -> dict[str, list[str]]:
    """Run each step in one fresh interpreter (a `gentrend` argument list, or Python code): for each, the heavy
    packages imported by then."""
    env = os.environ | {"GENTREND_REPORTS": str(tmp_path), "PYTHONPATH": str(ROOT.parent)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), json.dumps(steps)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.splitlines()[-1])


def test_the_light_commands_import_no_heavy_package(tmp_path):
    """check, models, clean and --help import none of torch, transformers, lm-eval, ray, matplotlib, weasyprint
    (the report imports them when it runs): module imports, not timings, so a loaded machine cannot flake it."""
    found = _heavy_imports(list(LIGHT_COMMANDS), tmp_path)
    assert list(found) == [" ".join(c) for c in LIGHT_COMMANDS]  # every command ran
    assert not any(found.values()), found


@pytest.mark.slow
def test_the_heavy_import_probe_sees_the_report_pipeline(tmp_path):
    """The probe above is not vacuous: importing the report pipeline after `check` is seen importing them."""
    found = _heavy_imports([["check"], "import gentrend.pipeline.runner"], tmp_path)
    assert found["check"] == []
    assert {"torch", "transformers", "matplotlib", "papermill"} <= set(found["import gentrend.pipeline.runner"])


def test_lazy_exports_import_a_module_when_one_of_its_names_is_first_used(tmp_path, monkeypatch):
    """gentrend.core.lazy on a package of its own: a light name imports its module alone; a name that is also its
    module's name (gentrend.profiling.profile) stays the function once that module is imported."""
    package = tmp_path / "lazypkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from gentrend.core.lazy import lazy_exports\n\n"
        '__all__ = lazy_exports(__name__, {"light": ("light_name",), "heavy": ("heavy",)})\n'
    )
    (package / "light.py").write_text("light_name = 'light'\n")
    (package / "heavy.py").write_text("def heavy():\n    return 'the function'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        lazypkg = importlib.import_module("lazypkg")
        assert lazypkg.__all__ == ["heavy", "light_name"] and "lazypkg.light" not in sys.modules
        assert lazypkg.light_name == "light" and "lazypkg.heavy" not in sys.modules
        importlib.import_module("lazypkg.heavy")  # sets the package's attribute `heavy` to the module
        assert lazypkg.heavy() == "the function"
        with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
            lazypkg.nothing  # noqa: B018
    finally:
        for name in ("lazypkg", "lazypkg.light", "lazypkg.heavy"):
            sys.modules.pop(name, None)
