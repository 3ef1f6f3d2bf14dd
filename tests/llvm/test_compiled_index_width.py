"""Compiled code over 2**31 elements and more: 64-bit loops where the extents need them,
32-bit ones elsewhere, and calls that refuse a dimension its variable cannot hold.

Two tests write one real 2 GiB uint8 array (2**31 + 2**15 elements, each test its own
values), freed after them.  The refusals use ``np.empty`` arrays whose pages are never touched.
"""
from __future__ import annotations

import gc

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te

ROWS, COLS = 2**16 + 1, 2**15          # 2**31 + 2**15 elements: past int32 when flattened


def _ramp_compute(shape, scale=3, name="C"):
    return te.compute(shape, lambda i, j: (i * scale + j).astype("uint8"), name=name)


def _check_ends(out: np.ndarray, scale=3, rows: int = 3) -> None:
    """The last ``rows`` rows (and the first two) hold (scale i + j) mod 256."""
    cols = np.arange(out.shape[1])
    for block in (np.arange(2), np.arange(out.shape[0] - rows, out.shape[0])):
        expected = ((block[:, None] * scale + cols[None, :]) % 256).astype("uint8")
        np.testing.assert_array_equal(out[block[0]:block[-1] + 1], expected)


def _loop_phis(mod) -> set:
    """The types of the loop counters in the function's unoptimised IR."""
    return {line.split("phi ")[1].split()[0] for line in mod.get_source("ll").splitlines()
            if " = phi " in line and "for." in line}


@pytest.fixture(scope="module")
def big_output():
    out = np.empty((ROWS, COLS), "uint8")
    yield out
    del out
    gc.collect()


def test_vectorized_parallel_fused_loop_writes_the_far_end(big_output):
    C = _ramp_compute((ROWS, COLS))
    s = tl.create_schedule(C)
    outer, inner = s[C].split(s[C].fuse(*C.op.axis), factor=64)
    s[C].vectorize(inner)
    s[C].parallel(outer)
    mod = tl.build(s, [C])
    mod(big_output)
    _check_ends(big_output)


def test_fused_loop_over_symbolic_dimensions_writes_the_far_end(big_output):
    n = te.var("n")
    C = _ramp_compute((n, COLS), scale=5)
    s = tl.create_schedule(C)
    s[C].fuse(*C.op.axis)               # n * 32768 iterations: counted in 64 bits
    mod = tl.build(s, [C])
    mod(big_output)
    _check_ends(big_output, scale=5)


def test_loop_counters_are_64_bit_only_where_the_extent_needs_it():
    def fused(shape):
        C = _ramp_compute(shape)
        s = tl.create_schedule(C)
        s[C].fuse(*C.op.axis)
        return tl.build(s, [C], opt_level=0)
    assert _loop_phis(fused((ROWS, COLS))) == {"i64"}
    assert _loop_phis(fused((512, 512))) == {"i32"}


def test_dimension_too_large_for_its_variable_names_tensor_and_axis():
    n = te.var("n")                     # int32
    A = te.placeholder((n,), "uint8", name="A")
    B = te.compute((n,), lambda i: A[i] + 1, name="B")
    mod = tl.build(tl.create_schedule(B), [A, B])
    a = np.empty(2**31, "uint8")        # never touched: no memory is used
    b = np.empty(2**31, "uint8")
    with pytest.raises(ValueError, match=r"argument 'A' has 2147483648 elements along "
                                         r"axis 0.*int32 dimension variable 'n'.*int64"):
        mod(a, b)
    wide = te.var("m", dtype="int64")
    A = te.placeholder((wide,), "uint8", name="A")
    B = te.compute((wide,), lambda i: A[i] + 1, name="B")
    mod = tl.build(tl.create_schedule(B), [A, B])
    small_a = np.arange(10, dtype="uint8")
    small_b = np.zeros(10, "uint8")
    mod(small_a, small_b)
    np.testing.assert_array_equal(small_b, small_a + 1)


def test_dimension_variable_of_a_narrow_type_is_checked_too():
    n = te.var("n", dtype="int8")
    A = te.placeholder((n,), "float32", name="A")
    B = te.compute((n,), lambda i: A[i] * 2.0, name="B")
    mod = tl.build(tl.create_schedule(B), [A, B])
    with pytest.raises(ValueError, match=r"'A' has 200 elements along axis 0.*'n'"):
        mod(np.zeros(200, "float32"), np.zeros(200, "float32"))
    a = np.arange(127, dtype="float32")
    b = np.zeros_like(a)
    mod(a, b)
    np.testing.assert_array_equal(b, a * 2)
