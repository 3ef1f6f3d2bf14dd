"""Linear forms and intervals whose ends are linear forms (what bound inference and
lowering compute loop extents and guards with)."""
from tensorlang import tir
from tensorlang.tir import expr as E
from tensorlang.tir import op
from tensorlang.tir.arith import (LinearSum, atom_key, floordiv_bound, interval_union,
                                  is_point_interval, linear, linear_interval, lower_bound,
                                  prove_at_least, prove_less, relax, simplify_linear,
                                  upper_bound)

x, y, z, xo, xi, n = (tir.var(name) for name in ("x", "y", "z", "xo", "xi", "n"))
c = LinearSum.of_const


def same(a, b) -> bool:
    return tir.structural_equal(a, b)


def span(lo, hi):
    return (c(lo), c(hi))


def ends(iv):
    """The constant ends of an interval (None where unknown or symbolic)."""
    return tuple(e.const if e is not None and e.is_const() else None for e in iv)


def test_linear_cancels_and_keeps_term_order():
    assert same(linear(x * 32 + y - z + 4).to_expr(), x * 32 + y - z + 4)
    assert linear(x * 3 + 2 - x * 3).is_const()
    assert linear(x * 3 + 2 - x * 3).const == 2
    assert same(linear(4 - x).to_expr(), op.neg(x) + 4)
    assert [v.name for v in linear(x * 2 + (y // 2) + z).vars()] == ["x", "z"]
    # a widening cast of a constant is the constant; of anything else an atom
    assert linear(op.cast(tir.const(3), "int64") + 1).const == 4
    assert not linear(op.cast(x, "int64")).is_const()


def test_linear_sum_functional_ops_leave_operands_alone():
    a, b = linear(x + 1), linear(y - x)
    s = a.add(b)
    assert same(s.to_expr(), y + 1) and same(a.to_expr(), x + 1)
    assert same(a.sub(b).to_expr(), x * 2 - y + 1)
    assert same(a.scale(-2).to_expr(), op.neg(x * 2) - 2)
    assert a.plus(0) is a and same(a.plus(3).to_expr(), x + 4)
    assert same(LinearSum.of_atom(x // 4).to_expr(), x // 4)


def test_to_expr_widens_narrow_atoms():
    w = tir.var("w", "int64")
    e = linear(x * 2 + 1).to_expr(w.dtype)
    assert e.dtype == w.dtype
    assert same(e, op.cast(x, "int64") * 2 + op.const(1, "int64"))
    assert linear(x + w).to_expr().dtype == w.dtype


def test_atom_keys_are_structural():
    assert atom_key(x // 4) == atom_key(x // 4)
    assert atom_key(x // 4) != atom_key(y // 4)
    a = E.Cast(tir.const(1).dtype, tir.const(1.5, "float32"))
    b = E.Cast(tir.const(1).dtype, tir.const(2.5, "float32"))
    assert atom_key(a) != atom_key(b)
    assert not linear(a - b).is_const()


def test_split_loop_interval_has_constant_extent():
    lo, hi = linear_interval(xo * 32 + xi, {xi: span(0, 31)})
    assert same(lo.to_expr(), xo * 32) and same(hi.to_expr(), xo * 32 + 31)
    extent = hi.sub(lo).plus(1)
    assert extent.is_const() and extent.const == 32


def test_interval_of_div_mod_min_max_select_mul():
    dom = {x: span(0, 63)}
    assert ends(linear_interval(x // 8, dom)) == (0, 7)
    assert ends(linear_interval(x % 8, dom)) == (0, 7)
    # (xo*8 + xi) // 8 == xo and % 8 == xi while xi < 8
    small = {xi: span(0, 7)}
    lo, hi = linear_interval((xo * 8 + xi) // 8, small)
    assert same(lo.to_expr(), xo) and same(hi.to_expr(), xo)
    assert ends(linear_interval((xo * 8 + xi) % 8, small)) == (0, 7)
    assert ends(linear_interval((xo * 8 + xi) % 64, small)) == (0, 63)
    lo, hi = linear_interval(op.minimum(x, n), dom)
    assert same(lo.to_expr(), op.minimum(tir.const(0), n))
    assert same(hi.to_expr(), op.minimum(tir.const(63), n))
    assert ends(linear_interval(op.select(n < 3, x, x + 100), dom)) == (0, 163)
    assert ends(linear_interval(x * -2, dom)) == (-126, 0)
    assert ends(linear_interval(x * y, {x: span(0, 3), y: span(-1, 2)})) == \
        (-3, 6)
    assert linear_interval(x * y, {x: span(0, 3)}) == (None, None)


def test_interval_keeps_free_vars_and_points():
    iv = linear_interval(xo * 2 + 1, {})
    assert is_point_interval(iv) and same(iv[0].to_expr(), xo * 2 + 1)
    assert is_point_interval(linear_interval(tir.const(5), {x: span(0, 3)}))
    assert not is_point_interval((None, c(1)))


def test_union_and_floordiv_bound():
    u = interval_union(span(0, 4), span(2, 9))
    assert ends(u) == (0, 9)
    lo, hi = interval_union((linear(x), linear(x)), (linear(y), linear(y)))
    assert same(lo.to_expr(), op.minimum(x, y)) and same(hi.to_expr(), op.maximum(x, y))
    assert interval_union((None, c(1)), span(0, 3))[0] is None
    assert floordiv_bound(c(17), 4).const == 4
    assert same(floordiv_bound(linear(x * 8 + 4), 4).to_expr(), x * 2 + 1)
    assert same(floordiv_bound(linear(x + 1), 4).to_expr(), (x + 1) // 4)
    assert floordiv_bound(None, 4) is None


def test_relax_nested_domains():
    # y runs over [x*8, x*8 + 7] while x runs over [0, 3]
    dom = {x: span(0, 3), y: (linear(x * 8), linear(x * 8 + 7))}
    lo, hi = relax(linear_interval(y, dom), dom)
    assert (lo.const, hi.const) == (0, 31)
    # each end is relaxed on its own: y - x <= (x*8 + 7) - 0 <= 31
    assert upper_bound(linear(y - x), dom) == 31
    assert lower_bound(linear(y - x), dom) == -3
    assert upper_bound(linear(y + n), dom) is None


def test_upper_bound_pairs_floordivs():
    # (x + 5) // 4 - x // 4 <= ceil(5 / 4) whatever x
    assert upper_bound(linear((x + 5) // 4 - x // 4), {}) == 2


def test_proofs():
    dom = {x: span(0, 31)}
    assert prove_less(linear(x), c(32), dom)
    assert not prove_less(linear(x), c(31), dom)
    assert prove_at_least(linear(x + 1), c(1), dom)
    assert not prove_at_least(linear(x - 1), c(0), dom)
    assert not prove_less(linear(x), linear(n), dom)


def test_simplify_linear_divmod_with_loop_ranges():
    dom = {y: span(0, 31)}
    lin = linear((x * 32 + y) // 32 * 32 + (x * 32 + y) % 32)
    out = simplify_linear(lin, dom)
    assert same(out.to_expr(), x * 32 + y)
    assert same(simplify_linear(linear((x * 32 + y) % 32), dom).to_expr(), y)
    # multiples of the divisor vanish under % even when the rest is not bounded
    assert same(simplify_linear(linear((x * 32 + z) % 32), dom).to_expr(), z % 32)
    # nothing to rewrite: the very same form comes back
    plain = linear(x + y)
    assert simplify_linear(plain, dom) is plain
