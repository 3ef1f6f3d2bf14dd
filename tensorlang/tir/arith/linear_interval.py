"""Intervals whose ends are linear forms, for bound inference and loop-range proofs.

Bound inference needs the range an index takes while some loops run and others stay put:
``xo*32 + xi`` with ``xi`` over ``[0, 31]`` covers ``[xo*32, xo*32 + 31]``, whose extent
must come out as the constant 32.  Keeping both ends as :class:`LinearSum` forms (keyed by
:func:`atom_key`) makes such differences cancel exactly, without simplifying after every
step.  An interval here is a pair ``(lo, hi)`` of forms, inclusive, where ``None`` stands
for an unknown end; a domain maps variables to such intervals::

    dom = {xi: (LinearSum.of_const(0), LinearSum.of_const(31))}
    linear_interval(xo*32 + xi, dom)        # (xo*32, xo*32 + 31)
    prove_less(linear(xi), LinearSum.of_const(32), dom)   # True
"""
from __future__ import annotations

from .. import expr as E
from .. import op as _op
from ..datatype import int32
from .canonical import LinearSum, linear
from .int_set import uses_any


def _single(key, atom, coef: int) -> LinearSum:
    out = LinearSum(atom.dtype)
    out.terms[key] = (atom, coef)
    return out


def _pick_end(a, b, unknown_absorbs: bool, a_wins, build):
    """The min or max of two ends: ``a`` when ``a_wins(a - b)`` for a constant
    difference, else a ``build(a, b)`` atom; an unknown end absorbs or is ignored."""
    if a is None or b is None:
        return None if unknown_absorbs else (b if a is None else a)
    d = a.sub(b)
    if d.is_const():
        return a if a_wins(d.const) else b
    return LinearSum.of_atom(build(a.to_expr(int32), b.to_expr(int32)))


def interval_min(a: LinearSum | None, b: LinearSum | None, unknown_is_low: bool):
    """Minimum of two ends; ``None`` is -inf when ``unknown_is_low`` else +inf."""
    return _pick_end(a, b, unknown_is_low, lambda d: d <= 0, _op.minimum)


def interval_max(a: LinearSum | None, b: LinearSum | None, unknown_is_high: bool):
    """Maximum of two ends; ``None`` is +inf when ``unknown_is_high`` else -inf."""
    return _pick_end(a, b, unknown_is_high, lambda d: d >= 0, _op.maximum)


def interval_union(x, y):
    """Smallest interval holding both."""
    return (interval_min(x[0], y[0], True), interval_max(x[1], y[1], True))


def is_point_interval(iv) -> bool:
    """Whether both ends are known and equal."""
    if iv[0] is None or iv[1] is None:
        return False
    d = iv[1].sub(iv[0])
    return d.is_const() and d.const == 0


def _scale(iv, c: int):
    lo, hi = iv
    if c >= 0:
        return (None if lo is None else lo.scale(c), None if hi is None else hi.scale(c))
    return (None if hi is None else hi.scale(c), None if lo is None else lo.scale(c))


def _lin_interval(lin: LinearSum, dom):
    """Interval of a linear form whose atoms range over ``dom``."""
    lo = hi = LinearSum.of_const(lin.const)
    for key, (atom, c) in lin.terms.items():
        if type(atom) is E.Var:
            r = dom.get(atom)
        elif uses_any(atom, dom):
            r = _atom_interval(atom, dom)
        else:
            r = None
        if r is None:
            term = _single(key, atom, c)
            lo = None if lo is None else lo.add(term)
            hi = None if hi is None else hi.add(term)
            continue
        s = _scale(r, c)
        lo = None if lo is None or s[0] is None else lo.add(s[0])
        hi = None if hi is None or s[1] is None else hi.add(s[1])
    return (lo, hi)


def _constant_ends(lo, hi) -> bool:
    return lo is not None and hi is not None and lo.is_const() and hi.is_const()


def _atom_interval(e, dom):  # noqa: C901 - one case per node kind
    t = type(e)
    if t is E.FloorDiv or t is E.FloorMod:
        if type(e.b) is E.IntImm and e.b.value > 0:
            c = e.b.value
            q, r = linear(e.a).split_multiples(c)
            rlo, rhi = _lin_interval(r, dom)
            if _constant_ends(rlo, rhi) and rlo.const // c == rhi.const // c:
                shift = rlo.const // c
                if t is E.FloorDiv:
                    return _lin_interval(q.plus(shift), dom)
                return (LinearSum.of_const(rlo.const - shift * c),
                        LinearSum.of_const(rhi.const - shift * c))
            lo, hi = _lin_interval(linear(e.a), dom)
            if t is E.FloorMod:
                if _constant_ends(lo, hi) and lo.const // c == hi.const // c:
                    return (LinearSum.of_const(lo.const % c), LinearSum.of_const(hi.const % c))
                return (LinearSum.of_const(0), LinearSum.of_const(c - 1))
            return (floordiv_bound(lo, c), floordiv_bound(hi, c))
        a = _expr_interval(e.a, dom)
        b = _expr_interval(e.b, dom)
        if is_point_interval(a) and is_point_interval(b):
            fn = _op.floordiv if t is E.FloorDiv else _op.floormod
            return _point(linear(fn(a[0].to_expr(e.dtype), b[0].to_expr(e.dtype))))
        return (None, None)
    if t is E.ShiftRight and type(e.b) is E.IntImm and 0 <= e.b.value < e.dtype.bits - 1:
        # x >> k rounds x / 2**k towards minus infinity, as x // 2**k does
        return _atom_interval(E.FloorDiv(e.a, E.IntImm(e.dtype, 1 << e.b.value), e.dtype), dom)
    if t is E.BitwiseAnd and type(e.b) is E.IntImm and e.b.value >= 0:
        return (LinearSum.of_const(0), LinearSum.of_const(e.b.value))  # the mask's bits
    if t is E.Min or t is E.Max:
        a = _expr_interval(e.a, dom)
        b = _expr_interval(e.b, dom)
        if t is E.Min:
            return (interval_min(a[0], b[0], True), interval_min(a[1], b[1], False))
        return (interval_max(a[0], b[0], False), interval_max(a[1], b[1], True))
    if t is E.Mul:
        a = _expr_interval(e.a, dom)
        b = _expr_interval(e.b, dom)
        if all(x is not None and x.is_const() for x in a + b):
            prods = [x.const * y.const for x in a for y in b]
            return (LinearSum.of_const(min(prods)), LinearSum.of_const(max(prods)))
        if is_point_interval(a) and is_point_interval(b):
            return _point(linear(_op.mul(a[0].to_expr(e.dtype), b[0].to_expr(e.dtype))))
        return (None, None)
    if t is E.Select:
        return interval_union(_expr_interval(e.true_value, dom),
                              _expr_interval(e.false_value, dom))
    if t is E.Cast:
        if e.dtype.is_integer and e.value.dtype.is_integer:
            return _expr_interval(e.value, dom)
        return (None, None)
    return (None, None)


def _point(lin: LinearSum):
    return (lin, lin)


def floordiv_bound(b: LinearSum | None, c: int):
    """``b // c`` for a positive constant ``c`` as a form (``None`` stays unknown)."""
    if b is None:
        return None
    if b.is_const():
        return LinearSum.of_const(b.const // c)
    q, r = b.split_multiples(c)
    if not r.terms:
        return q
    return LinearSum.of_atom(_op.floordiv(b.to_expr(int32), c))


def _expr_interval(e, dom):
    if not e.dtype.is_integer:
        return (None, None)
    return _lin_interval(linear(e), dom)


def linear_interval(e, dom):
    """Interval ``(lo, hi)`` of linear forms of the integer expression ``e`` when each
    variable in ``dom`` ranges over its interval ``dom[var] = (lo, hi)``; other variables
    stay symbolic.  An end is ``None`` when unknown."""
    return _expr_interval(e, dom)


def relax(iv, dom, rounds: int = 8):
    """Widen an interval until none of its ends mentions a variable of ``dom`` (whose
    own bounds may mention other variables of ``dom``: nested loops)."""
    lo, hi = iv
    for _ in range(rounds):
        changed = False
        if lo is not None and _lin_mentions(lo, dom):
            lo = _lin_interval(lo, dom)[0]
            changed = True
        if hi is not None and _lin_mentions(hi, dom):
            hi = _lin_interval(hi, dom)[1]
            changed = True
        if not changed:
            break
    return (lo, hi)


def _lin_mentions(lin: LinearSum, dom) -> bool:
    return any(uses_any(atom, dom) for atom, _ in lin.terms.values())


def upper_bound(lin: LinearSum, dom) -> int | None:
    """A constant upper bound of ``lin`` over ``dom``, or None."""
    lin, extra = _pair_floordivs(lin)
    hi = relax((lin, lin), dom)[1]
    return hi.const + extra if hi is not None and hi.is_const() else None


def _pair_floordivs(lin: LinearSum):
    """Bound ``a // c - b // c`` by ``ceil((a - b) / c)`` when ``a - b`` is a constant:
    returns the form without such pairs and the sum of their bounds."""
    def floordivs(sign):
        return [(k, a) for k, (a, c) in lin.terms.items()
                if c == sign and type(a) is E.FloorDiv and type(a.b) is E.IntImm
                and a.b.value > 0]
    plus, minus = floordivs(1), floordivs(-1)
    if not plus or not minus:
        return lin, 0
    out = lin.copy()
    extra = 0
    for kp, a in plus:
        for km, b in minus:
            if km not in out.terms or a.b.value != b.b.value:
                continue
            d = linear(a.a).sub(linear(b.a))
            if d.is_const() and d.const >= 0:
                c = a.b.value
                extra += -(-d.const // c)
                del out.terms[kp], out.terms[km]
                break
    return out, extra


def lower_bound(lin: LinearSum, dom) -> int | None:
    """A constant lower bound of ``lin`` over ``dom``, or None."""
    lo = relax((lin, lin), dom)[0]
    return lo.const if lo is not None and lo.is_const() else None


def prove_less(a: LinearSum, b: LinearSum, dom) -> bool:
    """Whether ``a < b`` for every value of the variables in ``dom``."""
    bound = upper_bound(a.sub(b), dom)
    return bound is not None and bound < 0


def prove_at_least(a: LinearSum, b: LinearSum, dom) -> bool:
    """Whether ``a >= b`` for every value of the variables in ``dom``."""
    bound = lower_bound(a.sub(b), dom)
    return bound is not None and bound >= 0


# ---------------------------------------------------------------------------------------
# index simplification
def simplify_linear(lin: LinearSum, dom) -> LinearSum:
    """Rewrite the ``//`` and ``%`` atoms of a form with the loop ranges ``dom`` known:
    ``(x*32 + y) // 32 -> x``, ``(x*32 + y) % 32 -> y`` where ``0 <= y < 32``.  Returns
    ``lin`` itself when nothing changes."""
    result = LinearSum.of_const(lin.const)
    changed = False
    for key, (atom, c) in lin.terms.items():
        t = type(atom)
        if t is E.FloorDiv or t is E.FloorMod:
            new = _simplify_divmod(atom, dom)
            if new is not None:
                result = result.add(new, c)
                changed = True
                continue
        result = result.add(_single(key, atom, c))
    return result if changed else lin


def _simplify_divmod(e, dom) -> LinearSum | None:
    if type(e.b) is not E.IntImm or e.b.value <= 0:
        return None
    c = e.b.value
    inner = simplify_linear(linear(e.a), dom)
    q, r = inner.split_multiples(c)
    rlo, rhi = relax(_lin_interval(r, dom), dom)
    if _constant_ends(rlo, rhi) and rlo.const // c == rhi.const // c:
        shift = rlo.const // c
        if type(e) is E.FloorDiv:
            return q.plus(shift)
        return r.plus(-shift * c)
    if type(e) is E.FloorMod and q.terms:
        # multiples of c vanish under % c
        rest = r.to_expr(e.a.dtype)
        return LinearSum.of_atom(_op.floormod(rest, c))
    # otherwise the atom is rebuilt from the (possibly simplified) canonical form
    expr = inner.to_expr(e.a.dtype)
    return LinearSum.of_atom(_op.floordiv(expr, c) if type(e) is E.FloorDiv
                             else _op.floormod(expr, c))
