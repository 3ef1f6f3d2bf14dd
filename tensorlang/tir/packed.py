"""Calls of registered functions from loop IR: ``tir.call_packed("name", A, B, n)``.

A packed call is the expression ``Call(int32, "tl.call_packed", (StringImm(name),
*args))`` evaluated for its effect; each buffer argument is a :class:`BufferArg` (the
callee gets the whole buffer, with its shape and strides), every other argument a scalar
expression (int, float, bool) or a string constant.  The function is looked up in
:mod:`tensorlang.tir.registry` when the call runs.

Calls of C functions on scalars (``tir.call_extern``, ``tir.call_pure_extern``) are in
:mod:`tensorlang.tir.extern_calls`.
"""
from __future__ import annotations

from ..errors import TensorLangTypeError
from . import expr as E
from .buffer import Buffer
from .datatype import int32
from .functor import Visitor
from .op import convert

#: the operation name of a packed call
CALL_PACKED = "tl.call_packed"


def call_packed(name, *args) -> E.Call:
    """A call of the function registered as ``name`` on ``args``: buffers (passed whole,
    as numpy arrays), numbers, bools and strings.  ``te.extern`` stages are made of them:
    ``lambda ins, outs: tir.call_packed("my.f", ins[0], outs[0])``."""
    if not isinstance(name, str) or not name:
        raise TensorLangTypeError(f"call_packed: the first argument is the name of a "
                                  f"registered function (a string), got {name!r}")
    converted = [E.StringImm(name)]
    for position, arg in enumerate(args, start=1):
        converted.append(_argument(name, position, arg))
    return E.Call(int32, CALL_PACKED, tuple(converted))


def _argument(name: str, position: int, arg):
    if isinstance(arg, Buffer):
        return E.BufferArg(arg)
    if isinstance(arg, E.BufferArg):
        return arg
    if isinstance(arg, str):
        return E.StringImm(arg)
    if hasattr(arg, "op") and hasattr(arg, "value_index"):  # a te.Tensor
        raise TensorLangTypeError(
            f"call_packed('{name}'): argument {position} is the tensor '{arg.name}'; pass "
            f"the buffers te.extern gives its fcompute (ins[k], outs[k]) instead")
    try:
        value = convert(arg)
    except TensorLangTypeError:
        raise TensorLangTypeError(
            f"call_packed('{name}'): argument {position} is {type(arg).__name__} {arg!r}; "
            f"pass buffers, numbers, bools, strings or scalar expressions") from None
    if value.dtype.lanes != 1 or value.dtype.is_handle:
        raise TensorLangTypeError(f"call_packed('{name}'): argument {position} '{value}' "
                                  f"has type {value.dtype}; pass scalars")
    return value


def packed_call(expr) -> tuple[str, tuple] | None:
    """``(name, args)`` of a packed call expression, else None."""
    if isinstance(expr, E.Call) and expr.op == CALL_PACKED and expr.args and \
            isinstance(expr.args[0], E.StringImm):
        return expr.args[0].value, expr.args[1:]
    return None


class _PackedCalls(Visitor):
    def __init__(self):
        self.calls: list[E.Call] = []

    def visit_Call(self, node):
        if packed_call(node) is not None:
            self.calls.append(node)
        self.generic_visit(node)


def find_packed_calls(node) -> list[E.Call]:
    """Every packed call below ``node`` (a statement, an expression or a PrimFunc's
    body), in order."""
    finder = _PackedCalls()
    finder.visit(node)
    return finder.calls


def called_names(node) -> list[str]:
    """The names the packed calls below ``node`` call, in order of first call."""
    return list(dict.fromkeys(packed_call(c)[0] for c in find_packed_calls(node)))


__all__ = ["CALL_PACKED", "call_packed", "packed_call", "find_packed_calls",
           "called_names"]
