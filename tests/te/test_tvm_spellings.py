"""TVM's everyday spellings in tensorlang's te: chained indexing, two-operand min/max,
the truth of constant comparisons and integral float shapes; each checked by running the
result against numpy, and each refusal by its message."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.errors import TensorLangTypeError


def _run(out, inputs, arrays, shape):
    s = tl.create_schedule(out)
    result = np.zeros(shape, dtype=str(out.dtype))
    tl.build(s, list(inputs) + [out])(*arrays, result)
    return result


def test_chained_indexing_is_the_same_load():
    A = te.placeholder((5, 7), name="A")
    B = te.compute((5, 7), lambda i, j: A[i][j] * 2.0 + A[i, j], name="B")
    a = np.random.rand(5, 7).astype("float32")
    np.testing.assert_allclose(_run(B, [A], [a], (5, 7)), a * 3, rtol=1e-6)
    C = te.placeholder((2, 3, 4), name="C")
    i = te.var("i")
    assert str(C[i][1][2]) == str(C[i, 1, 2]) == str(C[i, 1][2])


def test_a_partial_index_is_not_an_expression():
    A = te.placeholder((5, 7), name="A")
    with pytest.raises(TensorLangTypeError, match=r"indexed with 1 index\(es\); index "
                                                  r"every dimension: A\[i, j\] or A\[i\]\[j\]"):
        te.compute((5,), lambda i: A[i] + 1.0, name="B")
    with pytest.raises(TensorLangTypeError, match="compute 'B': tensor 'A' has 2"):
        te.compute((5,), lambda i: A[i], name="B")
    with pytest.raises(TensorLangTypeError, match=r"'A\[0, 1\]' is a scalar value, not a "
                                                  r"tensor"):
        A[0][1][2]
    with pytest.raises(TensorLangTypeError, match="indexed with 3 index"):
        A[0, 1, 2]


@pytest.mark.parametrize("reducer, expected", [(te.max, np.maximum), (te.min, np.minimum)])
def test_two_operand_min_and_max_are_element_wise(reducer, expected):
    A = te.placeholder((9,), name="A")
    B = te.placeholder((9,), name="B")
    C = te.compute((9,), lambda i: reducer(A[i], B[i]) + reducer(A[i], 0.5, B[i]), name="C")
    a, b = np.random.rand(9).astype("float32"), np.random.rand(9).astype("float32")
    want = expected(a, b) + expected(expected(a, 0.5), b)
    np.testing.assert_allclose(_run(C, [A, B], [a, b], (9,)), want, rtol=1e-6)


def test_min_and_max_with_an_axis_still_reduce():
    A = te.placeholder((4, 6), name="A")
    k = te.reduce_axis((0, 6), name="k")
    B = te.compute((4,), lambda i: te.max(A[i, k], k), name="B")
    a = np.random.rand(4, 6).astype("float32")
    np.testing.assert_allclose(_run(B, [A], [a], (4,)), a.max(axis=1))
    with pytest.raises(TensorLangTypeError, match="takes no where= or init="):
        te.max(A[0, 0], A[1, 1], where=A[0, 0] > 0)
    i = te.var("i")
    with pytest.raises(TensorLangTypeError, match="axis 'i' is not a reduction axis"):
        te.sum(A[0, 0], [i])


def test_comparisons_of_constants_have_a_truth_value():
    assert bool(te.const(1) == 1) and not bool(te.const(2) < 1)
    assert bool(te.const(3, "int64") >= te.const(3, "int64"))
    n = te.var("n")
    with pytest.raises(TensorLangTypeError, match="truth value of the symbolic expression"):
        bool(n < 3)


def test_integral_float_shapes():
    N, bn = 32, 8
    A = te.placeholder((N / bn, 4.0), name="A")
    assert [int(d) for d in A.shape] == [4, 4]
    B = te.compute((N / bn, 4), lambda i, j: A[i, j] + 1.0, name="B")
    a = np.random.rand(4, 4).astype("float32")
    np.testing.assert_allclose(_run(B, [A], [a], (4, 4)), a + 1, rtol=1e-6)
    with pytest.raises(TensorLangTypeError, match=r"placeholder 'C': shape entry 0 is 4.5, "
                                                  r"not a whole number.*N // bn"):
        te.placeholder((4.5,), name="C")


def test_tag_scope_tags_the_computes_declared_inside():
    A = te.placeholder((3,), name="A")
    with te.tag_scope("injective"):
        B = te.compute((3,), lambda i: A[i] + 1.0, name="B")
        C = te.compute((3,), lambda i: A[i] + 1.0, name="C", tag="own")
    assert (B.op.tag, C.op.tag) == ("injective", "own")
    assert te.compute((3,), lambda i: A[i], name="D").op.tag == ""

    @te.tag_scope("elemwise")
    def double(x):
        return te.compute(x.shape, lambda i: x[i] * 2.0, name="E")
    assert double(A).op.tag == "elemwise"
    with pytest.raises(TensorLangTypeError, match="the tag must be a string"):
        with te.tag_scope(3):
            pass
