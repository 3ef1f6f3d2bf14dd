"""Vector code generation: Ramp/Broadcast values, contiguous vector loads and stores,
gathers, scatters, masked loads under vector selects, vector casts and arithmetic."""
import numpy as np
import pytest

from tensorlang import tir
from tensorlang.tir import stmt as S
from tensorlang.tir.op import call_intrin, floordiv, floormod, maximum, select
from tensorlang.target import Target

from llvm_testing import (UNROLLED, VECTORIZED, buffer, compile_and_run, func, loop,
                          random_array, store, to_bfloat16_bits)

LANES = 16


def ramp(base, lanes=LANES, stride=1):
    return tir.ramp(base, stride, lanes)


def bcast(value, dtype="float32", lanes=LANES):
    return tir.broadcast(tir.const(value, dtype), lanes)


def test_contiguous_vector_arithmetic():
    n = 8 * LANES
    A, B, Out = buffer("A", (n,)), buffer("B", (n,)), buffer("Out", (n,))
    i = tir.var("i")
    index = ramp(i * LANES)
    body = loop(i, n // LANES, store(Out, A[index] * bcast(2.0) + B[index], index))
    f = func("vfma", [A, B, Out], body)
    rng = np.random.default_rng(0)
    a, b = rng.random(n).astype("float32"), rng.random(n).astype("float32")
    out = np.zeros(n, dtype="float32")
    mod = compile_and_run(f, a, b, out)
    np.testing.assert_allclose(out, a * 2 + b, rtol=1e-6)
    assert f"<{LANES} x float>" in mod.get_source("ll")


def test_two_dimensional_vector_rows_with_symbolic_shape():
    n = tir.var("n")
    A, Out = buffer("A", (n, 32), "int32"), buffer("Out", (n, 32), "int32")
    i, j = tir.var("i"), tir.var("j")
    index = ramp(j * LANES)
    body = loop(i, n, loop(j, 2, store(Out, A[i, index] * tir.broadcast(3, LANES), i, index)))
    f = func("rows", [A, Out], body)
    a = np.arange(5 * 32, dtype="int32").reshape(5, 32)
    out = np.zeros_like(a)
    compile_and_run(f, a, out)
    np.testing.assert_array_equal(out, a * 3)


def test_gather_strided_and_transposed():
    A, Out = buffer("A", (8, 24)), buffer("Out", (24, 8))
    i = tir.var("i")
    # Out[i, 0:8] = A[0:8, i]: the vector index is on the first dimension
    body = loop(i, 24, store(Out, A[ramp(0, 8), i], i, ramp(0, 8)))
    f = func("transpose", [A, Out], body)
    a = np.random.default_rng(1).random((8, 24)).astype("float32")
    out = np.zeros((24, 8), dtype="float32")
    compile_and_run(f, a, out)
    np.testing.assert_array_equal(out, a.T)


def test_scatter_with_stride():
    A, Out = buffer("A", (32,), "int16"), buffer("Out", (64,), "int16")
    i = tir.var("i")
    body = loop(i, 4, store(Out, A[ramp(i * 8, 8)], ramp(i * 16, 8, 2)))
    f = func("scatter", [A, Out], body)
    a = np.arange(32, dtype="int16")
    out = np.zeros(64, dtype="int16")
    compile_and_run(f, a, out)
    expected = np.zeros(64, dtype="int16")
    expected[::2] = a
    np.testing.assert_array_equal(out, expected)


def test_vector_select_with_loads_masks_out_of_bounds_lanes():
    # a shifted copy with padding: Out[k] = A[k - 3] if k >= 3 else 0, one 16-lane vector
    n = 32
    A, Out = buffer("A", (n,)), buffer("Out", (n,))
    i = tir.var("i")
    index = ramp(i * LANES)
    shifted = ramp(i * LANES - 3)
    value = select(index >= tir.broadcast(3, LANES), A[shifted], bcast(0.0))
    f = func("pad", [A, Out], loop(i, n // LANES, store(Out, value, index)))
    a = np.arange(1, n + 1, dtype="float32")
    out = np.full(n, -1, dtype="float32")
    compile_and_run(f, a, out, bounds_check=True)
    np.testing.assert_array_equal(out, np.concatenate([np.zeros(3), a[:-3]]))


def test_vector_select_gather_branch_under_mask():
    n = 16
    A, Out = buffer("A", (n,)), buffer("Out", (n,))
    lanes = ramp(0)
    # reversed index, valid only for even lanes' condition (index < 8)
    value = select(lanes < tir.broadcast(8, LANES), A[ramp(15, LANES, -1)], bcast(7.0))
    f = func("masked_gather", [A, Out], store(Out, value, lanes))
    a = np.arange(n, dtype="float32")
    out = np.zeros(n, dtype="float32")
    compile_and_run(f, a, out, bounds_check=True)
    np.testing.assert_array_equal(out, np.where(np.arange(n) < 8, a[::-1], 7))


@pytest.mark.parametrize("src,dst", [("int32", "float32"), ("float32", "int32"),
                                     ("float32", "float16"), ("float16", "float32"),
                                     ("int8", "int32"), ("uint8", "float32"),
                                     ("float32", "bfloat16"), ("int32", "bool"),
                                     ("bool", "float32")])
def test_vector_casts(src, dst):
    A = buffer("A", (LANES,), src)
    Out = buffer("Out", (LANES,), dst)
    f = func("vcast", [A, Out], store(Out, A[ramp(0)].astype(dst), ramp(0)))
    rng = np.random.default_rng(2)
    a = random_array(LANES, src if src != "bfloat16" else "uint16", rng, 0, 100)
    storage = "uint16" if dst == "bfloat16" else dst
    out = np.zeros(LANES, dtype=storage)
    compile_and_run(f, a, out)
    if dst == "bfloat16":
        np.testing.assert_array_equal(out, to_bfloat16_bits(a))
    else:
        np.testing.assert_array_equal(out, a.astype(dst))


def test_vector_integer_division_min_max_and_compare():
    A, B = buffer("A", (LANES,), "int32"), buffer("B", (LANES,), "int32")
    D, M, X = (buffer(name, (LANES,), "int32") for name in ("D", "M", "X"))
    C = buffer("C", (LANES,), "bool")
    idx = ramp(0)
    body = S.seq(store(D, floordiv(A[idx], B[idx]), idx),
                 store(M, floormod(A[idx], tir.broadcast(4, LANES)), idx),
                 store(X, maximum(A[idx], B[idx]), idx),
                 store(C, A[idx] < B[idx], idx))
    f = func("vint", [A, B, D, M, X, C], body)
    a = np.arange(-8, 8, dtype="int32") * 3
    b = np.array([3, -3, 5, -7, 2, 9, -1, 4, 6, -2, 3, 3, -5, 8, 1, -9], dtype="int32")
    d, m, x = (np.zeros(LANES, dtype="int32") for _ in range(3))
    c = np.zeros(LANES, dtype=bool)
    compile_and_run(f, a, b, d, m, x, c)
    np.testing.assert_array_equal(d, a // b)
    np.testing.assert_array_equal(m, a % 4)
    np.testing.assert_array_equal(x, np.maximum(a, b))
    np.testing.assert_array_equal(c, a < b)


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sigmoid", "erf", "sqrt", "rsqrt"])
def test_vector_math_float32(name):
    n = 4 * LANES
    A, Out = buffer("A", (n,)), buffer("Out", (n,))
    i = tir.var("i")
    idx = ramp(i * LANES)
    f = func("vmath", [A, Out], loop(i, 4, store(Out, call_intrin(name, A[idx]), idx)))
    a = np.linspace(0.05, 4, n).astype("float32")
    out = np.zeros(n, dtype="float32")
    compile_and_run(f, a, out)
    import math
    reference = {"exp": np.exp, "log": np.log, "tanh": np.tanh,
                 "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "erf": np.vectorize(math.erf),
                 "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x)}[name]
    np.testing.assert_allclose(out, reference(a.astype("float64")), rtol=3e-6, atol=1e-7)


@pytest.mark.parametrize("kind", [VECTORIZED, UNROLLED])
def test_remaining_vectorized_and_unrolled_loops_run_as_loops(kind):
    n = tir.var("n")
    A, Out = buffer("A", (n,)), buffer("Out", (n,))
    i = tir.var("i")
    f = func("kinds", [A, Out], loop(i, n, store(Out, A[i] + 1.0, i), kind))
    a = np.arange(37, dtype="float32")
    out = np.zeros(37, dtype="float32")
    compile_and_run(f, a, out)
    np.testing.assert_array_equal(out, a + 1)


def test_allocated_buffers_get_aligned_vector_accesses():
    n = 4 * LANES
    A, Out = buffer("A", (n,)), buffer("Out", (n,))
    Tmp = buffer("Tmp", (n,), scope="local")
    i, j = tir.var("i"), tir.var("j")
    body = S.Allocate(Tmp, S.seq(
        loop(i, 4, store(Tmp, A[ramp(i * LANES)] * bcast(3.0), ramp(i * LANES))),
        loop(j, 4, store(Out, Tmp[ramp(j * LANES)] + bcast(1.0), ramp(j * LANES)))))
    f = func("aligned", [A, Out], body)
    a = np.arange(n, dtype="float32")
    out = np.zeros(n, dtype="float32")
    mod = compile_and_run(f, a, out, opt_level=0)
    np.testing.assert_array_equal(out, a * 3 + 1)
    assert f"store <{LANES} x float>" in mod.get_source("ll")
    assert "align 64" in mod.get_source("ll")


def test_functions_prefer_full_vector_width():
    if Target("llvm").vector_bits < 512:
        pytest.skip("the host has no AVX-512")
    n = tir.var("n")
    A, Out = buffer("A", (n,)), buffer("Out", (n,))
    i = tir.var("i")
    f = func("auto_vec", [A, Out], loop(i, n, store(Out, A[i] * 2.0, i)))
    mod = compile_and_run(f, np.ones(64, "float32"), np.zeros(64, "float32"))
    source = mod.get_source("ll")
    assert '"prefer-vector-width"="512"' in source
    assert "<16 x float>" in source
    assert "zmm" in mod.get_source("asm")


@pytest.mark.parametrize("vectorized", [False, True])
def test_bool_input_reads_any_nonzero_byte_as_true(vectorized):
    # numpy's bool arrays may hold bytes other than 0 and 1 (a uint8 array viewed as bool)
    import tensorlang as tl
    from tensorlang import te
    A = te.placeholder((64,), dtype="bool", name="A")
    B = te.compute((64,), lambda i: te.if_then_else(A[i], 1, 0), name="B")
    s = tl.create_schedule(B)
    if vectorized:
        _, inner = s[B].split(B.op.axis[0], factor=16)
        s[B].vectorize(inner)
    mod = tl.build(s, [A, B])
    raw = (np.arange(64) % 4).astype("uint8")
    out = np.zeros(64, "int32")
    mod(raw.view(bool), out)
    np.testing.assert_array_equal(out, (raw != 0).astype("int32"))
