"""Canonical form of integer sums: ``c0 + c1*t1 + c2*t2 + ...`` over distinct atoms.

An integer expression built from ``+``, ``-`` and multiplication by constants is a
:class:`LinearSum`: a map from atoms (any other subexpression: a variable, a product of
variables, a floordiv, a load...) to integer coefficients, plus a constant.  Adding two
sums collects like terms, which is what turns ``i*4 + j - i*4`` into ``j``.  Atoms are
compared by a key function: the simplifier uses :class:`StructuralKeys`, a hash-consing
table that gives structurally equal expressions the same small integer; forms that outlive
one analyzer (the loop ranges of bound inference) use :func:`atom_key`, a self-contained
structural key.  :func:`linear` builds such a form.
"""
from __future__ import annotations

from .. import expr as E
from .. import op as _op
from ..datatype import DataType, int32


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
        key = self.table.setdefault(signature(e, self), len(self.table))
        self.memo[id(e)] = (e, key)
        return key

    def lookup(self, signature: tuple) -> int | None:
        """The key of an expression with this signature, if one was ever seen."""
        return self.table.get(signature)


def signature(e, key) -> tuple:  # noqa: C901 - one case per node kind
    """What makes ``e`` itself: its kind, type and fields, with each child expression
    replaced by ``key(child)``.  Variables, buffers and producers count by identity."""
    t = type(e)
    if t is E.IntImm or t is E.FloatImm or t is E.StringImm:
        return (t, e.dtype, e.value)
    if t is E.Var:
        return (t, id(e))
    if isinstance(e, E.BinaryOp):
        return (t, e.dtype, key(e.a), key(e.b))
    if t is E.Cast:
        return (t, e.dtype, key(e.value))
    if t is E.Not:
        return (t, key(e.a))
    if t is E.Select:
        return (t, e.dtype, key(e.condition), key(e.true_value), key(e.false_value))
    if t is E.BufferLoad:
        return (t, id(e.buffer), e.dtype, tuple(key(i) for i in e.indices))
    if t is E.ProducerLoad:
        return (t, id(e.producer), e.dtype, tuple(key(i) for i in e.indices))
    if t is E.Call:
        return (t, e.dtype, e.op, tuple(key(a) for a in e.args))
    if t is E.Ramp:
        return (t, e.dtype, key(e.base), key(e.stride), e.lanes)
    if t is E.Broadcast:
        return (t, e.dtype, key(e.value), e.lanes)
    if t is E.Let:
        return (t, id(e.var), key(e.value), key(e.body))
    # Reduce and anything exotic: only identical objects are equal
    return (t, id(e))


def atom_key(e):
    """Structural key of an atom that needs no table (a nested :func:`signature`; a
    variable is its own key).  Forms keyed this way hold their atoms, so the identities
    inside a key stay valid while the form lives."""
    if type(e) is E.Var:
        return e
    return signature(e, atom_key)


class LinearSum:
    """``const + sum(coef * atom)`` of one integer dtype; terms keep insertion order.

    ``add_term``/``accumulate`` update a sum in place (the simplifier builds sums that
    way); ``add``, ``sub``, ``scale`` and ``plus`` return new sums and leave their operands
    alone, so forms can be shared (loop ranges)."""

    __slots__ = ("terms", "const", "dtype")

    def __init__(self, dtype: DataType = int32, const: int = 0):
        self.terms: dict = {}  # key -> (atom, coef)
        self.const = const
        self.dtype = dtype

    @staticmethod
    def of_const(value: int, dtype: DataType = int32) -> "LinearSum":
        return LinearSum(dtype, value)

    @staticmethod
    def of_atom(atom) -> "LinearSum":
        """The form ``1 * atom``, keyed by :func:`atom_key`."""
        out = LinearSum(atom.dtype)
        out.terms[atom_key(atom)] = (atom, 1)
        return out

    # -- in place --------------------------------------------------------------------
    def add_term(self, key, atom, coef: int) -> None:
        if coef == 0:
            return
        slot = self.terms.get(key)
        if slot is None:
            self.terms[key] = (atom, coef)
        elif slot[1] + coef:
            self.terms[key] = (slot[0], slot[1] + coef)
        else:
            del self.terms[key]

    def accumulate(self, other: "LinearSum", scale: int = 1) -> "LinearSum":
        """Add ``scale * other`` to this sum; returns it."""
        terms = self.terms
        for key, (atom, coef) in other.terms.items():
            slot = terms.get(key)
            if slot is None:
                if coef * scale:
                    terms[key] = (atom, coef * scale)
            elif slot[1] + coef * scale:
                terms[key] = (slot[0], slot[1] + coef * scale)
            else:
                del terms[key]
        self.const += other.const * scale
        return self

    # -- new sums --------------------------------------------------------------------
    def copy(self) -> "LinearSum":
        out = LinearSum(self.dtype, self.const)
        out.terms = dict(self.terms)
        return out

    def add(self, other: "LinearSum", scale: int = 1) -> "LinearSum":
        """``self + scale * other`` as a new sum."""
        out = LinearSum(self.dtype, self.const)
        out.terms = dict(self.terms)
        return out.accumulate(other, scale)

    def sub(self, other: "LinearSum") -> "LinearSum":
        return self.add(other, -1)

    def scale(self, factor: int) -> "LinearSum":
        out = LinearSum(self.dtype, self.const * factor)
        if factor:
            out.terms = {k: (a, c * factor) for k, (a, c) in self.terms.items()}
        return out

    def plus(self, value: int) -> "LinearSum":
        """``self + value``; the sum itself when ``value`` is 0."""
        if value == 0:
            return self
        out = self.copy()
        out.const += value
        return out

    def split_multiples(self, c: int) -> tuple["LinearSum", "LinearSum"]:
        """``(q, r)`` with ``self == c*q + r``: ``q`` takes the terms whose coefficient
        ``c`` divides (and ``const // c``), ``r`` the others (and ``const % c``)."""
        q, r = LinearSum(self.dtype, self.const // c), LinearSum(self.dtype, self.const % c)
        for key, (atom, coef) in self.terms.items():
            if coef % c == 0:
                q.terms[key] = (atom, coef // c)
            else:
                r.terms[key] = (atom, coef)
        return q, r

    # -- queries ---------------------------------------------------------------------
    def is_const(self) -> bool:
        return not self.terms

    def coefficient(self, key) -> int:
        slot = self.terms.get(key)
        return 0 if slot is None else slot[1]

    def vars(self) -> list:
        """Atoms that are plain variables."""
        return [a for a, _ in self.terms.values() if type(a) is E.Var]

    def to_expr(self, dtype: DataType | None = None) -> E.PrimExpr:
        """The sum as an expression of ``dtype`` (default: its own) built with
        :mod:`tir.op`: positive terms first, then negative, then the constant
        (``x*32 + y - z + 4``).  Atoms narrower than ``dtype`` are widened first, so a
        64-bit form (a loop counting past 2**31) never multiplies in 32 bits."""
        dtype = self.dtype if dtype is None else dtype

        def widened(atom):
            if atom.dtype.bits < dtype.bits and atom.dtype.is_integer and dtype.is_integer:
                return _op.cast(atom, dtype)
            return atom
        result = None
        for atom, c in self.terms.values():
            if c > 0:
                term = widened(atom) if c == 1 else _op.mul(widened(atom), c)
                result = term if result is None else _op.add(result, term)
        for atom, c in self.terms.values():
            if c < 0:
                term = widened(atom) if c == -1 else _op.mul(widened(atom), -c)
                result = _op.neg(term) if result is None else _op.sub(result, term)
        if result is None:
            return _op.const(self.const, dtype)
        if self.const > 0:
            result = _op.add(result, self.const)
        elif self.const < 0:
            result = _op.sub(result, -self.const)
        return result

    def __repr__(self) -> str:
        return f"LinearSum({self.to_expr()})"


def to_sum(e, keys) -> LinearSum:
    """The linear form of an integer scalar expression (its atoms are not rewritten),
    atoms keyed by ``keys`` (a :class:`StructuralKeys` or :func:`atom_key`)."""
    out = LinearSum(e.dtype)
    _accumulate(out, e, 1, keys)
    return out


def linear(e) -> LinearSum:
    """The linear form of an integer expression, atoms keyed by :func:`atom_key`:
    ``linear(i*4 + j - i*4)`` is ``j``.  Non-linear parts become atoms."""
    out = LinearSum(e.dtype)
    _accumulate(out, e, 1, atom_key)
    return out


def _accumulate(out: LinearSum, e, scale: int, keys) -> None:
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
    elif t is E.Cast and e.dtype.is_integer and e.value.dtype.is_integer \
            and e.dtype.bits >= e.value.dtype.bits:
        # a widening cast of a constant is that constant
        inner = to_sum(e.value, keys)
        if inner.terms:
            out.add_term(keys(e), e, scale)
        else:
            out.const += inner.const * scale
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
