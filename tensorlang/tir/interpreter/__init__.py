"""Reference executor of loop IR: runs any PrimFunc on numpy arrays.

The function is translated once into Python source (nested ``for`` loops over ``range``,
numpy element accesses, locals for variables; see :mod:`.codegen`) and executed with
``exec``; the compiled code is cached per PrimFunc object.  Semantics follow the compiled
backends exactly: integers wrap like their type, ``//`` and ``%`` round towards minus
infinity, float16 / float32 results are rounded to their type after every operation,
bfloat16 is stored as uint16 bit patterns with float32 arithmetic, and only the taken
branch of a select is evaluated.  All loops run serially (GPU thread loops one after
another); every memory scope is an ordinary numpy array.  Out-of-bounds accesses raise
IndexError naming the buffer.

>>> interpret(func, a, b, c)      # outputs written in place into the arrays
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import expr as E
from ..buffer import Buffer
from ..datatype import BFLOAT16_ARRAYS, bfloat16_bits
from ..stmt import PrimFunc
from ..verify import verify
from . import runtime
from .codegen import Translator

#: compiled functions kept, least recently used dropped first
_CACHE_SIZE = 512
_cache: OrderedDict[int, tuple[PrimFunc, "InterpretedFunction"]] = OrderedDict()


class InterpretedFunction:
    """A PrimFunc translated to Python; call it with the function's arguments.

    ``source`` is the generated Python code (handy when debugging a pass)."""

    def __init__(self, func: PrimFunc):
        verify(func)
        self.func = func
        translator = Translator(func)
        self.source = translator.translate()
        self._kernel_params = translator.kernel_params
        namespace = dict(runtime.NAMESPACE)
        namespace.update(translator.constant_values)
        namespace.update(translator.helpers)
        if "_bf16" in self.source:
            namespace["_bf16l"] = runtime.bf16_list()
            namespace["_bf16t"] = runtime.bf16_table()
        code = compile(self.source, f"<tensorlang interpreter: {func.name}>", "exec")
        exec(code, namespace)  # noqa: S102 - our own generated code
        self._kernel = namespace["_kernel"]

    def __call__(self, *args) -> None:
        values = self._bind(args)
        with np.errstate(all="ignore"):
            self._kernel(*values)

    # -- arguments -------------------------------------------------------------------
    def _bind(self, args) -> list:
        func = self.func
        if len(args) != len(func.params):
            names = ", ".join(p.name for p in func.params)
            raise TypeError(f"function '{func.name}' takes {len(func.params)} argument(s) "
                            f"({names}), got {len(args)}")
        arrays: dict = {}
        scalars: dict = {}
        shapes: dict = {}
        for param, arg in zip(func.params, args):
            if isinstance(param, Buffer):
                arrays[param] = _check_array(func, param, arg, shapes)
            else:
                scalars[param] = _convert_scalar(func, param, arg)
        for var, value in scalars.items():
            bound = shapes.get(var)
            if bound is not None and bound[0] != value:
                raise ValueError(f"argument '{var.name}' of '{func.name}' is {value}, but "
                                 f"buffer '{bound[1]}' has that dimension of size {bound[0]}")
        values = []
        for kind, obj in self._kernel_params:
            if kind == "buffer":
                values.append(arrays[obj])
            elif kind == "var":
                values.append(scalars[obj])
            else:
                values.append(shapes[obj][0])
        return values


def _check_array(func: PrimFunc, buffer: Buffer, arg, shapes: dict) -> np.ndarray:
    where = f"argument '{buffer.name}' of '{func.name}'"
    if not isinstance(arg, np.ndarray):
        raise TypeError(f"{where} must be a numpy array of {buffer.dtype}, got "
                        f"{type(arg).__name__}")
    expected = buffer.dtype.numpy_dtype
    if buffer.dtype.kind == "bfloat":
        arg = bfloat16_bits(arg)   # values are read and written as their bit patterns
    if arg.dtype != expected:
        if buffer.dtype.kind == "bfloat":
            raise TypeError(f"{where} is bfloat16, got an array of {arg.dtype}; pass "
                            f"{BFLOAT16_ARRAYS}")
        raise TypeError(f"{where} must have dtype {expected}, got {arg.dtype}")
    if arg.ndim != buffer.ndim:
        raise ValueError(f"{where} must have {buffer.ndim} dimension(s), got shape "
                         f"{arg.shape}")
    for d, (dim, size) in enumerate(zip(buffer.shape, arg.shape)):
        if isinstance(dim, E.IntImm):
            if dim.value != size:
                raise ValueError(f"{where}: dimension {d} must be {dim.value}, got {size} "
                                 f"(shape {arg.shape})")
        elif isinstance(dim, E.Var):
            bound = shapes.get(dim)
            if bound is None:
                if size > dim.dtype.max_value():
                    raise ValueError(f"{where}: dimension {d} of size {size} does not fit "
                                     f"the {dim.dtype} variable '{dim.name}'")
                shapes[dim] = (size, buffer.name)
            elif bound[0] != size:
                raise ValueError(f"{where}: dimension {d} is {size}, but '{dim.name}' is "
                                 f"already {bound[0]} from buffer '{bound[1]}'")
    if buffer.strides and not arg.flags.c_contiguous:
        raise ValueError(f"{where} must be C-contiguous (the buffer has explicit strides)")
    return arg


def _convert_scalar(func: PrimFunc, var: E.Var, arg):
    where = f"argument '{var.name}' of '{func.name}'"
    dtype = var.dtype
    if isinstance(arg, np.ndarray) and arg.ndim == 0:
        arg = arg[()]
    if dtype.is_bool:
        if not isinstance(arg, (bool, np.bool_)):
            raise TypeError(f"{where} must be a bool, got {type(arg).__name__}")
        return bool(arg)
    if dtype.is_integer:
        if isinstance(arg, (bool, np.bool_)) or not isinstance(arg, (int, np.integer)):
            raise TypeError(f"{where} must be an int ({dtype}), got {type(arg).__name__}")
        value = int(arg)
        if not dtype.min_value() <= value <= dtype.max_value():
            raise ValueError(f"{where} is {value}, which does not fit in {dtype}")
        return value
    if dtype.is_float:
        if isinstance(arg, (bool, np.bool_)) or not isinstance(
                arg, (int, float, np.integer, np.floating)):
            raise TypeError(f"{where} must be a number ({dtype}), got {type(arg).__name__}")
        if dtype.kind == "bfloat":
            return runtime.to_bf16(np.float32(arg))
        return dtype.numpy_dtype.type(arg)
    raise TypeError(f"{where} has type {dtype}, which the interpreter cannot pass")


def compile_function(func: PrimFunc) -> InterpretedFunction:
    """The cached :class:`InterpretedFunction` of ``func`` (translated on first use)."""
    key = id(func)
    entry = _cache.get(key)
    if entry is not None and entry[0] is func:
        _cache.move_to_end(key)
        return entry[1]
    compiled = InterpretedFunction(func)
    _cache[key] = (func, compiled)  # keeping func alive keeps its id unique
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return compiled


def interpret(func: PrimFunc, *args) -> None:
    """Run ``func`` on ``args`` (numpy arrays for buffers, Python numbers for scalar
    parameters, in parameter order); outputs are written in place.

    Symbolic dimensions of buffer shapes are bound from the arrays' shapes and checked
    for consistency.  Raises TypeError / ValueError naming the parameter for a wrong
    argument, IndexError naming the buffer for an out-of-bounds access.
    """
    if not isinstance(func, PrimFunc):
        raise TypeError(f"interpret() needs a PrimFunc, got {type(func).__name__}")
    compile_function(func)(*args)


__all__ = ["interpret", "compile_function", "InterpretedFunction"]
