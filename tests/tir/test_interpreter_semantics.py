"""Exact arithmetic semantics of the interpreter: wrapping integers, floor division,
per-operation rounding of float16 / float32, bfloat16 storage; compared with numpy arrays
(which implement the same IEEE / two's-complement rules independently)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tensorlang import tir
from tensorlang.tir import (BufferStore, For, ForKind, PrimFunc, cast, const, decl_buffer,
                            var)
from tensorlang.tir import op
from tensorlang.tir import expr as E
from tensorlang.tir.interpreter import interpret

INT_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def elementwise(n, dtypes, fn, out_dtype):
    ins = [decl_buffer((n,), dt, f"in{k}") for k, dt in enumerate(dtypes)]
    out = decl_buffer((n,), out_dtype, "out")
    i = var("i")
    body = For(i, const(0), const(n), ForKind.SERIAL,
               BufferStore(out, fn(*[b[i] for b in ins]), (i,)))
    return PrimFunc("elementwise", (*ins, out), body)


def run(fn, arrays, out_dtype, in_dtypes=None):
    """out[i] = fn(in0[i], ...); bfloat16 arrays travel as uint16 bit patterns."""
    n = arrays[0].shape[0]
    func = elementwise(n, in_dtypes or [str(a.dtype) for a in arrays], fn, out_dtype)
    out = np.zeros(n, tir.dtype(out_dtype).numpy_dtype)
    interpret(func, *arrays, out)
    return out


def random_ints(dtype, n=64, seed=0):
    info = np.iinfo(dtype)
    gen = np.random.default_rng(seed)
    values = gen.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    values[:4] = [info.min, info.max, 0, 1]
    return values


@pytest.mark.parametrize("dtype", INT_TYPES)
def test_integer_arithmetic_wraps_like_the_type(dtype):
    a, b = random_ints(dtype, seed=1), random_ints(dtype, seed=2)
    # numpy arrays wrap modulo 2**bits: the reference
    np.testing.assert_array_equal(run(lambda x, y: x + y, [a, b], dtype), a + b)
    np.testing.assert_array_equal(run(lambda x, y: x - y, [a, b], dtype), a - b)
    np.testing.assert_array_equal(run(lambda x, y: x * y, [a, b], dtype), a * b)
    np.testing.assert_array_equal(run(lambda x, y: x * y + x - y, [a, b], dtype),
                                  a * b + a - b)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint16"])
def test_floor_division_and_modulo(dtype):
    a = random_ints(dtype, seed=3)
    b = random_ints(dtype, seed=4)
    b[b == 0] = 7
    signed = np.dtype(dtype).kind == "i"
    if signed:
        # INT_MIN // -1 overflows: wrap as two's complement, like numpy
        b[0] = -1
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(run(lambda x, y: x // y, [a, b], dtype), a // b)
    np.testing.assert_array_equal(run(lambda x, y: x % y, [a, b], dtype), a % b)


def test_python_floor_semantics_on_small_values():
    a = np.array([7, -7, 7, -7, 0, -1], np.int32)
    b = np.array([2, 2, -2, -2, 3, 5], np.int32)
    expected_div = [x // y for x, y in zip(a.tolist(), b.tolist())]
    expected_mod = [x % y for x, y in zip(a.tolist(), b.tolist())]
    assert run(lambda x, y: x // y, [a, b], "int32").tolist() == expected_div
    assert run(lambda x, y: x % y, [a, b], "int32").tolist() == expected_mod


def test_min_max_and_comparisons():
    a, b = random_ints("int16", seed=5), random_ints("int16", seed=6)
    np.testing.assert_array_equal(run(op.minimum, [a, b], "int16"), np.minimum(a, b))
    np.testing.assert_array_equal(run(op.maximum, [a, b], "int16"), np.maximum(a, b))
    np.testing.assert_array_equal(run(lambda x, y: x < y, [a, b], "bool"), a < b)
    np.testing.assert_array_equal(run(lambda x, y: x == y, [a, a], "bool"), a == a)


@pytest.mark.parametrize("source,target", [("int32", "int8"), ("int64", "int32"),
                                           ("int32", "uint8"), ("uint32", "int16"),
                                           ("int8", "int64"), ("uint64", "int64")])
def test_integer_casts_wrap(source, target):
    a = random_ints(source, seed=7)
    np.testing.assert_array_equal(run(lambda x: cast(x, target), [a], target),
                                  a.astype(target))


def float_inputs(dtype, n=64, seed=0):
    gen = np.random.default_rng(seed)
    return (gen.standard_normal(n) * 3).astype(dtype)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_float_results_are_rounded_after_each_operation(dtype):
    a, b = float_inputs(dtype, seed=8), float_inputs(dtype, seed=9)
    b[b == 0] = 1
    # numpy array operations round every result to the array's type
    fn = lambda x, y: (x * y + x) / y - y * y  # noqa: E731
    np.testing.assert_array_equal(run(fn, [a, b], dtype), (a * b + a) / b - b * b)


def test_float_overflow_and_division_by_zero_follow_ieee():
    a = np.array([1e38, 1.0, -1.0, 0.0], np.float32)
    b = np.array([10.0, 0.0, 0.0, 0.0], np.float32)
    out = run(lambda x, y: x * y, [a, b], "float32")
    assert np.isinf(out[0])
    out = run(lambda x, y: x / y, [a, b], "float32")
    assert out[1] == np.inf and out[2] == -np.inf and np.isnan(out[3])


def test_float16_accumulation_rounds_every_step():
    n = 16
    x = decl_buffer((n,), "float16", "x")
    total = decl_buffer((1,), "float16", "total")
    i = var("i")
    body = For(i, const(0), const(n), ForKind.SERIAL,
               BufferStore(total, total[0] + x[i], (const(0),)))
    values = (np.arange(n) * 0.1 + 1000).astype(np.float16)
    out = np.zeros(1, np.float16)
    interpret(PrimFunc("sum16", (x, total), body), values, out)
    expected = np.zeros(1, np.float16)
    for v in values:
        expected = expected + v
    np.testing.assert_array_equal(out, expected)


def reference_bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even of float32 to bfloat16 by comparing the two neighbours."""
    result = []
    for value in values.astype(np.float32):
        bits = int(value.view(np.uint32))
        if np.isnan(value):
            result.append(0x7FC0 | (bits >> 16 & 0x8000))
            continue
        low = bits >> 16
        remainder = bits & 0xFFFF
        if remainder > 0x8000 or (remainder == 0x8000 and low & 1):
            low += 1
        result.append(low)
    return np.array(result, np.uint16)


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def test_bfloat16_store_rounds_to_nearest_even():
    halfway = bfloat16_to_float32(np.array([0x3F80], np.uint16))[0]  # 1.0
    ulp_half = np.float32(2.0 ** -8)  # half a bfloat16 ulp at 1.0
    values = np.array([halfway + ulp_half,                    # tie -> even (1.0)
                       np.float32(1.0078125) + ulp_half,       # tie -> even (up)
                       np.float32(1.0) + ulp_half * np.float32(1.5),  # above half -> up
                       -3.14159, 65504.0, 3.4e38, np.inf, np.nan, 1e-40], np.float32)
    out = run(lambda x: cast(x, "bfloat16"), [values], "bfloat16")
    np.testing.assert_array_equal(out, reference_bfloat16_bits(values))


def test_bfloat16_arithmetic_is_float32_rounded_on_store():
    a_bits = reference_bfloat16_bits(float_inputs("float32", seed=10))
    b_bits = reference_bfloat16_bits(float_inputs("float32", seed=11))
    out = run(lambda x, y: x * y + x, [a_bits, b_bits], "bfloat16", ["bfloat16"] * 2)
    a32, b32 = bfloat16_to_float32(a_bits), bfloat16_to_float32(b_bits)
    np.testing.assert_array_equal(out, reference_bfloat16_bits(a32 * b32 + a32))
    widened = run(lambda x: cast(x, "float32"), [a_bits], "float32", ["bfloat16"])
    np.testing.assert_array_equal(widened, a32)


def test_int_float_conversions():
    a = random_ints("int32", seed=12)
    np.testing.assert_array_equal(run(lambda x: cast(x, "float32"), [a], "float32"),
                                  a.astype(np.float32))
    with np.errstate(over="ignore"):  # large int32 values become float16 infinities
        expected = a.astype(np.float64).astype(np.float16)
    np.testing.assert_array_equal(run(lambda x: cast(x, "float16"), [a], "float16"), expected)


# -- property test: random integer expressions against numpy ---------------------------

_BINARY_OPS = {
    "add": (lambda x, y: x + y, lambda x, y: x + y),
    "sub": (lambda x, y: x - y, lambda x, y: x - y),
    "mul": (lambda x, y: x * y, lambda x, y: x * y),
    "min": (op.minimum, np.minimum),
    "max": (op.maximum, np.maximum),
    "floordiv": (lambda x, y: x // op.select(y == 0, op.const(3, y.dtype), y),
                 lambda x, y: x // np.where(y == 0, y.dtype.type(3), y)),
    "floormod": (lambda x, y: x % op.select(y == 0, op.const(5, y.dtype), y),
                 lambda x, y: x % np.where(y == 0, y.dtype.type(5), y)),
}


def expression_trees(depth):
    leaves = st.sampled_from(["x", "y", "c"])
    if depth == 0:
        return leaves
    sub = expression_trees(depth - 1)
    return st.one_of(leaves, st.tuples(st.sampled_from(sorted(_BINARY_OPS)), sub, sub))


def build(tree, x, y, constant, use_ir):
    if tree == "x":
        return x
    if tree == "y":
        return y
    if tree == "c":
        return op.const(constant, x.dtype) if use_ir else x.dtype.type(constant)
    name, left, right = tree
    fn = _BINARY_OPS[name][0 if use_ir else 1]
    return fn(build(left, x, y, constant, use_ir), build(right, x, y, constant, use_ir))


@settings(max_examples=60, deadline=None)
@given(tree=expression_trees(3), dtype=st.sampled_from(["int8", "int32", "uint16", "int64"]),
       constant=st.integers(-128, 127), seed=st.integers(0, 2**16))
def test_random_integer_expressions_match_numpy(tree, dtype, constant, seed):
    if np.dtype(dtype).kind == "u":
        constant = abs(constant)
    a, b = random_ints(dtype, n=16, seed=seed), random_ints(dtype, n=16, seed=seed + 1)
    out = run(lambda x, y: build(tree, x, y, constant, True), [a, b], dtype)
    with np.errstate(all="ignore"):
        expected = np.asarray(build(tree, a, b, constant, False), dtype=dtype)
    np.testing.assert_array_equal(out, np.broadcast_to(expected, out.shape))


def test_wrapping_is_elided_when_ranges_prove_it_unneeded():
    from tensorlang.tir.interpreter import compile_function
    a = decl_buffer((8, 8), "float32", "a")
    i, j = var("i"), var("j")
    flat = decl_buffer((64,), "float32", "flat")
    body = For(i, const(0), const(8), ForKind.SERIAL,
               For(j, const(0), const(8), ForKind.SERIAL,
                   BufferStore(flat, a[i, j], (i * 8 + j,))))
    source = compile_function(PrimFunc("flatten", (a, flat), body)).source
    assert "4294967295" not in source and "_oob" not in source
    values = np.arange(64, dtype=np.float32).reshape(8, 8)
    out = np.zeros(64, np.float32)
    interpret(PrimFunc("flatten", (a, flat), body), values, out)
    np.testing.assert_array_equal(out, values.ravel())


def test_select_of_integer_types_keeps_the_type():
    a = random_ints("int8", seed=13)
    out = run(lambda x: E.Select(x > 0, x, op.neg(x), x.dtype), [a], "int8")
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(out, np.where(a > 0, a, -a))
