"""``tensorlang.te`` stands alone: the schedule layer is built on it, never imported by it
(``te.create_schedule`` is set by the top-level package)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tensorlang as tl
from tensorlang import te

PACKAGE = Path(tl.__file__).resolve().parent

# ``import tensorlang.te`` runs tensorlang/__init__.py first, which imports everything; a
# bare package object in its place imports te and what te imports, nothing more.
ALONE = f"""
import sys, types
package = types.ModuleType("tensorlang")
package.__path__ = [{str(PACKAGE)!r}]
sys.modules["tensorlang"] = package
import tensorlang.te
A = tensorlang.te.placeholder((4,), name="A")
tensorlang.te.compute((4,), lambda i: A[i] * 2.0, name="B")
print(sorted(m for m in sys.modules if m.startswith("tensorlang.")))
"""


def test_importing_te_alone_does_not_load_the_schedule_layer():
    result = subprocess.run([sys.executable, "-c", ALONE], capture_output=True, text=True,
                            check=True)
    loaded = result.stdout
    assert "tensorlang.te.declare" in loaded
    assert "tensorlang.schedule" not in loaded


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every import in a module of tensorlang.te, absolute, with
    ``from X import name`` also counted as ``X.name`` (it may be a module)."""
    base = ["tensorlang", "te"]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = base[:len(base) - node.level + 1] if node.level else []
            module = ".".join(parts + ([node.module] if node.module else []))
            found += [(node.lineno, module)]
            found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
    return found


def test_no_te_module_imports_the_schedule_layer_even_inside_a_function():
    found = [f"{path.name}:{line} imports {module}"
             for path in sorted((PACKAGE / "te").glob("*.py"))
             for line, module in imported_modules(path)
             if module == "tensorlang.schedule" or module.startswith("tensorlang.schedule.")]
    assert not found, found


def test_te_create_schedule_is_the_top_level_one():
    A = te.placeholder((8,), name="A")
    B = te.compute((8,), lambda i: A[i] + 1.0, name="B")
    assert te.create_schedule is tl.create_schedule
    assert str(te.create_schedule(B.op)) == str(tl.create_schedule(B))
