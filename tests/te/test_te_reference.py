"""The numpy reference evaluator against numpy computations written independently."""
import math

import numpy as np
import pytest

from tensorlang import te
from tensorlang.errors import TensorLangTypeError, TensorLangValueError
from tensorlang.te import reference_ops
from tensorlang.te.reference import OutOfBoundsError, evaluate

RNG = np.random.default_rng(7)


def _matmul(n, m, l, dtype="float32"):
    A = te.placeholder((n, l), dtype=dtype, name="A")
    B = te.placeholder((l, m), dtype=dtype, name="B")
    k = te.reduce_axis((0, l), name="k")
    return A, B, te.compute((n, m), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")


def test_matmul_float32_stays_float32():
    A, B, C = _matmul(64, 64, 64)
    a, b = RNG.random((64, 64), "float32"), RNG.random((64, 64), "float32")
    [c] = evaluate([C], {A: a, B: b})
    assert c.dtype == np.float32 and c.shape == (64, 64)
    np.testing.assert_allclose(c, a.astype(float) @ b.astype(float), rtol=1e-5)


def test_integer_arithmetic_wraps_around():
    A, B, C = _matmul(4, 5, 6, "int8")
    a = RNG.integers(-128, 128, (4, 6)).astype("int8")
    b = RNG.integers(-128, 128, (6, 5)).astype("int8")
    [c] = evaluate(C, {A: a, B: b})
    exact = a.astype(np.int64) @ b.astype(np.int64)
    assert c.dtype == np.int8
    np.testing.assert_array_equal(c, ((exact + 128) % 256 - 128).astype("int8"))


def test_unsigned_wraparound_and_casts():
    U = te.placeholder((6,), dtype="uint8", name="U")
    V = te.compute((6,), lambda i: (U[i] - 3).astype("int16") * 2, name="V")
    u = np.array([0, 1, 2, 3, 200, 255], dtype="uint8")
    [v] = evaluate(V, {U: u})
    np.testing.assert_array_equal(v, ((u.astype(int) - 3) % 256) * 2)


def test_float_to_int_cast_truncates_towards_zero():
    F = te.placeholder((6,), name="F")
    T = te.compute((6,), lambda i: F[i].astype("int32"), name="T")
    B = te.compute((6,), lambda i: F[i].astype("bool"), name="B")
    f = np.array([-2.7, -0.5, 0.0, 0.5, 1.9, 3.0], dtype="float32")
    t, b = evaluate([T, B], {F: f})
    np.testing.assert_array_equal(t, [math.trunc(float(x)) for x in f])
    np.testing.assert_array_equal(b, f != 0)


def test_float16_rounds_every_operation():
    H = te.placeholder((8,), dtype="float16", name="H")
    R = te.compute((8,), lambda i: H[i] * H[i] + 1.0, name="R")
    h = np.linspace(-3, 3, 8).astype("float16")
    [r] = evaluate(R, {H: h})
    assert r.dtype == np.float16
    np.testing.assert_array_equal(r, (h * h).astype("float16") + np.float16(1))


def _to_bf16_bits(values):
    """bfloat16 bits by round-to-nearest-even, written with Python integers."""
    out = []
    for v in np.asarray(values, "float32").ravel():
        bits = int(np.float32(v).view(np.uint32))
        out.append(((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF)
    return np.array(out, dtype="uint16").reshape(np.shape(values))


def _from_bf16_bits(bits):
    return (np.asarray(bits, "uint32") << 16).view("float32")


def test_bfloat16_travels_as_bits_with_float32_arithmetic():
    X = te.placeholder((16,), dtype="bfloat16", name="X")
    Y = te.compute((16,), lambda i: X[i] * 3.0 + 0.1, name="Y")
    x_bits = _to_bf16_bits(RNG.normal(size=16))
    [y] = evaluate(Y, {X: x_bits})
    assert y.dtype == np.uint16
    product = _from_bf16_bits(_to_bf16_bits(_from_bf16_bits(x_bits) * np.float32(3)))
    expected = _to_bf16_bits(product + _from_bf16_bits(_to_bf16_bits(np.float32(0.1))))
    np.testing.assert_array_equal(y, expected)
    back = te.compute((16,), lambda i: X[i].astype("float32"), name="back")
    np.testing.assert_array_equal(evaluate(back, {X: x_bits})[0], _from_bf16_bits(x_bits))


def test_lazy_if_then_else_allows_padding_reads():
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    P = te.compute((n + 4,), lambda i: te.if_then_else(te.all(i >= 2, i < n + 2), A[i - 2],
                                                       -1.0), name="P")
    a = RNG.random(5, "float32")
    np.testing.assert_array_equal(evaluate(P, {A: a})[0], np.pad(a, 2, constant_values=-1))


def test_unguarded_out_of_bounds_read_is_reported():
    A = te.placeholder((5,), name="A")
    B = te.compute((5,), lambda i: A[i + 1], name="shifted")
    with pytest.raises(OutOfBoundsError, match=r"'shifted' reads 'A' out of bounds.*i=4"):
        evaluate(B, {A: np.zeros(5, "float32")})
    # the wrong branch of a select reads out of bounds exactly where it is taken
    C = te.compute((5,), lambda i: te.if_then_else(i < 4, A[i + 2], 0.0), name="C")
    with pytest.raises(OutOfBoundsError, match=r"'C' reads 'A'"):
        evaluate(C, {A: np.zeros(5, "float32")})


def test_where_masks_reads_out_of_bounds():
    A = te.placeholder((6,), name="A")
    k = te.reduce_axis((0, 6), name="k")
    # sum_{k <= i} A[i - k], with the masked points reading negative indices
    S = te.compute((6,), lambda i: te.sum(A[i - k], axis=k, where=k <= i), name="S")
    a = RNG.random(6, "float32")
    np.testing.assert_allclose(evaluate(S, {A: a})[0], np.cumsum(a), rtol=1e-6)


def test_generic_reducer_folds_with_its_identity():
    # (x + 1)(y + 1) - 1 is commutative and associative with identity 0
    odd = te.comm_reducer(lambda x, y: x * y + x + y, lambda t: te.const(0, t), name="odd")
    A = te.placeholder((3, 7), dtype="int64", name="A")
    k = te.reduce_axis((0, 7), name="k")
    B = te.compute((3,), lambda i: odd(A[i, k], axis=k, where=k != 3), name="B")
    a = RNG.integers(-3, 4, (3, 7)).astype("int64")
    mask = np.arange(7) != 3
    expected = np.prod(np.where(mask, a + 1, 1), axis=1) - 1
    np.testing.assert_array_equal(evaluate(B, {A: a})[0], expected)


def test_tuple_reducer_keeps_the_first_index_on_ties():
    def fcombine(x, y):
        keep = x[1] <= y[1]
        return te.if_then_else(keep, x[0], y[0]), te.if_then_else(keep, x[1], y[1])

    argmin = te.comm_reducer(fcombine, lambda t0, t1: (te.const(-1, t0), te.max_value(t1)))
    A = te.placeholder((20, 11), dtype="int32", name="A")
    k = te.reduce_axis((0, 11), name="k")
    index, value = te.compute((20,), lambda i: argmin((k.var, A[i, k]), axis=k), name="T")
    a = RNG.integers(0, 3, (20, 11)).astype("int32")
    got_index, got_value = evaluate([index, value], {A: a})
    np.testing.assert_array_equal(got_index, a.argmin(1))
    np.testing.assert_array_equal(got_value, a.min(1))


def test_reduction_init_value():
    A = te.placeholder((3, 4), name="A")
    k = te.reduce_axis((0, 4), name="k")
    B = te.compute((3,), lambda i: te.sum(A[i, k], axis=k, init=10.0), name="B")
    a = RNG.random((3, 4), "float32")
    np.testing.assert_allclose(evaluate(B, {A: a})[0], a.sum(1) + 10, rtol=1e-6)


def test_empty_symbolic_reduction_gives_the_identity():
    n, m = te.var("n"), te.var("m")
    A = te.placeholder((n, 4), name="A")
    k = te.reduce_axis((0, m), name="k")
    B = te.compute((n,), lambda i: te.max(A[i, k], axis=k), name="B")
    [b] = evaluate(B, {A: np.zeros((3, 4), "float32")}, shape_vars={m: 0})
    np.testing.assert_array_equal(b, np.full(3, -np.inf, "float32"))


def test_large_reductions_are_chunked(monkeypatch):
    monkeypatch.setattr(reference_ops, "_GRID_LIMIT", 1000)
    A, B, C = _matmul(17, 13, 45, "int32")
    a = RNG.integers(-9, 9, (17, 45)).astype("int32")
    b = RNG.integers(-9, 9, (45, 13)).astype("int32")
    np.testing.assert_array_equal(evaluate(C, {A: a, B: b})[0], a @ b)
    odd = te.comm_reducer(lambda x, y: x * y + x + y, lambda t: te.const(0, t))
    k = te.reduce_axis((0, 45), name="k2")
    D = te.compute((17,), lambda i: odd(A[i, k] % 2, axis=k), name="D")
    np.testing.assert_array_equal(evaluate(D, {A: a})[0], np.prod(a % 2 + 1, axis=1) - 1)


def test_reduce_axis_with_nonzero_start():
    A = te.placeholder((4, 10), name="A")
    k = te.reduce_axis((3, 8), name="k")
    B = te.compute((4,), lambda i: te.sum(A[i, k], axis=k), name="B")
    a = RNG.random((4, 10), "float32")
    np.testing.assert_allclose(evaluate(B, {A: a})[0], a[:, 3:8].sum(1), rtol=1e-6)


def test_multi_stage_graph_and_several_outputs():
    A = te.placeholder((6, 3), name="A")
    B = te.compute((6, 3), lambda i, j: A[i, j] * 2.0, name="B")
    k = te.reduce_axis((0, 3), name="k")
    C = te.compute((6,), lambda i: te.sum(B[i, k], axis=k), name="C")
    a = RNG.random((6, 3), "float32")
    c, b = evaluate([C, B], {A: a})
    np.testing.assert_allclose(b, a * 2)
    np.testing.assert_allclose(c, (a * 2).sum(1), rtol=1e-6)


def test_shape_vars_by_object_by_name_and_inferred():
    n, m = te.var("n"), te.var("m")
    A = te.placeholder((n,), name="A")
    B = te.compute((m,), lambda i: A[i % n] + 1.0, name="B")
    a = np.arange(3, dtype="float32")
    for shape_vars in ({m: 7}, {"m": 7}):
        np.testing.assert_array_equal(evaluate(B, {A: a}, shape_vars)[0],
                                      np.resize(a, 7) + 1)
    with pytest.raises(TensorLangValueError, match=r"variable 'm' has no value.*shape_vars"):
        evaluate(B, {A: a})
    with pytest.raises(TensorLangValueError, match=r"placeholder 'A' dimension 0.*is 4"):
        evaluate(B, {"A": a}, {m: 7, n: 4})


def test_scalar_parameter():
    alpha = te.var("alpha", "float32")
    A = te.placeholder((4,), name="A")
    B = te.compute((4,), lambda i: A[i] * alpha, name="B")
    a = np.arange(4, dtype="float32")
    np.testing.assert_array_equal(evaluate(B, {A: a}, {alpha: 2.5})[0], a * np.float32(2.5))


def test_input_errors_name_the_placeholder():
    A = te.placeholder((4,), name="A")
    B = te.compute((4,), lambda i: A[i] + 1.0, name="B")
    with pytest.raises(TensorLangValueError, match=r"no array given for the placeholder 'A'"):
        evaluate(B, {})
    with pytest.raises(TensorLangTypeError, match=r"placeholder 'A' has dtype float32.*float64"):
        evaluate(B, {A: np.zeros(4)})
    with pytest.raises(TensorLangValueError, match=r"placeholder 'A' has 1 dimension"):
        evaluate(B, {A: np.zeros((4, 1), "float32")})
    with pytest.raises(TensorLangValueError, match=r"no placeholder named 'Z'"):
        evaluate(B, {"Z": np.zeros(4, "float32")})
