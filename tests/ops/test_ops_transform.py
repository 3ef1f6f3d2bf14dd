"""pad, transpose and reshape against numpy."""
import numpy as np
import pytest

from tensorlang import ops, te
from tensorlang.errors import TensorLangTypeError, TensorLangValueError
from tensorlang.te.reference import evaluate

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("dtype", ["float32", "int32", "float16"])
@pytest.mark.parametrize("before, after", [((1, 2), (0, 3)), ((0, 0), (2, 0)), ((2, 2), None)])
def test_pad(dtype, before, after):
    X = te.placeholder((3, 4), dtype=dtype, name="X")
    x = RNG.integers(-9, 9, (3, 4)).astype(dtype)
    P = ops.pad(X, before, after, pad_value=5)
    assert P.op.tag == "injective,pad" and P.op.name == "pad"
    widths = list(zip(before, after if after is not None else before))
    np.testing.assert_array_equal(evaluate(P, {X: x})[0],
                                  np.pad(x, widths, constant_values=5))


def test_pad_symbolic_and_infinite_values():
    n = te.var("n")
    X = te.placeholder((n, 2), name="X")
    P = ops.pad(X, (1, 0), (2, 1), pad_value=-float("inf"))
    x = RNG.random((4, 2), "float32")
    np.testing.assert_array_equal(evaluate(P, {X: x})[0],
                                  np.pad(x, ((1, 2), (0, 1)), constant_values=-np.inf))
    I = te.placeholder((2,), dtype="int8", name="I")
    [p] = evaluate(ops.pad(I, 1, pad_value=-float("inf")), {I: np.array([1, 2], "int8")})
    np.testing.assert_array_equal(p, [-128, 1, 2, -128])


@pytest.mark.parametrize("axes", [None, (1, 0, 2), (2, 0, 1), (-1, -3, -2)])
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_transpose(axes, dtype):
    X = te.placeholder((2, 3, 4), dtype=dtype, name="X")
    x = RNG.integers(0, 100, (2, 3, 4)).astype(dtype)
    np.testing.assert_array_equal(evaluate(ops.transpose(X, axes), {X: x})[0],
                                  np.transpose(x, axes))


@pytest.mark.parametrize("newshape", [(6, 4), (4, -1), (24,), (2, 2, 2, 3), (-1, 1, 3)])
@pytest.mark.parametrize("dtype", ["float16", "int32"])
def test_reshape(newshape, dtype):
    X = te.placeholder((2, 3, 4), dtype=dtype, name="X")
    x = RNG.integers(0, 100, (2, 3, 4)).astype(dtype)
    R = ops.reshape(X, newshape)
    np.testing.assert_array_equal(evaluate(R, {X: x})[0], x.reshape(newshape))


def test_reshape_symbolic():
    n = te.var("n")
    X = te.placeholder((n, 4), name="X")
    R = ops.reshape(X, (n * 2, 2))
    x = RNG.random((5, 4), "float32")
    np.testing.assert_array_equal(evaluate(R, {X: x})[0], x.reshape(10, 2))


def test_layout_errors_name_the_tensor():
    X = te.placeholder((2, 3), name="X_t")
    with pytest.raises(TensorLangValueError, match=r"not a permutation.*'X_t'"):
        ops.transpose(X, (0, 0))
    with pytest.raises(TensorLangValueError, match=r"cannot reshape tensor 'X_t'.*\(7,\)"):
        ops.reshape(X, (7,))
    with pytest.raises(TensorLangValueError, match=r"more than one -1"):
        ops.reshape(X, (-1, -1))
    with pytest.raises(TensorLangValueError, match=r"pad_before must hold 2 ints.*'X_t'"):
        ops.pad(X, (1, 1, 1))
    with pytest.raises(TensorLangValueError, match=r"negative width"):
        ops.pad(X, (1, -1))
    with pytest.raises(TensorLangTypeError, match=r"pad_value 0.5 for tensor 'I_t'"):
        ops.pad(te.placeholder((2,), dtype="int32", name="I_t"), 1, pad_value=0.5)
    n = te.var("n")
    with pytest.raises(TensorLangValueError, match=r"cannot infer the -1.*'S_t'"):
        ops.reshape(te.placeholder((n, 2), name="S_t"), (-1,))
