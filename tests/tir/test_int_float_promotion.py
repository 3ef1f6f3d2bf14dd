"""An integer expression with a float: a Python float literal makes float32 arithmetic
(TVM's rule: ``i * 2.0`` is ``float32(i) * 2f``); two typed expressions combine where the
float type holds every value of the integer type exactly, otherwise the error says which
side to cast."""
from __future__ import annotations

import numpy as np
import pytest

from tensorlang import te, tir
from tensorlang.errors import TensorLangTypeError
from tensorlang.te.reference import evaluate
from tensorlang.tir import datatype as dt


@pytest.mark.parametrize("int_type", ["int8", "int16", "int32", "int64", "uint8", "uint32"])
def test_float_literals_make_float32_arithmetic(int_type):
    i = tir.var("i", int_type)
    for expr in (i * 2.0, 2.0 * i, i + 0.5, i / 2.0, 1.5 - i, i * np.float64(0.25)):
        assert expr.dtype == dt.float32, expr
    assert (i * 2).dtype == dt.dtype(int_type)   # an int literal keeps the int type


def test_a_float_literal_keeps_a_float_expression_type():
    for name in ("float16", "bfloat16", "float64"):
        assert (tir.var("x", name) * 2.0).dtype == dt.dtype(name)


def test_the_values_are_those_of_numpy_in_float32():
    I = te.placeholder((6,), "int32", name="I")
    C = te.compute((6,), lambda i: I[i] * 0.5 + i / 4.0, name="C")
    values = np.array([-7, -1, 0, 1, 5, 1 << 20], "int32")
    [got] = evaluate(C, {I: values})
    want = values.astype("float32") * np.float32(0.5) + np.arange(6, dtype="float32") / 4
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("int_type, float_type, result", [
    ("int8", "float16", "float16"), ("uint8", "bfloat16", "bfloat16"),
    ("int16", "float32", "float32"), ("uint16", "float32", "float32"),
    ("int32", "float64", "float64"), ("uint32", "float64", "float64"),
    ("int16", "float16", None), ("int32", "float32", None), ("int64", "float64", None),
    ("int16", "bfloat16", None)])
def test_exact_widenings_combine_and_others_ask_for_a_cast(int_type, float_type, result):
    i, x = tir.var("i", int_type), tir.var("x", float_type)
    assert dt.promote(dt.dtype(int_type), dt.dtype(float_type)) == \
        (None if result is None else dt.dtype(result))
    if result is not None:
        assert (i * x).dtype == dt.dtype(result) and (x - i).dtype == dt.dtype(result)
        return
    with pytest.raises(TensorLangTypeError,
                       match=rf"'i' \({int_type}\) and 'x' \({float_type}\).*"
                             rf"\(i\).astype\(\"{float_type}\"\)"):
        i * x
    with pytest.raises(TensorLangTypeError, match=rf"\(i\).astype\(\"{float_type}\"\)"):
        x + i


def test_booleans_still_refuse_float_literals():
    b = tir.var("b", "bool")
    with pytest.raises(TensorLangTypeError, match=r"boolean 'b' and 2.0"):
        b * 2.0
