"""Data types of tensorlang values and the rules that combine them.

A :class:`DataType` is a scalar kind (``int``, ``uint``, ``float``, ``bfloat``, ``bool``),
a bit width and a vector lane count: ``float32``, ``int8``, ``float32x8``.
"""
from __future__ import annotations

import functools
import re

import ml_dtypes  # noqa: F401  (registers numpy's bfloat16: np.dtype(A.dtype) of a bfloat16 tensor)
import numpy as np

from ..errors import TensorLangTypeError

_KINDS = ("bool", "int", "uint", "float", "bfloat", "handle")


class DataType(str):
    """A scalar or vector type: ``DataType("float", 32, lanes=8)`` prints as ``float32x8``.

    A DataType is the string of its name, as TVM's dtypes are: ``A.dtype == "float32"``,
    ``np.zeros(3, A.dtype)`` and ``f"{A.dtype}"`` work, and it hashes as that string.
    Each type exists once (``DataType("float", 32) is dtype("float32")``) and is
    immutable; ``kind``, ``bits`` and ``lanes`` give its parts.  Its repr is its name.
    """

    _interned: dict = {}
    kind: str
    bits: int
    lanes: int

    def __new__(cls, kind: str, bits: int, lanes: int = 1):
        key = (kind, bits, lanes)
        found = cls._interned.get(key)
        if found is not None:
            return found
        base = "bool" if kind == "bool" else "handle" if kind == "handle" else f"{kind}{bits}"
        self = super().__new__(cls, base if lanes == 1 else f"{base}x{lanes}")
        self.__dict__.update(kind=kind, bits=bits, lanes=lanes)
        return cls._interned.setdefault(key, self)

    def __setattr__(self, name, value):
        raise AttributeError(f"DataType {self} is immutable")

    def __delattr__(self, name):
        raise AttributeError(f"DataType {self} is immutable")

    def __getnewargs__(self):
        return (self.kind, self.bits, self.lanes)

    def __str__(self) -> str:
        return str.__str__(self)

    __repr__ = __str__
    __eq__ = str.__eq__
    __hash__ = str.__hash__

    # -- classification ------------------------------------------------------------
    @property
    def is_float(self) -> bool:
        return self.kind in ("float", "bfloat")

    @property
    def is_int(self) -> bool:
        return self.kind == "int"

    @property
    def is_uint(self) -> bool:
        return self.kind == "uint"

    @property
    def is_integer(self) -> bool:
        """Signed or unsigned integer (not bool)."""
        return self.kind in ("int", "uint")

    @property
    def is_bool(self) -> bool:
        return self.kind == "bool"

    @property
    def is_handle(self) -> bool:
        return self.kind == "handle"

    @property
    def is_scalar(self) -> bool:
        return self.lanes == 1

    @property
    def is_vector(self) -> bool:
        return self.lanes > 1

    @property
    def bytes(self) -> int:
        """Storage size of one element of the scalar type (bool takes one byte)."""
        return 1 if self.kind == "bool" else self.bits // 8

    def with_lanes(self, lanes: int) -> "DataType":
        return self if lanes == self.lanes else DataType(self.kind, self.bits, lanes)

    def element_of(self) -> "DataType":
        return self.with_lanes(1)

    @property
    def numpy_dtype(self) -> np.dtype:
        """The numpy dtype that stores values of this (scalar) type."""
        if self.kind == "bfloat":
            # numpy has no bfloat16: values travel as their 16-bit patterns.
            return np.dtype("uint16")
        if self.kind == "bool":
            return np.dtype("bool")
        return np.dtype(f"{self.kind}{self.bits}")

    def min_value(self):
        if self.is_integer:
            return int(np.iinfo(self.numpy_dtype).min)
        if self.kind == "bfloat":
            return -3.3895313892515355e38
        if self.is_float:
            return -float(np.finfo(self.numpy_dtype).max)
        if self.is_bool:
            return False
        raise TensorLangTypeError(f"type {self} has no minimum value")

    def max_value(self):
        if self.is_integer:
            return int(np.iinfo(self.numpy_dtype).max)
        if self.kind == "bfloat":
            return 3.3895313892515355e38
        if self.is_float:
            return float(np.finfo(self.numpy_dtype).max)
        if self.is_bool:
            return True
        raise TensorLangTypeError(f"type {self} has no maximum value")


_PATTERN = re.compile(r"^(bool|int|uint|float|bfloat|handle)(\d*)(?:x(\d+))?$")
_VALID_BITS = {"int": (8, 16, 32, 64), "uint": (8, 16, 32, 64), "float": (16, 32, 64),
               "bfloat": (16,), "bool": (1,), "handle": (64,)}


@functools.lru_cache(maxsize=None)
def _parse(text: str) -> DataType:
    match = _PATTERN.match(text)
    if not match:
        raise TensorLangTypeError(
            f"unknown dtype {text!r}; use one of: {', '.join(SUPPORTED_DTYPES)}")
    kind, bits, lanes = match.group(1), match.group(2), match.group(3)
    if kind == "bool":
        nbits = 1 if not bits else int(bits)
    elif kind == "handle":
        nbits = 64
    else:
        if not bits:
            raise TensorLangTypeError(f"dtype {text!r} needs a bit width, e.g. {kind}32")
        nbits = int(bits)
    if nbits not in _VALID_BITS[kind]:
        raise TensorLangTypeError(
            f"unknown dtype {text!r}; use one of: {', '.join(SUPPORTED_DTYPES)}")
    return DataType(kind, nbits, int(lanes) if lanes else 1)


def dtype(value) -> DataType:
    """Convert a string (``"float32"``), numpy dtype or :class:`DataType` to a DataType."""
    if isinstance(value, DataType):
        return value
    if isinstance(value, str):
        return _parse(value)
    if value is bool:
        return _parse("bool")
    if value is int:
        return _parse("int32")
    if value is float:
        return _parse("float32")
    try:
        npd = np.dtype(value)
    except TypeError:
        raise TensorLangTypeError(f"cannot interpret {value!r} as a dtype") from None
    if npd == np.bool_:
        return _parse("bool")
    return _parse(npd.name)


#: what a bfloat16 buffer takes, for error messages
BFLOAT16_ARRAYS = ("an ml_dtypes.bfloat16 array (x.astype(ml_dtypes.bfloat16)) or its bit "
                   "patterns as uint16 (x.astype(ml_dtypes.bfloat16).view(numpy.uint16))")


def is_bfloat16_array(array) -> bool:
    """Whether ``array`` holds bfloat16 values in a numpy dtype of their own (ml_dtypes'
    ``bfloat16``, the type JAX uses)."""
    dtype = getattr(array, "dtype", None)
    try:
        return dtype is not None and np.dtype(dtype).name == "bfloat16" and \
            np.dtype(dtype).itemsize == 2
    except TypeError:
        return False


def bfloat16_bits(array):
    """The uint16 bit patterns (a view, sharing memory) of an ml_dtypes ``bfloat16``
    numpy array; any other array unchanged.  tensorlang stores bfloat16 as these bits."""
    if isinstance(array, np.ndarray) and is_bfloat16_array(array):
        return array.view(np.uint16)
    return array


SUPPORTED_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                    "uint64", "float16", "bfloat16", "float32", "float64")

bool_ = _parse("bool")
int8, int16, int32, int64 = (_parse(f"int{b}") for b in (8, 16, 32, 64))
uint8, uint16, uint32, uint64 = (_parse(f"uint{b}") for b in (8, 16, 32, 64))
float16, bfloat16, float32, float64 = (_parse(t) for t in
                                       ("float16", "bfloat16", "float32", "float64"))
handle = _parse("handle")


def significand_bits(t: DataType) -> int:
    """The bits of precision of a float type (integers up to ``2**bits`` are exact)."""
    return {("bfloat", 16): 8, ("float", 16): 11, ("float", 32): 24,
            ("float", 64): 53}.get((t.kind, t.bits), 0)


def promote(a: DataType, b: DataType) -> DataType | None:
    """The common type of two operand types, or None when the rule forbids mixing them.

    Rules: identical types combine; two signed ints, two unsigned ints, or two floats widen
    to the wider; an int with a float takes the float type where it holds every value of
    the int exactly (int8/int16 with float32, int32 with float64, int8 with float16: TVM
    casts any int to the float, int32 with float32 too, rounding past 2**24); everything
    else (signed with unsigned, bool with numbers) needs an explicit ``astype``.  Lanes
    must match (a scalar broadcasts to a vector).
    """
    if a == b:
        return a
    lanes = a.lanes
    if a.lanes != b.lanes:
        if a.lanes == 1:
            lanes = b.lanes
        elif b.lanes != 1:
            return None
    if a.kind == b.kind:
        return DataType(a.kind, max(a.bits, b.bits), lanes)
    if (a.is_float and b.is_integer) or (b.is_float and a.is_integer):
        real, integer = (a, b) if a.is_float else (b, a)
        magnitude = integer.bits - (1 if integer.kind == "int" else 0)
        return real.with_lanes(lanes) if magnitude <= significand_bits(real) else None
    if a.is_float and b.is_float:
        # float16 with bfloat16 has no exact common 16-bit type: use float32
        wider = a if a.bits > b.bits else b
        if a.bits == b.bits:
            return DataType("float", 32, lanes)
        return wider.with_lanes(lanes)
    return None


# ---------------------------------------------------------------------------------------
# Python values of constants

def default_dtype(value) -> DataType:
    """The type of a constant written as a Python value: bool, int32 (int64 for ints that
    do not fit), float32."""
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int32 if -2**31 <= value < 2**31 else int64
    if isinstance(value, float):
        return float32
    raise TensorLangTypeError(f"cannot make a constant of {value!r} "
                              f"(type {type(value).__name__})")


def constant_value(value, dtype: DataType):
    """The Python number a constant of ``dtype`` holds for ``value`` (a float, or an int,
    0 or 1 for bool), after checking that it is one."""
    if dtype.is_float:
        if not isinstance(value, (int, float)):
            raise TensorLangTypeError(f"cannot make a {dtype} constant of {value!r}")
        return float(value)
    if dtype.is_bool:
        return 1 if value else 0
    if isinstance(value, float):
        if not value.is_integer():
            raise TensorLangTypeError(
                f"the float {value!r} cannot be an {dtype} constant; round it or use a "
                f"float dtype")
        value = int(value)
    if not isinstance(value, int):
        raise TensorLangTypeError(f"cannot make a {dtype} constant of {value!r}")
    if dtype.is_integer and not (dtype.min_value() <= value <= dtype.max_value()):
        raise TensorLangTypeError(f"the constant {value} does not fit in {dtype}")
    return int(value)


def wrap_int(value: int, dtype: DataType) -> int:
    """``value`` wrapped around to the range of the integer (or bool) type ``dtype``."""
    if dtype.is_bool:
        return 1 if value else 0
    bits = dtype.bits
    value &= (1 << bits) - 1
    if dtype.is_int and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def round_float(value: float, dtype: DataType) -> float:
    """``value`` rounded to the float type ``dtype`` (bfloat16 values are kept as they
    are)."""
    if dtype.bits == 32:
        return float(np.float32(value))
    if dtype.bits == 16 and dtype.kind == "float":
        return float(np.float16(value))
    return float(value)
