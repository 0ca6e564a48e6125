"""The library's import graph: no cycle, and packages import downwards only (the layers below), so the tree
tells the architecture: pipeline above report above the analyses and the models, all above core."""

import ast

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
