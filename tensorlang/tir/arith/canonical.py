"""Canonical form of integer sums: ``c0 + c1*t1 + c2*t2 + ...`` over distinct atoms.

An integer expression built from ``+``, ``-`` and multiplication by constants is a
:class:`LinearSum`: a map from atoms (any other subexpression: a variable, a product of
variables, a floordiv, a load...) to integer coefficients, plus a constant.  Adding two
sums collects like terms, which is what turns ``i*4 + j - i*4`` into ``j``.  Atoms are
compared by :class:`StructuralKeys`, a hash-consing table that gives structurally equal
expressions the same small integer.
"""
from __future__ import annotations

from .. import expr as E
from ..datatype import DataType


class StructuralKeys:
    """Interns expressions: structurally equal expressions get equal integer keys.

    Variables and buffers compare by identity.  The table keeps every node it has seen
    alive (the memo holds it), so an ``id`` inside a key can never be reused."""

    def __init__(self):
        self.memo: dict[int, tuple[object, int]] = {}
        self.table: dict[tuple, int] = {}

    def __call__(self, e) -> int:
        hit = self.memo.get(id(e))
        if hit is not None:
            return hit[1]
        key = self.table.setdefault(self._signature(e), len(self.table))
        self.memo[id(e)] = (e, key)
        return key

    def lookup(self, signature: tuple) -> int | None:
        """The key of an expression with this signature, if one was ever seen."""
        return self.table.get(signature)

    def _signature(self, e) -> tuple:  # noqa: C901 - one case per node kind
        t = type(e)
        if t is E.IntImm or t is E.FloatImm or t is E.StringImm:
            return (t, e.dtype, e.value)
        if t is E.Var:
            return (t, id(e))
        if isinstance(e, E.BinaryOp):
            return (t, e.dtype, self(e.a), self(e.b))
        if t is E.Cast:
            return (t, e.dtype, self(e.value))
        if t is E.Not:
            return (t, self(e.a))
        if t is E.Select:
            return (t, e.dtype, self(e.condition), self(e.true_value), self(e.false_value))
        if t is E.BufferLoad:
            return (t, id(e.buffer), e.dtype, tuple(self(i) for i in e.indices))
        if t is E.ProducerLoad:
            return (t, id(e.producer), e.dtype, tuple(self(i) for i in e.indices))
        if t is E.Call:
            return (t, e.dtype, e.op, tuple(self(a) for a in e.args))
        if t is E.Ramp:
            return (t, e.dtype, self(e.base), self(e.stride), e.lanes)
        if t is E.Broadcast:
            return (t, e.dtype, self(e.value), e.lanes)
        if t is E.Let:
            return (t, id(e.var), self(e.value), self(e.body))
        # Reduce and anything exotic: only identical objects are equal
        return (t, id(e))


class LinearSum:
    """``const + sum(coef * atom)`` of one integer dtype; terms keep insertion order."""

    __slots__ = ("terms", "const", "dtype")

    def __init__(self, dtype: DataType, const: int = 0):
        self.terms: dict[int, list] = {}  # key -> [atom, coef]
        self.const = const
        self.dtype = dtype

    def add_term(self, key: int, atom, coef: int) -> None:
        if coef == 0:
            return
        slot = self.terms.get(key)
        if slot is None:
            self.terms[key] = [atom, coef]
        else:
            slot[1] += coef
            if slot[1] == 0:
                del self.terms[key]

    def add(self, other: "LinearSum", scale: int = 1) -> "LinearSum":
        for key, (atom, coef) in other.terms.items():
            self.add_term(key, atom, coef * scale)
        self.const += other.const * scale
        return self

    def copy(self) -> "LinearSum":
        out = LinearSum(self.dtype, self.const)
        out.terms = {k: [a, c] for k, (a, c) in self.terms.items()}
        return out

    def scaled(self, scale: int) -> "LinearSum":
        out = LinearSum(self.dtype, self.const * scale)
        if scale:
            out.terms = {k: [a, c * scale] for k, (a, c) in self.terms.items()}
        return out

    def coefficient(self, key: int) -> int:
        slot = self.terms.get(key)
        return 0 if slot is None else slot[1]


def to_sum(e, keys: StructuralKeys) -> LinearSum:
    """The linear form of an integer scalar expression (its atoms are not rewritten)."""
    out = LinearSum(e.dtype)
    _accumulate(out, e, 1, keys)
    return out


def _accumulate(out: LinearSum, e, scale: int, keys: StructuralKeys) -> None:
    t = type(e)
    if t is E.IntImm:
        out.const += e.value * scale
    elif t is E.Add:
        _accumulate(out, e.a, scale, keys)
        _accumulate(out, e.b, scale, keys)
    elif t is E.Sub:
        _accumulate(out, e.a, scale, keys)
        _accumulate(out, e.b, -scale, keys)
    elif t is E.Mul and type(e.b) is E.IntImm:
        _accumulate(out, e.a, scale * e.b.value, keys)
    elif t is E.Mul and type(e.a) is E.IntImm:
        _accumulate(out, e.b, scale * e.a.value, keys)
    else:
        out.add_term(keys(e), e, scale)


def int_const(value: int, dtype: DataType) -> E.IntImm:
    """An IntImm of ``dtype``, wrapped into the type's range like the hardware would."""
    if dtype.is_integer:
        bits = dtype.bits
        value &= (1 << bits) - 1
        if dtype.is_int and value >= 1 << (bits - 1):
            value -= 1 << bits
    return E.IntImm(dtype, value)


def from_sum(s: LinearSum):
    """Rebuild an expression: positive terms first (in order), then the subtracted ones,
    then the constant: ``i*32 + j - k*2 + 1``."""
    dtype = s.dtype
    result = None
    negatives = []
    for atom, coef in s.terms.values():
        if coef > 0:
            term = atom if coef == 1 else E.Mul(atom, int_const(coef, dtype), dtype)
            result = term if result is None else E.Add(result, term, dtype)
        else:
            negatives.append((atom, -coef))
    const = s.const
    if result is None and negatives and const > 0:
        result = int_const(const, dtype)
        const = 0
    for atom, coef in negatives:
        term = atom if coef == 1 else E.Mul(atom, int_const(coef, dtype), dtype)
        result = E.Sub(int_const(0, dtype) if result is None else result, term, dtype)
    if result is None:
        return int_const(const, dtype)
    if const > 0:
        result = E.Add(result, int_const(const, dtype), dtype)
    elif const < 0:
        result = E.Sub(result, int_const(-const, dtype), dtype)
    return result


# Sums rebuilt by from_sum are fixed points of canonicalization: remembering them (by
# identity, process-wide, so that later passes benefit) lets the simplifier skip
# rebuilding an unchanged sum.  Bounded: cleared when full.
_CANONICAL: dict[int, object] = {}
_CANONICAL_LIMIT = 50_000


def mark_canonical(e) -> None:
    if len(_CANONICAL) >= _CANONICAL_LIMIT:
        _CANONICAL.clear()
    _CANONICAL[id(e)] = e


def is_canonical(e) -> bool:
    return _CANONICAL.get(id(e)) is e
