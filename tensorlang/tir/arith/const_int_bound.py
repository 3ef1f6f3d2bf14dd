"""Constant integer bounds of expressions: the cheapest and most used arithmetic fact.

``ConstIntBound(min_value, max_value)`` brackets every value an integer expression can take
when its variables range over known intervals.  Unknown ends are the large sentinels
``ConstIntBound.NEG_INF`` / ``ConstIntBound.POS_INF`` so that arithmetic on Python ints
stays exact and never overflows; helpers below saturate at the sentinels.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from .. import expr as E

POS_INF = 1 << 100
NEG_INF = -POS_INF


@dataclass(frozen=True, slots=True)
class ConstIntBound:
    """Closed interval ``[min_value, max_value]`` of Python ints (possibly infinite)."""

    min_value: int
    max_value: int

    POS_INF = POS_INF
    NEG_INF = NEG_INF

    @property
    def is_const(self) -> bool:
        return self.min_value == self.max_value

    @property
    def is_bounded(self) -> bool:
        return self.min_value != NEG_INF and self.max_value != POS_INF

    def __contains__(self, value: int) -> bool:
        return self.min_value <= value <= self.max_value


def _clamp(value: int) -> int:
    if value >= POS_INF:
        return POS_INF
    if value <= NEG_INF:
        return NEG_INF
    return value


def _is_inf(value: int) -> bool:
    return value == POS_INF or value == NEG_INF


def _add(x: int, y: int) -> int:
    # an infinite end dominates; +inf + -inf cannot happen for well-formed lo/hi pairs
    if _is_inf(x):
        return x
    if _is_inf(y):
        return y
    return _clamp(x + y)


def _mul(x: int, y: int) -> int:
    if x == 0 or y == 0:
        return 0
    if _is_inf(x) or _is_inf(y):
        return POS_INF if (x > 0) == (y > 0) else NEG_INF
    return _clamp(x * y)


def _floordiv(x: int, c: int) -> int:
    if _is_inf(x):
        return x if c > 0 else -x
    return x // c


@functools.lru_cache(maxsize=None)
def dtype_bound(dtype) -> ConstIntBound:
    """All values of an integer or bool type."""
    if dtype.is_bool:
        return ConstIntBound(0, 1)
    if dtype.is_integer:
        return ConstIntBound(dtype.min_value(), dtype.max_value())
    return ConstIntBound(NEG_INF, POS_INF)


def bound_add(a: ConstIntBound, b: ConstIntBound) -> ConstIntBound:
    return ConstIntBound(_add(a.min_value, b.min_value), _add(a.max_value, b.max_value))


def bound_neg(a: ConstIntBound) -> ConstIntBound:
    return ConstIntBound(-a.max_value, -a.min_value)


def bound_sub(a: ConstIntBound, b: ConstIntBound) -> ConstIntBound:
    return bound_add(a, bound_neg(b))


def bound_mul(a: ConstIntBound, b: ConstIntBound) -> ConstIntBound:
    corners = (_mul(a.min_value, b.min_value), _mul(a.min_value, b.max_value),
               _mul(a.max_value, b.min_value), _mul(a.max_value, b.max_value))
    return ConstIntBound(min(corners), max(corners))


def bound_scale(a: ConstIntBound, c: int) -> ConstIntBound:
    lo, hi = _mul(a.min_value, c), _mul(a.max_value, c)
    return ConstIntBound(min(lo, hi), max(lo, hi))


def bound_floordiv(a: ConstIntBound, b: ConstIntBound) -> ConstIntBound:
    """Floor division; exact for a positive (or negative) divisor range, else unknown."""
    if b.min_value > 0 or b.max_value < 0:
        corners = []
        for x in (a.min_value, a.max_value):
            for y in (b.min_value, b.max_value):
                if not _is_inf(y):
                    corners.append(_floordiv(x, y))
                elif _is_inf(x):
                    return ConstIntBound(NEG_INF, POS_INF)
                else:
                    # a finite value over a huge divisor floors to 0 or -1
                    corners.extend((0, -1))
        return ConstIntBound(min(corners), max(corners))
    return ConstIntBound(NEG_INF, POS_INF)


def bound_floormod(a: ConstIntBound, b: ConstIntBound) -> ConstIntBound:
    """Floor modulo: the result has the divisor's sign and is below it in magnitude."""
    if b.min_value > 0:
        if b.is_const:
            c = b.min_value
            if a.min_value >= 0 and a.max_value < c:
                return a
            if not _is_inf(a.min_value) and not _is_inf(a.max_value) \
                    and a.min_value // c == a.max_value // c:
                return ConstIntBound(a.min_value % c, a.max_value % c)
        top = b.max_value - 1 if not _is_inf(b.max_value) else POS_INF
        if a.min_value >= 0:
            top = min(top, a.max_value)
        return ConstIntBound(0, top)
    if b.max_value < 0:
        bottom = b.min_value + 1 if not _is_inf(b.min_value) else NEG_INF
        return ConstIntBound(bottom, 0)
    return ConstIntBound(NEG_INF, POS_INF)


def bound_bitwise_and(a: ConstIntBound, b: ConstIntBound) -> ConstIntBound:
    """``x & y`` keeps only bits of a non-negative operand: it lies in [0, that one]."""
    tops = [x.max_value for x in (a, b) if x.min_value >= 0]
    return ConstIntBound(0, min(tops)) if tops else ConstIntBound(NEG_INF, POS_INF)


def bound_shift_right(a: ConstIntBound, b: ConstIntBound) -> ConstIntBound:
    """``x >> s`` for ``s >= 0`` is ``x // 2**s``: monotone in ``x``, and towards 0 (or -1)
    as ``s`` grows, so the corners bound it."""
    if b.min_value < 0:
        return ConstIntBound(NEG_INF, POS_INF)
    low, high = b.min_value, min(b.max_value, 128)  # past 128 bits every value is 0 or -1
    return ConstIntBound(min(a.min_value >> low, a.min_value >> high),
                         max(a.max_value >> low, a.max_value >> high))


def bound_union(a: ConstIntBound, b: ConstIntBound) -> ConstIntBound:
    return ConstIntBound(min(a.min_value, b.min_value), max(a.max_value, b.max_value))


def bound_intersect(a: ConstIntBound, b: ConstIntBound) -> ConstIntBound:
    return ConstIntBound(max(a.min_value, b.min_value), min(a.max_value, b.max_value))


class BoundEvaluator:
    """Computes :class:`ConstIntBound` of expressions given bounds of variables.

    ``var_bounds`` maps Var -> ConstIntBound; unbound variables range over their type.
    Results are memoized by node identity for the evaluator's lifetime, so an evaluator
    must be dropped whenever ``var_bounds`` changes."""

    def __init__(self, var_bounds: dict):
        self.var_bounds = var_bounds
        self.memo: dict[int, tuple[object, ConstIntBound]] = {}

    def __call__(self, e) -> ConstIntBound:
        hit = self.memo.get(id(e))
        if hit is not None:
            return hit[1]
        result = self._compute(e)
        if e.dtype.is_integer and e.dtype.lanes == 1:
            result = bound_intersect(result, dtype_bound(e.dtype)) \
                if not e.dtype.is_uint else ConstIntBound(max(result.min_value, 0),
                                                          result.max_value)
        self.memo[id(e)] = (e, result)
        return result

    def _compute(self, e) -> ConstIntBound:  # noqa: C901 - one case per node kind
        t = type(e)
        if t is E.IntImm:
            return ConstIntBound(e.value, e.value)
        if t is E.Var:
            found = self.var_bounds.get(e)
            return found if found is not None else dtype_bound(e.dtype)
        if t is E.Add:
            return bound_add(self(e.a), self(e.b))
        if t is E.Sub:
            return bound_sub(self(e.a), self(e.b))
        if t is E.Mul:
            return bound_mul(self(e.a), self(e.b))
        if t is E.FloorDiv:
            return bound_floordiv(self(e.a), self(e.b))
        if t is E.FloorMod:
            return bound_floormod(self(e.a), self(e.b))
        if t is E.BitwiseAnd:
            return bound_bitwise_and(self(e.a), self(e.b))
        if t is E.ShiftRight:
            return bound_shift_right(self(e.a), self(e.b))
        if t is E.Min:
            a, b = self(e.a), self(e.b)
            return ConstIntBound(min(a.min_value, b.min_value), min(a.max_value, b.max_value))
        if t is E.Max:
            a, b = self(e.a), self(e.b)
            return ConstIntBound(max(a.min_value, b.min_value), max(a.max_value, b.max_value))
        if t is E.Select:
            return bound_union(self(e.true_value), self(e.false_value))
        if t is E.Cast:
            if e.value.dtype.is_integer or e.value.dtype.is_bool:
                inner = self(e.value)
                target = dtype_bound(e.dtype)
                if target.min_value <= inner.min_value and inner.max_value <= target.max_value:
                    return inner
            return dtype_bound(e.dtype)
        if t is E.Broadcast:
            return self(e.value)
        if t is E.Ramp:
            base, stride = self(e.base), self(e.stride)
            return bound_union(base, bound_add(base, bound_scale(stride, e.lanes - 1)))
        if t is E.Let:
            inner = BoundEvaluator({**self.var_bounds, e.var: self(e.value)})
            return inner(e.body)
        return dtype_bound(e.dtype)
