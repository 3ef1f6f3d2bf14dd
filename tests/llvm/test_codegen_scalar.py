"""Scalar code generation: every expression and statement kind, every dtype, checked
against numpy."""
import math

import numpy as np
import pytest

from tensorlang import tir
from tensorlang.tir import expr as E
from tensorlang.tir import stmt as S
from tensorlang.tir.op import floordiv, floormod, maximum, minimum, call_intrin, select

from llvm_testing import (buffer, compile_and_run, elementwise, from_bfloat16_bits, func,
                          loop, random_array, store, to_bfloat16_bits)

INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
FLOATS = ["float16", "float32", "float64"]


def _run_elementwise(f, inputs, out_dtype):
    out = np.zeros(inputs[0].shape, dtype=out_dtype)
    compile_and_run(f, *inputs, out)
    return out


@pytest.mark.parametrize("dtype", INTS + FLOATS)
@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_arithmetic_matches_numpy(dtype, op):
    rng = np.random.default_rng(0)
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}[op]
    f = elementwise(f"{op}_{dtype}", dtype, dtype, fn, inputs=2)
    low = 0 if dtype.startswith("uint") else -100
    a, b = random_array(37, dtype, rng, low), random_array(37, dtype, rng, low)
    with np.errstate(over="ignore"):
        expected = fn(a, b)
    np.testing.assert_array_equal(_run_elementwise(f, [a, b], dtype), expected)


@pytest.mark.parametrize("dtype", FLOATS)
def test_float_division(dtype):
    rng = np.random.default_rng(1)
    f = elementwise("fdiv", dtype, dtype, lambda a, b: a / b, inputs=2)
    a = random_array(37, dtype, rng)
    b = random_array(37, dtype, rng, 1, 50)
    np.testing.assert_array_equal(_run_elementwise(f, [a, b], dtype), a / b)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint16", "uint32"])
def test_floor_division_and_modulo_by_variable(dtype):
    rng = np.random.default_rng(2)
    low = 0 if dtype.startswith("uint") else -100
    a = random_array(64, dtype, rng, low, 100)
    b = random_array(64, dtype, rng, low, 100)
    b[b == 0] = 7
    for name, fn, ref in (("div", floordiv, np.floor_divide), ("mod", floormod, np.mod)):
        f = elementwise(f"floor{name}_{dtype}", dtype, dtype, fn, n=64, inputs=2)
        np.testing.assert_array_equal(_run_elementwise(f, [a, b], dtype), ref(a, b))


@pytest.mark.parametrize("divisor", [1, 2, 3, 8, 7, 64, 100])
def test_floor_division_by_constant_with_negative_dividends(divisor):
    a = np.arange(-300, 300, dtype="int32")
    for name, fn, ref in (("div", floordiv, np.floor_divide), ("mod", floormod, np.mod)):
        f = elementwise(f"c{name}", "int32", "int32", lambda x: fn(x, divisor), n=600)
        np.testing.assert_array_equal(_run_elementwise(f, [a], "int32"), ref(a, divisor))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "uint64", "float16", "float32",
                                   "float64"])
def test_min_max(dtype):
    rng = np.random.default_rng(3)
    low = 0 if dtype.startswith("uint") else -100
    a, b = random_array(37, dtype, rng, low), random_array(37, dtype, rng, low)
    f = elementwise("mn", dtype, dtype, minimum, inputs=2)
    np.testing.assert_array_equal(_run_elementwise(f, [a, b], dtype), np.minimum(a, b))
    f = elementwise("mx", dtype, dtype, maximum, inputs=2)
    np.testing.assert_array_equal(_run_elementwise(f, [a, b], dtype), np.maximum(a, b))


@pytest.mark.parametrize("dtype", ["int16", "uint32", "float32", "float64"])
@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
def test_comparisons_into_bool_buffers(dtype, op):
    rng = np.random.default_rng(4)
    low = 0 if dtype.startswith("uint") else -5
    a, b = random_array(50, dtype, rng, low, 5), random_array(50, dtype, rng, low, 5)
    fn = {"<": lambda x, y: x < y, "<=": lambda x, y: x <= y, ">": lambda x, y: x > y,
          ">=": lambda x, y: x >= y, "==": lambda x, y: x == y,
          "!=": lambda x, y: x != y}[op]
    f = elementwise("cmp", dtype, "bool", fn, n=50, inputs=2)
    np.testing.assert_array_equal(_run_elementwise(f, [a, b], "bool"), fn(a, b))


def test_logical_operators_on_bool_buffers():
    rng = np.random.default_rng(5)
    a, b = random_array(40, "bool", rng), random_array(40, "bool", rng)
    f = elementwise("logic", "bool", "bool", lambda x, y: (x & ~y) | (~x & y), n=40,
                    inputs=2)
    np.testing.assert_array_equal(_run_elementwise(f, [a, b], "bool"), a ^ b)


def _cast_inputs(src, dst, rng):
    low = 0 if (src.startswith("uint") or dst.startswith("uint") or dst == "bool") else -100
    high = 100
    values = rng.integers(low, high, size=40).astype("float64")
    if src in FLOATS:
        values += 0.25  # fractions exercise truncation towards zero
    return values.astype(src)


@pytest.mark.parametrize("src", INTS + FLOATS + ["bool"])
@pytest.mark.parametrize("dst", INTS + FLOATS + ["bool"])
def test_casts_between_all_types(src, dst):
    rng = np.random.default_rng(6)
    a = _cast_inputs(src, dst, rng) if src != "bool" else random_array(40, "bool", rng)
    f = elementwise("cast", src, dst, lambda x: x.astype(dst), n=40)
    np.testing.assert_array_equal(_run_elementwise(f, [a], dst), a.astype(dst))


def test_bfloat16_storage_conversion_and_arithmetic():
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(64) * 100).astype("float32")
    f = elementwise("to_bf16", "float32", "bfloat16", lambda v: v.astype("bfloat16"), n=64)
    bits = _run_elementwise(f, [x], "uint16")
    np.testing.assert_array_equal(bits, to_bfloat16_bits(x))
    f = elementwise("from_bf16", "bfloat16", "float32", lambda v: v.astype("float32"), n=64)
    np.testing.assert_array_equal(_run_elementwise(f, [bits], "float32"),
                                  from_bfloat16_bits(bits))
    other = to_bfloat16_bits((rng.standard_normal(64) * 10).astype("float32"))
    f = elementwise("bf16_fma", "bfloat16", "bfloat16", lambda a, b: a * b + a, n=64,
                    inputs=2)
    a32, b32 = from_bfloat16_bits(bits), from_bfloat16_bits(other)
    product = from_bfloat16_bits(to_bfloat16_bits(a32 * b32))
    expected = to_bfloat16_bits(product + a32)
    np.testing.assert_array_equal(_run_elementwise(f, [bits, other], "uint16"), expected)


_MATH = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x),
         "tanh": np.tanh, "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
         "erf": np.vectorize(math.erf), "fabs": np.abs, "floor": np.floor, "ceil": np.ceil,
         "round": np.round, "exp2": np.exp2, "log2": np.log2, "log10": np.log10,
         "sin": np.sin, "cos": np.cos, "trunc": np.trunc}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", sorted(_MATH))
def test_math_intrinsics(name, dtype):
    rng = np.random.default_rng(8)
    positive = name in ("log", "sqrt", "rsqrt", "log2", "log10")
    x = (rng.random(64) * 6 + 0.1) if positive else (rng.random(64) * 8 - 4)
    x[:4] = [0.5, 1.5, 2.5, -0.5] if not positive else x[:4]  # ties for round
    x = x.astype(dtype)
    f = elementwise(name, dtype, dtype, lambda v: call_intrin(name, v), n=64)
    expected = _MATH[name](x.astype("float64"))
    tolerance = {"float16": 2e-3, "float32": 3e-6, "float64": 1e-12}[dtype]
    np.testing.assert_allclose(_run_elementwise(f, [x], dtype).astype("float64"), expected,
                               rtol=tolerance, atol=tolerance)


def test_power():
    rng = np.random.default_rng(9)
    a = (rng.random(32) * 4 + 0.1).astype("float32")
    b = (rng.random(32) * 3 - 1).astype("float32")
    f = elementwise("pow", "float32", "float32", lambda x, y: x ** y, n=32, inputs=2)
    np.testing.assert_allclose(_run_elementwise(f, [a, b], "float32"), a ** b, rtol=3e-6)


def test_select_does_not_evaluate_the_branch_not_taken():
    # Out[i] = A[i + 1] if i < n - 1 else -1: A[n] is never read (bounds check proves it)
    n = 16
    A, Out = buffer("A", (n,)), buffer("Out", (n,))
    i = tir.var("i")
    value = select(i < n - 1, A[i + 1], tir.const(-1.0, "float32"))
    f = func("shift", [A, Out], loop(i, n, store(Out, value, i)))
    a = np.arange(n, dtype="float32")
    out = np.zeros(n, dtype="float32")
    compile_and_run(f, a, out, bounds_check=True)
    np.testing.assert_array_equal(out, np.append(a[1:], -1))


def test_select_without_loads_and_let_expressions():
    n = 20
    A, Out = buffer("A", (n,), "int32"), buffer("Out", (n,), "int32")
    i, x = tir.var("i"), tir.var("x")
    value = E.Let(x, A[i] * 3, select(x > 10, x - 10, x), tir.dtype("int32"))
    f = func("let_select", [A, Out], loop(i, n, store(Out, value, i)))
    a = np.arange(-10, 10, dtype="int32")
    out = np.zeros(n, dtype="int32")
    compile_and_run(f, a, out)
    np.testing.assert_array_equal(out, np.where(a * 3 > 10, a * 3 - 10, a * 3))


def test_statements_if_then_else_let_attr_evaluate():
    n = 12
    A, Out = buffer("A", (n,), "int64"), buffer("Out", (n,), "int64")
    i, t = tir.var("i"), tir.var("t", "int64")
    branch = S.IfThenElse(floormod(i, 3) == 0, store(Out, t * 2, i), store(Out, t, i))
    body = S.LetStmt(t, A[i] + tir.const(1, "int64"), S.seq(S.Evaluate(tir.const(0)), branch))
    body = S.AttrStmt(None, "pragma_test", tir.const(1), loop(i, n, body))
    f = func("stmts", [A, Out], body)
    a = np.arange(n, dtype="int64") * 5
    out = np.zeros(n, dtype="int64")
    compile_and_run(f, a, out)
    np.testing.assert_array_equal(out, np.where(np.arange(n) % 3 == 0, (a + 1) * 2, a + 1))


def test_two_dimensional_buffers_nonzero_loop_start_and_int64_loops():
    A, Out = buffer("A", (6, 7)), buffer("Out", (6, 7))
    i, j = tir.var("i", "int64"), tir.var("j")
    body = loop(i, tir.const(5, "int64"), loop(j, 6, store(Out, A[i, j] * 2.0, i, j), start=1),
                start=tir.const(1, "int64"))
    f = func("two_d", [A, Out], body)
    a = np.random.default_rng(10).random((6, 7)).astype("float32")
    out = np.zeros((6, 7), dtype="float32")
    compile_and_run(f, a, out)
    expected = np.zeros_like(a)
    expected[1:, 1:] = a[1:, 1:] * 2
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("size", [16, 40000])
def test_allocate_on_stack_and_heap(size):
    # Tmp (small: stack, large: heap) holds A + 1, then Out = Tmp * 2
    A, Out = buffer("A", (size,)), buffer("Out", (size,))
    Tmp = buffer("Tmp", (size,), scope="local")
    i, j = tir.var("i"), tir.var("j")
    body = S.Allocate(Tmp, S.seq(loop(i, size, store(Tmp, A[i] + 1.0, i)),
                                 loop(j, size, store(Out, Tmp[j] * 2.0, j))))
    f = func("alloc", [A, Out], body)
    a = np.arange(size, dtype="float32")
    out = np.zeros(size, dtype="float32")
    compile_and_run(f, a, out)
    np.testing.assert_array_equal(out, (a + 1) * 2)


def test_symbolic_shapes_and_symbolic_allocation():
    n, m = tir.var("n"), tir.var("m")
    A, Out = buffer("A", (n, m)), buffer("Out", (n, m))
    Tmp = buffer("Tmp", (m,))
    i, j, k = tir.var("i"), tir.var("j"), tir.var("k")
    row = S.Allocate(Tmp, S.seq(loop(j, m, store(Tmp, A[i, j] * A[i, j], j)),
                                loop(k, m, store(Out, Tmp[k] + 1.0, i, k))))
    f = func("sym", [A, Out], loop(i, n, row))
    mod = None
    for shape in [(3, 5), (7, 2), (1, 33)]:
        a = np.random.default_rng(11).random(shape).astype("float32")
        out = np.zeros(shape, dtype="float32")
        if mod is None:
            mod = compile_and_run(f, a, out)
        else:
            mod(a, out)
        np.testing.assert_allclose(out, a * a + 1, rtol=1e-6)


def test_scalar_parameters_of_every_kind():
    n = tir.var("n")
    scale, offset, flag = tir.var("scale", "float64"), tir.var("offset", "int16"), \
        tir.var("flag", "bool")
    A, Out = buffer("A", (n,), "float64"), buffer("Out", (n,), "float64")
    i = tir.var("i")
    value = select(flag, A[i] * scale + offset.astype("float64"), A[i])
    f = func("scalars", [A, Out, scale, offset, flag], loop(i, n, store(Out, value, i)))
    a = np.arange(5, dtype="float64")
    out = np.zeros(5)
    mod = compile_and_run(f, a, out, 2.5, -3, True)
    np.testing.assert_array_equal(out, a * 2.5 - 3)
    mod(a, out, 2.5, -3, False)
    np.testing.assert_array_equal(out, a)
