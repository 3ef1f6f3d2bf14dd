"""Calls of C functions by symbol from loop IR: ``tir.call_pure_extern("float32", "expf", x)``.

An extern call is the expression ``Call(dtype, "tl.call_pure_extern" | "tl.call_extern",
(StringImm(symbol), *args))``: the C function ``symbol`` applied to scalar arguments,
returning one scalar of ``dtype``; the argument types make the C signature (a Python
number takes the type of the first typed argument of its kind, else the result's).  Each
backend calls the symbol itself:

- llvm: a call of the C function, resolved in this process when the module is compiled
  (libm and every library loaded with ``ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)`` are
  there); a symbol that is not found is a ``BuildError`` at build time;
- cuda: a call of the device function of that name (``__expf``, ``expf``, ``powf``...);
- the interpreter, the CUDA emulator and the numpy reference: :func:`host_function`, the
  same C function called through ctypes (CUDA's fast device functions such as
  ``__expf`` are evaluated with their host counterparts, ``expf``).

``call_pure_extern`` promises that the function has no side effects (the call may be
repeated or dropped); ``call_extern`` makes no such promise, and vectorization keeps
each call per lane, in order.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

import numpy as np

from ..errors import TensorLangTypeError, TensorLangValueError
from . import expr as E
from .buffer import Buffer
from .datatype import DataType
from .datatype import dtype as to_dtype
from .op import const, convert

#: operation names of the two kinds of call
CALL_EXTERN = "tl.call_extern"
CALL_PURE_EXTERN = "tl.call_pure_extern"
EXTERN_CALLS = (CALL_EXTERN, CALL_PURE_EXTERN)

# CUDA's intrinsic device functions (fast, approximate) and their host counterparts
_DEVICE_TO_HOST = {"__expf": "expf", "__exp10f": "exp10f", "__logf": "logf",
                   "__log2f": "log2f", "__log10f": "log10f", "__sinf": "sinf",
                   "__cosf": "cosf", "__tanf": "tanf", "__powf": "powf"}


def _make(op_name: str, what: str, dtype, func_name, args) -> E.Call:
    if not isinstance(func_name, str) or not func_name.isidentifier():
        raise TensorLangTypeError(f"{what}: the function name must be a C identifier "
                                  f"(a string), got {func_name!r}")
    result = to_dtype(dtype)
    if result.lanes != 1 or result.is_handle or result.kind == "bfloat":
        raise TensorLangTypeError(f"{what}('{func_name}'): the result type {result} is not "
                                  f"a C scalar type (use int*, uint*, float16/32/64 or bool)")
    converted = [E.StringImm(func_name)]
    typed = [a.dtype for a in args if isinstance(a, E.PrimExpr)] + [result]
    for position, arg in enumerate(args, start=1):
        if isinstance(arg, (int, float)) and not isinstance(arg, bool):
            # a Python number takes the type of the call's first typed argument (else
            # the result's) of its kind: the C signature follows the argument types
            kind = "float" if isinstance(arg, float) else "int"
            like = [t for t in typed if (t.is_float if kind == "float" else t.is_integer)]
            if like:
                arg = const(arg, like[0])
        if isinstance(arg, (Buffer, E.BufferArg)):
            raise TensorLangTypeError(
                f"{what}('{func_name}'): argument {position} is a buffer; C functions "
                f"called by symbol take scalars. Pass whole buffers to a Python function "
                f"registered with tl.register_func, called by tir.call_packed(name, ...) "
                f"(it may call a C library through ctypes)")
        if hasattr(arg, "op") and hasattr(arg, "value_index"):
            raise TensorLangTypeError(
                f"{what}('{func_name}'): argument {position} is the tensor '{arg.name}'; "
                f"pass scalar values ('{arg.name}[i]'), or call a registered function on "
                f"whole buffers with te.extern and tir.call_packed")
        try:
            value = convert(arg)
        except TensorLangTypeError:
            raise TensorLangTypeError(
                f"{what}('{func_name}'): argument {position} is {type(arg).__name__} "
                f"{arg!r}; pass numbers or scalar expressions") from None
        if value.dtype.lanes != 1 or value.dtype.is_handle or isinstance(value, E.StringImm):
            raise TensorLangTypeError(f"{what}('{func_name}'): argument {position} "
                                      f"'{value}' has type {value.dtype}; pass scalars")
        converted.append(value)
    return E.Call(result, op_name, tuple(converted))


def call_pure_extern(dtype, func_name: str, *args) -> E.Call:
    """The C function ``func_name`` (no side effects) on scalar ``args``, returning one
    ``dtype`` value: ``tir.call_pure_extern("float32", "expf", A[i])``."""
    return _make(CALL_PURE_EXTERN, "call_pure_extern", dtype, func_name, args)


def call_extern(dtype, func_name: str, *args) -> E.Call:
    """The C function ``func_name`` on scalar ``args``, returning one ``dtype`` value;
    calls are kept in order, one per element."""
    return _make(CALL_EXTERN, "call_extern", dtype, func_name, args)


def extern_call(expr) -> tuple[str, tuple] | None:
    """``(symbol, args)`` of an extern call expression, else None."""
    if isinstance(expr, E.Call) and expr.op in EXTERN_CALLS and expr.args and \
            isinstance(expr.args[0], E.StringImm):
        return expr.args[0].value, expr.args[1:]
    return None


# -- calling the symbol from Python ---------------------------------------------------
def _ctype(dtype: DataType):
    if dtype.is_bool:
        return ctypes.c_bool
    if dtype.is_float:
        if dtype.bits == 32:
            return ctypes.c_float
        if dtype.bits == 64:
            return ctypes.c_double
    if dtype.is_integer:
        signed = dtype.kind == "int"
        return {8: (ctypes.c_uint8, ctypes.c_int8), 16: (ctypes.c_uint16, ctypes.c_int16),
                32: (ctypes.c_uint32, ctypes.c_int32),
                64: (ctypes.c_uint64, ctypes.c_int64)}[dtype.bits][signed]
    raise TensorLangTypeError(f"extern calls from Python take int, uint, float32, float64 "
                              f"or bool values, not {dtype}")


@functools.lru_cache(maxsize=None)
def _libraries():
    found = [ctypes.CDLL(None)]
    libm = ctypes.util.find_library("m")
    if libm:
        found.append(ctypes.CDLL(libm))
    return found


def find_symbol(name: str):
    """The ctypes function ``name`` in this process (libm included), or None."""
    for library in _libraries():
        try:
            return getattr(library, name)
        except AttributeError:
            continue
    return None


@functools.lru_cache(maxsize=256)
def host_function(name: str, result: DataType, arguments: tuple):
    """A function of numpy arrays (broadcast together) calling the C function ``name``
    element by element: ``result name(arguments...)``.  CUDA's fast device functions
    (``__expf``...) call their host counterparts."""
    symbol = _DEVICE_TO_HOST.get(name, name)
    function = find_symbol(symbol)
    if function is None:
        raise TensorLangValueError(
            f"extern call '{name}': no C function '{symbol}' is loaded in this process; "
            f"load its library first with ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)")
    function = ctypes.CFUNCTYPE(_ctype(result), *(_ctype(a) for a in arguments))(
        ctypes.cast(function, ctypes.c_void_p).value)
    out_type = np.dtype("float32") if result.kind == "bfloat" else result.numpy_dtype
    converters = [float if a.is_float else (bool if a.is_bool else int) for a in arguments]

    def call(*values):
        values = np.broadcast_arrays(*[np.asarray(v) for v in values]) if values else []
        shape = values[0].shape if values else ()
        out = np.empty(shape, dtype=out_type)
        flat = [v.reshape(-1) for v in values]
        target = out.reshape(-1)
        for k in range(target.size):
            target[k] = function(*(c(v[k].item()) for c, v in zip(converters, flat)))
        return out[()] if out.ndim == 0 else out
    return call


__all__ = ["CALL_EXTERN", "CALL_PURE_EXTERN", "EXTERN_CALLS", "call_extern",
           "call_pure_extern", "extern_call", "find_symbol", "host_function"]
