"""Element-wise operators with broadcasting, against numpy."""
import numpy as np
import pytest

from tensorlang import ops, te
from tensorlang.errors import TensorLangTypeError, TensorLangValueError
from tensorlang.te.reference import evaluate

RNG = np.random.default_rng(11)


def _data(shape, dtype):
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(1, 9, shape).astype(dtype)
    return RNG.uniform(0.5, 2.0, shape).astype(dtype)


BINARY = [(ops.add, np.add), (ops.subtract, np.subtract), (ops.multiply, np.multiply),
          (ops.maximum, np.maximum), (ops.minimum, np.minimum)]


@pytest.mark.parametrize("function, numpy_fn", BINARY)
@pytest.mark.parametrize("dtype", ["float32", "int32", "float16"])
@pytest.mark.parametrize("shape_a, shape_b", [((4, 5), (4, 5)), ((4, 5), (5,)),
                                              ((3, 1, 5), (4, 1)), ((1,), (2, 3))])
def test_binary_broadcasting(function, numpy_fn, dtype, shape_a, shape_b):
    A = te.placeholder(shape_a, dtype=dtype, name="A")
    B = te.placeholder(shape_b, dtype=dtype, name="B")
    C = function(A, B)
    a, b = _data(shape_a, dtype), _data(shape_b, dtype)
    expected = numpy_fn(a, b)
    assert tuple(int(s.value) for s in C.shape) == expected.shape
    [c] = evaluate(C, {A: a, B: b})
    assert c.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(c, expected)


def test_scalars_on_either_side_take_the_tensor_dtype():
    A = te.placeholder((3, 4), dtype="float16", name="A")
    a = _data((3, 4), "float16")
    [c, d] = evaluate([ops.multiply(A, 3.0), ops.subtract(1, A)], {A: a})
    assert c.dtype == np.float16
    np.testing.assert_array_equal(c, a * np.float16(3))
    np.testing.assert_array_equal(d, np.float16(1) - a)


def test_divide_floor_divide_and_floor_mod():
    F = te.placeholder((2, 6), name="F")
    G = te.placeholder((6,), name="G")
    f, g = _data((2, 6), "float32"), _data((6,), "float32")
    np.testing.assert_allclose(evaluate(ops.divide(F, G), {F: f, G: g})[0], f / g, rtol=1e-6)
    I = te.placeholder((2, 6), dtype="int32", name="I")
    J = te.placeholder((2, 1), dtype="int32", name="J")
    i = RNG.integers(-20, 20, (2, 6)).astype("int32")
    j = np.array([[3], [-4]], dtype="int32")
    q, r = evaluate([ops.floor_divide(I, J), ops.floor_mod(I, J)], {I: i, J: j})
    np.testing.assert_array_equal(q, i // j)
    np.testing.assert_array_equal(r, i % j)


def test_symbolic_broadcast():
    n = te.var("n")
    A = te.placeholder((n, 3), name="A")
    B = te.placeholder((1, 3), name="B")
    C = ops.add(A, B)
    assert C.shape[0] is n
    a, b = _data((5, 3), "float32"), _data((1, 3), "float32")
    np.testing.assert_array_equal(evaluate(C, {A: a, B: b})[0], a + b)


@pytest.mark.parametrize("dtype", ["float32", "int32", "float16", "int8"])
def test_relu(dtype):
    X = te.placeholder((3, 7), dtype=dtype, name="X")
    x = RNG.integers(-5, 5, (3, 7)).astype(dtype)
    Y = ops.relu(X)
    assert Y.op.tag == "elemwise"
    np.testing.assert_array_equal(evaluate(Y, {X: x})[0], np.maximum(x, 0))


@pytest.mark.parametrize("function, numpy_fn", [
    (ops.exp, np.exp), (ops.log, np.log), (ops.sqrt, np.sqrt), (ops.tanh, np.tanh),
    (ops.sigmoid, lambda v: 1 / (1 + np.exp(-v))), (ops.negative, np.negative)])
def test_unary(function, numpy_fn):
    X = te.placeholder((10,), name="X")
    x = _data((10,), "float32")
    np.testing.assert_allclose(evaluate(function(X), {X: x})[0], numpy_fn(x.astype(float)),
                               rtol=1e-6)


def test_cast():
    X = te.placeholder((5,), name="X")
    x = np.array([-1.5, 0.2, 3.9, 7, 100], dtype="float32")
    [y] = evaluate(ops.cast(X, "int8"), {X: x})
    assert y.dtype == np.int8
    np.testing.assert_array_equal(y, x.astype("int8"))


def test_broadcast_mismatch_names_both_tensors():
    A = te.placeholder((4, 5), name="lhs_t")
    B = te.placeholder((4, 3), name="rhs_t")
    with pytest.raises(TensorLangValueError, match=r"ops.add: cannot broadcast tensor 'lhs_t'"
                                                   r".*tensor 'rhs_t'"):
        ops.add(A, B)
    n, m = te.var("n"), te.var("m")
    with pytest.raises(TensorLangValueError, match=r"n vs m"):
        ops.add(te.placeholder((n,), name="P"), te.placeholder((m,), name="Q"))


def test_dtype_errors_name_the_tensors():
    A = te.placeholder((4,), name="floats")
    I = te.placeholder((4,), dtype="int32", name="ints")
    with pytest.raises(TensorLangTypeError, match=r"'floats' is float32 but tensor 'ints'"):
        ops.add(A, I)
    with pytest.raises(TensorLangTypeError, match=r"ops.divide: tensor 'ints' is int32"):
        ops.divide(I, 2)
    with pytest.raises(TensorLangTypeError, match=r"ops.floor_divide: tensor 'floats'"):
        ops.floor_divide(A, 2.0)
    with pytest.raises(TensorLangTypeError, match=r"ops.exp: tensor 'ints' is int32"):
        ops.exp(I)
    with pytest.raises(TensorLangTypeError, match=r"at least one operand must be a te.Tensor"):
        ops.add(1, 2)
    with pytest.raises(TensorLangTypeError, match=r"ops.add: argument 'rhs'"):
        ops.add(A, "x")
