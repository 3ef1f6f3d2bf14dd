"""Checking the arguments of a call of a split function (the CUDA runtime and the
emulator): count, dtypes, shapes, and the values of the size variables they bind."""
from __future__ import annotations

import numpy as np

from ...errors import InternalError
from .. import expr as E
from .. import stmt as S
from ..buffer import Buffer
from ..datatype import BFLOAT16_ARRAYS, is_bfloat16_array
from ..index_width import dimension_overflow
from .split_kernels import evaluate_int


def bind_arguments(func: S.PrimFunc, args, is_array=None) -> dict:
    """Check ``args`` against ``func.params`` and return the value of every size variable
    (scalar parameters and symbolic dimensions).

    ``is_array`` tells which objects count as arrays (numpy by default; the runtime also
    accepts GPU arrays); each needs ``shape`` and ``dtype``.  Raises TypeError/ValueError
    naming the parameter."""
    is_array = is_array or (lambda a: isinstance(a, np.ndarray))
    if len(args) != len(func.params):
        names = ", ".join(p.name for p in func.params)
        raise TypeError(f"function '{func.name}' takes {len(func.params)} argument(s) "
                        f"({names}), got {len(args)}")
    env: dict = {}
    origin: dict = {}
    for param, arg in zip(func.params, args):
        if isinstance(param, E.Var):
            env[param] = _scalar(func, param, arg)
            origin[param] = f"argument '{param.name}'"
    for param, arg in zip(func.params, args):
        if not isinstance(param, Buffer):
            continue
        where = f"argument '{param.name}' of '{func.name}'"
        if not is_array(arg):
            raise TypeError(f"{where} must be an array of {param.dtype}, got "
                            f"{type(arg).__name__}")
        expected = param.dtype.numpy_dtype
        if param.dtype.kind == "bfloat" and is_bfloat16_array(arg):
            pass   # ml_dtypes' bfloat16: the same 16-bit patterns
        elif np.dtype(arg.dtype) != expected:
            if param.dtype.kind == "bfloat":
                raise TypeError(f"{where} is bfloat16, got an array of {arg.dtype}; pass "
                                f"{BFLOAT16_ARRAYS}")
            raise TypeError(f"{where} must have dtype {expected}, got {arg.dtype}")
        shape = tuple(arg.shape)
        if len(shape) != param.ndim:
            raise ValueError(f"{where} must have {param.ndim} dimension(s), got shape {shape}")
        for d, (dim, size) in enumerate(zip(param.shape, shape)):
            if isinstance(dim, E.Var) and dim not in env:
                if not dim.dtype.min_value() <= size <= dim.dtype.max_value():
                    raise ValueError(dimension_overflow(param.name, d, size, dim))
                env[dim] = size
                origin[dim] = f"dimension {d} of '{param.name}'"
        for d, (dim, size) in enumerate(zip(param.shape, shape)):
            try:
                expected_size = evaluate_int(dim, env)
            except InternalError:
                raise ValueError(f"{where}: cannot determine dimension {d} ({dim}) from the "
                                 f"other arguments") from None
            if expected_size != size:
                source = f" ({origin[dim]} gives {expected_size})" if dim in origin else ""
                raise ValueError(f"{where}: dimension {d} must be {dim} = {expected_size}"
                                 f"{source}, got {size} (shape {shape})")
    return env


def _scalar(func: S.PrimFunc, var: E.Var, arg):
    where = f"argument '{var.name}' of '{func.name}'"
    if isinstance(arg, np.ndarray) and arg.ndim == 0:
        arg = arg[()]
    dtype = var.dtype
    if dtype.is_integer:
        if isinstance(arg, (bool, np.bool_)) or not isinstance(arg, (int, np.integer)):
            raise TypeError(f"{where} must be an int ({dtype}), got {type(arg).__name__}")
        if not dtype.min_value() <= int(arg) <= dtype.max_value():
            raise ValueError(f"{where} is {int(arg)}, which does not fit in {dtype}")
        return int(arg)
    if dtype.is_float:
        if isinstance(arg, (bool, np.bool_)) or not isinstance(
                arg, (int, float, np.integer, np.floating)):
            raise TypeError(f"{where} must be a number ({dtype}), got {type(arg).__name__}")
        return float(arg)
    if dtype.is_bool:
        if not isinstance(arg, (bool, np.bool_)):
            raise TypeError(f"{where} must be a bool, got {type(arg).__name__}")
        return bool(arg)
    raise TypeError(f"{where} has type {dtype}, which a GPU kernel cannot take")
