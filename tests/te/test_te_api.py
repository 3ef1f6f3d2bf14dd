"""The tensor-expression API of tensorlang.te, call by call."""
import numpy as np
import pytest

from tensorlang import te
from tensorlang import tir
from tensorlang.te.reference import evaluate


def test_var_and_const_types():
    n = te.var("n")
    assert isinstance(n, tir.Var) and str(n.dtype) == "int32" and n.name == "n"
    assert str(te.var("m", "int64").dtype) == "int64"
    assert str(te.const(1).dtype) == "int32"
    assert str(te.const(1.5).dtype) == "float32"
    assert str(te.const(2, "float16").dtype) == "float16"
    assert str(te.const(True).dtype) == "bool"


def test_placeholder_properties():
    n = te.var("n")
    A = te.placeholder((n, 4), dtype="float16", name="A")
    assert A.name == "A" and str(A.dtype) == "float16" and A.ndim == 2
    assert A.shape[0] is n and tir.as_const_int(A.shape[1]) == 4
    assert isinstance(A.op, te.PlaceholderOp) and A.op.axis == () and A.op.reduce_axis == ()
    assert str(te.placeholder((3,)).dtype) == "float32"


def test_compute_axes_take_the_lambda_argument_names():
    A = te.placeholder((4, 5), name="A")
    B = te.compute((4, 5), lambda row, col: A[row, col] + 1.0, name="B", tag="injective")
    assert [iv.var.name for iv in B.op.axis] == ["row", "col"]
    assert B.op.tag == "injective" and B.op.name == "B" and B.op.reduce_axis == ()
    assert [tir.as_const_int(iv.dom.extent) for iv in B.op.axis] == [4, 5]
    assert B.op.input_tensors == (A,)


def test_reduction_axes_are_recorded():
    A = te.placeholder((4, 6), name="A")
    k = te.reduce_axis((0, 6), name="k")
    B = te.compute((4,), lambda i: te.sum(A[i, k], axis=k), name="B")
    assert B.op.reduce_axis == (k,) and k.iter_type == tir.REDUCE
    a = np.random.rand(4, 6).astype("float32")
    np.testing.assert_allclose(evaluate(B, {A: a})[0], a.sum(1), rtol=1e-6)


def test_multi_output_compute_returns_a_tuple():
    A = te.placeholder((5,), name="A")
    lo, hi = te.compute((5,), lambda i: (A[i] - 1.0, A[i] + 1.0), name="pair")
    assert lo.op is hi.op and (lo.value_index, hi.value_index) == (0, 1)
    assert lo.op.num_outputs == 2
    a = np.arange(5, dtype="float32")
    got_lo, got_hi = evaluate([lo, hi], {A: a})
    np.testing.assert_array_equal(got_lo, a - 1)
    np.testing.assert_array_equal(got_hi, a + 1)


def test_symbolic_shapes():
    n, m = te.var("n"), te.var("m")
    A = te.placeholder((n, m), name="A")
    B = te.compute((m, n), lambda j, i: A[i, j] * 2.0, name="B")
    assert B.shape[0] is m and B.shape[1] is n
    a = np.random.rand(3, 7).astype("float32")
    np.testing.assert_allclose(evaluate(B, {A: a})[0], a.T * 2)


@pytest.mark.parametrize("reducer, numpy_fn", [(te.sum, np.sum), (te.max, np.max),
                                               (te.min, np.min), (te.prod, np.prod)])
def test_builtin_reducers_over_an_axis_list(reducer, numpy_fn):
    A = te.placeholder((3, 4, 5), name="A")
    j = te.reduce_axis((0, 4), name="j")
    k = te.reduce_axis((0, 5), name="k")
    B = te.compute((3,), lambda i: reducer(A[i, j, k], axis=[j, k]), name="B")
    assert B.op.reduce_axis == (j, k)
    a = np.random.uniform(0.5, 1.5, (3, 4, 5)).astype("float32")
    np.testing.assert_allclose(evaluate(B, {A: a})[0], numpy_fn(a, axis=(1, 2)), rtol=1e-5)


def test_reduction_where_masks_points():
    A = te.placeholder((6, 6), name="A")
    k = te.reduce_axis((0, 6), name="k")
    lower = te.compute((6,), lambda i: te.sum(A[i, k], axis=k, where=k <= i), name="lower")
    a = np.random.rand(6, 6).astype("float32")
    np.testing.assert_allclose(evaluate(lower, {A: a})[0], np.tril(a).sum(1), rtol=1e-6)


def test_custom_and_tuple_reducers():
    A = te.placeholder((4, 9), dtype="int32", name="A")
    k = te.reduce_axis((0, 9), name="k")
    sum_of_squares = te.comm_reducer(lambda x, y: x + y * y, lambda t: te.const(0, t),
                                     name="sum_sq")
    assert sum_of_squares.name == "sum_sq"

    def fcombine(x, y):
        keep = x[1] >= y[1]
        return te.if_then_else(keep, x[0], y[0]), te.if_then_else(keep, x[1], y[1])

    argmax = te.comm_reducer(fcombine, lambda t0, t1: (te.const(-1, t0), te.min_value(t1)),
                             name="argmax")
    index, value = te.compute((4,), lambda i: argmax((k.var, A[i, k]), axis=k), name="T")
    assert index.op is value.op and str(index.dtype) == "int32"
    a = np.random.randint(-5, 5, (4, 9)).astype("int32")
    got_index, got_value = evaluate([index, value], {A: a})
    np.testing.assert_array_equal(got_index, a.argmax(1))
    np.testing.assert_array_equal(got_value, a.max(1))


def test_maximum_minimum_select_and_logic():
    A = te.placeholder((8,), dtype="int32", name="A")
    B = te.compute((8,), lambda i: te.maximum(A[i], 2) + te.minimum(A[i], 5)
                   + te.if_then_else(te.all(A[i] > 0, A[i] < 4), 100, 0)
                   + te.select(te.any(A[i] == 0, A[i] == 7), 1000, 0), name="B")
    a = np.arange(-1, 7, dtype="int32")
    expected = np.maximum(a, 2) + np.minimum(a, 5) + np.where((a > 0) & (a < 4), 100, 0) \
        + np.where((a == 0) | (a == 7), 1000, 0)
    np.testing.assert_array_equal(evaluate(B, {A: a})[0], expected)


@pytest.mark.parametrize("name, numpy_fn", [
    ("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("tanh", np.tanh),
    ("floor", np.floor), ("ceil", np.ceil), ("fabs", np.abs), ("abs", np.abs),
    ("rsqrt", lambda x: 1 / np.sqrt(x)), ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    ("round", np.rint)])
def test_math_intrinsics(name, numpy_fn):
    A = te.placeholder((16,), name="A")
    B = te.compute((16,), lambda i: getattr(te, name)(A[i]), name="B")
    assert B.dtype == A.dtype
    a = np.linspace(0.1, 3.7, 16).astype("float32")
    np.testing.assert_allclose(evaluate(B, {A: a})[0], numpy_fn(a), rtol=1e-6)


def test_erf_and_power():
    import math
    A = te.placeholder((9,), name="A")
    B = te.compute((9,), lambda i: te.erf(A[i]) + te.power(A[i], 2.0), name="B")
    a = np.linspace(-2, 2, 9).astype("float32")
    expected = np.array([math.erf(v) for v in a.astype(float)]) + a.astype(float) ** 2
    np.testing.assert_allclose(evaluate(B, {A: a})[0], expected, rtol=1e-6)


def test_astype_and_literals_take_the_operand_type():
    A = te.placeholder((4,), dtype="float32", name="A")
    doubled = A[0] * 2.0
    assert str(doubled.dtype) == "float32"
    assert str(A[0].astype("float16").dtype) == "float16"
    I = te.placeholder((4,), dtype="int8", name="I")
    assert str((I[0] + 1).dtype) == "int8"


def test_python_operators_use_floor_semantics():
    A = te.placeholder((12,), dtype="int32", name="A")
    ops = te.compute((12,), lambda i: (A[i] // 3) * 100 + A[i] % 3 + (-A[i]) * 7, name="ops")
    a = np.arange(-6, 6, dtype="int32")
    np.testing.assert_array_equal(evaluate(ops, {A: a})[0], (a // 3) * 100 + a % 3 - a * 7)
    F = te.placeholder((5,), name="F")
    G = te.compute((5,), lambda i: F[i] ** 2.0 - F[i] / 2.0, name="G")
    f = np.linspace(1, 3, 5).astype("float32")
    np.testing.assert_allclose(evaluate(G, {F: f})[0], f ** 2 - f / 2, rtol=1e-6)
    H = te.compute((5,), lambda i: te.if_then_else(~(F[i] < 2.0) & (F[i] != 3.0) | (F[i] <= 1.0),
                                                   1.0, 0.0), name="H")
    np.testing.assert_array_equal(evaluate(H, {F: f})[0],
                                  np.where(~(f < 2) & (f != 3) | (f <= 1), 1, 0))


def test_nested_reduction_gets_its_own_stage_named_after_the_consumer():
    n = te.var("n")
    A = te.placeholder((n, 8), name="A")
    k = te.reduce_axis((0, 8), name="k")
    mean = te.compute((n, 2), lambda row, col: te.sum(A[row, k], axis=k) / 8.0 + col.astype(
        "float32"), name="mean")
    (red,) = mean.op.input_tensors
    assert red.name == "mean_red"
    assert [iv.var.name for iv in red.op.axis] == ["row", "col"]
    assert red.op.reduce_axis[0].var is k.var
    a = np.random.rand(5, 8).astype("float32")
    expected = a.mean(1, keepdims=True) + np.arange(2, dtype="float32")
    np.testing.assert_allclose(evaluate(mean, {A: a})[0], expected, rtol=1e-6)


def test_two_nested_reductions_get_two_stages():
    A = te.placeholder((3, 4), name="A")
    k1 = te.reduce_axis((0, 4), name="k1")
    k2 = te.reduce_axis((0, 4), name="k2")
    B = te.compute((3,), lambda i: te.max(A[i, k1], axis=k1) - te.min(A[i, k2], axis=k2),
                   name="B")
    assert sorted(t.name for t in B.op.input_tensors) == ["B_red0", "B_red1"]
    a = np.random.rand(3, 4).astype("float32")
    np.testing.assert_allclose(evaluate(B, {A: a})[0], a.max(1) - a.min(1))


def test_zero_dimensional_compute():
    A = te.placeholder((5,), name="A")
    k = te.reduce_axis((0, 5), name="k")
    total = te.compute((), lambda: te.sum(A[k], axis=k), name="total")
    assert total.ndim == 0
    a = np.arange(5, dtype="float32")
    [got] = evaluate(total, {A: a})
    assert got.shape == () and got == a.sum()


def test_nested_tuple_reductions_get_one_stage_per_call():
    def fcombine(x, y):
        keep = x[1] >= y[1]
        return te.if_then_else(keep, x[0], y[0]), te.if_then_else(keep, x[1], y[1])

    argmax = te.comm_reducer(fcombine, lambda t0, t1: (te.const(-1, t0), te.min_value(t1)))
    A = te.placeholder((4, 6), dtype="int32", name="A")
    B = te.placeholder((4, 5), dtype="int32", name="B")
    k = te.reduce_axis((0, 6), name="k")
    r = te.reduce_axis((0, 5), name="r")
    C = te.compute((4,), lambda i: argmax((k.var, A(i, k)), axis=k)[0] * 10
                   + argmax((r.var, B[i, r]), axis=r)[1], name="C")
    stages = C.op.input_tensors
    assert len(stages) == 2 and all(t.op.num_outputs == 2 for t in stages)
    a = np.random.randint(-9, 9, (4, 6)).astype("int32")
    b = np.random.randint(-9, 9, (4, 5)).astype("int32")
    np.testing.assert_array_equal(evaluate(C, {A: a, B: b})[0], a.argmax(1) * 10 + b.max(1))


def test_likely_is_its_condition():
    import numpy as np
    from tensorlang.tir.expr import Call
    A = te.placeholder((6,), name="A")
    B = te.compute((6,), lambda i: te.if_then_else(te.likely(i < 4), A[i], 0.0), name="B")
    cond = B.op.body[0].condition
    assert isinstance(cond, Call) and cond.op == "tl.likely"
    assert te.likely(True).value == 1  # constants stay constants
    a = np.arange(6, dtype="float32")
    (b,) = te.reference.evaluate([B], {A: a})
    np.testing.assert_array_equal(b, [0, 1, 2, 3, 0, 0])


def test_constant_dimensions_are_python_ints():
    import numpy as np
    A = te.placeholder((2, 3), name="A")
    assert int(A.shape[0]) == 2 and list(range(A.shape[1])) == [0, 1, 2]
    assert np.zeros(A.shape).shape == (2, 3)
    with pytest.raises(TypeError, match="n \\+ 1"):
        int(te.var("n") + 1)
