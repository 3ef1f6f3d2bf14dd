"""Constant bounds and symbolic intervals (the arithmetic bound inference relies on)."""
import itertools

import pytest

from tensorlang import tir
from tensorlang.errors import TensorLangError
from tensorlang.tir import op
from tensorlang.tir.arith import Analyzer, ConstIntBound, IntervalSet, eval_interval

i, j, k, x, xo, io, n = (tir.var(name) for name in ("i", "j", "k", "x", "xo", "io", "n"))


def rng(lo, extent):
    return tir.Range(op.convert(lo), op.convert(extent))


def same(a, b) -> bool:
    return tir.structural_equal(a, b)


def test_const_int_bound_uses_bound_ranges():
    a = Analyzer()
    a.bind(i, rng(0, 256))
    a.bind(j, (0, 4))
    assert a.const_int_bound(i * 4 + j) == ConstIntBound(0, 1023)
    assert a.const_int_bound(i - j) == ConstIntBound(-3, 255)
    assert a.const_int_bound((i * 4 + j) // 8) == ConstIntBound(0, 127)
    assert a.const_int_bound(i % 16) == ConstIntBound(0, 15)
    assert a.const_int_bound(op.minimum(i, 10)) == ConstIntBound(0, 10)
    assert a.const_int_bound(op.select(j < 2, i, tir.const(-5))) == ConstIntBound(-5, 255)


def test_const_int_bound_of_unbound_vars_is_type_range():
    a = Analyzer()
    b = a.const_int_bound(x)
    assert (b.min_value, b.max_value) == (-2**31, 2**31 - 1)
    b = a.const_int_bound(op.cast(x, "int64") * 4)
    assert b.min_value == -2**33 and b.max_value == (2**31 - 1) * 4
    u = tir.var("u", "uint8")
    assert a.const_int_bound(u) == ConstIntBound(0, 255)


def test_const_int_bound_is_sound_exhaustively():
    a = Analyzer()
    a.bind(i, (-5, 11))
    a.bind(j, (2, 5))
    exprs = [i * j, i // j, i % j, (i * 3 - j) // 4, (i - 7) % 5, op.minimum(i, j * 2),
             op.maximum(i * -2, j), i // -3, i % -4]
    for e in exprs:
        bound = a.const_int_bound(e)
        values = [_evaluate(e, {i: vi, j: vj})
                  for vi, vj in itertools.product(range(-5, 6), range(2, 7))]
        assert bound.min_value <= min(values) and max(values) <= bound.max_value, e


def _evaluate(e, env):
    t = type(e)
    if t is tir.IntImm:
        return e.value
    if t is tir.Var:
        return env[e]
    a, b = _evaluate(e.a, env), _evaluate(e.b, env)
    return {tir.Add: a + b, tir.Sub: a - b, tir.Mul: a * b,
            tir.FloorDiv: a // b if b else 0, tir.FloorMod: a % b if b else 0,
            tir.Min: min(a, b), tir.Max: max(a, b)}[t]


def test_eval_interval_split_loop():
    s = eval_interval(io * 32 + i, {i: rng(0, 32)})
    assert same(s.min_value, io * 32) and same(s.max_value, io * 32 + 31)
    r = s.to_range(Analyzer())
    assert same(r.min, io * 32) and same(r.extent, tir.const(32))


def test_eval_interval_stencil_halo():
    # x in [xo*4, xo*4 + 3], k in [0, 2]: x*2 + k - 1 in [xo*8 - 1, xo*8 + 7]
    s = eval_interval(x * 2 + k - 1, {x: rng(xo * 4, 4), k: rng(0, 3)})
    assert same(s.min_value, xo * 8 - 1)
    assert same(s.max_value, xo * 8 + 7)
    assert same(s.to_range(Analyzer()).extent, tir.const(9))


def test_eval_interval_div_mod_min_max_select():
    dom = {i: rng(0, 64)}
    s = eval_interval(i // 8, dom)
    assert same(s.min_value, tir.const(0)) and same(s.max_value, tir.const(7))
    s = eval_interval(i % 8, dom)
    assert same(s.min_value, tir.const(0)) and same(s.max_value, tir.const(7))
    s = eval_interval((xo * 8 + i) % 64, {i: rng(0, 8)})
    assert same(s.max_value, tir.const(63)) or same(s.max_value, (xo * 8 + 7) % 64)
    s = eval_interval(op.minimum(i, n), dom)
    assert same(s.min_value, op.minimum(n, 0)) or same(s.min_value, op.minimum(tir.const(0), n))
    s = eval_interval(op.select(n < 3, i, i + 100), dom)
    assert same(s.min_value, tir.const(0)) and same(s.max_value, tir.const(163))
    s = eval_interval(i * -2, dom)
    assert same(s.min_value, tir.const(-126)) and same(s.max_value, tir.const(0))


def test_eval_interval_symbolic_factor_and_nested_domains():
    a = Analyzer()
    a.bind(n, (1, 100))
    s = a.int_set(i * n, {i: rng(0, 8)})
    assert same(s.min_value, tir.const(0)) and same(s.max_value, n * 7)
    # j's domain depends on i, itself relaxed
    s = eval_interval(j, {i: rng(0, 4), j: rng(i * 8, 8)})
    assert same(s.min_value, tir.const(0)) and same(s.max_value, tir.const(31))


def test_eval_interval_keeps_free_vars_and_points():
    s = eval_interval(xo * 2 + 1, {})
    assert s.is_point and same(s.min_value, xo * 2 + 1)
    s = eval_interval(tir.const(5), {i: rng(0, 3)})
    assert s.is_point


def test_eval_interval_unknown_sign_is_unbounded():
    s = eval_interval(i * x, {i: rng(0, 8)})
    assert not s.is_bounded
    with pytest.raises(TensorLangError, match="unbounded"):
        s.to_range(Analyzer())


def test_interval_set_algebra():
    a = IntervalSet(tir.const(0), tir.const(10))
    b = IntervalSet(tir.const(5), tir.const(20))
    an = Analyzer()
    u, m = a.union(b, an), a.intersect(b, an)
    assert (u.min_value.value, u.max_value.value) == (0, 20)
    assert (m.min_value.value, m.max_value.value) == (5, 10)
    e = IntervalSet.everything()
    assert e.is_everything and not e.has_lower_bound
    assert a.union(e, an).is_everything
    assert same(a.intersect(e, an).max_value, tir.const(10))
    r = IntervalSet.from_range(rng(xo * 4, 4), an)
    assert same(r.max_value, xo * 4 + 3)
    assert IntervalSet.point(xo).is_point


@pytest.mark.parametrize("lo, extent, expr", [
    (-7, 15, lambda v: v * 3 - 2),
    (-7, 15, lambda v: v // 4),
    (-7, 15, lambda v: (v + 3) % 5),
    (-7, 15, lambda v: v // -3),
    (0, 9, lambda v: op.minimum(v * 2, 9 - v)),
    (-4, 9, lambda v: op.maximum(v, 2) * 3),
])
def test_eval_interval_contains_every_value(lo, extent, expr):
    e = expr(i)
    s = eval_interval(e, {i: rng(lo, extent)})
    assert s.is_bounded
    values = [_evaluate(e, {i: v}) for v in range(lo, lo + extent)]
    assert s.min_value.value <= min(values) and max(values) <= s.max_value.value
