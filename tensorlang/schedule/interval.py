"""Integer arithmetic for schedules: linear forms, symbolic intervals, index simplification.

Bound inference needs the range an index takes while some loops run and others stay put:
``xo*32 + xi`` with ``xi`` over ``[0, 31]`` covers ``[xo*32, xo*32 + 31]``, whose extent
must come out as the constant 32.  A :class:`Linear` form (a constant plus integer
multiples of atoms, an atom being a variable or a non-linear subexpression) makes such
differences cancel exactly.  An interval is a pair ``(lo, hi)`` of Linear forms, inclusive,
where ``None`` stands for an unknown bound.
"""
from __future__ import annotations

from ..tir import expr as E
from ..tir import op as O
from ..tir.datatype import int32


def _key(e):
    """Structural key of an atom: variables by identity, everything else by shape."""
    if type(e) is E.Var:
        return e
    if type(e) is E.IntImm:
        return ("c", e.value, e.dtype)
    parts = [type(e).__name__, getattr(e, "dtype", None)]
    for name in e._children:
        child = getattr(e, name)
        if isinstance(child, tuple):
            parts.append(tuple(_key(c) for c in child))
        elif child is None:
            parts.append(None)
        else:
            parts.append(_key(child))
    for name in ("op", "buffer", "producer", "value_index"):
        if hasattr(e, name):
            parts.append(id(getattr(e, name)) if name in ("buffer", "producer")
                         else getattr(e, name))
    return tuple(parts)


class Linear:
    """``const + sum(coeff * atom)``; immutable by convention."""

    __slots__ = ("terms", "const")

    def __init__(self, terms: dict | None = None, const: int = 0):
        # terms: key -> (atom expression, nonzero coefficient)
        self.terms = terms if terms is not None else {}
        self.const = const

    @staticmethod
    def of_const(value: int) -> "Linear":
        return Linear({}, value)

    @staticmethod
    def of_atom(atom) -> "Linear":
        return Linear({_key(atom): (atom, 1)}, 0)

    def is_const(self) -> bool:
        return not self.terms

    def add(self, other: "Linear", scale: int = 1) -> "Linear":
        terms = dict(self.terms)
        for k, (atom, c) in other.terms.items():
            old = terms.get(k)
            total = (old[1] if old else 0) + c * scale
            if total:
                terms[k] = (atom, total)
            elif old:
                del terms[k]
        return Linear(terms, self.const + other.const * scale)

    def sub(self, other: "Linear") -> "Linear":
        return self.add(other, -1)

    def scale(self, factor: int) -> "Linear":
        if factor == 0:
            return Linear({}, 0)
        if factor == 1:
            return self
        return Linear({k: (a, c * factor) for k, (a, c) in self.terms.items()},
                      self.const * factor)

    def plus(self, value: int) -> "Linear":
        return self if value == 0 else Linear(self.terms, self.const + value)

    def vars(self):
        """Atoms that are plain variables."""
        return [a for a, _ in self.terms.values() if type(a) is E.Var]

    def to_expr(self, dtype=int32) -> E.PrimExpr:
        """The form as an expression: positive terms first, then negative, then the
        constant (``x*32 + y - z + 4``).  Atoms narrower than ``dtype`` are widened
        first, so that a 64-bit form (a loop counting past 2**31) never multiplies in
        32 bits."""
        def widened(atom):
            if atom.dtype.bits < dtype.bits and atom.dtype.is_integer and dtype.is_integer:
                return O.cast(atom, dtype)
            return atom
        result = None
        for atom, c in self.terms.values():
            if c > 0:
                term = widened(atom) if c == 1 else O.mul(widened(atom), c)
                result = term if result is None else O.add(result, term)
        for atom, c in self.terms.values():
            if c < 0:
                term = widened(atom) if c == -1 else O.mul(widened(atom), -c)
                result = O.neg(term) if result is None else O.sub(result, term)
        if result is None:
            return O.const(self.const, dtype)
        if self.const > 0:
            result = O.add(result, self.const)
        elif self.const < 0:
            result = O.sub(result, -self.const)
        return result

    def __repr__(self) -> str:
        return f"Linear({self.to_expr()})"


def linear(e) -> Linear:
    """The linear form of an integer expression (non-linear parts become atoms)."""
    t = type(e)
    if t is E.IntImm:
        return Linear({}, e.value)
    if t is E.Var:
        return Linear({e: (e, 1)}, 0)
    if t is E.Add:
        return linear(e.a).add(linear(e.b))
    if t is E.Sub:
        return linear(e.a).add(linear(e.b), -1)
    if t is E.Mul:
        if type(e.b) is E.IntImm:
            return linear(e.a).scale(e.b.value)
        if type(e.a) is E.IntImm:
            return linear(e.b).scale(e.a.value)
    if t is E.Cast and e.dtype.is_integer and e.value.dtype.is_integer \
            and e.dtype.bits >= e.value.dtype.bits:
        inner = linear(e.value)
        # widening casts are transparent for the arithmetic done here
        if inner.is_const():
            return inner
    return Linear({_key(e): (e, 1)}, 0)


def canonical(e) -> E.PrimExpr:
    """``e`` rewritten as a canonical linear sum (``(a + 3) - a`` becomes ``3``)."""
    if not e.dtype.is_integer or e.dtype.lanes != 1:
        return e
    return linear(e).to_expr(e.dtype)


# ---------------------------------------------------------------------------------------
# intervals
def point(lin: Linear):
    return (lin, lin)


def lin_min(a: Linear | None, b: Linear | None, unknown_is_low: bool):
    """Minimum of two bounds; ``None`` is -inf when ``unknown_is_low`` else +inf."""
    if a is None:
        return None if unknown_is_low else b
    if b is None:
        return None if unknown_is_low else a
    d = a.sub(b)
    if d.is_const():
        return a if d.const <= 0 else b
    return Linear.of_atom(O.minimum(a.to_expr(), b.to_expr()))


def lin_max(a: Linear | None, b: Linear | None, unknown_is_high: bool):
    """Maximum of two bounds; ``None`` is +inf when ``unknown_is_high`` else -inf."""
    if a is None:
        return None if unknown_is_high else b
    if b is None:
        return None if unknown_is_high else a
    d = a.sub(b)
    if d.is_const():
        return a if d.const >= 0 else b
    return Linear.of_atom(O.maximum(a.to_expr(), b.to_expr()))


def union(x, y):
    """Smallest interval holding both."""
    return (lin_min(x[0], y[0], True), lin_max(x[1], y[1], True))


def _scale(iv, c: int):
    lo, hi = iv
    if c >= 0:
        return (None if lo is None else lo.scale(c), None if hi is None else hi.scale(c))
    return (None if hi is None else hi.scale(c), None if lo is None else lo.scale(c))


def _add(x, y, sign: int = 1):
    if sign > 0:
        lo = None if x[0] is None or y[0] is None else x[0].add(y[0])
        hi = None if x[1] is None or y[1] is None else x[1].add(y[1])
    else:
        lo = None if x[0] is None or y[1] is None else x[0].add(y[1], -1)
        hi = None if x[1] is None or y[0] is None else x[1].add(y[0], -1)
    return (lo, hi)


def _is_point(iv) -> bool:
    if iv[0] is None or iv[1] is None:
        return False
    d = iv[1].sub(iv[0])
    return d.is_const() and d.const == 0


def _mentions(e, dom) -> bool:
    """Whether expression ``e`` uses a variable of ``dom``."""
    if type(e) is E.Var:
        return e in dom
    for name in e._children:
        child = getattr(e, name)
        if isinstance(child, tuple):
            if any(isinstance(c, E.PrimExpr) and _mentions(c, dom) for c in child):
                return True
        elif isinstance(child, E.PrimExpr) and _mentions(child, dom):
            return True
    return False


def _lin_interval(lin: Linear, dom):
    """Interval of a linear form whose atoms range over ``dom``."""
    lo = hi = Linear({}, lin.const)
    for key, (atom, c) in lin.terms.items():
        if type(atom) is E.Var:
            r = dom.get(atom)
        elif _mentions(atom, dom):
            r = _atom_interval(atom, dom)
        else:
            r = None
        if r is None:
            term = Linear({key: (atom, c)}, 0)
            lo = None if lo is None else lo.add(term)
            hi = None if hi is None else hi.add(term)
            continue
        s = _scale(r, c)
        lo = None if lo is None or s[0] is None else lo.add(s[0])
        hi = None if hi is None or s[1] is None else hi.add(s[1])
    return (lo, hi)


def _div_split(lin: Linear, c: int):
    """``lin = c*quotient + rest`` with every quotient coefficient an integer."""
    q_terms, r_terms = {}, {}
    for key, (atom, coeff) in lin.terms.items():
        if coeff % c == 0:
            q_terms[key] = (atom, coeff // c)
        else:
            r_terms[key] = (atom, coeff)
    return Linear(q_terms, lin.const // c), Linear(r_terms, lin.const % c)


def _atom_interval(e, dom):  # noqa: C901 - one case per node kind
    t = type(e)
    if t is E.FloorDiv or t is E.FloorMod:
        if type(e.b) is E.IntImm and e.b.value > 0:
            c = e.b.value
            q, r = _div_split(linear(e.a), c)
            rlo, rhi = _lin_interval(r, dom)
            if rlo is not None and rhi is not None and rlo.is_const() and rhi.is_const() \
                    and rlo.const // c == rhi.const // c:
                shift = rlo.const // c
                if t is E.FloorDiv:
                    return _lin_interval(q.plus(shift), dom)
                return (Linear({}, rlo.const - shift * c), Linear({}, rhi.const - shift * c))
            lo, hi = _lin_interval(linear(e.a), dom)
            if t is E.FloorMod:
                if lo is not None and hi is not None and lo.is_const() and hi.is_const() \
                        and lo.const // c == hi.const // c:
                    return (Linear({}, lo.const % c), Linear({}, hi.const % c))
                return (Linear({}, 0), Linear({}, c - 1))
            return (_floordiv_bound(lo, c), _floordiv_bound(hi, c))
        a = _expr_interval(e.a, dom)
        b = _expr_interval(e.b, dom)
        if _is_point(a) and _is_point(b):
            fn = O.floordiv if t is E.FloorDiv else O.floormod
            return point(linear(fn(a[0].to_expr(e.dtype), b[0].to_expr(e.dtype))))
        return (None, None)
    if t is E.Min or t is E.Max:
        a = _expr_interval(e.a, dom)
        b = _expr_interval(e.b, dom)
        if t is E.Min:
            return (lin_min(a[0], b[0], True), lin_min(a[1], b[1], False))
        return (lin_max(a[0], b[0], False), lin_max(a[1], b[1], True))
    if t is E.Mul:
        a = _expr_interval(e.a, dom)
        b = _expr_interval(e.b, dom)
        if all(x is not None and x.is_const() for x in a + b):
            prods = [x.const * y.const for x in a for y in b]
            return (Linear({}, min(prods)), Linear({}, max(prods)))
        if _is_point(a) and _is_point(b):
            return point(linear(O.mul(a[0].to_expr(e.dtype), b[0].to_expr(e.dtype))))
        return (None, None)
    if t is E.Select:
        return union(_expr_interval(e.true_value, dom), _expr_interval(e.false_value, dom))
    if t is E.Cast:
        if e.dtype.is_integer and e.value.dtype.is_integer:
            return _expr_interval(e.value, dom)
        return (None, None)
    return (None, None)


def _floordiv_bound(b: Linear | None, c: int):
    if b is None:
        return None
    if b.is_const():
        return Linear({}, b.const // c)
    q, r = _div_split(b, c)
    if not r.terms:
        return q
    return Linear.of_atom(O.floordiv(b.to_expr(), c))


def _expr_interval(e, dom):
    if not e.dtype.is_integer:
        return (None, None)
    return _lin_interval(linear(e), dom)


def eval_interval(e, dom):
    """Interval ``(lo, hi)`` of Linear bounds of the integer expression ``e`` when each
    variable in ``dom`` ranges over its interval ``dom[var] = (lo, hi)``; other variables
    stay symbolic.  A bound is ``None`` when unknown."""
    return _expr_interval(e, dom)


def relax(iv, dom, rounds: int = 8):
    """Widen an interval until none of its bounds mentions a variable of ``dom`` (whose
    own bounds may mention other variables of ``dom``)."""
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


def _lin_mentions(lin: Linear, dom) -> bool:
    return any(_mentions(atom, dom) for atom, _ in lin.terms.values())


def upper_bound(lin: Linear, dom) -> int | None:
    """A constant upper bound of ``lin`` over ``dom``, or None."""
    lin, extra = _pair_floordivs(lin)
    hi = relax((lin, lin), dom)[1]
    return hi.const + extra if hi is not None and hi.is_const() else None


def _pair_floordivs(lin: Linear):
    """Bound ``a // c - b // c`` by ``ceil((a - b) / c)`` when ``a - b`` is a constant:
    returns the form without such pairs and the sum of their bounds."""
    plus = [(k, a) for k, (a, c) in lin.terms.items()
            if c == 1 and type(a) is E.FloorDiv and type(a.b) is E.IntImm and a.b.value > 0]
    minus = [(k, a) for k, (a, c) in lin.terms.items()
             if c == -1 and type(a) is E.FloorDiv and type(a.b) is E.IntImm and a.b.value > 0]
    if not plus or not minus:
        return lin, 0
    terms = dict(lin.terms)
    extra = 0
    for kp, a in plus:
        for km, b in minus:
            if km not in terms or a.b.value != b.b.value:
                continue
            d = linear(a.a).sub(linear(b.a))
            if d.is_const() and d.const >= 0:
                c = a.b.value
                extra += -(-d.const // c)
                del terms[kp], terms[km]
                break
    return Linear(terms, lin.const), extra


def lower_bound(lin: Linear, dom) -> int | None:
    """A constant lower bound of ``lin`` over ``dom``, or None."""
    lo = relax((lin, lin), dom)[0]
    return lo.const if lo is not None and lo.is_const() else None


def prove_less(a: Linear, b: Linear, dom) -> bool:
    """Whether ``a < b`` for every value of the variables in ``dom``."""
    bound = upper_bound(a.sub(b), dom)
    return bound is not None and bound < 0


def prove_at_least(a: Linear, b: Linear, dom) -> bool:
    """Whether ``a >= b`` for every value of the variables in ``dom``."""
    bound = lower_bound(a.sub(b), dom)
    return bound is not None and bound >= 0


# ---------------------------------------------------------------------------------------
# index simplification
def simplify_index(e, dom):
    """Rewrite an integer index with loop ranges ``dom`` known: canonical sums, and
    ``(x*32 + y) // 32 -> x``, ``(x*32 + y) % 32 -> y`` where ``0 <= y < 32``."""
    if not e.dtype.is_integer or e.dtype.lanes != 1:
        return e
    return _simplify_lin(linear(e), dom).to_expr(e.dtype)


def _simplify_lin(lin: Linear, dom) -> Linear:
    result = Linear({}, lin.const)
    changed = False
    for key, (atom, c) in lin.terms.items():
        t = type(atom)
        if t is E.FloorDiv or t is E.FloorMod:
            new = _simplify_divmod(atom, dom)
            if new is not None:
                result = result.add(new, c)
                changed = True
                continue
        result = result.add(Linear({key: (atom, c)}, 0))
    return result if changed else lin


def _simplify_divmod(e, dom) -> Linear | None:
    if type(e.b) is not E.IntImm or e.b.value <= 0:
        return None
    c = e.b.value
    inner = _simplify_lin(linear(e.a), dom)
    q, r = _div_split(inner, c)
    rlo, rhi = relax(_lin_interval(r, dom), dom)
    if rlo is not None and rhi is not None and rlo.is_const() and rhi.is_const() \
            and rlo.const // c == rhi.const // c:
        shift = rlo.const // c
        if type(e) is E.FloorDiv:
            return q.plus(shift)
        return r.plus(-shift * c)
    if type(e) is E.FloorMod and q.terms:
        # multiples of c vanish under % c
        rest = r.to_expr(e.a.dtype)
        return Linear.of_atom(O.floormod(rest, c))
    if inner is not linear(e.a):
        expr = inner.to_expr(e.a.dtype)
        return Linear.of_atom(O.floordiv(expr, c) if type(e) is E.FloorDiv
                              else O.floormod(expr, c))
    return None
