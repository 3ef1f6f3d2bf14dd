"""Rewrite rules of the expression simplifier.

One method per node family, in the spirit of Halide's ``Simplify_Add.cpp`` & co.  Children
are simplified first (bottom-up); integer ``+ - *`` go through the canonical
:class:`~tensorlang.tir.arith.canonical.LinearSum`, and the rules for ``//``, ``%``,
``min``/``max`` and comparisons consult constant bounds of the operands, so
``(i*32 + j) // 32 -> i`` once ``0 <= j < 32`` is known.  Every rule is exact under floor
semantics for negative values, and assumes (as TVM and Halide do) that index arithmetic
does not overflow.
"""
from __future__ import annotations

import math

from .. import bitwise as _bitwise
from .. import expr as E
from .. import op as _op
from ..datatype import bool_
from ..functor import Functor
from ..transform.substitute import substitute
from .canonical import LinearSum, from_sum, int_const, is_canonical, mark_canonical, to_sum
from .const_int_bound import (NEG_INF, POS_INF, BoundEvaluator, ConstIntBound, bound_add,
                              bound_scale, dtype_bound)

_BOOL = bool_


def _true(dtype=_BOOL):
    return E.IntImm(dtype, 1)


def _false(dtype=_BOOL):
    return E.IntImm(dtype, 0)


def _is_int_scalar(dtype) -> bool:
    return dtype.is_integer and dtype.lanes == 1


def _finite(bound: ConstIntBound) -> bool:
    return bound.min_value != NEG_INF and bound.max_value != POS_INF


class ExprSimplifier(Functor):
    """Simplifies expressions under the variable bounds of an analyzer.

    Rules are ``visit_<ClassName>`` methods found by :class:`Functor` dispatch; nodes
    without one (constants) are already simple.  Its memo tables assume the variable
    bounds do not change while it lives: the analyzer drops it whenever a binding
    changes."""

    def __init__(self, keys, var_bounds: dict):
        self.keys = keys
        self.var_bounds = var_bounds
        self.bound = BoundEvaluator(var_bounds)
        self.memo: dict[int, tuple[object, object]] = {}

    # -- driver ----------------------------------------------------------------------
    def visit(self, e):
        """The simplified ``e``, memoized by identity (the memo keeps ``e`` alive)."""
        hit = self.memo.get(id(e))
        if hit is not None:
            return hit[1]
        method = self._method_cache.get(type(e)) or self._method(type(e))
        result = method(self, e)
        if result is not e and self.keys(result) == self.keys(e):
            result = e
        self.memo[id(e)] = (e, result)
        return result

    __call__ = visit

    def generic_visit(self, e):
        return e

    def children(self, e):
        """``e`` with every child expression simplified (same object if none changed)."""
        changes = None
        for name in e._children:
            child = getattr(e, name)
            if isinstance(child, tuple):
                new = tuple(self(c) if isinstance(c, E.PrimExpr) else c for c in child)
                if all(x is y for x, y in zip(new, child)):
                    new = child
            elif isinstance(child, E.PrimExpr):
                new = self(child)
            else:
                continue
            if new is not child:
                changes = changes or {}
                changes[name] = new
        return e if changes is None else e.replace(**changes)

    # -- canonical sums --------------------------------------------------------------
    def to_sum(self, e) -> LinearSum:
        return to_sum(e, self.keys)

    def sum_bound(self, s: LinearSum) -> ConstIntBound:
        result = ConstIntBound(s.const, s.const)
        for atom, coef in s.terms.values():
            result = bound_add(result, bound_scale(self.bound(atom), coef))
        return result

    def from_sum(self, s: LinearSum):
        """Rebuild a sum after folding ``(x // c)*c + x % c`` pairs back into ``x``."""
        if len(s.terms) > 1:
            self._merge_div_mod(s)
        result = from_sum(s)
        if type(result) is not E.IntImm and type(result) is not E.Var:
            mark_canonical(result)
        return result

    def _merge_div_mod(self, s: LinearSum) -> None:
        for key, slot in list(s.terms.items()):
            if key not in s.terms:
                continue
            atom, coef = slot
            if type(atom) is not E.FloorMod or type(atom.b) is not E.IntImm:
                continue
            divisor = atom.b.value
            div_key = self.keys.lookup((E.FloorDiv, atom.dtype, self.keys(atom.a),
                                        self.keys(atom.b)))
            if div_key is not None and s.coefficient(div_key) == coef * divisor:
                # (x // c)*c*k + (x % c)*k == x*k
                del s.terms[key]
                del s.terms[div_key]
                s.accumulate(self.to_sum(atom.a), coef)
        for key, slot in list(s.terms.items()):
            if key not in s.terms:
                continue
            atom, coef = slot
            if type(atom) is not E.FloorDiv or type(atom.b) is not E.IntImm:
                continue
            divisor = atom.b.value
            if divisor <= 0 or coef % divisor:
                continue
            k = -coef // divisor
            inner = self.to_sum(atom.a)
            if not inner.terms or any(s.coefficient(ik) != k * ic
                                      for ik, (_, ic) in inner.terms.items()):
                continue
            # x*k - (x // c)*c*k == (x % c)*k
            del s.terms[key]
            s.accumulate(inner, -k)
            mod = self.floormod_const(atom.a, divisor)
            s.accumulate(self.to_sum(mod), k)

    # -- arithmetic ------------------------------------------------------------------
    def visit_Add(self, e):
        a, b = self(e.a), self(e.b)
        if a is e.a and b is e.b and is_canonical(e):
            return e
        if _is_int_scalar(e.dtype):
            return self.from_sum(self.to_sum(a).accumulate(self.to_sum(b)))
        return self._vector_or_fold(e, a, b, _op.add)

    def visit_Sub(self, e):
        a, b = self(e.a), self(e.b)
        if a is e.a and b is e.b and is_canonical(e):
            return e
        if _is_int_scalar(e.dtype):
            return self.from_sum(self.to_sum(a).accumulate(self.to_sum(b), -1))
        return self._vector_or_fold(e, a, b, _op.sub)

    def visit_Mul(self, e):
        a, b = self(e.a), self(e.b)
        if a is e.a and b is e.b and is_canonical(e):
            return e
        if _is_int_scalar(e.dtype):
            if type(a) is E.IntImm:
                a, b = b, a
            if type(b) is E.IntImm:
                return self.from_sum(self.to_sum(a).scale(b.value))
            return e.replace(a=a, b=b)
        return self._vector_or_fold(e, a, b, _op.mul)

    def _vector_or_fold(self, e, a, b, build):
        """Float and vector arithmetic: fold constants, push ops into Ramp/Broadcast."""
        ta, tb = type(a), type(b)
        if e.dtype.lanes > 1:
            if ta is E.Broadcast and tb is E.Broadcast:
                return self._broadcast(build(a.value, b.value), e.dtype.lanes)
            if type(e) in (E.Add, E.Sub) and e.dtype.is_integer:
                sign = 1 if type(e) is E.Add else -1
                if ta is E.Ramp and tb is E.Broadcast:
                    return self._ramp(build(a.base, b.value), a.stride, a.lanes)
                if ta is E.Broadcast and tb is E.Ramp:
                    stride = b.stride if sign > 0 else _op.neg(b.stride)
                    return self._ramp(build(a.value, b.base), stride, b.lanes)
                if ta is E.Ramp and tb is E.Ramp:
                    return self._ramp(build(a.base, b.base), build(a.stride, b.stride),
                                      a.lanes)
            if type(e) is E.Mul and e.dtype.is_integer:
                if ta is E.Broadcast and tb is E.Ramp:
                    a, b, ta, tb = b, a, tb, ta
                if ta is E.Ramp and tb is E.Broadcast:
                    return self._ramp(build(a.base, b.value), build(a.stride, b.value),
                                      a.lanes)
            return e.replace(a=a, b=b)
        if ta in (E.IntImm, E.FloatImm) and tb in (E.IntImm, E.FloatImm):
            return build(a, b)
        return e.replace(a=a, b=b)

    def _broadcast(self, value, lanes):
        value = self(value)
        return E.Broadcast(value, lanes, value.dtype.with_lanes(lanes))

    def _ramp(self, base, stride, lanes):
        base, stride = self(base), self(stride)
        if type(stride) is E.IntImm and stride.value == 0:
            return E.Broadcast(base, lanes, base.dtype.with_lanes(lanes))
        return E.Ramp(base, stride, lanes, base.dtype.with_lanes(lanes))

    # -- division --------------------------------------------------------------------
    def visit_FloorDiv(self, e):
        return self._div_mod(e, is_div=True)

    def visit_FloorMod(self, e):
        return self._div_mod(e, is_div=False)

    def _div_mod(self, e, is_div: bool):
        """``a // b`` or ``a % b``: constants fold, a positive constant divisor goes to
        :meth:`floordiv_const` / :meth:`floormod_const`, and a vector whose lanes all fall
        into one block of the divisor divides as a scalar."""
        a, b = self(e.a), self(e.b)
        if _is_int_scalar(e.dtype) and type(b) is E.IntImm:
            c = b.value
            if type(a) is E.IntImm and c != 0:
                return int_const(a.value // c if is_div else a.value % c, e.dtype)
            if c == 1:
                return a if is_div else int_const(0, e.dtype)
            if c > 0:
                return self.floordiv_const(a, c) if is_div else self.floormod_const(a, c)
        if e.dtype.lanes > 1 and type(b) is E.Broadcast and type(b.value) is E.IntImm:
            c = b.value.value
            if type(a) is E.Broadcast and c > 0:
                return self._broadcast(type(e)(a.value, b.value, b.value.dtype), a.lanes)
            if type(a) is E.Ramp and c > 0 and type(a.stride) is E.IntImm:
                # all lanes fall into one block of c when base % c + span < c
                span = a.stride.value * (a.lanes - 1)
                base_mod = self.floormod_const(a.base, c)
                if 0 <= span and self.bound(base_mod).max_value + span < c:
                    if is_div:
                        return self._broadcast(E.FloorDiv(a.base, b.value, b.value.dtype),
                                               a.lanes)
                    return self._ramp(base_mod, a.stride, a.lanes)
        if is_div and type(a) is E.IntImm and a.value == 0 and e.dtype.is_integer:
            return a
        return e.replace(a=a, b=b)

    def floordiv_const(self, a, c: int):
        """``a // c`` for a positive constant ``c`` (``a`` already simplified)."""
        dtype = a.dtype
        if type(a) is E.FloorDiv and type(a.b) is E.IntImm and a.b.value > 0:
            return self.floordiv_const(a.a, a.b.value * c)
        quotient, rest = self.to_sum(a).split_multiples(c)
        if rest.terms:
            rest, c, whole = self._reduce_division(rest, c)
            if whole is None:
                divisor = int_const(c, dtype)
                atom = E.FloorDiv(from_sum(rest), divisor, dtype)
                quotient.add_term(self.keys(atom), atom, 1)
            else:
                quotient.const += whole
        return self.from_sum(quotient)

    def _reduce_division(self, rest: LinearSum, c: int):
        """For ``rest // c`` (0 <= rest.const < c): the whole quotient when the bounds of
        ``rest`` fix it, else ``rest`` and ``c`` divided by their common factor."""
        bound = self.sum_bound(rest)
        if _finite(bound) and bound.min_value // c == bound.max_value // c:
            return rest, c, bound.min_value // c
        g = c
        for _, coef in rest.terms.values():
            g = math.gcd(g, coef)
        if g > 1:
            # floor((g*t + r) / (g*c')) == floor((t + r // g) / c')
            reduced = LinearSum(rest.dtype, rest.const // g)
            reduced.terms = {k: (a, coef // g) for k, (a, coef) in rest.terms.items()}
            rest, c = reduced, c // g
            bound = self.sum_bound(rest)
            if _finite(bound) and bound.min_value // c == bound.max_value // c:
                return rest, c, bound.min_value // c
        return rest, c, None

    def floormod_const(self, a, c: int):
        """``a % c`` for a positive constant ``c`` (``a`` already simplified)."""
        dtype = a.dtype
        if type(a) is E.FloorMod and type(a.b) is E.IntImm and a.b.value > 0 \
                and a.b.value % c == 0:
            a = a.a
        if type(a) is E.IntImm:
            return int_const(a.value % c, dtype)
        s = self.to_sum(a)
        rest = LinearSum(dtype, s.const % c)
        for key, (atom, coef) in s.terms.items():
            if coef % c:
                rest.add_term(key, atom, coef)
        if not rest.terms:
            return int_const(rest.const, dtype)
        bound = self.sum_bound(rest)
        if _finite(bound) and bound.min_value // c == bound.max_value // c:
            rest.const -= (bound.min_value // c) * c
            return self.from_sum(rest)
        g = c
        for _, coef in rest.terms.values():
            g = math.gcd(g, coef)
        if g > 1:
            # (g*t + r) % (g*c') == g*((t + r // g) % c') + r % g
            reduced = LinearSum(dtype, rest.const // g)
            reduced.terms = {k: (x, coef // g) for k, (x, coef) in rest.terms.items()}
            inner = c // g
            bound = self.sum_bound(reduced)
            if _finite(bound) and bound.min_value // inner == bound.max_value // inner:
                reduced.const -= (bound.min_value // inner) * inner
                result = reduced.scale(g)
                result.const += rest.const % g
                return self.from_sum(result)
        if len(rest.terms) == len(s.terms) and rest.const == s.const:
            return E.FloorMod(a, int_const(c, dtype), dtype)
        return E.FloorMod(self.from_sum(rest), int_const(c, dtype), dtype)

    # -- min / max -------------------------------------------------------------------
    def visit_Min(self, e):
        return self._min_max(e, is_min=True)

    def visit_Max(self, e):
        return self._min_max(e, is_min=False)

    def _min_max(self, e, is_min: bool):
        a, b = self(e.a), self(e.b)
        pick = min if is_min else max
        ta, tb = type(a), type(b)
        if ta in (E.IntImm, E.FloatImm) and tb in (E.IntImm, E.FloatImm):
            return (_op.minimum if is_min else _op.maximum)(a, b)
        if self.keys(a) == self.keys(b):
            return a
        if _is_int_scalar(e.dtype):
            diff = self.sum_bound(self.to_sum(a).accumulate(self.to_sum(b), -1))
            if diff.max_value <= 0:
                return a if is_min else b
            if diff.min_value >= 0:
                return b if is_min else a
            if ta is E.FloorDiv and tb is E.FloorDiv and type(a.b) is E.IntImm \
                    and type(b.b) is E.IntImm and a.b.value == b.b.value > 0:
                # floor division by a positive constant is monotone
                inner = self.sum_bound(self.to_sum(a.a).accumulate(self.to_sum(b.a), -1))
                if inner.max_value <= 0:
                    return a if is_min else b
                if inner.min_value >= 0:
                    return b if is_min else a
            if ta is E.IntImm:
                a, b, ta, tb = b, a, tb, ta
            # min(min(x, c1), c2) -> min(x, min(c1, c2))
            if tb is E.IntImm and ta is type(e) and type(a.b) is E.IntImm:
                return type(e)(a.a, int_const(pick(a.b.value, b.value), e.dtype), e.dtype)
        return type(e)(a, b, e.dtype) if (a is not e.a or b is not e.b) else e

    # -- comparisons -----------------------------------------------------------------
    def visit_CmpOp(self, e):
        a, b = self(e.a), self(e.b)
        t = type(e)
        ta, tb = type(a), type(b)
        if ta in (E.IntImm, E.FloatImm) and tb in (E.IntImm, E.FloatImm):
            return _CMP_BUILD[t](a, b)
        if not _is_int_scalar(a.dtype):
            if t in (E.EQ, E.NE) and a.dtype.is_bool and self.keys(a) == self.keys(b):
                return _true(e.dtype) if t is E.EQ else _false(e.dtype)
            return e.replace(a=a, b=b)
        diff = self.to_sum(a).accumulate(self.to_sum(b), -1)
        bound = self.sum_bound(diff)
        verdict = _decide(t, bound.min_value, bound.max_value)
        if verdict is not None:
            return _true(e.dtype) if verdict else _false(e.dtype)
        # move a constant offset to the right: x + 1 < n + 3 -> x < n + 2
        sa = self.to_sum(a)
        if sa.const and sa.terms:
            sb = self.to_sum(b)
            shifted = sb.const - sa.const
            if self._fits(shifted, b.dtype):
                sa.const = 0
                sb.const = shifted
                a, b = self.from_sum(sa), self.from_sum(sb)
        return e.replace(a=a, b=b)

    @staticmethod
    def _fits(value: int, dtype) -> bool:
        return value in dtype_bound(dtype)

    # -- logic -----------------------------------------------------------------------
    def visit_And(self, e):
        return self._and_or(e, absorbing=0)

    def visit_Or(self, e):
        return self._and_or(e, absorbing=1)

    def _and_or(self, e, absorbing: int):
        """``and`` (``absorbing`` 0: false decides) or ``or`` (1: true decides)."""
        a, b = self(e.a), self(e.b)
        if type(a) is E.IntImm:
            return a if bool(a.value) == bool(absorbing) else b
        if type(b) is E.IntImm:
            return b if bool(b.value) == bool(absorbing) else a
        if self._repeats(a, b, type(e)):
            return a
        if self._negates(a, b):
            return _true(e.dtype) if absorbing else _false(e.dtype)
        return e.replace(a=a, b=b)

    def _repeats(self, a, b, cls) -> bool:
        """Whether ``b`` already is one of the operands of the ``cls`` chain ``a``
        (``x and y and x`` keeps one ``x``)."""
        key = self.keys(b)
        while True:
            if self.keys(a) == key:
                return True
            if type(a) is not cls:
                return False
            if self.keys(a.b) == key:
                return True
            a = a.a

    def _negates(self, a, b) -> bool:
        if (type(a) is E.Not and self.keys(a.a) == self.keys(b)) or \
                (type(b) is E.Not and self.keys(b.a) == self.keys(a)):
            return True
        ta = type(a)
        # x < y against x >= y (integers; float comparisons may see NaN)
        return ta in _NEGATED and type(b) is _NEGATED[ta] \
            and (ta in (E.EQ, E.NE) or a.a.dtype.is_integer) \
            and self.keys(a.a) == self.keys(b.a) and self.keys(a.b) == self.keys(b.b)

    def visit_Not(self, e):
        a = self(e.a)
        ta = type(a)
        if ta is E.IntImm:
            return E.IntImm(e.dtype, 0 if a.value else 1)
        if ta is E.Not:
            return a.a
        if ta in _NEGATED and (ta in (E.EQ, E.NE) or a.a.dtype.is_integer):
            # not (x < y) == (x >= y) for integers; floats may be NaN
            return self(_NEGATED[ta](a.a, a.b, a.dtype))
        if ta is E.And and e.dtype.lanes == 1:
            return self(E.Or(E.Not(a.a, e.dtype), E.Not(a.b, e.dtype), e.dtype))
        if ta is E.Or and e.dtype.lanes == 1:
            return self(E.And(E.Not(a.a, e.dtype), E.Not(a.b, e.dtype), e.dtype))
        return e.replace(a=a)

    # -- select, cast, let -----------------------------------------------------------
    def visit_Select(self, e):
        cond = self(e.condition)
        if type(cond) is E.IntImm:
            return self(e.true_value if cond.value else e.false_value)
        t, f = self(e.true_value), self(e.false_value)
        if self.keys(t) == self.keys(f):
            return t
        return e.replace(condition=cond, true_value=t, false_value=f)

    def visit_Cast(self, e):
        value = self(e.value)
        if value.dtype == e.dtype:
            return value
        if type(value) is E.Cast and value.value.dtype == e.dtype and e.dtype.is_integer \
                and value.dtype.is_integer and _widens(e.dtype, value.dtype):
            # int32 -> int64 -> int32 is the identity
            return value.value
        if type(value) in (E.IntImm, E.FloatImm):
            return _op.cast(value, e.dtype)
        if type(value) is E.Broadcast:
            return self._broadcast(E.Cast(e.dtype.element_of(), value.value), value.lanes)
        return e.replace(value=value)

    def visit_Call(self, e):
        e2 = self.children(e)
        if e2.op in _LIKELY and len(e2.args) == 1 and type(e2.args[0]) is E.IntImm:
            return e2.args[0]  # a hint about a decided condition says nothing more
        return e2

    def visit_Let(self, e):
        value = self(e.value)
        if type(value) in (E.IntImm, E.FloatImm, E.Var):
            return self(substitute(e.body, {e.var: value}))
        if _is_int_scalar(value.dtype):
            inner = ExprSimplifier(self.keys, {**self.var_bounds, e.var: self.bound(value)})
            body = inner(e.body)
        else:
            body = self(e.body)
        return e.replace(value=value, body=body)

    def visit_Var(self, e):
        bound = self.var_bounds.get(e)
        if bound is not None and bound.min_value == bound.max_value \
                and e.dtype.is_integer and e.dtype.lanes == 1:
            return int_const(bound.min_value, e.dtype)
        return e

    def visit_Broadcast(self, e):
        value = self(e.value)
        return e.replace(value=value)

    def visit_Ramp(self, e):
        base, stride = self(e.base), self(e.stride)
        return e.replace(base=base, stride=stride)

    def visit_BitwiseOp(self, e):
        """Constants fold (as the builders fold them); ``x & (2**k - 1) -> x`` and
        ``x >> k -> 0`` where the bounds of ``x`` show that the mask keeps every bit or
        the shift drops them all."""
        a, b = self(e.a), self(e.b)
        t = type(e)
        if e.dtype.lanes > 1:
            if type(a) is E.Broadcast and type(b) is E.Broadcast:
                return self._broadcast(_bitwise.fold(t, a.value, b.value, a.value.dtype),
                                       e.dtype.lanes)
            return e.replace(a=a, b=b)
        if type(b) is E.IntImm and type(a) is not E.IntImm:
            c, bound = b.value, self.bound(a)
            if t is E.BitwiseAnd and c >= 0 and c & (c + 1) == 0 \
                    and 0 <= bound.min_value and bound.max_value <= c:
                return a
            if t is E.ShiftRight and 0 <= c < e.dtype.bits \
                    and 0 <= bound.min_value and bound.max_value < 1 << c:
                return int_const(0, e.dtype)
        return _bitwise.fold(t, a, b, e.dtype)

    def visit_Div(self, e):
        return self._vector_or_fold(e, self(e.a), self(e.b), _op.div)

    visit_BufferLoad = visit_ProducerLoad = visit_Reduce = children


_LIKELY = ("likely", "tl.likely")


def _widens(narrow, wide) -> bool:
    """Whether every value of the integer type ``narrow`` is representable in ``wide``."""
    low, high = dtype_bound(narrow), dtype_bound(wide)
    return high.min_value <= low.min_value and low.max_value <= high.max_value


def _decide(t, lo: int, hi: int):
    """Truth of ``diff <op> 0`` when ``diff`` lies in [lo, hi]; None when unknown."""
    if t is E.LT:
        return True if hi < 0 else False if lo >= 0 else None
    if t is E.LE:
        return True if hi <= 0 else False if lo > 0 else None
    if t is E.GT:
        return True if lo > 0 else False if hi <= 0 else None
    if t is E.GE:
        return True if lo >= 0 else False if hi < 0 else None
    if t is E.EQ:
        return True if lo == hi == 0 else False if (lo > 0 or hi < 0) else None
    if t is E.NE:
        return False if lo == hi == 0 else True if (lo > 0 or hi < 0) else None
    return None


_CMP_BUILD = {E.LT: _op.lt, E.LE: _op.le, E.GT: _op.gt, E.GE: _op.ge, E.EQ: _op.eq,
              E.NE: _op.ne}
_NEGATED = {E.LT: E.GE, E.LE: E.GT, E.GT: E.LE, E.GE: E.LT, E.EQ: E.NE, E.NE: E.EQ}
