"""The arithmetic analyzer: one object that knows variable ranges and answers questions.

    analyzer = Analyzer()
    analyzer.bind(i, tir.Range(0, 256))
    analyzer.bind(j, (0, 4))
    analyzer.can_prove(i*4 + j < 1024)        # True
    analyzer.simplify((i*32 + j) // 32)        # i
    analyzer.const_int_bound(i*4 + j)          # ConstIntBound(0, 1023)
    analyzer.int_set(i*4 + j, {j: tir.Range(0, 4)})   # [i*4, i*4 + 3]

Bound inference keeps interval ends as linear forms instead (:mod:`.linear_interval`),
where exact cancellation matters more than simplification.
"""
from __future__ import annotations

import contextlib

from .. import expr as E
from .. import op as _op
from ...errors import TensorLangTypeError
from .canonical import StructuralKeys, int_const
from .const_int_bound import BoundEvaluator, ConstIntBound, bound_intersect
from .int_set import IntervalSet, interval_of
from .simplifier import ExprSimplifier

#: rounds of bottom-up rewriting per simplify call; one usually reaches the fixed point
_MAX_ROUNDS = 1


class Analyzer:
    """Variable ranges plus the simplifier, constant bounds and interval evaluation."""

    def __init__(self):
        #: the structural keys of the expressions seen (equal keys: equal expressions)
        self.keys = StructuralKeys()
        self._var_bounds: dict[E.Var, ConstIntBound] = {}
        self._var_ranges: dict[E.Var, IntervalSet] = {}
        self._facts: list[int] = []  # keys of conditions known to hold
        # per-binding-state caches: dropped whenever a variable's range changes
        self._simplifier: ExprSimplifier | None = None
        self._bounds: BoundEvaluator | None = None

    def _invalidate(self) -> None:
        self._simplifier = None
        self._bounds = None

    # -- facts -----------------------------------------------------------------------
    def bind(self, var: E.Var, rng) -> None:
        """Declare that ``var`` lies in ``rng``: a :class:`tir.Range`, a ``(min, extent)``
        pair, an :class:`IntervalSet`, a :class:`ConstIntBound`, or an expression (the
        value of a let-bound variable).  Replaces an earlier binding of ``var``."""
        if isinstance(var, E.IterVar):
            var = var.var
        if not isinstance(var, E.Var):
            raise TensorLangTypeError(f"Analyzer.bind needs a Var, got {var!r}")
        self._invalidate()
        if isinstance(rng, ConstIntBound):
            self._var_bounds[var] = rng
            self._var_ranges.pop(var, None)
            return
        if isinstance(rng, E.Range) and type(rng.min) is E.IntImm \
                and type(rng.extent) is E.IntImm:
            # the common case of a constant loop range, without any simplification
            lo, extent = rng.min.value, rng.extent.value
            self._var_bounds[var] = ConstIntBound(lo, lo + max(extent, 1) - 1)
            self._var_ranges[var] = IntervalSet(rng.min, int_const(lo + max(extent, 1) - 1,
                                                                   rng.min.dtype))
            return
        if isinstance(rng, IntervalSet):
            interval = rng
        elif isinstance(rng, (E.Range, tuple, list)):
            interval = IntervalSet.from_range(tuple(rng) if not isinstance(rng, E.Range)
                                              else rng, self)
        else:
            value = self.simplify(_op.convert(rng))
            interval = IntervalSet(value, value)
        lo = interval.min_value
        hi = interval.max_value
        lo_bound = ConstIntBound.NEG_INF if not interval.has_lower_bound \
            else self.const_int_bound(lo).min_value
        hi_bound = ConstIntBound.POS_INF if not interval.has_upper_bound \
            else self.const_int_bound(hi).max_value
        # an empty range (extent 0) guards code that never runs: any bound is sound
        self._var_bounds[var] = ConstIntBound(lo_bound, max(lo_bound, hi_bound))
        self._var_ranges[var] = interval

    def bind_constraint(self, cond) -> None:
        """Assume ``cond`` holds: it becomes provable, and comparisons of a variable with a
        bounded expression (``i < n``, ``j >= 2``) narrow the variable's bound."""
        cond = self.simplify(_op.convert(cond))
        for part in _conjuncts(cond):
            self._facts.append(self.keys(part))
            self._narrow(part)

    def _narrow(self, cond) -> None:
        t = type(cond)
        if t not in (E.LT, E.LE, E.GT, E.GE, E.EQ) or not cond.a.dtype.is_integer \
                or cond.a.dtype.lanes != 1:
            return
        a, b = cond.a, cond.b
        if type(a) is not E.Var:
            if type(b) is not E.Var:
                return
            a, b = b, a
            t = {E.LT: E.GT, E.LE: E.GE, E.GT: E.LT, E.GE: E.LE, E.EQ: E.EQ}[t]
        other = self.const_int_bound(b)
        lo, hi = ConstIntBound.NEG_INF, ConstIntBound.POS_INF
        if t is E.LT:
            hi = other.max_value - 1
        elif t is E.LE:
            hi = other.max_value
        elif t is E.GT:
            lo = other.min_value + 1
        elif t is E.GE:
            lo = other.min_value
        else:
            lo, hi = other.min_value, other.max_value
        current = self._var_bounds.get(a) or BoundEvaluator({})(a)
        narrowed = bound_intersect(current, ConstIntBound(lo, hi))
        if narrowed.min_value <= narrowed.max_value:
            self._invalidate()
            self._var_bounds[a] = narrowed

    @contextlib.contextmanager
    def scope(self, var: E.Var, rng):
        """Bind ``var`` to ``rng`` for the duration of a ``with`` block."""
        saved = (self._var_bounds.get(var), self._var_ranges.get(var))
        self.bind(var, rng)
        try:
            yield self
        finally:
            self._restore(var, saved)

    @contextlib.contextmanager
    def constraint_scope(self, cond):
        """Assume ``cond`` within a ``with`` block (the then-branch of an ``if``)."""
        saved_bounds = dict(self._var_bounds)
        saved_facts = len(self._facts)
        self.bind_constraint(cond)
        try:
            yield self
        finally:
            self._invalidate()
            self._var_bounds = saved_bounds
            del self._facts[saved_facts:]

    def _restore(self, var, saved) -> None:
        self._invalidate()
        bound, interval = saved
        if bound is None:
            self._var_bounds.pop(var, None)
        else:
            self._var_bounds[var] = bound
        if interval is None:
            self._var_ranges.pop(var, None)
        else:
            self._var_ranges[var] = interval

    # -- questions -------------------------------------------------------------------
    def const_int_bound(self, expr) -> ConstIntBound:
        """Constant lower and upper bounds of an integer expression."""
        expr = _op.convert(expr)
        if self._bounds is None:
            self._bounds = BoundEvaluator(self._var_bounds)
        return self._bounds(expr)

    def simplify(self, expr):
        """The simplest equivalent expression found; ``expr`` itself if none is simpler."""
        if isinstance(expr, E.IterVar):
            return expr.var
        if not isinstance(expr, E.PrimExpr):
            return _op.convert(expr)
        if self._simplifier is None:
            self._simplifier = ExprSimplifier(self.keys, self._var_bounds)
        result = expr
        for _ in range(_MAX_ROUNDS):
            simpler = self._simplifier(result)
            if simpler is result:
                break
            result = simpler
        if self._facts and result.dtype.is_bool and type(result) is not E.IntImm:
            result = self._apply_facts(result)
        return result

    def _apply_facts(self, cond):
        key = self.keys(cond)
        if key in self._facts:
            return _op.const(True)
        return cond

    def can_prove(self, cond) -> bool:
        """True only if ``cond`` certainly holds under the known ranges and constraints."""
        cond = self.simplify(_op.convert(cond))
        if type(cond) is E.IntImm:
            return bool(cond.value)
        return all(self.keys(part) in self._facts for part in _conjuncts(cond)) \
            if self._facts else False

    def can_prove_equal(self, a, b) -> bool:
        """Whether ``a == b`` for every value of the variables."""
        a, b = _op.convert(a), _op.convert(b)
        if a.dtype.is_integer and b.dtype.is_integer and a.dtype.lanes == 1:
            return self.can_prove(_op.eq(a, b))
        return self.keys(self.simplify(a)) == self.keys(self.simplify(b))

    def int_set(self, expr, dom_map: dict | None = None) -> IntervalSet:
        """The interval of ``expr`` over ``dom_map`` (default: every range bound with
        :meth:`bind`)."""
        if dom_map is None:
            dom_map = dict(self._var_ranges)
        return interval_of(expr, dom_map, self)


def eval_interval(expr, dom_map: dict, analyzer: Analyzer | None = None) -> IntervalSet:
    """The interval of the integer ``expr`` when each Var in ``dom_map`` ranges over its
    domain (a :class:`tir.Range` or an :class:`IntervalSet`); other variables stay
    symbolic.  Example: with ``i`` in ``Range(0, 32)``, ``eval_interval(io*32 + i, ...)``
    is ``[io*32, io*32 + 31]``."""
    return interval_of(expr, dom_map, analyzer if analyzer is not None else Analyzer())


def _conjuncts(cond):
    if type(cond) is E.And:
        return _conjuncts(cond.a) + _conjuncts(cond.b)
    return [cond]
