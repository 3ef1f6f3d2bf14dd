"""Symbolic integer intervals and their evaluation over variable domains.

``eval_interval(i*4 + j, {i: Range(0, 8)})`` is ``[j, j + 28]``: variables with a domain
are relaxed to it, the others stay symbolic.  Bound inference uses this to find the region
of a producer that a consumer reads, so the result is exact where the arithmetic allows
and otherwise larger than needed, never smaller.
"""
from __future__ import annotations

from .. import expr as E
from .. import op as _op
from ..datatype import int64
from ..structural import structural_equal
from ...errors import TensorLangValueError
from .canonical import LinearSum, from_sum, to_sum

# markers for a missing lower / upper end (compared by identity); public as
# IntervalSet.NEG_INF / IntervalSet.POS_INF, as ConstIntBound has integer ones
_NEG_INF = E.Var("neg_inf", int64)
_POS_INF = E.Var("pos_inf", int64)


def is_neg_inf(e) -> bool:
    return e is _NEG_INF


def is_pos_inf(e) -> bool:
    return e is _POS_INF


class IntervalSet:
    """The closed interval ``[min_value, max_value]`` of integer expressions.

    An unknown end is the marker :attr:`NEG_INF` / :attr:`POS_INF` (an expression, unlike
    the integer ``ConstIntBound.NEG_INF``).  The methods that build new ends simplify them
    with the :class:`Analyzer` they are given.  Example::

        s = IntervalSet.from_range(tir.Range(0, 32), analyzer)   # [0, 31]
        s.to_range(analyzer)                                     # Range(min=0, extent=32)
    """

    __slots__ = ("min_value", "max_value")
    NEG_INF = _NEG_INF
    POS_INF = _POS_INF

    def __init__(self, min_value, max_value):
        self.min_value = _op.convert(min_value)
        self.max_value = _op.convert(max_value)

    # -- construction ----------------------------------------------------------------
    @staticmethod
    def point(value) -> "IntervalSet":
        value = _op.convert(value)
        return IntervalSet(value, value)

    @staticmethod
    def everything() -> "IntervalSet":
        return IntervalSet(_NEG_INF, _POS_INF)

    @staticmethod
    def from_range(rng, analyzer) -> "IntervalSet":
        """``[min, min + extent - 1]`` of a :class:`tir.Range` (or ``(min, extent)``)."""
        lo, extent = (rng.min, rng.extent) if isinstance(rng, E.Range) else rng
        lo, extent = _op.convert(lo), _op.convert(extent)
        if type(extent) is E.IntImm and extent.value == 1:
            return IntervalSet(lo, lo)
        hi = analyzer.simplify(_op.sub(_op.add(lo, extent), 1))
        return IntervalSet(lo, hi)

    # -- queries ---------------------------------------------------------------------
    @property
    def is_point(self) -> bool:
        return self.is_bounded and structural_equal(self.min_value, self.max_value)

    @property
    def has_lower_bound(self) -> bool:
        return self.min_value is not _NEG_INF

    @property
    def has_upper_bound(self) -> bool:
        return self.max_value is not _POS_INF

    @property
    def is_bounded(self) -> bool:
        return self.has_lower_bound and self.has_upper_bound

    @property
    def is_everything(self) -> bool:
        return not self.has_lower_bound and not self.has_upper_bound

    def to_range(self, analyzer) -> E.Range:
        """The Range ``(min, max - min + 1)``; the set must be bounded."""
        if not self.is_bounded:
            raise TensorLangValueError(
                f"the interval {self} is unbounded and has no range; bound the variables "
                f"it depends on")
        extent = analyzer.simplify(_op.add(_op.sub(self.max_value, self.min_value), 1))
        return E.Range(self.min_value, extent)

    # -- set algebra -----------------------------------------------------------------
    def union(self, other: "IntervalSet", analyzer) -> "IntervalSet":
        """The smallest interval holding both (the hull)."""
        return IntervalSet(end_min(self.min_value, other.min_value, analyzer),
                           end_max(self.max_value, other.max_value, analyzer))

    def intersect(self, other: "IntervalSet", analyzer) -> "IntervalSet":
        """The common part (may be empty: ``min > max``)."""
        return IntervalSet(end_max(self.min_value, other.min_value, analyzer),
                           end_min(self.max_value, other.max_value, analyzer))

    def __repr__(self) -> str:
        lo = "-inf" if self.min_value is _NEG_INF else str(self.min_value)
        hi = "+inf" if self.max_value is _POS_INF else str(self.max_value)
        return f"IntervalSet[{lo}, {hi}]"


# -- arithmetic on interval ends (PrimExpr or an infinity marker) -------------------------
def _is_inf(x) -> bool:
    return x is _NEG_INF or x is _POS_INF


def _end_pick(x, y, analyzer, low, high, build):
    """``build(x, y)`` of two ends, where ``low`` absorbs and ``high`` is the identity."""
    if x is low or y is low:
        return low
    if x is high:
        return y
    if y is high:
        return x
    return analyzer.simplify(build(x, y))


def end_min(x, y, analyzer):
    return _end_pick(x, y, analyzer, _NEG_INF, _POS_INF, _op.minimum)


def end_max(x, y, analyzer):
    return _end_pick(x, y, analyzer, _POS_INF, _NEG_INF, _op.maximum)


def _end_add(x, y, analyzer):
    if _is_inf(x):
        return x
    if _is_inf(y):
        return y
    return analyzer.simplify(_op.add(x, y))


def _negate(x, analyzer):
    if x is _NEG_INF:
        return _POS_INF
    if x is _POS_INF:
        return _NEG_INF
    return analyzer.simplify(_op.neg(x))


def _end_scale(x, factor, sign: int, analyzer):
    """``x * factor`` where ``factor`` has the known sign ``sign`` (+1 or -1)."""
    if _is_inf(x):
        return x if sign > 0 else (_POS_INF if x is _NEG_INF else _NEG_INF)
    return analyzer.simplify(_op.mul(x, factor))


def _end_div(x, divisor, sign: int, analyzer):
    if _is_inf(x):
        return x if sign > 0 else (_POS_INF if x is _NEG_INF else _NEG_INF)
    return analyzer.simplify(_op.floordiv(x, divisor))


_LINEAR = (E.Add, E.Sub, E.Mul)


def uses_any(e, variables, memo: dict | None = None) -> bool:
    """Whether a variable of ``variables`` (a set or a dict keyed by variables) occurs in
    ``e``.  ``memo`` (``id -> (node, answer)``, holding the node so its id stays unique)
    keeps the answers for subexpressions across calls with the same variables."""
    if memo is not None:
        hit = memo.get(id(e))
        if hit is not None:
            return hit[1]
    if type(e) is E.Var:
        found = e in variables
    else:
        found = False
        for name in e._children:
            child = getattr(e, name)
            if isinstance(child, tuple):
                found = any(isinstance(c, E.PrimExpr) and uses_any(c, variables, memo)
                            for c in child)
            elif isinstance(child, E.PrimExpr):
                found = uses_any(child, variables, memo)
            if found:
                break
    if memo is not None:
        memo[id(e)] = (e, found)
    return found


class _IntervalEvaluator:
    def __init__(self, dom_map: dict, analyzer):
        self.dom_map = dom_map
        self.analyzer = analyzer
        self.relaxing: set[int] = set()
        self.mentions: dict[int, tuple[object, bool]] = {}

    def uses_domain(self, e) -> bool:
        """Whether a variable with a domain occurs in ``e``."""
        return uses_any(e, self.dom_map, self.mentions)

    def linear(self, e) -> IntervalSet:
        """Interval of an integer sum, term by term: each relaxed atom contributes the
        end matching its coefficient's sign, the others stay as they are."""
        keys = self.analyzer.keys
        s = to_sum(e, keys)
        lo, hi = LinearSum(e.dtype, s.const), LinearSum(e.dtype, s.const)
        lo_inf = hi_inf = False
        for key, (atom, coef) in s.terms.items():
            if not self.uses_domain(atom):
                lo.add_term(key, atom, coef)
                hi.add_term(key, atom, coef)
                continue
            part = self(atom)
            low_end, high_end = (part.min_value, part.max_value) if coef > 0 else \
                (part.max_value, part.min_value)
            if _is_inf(low_end):
                lo_inf = True
            else:
                lo.accumulate(to_sum(low_end, keys), coef)
            if _is_inf(high_end):
                hi_inf = True
            else:
                hi.accumulate(to_sum(high_end, keys), coef)
        simplify = self.analyzer.simplify
        return IntervalSet(_NEG_INF if lo_inf else simplify(from_sum(lo)),
                           _POS_INF if hi_inf else simplify(from_sum(hi)))

    def __call__(self, e) -> IntervalSet:  # noqa: C901 - one case per node kind
        t = type(e)
        a = self.analyzer
        if t is E.IntImm:
            return IntervalSet(e, e)
        if t is E.Var:
            return self.var(e)
        if t in _LINEAR and e.dtype.is_integer and e.dtype.lanes == 1 and \
                (t is not E.Mul or type(e.a) is E.IntImm or type(e.b) is E.IntImm):
            return self.linear(e)
        if t is E.Add:
            x, y = self(e.a), self(e.b)
            return IntervalSet(_end_add(x.min_value, y.min_value, a),
                               _end_add(x.max_value, y.max_value, a))
        if t is E.Sub:
            x, y = self(e.a), self(e.b)
            return IntervalSet(_end_add(x.min_value, _negate(y.max_value, a), a),
                               _end_add(x.max_value, _negate(y.min_value, a), a))
        if t is E.Mul:
            return self.mul(e, self(e.a), self(e.b))
        if t is E.FloorDiv:
            return self.floordiv(e, self(e.a), self(e.b))
        if t is E.FloorMod:
            return self.floormod(e, self(e.a), self(e.b))
        if t is E.Min or t is E.Max:
            x, y = self(e.a), self(e.b)
            pick = end_min if t is E.Min else end_max
            return IntervalSet(pick(x.min_value, y.min_value, a),
                               pick(x.max_value, y.max_value, a))
        if t is E.Select:
            return self(e.true_value).union(self(e.false_value), a)
        if t is E.Cast and e.dtype.is_integer and e.value.dtype.is_integer:
            x = self(e.value)
            return IntervalSet(*(v if _is_inf(v) else a.simplify(_op.cast(v, e.dtype))
                                 for v in (x.min_value, x.max_value)))
        if t is E.Let:
            inner = _IntervalEvaluator({**self.dom_map, e.var: self(e.value)}, a)
            return inner(e.body)
        if not self.uses_domain(e):
            e = a.simplify(e)
            return IntervalSet(e, e)
        if t is E.ShiftRight and type(e.b) is E.IntImm and e.dtype.lanes == 1 \
                and 0 <= e.b.value < e.dtype.bits - 1:
            # x >> k is x // 2**k (for negative x too: both round towards minus infinity)
            divisor = IntervalSet.point(E.IntImm(e.dtype, 1 << e.b.value))
            return self.floordiv(e, self(e.a), divisor)
        if t is E.BitwiseAnd and type(e.b) is E.IntImm and e.b.value >= 0:
            return IntervalSet(E.IntImm(e.dtype, 0), e.b)  # only the bits of the mask
        return self.type_range(e)

    def type_range(self, e) -> IntervalSet:
        return IntervalSet.everything()

    def var(self, v) -> IntervalSet:
        dom = self.dom_map.get(v)
        if dom is None:
            return IntervalSet(v, v)
        if isinstance(dom, E.Range):
            dom = IntervalSet.from_range(dom, self.analyzer)
        elif not isinstance(dom, IntervalSet):
            dom = IntervalSet.from_range(dom, self.analyzer)
        # a domain may be written in terms of other relaxed variables (nested loops)
        if id(v) in self.relaxing:
            return IntervalSet.everything()
        self.relaxing.add(id(v))
        try:
            lo, hi = dom.min_value, dom.max_value
            if not _is_inf(lo) and self.uses_domain(lo):
                lo = self(lo).min_value
            if not _is_inf(hi) and self.uses_domain(hi):
                hi = self(hi).max_value
        finally:
            self.relaxing.discard(id(v))
        return IntervalSet(lo, hi)

    def sign(self, e) -> int:
        """+1 if ``e >= 0`` provably, -1 if ``e <= 0``, 0 if unknown."""
        bound = self.analyzer.const_int_bound(e)
        if bound.min_value >= 0:
            return 1
        if bound.max_value <= 0:
            return -1
        return 0

    def mul(self, e, x: IntervalSet, y: IntervalSet) -> IntervalSet:
        a = self.analyzer
        if x.is_point and not y.is_point:
            x, y = y, x
        if y.is_point:
            factor = y.min_value
            if x.is_point:
                return IntervalSet.point(a.simplify(_op.mul(x.min_value, factor)))
            sign = self.sign(factor)
            if sign > 0:
                return IntervalSet(_end_scale(x.min_value, factor, 1, a),
                                   _end_scale(x.max_value, factor, 1, a))
            if sign < 0:
                return IntervalSet(_end_scale(x.max_value, factor, -1, a),
                                   _end_scale(x.min_value, factor, -1, a))
            return IntervalSet.everything()
        if x.is_bounded and y.is_bounded:
            if self.sign(x.min_value) > 0 and self.sign(y.min_value) > 0:
                return IntervalSet(a.simplify(_op.mul(x.min_value, y.min_value)),
                                   a.simplify(_op.mul(x.max_value, y.max_value)))
            ends = (x.min_value, x.max_value, y.min_value, y.max_value)
            if all(type(v) is E.IntImm for v in ends):
                corners = [p.value * q.value for p in ends[:2] for q in ends[2:]]
                return IntervalSet(_op.const(min(corners), e.dtype),
                                   _op.const(max(corners), e.dtype))
        return self.type_range(e)

    def floordiv(self, e, x: IntervalSet, y: IntervalSet) -> IntervalSet:
        a = self.analyzer
        if not y.is_point:
            return self.type_range(e)
        divisor = y.min_value
        if x.is_point:
            return IntervalSet.point(a.simplify(_op.floordiv(x.min_value, divisor)))
        bound = a.const_int_bound(divisor)
        if bound.min_value > 0:
            return IntervalSet(_end_div(x.min_value, divisor, 1, a),
                               _end_div(x.max_value, divisor, 1, a))
        if bound.max_value < 0:
            return IntervalSet(_end_div(x.max_value, divisor, -1, a),
                               _end_div(x.min_value, divisor, -1, a))
        return self.type_range(e)

    def floormod(self, e, x: IntervalSet, y: IntervalSet) -> IntervalSet:
        a = self.analyzer
        if not y.is_point:
            return self.type_range(e)
        divisor = y.min_value
        if x.is_point:
            return IntervalSet.point(a.simplify(_op.floormod(x.min_value, divisor)))
        if a.const_int_bound(divisor).min_value <= 0:
            return self.type_range(e)
        if x.is_bounded and a.can_prove_equal(_op.floordiv(x.min_value, divisor),
                                              _op.floordiv(x.max_value, divisor)):
            # both ends in one block of the divisor: the remainder is monotone there
            return IntervalSet(a.simplify(_op.floormod(x.min_value, divisor)),
                               a.simplify(_op.floormod(x.max_value, divisor)))
        zero = _op.const(0, e.dtype)
        return IntervalSet(zero, a.simplify(_op.sub(divisor, 1)))


def interval_of(expr, dom_map: dict, analyzer) -> IntervalSet:
    """The interval of the integer ``expr`` when each Var in ``dom_map`` ranges over its
    domain (a :class:`tir.Range` or an :class:`IntervalSet`); other variables stay
    symbolic.  Ends are simplified with ``analyzer``; :func:`eval_interval` and
    :meth:`Analyzer.int_set` are the entry points."""
    return _IntervalEvaluator(dom_map, analyzer)(_op.convert(expr))
