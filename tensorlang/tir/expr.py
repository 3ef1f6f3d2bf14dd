"""Expression nodes of the loop IR (TIR).

Every node is an immutable dataclass.  Python operators on expressions build new nodes
through :mod:`tensorlang.tir.op`, which checks and promotes types.  Nodes hash by identity
(``==`` builds an :class:`EQ` node, as in TVM); structural comparison lives in
:mod:`tensorlang.tir.structural`.  ``node.replace(**fields)`` returns ``node`` itself when
nothing changed, so passes can tell cheaply whether they did anything.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..errors import TensorLangTypeError
from .datatype import DataType


class Node:
    """Base of all IR nodes: identity hash, cheap ``replace``."""

    __slots__ = ()
    #: names of fields holding child expressions / statements (tuples allowed)
    _children: tuple[str, ...] = ()

    __hash__ = object.__hash__

    def replace(self, **changes):
        """A copy with ``changes`` applied; ``self`` when every change is the same object."""
        for key, value in changes.items():
            if getattr(self, key) is not value:
                return dataclasses.replace(self, **changes)
        return self

    def __str__(self) -> str:
        from .printer import format_node
        return format_node(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})" if not isinstance(self, ExprOp) else str(self)


class ExprOp:
    """Python operators for anything usable as an expression (PrimExpr, IterVar)."""

    __slots__ = ()

    def _as_expr(self) -> "PrimExpr":
        return self  # type: ignore[return-value]

    def __add__(self, other): return _op.add(self, other)
    def __radd__(self, other): return _op.add(other, self)
    def __sub__(self, other): return _op.sub(self, other)
    def __rsub__(self, other): return _op.sub(other, self)
    def __mul__(self, other): return _op.mul(self, other)
    def __rmul__(self, other): return _op.mul(other, self)
    def __truediv__(self, other): return _op.div(self, other)
    def __rtruediv__(self, other): return _op.div(other, self)
    def __floordiv__(self, other): return _op.floordiv(self, other)
    def __rfloordiv__(self, other): return _op.floordiv(other, self)
    def __mod__(self, other): return _op.floormod(self, other)
    def __rmod__(self, other): return _op.floormod(other, self)
    def __pow__(self, other): return _op.power(self, other)
    def __rpow__(self, other): return _op.power(other, self)
    def __neg__(self): return _op.neg(self)
    def __pos__(self): return self._as_expr()
    def __abs__(self): return _op.abs(self)
    def __lt__(self, other): return _op.lt(self, other)
    def __le__(self, other): return _op.le(self, other)
    def __gt__(self, other): return _op.gt(self, other)
    def __ge__(self, other): return _op.ge(self, other)
    def __eq__(self, other): return _op.eq(self, other)  # type: ignore[override]
    def __ne__(self, other): return _op.ne(self, other)  # type: ignore[override]
    def __and__(self, other): return _op.logical_and(self, other)
    def __rand__(self, other): return _op.logical_and(other, self)
    def __or__(self, other): return _op.logical_or(self, other)
    def __ror__(self, other): return _op.logical_or(other, self)
    def __invert__(self): return _op.logical_not(self)
    __hash__ = object.__hash__

    def astype(self, dtype) -> "PrimExpr":
        """Cast to ``dtype`` (``A[i].astype("float16")``)."""
        return _op.cast(self, dtype)

    def __bool__(self) -> bool:
        raise TensorLangTypeError(
            f"the truth value of the symbolic expression '{self._as_expr()}' is unknown "
            f"until the program runs: use te.if_then_else(cond, a, b) or te.select for a "
            f"conditional value, te.all(...)/te.any(...) to combine conditions, and "
            f"'&', '|', '~' instead of 'and', 'or', 'not'")

    def __index__(self) -> int:
        raise TensorLangTypeError(
            f"the symbolic expression '{self._as_expr()}' is not a Python int; "
            f"use a concrete integer here")

    def __iter__(self):
        raise TensorLangTypeError(f"the expression '{self._as_expr()}' is not iterable")


class PrimExpr(ExprOp, Node):
    """A scalar (or vector) expression with a :class:`DataType` in ``self.dtype``."""

    __slots__ = ()
    dtype: DataType


# ---------------------------------------------------------------------------------------
# leaves
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class IntImm(PrimExpr):
    """Integer or boolean constant (``int(c)`` and ``range(c)`` take its value, so a
    constant shape dimension works wherever Python wants an int)."""
    dtype: DataType
    value: int

    def __index__(self) -> int:
        return self.value

    __int__ = __index__


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class FloatImm(PrimExpr):
    """Floating-point constant."""
    dtype: DataType
    value: float


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class StringImm(PrimExpr):
    """String constant (pragma values, intrinsic names)."""
    value: str
    dtype: DataType = field(default_factory=lambda: DataType("handle", 64))


@dataclass(frozen=True, slots=True, eq=False, repr=False, weakref_slot=True)
class Var(PrimExpr):
    """A scalar variable: loop counter, symbolic shape dimension or scalar argument.

    Two Vars are the same variable only if they are the same object."""
    name: str
    dtype: DataType


# ---------------------------------------------------------------------------------------
# arithmetic
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Cast(PrimExpr):
    dtype: DataType
    value: PrimExpr
    _children = ("value",)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class BinaryOp(PrimExpr):
    a: PrimExpr
    b: PrimExpr
    dtype: DataType
    _children = ("a", "b")


class Add(BinaryOp):
    __slots__ = ()


class Sub(BinaryOp):
    __slots__ = ()


class Mul(BinaryOp):
    __slots__ = ()


class Div(BinaryOp):
    """True division of floats (``/``)."""
    __slots__ = ()


class FloorDiv(BinaryOp):
    """Integer division rounding towards minus infinity (``//``)."""
    __slots__ = ()


class FloorMod(BinaryOp):
    """Integer remainder with the sign of the divisor (``%``)."""
    __slots__ = ()


class Min(BinaryOp):
    __slots__ = ()


class Max(BinaryOp):
    __slots__ = ()


class CmpOp(BinaryOp):
    """Comparison; ``dtype`` is bool (with the operands' lanes)."""
    __slots__ = ()


class EQ(CmpOp):
    __slots__ = ()

    def __bool__(self) -> bool:
        # `x in [a, b]` and `a == b` in plain Python code compare structure, as in TVM.
        from .structural import structural_equal
        return structural_equal(self.a, self.b)


class NE(CmpOp):
    __slots__ = ()

    def __bool__(self) -> bool:
        from .structural import structural_equal
        return not structural_equal(self.a, self.b)


class LT(CmpOp):
    __slots__ = ()


class LE(CmpOp):
    __slots__ = ()


class GT(CmpOp):
    __slots__ = ()


class GE(CmpOp):
    __slots__ = ()


class And(BinaryOp):
    __slots__ = ()


class Or(BinaryOp):
    __slots__ = ()


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Not(PrimExpr):
    a: PrimExpr
    dtype: DataType
    _children = ("a",)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Select(PrimExpr):
    """``true_value if condition else false_value``.

    Only the chosen branch is evaluated (a branch may load out of bounds when not taken,
    as padding does), so code generators must not speculate loads of the other branch."""
    condition: PrimExpr
    true_value: PrimExpr
    false_value: PrimExpr
    dtype: DataType
    _children = ("condition", "true_value", "false_value")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Let(PrimExpr):
    var: Var
    value: PrimExpr
    body: PrimExpr
    dtype: DataType
    _children = ("value", "body")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Call(PrimExpr):
    """Call of an intrinsic by name: ``exp``, ``log``, ``sqrt``, ``tanh``, ``pow``, ...
    (see :data:`tensorlang.tir.op.INTRINSICS`)."""
    dtype: DataType
    op: str
    args: tuple[PrimExpr, ...]
    _children = ("args",)


# ---------------------------------------------------------------------------------------
# vectors
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Ramp(PrimExpr):
    """The vector ``[base, base + stride, ..., base + (lanes-1)*stride]``."""
    base: PrimExpr
    stride: PrimExpr
    lanes: int
    dtype: DataType
    _children = ("base", "stride")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Broadcast(PrimExpr):
    """A scalar repeated over ``lanes`` lanes."""
    value: PrimExpr
    lanes: int
    dtype: DataType
    _children = ("value",)


# ---------------------------------------------------------------------------------------
# memory
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class BufferLoad(PrimExpr):
    """``buffer[indices]``; a Ramp index loads a vector."""
    buffer: "Buffer"
    indices: tuple[PrimExpr, ...]
    dtype: DataType
    _children = ("indices",)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ProducerLoad(PrimExpr):
    """``tensor[indices]`` in a tensor expression, before a schedule assigns buffers."""
    producer: Any  # te.Tensor
    indices: tuple[PrimExpr, ...]
    dtype: DataType
    _children = ("indices",)


# ---------------------------------------------------------------------------------------
# ranges, iteration variables and reductions
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Range(Node):
    """Half-open integer interval ``[min, min + extent)``."""
    min: PrimExpr
    extent: PrimExpr
    _children = ("min", "extent")

    @staticmethod
    def from_min_extent(lo, extent) -> "Range":
        return Range(_op.convert(lo), _op.convert(extent))


#: iteration-variable kinds
DATA_PAR, REDUCE, THREAD, OPAQUE = "data_par", "reduce", "thread", "opaque"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class IterVar(ExprOp, Node):
    """An iteration variable of a computation or a loop: its Var, its domain and its kind.

    Used in expressions it stands for its variable (``A[i, k]`` with ``k`` a reduce axis).
    """
    var: Var
    dom: Range | None
    iter_type: str = DATA_PAR
    thread_tag: str = ""

    def _as_expr(self) -> PrimExpr:
        return self.var

    @property
    def name(self) -> str:
        return self.var.name

    @property
    def dtype(self) -> DataType:
        return self.var.dtype

    def __repr__(self) -> str:
        dom = "" if self.dom is None else f", range({self.dom.min}, {self.dom.min} + {self.dom.extent})"
        return f"IterVar({self.var.name}{dom}, {self.iter_type})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class CommReducer(Node):
    """A commutative reduction: ``result`` combines accumulators ``lhs`` with values
    ``rhs``; ``identity`` is its neutral element.  Tuples allow argmax-style reducers."""
    lhs: tuple[Var, ...]
    rhs: tuple[Var, ...]
    result: tuple[PrimExpr, ...]
    identity: tuple[PrimExpr, ...]
    name: str = "reduce"

    def combine(self, accumulators, values) -> tuple[PrimExpr, ...]:
        """The combined expressions with ``lhs``/``rhs`` replaced by the given ones."""
        from .transform.substitute import substitute
        mapping = {**dict(zip(self.lhs, accumulators)), **dict(zip(self.rhs, values))}
        return tuple(substitute(r, mapping) for r in self.result)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Reduce(PrimExpr):
    """Reduction of ``source`` over ``axis`` with ``combiner`` where ``condition`` holds;
    ``value_index`` picks the output of a tuple reducer."""
    combiner: CommReducer
    source: tuple[PrimExpr, ...]
    axis: tuple[IterVar, ...]
    condition: PrimExpr
    value_index: int
    dtype: DataType
    init: tuple[PrimExpr, ...] = ()
    _children = ("source", "condition", "init")


from . import op as _op  # noqa: E402  (operators need the node classes above)
from .buffer import Buffer  # noqa: E402,F401
