"""Arithmetic of whole tensors: ``A + B``, ``A - 1``, ``2 * A``, ``A / B``, ``-A`` make
broadcast element-wise computes (TVM's topi overloads), while an element ``A[i]`` stays an
expression and tensors keep identity equality (dict keys)."""
from __future__ import annotations

import operator

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.errors import TensorLangTypeError, TensorLangValueError
from tensorlang.te.reference import evaluate
from tensorlang.tir import expr as E

RNG = np.random.default_rng(5)
OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv]


def data(shape, dtype="float32"):
    return RNG.uniform(0.5, 2.0, shape).astype(dtype)


@pytest.mark.parametrize("function", OPERATORS)
@pytest.mark.parametrize("lhs, rhs", [((2, 3), ()), ((5, 2, 3), (1,)), ((1, 32), (64, 32)),
                                      ((5, 64, 8), (2, 5, 64, 1)), ((2, 3, 1, 32), (64, 32))])
def test_two_tensors_broadcast_as_numpy(function, lhs, rhs):
    A, B = te.placeholder(lhs, name="A"), te.placeholder(rhs, name="B")
    C = function(A, B)
    a, b = data(lhs), data(rhs)
    want = function(a, b)
    assert isinstance(C, te.Tensor) and C.op.tag == "broadcast"
    assert tuple(int(s.value) for s in C.shape) == want.shape
    [got] = evaluate(C, {A: a, B: b})
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("function", OPERATORS)
def test_tensor_and_scalar_either_side_compiled(function):
    A = te.placeholder((3, 5), name="A")
    k = te.var("k", "float32")
    results = [function(A, 2.0), function(3, A), function(A, k), function(k, A)]
    assert all(C.op.tag == "elemwise" and C.dtype == A.dtype for C in results)
    s = tl.create_schedule([C.op for C in results])
    module = tl.build(s, [A, k] + results)
    a = data((3, 5))
    outs = [np.zeros((3, 5), "float32") for _ in results]
    module(a, np.float32(1.5), *outs)
    for got, want in zip(outs, [function(a, np.float32(2.0)), function(np.float32(3), a),
                                function(a, np.float32(1.5)), function(np.float32(1.5), a)]):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_expression_chain_and_negation():
    A, B, C = (te.placeholder((4, 6), name=n) for n in "ABC")
    D = 3 + A - B * C + 2.0
    E_ = -D / 2
    a, b, c = data((4, 6)), data((4, 6)), data((4, 6))
    [got] = evaluate(E_, {A: a, B: b, C: c})
    np.testing.assert_allclose(got, -(3 + a - b * c + 2) / 2, rtol=1e-6)


def test_elements_stay_expressions_and_tensors_stay_keys():
    n = te.var("n", "float32")
    A = te.placeholder((), name="A")
    B = te.placeholder((10, 5), name="B")
    assert isinstance(B[0, 0] + 1, E.PrimExpr) and isinstance(n + 1, E.PrimExpr)
    assert isinstance(B[0, 0] + B[1, 1], E.PrimExpr)
    # an expression with a tensor: the tensor's arithmetic (rank 0 too)
    assert all(isinstance(t, te.Tensor) for t in (n + B, B + n, A + 1, 1 + A, B[0, 0] + A,
                                                   A + B[0, 0], B[0, 0] + B, A + B, B + A))
    assert (B + 1).shape == B.shape and (A + B).shape == B.shape
    table = {A: "A", B: "B"}
    assert table[B] == "B" and B == B and A != B and (A == B) is False
    assert hash(B) == hash(B)


def test_int_tensors_keep_their_type_and_refuse_true_division():
    I = te.placeholder((4,), "int32", name="I")
    assert (I + 1).dtype == I.dtype and (I * I).dtype == I.dtype
    with pytest.raises(TensorLangTypeError, match=r"'/' on tensor 'I'.*int32.*floor_divide"):
        I / 2


def test_mismatched_shapes_name_both_tensors():
    A = te.placeholder((4, 5), name="A")
    B = te.placeholder((3, 5), name="B")
    with pytest.raises(TensorLangValueError,
                       match=r"'\+' on tensor 'A': cannot broadcast tensor 'A' of shape "
                             r"\(4, 5\) with tensor 'B' of shape \(3, 5\): dimension 0"):
        A + B


def test_mixed_types_say_what_to_cast():
    A = te.placeholder((4,), name="A")
    I = te.placeholder((4,), "int32", name="I")
    with pytest.raises(TensorLangTypeError, match=r"tensor 'A' is float32 but tensor 'I' is "
                                                  r"int32; cast one"):
        A * I
    k = te.var("k")
    with pytest.raises(TensorLangTypeError, match=r"tensor 'A' is float32 but the scalar 'k' "
                                                  r"is int32.*\(k\).astype\(\"float32\"\)"):
        A + k
    with pytest.raises(TensorLangTypeError, match=r"tensor 'A' has 2 dimension.*index every dimension"):
        te.placeholder((4, 4), name="A")[te.var("i")] + te.placeholder((4,), name="B")
    with pytest.raises(TensorLangTypeError, match=r"must be a te.Tensor, a number or an "
                                                  r"expression, got str"):
        A + "1"
