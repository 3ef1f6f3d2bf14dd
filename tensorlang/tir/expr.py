"""Expression nodes of the loop IR (TIR).

Every node is an immutable dataclass.  Python operators on expressions build new nodes
through :mod:`tensorlang.tir.operators` and :mod:`tensorlang.tir.bitwise` (which hold the
arithmetic and bitwise nodes, re-exported here), checking and promoting types.  Nodes hash by identity (``==`` builds an
:class:`EQ` node, as in TVM); structural comparison lives in
:mod:`tensorlang.tir.structural`.  ``node.replace(**fields)`` returns ``node`` itself when
nothing changed, so passes can tell cheaply whether they did anything.  ``str(node)`` is
the printer's text: :mod:`tensorlang.tir.printer` installs it when imported (by
``tensorlang.tir``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .datatype import DataType
from .node import Node
from .operators import (
    Add, And, Broadcast, BinaryOp, Call, Cast, CmpOp, Div, EQ, ExprOp, FloatImm, FloorDiv,
    FloorMod, GE, GT, IntImm, LE, LT, Max, Min, Mul, NE, Not, Or, PrimExpr, Select, Sub,
    convert)
from .bitwise import BitwiseAnd, BitwiseOp, BitwiseOr, BitwiseXor, ShiftLeft, ShiftRight


# ---------------------------------------------------------------------------------------
# leaves (constants and casts are in operators.py)
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
    _variable = True


# ---------------------------------------------------------------------------------------
# bindings
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Let(PrimExpr):
    var: Var
    value: PrimExpr
    body: PrimExpr
    dtype: DataType
    _children = ("value", "body")
    _binds, _scope = ("var",), ("body",)


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


# ---------------------------------------------------------------------------------------
# memory
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class BufferLoad(PrimExpr):
    """``buffer[indices]``; a Ramp index loads a vector."""
    buffer: Any  # tensorlang.tir.buffer.Buffer
    indices: tuple[PrimExpr, ...]
    dtype: DataType
    _children = ("indices",)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class BufferArg(PrimExpr):
    """A whole buffer as an argument of a called function (``tir.call_packed("f", A,
    B)``): the callee receives its data with its shape and strides.  ``access`` says
    what the callee does with it: ``"r"`` reads, ``"w"`` writes, ``"rw"`` may do both."""
    buffer: Any  # tensorlang.tir.buffer.Buffer
    access: str = "rw"
    dtype: DataType = field(default_factory=lambda: DataType("handle", 64))

    @property
    def writes(self) -> bool:
        return "w" in self.access


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
        return Range(convert(lo), convert(extent))


#: iteration-variable kinds (ORDERED: a scan's time axis, whose steps run in order)
DATA_PAR, REDUCE, THREAD, OPAQUE = "data_par", "reduce", "thread", "opaque"
ORDERED = "ordered"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class IterVar(ExprOp, Node):
    """An iteration variable of a computation or a loop: its Var, its domain and its kind.

    Used in expressions it stands for its variable (``A[i, k]`` with ``k`` a reduce axis).
    """
    var: Var
    dom: Range | None
    iter_type: str = DATA_PAR
    thread_tag: str = ""
    #: defines its variable for the enclosing node (a Reduce, over its source)
    _binds = ("var",)

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
    _binds, _scope = ("lhs", "rhs"), ("result", "identity")


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
    _binds, _scope = ("axis",), ("source", "condition", "init")


__all__ = ["Node", "ExprOp", "PrimExpr", "IntImm", "FloatImm", "StringImm", "Var", "Cast",
           "BinaryOp", "Add", "Sub", "Mul", "Div", "FloorDiv", "FloorMod", "Min", "Max",
           "CmpOp", "EQ", "NE", "LT", "LE", "GT", "GE", "And", "Or", "Not", "Select", "Let",
           "BitwiseOp", "ShiftRight", "ShiftLeft", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
           "Call", "Ramp", "Broadcast", "BufferLoad", "BufferArg", "ProducerLoad", "Range",
           "IterVar", "CommReducer", "Reduce", "DATA_PAR", "REDUCE", "THREAD", "OPAQUE",
           "ORDERED"]
