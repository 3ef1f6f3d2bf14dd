"""``tvm.te`` and ``tvm.tir``: tensorlang's ``te`` and ``tir`` under TVM's names.

Each is a module that holds TVM's extra spellings and forwards every other name to
tensorlang's own package, so what tensorlang adds is seen here at once.
"""
from __future__ import annotations

import types

from ... import te as _te
from ... import tir as _tir
from ...schedule import Schedule, Stage, create_schedule
from ...schedule.stage import Fuse, Singleton, Split
from . import intrin


class ForwardingModule(types.ModuleType):
    """A module whose missing attributes come from ``target`` (a tensorlang module);
    ``unsupported`` maps TVM names tensorlang does not have to what to write instead."""

    def __init__(self, name: str, doc: str, target, extras: dict, unsupported: dict):
        super().__init__(name, doc)
        self.__dict__.update(extras)
        self._target = target
        self._unsupported = unsupported

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._unsupported:
            raise NotImplementedError(f"{self.__name__}.{name}: {self._unsupported[name]}")
        try:
            return getattr(self._target, name)
        except AttributeError:
            raise AttributeError(f"{self.__name__} has no '{name}' in tensorlang (its "
                                 f"tensorlang counterpart is {self._target.__name__})") \
                from None

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(dir(self._target)))


class _ExprClass(type):
    """``isinstance(x, tvm.tir.Select)`` tests for tensorlang's node class."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls.node)


class Select(metaclass=_ExprClass):
    """``tvm.tir.Select(cond, a, b)``: both sides evaluated, one picked (its type from
    the operands, which tensorlang's node takes explicitly)."""
    node = _tir.Select

    def __new__(cls, condition, true_value, false_value):
        return _tir.select(condition, true_value, false_value)


def size_var(name: str = "n", dtype="int32"):
    """TVM's non-negative shape variable: tensorlang's shape variables are ``te.var``s."""
    return _te.var(name, dtype)


def decl_buffer(shape, dtype=None, name: str = "buffer", data=None, strides=None,
                elem_offset=None, scope: str = "", data_alignment: int = -1,
                offset_factor: int = 0, buffer_type: str = "", axis_separators=None):
    """TVM's ``tir.decl_buffer`` (the buffers ``te.extern`` passes its fcompute): shape,
    dtype, name, scope and strides (variables, or the compact strides: tensorlang's
    buffers are compact); the alignment and offset factors and an ``elem_offset``
    variable are accepted (tensorlang's buffers start at their data, offset 0, aligned to
    their element); data and buffer types are refused, naming the argument."""
    given = {"data": data, "buffer_type": buffer_type, "axis_separators": axis_separators}
    refused = sorted(key for key, value in given.items()
                     if value is not None and not (isinstance(value, str) and not value))
    if elem_offset is not None and not isinstance(elem_offset, _tir.Var) and \
            not (isinstance(elem_offset, int) and elem_offset == 0):
        refused.append("elem_offset")
    if refused:
        raise NotImplementedError(
            f"tvm.tir.decl_buffer({', '.join(refused)}=...): tensorlang's buffers are "
            f"compact, start at their data (element offset 0) and a called function "
            f"receives each as a numpy array with its own strides; declare the buffer by "
            f"shape, dtype, name and, if needed, strides")
    return _tir.decl_buffer(shape, dtype or "float32", name, scope or "global",
                            strides=strides)


TE_UNSUPPORTED = {
    "hybrid": "hybrid script is not part of tensorlang; write the loop nest with te.compute "
              "(or te.scan for a recurrence)",
    "create_prim_func": "TensorIR is not part of tensorlang; schedule the te.compute with "
                        "te.create_schedule and print tvm.lower(s, args)",
    "gradient": "automatic differentiation of tensor expressions is not built; write the "
                "gradient as its own te.compute",
    "decl_tensor_intrin": "tensor intrinsics (decl_tensor_intrin / tensorize) are not built "
                          "yet; write the inner loop nest with te.compute and vectorize or "
                          "unroll it, or call a function with tir.call_pure_extern",
}

TIR_UNSUPPORTED = {
    "ir_builder": "tensorlang has no IR builder; write the computation with te.compute",
    "stmt_functor": "walk tensorlang IR with tensorlang.tir.Visitor / Mutator",
}


def infer_bound(sch) -> dict:
    """TVM's ``tvm.te.schedule.InferBound(s)``: the range of every loop and axis of the
    schedule (``bounds[xo].extent``), from tensorlang's bound inference."""
    from ...schedule.bound import infer_bounds, inline_bodies
    bounds = infer_bounds(sch, inline_bodies(sch))
    return {iv: _tir.Range(low.to_expr(iv.var.dtype), extent.to_expr(iv.var.dtype))
            for iv, (low, extent) in bounds.ranges.items()}


def make_te() -> ForwardingModule:
    schedule = types.ModuleType("tvm.te.schedule", "tvm.te.schedule: the schedule classes")
    schedule.Schedule, schedule.Stage, schedule.Split, schedule.Fuse = \
        Schedule, Stage, Split, Fuse
    schedule.Singleton = Singleton
    schedule.create_schedule = create_schedule
    schedule.InferBound = infer_bound
    tensor = types.ModuleType("tvm.te.tensor", "tvm.te.tensor: the tensor class")
    tensor.Tensor = _te.Tensor
    return ForwardingModule("tvm.te", "TVM's tvm.te over tensorlang.te", _te,
                            {"create_schedule": create_schedule, "Schedule": Schedule,
                             "Stage": Stage, "size_var": size_var, "schedule": schedule,
                             "tensor": tensor},
                            TE_UNSUPPORTED)


def truncdiv(a, b):
    """C's integer division (towards zero): TVM's ``tir.truncdiv``."""
    a, b = _tir.convert(a), _tir.convert(b)
    floor = _te.floordiv(a, b)
    inexact = _te.floormod(a, b) != 0
    return _te.if_then_else(inexact & ((a < 0) != (b < 0)), floor + 1, floor)


def truncmod(a, b):
    """The remainder of :func:`truncdiv` (the sign of ``a``): TVM's ``tir.truncmod``."""
    return _tir.convert(a) - truncdiv(a, b) * b


def make_tir() -> ForwardingModule:
    extras = {name: getattr(_te, name) for name in
              ("floordiv", "floormod", "exp", "exp2", "log", "log2", "log10", "sqrt",
               "rsqrt", "tanh", "sigmoid", "erf", "fabs", "floor", "ceil", "round", "trunc",
               "power", "sin", "cos", "all", "any", "if_then_else", "likely", "min_value",
               "max_value", "abs")}
    # tvm.tir.max / min / sum are te's reducers (two operands: element-wise)
    extras.update(indexdiv=_te.floordiv, indexmod=_te.floormod, max=_te.max, min=_te.min,
                  sum=_te.sum, comm_reducer=_te.comm_reducer, Select=Select,
                  decl_buffer=decl_buffer, call_intrin=intrin.call_intrin,
                  truncdiv=truncdiv, truncmod=truncmod,
                  CallEffectKind=intrin.CallEffectKind)
    return ForwardingModule("tvm.tir", "TVM's tvm.tir over tensorlang.tir", _tir, extras,
                            TIR_UNSUPPORTED)
