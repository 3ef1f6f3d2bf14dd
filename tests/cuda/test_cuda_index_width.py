"""CUDA C flattens indices of buffers that may hold 2**31 elements in 64-bit arithmetic,
and only those; a dimension too large for its variable is refused before any launch."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te


def _add_one(shape, name="A"):
    A = te.placeholder(shape, "uint8", name=name)
    C = te.compute(shape, lambda i, j: A[i, j] + 1, name="C")
    s = tl.create_schedule(C)
    outer, inner = s[C].split(C.op.axis[1], factor=256)
    s[C].bind(C.op.axis[0], te.thread_axis("blockIdx.x"))
    s[C].bind(inner, te.thread_axis("threadIdx.x"))
    return tl.build(s, [A, C], target="cuda")


def _subscripts(source: str) -> list[str]:
    return re.findall(r"\b[AC]\[([^\]]+)\]", source)


def test_buffer_of_2_31_elements_is_indexed_in_64_bits():
    source = _add_one((2**16, 2**15 + 1)).get_source("cuda")
    subscripts = _subscripts(source)
    assert subscripts and all("(long long)blockIdx_x" in s and "32769LL" in s
                              for s in subscripts)


def test_small_buffer_keeps_32_bit_indices():
    source = _add_one((64, 1024)).get_source("cuda")
    subscripts = _subscripts(source)
    assert subscripts and not any("long long" in s or "LL" in s for s in subscripts)


def test_symbolic_dimensions_whose_product_may_pass_2_31_use_64_bits():
    n, m = te.var("n"), te.var("m")
    source = _add_one((n, m)).get_source("cuda")
    assert all("long long" in s for s in _subscripts(source))
    k = te.var("k")
    source = _add_one((4, k), name="B").get_source("cuda")  # 4 * k may pass 2**31 too
    assert all("long long" in s for s in re.findall(r"\bC\[([^\]]+)\]", source))


def test_dimension_too_large_for_its_variable_is_refused():
    n = te.var("n")
    A = te.placeholder((n,), "uint8", name="A")
    C = te.compute((n,), lambda i: A[i] + 1, name="C")
    s = tl.create_schedule(C)
    outer, inner = s[C].split(C.op.axis[0], factor=256)
    s[C].bind(outer, te.thread_axis("blockIdx.x"))
    s[C].bind(inner, te.thread_axis("threadIdx.x"))
    mod = tl.build(s, [A, C], target="cuda")
    a = np.empty(2**31, "uint8")        # never touched: no memory is used
    with pytest.raises(ValueError, match=r"argument 'A' has 2147483648 elements along "
                                         r"axis 0.*'n'"):
        mod.emulate(a, np.empty(2**31, "uint8"))
