"""Matrix products: ``matmul`` and ``batch_matmul``.

>>> A = te.placeholder((n, 64), name="A")
>>> B = te.placeholder((64, 32), name="B")
>>> C = ops.matmul(A, B)                           # (n, 32), C[i, j] = sum_k A[i, k] * B[k, j]
>>> D = ops.matmul(A, A, transpose_b=True)         # (n, n), A @ A.T
"""
from __future__ import annotations

from ..errors import TensorLangTypeError, TensorLangValueError
from ..tir import datatype as dt
from ..tir import op as _op
from ..te.declare import compute, reduce_axis
from ..te.reduction import sum as te_sum
from ..te.broadcast import format_shape, is_one, same_extent
from .utils import check_ndim, check_tensor


def _out_dtype(a, b, out_dtype, op_name):
    if out_dtype is not None:
        return dt.dtype(out_dtype)
    if a.dtype != b.dtype:
        raise TensorLangTypeError(
            f"{op_name}: tensor '{a.name}' is {a.dtype} but tensor '{b.name}' is {b.dtype}; "
            f"cast one of them or give out_dtype= to compute in a common type")
    if a.dtype.is_bool:
        raise TensorLangTypeError(f"{op_name}: tensor '{a.name}' is boolean; cast it to a "
                                  f"numeric type first")
    return a.dtype


def _product(a_value, b_value, dtype):
    return _op.mul(_op.cast(a_value, dtype), _op.cast(b_value, dtype))


def _check_inner(a, b, a_extent, b_extent, op_name, a_dim, b_dim):
    if not same_extent(a_extent, b_extent):
        raise TensorLangValueError(
            f"{op_name}: the reduced dimensions differ: tensor '{a.name}' "
            f"{format_shape(a.shape)} has {a_extent} in dimension {a_dim} but tensor "
            f"'{b.name}' {format_shape(b.shape)} has {b_extent} in dimension {b_dim}")


def matmul(A, B, transpose_a: bool = False, transpose_b: bool = False, out_dtype=None,
           name: str = "T_matmul"):
    """The matrix product of 2-D tensors ``A @ B`` (``A.T`` / ``B.T`` when the transpose
    flags are set), accumulated in ``out_dtype`` (default: the inputs' dtype; e.g.
    ``"int32"`` for int8 inputs)."""
    check_tensor(A, "ops.matmul", "A")
    check_tensor(B, "ops.matmul", "B")
    check_ndim(A, 2, "ops.matmul")
    check_ndim(B, 2, "ops.matmul")
    dtype = _out_dtype(A, B, out_dtype, "ops.matmul")
    a_inner, b_inner = (0 if transpose_a else 1), (1 if transpose_b else 0)
    _check_inner(A, B, A.shape[a_inner], B.shape[b_inner], "ops.matmul", a_inner, b_inner)
    rows = A.shape[1 - a_inner]
    cols = B.shape[1 - b_inner]
    k = reduce_axis((0, A.shape[a_inner]), name="k")

    def element(i, j):
        a_value = A[k, i] if transpose_a else A[i, k]
        b_value = B[j, k] if transpose_b else B[k, j]
        return te_sum(_product(a_value, b_value, dtype), axis=k)

    return compute((rows, cols), element, name=name, tag="matmul")


def batch_matmul(A, B, transpose_a: bool = False, transpose_b: bool = False,
                 out_dtype=None, name: str = "T_batch_matmul"):
    """Batched matrix product of 3-D tensors: ``C[b] = A[b] @ B[b]`` (with transposes of
    the last two dimensions on request).  A batch size of 1 broadcasts."""
    check_tensor(A, "ops.batch_matmul", "A")
    check_tensor(B, "ops.batch_matmul", "B")
    check_ndim(A, 3, "ops.batch_matmul", "batch, rows, columns")
    check_ndim(B, 3, "ops.batch_matmul", "batch, rows, columns")
    dtype = _out_dtype(A, B, out_dtype, "ops.batch_matmul")
    a_batch, b_batch = A.shape[0], B.shape[0]
    if not (same_extent(a_batch, b_batch) or is_one(a_batch) or is_one(b_batch)):
        raise TensorLangValueError(
            f"ops.batch_matmul: batch sizes differ: tensor '{A.name}' has {a_batch} and "
            f"tensor '{B.name}' has {b_batch} (they must be equal or 1)")
    batch = b_batch if is_one(a_batch) else a_batch
    a_inner, b_inner = (1 if transpose_a else 2), (2 if transpose_b else 1)
    _check_inner(A, B, A.shape[a_inner], B.shape[b_inner], "ops.batch_matmul", a_inner,
                 b_inner)
    rows = A.shape[3 - a_inner]
    cols = B.shape[3 - b_inner]
    k = reduce_axis((0, A.shape[a_inner]), name="k")

    def element(b, i, j):
        ab = 0 if is_one(a_batch) else b
        bb = 0 if is_one(b_batch) else b
        a_value = A[ab, k, i] if transpose_a else A[ab, i, k]
        b_value = B[bb, j, k] if transpose_b else B[bb, k, j]
        return te_sum(_product(a_value, b_value, dtype), axis=k)

    return compute((batch, rows, cols), element, name=name, tag="batch_matmul")
