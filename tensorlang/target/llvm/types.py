"""LLVM types of tensorlang values: the type a value has in registers and the type it has
in memory, which differ for ``bool`` (i1 / i8) and ``bfloat16`` (float / i16)."""
from __future__ import annotations

import functools

import llvmlite.ir as ir

from ...errors import BuildError
from ...tir.datatype import DataType

I1, I8, I16, I32, I64 = (ir.IntType(b) for b in (1, 8, 16, 32, 64))
F32, F64 = ir.FloatType(), ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()


@functools.lru_cache(maxsize=None)
def _scalar_value_type(kind: str, bits: int) -> ir.Type:
    if kind == "bool":
        return I1
    if kind in ("int", "uint"):
        return ir.IntType(bits)
    if kind == "float":
        return {16: ir.HalfType(), 32: F32, 64: F64}[bits]
    if kind == "bfloat":
        # bfloat16 values are computed in float32 and rounded after each operation
        return F32
    if kind == "handle":
        return PTR
    raise BuildError(f"the llvm target cannot compute with values of type {kind}{bits}")


def value_type(dtype: DataType) -> ir.Type:
    """Register type of a value of ``dtype`` (vectors for ``lanes > 1``)."""
    scalar = _scalar_value_type(dtype.kind, dtype.bits)
    return scalar if dtype.lanes == 1 else ir.VectorType(scalar, dtype.lanes)


def storage_type(dtype: DataType) -> ir.Type:
    """Memory type of one element (or a vector of elements) of ``dtype``."""
    if dtype.kind == "bool":
        scalar = I8
    elif dtype.kind == "bfloat":
        scalar = I16
    else:
        scalar = _scalar_value_type(dtype.kind, dtype.bits)
    return scalar if dtype.lanes == 1 else ir.VectorType(scalar, dtype.lanes)


def float_compute_type(dtype: DataType) -> DataType:
    """The float type math functions are evaluated in: float32 for 16-bit floats."""
    if dtype.bits < 32:
        return DataType("float", 32, dtype.lanes)
    return dtype


def const_of(ty: ir.Type, value) -> ir.Constant:
    """A constant of ``ty``, splatted over the lanes of a vector type."""
    if isinstance(ty, ir.VectorType):
        return ir.Constant(ty, [ir.Constant(ty.element, value)] * ty.count)
    return ir.Constant(ty, value)
