"""Compute definitions that read outside a tensor are refused at lowering, naming the
tensor, the index and its range; masked reads (padding) and what bound analysis cannot
prove stay accepted."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorlang as tl
from tensorlang import ops, te
from tensorlang.te.reference import OutOfBoundsError, evaluate


def lower(*outputs):
    return tl.lower(tl.create_schedule(list(outputs)))


def test_shifted_read_over_the_whole_tensor_is_refused():
    A = te.placeholder((8,), name="A")
    B = te.compute((8,), lambda i: A[i + 1], name="B")
    with pytest.raises(tl.LoweringError,
                       match=r"compute 'B' reads A\[i \+ 1\] with i \+ 1 in \[1, 8\] "
                             r"\(for i in \[0, 7\]\), outside A's axis 0 of extent 8"):
        lower(B)
    with pytest.raises(tl.LoweringError, match="compute 'B' reads A"):
        tl.build(tl.create_schedule(B), [A, B])


def test_negative_index_of_a_reduction_and_of_a_computed_tensor_are_refused():
    A = te.placeholder((8, 8), name="A")
    k = te.reduce_axis((0, 8), name="k")
    B = te.compute((8,), lambda i: te.sum(A[i, k - 1], axis=k), name="B")
    with pytest.raises(tl.LoweringError, match=r"A\[i, k - 1\] with k - 1 in \[-1, 6\] .*"
                                               r"A's axis 1 of extent 8"):
        lower(B)
    C = te.compute((8,), lambda i: A[i, i] * 2.0, name="C")
    D = te.compute((4,), lambda i: C[2 * i + 1] + C[3 * i], name="D")
    with pytest.raises(tl.LoweringError,
                       match=r"compute 'D' reads C\[3 \* i\] .* in \[0, 9\]"):
        lower(D)


def test_reads_that_fit_exactly_are_accepted(check):
    A = te.placeholder((8,), name="A")
    B = te.compute((7,), lambda i: A[i + 1] - A[6 - i], name="B")
    k = te.reduce_axis((1, 8), name="k")
    C = te.compute((1,), lambda i: te.sum(A[k - i], axis=k), name="C")
    check(tl.create_schedule([B, C]), [A], [B, C])


def test_padding_and_masked_reads_are_accepted(check):
    data = te.placeholder((1, 3, 7, 7), name="data")
    kernel = te.placeholder((4, 3, 3, 3), name="kernel")
    conv = ops.conv2d_nchw(data, kernel, 2, 1, 1)
    pool = ops.pool2d(data, 3, 2, 1, "max")
    avg = ops.pool2d(data, 3, 2, 1, "avg")
    padded = ops.pad(data, (0, 0, 2, 1))
    A = te.placeholder((8,), name="A")
    shifted = te.compute((8,), lambda i: te.if_then_else(i < 7, A[i + 1], 0.0), name="S")
    k = te.reduce_axis((0, 10), name="k")
    masked = te.compute((1,), lambda i: te.sum(A[k], axis=k, where=k < 8), name="M")
    check(tl.create_schedule([conv, pool, avg, padded]), [data, kernel],
          [conv, pool, avg, padded])
    check(tl.create_schedule([shifted, masked]), [A], [shifted, masked])


def test_what_cannot_be_proven_is_accepted():
    """A data-dependent index, a division, a symbolic extent: no proof either way."""
    A = te.placeholder((8,), name="A")
    index = te.placeholder((8,), dtype="int32", name="index")
    gather = te.compute((8,), lambda i: A[index[i]], name="G")
    halves = te.compute((16,), lambda i: A[i // 2], name="H")
    n = te.var("n")
    V = te.placeholder((n,), name="V")
    W = te.compute((n,), lambda i: V[i + 1], name="W")
    lower(gather, halves)
    lower(W)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(extent=st.integers(1, 9), rows=st.integers(1, 6), reduce=st.integers(1, 5),
       a=st.integers(-3, 3), b=st.integers(-2, 2), c=st.integers(-4, 9))
def test_refused_exactly_when_the_reference_evaluation_reads_out_of_bounds(
        extent, rows, reduce, a, b, c):
    """An affine index ``a*i + b*k + c``: lowering refuses the definition if and only if
    evaluating it (the reference evaluator checks every read) leaves the tensor."""
    A = te.placeholder((extent,), name="A")
    k = te.reduce_axis((0, reduce), name="k")
    B = te.compute((rows,), lambda i: te.sum(A[a * i + b * k + c], axis=k), name="B")
    try:
        evaluate([B], {A: np.ones(extent, "float32")})
        reads_outside = False
    except OutOfBoundsError:
        reads_outside = True
    try:
        lower(B)
        refused = False
    except tl.LoweringError as error:
        assert "compute 'B' reads A[" in str(error) and "extent" in str(error)
        refused = True
    assert refused == reads_outside
