"""The autotuner's modules keep their layers (``tensorlang.autotune.LAYERS``): records ->
spaces -> measurement -> tuning loop -> public API.

The imports are read from the source, those inside functions included (an import moved
into a function to dodge a cycle is still a dependency), so nothing is imported here.
"""
import ast
import os

import pytest

import tensorlang

PACKAGE = "tensorlang.autotune"
ROOT = os.path.join(os.path.dirname(tensorlang.__file__), "autotune")


def _layers() -> list:
    """``LAYERS`` as written in the package's ``__init__.py``."""
    tree = ast.parse(open(os.path.join(ROOT, "__init__.py")).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "LAYERS"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("tensorlang/autotune/__init__.py defines no LAYERS")


def _modules() -> list:
    return sorted(f[:-3] for f in os.listdir(ROOT) if f.endswith(".py"))


def _imports(module: str) -> list:
    """``(imported module of the package, names imported from it, line)`` for every
    import statement of ``module`` (a file name without ``.py``) that reaches a module of
    the package; ``"__init__"`` stands for the package itself."""
    path = os.path.join(ROOT, module + ".py")
    tree = ast.parse(open(path).read(), path)
    modules = set(_modules())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + ".") or alias.name == PACKAGE:
                    rest = alias.name[len(PACKAGE) + 1:].split(".")[0] or "__init__"
                    found.append((rest, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:
                base = node.module
            elif node.level == 0 and node.module and (
                    node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
                base = node.module[len(PACKAGE) + 1:] or None
            else:
                continue  # outside the package (or the package's parent)
            names = [a.name for a in node.names]
            if base is None:  # from . import a, b: submodules, or names of the package
                subs = [n for n in names if n in modules]
                for name in subs:
                    found.append((name, [], node.lineno))
                rest = [n for n in names if n not in modules]
                if rest:
                    found.append(("__init__", rest, node.lineno))
            else:
                found.append((base.split(".")[0], names, node.lineno))
    return [(target, names, line) for target, names, line in found if target != module]


def _graph() -> dict:
    return {m: {target for target, _, _ in _imports(m)} for m in _modules()}


def test_every_module_has_a_layer():
    listed = [m for _, modules in _layers() for m in modules]
    assert len(listed) == len(set(listed)), "a module is listed in two layers"
    assert sorted(listed) == _modules(), (
        f"modules without a layer: {sorted(set(_modules()) - set(listed))}; "
        f"listed but missing: {sorted(set(listed) - set(_modules()))}")


def test_no_module_imports_a_later_layer():
    rank = {m: k for k, (_, modules) in enumerate(_layers()) for m in modules}
    names = [name for name, _ in _layers()]
    upward = []
    for module in _modules():
        for target, _, line in _imports(module):
            if rank[target] > rank[module]:
                upward.append(f"{module}.py:{line} ({names[rank[module]]}) imports "
                              f"{target} ({names[rank[target]]})")
    assert not upward, "imports of a later layer:\n" + "\n".join(upward)


def test_no_import_cycle():
    graph = _graph()
    cycles = []
    state: dict = {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in _modules():
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_private_names_across_modules():
    private = [f"{module}.py:{line} imports {', '.join(n for n in names if n.startswith('_'))}"
               f" from {target}"
               for module in _modules() for target, names, line in _imports(module)
               if any(n.startswith("_") for n in names)]
    assert not private, "private names imported across modules:\n" + "\n".join(private)


def test_the_checker_sees_function_level_imports(tmp_path, monkeypatch):
    """A cycle hidden in a function is found (the checker reads every import)."""
    (tmp_path / "__init__.py").write_text("LAYERS = (('low', ('a',)), ('high', ('b',)))\n")
    (tmp_path / "a.py").write_text("def f():\n    from .b import g\n    return g\n")
    (tmp_path / "b.py").write_text("from .a import f\n")
    monkeypatch.setitem(globals(), "ROOT", str(tmp_path))
    with pytest.raises(AssertionError, match="a.py:2 .low. imports b .high."):
        test_no_module_imports_a_later_layer()
    with pytest.raises(AssertionError, match="a -> b -> a"):
        test_no_import_cycle()
