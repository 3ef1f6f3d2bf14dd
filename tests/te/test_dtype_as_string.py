"""A tensor's dtype is the string of its name, as in TVM: it compares with, converts to
and stands in for the string, while keeping its parts (kind, bits, lanes)."""
from __future__ import annotations

import copy
import json
import pickle

import ml_dtypes
import numpy as np
import pytest

from tensorlang import te
from tensorlang.tir.datatype import DataType, dtype


@pytest.mark.parametrize("name", ["bool", "int8", "int32", "uint16", "float16", "float32",
                                  "float64", "bfloat16"])
def test_a_tensor_dtype_is_its_name(name):
    A = te.placeholder((3,), dtype=name, name="A")
    assert A.dtype == name and name == A.dtype and str(A.dtype) == name
    assert f"{A.dtype}" == name and {name: 1}[A.dtype] == 1
    expected = ml_dtypes.bfloat16 if name == "bfloat16" else name
    assert np.zeros(3).astype(A.dtype).dtype == np.dtype(expected)
    assert np.dtype(A.dtype) == np.dtype(expected)


def test_the_parts_and_identity():
    f = dtype("float32x8")
    assert (f.kind, f.bits, f.lanes) == ("float", 32, 8)
    assert DataType("float", 32, 8) is f and f.element_of() is dtype("float32")
    assert f.startswith("float") and "32" in f and repr(f) == "float32x8"
    assert dtype("int32") != "int64" and dtype("int32") != dtype("uint32")
    with pytest.raises(AttributeError, match="immutable"):
        f.bits = 16


def test_it_survives_pickle_copy_and_json():
    f = dtype("bfloat16")
    assert pickle.loads(pickle.dumps(f)) is f and copy.deepcopy(f) is f
    assert json.loads(json.dumps({"dtype": f})) == {"dtype": "bfloat16"}
