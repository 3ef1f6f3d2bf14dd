"""Integer bitwise operators as expressions: types, constant folding, printing, the
refusals (floats, shift amounts out of range), booleans staying logical, the simplifier
and bound rules, and the reference evaluator against numpy on every integer type."""
from __future__ import annotations

import numpy as np
import pytest

from tensorlang import te, tir
from tensorlang.errors import TensorLangTypeError, TensorLangValueError
from tensorlang.te.reference import evaluate
from tensorlang.tir import op
from tensorlang.tir.arith import Analyzer
from tensorlang.tir.structural import structural_equal, structural_hash

INT_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
RNG = np.random.default_rng(5)


def test_operators_build_nodes_of_the_operand_type():
    A = te.placeholder((4,), "int16", "A")
    x = A[0]
    for expr, node in [(x >> 2, tir.ShiftRight), (x << 2, tir.ShiftLeft),
                       (x & 3, tir.BitwiseAnd), (x | 3, tir.BitwiseOr), (x ^ 3, tir.BitwiseXor),
                       (~x, tir.BitwiseXor), (2 >> x, tir.ShiftRight), (5 & x, tir.BitwiseAnd)]:
        assert type(expr) is node and expr.dtype == x.dtype
    assert str(x >> 2) == "A[0] >> T.int16(2)"
    assert str(~x) == "~A[0]"


def test_function_spellings_equal_the_operators():
    x = tir.var("x")
    pairs = [(tir.shift_right(x, 3), x >> 3), (tir.shift_left(x, 3), x << 3),
             (tir.bitwise_and(x, 3), x & 3), (tir.bitwise_or(x, 3), x | 3),
             (tir.bitwise_xor(x, 3), x ^ 3), (tir.bitwise_not(x), ~x),
             (te.shift_right(x, 1), x >> 1), (te.bitwise_not(x), ~x)]
    for built, spelled in pairs:
        assert structural_equal(built, spelled)
        assert structural_hash(built) == structural_hash(spelled)
    assert not structural_equal(x >> 3, x << 3)


def test_mixed_types_promote_as_arithmetic_does():
    a, b = tir.var("a", "int8"), tir.var("b", "int32")
    assert (a & b).dtype == tir.dtype("int32")
    assert (a >> b).dtype == tir.dtype("int32")


def test_python_int_constants_fold_with_wraparound():
    assert (te.const(-7) >> 1).value == -4  # arithmetic
    assert (te.const(200, "uint8") >> 1).value == 100  # logical
    assert (te.const(200, "uint8") << 1).value == 144  # wraps to uint8
    assert (te.const(1) << 31).value == -2**31
    assert (~te.const(5, "uint8")).value == 250
    assert (~te.const(5)).value == -6
    assert (te.const(12) & 10).value == 8 and (te.const(12) | 3).value == 15
    assert (te.const(12) ^ 10).value == 6
    x = tir.var("x")
    assert (x | 0) is x and (x ^ 0) is x and (x >> 0) is x and (x << 0) is x
    assert (x & 0).value == 0 and (x & -1) is x and (x | -1).value == -1


def test_float_operands_are_refused_naming_the_expression():
    F = te.placeholder((4,), "float32", "F")
    for build in (lambda: F[0] >> 1, lambda: F[0] & 1, lambda: 1 | F[1], lambda: ~F[0],
                  lambda: tir.shift_left(F[0], 2)):
        with pytest.raises(TensorLangTypeError, match=r"F\[\d\].*float32.*astype\(\"int32\"\)"):
            build()
    with pytest.raises(TensorLangTypeError, match="1.5 is a float"):
        tir.var("x") & 1.5


def test_constant_shift_amounts_out_of_range_are_refused():
    x = tir.var("x")
    with pytest.raises(TensorLangValueError, match=r"'x >> 32'.*outside \[0, 32\) for int32"):
        x >> 32
    with pytest.raises(TensorLangValueError, match=r"outside \[0, 8\) for uint8"):
        tir.var("u", "uint8") << 8
    with pytest.raises(TensorLangValueError, match="shift amount -1"):
        x << -1
    assert (tir.var("w", "int64") << 40).dtype == tir.dtype("int64")


def test_booleans_stay_logical():
    x = tir.var("x")
    p, q = x > 0, x < 5
    assert type(p & q) is tir.And and type(p | q) is tir.Or and type(~p) is tir.Not
    assert (p & True) is p and (p | False) is p
    A = te.placeholder((6,), "int32", "A")
    C = te.compute((6,), lambda i: te.if_then_else(((A[i] > 0) ^ (A[i] > 2)) | ~(A[i] < 4),
                                                   1, 0), name="C")
    a = np.arange(-1, 5, dtype="int32")
    [got] = evaluate(C, {A: a})
    np.testing.assert_array_equal(got, (((a > 0) ^ (a > 2)) | ~(a < 4)).astype("int32"))
    with pytest.raises(TensorLangTypeError, match="shifts are defined on integers"):
        p >> q
    with pytest.raises(TensorLangTypeError, match="needs boolean conditions"):
        x & p


@pytest.mark.parametrize("dtype", INT_TYPES)
def test_reference_equals_numpy_on_every_integer_type(dtype):
    n, bits = 64, np.dtype(dtype).itemsize * 8
    info = np.iinfo(dtype)
    A = te.placeholder((n,), dtype, "A")
    S = te.placeholder((n,), dtype, "S")
    outputs = [te.compute((n,), fn, name=name) for name, fn in [
        ("shr", lambda i: A[i] >> S[i]), ("shl", lambda i: A[i] << S[i]),
        ("and", lambda i: A[i] & S[i]), ("or", lambda i: A[i] | (S[i] << 2)),
        ("xor", lambda i: A[i] ^ S[i]), ("not", lambda i: ~A[i]),
        ("mask", lambda i: (A[i] >> 3) & 5)]]
    a = RNG.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    s = RNG.integers(0, bits, n).astype(dtype)
    got = evaluate(outputs, {A: a, S: s})
    expected = [np.right_shift(a, s), np.left_shift(a, s), np.bitwise_and(a, s),
                np.bitwise_or(a, np.left_shift(s, np.array(2, dtype))), np.bitwise_xor(a, s),
                np.invert(a), np.bitwise_and(np.right_shift(a, np.array(3, dtype)),
                                             np.array(5, dtype))]
    for name, value, want in zip(["shr", "shl", "and", "or", "xor", "not", "mask"], got,
                                 expected):
        assert value.dtype == np.dtype(dtype), name
        np.testing.assert_array_equal(value, want, err_msg=name)


def test_simplifier_folds_and_uses_bounds():
    x, y = tir.var("x"), tir.var("y")
    analyzer = Analyzer()
    analyzer.bind(x, (0, 8))
    assert analyzer.simplify(x & 7) is x
    assert analyzer.simplify(x >> 3).value == 0
    assert str(analyzer.simplify(x >> 2)) == "x >> 2"
    assert analyzer.simplify(op.add(x, 1) - x + 3 << 2).value == 16
    bound = analyzer.const_int_bound(y & 7)
    assert (bound.min_value, bound.max_value) == (0, 7)
    bound = analyzer.const_int_bound((x + 40) >> 2)
    assert (bound.min_value, bound.max_value) == (10, 11)
    bound = analyzer.const_int_bound(y >> 28)
    assert (bound.min_value, bound.max_value) == (-8, 7)
    assert analyzer.can_prove((y & 15) < 16)


def test_bound_inference_of_a_shifted_index():
    """A consumer reading A[i >> 1] needs half of A: bound inference sees through >>."""
    import tensorlang as tl
    n = 16
    A = te.placeholder((n,), "int32", "A")
    B = te.compute((n,), lambda i: A[i] * 3, name="B")
    C = te.compute((2 * n,), lambda i: B[i >> 1] & 0xFF, name="C")
    s = te.create_schedule(C)
    xo, _ = s[C].split(C.op.axis[0], factor=4)
    s[B].compute_at(s[C], xo)
    text = str(tl.lower(s, [A, C]))
    assert "T.alloc_buffer((2,)" in text
    m = tl.build(s, [A, C])
    a = RNG.integers(-1000, 1000, n).astype("int32")
    c = np.zeros(2 * n, "int32")
    m(a, c)
    np.testing.assert_array_equal(c, (a.repeat(2) * 3) & 0xFF)
