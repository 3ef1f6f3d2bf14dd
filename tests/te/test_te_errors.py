"""Every documented tensor-expression mistake raises a TensorLangError naming the object."""
import pytest

from tensorlang import te
from tensorlang.errors import TensorLangError, TensorLangTypeError, TensorLangValueError


@pytest.fixture
def A():
    return te.placeholder((4, 5), dtype="float32", name="A_in")


@pytest.fixture
def I():
    return te.placeholder((4, 5), dtype="int32", name="I_in")


def test_mixing_int_and_float_names_both_operands(A, I):
    with pytest.raises(TensorLangTypeError, match=r"A_in.*I_in.*astype"):
        te.compute((4, 5), lambda i, j: A[i, j] + I[i, j], name="mix")


def test_float_index_names_the_tensor(A):
    with pytest.raises(TensorLangTypeError, match=r"tensor 'A_in' indexed with .*float32"):
        te.compute((4,), lambda i: A[i, i.astype("float32")], name="bad")


def test_wrong_index_count_names_the_tensor(A):
    with pytest.raises(TensorLangTypeError, match=r"tensor 'A_in' has 2 dimension.*1 index"):
        te.compute((4,), lambda i: A[i], name="bad")


def test_slicing_is_rejected(A):
    with pytest.raises(TensorLangTypeError, match=r"'A_in' cannot be sliced"):
        te.compute((4,), lambda i: A[i, 0:2], name="bad")


def test_reducing_over_a_spatial_axis_names_the_axis(A):
    with pytest.raises(TensorLangTypeError, match=r"te.sum: axis 'row' is not a reduction"):
        te.compute((4,), lambda row: te.sum(A[row, 0], axis=row), name="bad")


def test_reduce_axis_outside_its_reduction_names_axis_and_compute(A):
    k = te.reduce_axis((0, 5), name="kk")
    with pytest.raises(TensorLangTypeError, match=r"compute 'leak'.*reduce axis 'kk'"):
        te.compute((4,), lambda i: A[i, kk_var(k)] * 2.0, name="leak")
    with pytest.raises(TensorLangTypeError, match=r"compute 'partial'.*reduce axis 'kk'"):
        j = te.reduce_axis((0, 5), name="j")
        te.compute((4,), lambda i: te.sum(A[i, k] + A[i, j], axis=j), name="partial")


def kk_var(k):
    return k


def test_axis_given_twice(A):
    k = te.reduce_axis((0, 5), name="k")
    with pytest.raises(TensorLangTypeError, match=r"reduce axis 'k' is given twice"):
        te.sum(A[0, k], axis=[k, k])


def test_fcompute_arity_mismatch_names_the_compute(A):
    with pytest.raises(TensorLangTypeError, match=r"compute 'C'.*2 dimension.*1 argument"):
        te.compute((4, 5), lambda i: A[i, 0], name="C")


def test_fcompute_must_be_callable_and_return_an_expression(A):
    with pytest.raises(TensorLangTypeError, match=r"compute 'C'.*fcompute must be a function"):
        te.compute((4,), 5, name="C")
    with pytest.raises(TensorLangTypeError, match=r"compute 'C'.*returned the tensor 'A_in'"):
        te.compute((4,), lambda i: A, name="C")
    with pytest.raises(TensorLangTypeError, match=r"compute 'C'.*must return an expression"):
        te.compute((4,), lambda i: "text", name="C")


def test_true_division_of_integers_is_refused(I):
    with pytest.raises(TensorLangTypeError, match=r"'/' on the integer.*I_in.*'//'"):
        te.compute((4,), lambda i: I[i, 0] / 2, name="bad")


def test_floor_division_of_floats_is_refused(A):
    with pytest.raises(TensorLangTypeError, match=r"'//' is defined on integers only.*A_in"):
        te.compute((4,), lambda i: A[i, 0] // 2.0, name="bad")


def test_python_truthiness_is_refused(A):
    with pytest.raises(TensorLangTypeError, match=r"if_then_else"):
        te.compute((4,), lambda i: A[i, 0] if A[i, 0] > 0 else 0.0, name="bad")


def test_float_literal_with_integer_expression_is_float32_arithmetic(I):
    # as in TVM: the integer is cast to float32, the type of a Python float literal
    C = te.compute((4,), lambda i: I[i, 0] * 0.5, name="half")
    assert str(C.dtype) == "float32"
    with pytest.raises(TensorLangTypeError, match=r"boolean.*2.5"):
        te.compute((4,), lambda i: (I[i, 0] > 0) * 2.5, name="bad")


def test_bad_shapes_name_the_tensor():
    with pytest.raises(TensorLangValueError, match=r"placeholder 'P'.*positive"):
        te.placeholder((3, 0), name="P")
    with pytest.raises(TensorLangTypeError, match=r"placeholder 'P'.*2.5"):
        te.placeholder((3, 2.5), name="P")
    with pytest.raises(TensorLangTypeError, match=r"placeholder 'P'.*float32.*integers"):
        te.placeholder((te.var("x", "float32"),), name="P")
    with pytest.raises(TensorLangTypeError, match=r"unknown dtype 'float8'"):
        te.placeholder((3,), dtype="float8", name="P")


def test_reduce_axis_errors_name_the_axis():
    with pytest.raises(TensorLangValueError, match=r"reduce_axis 'k': empty range"):
        te.reduce_axis((3, 3), name="k")
    with pytest.raises(TensorLangTypeError, match=r"reduce_axis 'k': dom must be"):
        te.reduce_axis(5, name="k")


def test_where_must_be_boolean(A):
    k = te.reduce_axis((0, 5), name="k")
    with pytest.raises(TensorLangTypeError, match=r"te.sum: where= must be a boolean"):
        te.compute((4,), lambda i: te.sum(A[i, k], axis=k, where=k), name="bad")


def test_reducing_a_boolean_is_refused(A):
    k = te.reduce_axis((0, 5), name="k")
    with pytest.raises(TensorLangTypeError, match=r"te.sum: cannot reduce the bool"):
        te.sum(A[0, k] > 0.0, axis=k)


def test_nested_reduction_inside_a_reduction_is_refused(A):
    k = te.reduce_axis((0, 5), name="k")
    j = te.reduce_axis((0, 4), name="j")
    with pytest.raises(TensorLangTypeError, match=r"contains another reduction"):
        te.sum(te.sum(A[j, k], axis=k), axis=j)


def test_custom_reducer_with_wrong_result_type():
    bad = te.comm_reducer(lambda x, y: (x + y).astype("float64"), lambda t: te.const(0, t),
                          name="widen")
    A = te.placeholder((3,), name="A")
    k = te.reduce_axis((0, 3), name="k")
    with pytest.raises(TensorLangTypeError, match=r"reducer 'widen'.*float64"):
        bad(A[k], axis=k)


def test_multi_output_must_reduce_in_all_or_none(A):
    k = te.reduce_axis((0, 5), name="k")
    with pytest.raises(TensorLangTypeError, match=r"compute 'mixed'.*every output or in none"):
        te.compute((4,), lambda i: (te.sum(A[i, k], axis=k), A[i, 0]), name="mixed")


def test_intrinsic_of_an_integer_expression(I):
    with pytest.raises(TensorLangTypeError, match=r"exp\(\) needs a float.*I_in"):
        te.exp(I[0, 0])


def test_condition_must_be_boolean(A):
    with pytest.raises(TensorLangTypeError, match=r"needs boolean conditions.*A_in"):
        te.if_then_else(A[0, 0], 1.0, 0.0)


def test_all_errors_derive_from_the_library_base():
    for error in (TensorLangTypeError, TensorLangValueError):
        assert issubclass(error, TensorLangError)
