"""TVM programs through the compatibility layer: tensor arithmetic (topi's overloads and
tags), ``fuse()`` of no axes, the reduction axes of a reduction inside an expression,
float literals with integers, and the refusal of symbolic split factors."""
from __future__ import annotations

import numpy as np
import pytest

from tensorlang.compat import tvm
from tvm import te, topi  # noqa: E402
import tvm.topi.testing  # noqa: E402,F401

RNG = np.random.default_rng(3)


def run(s, args, arrays):
    f = tvm.build(s, args, "llvm")
    nd = [tvm.nd.array(a) for a in arrays]
    f(*nd)
    return [a.numpy() for a in nd]


def test_tensor_operators_make_topi_tensors_with_its_tags():
    k, n = 1, te.var("n", "float32")
    A = te.placeholder((), name="A")
    B = te.placeholder((10, 5), name="B")
    B2 = B[0, 0]
    assert isinstance(k + B2, tvm.tir.PrimExpr) and isinstance(B2 + n, tvm.tir.PrimExpr)
    for t in (k + A, A + n, A + A, k + B, B + n, A + B, B2 + A, B + B2):
        assert isinstance(t, te.tensor.Tensor)
    assert all(t.op.tag == topi.tag.ELEMWISE for t in (k + B, B + k, n + B, B + n))
    assert all(t.op.tag == topi.tag.BROADCAST for t in (A + B, B + A, B + B))


@pytest.mark.parametrize("lhs, rhs", [((2, 3), ()), ((1, 32), (64, 32)),
                                      ((2, 3, 1, 32), (64, 32))])
def test_broadcast_operators_build_and_run(lhs, rhs):
    A = te.placeholder(lhs, name="A")
    B = te.placeholder(rhs, name="B")
    C = (A + B) * 2 - A / B
    s = tvm.topi.testing.get_broadcast_schedule("llvm")(C)
    a = RNG.uniform(size=lhs).astype("float32")
    b = np.abs(RNG.uniform(size=rhs).astype("float32")) + 0.5
    want = (a + b) * 2 - a / b
    [_, _, got] = run(s, [A, B, C], [a, b, np.zeros(want.shape, "float32")])
    tvm.testing.assert_allclose(got, want, rtol=1e-5)


def test_mismatched_shapes_are_refused_naming_both():
    A = te.placeholder((4, 5), name="A")
    B = te.placeholder((4, 6), name="B")
    with pytest.raises(ValueError, match=r"tensor 'A' of shape \(4, 5\) with tensor 'B' of "
                                         r"shape \(4, 6\)"):
        A - B


def test_fuse_of_no_axes_is_a_singleton_loop():
    X = te.placeholder((10,), dtype="int32", name="X")
    k = te.reduce_axis((0, 10))
    Y = te.compute((), lambda: te.sum(X[k], k), name="Y")
    s = te.create_schedule([Y.op])
    ax = s[Y.op].fuse(*Y.op.axis)
    assert any(isinstance(r, tvm.te.schedule.Singleton) for r in s[Y].relations)
    assert tuple(s[Y].leaf_iter_vars[:1]) == (ax,)
    s[Y.op].split(ax, nparts=20)
    x = np.arange(10, dtype="int32")
    [got, _] = run(s, [Y, X], [np.zeros((), "int32"), x])
    assert got == x.sum()


def test_reduce_axis_of_a_reduction_inside_an_expression():
    n, m = 8, 12
    A = te.placeholder((n, m), name="A")
    k = te.reduce_axis((0, m), name="k")
    S = te.compute((n,), lambda i: te.sum(A[i, k], axis=k) / m, name="S")
    s = te.create_schedule(S.op)
    assert s[S].op.reduce_axis[0] is k
    red = S.op.hidden_reductions[0]
    with pytest.raises(tvm.error.TVMError, match=r"s\[S.op.hidden_reductions\[0\]\]"):
        s[S].split(S.op.reduce_axis[0], factor=4)
    ko, ki = s[red].split(S.op.reduce_axis[0], factor=4)
    s[red].unroll(ki)
    a = RNG.uniform(size=(n, m)).astype("float32")
    [_, got] = run(s, [A, S], [a, np.zeros(n, "float32")])
    tvm.testing.assert_allclose(got, a.mean(axis=1), rtol=1e-5)


def test_int_times_float_literal_is_float32_as_in_tvm():
    i = te.var("i")
    assert (i * 2.0).dtype == "float32" and (i * 2).dtype == "int32"
    C = te.compute((5,), lambda j: j * 0.5, name="C")
    assert C.dtype == "float32"
    [got] = run(te.create_schedule(C.op), [C], [np.zeros(5, "float32")])
    np.testing.assert_array_equal(got, np.arange(5, dtype="float32") * 0.5)


def test_symbolic_split_factor_is_refused_naming_the_axis():
    m = te.var("m")
    A = te.placeholder((m,), name="A")
    B = te.compute((m,), lambda i: A[i] + 3, name="B")
    s = te.create_schedule(B.op)
    with pytest.raises(NotImplementedError, match=r"split\(i\) on stage 'B': a symbolic "
                                                  r"split factor \(factor=f\)"):
        s[B].split(B.op.axis[0], te.var("f"))
