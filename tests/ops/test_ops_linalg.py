"""matmul and batch_matmul against numpy."""
import numpy as np
import pytest

from tensorlang import ops, te
from tensorlang.errors import TensorLangTypeError, TensorLangValueError
from tensorlang.te.reference import evaluate

RNG = np.random.default_rng(5)


def _data(shape, dtype):
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(-8, 8, shape).astype(dtype)
    return RNG.uniform(-1, 1, shape).astype(dtype)


@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "int32", "float16"])
def test_matmul(transpose_a, transpose_b, dtype):
    m, n, k = 5, 7, 6
    a = _data((k, m) if transpose_a else (m, k), dtype)
    b = _data((n, k) if transpose_b else (k, n), dtype)
    A = te.placeholder(a.shape, dtype=dtype, name="A")
    B = te.placeholder(b.shape, dtype=dtype, name="B")
    C = ops.matmul(A, B, transpose_a, transpose_b)
    assert C.op.tag == "matmul" and [iv.var.name for iv in C.op.reduce_axis] == ["k"]
    [c] = evaluate(C, {A: a, B: b})
    expected = (a.T if transpose_a else a).astype(np.float64) @ \
        (b.T if transpose_b else b).astype(np.float64)
    assert c.dtype == np.dtype(dtype) and c.shape == (m, n)
    np.testing.assert_allclose(c, expected, rtol=2e-2 if dtype == "float16" else 1e-5,
                               atol=2e-2 if dtype == "float16" else 1e-6)


def test_int8_matmul_accumulates_in_out_dtype():
    a, b = _data((4, 64), "int8") * 8, _data((64, 3), "int8") * 8
    A = te.placeholder(a.shape, dtype="int8", name="A")
    B = te.placeholder(b.shape, dtype="int8", name="B")
    [c] = evaluate(ops.matmul(A, B, out_dtype="int32"), {A: a, B: b})
    assert c.dtype == np.int32
    np.testing.assert_array_equal(c, a.astype(np.int32) @ b.astype(np.int32))


def test_symbolic_matmul():
    n, k = te.var("n"), te.var("k")
    A = te.placeholder((n, k), name="A")
    B = te.placeholder((k, 3), name="B")
    C = ops.matmul(A, B)
    a, b = _data((9, 4), "float32"), _data((4, 3), "float32")
    np.testing.assert_allclose(evaluate(C, {A: a, B: b})[0], a @ b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batches", [(3, 3), (1, 3), (3, 1)])
@pytest.mark.parametrize("transpose_a, transpose_b", [(False, False), (True, True)])
def test_batch_matmul(batches, transpose_a, transpose_b):
    m, n, k = 4, 5, 6
    a = _data((batches[0],) + ((k, m) if transpose_a else (m, k)), "float32")
    b = _data((batches[1],) + ((n, k) if transpose_b else (k, n)), "float32")
    A = te.placeholder(a.shape, name="A")
    B = te.placeholder(b.shape, name="B")
    C = ops.batch_matmul(A, B, transpose_a, transpose_b)
    expected = np.matmul(a.transpose(0, 2, 1) if transpose_a else a,
                         b.transpose(0, 2, 1) if transpose_b else b)
    np.testing.assert_allclose(evaluate(C, {A: a, B: b})[0], expected, rtol=1e-5, atol=1e-6)


def test_batch_matmul_int32_symbolic_batch():
    bsz = te.var("batch")
    A = te.placeholder((bsz, 3, 4), dtype="int32", name="A")
    B = te.placeholder((bsz, 4, 2), dtype="int32", name="B")
    a, b = _data((5, 3, 4), "int32"), _data((5, 4, 2), "int32")
    np.testing.assert_array_equal(evaluate(ops.batch_matmul(A, B), {A: a, B: b})[0], a @ b)


def test_matmul_errors_name_the_tensors():
    A = te.placeholder((4, 5), name="left")
    B = te.placeholder((6, 3), name="right")
    with pytest.raises(TensorLangValueError, match=r"tensor 'left'.*5.*tensor 'right'.*6"):
        ops.matmul(A, B)
    with pytest.raises(TensorLangValueError, match=r"'left' must have 3 dimensions"):
        ops.batch_matmul(A, B)
    with pytest.raises(TensorLangTypeError, match=r"'left' is float32 but tensor 'ints'"):
        ops.matmul(A, te.placeholder((5, 2), dtype="int32", name="ints"))
    with pytest.raises(TensorLangValueError, match=r"batch sizes differ.*'P'.*'Q'"):
        ops.batch_matmul(te.placeholder((2, 3, 4), name="P"), te.placeholder((3, 4, 5), name="Q"))
    with pytest.raises(TensorLangTypeError, match=r"argument 'B' must be a te.Tensor"):
        ops.matmul(A, np.zeros((5, 5)))
