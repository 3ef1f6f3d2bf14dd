"""Rewrite rules of the arithmetic simplifier: before / after cases."""
import pytest

from tensorlang import tir
from tensorlang.tir import op
from tensorlang.tir.arith import Analyzer
from tensorlang.tir.transform.simplify import simplify_expr

i, j, k, x, y, n = (tir.var(name) for name in ("i", "j", "k", "x", "y", "n"))


def bounded(**ranges):
    analyzer = Analyzer()
    names = {"i": i, "j": j, "k": k, "x": x, "y": y, "n": n}
    for name, rng in ranges.items():
        analyzer.bind(names[name], rng)
    return analyzer


def check(before, after, analyzer=None):
    analyzer = analyzer or Analyzer()
    result = analyzer.simplify(before)
    assert tir.structural_equal(result, after), f"{before} -> {result}, expected {after}"
    assert result.dtype == before.dtype
    return result


@pytest.mark.parametrize("before, after", [
    (i * 4 + j - i * 4, j),
    ((x + 1) - x, tir.const(1)),
    (x * 2 + x * 3, x * 5),
    ((x + y) * 2 - y, x * 2 + y),
    ((i * 4 + j) * 2, i * 8 + j * 2),
    (x - x, tir.const(0)),
    (x * 0 + 3, tir.const(3)),
    (x - (x + y), op.neg(y)),
    (4 - (x + 1), 3 - x),
    ((x * 8) // 4, x * 2),
    ((x // 4) * 4 + x % 4, x),
    ((x // 8) // 4, x // 32),
    ((x % 16) % 4, x % 4),
    (x - (x // 4) * 4, x % 4),
    ((x * 4 + 2) // 8, x // 2),
    ((x * 6 + 3) % 3, tir.const(0)),
    (op.minimum(x, x + 3), x),
    (op.maximum(x, x + 3), x + 3),
    (op.minimum(op.minimum(x, 7), 3), op.minimum(x, 3)),
    (op.minimum(x // 8, (x + 7) // 8), x // 8),
    (op.minimum(5, x), op.minimum(x, 5)),
])
def test_unbounded_rules(before, after):
    check(before, after)


@pytest.mark.parametrize("before, after", [
    ((i * 32 + j) // 32, i),
    ((i * 32 + j) % 32, j),
    ((i * 32 + j + 32) // 32, i + 1),
    (op.minimum(i, 100), i),
    (op.maximum(i, 0), i),
    (op.maximum(i, j - 40), i),
    (j // 64, tir.const(0)),
    (j % 64, j),
])
def test_rules_with_ranges(before, after):
    check(before, after, bounded(i=(0, 64), j=(0, 32)))


def test_floor_division_with_negative_values():
    a = bounded(j=(-8, 16))
    # j in [-8, 7] spans two blocks of 8: nothing can be dropped
    assert isinstance(a.simplify(j // 8), tir.FloorDiv)
    a = bounded(j=(-8, 4))  # j in [-8, -5]
    assert tir.structural_equal(a.simplify(j // 8), tir.const(-1))
    assert tir.structural_equal(a.simplify(j % 8), j + 8)
    assert tir.structural_equal(a.simplify((j - 3) % 16), j + 13)
    # constant folding follows floor semantics
    assert a.simplify(tir.const(-7) // 2).value == -4
    assert a.simplify(tir.const(-7) % 2).value == 1
    assert a.simplify(tir.const(7) % -2).value == -1


def test_comparisons_decided_by_bounds():
    a = bounded(i=(0, 256), j=(0, 4))
    assert a.can_prove(i * 4 + j < 1024)
    assert not a.can_prove(i * 4 + j < 1023)
    assert a.simplify(i * 4 + j >= 1024).value == 0
    assert a.can_prove(i != 300)
    assert a.can_prove(i + 1 > i)
    assert a.can_prove_equal((i * 32 + j) // 32, i)
    assert not a.can_prove(x < 5)
    # an undecided comparison keeps its form, with constant offsets moved right
    check(x + 1 < 5, x < 4)


def test_boolean_rules():
    cond = x < y
    check(cond & tir.const(True), cond)
    check(cond | tir.const(True), tir.const(True))
    check(cond & ~cond, tir.const(False))
    check(cond | ~cond, tir.const(True))
    check(~~cond, cond)
    check(~(x < y), x >= y)
    check(~((x < 3) & (y < 4)), (x >= 3) | (y >= 4))
    a = bounded(i=(0, 10))
    check((i < 10) & (x < y), x < y, a)


def test_select_and_cast():
    a = bounded(i=(0, 10))
    check(op.select(i < 10, x, y), x, a)
    check(op.select(i > 10, x, y), y, a)
    check(op.select(x < y, i + 1, 1 + i), i + 1, a)
    check(op.cast(tir.const(3), "int64"), tir.const(3, "int64"))
    check(op.cast(tir.const(3), "float32"), tir.const(3.0, "float32"))
    check(tir.Cast(tir.dtype("int32"), x), x)


def test_cast_round_trip_and_likely():
    wide = op.cast(op.cast(x, "int64"), "int32")
    check(wide, x)
    narrow = op.cast(op.cast(x, "int8"), "int32")
    assert isinstance(Analyzer().simplify(narrow), tir.Cast)  # int8 truncates
    a = bounded(i=(0, 10))
    likely = tir.call_builtin("tl.likely", "bool", i < 10)
    check(op.select(likely, x, y), x, a)


def test_types_are_preserved():
    a64 = tir.var("a", "int64")
    b64 = tir.var("b", "int64")
    result = check((a64 * 8 + b64) - a64 * 8, b64)
    assert result.dtype == tir.dtype("int64")
    result = Analyzer().simplify((a64 + 3) - a64)
    assert result.dtype == tir.dtype("int64") and result.value == 3
    f = tir.var("f", "float32")
    assert Analyzer().simplify(f + 0.0) is not None
    folded = Analyzer().simplify(tir.const(1.5, "float32") * tir.const(2.0, "float32"))
    assert folded.dtype == tir.dtype("float32") and folded.value == 3.0


def test_unchanged_expression_is_same_object():
    a = Analyzer()
    for e in (x, x + y, x * 4 + y, (x + y) // 8, op.minimum(x, y), x < y,
              tir.const(3), op.select(x < y, x, y)):
        assert a.simplify(e) is e


def test_vector_rules():
    ramp = tir.ramp(x * 8, 1, 8)
    bcast = tir.broadcast(tir.const(4), 8)
    result = Analyzer().simplify(tir.Add(ramp, bcast, ramp.dtype))
    assert isinstance(result, tir.Ramp)
    assert tir.structural_equal(result.base, x * 8 + 4)
    ramp = tir.ramp(i * 8, 1, 8)
    div = tir.FloorDiv(ramp, tir.broadcast(tir.const(8), 8), ramp.dtype)
    assert tir.structural_equal(Analyzer().simplify(div), tir.broadcast(i, 8))
    mod = tir.FloorMod(ramp, tir.broadcast(tir.const(8), 8), ramp.dtype)
    assert tir.structural_equal(Analyzer().simplify(mod), tir.ramp(tir.const(0), 1, 8))


def test_simplify_expr_convenience():
    assert tir.structural_equal(simplify_expr((i * 32 + j) // 32, {j: (0, 32)}), i)
    assert tir.structural_equal(simplify_expr((i * 32 + j) // 32,
                                              {j: tir.Range(tir.const(0), tir.const(32))}), i)
    # without the range nothing is known about j
    assert not tir.structural_equal(simplify_expr((i * 32 + j) // 32), i)


def test_scope_and_constraints():
    a = Analyzer()
    with a.scope(i, (0, 8)):
        assert a.can_prove(i < 8)
    assert not a.can_prove(i < 8)
    with a.constraint_scope(i < n):
        assert a.can_prove(i < n)
    assert not a.can_prove(i < n)
    a.bind_constraint((x >= 0) & (x < 16))
    assert tir.structural_equal(a.simplify(x % 16), x)


def test_let_binding_in_expression():
    a = bounded(i=(0, 10))
    # the let value's bound (y in [0, 18]) reaches the body
    e = tir.Let(y, i * 2, op.select(y < 20, y, y + 1), tir.dtype("int32"))
    assert tir.structural_equal(a.simplify(e), tir.Let(y, i * 2, y, tir.dtype("int32")))
    assert tir.structural_equal(Analyzer().simplify(tir.Let(y, x, y + 1 - y,
                                                            tir.dtype("int32"))),
                                tir.const(1))
