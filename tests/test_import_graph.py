"""tensorlang's modules import each other in one direction: no cycle, counting imports
inside functions, and each package imports only the layers below it."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tensorlang"

#: packages (and top-level modules) from the bottom up; each may import only those before it
LAYERS = [
    {"errors", "settings"},
    {"tir"},
    {"te"},
    {"schedule"},
    {"pipeline"},
    {"target"},
    {"driver"},
    {"ops", "contrib"},
    {"autotune"},
    {"__init__", "__main__", "benchmarking", "cli", "compat"},
]


def module_files(root: Path = PACKAGE) -> dict[str, Path]:
    modules = {}
    for path in root.rglob("*.py"):
        parts = (root.name,) + path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere in its text."""
    modules = module_files(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                submodules = [f"{source}.{a.name}" for a in node.names
                              if f"{source}.{a.name}" in modules]
                targets = submodules + ([source] if len(submodules) < len(node.names) else [])
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for level, names in enumerate(LAYERS):
        if top in names:
            return level
    raise AssertionError(f"{module}: add its package to LAYERS in {__file__}")


def test_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "modules that import each other in a circle:\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_packages_import_only_lower_layers():
    graph = import_graph()
    upward = sorted(f"{m} imports {t}" for m, targets in graph.items() for t in targets
                    if m != "tensorlang" and layer_of(t) > layer_of(m))
    assert not upward, "imports of a higher layer:\n" + "\n".join(upward)


def test_the_checker_sees_imports_inside_functions(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import low\n")
    (package / "sub" / "low.py").write_text("def f():\n    from ..high import g\n")
    (package / "high.py").write_text("from .sub.low import f\nimport pkg.sub as s\n")
    graph = import_graph(package)
    assert graph["pkg.sub.low"] == {"pkg.high"}
    assert graph["pkg.high"] == {"pkg.sub.low", "pkg.sub"}
    assert cycles(graph) == [["pkg.high", "pkg.sub", "pkg.sub.low"]]
