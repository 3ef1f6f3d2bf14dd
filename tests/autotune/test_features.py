"""Features of lowered candidates: fixed length, deterministic, and describing what the
schedule did (work, vectorize / unroll / parallel loops, strides, allocations)."""
from __future__ import annotations

import math

import numpy as np

import tensorlang as tl
from tensorlang.autotune import FEATURE_NAMES, extract_features, extract_features_batch

from tiny_spaces import matmul

INDEX = {name: k for k, name in enumerate(FEATURE_NAMES)}


def _features(schedule_fn, n=32):
    A, B, C = matmul(n, n, n)
    s = tl.create_schedule(C)
    schedule_fn(s, C)
    return extract_features(tl.lower(s, [A, B, C]))


def _plain(s, C):
    pass


def _vectorized(s, C):
    i, j = C.op.axis
    jo, ji = s[C].split(j, factor=8)
    s[C].reorder(i, jo, C.op.reduce_axis[0], ji)
    s[C].vectorize(ji)


def _parallel_unrolled(s, C):
    i, _ = C.op.axis
    s[C].parallel(i)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=4)
    s[C].unroll(ki)


def _value(vector, name):
    return float(vector[INDEX[name]])


def test_vectors_have_the_documented_length_and_names():
    vector = _features(_plain)
    assert vector.shape == (len(FEATURE_NAMES),) and vector.dtype == np.float32
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert np.all(np.isfinite(vector))


def test_features_are_deterministic_across_definitions():
    np.testing.assert_array_equal(_features(_vectorized), _features(_vectorized))


def test_work_is_counted_from_the_loop_nest():
    n = 32
    vector = _features(_plain, n)
    # n^3 multiply-adds in the update, nothing in the initialisation
    assert _value(vector, "func.total_float_ops") == np.float32(math.log2(1 + 2 * n ** 3))
    assert _value(vector, "main.ops.float_mul") == np.float32(math.log2(1 + n ** 3))
    assert _value(vector, "func.store_count") == 2
    assert _value(vector, "func.max_loop_depth") == 3


def test_schedule_annotations_show_in_the_features():
    plain, vec, par = _features(_plain), _features(_vectorized), _features(_parallel_unrolled)
    assert _value(plain, "main.vectorized.count") == 0
    assert _value(vec, "main.vectorized.count") == 1
    assert _value(vec, "main.vectorized.innermost_extent") == np.float32(math.log2(9))
    assert _value(vec, "func.vectorized_loops") == 2  # the initialisation and the update
    assert _value(par, "main.parallel.count") == 1
    assert _value(par, "func.outer_parallel_work") == np.float32(math.log2(33))
    assert _value(par, "main.parallel.position.outer_spatial") == 1
    assert _value(par, "main.unrolled.count") == 1
    assert _value(par, "main.unrolled.position.inner_reduce") == 1
    assert not np.array_equal(plain, vec) and not np.array_equal(vec, par)


def test_innermost_stride_tells_good_from_bad_loop_orders():
    def k_innermost(s, C):
        pass

    def j_innermost(s, C):
        i, j = C.op.axis
        s[C].reorder(i, C.op.reduce_axis[0], j)

    def stride_one_bytes(vector):
        # total bytes of buffers read with unit stride in the main store
        return sum(_value(vector, f"main.buffer{k}.stride_one") for k in range(5))
    assert stride_one_bytes(_features(j_innermost)) > stride_one_bytes(_features(k_innermost))


def test_allocations_are_counted():
    def cached(s, C):
        CC = s.cache_write(C, "local")
        s[CC].compute_at(s[C], C.op.axis[0])
    vector = _features(cached)
    assert _value(vector, "func.alloc_count_local") == 1
    assert _value(vector, "func.alloc_bytes_local") == np.float32(math.log2(1 + 32 * 4))


def test_batch_stacks_rows():
    A, B, C = matmul(8, 8, 8)
    funcs = [tl.lower(tl.create_schedule(C), [A, B, C]) for _ in range(3)]
    matrix = extract_features_batch(funcs)
    assert matrix.shape == (3, len(FEATURE_NAMES))
    np.testing.assert_array_equal(matrix[0], matrix[2])


def test_bitwise_operators_count_as_integer_work():
    def features(body):
        n = 64
        A = tl.te.placeholder((n,), "int32", "A")
        B = tl.te.compute((n,), lambda i: body(A[i]), name="B")
        s = tl.create_schedule(B)
        _, inner = s[B].split(B.op.axis[0], factor=8)
        s[B].vectorize(inner)
        return extract_features(tl.lower(s, [A, B]))

    copy = features(lambda a: a)
    bits = features(lambda a: ((a >> 3) & 7) ^ (a << 1))
    assert np.all(np.isfinite(bits))
    slot = INDEX["main.ops.int_add_sub"]
    assert bits[slot] > copy[slot]
