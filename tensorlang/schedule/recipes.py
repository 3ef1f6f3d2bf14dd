"""Ready-made schedules for common CPU workloads, written the way a user would write them.

Each recipe declares its workload with ``te`` and schedules it, returning
``(schedule, tensors)`` where ``tensors`` lists the parameters in call order, ready for
``tl.build(schedule, tensors)``:

>>> s, (A, B, C) = gemm_register_tiled(1024, 1024, 1024)
>>> mod = tl.build(s, [A, B, C], target="llvm")

The GEMM recipes follow the classic "How to optimize GEMM on CPU" steps one by one
(``gemm_naive`` .. ``gemm_parallel``, the last being that tutorial's final schedule), then
``gemm_register_tiled`` keeps a whole accumulator tile in vector registers.  The others
are a fused element-wise expression, a row softmax and a 3x3 NCHW convolution.  The
benchmarks, the command line and the tutorials build on these, so what they measure is
exactly what a user can write.
"""
from __future__ import annotations

from .. import te
from ..errors import TensorLangValueError
from .schedule import Schedule, create_schedule

__all__ = [
    "gemm_naive", "gemm_blocking", "gemm_vectorize", "gemm_permutation", "gemm_packing",
    "gemm_write_cache", "gemm_parallel", "gemm_register_tiled", "GEMM_STEPS",
    "elementwise_fused", "softmax_rows", "conv2d_nchw_3x3",
]


# -- GEMM ------------------------------------------------------------------------------
def _matmul(M: int, N: int, K: int, dtype: str):
    A = te.placeholder((M, K), dtype=dtype, name="A")
    B = te.placeholder((K, N), dtype=dtype, name="B")
    k = te.reduce_axis((0, K), name="k")
    C = te.compute((M, N), lambda x, y: te.sum(A[x, k] * B[k, y], axis=k), name="C")
    return A, B, C


def _packed_matmul(M: int, N: int, K: int, bn: int, dtype: str):
    """C = A @ B reading B through ``packedB[N // bn, K, bn]``: each panel of ``bn``
    columns is contiguous, so the innermost loop streams through memory."""
    if N % bn:
        raise TensorLangValueError(f"packed GEMM: N={N} must be a multiple of the panel "
                                   f"width bn={bn}; pick a bn that divides N")
    A = te.placeholder((M, K), dtype=dtype, name="A")
    B = te.placeholder((K, N), dtype=dtype, name="B")
    packed = te.compute((N // bn, K, bn), lambda x, y, z: B[y, x * bn + z], name="packedB")
    k = te.reduce_axis((0, K), name="k")
    C = te.compute((M, N), lambda x, y: te.sum(A[x, k] * packed[y // bn, k, y % bn], axis=k),
                   name="C")
    return A, B, C, packed


def _schedule_packing(s: Schedule, packed) -> None:
    x, _, z = s[packed].op.axis
    s[packed].vectorize(z)
    s[packed].parallel(x)


def gemm_naive(M: int, N: int, K: int, dtype: str = "float32"):
    """``C[M, N] = A[M, K] @ B[K, N]`` with the default schedule (three nested loops)."""
    A, B, C = _matmul(M, N, K, dtype)
    return create_schedule(C), [A, B, C]


def gemm_blocking(M: int, N: int, K: int, bn: int = 32, kfactor: int = 4,
                  dtype: str = "float32"):
    """GEMM tiled into ``bn x bn`` blocks of C with the reduction split by ``kfactor``
    (loops ``xo, yo, ko, ki, xi, yi``) so a block's working set stays in cache."""
    A, B, C = _matmul(M, N, K, dtype)
    s = create_schedule(C)
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
    s[C].reorder(xo, yo, ko, ki, xi, yi)
    return s, [A, B, C]


def gemm_vectorize(M: int, N: int, K: int, bn: int = 32, kfactor: int = 4,
                   dtype: str = "float32"):
    """:func:`gemm_blocking` with the innermost block column loop vectorized."""
    s, (A, B, C) = gemm_blocking(M, N, K, bn, kfactor, dtype)
    s[C].vectorize(s[C].leaf_iter_vars[-1])
    return s, [A, B, C]


def gemm_permutation(M: int, N: int, K: int, bn: int = 32, kfactor: int = 4,
                     dtype: str = "float32"):
    """Blocked and vectorized GEMM with loops ``xo, yo, ko, xi, ki, yi``: row ``xi`` of A
    is reused across the inner ``ki`` loop and ``B`` is read row by row."""
    A, B, C = _matmul(M, N, K, dtype)
    s = create_schedule(C)
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
    s[C].reorder(xo, yo, ko, xi, ki, yi)
    s[C].vectorize(yi)
    return s, [A, B, C]


def gemm_packing(M: int, N: int, K: int, bn: int = 32, kfactor: int = 4,
                 dtype: str = "float32"):
    """:func:`gemm_permutation` reading B from a packed copy ``packedB[N/bn, K, bn]``
    (computed in parallel), so the inner loop reads contiguous memory."""
    A, B, C, packed = _packed_matmul(M, N, K, bn, dtype)
    s = create_schedule(C)
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
    s[C].reorder(xo, yo, ko, xi, ki, yi)
    s[C].vectorize(yi)
    _schedule_packing(s, packed)
    return s, [A, B, C]


def gemm_write_cache(M: int, N: int, K: int, bn: int = 32, kfactor: int = 4,
                     parallel: bool = False, dtype: str = "float32"):
    """Packed GEMM accumulating each ``bn x bn`` block in a write cache (``cache_write``)
    computed at the block, the ``ki`` loop unrolled; ``parallel=True`` runs the block rows
    on all cores."""
    A, B, C, packed = _packed_matmul(M, N, K, bn, dtype)
    s = create_schedule(C)
    CC = s.cache_write(C, "global")
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    s[CC].compute_at(s[C], yo)
    xc, yc = s[CC].op.axis
    ko, ki = s[CC].split(s[CC].op.reduce_axis[0], factor=kfactor)
    s[CC].reorder(ko, xc, ki, yc)
    s[CC].unroll(ki)
    s[CC].vectorize(yc)
    if parallel:
        s[C].parallel(xo)
    _schedule_packing(s, packed)
    return s, [A, B, C]


def gemm_parallel(M: int, N: int, K: int, bn: int = 32, kfactor: int = 4,
                  dtype: str = "float32"):
    """The classic tutorial's final schedule: ``bn=32`` blocks, packed B, write cache,
    ``k`` split by 4 and unrolled, vectorized, block rows in parallel."""
    return gemm_write_cache(M, N, K, bn, kfactor, parallel=True, dtype=dtype)


def gemm_register_tiled(M: int, N: int, K: int, bn: int | None = None,
                        rows: int | None = None, kfactor: int = 8, dtype: str = "float32",
                        lanes: int = 16):
    """GEMM whose ``rows x bn`` accumulator tile lives in vector registers: B packed in
    panels of ``bn`` columns, ``k`` split by ``kfactor`` and unrolled, the tile rows
    unrolled, columns vectorized, tiles in parallel.  ``lanes`` is the float32 lanes of
    the target's vectors (``Target("llvm").float32_lanes``: 16 with AVX-512, 8 with
    AVX2); the tile defaults to 4 rows of 4 vectors with 16 lanes (16 of AVX-512's 32
    registers), else of 2 vectors (8 of AVX2's 16).  ``N`` must be a multiple of
    ``bn``; ``M`` runs fastest as a multiple of ``rows`` and is correct at any size."""
    if bn is None:
        bn = lanes * (4 if lanes >= 16 else 2)
    rows = 4 if rows is None else rows
    A, B, C, packed = _packed_matmul(M, N, K, bn, dtype)
    s = create_schedule(C)
    CC = s.cache_write(C, "local")
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], rows, bn)
    s[C].reorder(yo, xo, xi, yi)
    tiles = s[C].fuse(yo, xo)
    s[CC].compute_at(s[C], tiles)
    xc, yc = s[CC].op.axis
    ko, ki = s[CC].split(s[CC].op.reduce_axis[0], factor=kfactor)
    s[CC].reorder(ko, ki, xc, yc)
    s[CC].unroll(ki)
    s[CC].unroll(xc)
    s[CC].vectorize(yc)
    s[C].vectorize(yi)
    s[C].parallel(tiles)
    _schedule_packing(s, packed)
    return s, [A, B, C]


#: The GEMM steps in tutorial order, name -> recipe.
GEMM_STEPS = {
    "naive": gemm_naive, "blocking": gemm_blocking, "vectorize": gemm_vectorize,
    "permutation": gemm_permutation, "packing": gemm_packing,
    "write_cache": gemm_write_cache, "parallel": gemm_parallel,
    "register_tiling": gemm_register_tiled,
}


# -- element-wise ----------------------------------------------------------------------
def elementwise_fused(n: int, vector_width: int = 16, dtype: str = "float32"):
    """``D = exp(A) * B + C`` over ``n`` elements in one pass: chunks of
    ``vector_width`` elements vectorized (vector exp), chunks in parallel."""
    A = te.placeholder((n,), dtype=dtype, name="A")
    B = te.placeholder((n,), dtype=dtype, name="B")
    C = te.placeholder((n,), dtype=dtype, name="C")
    D = te.compute((n,), lambda i: te.exp(A[i]) * B[i] + C[i], name="D")
    s = create_schedule(D)
    outer, inner = s[D].split(D.op.axis[0], factor=vector_width)
    s[D].vectorize(inner)
    s[D].parallel(outer)
    return s, [A, B, C, D]


# -- softmax ---------------------------------------------------------------------------
def softmax_rows(rows: int, cols: int, vector_width: int = 16, dtype: str = "float32"):
    """Softmax of each row of ``X[rows, cols]``: ``exp(x - max) / sum(exp(x - max))``.

    Row maximum, exponentials and row sum are computed at the row of the output (their
    row-sized temporaries stay in cache); the row maximum and row sum reduce
    ``vector_width`` lanes at a time through ``rfactor``, exponentials and the final
    division are vectorized, rows run in parallel.  ``cols`` must be a multiple of
    ``vector_width`` for the vector path; other sizes stay correct.
    """
    X = te.placeholder((rows, cols), dtype=dtype, name="X")
    k1 = te.reduce_axis((0, cols), name="k1")
    row_max = te.compute((rows,), lambda i: te.max(X[i, k1], axis=k1), name="row_max")
    exps = te.compute((rows, cols), lambda i, j: te.exp(X[i, j] - row_max[i]), name="exps")
    k2 = te.reduce_axis((0, cols), name="k2")
    row_sum = te.compute((rows,), lambda i: te.sum(exps[i, k2], axis=k2), name="row_sum")
    Y = te.compute((rows, cols), lambda i, j: exps[i, j] / row_sum[i], name="Y")
    s = create_schedule(Y)
    row, col = s[Y].op.axis
    s[Y].parallel(row)
    _, lanes = s[Y].split(col, factor=vector_width)
    s[Y].vectorize(lanes)
    s[exps].compute_at(s[Y], row)
    _, lanes = s[exps].split(s[exps].op.axis[1], factor=vector_width)
    s[exps].vectorize(lanes)
    # each reduction at its consumer's row: row_max at the exponentials, row_sum at Y
    for reduced, consumer in ((row_max, exps), (row_sum, Y)):
        _, lane = s[reduced].split(s[reduced].op.reduce_axis[0], factor=vector_width)
        partial = s.rfactor(reduced, lane, factor_axis=1)
        s[reduced].compute_at(s[consumer], s[consumer].leaf_iter_vars[0])
        s[partial].compute_at(s[reduced], s[reduced].op.axis[0])
        axes = s[partial].op.axis
        # loops: lanes innermost so each step of the reduction is one vector operation
        s[partial].reorder(*axes[:-1], *s[partial].op.reduce_axis, axes[-1])
        s[partial].vectorize(axes[-1])
    return s, [X, Y]


# -- convolution -----------------------------------------------------------------------
def conv2d_nchw_3x3(batch: int = 1, in_channels: int = 64, out_channels: int = 64,
                    height: int = 56, width: int = 56, channel_block: int | None = None,
                    width_block: int | None = None, dtype: str = "float32",
                    lanes: int = 16):
    """3x3 convolution, stride 1, padding 1, NCHW data ``(batch, in_channels, height,
    width)`` and kernel ``(out_channels, in_channels, 3, 3)``.

    The zero-padded input is its own stage, computed in parallel.  Each output tile of
    ``channel_block`` output channels x ``width_block`` columns of one row accumulates in
    a local write cache held in vector registers, the reduction over input channels
    outermost, the 3x3 window and the channels unrolled, the columns vectorized (every
    kernel value is broadcast once per tile row); tiles run in parallel.  ``lanes`` is
    the float32 lanes of the target's vectors: with 16 (AVX-512, whose masked vectors
    make 14 of 16 lanes cheap) the tile defaults to 16 x 14 (sixteen registers), else to
    8 channels x one whole vector.  Other sizes than multiples of the blocks stay
    correct.
    """
    if channel_block is None:
        channel_block = 16 if lanes >= 16 else 8
    if width_block is None:
        width_block = 14 if lanes >= 16 else lanes
    data = te.placeholder((batch, in_channels, height, width), dtype=dtype, name="data")
    kernel = te.placeholder((out_channels, in_channels, 3, 3), dtype=dtype, name="kernel")
    padded = te.compute(
        (batch, in_channels, height + 2, width + 2),
        lambda n, c, y, x: te.if_then_else(
            te.all(y >= 1, y <= height, x >= 1, x <= width),
            data[n, c, y - 1, x - 1], te.const(0, dtype)),
        name="padded")
    rc = te.reduce_axis((0, in_channels), name="rc")
    ry = te.reduce_axis((0, 3), name="ry")
    rx = te.reduce_axis((0, 3), name="rx")
    out = te.compute(
        (batch, out_channels, height, width),
        lambda n, f, y, x: te.sum(padded[n, rc, y + ry, x + rx] * kernel[f, rc, ry, rx],
                                  axis=[rc, ry, rx]),
        name="conv")
    s = create_schedule(out)
    pn, pc, _, _ = s[padded].op.axis
    s[padded].parallel(s[padded].fuse(pn, pc))
    cache = s.cache_write(out, "local")
    n, f, y, x = s[out].op.axis
    fo, fi = s[out].split(f, factor=channel_block)
    xo, xi = s[out].split(x, factor=width_block)
    s[out].reorder(n, fo, y, xo, fi, xi)
    tiles = s[out].fuse(n, fo, y, xo)
    s[out].parallel(tiles)
    s[out].vectorize(xi)
    s[cache].compute_at(s[out], tiles)
    cn, cf, cy, cx = s[cache].op.axis
    crc, cry, crx = s[cache].op.reduce_axis
    s[cache].reorder(cn, cy, crc, cry, crx, cf, cx)
    s[cache].unroll(cry)
    s[cache].unroll(crx)
    s[cache].unroll(cf)
    s[cache].vectorize(cx)
    return s, [data, kernel, out]
