"""TVM's "External Tensor Functions" tutorial through ``tensorlang.compat.tvm``: a CBLAS
matmul as an extern stage followed by a fused bias, the ``cblas.matmul`` wrapper, and a
Python function registered with ``tvm.register_func`` as a stage, each checked against
numpy; then the registry's TVM spellings."""
from __future__ import annotations

import numpy as np
import pytest

from tensorlang.compat import tvm
from tensorlang.errors import ExternCallError
from tvm import te  # noqa: E402
from tvm.contrib import cblas  # noqa: E402

n, l, m = 1024, 128, 235


def test_cblas_matmul_with_a_bias():
    assert tvm.get_global_func("tvm.contrib.cblas.matmul", allow_missing=True)
    bias = te.var("bias", dtype="float32")
    A = te.placeholder((n, l), name="A")
    B = te.placeholder((l, m), name="B")
    C = te.extern((n, m), [A, B], lambda ins, outs: tvm.tir.call_packed(
        "tvm.contrib.cblas.matmul", ins[0], ins[1], outs[0], False, False), name="C")
    D = te.compute(C.shape, lambda i, j: C[i, j] + bias, name="D")
    s = te.create_schedule(D.op)
    dev = tvm.cpu(0)
    f = tvm.build(s, [A, B, D, bias], "llvm")
    a = tvm.nd.array(np.random.uniform(size=(n, l)).astype(A.dtype), dev)
    b = tvm.nd.array(np.random.uniform(size=(l, m)).astype(B.dtype), dev)
    d = tvm.nd.array(np.zeros((n, m), dtype=D.dtype), dev)
    f(a, b, d, 10.0)
    tvm.testing.assert_allclose(d.numpy(), np.dot(a.numpy(), b.numpy()) + 10, rtol=1e-5)

    C = cblas.matmul(A, B)
    D = te.compute(C.shape, lambda i, j: C[i, j] + bias, name="D")
    s = te.create_schedule(D.op)
    f = tvm.build(s, [A, B, D, bias], "llvm")
    d = tvm.nd.array(np.zeros((n, m), dtype=D.dtype), dev)
    f(a, b, d, 10.0)
    tvm.testing.assert_allclose(d.numpy(), np.dot(a.numpy(), b.numpy()) + 10, rtol=1e-5)


def test_a_python_function_as_a_stage():
    seen = []

    @tvm.register_func("tvm.contrib.my_tvm_addone")
    def my_tvm_addone(x, y):
        seen.append((type(x), type(y)))
        tvm.nd.array(x.numpy() + 1).copyto(y)

    try:
        A = te.placeholder((n,), name="A")
        B = te.extern(A.shape, [A], lambda ins, outs: tvm.tir.call_packed(
            "tvm.contrib.my_tvm_addone", ins[0], outs[0]), name="C")
        s = te.create_schedule(B.op)
        f = tvm.build(s, [A, B], "llvm")
        dev = tvm.cpu(0)
        a = tvm.nd.array(np.random.uniform(size=(n,)).astype(A.dtype), dev)
        b = tvm.nd.array(np.random.uniform(size=(n,)).astype(B.dtype), dev)
        f(a, b)
        tvm.testing.assert_allclose(b.numpy(), a.numpy() + 1, rtol=1e-5)
        assert seen == [(tvm.nd.NDArray, tvm.nd.NDArray)]
        # called from Python, with NDArrays or numpy arrays
        out = tvm.nd.empty((3,), "float32")
        tvm.get_global_func("tvm.contrib.my_tvm_addone")(np.zeros(3, "float32"), out)
        np.testing.assert_array_equal(out.numpy(), np.ones(3, "float32"))
        assert "tvm.contrib.my_tvm_addone" in tvm.list_global_func_names()
    finally:
        tvm.remove_global_func("tvm.contrib.my_tvm_addone")
    with pytest.raises(ExternCallError, match="'tvm.contrib.my_tvm_addone' is not registered"):
        f(a, b)
    assert tvm.get_global_func("tvm.contrib.my_tvm_addone", allow_missing=True) is None


def test_decl_buffer_for_extern_buffers():
    A = te.placeholder((8,), name="A")
    Ab = tvm.tir.decl_buffer(A.shape, A.dtype, name="Ab", offset_factor=1, data_alignment=64)
    B = te.extern(A.shape, [A], lambda ins, outs: tvm.tir.call_packed(
        "test.compat.copy", ins[0], outs[0]), in_buffers=[Ab],
        name="B")
    assert B.op.input_placeholders == (Ab,)
    with pytest.raises(NotImplementedError, match=r"decl_buffer\(data=...\)"):
        tvm.tir.decl_buffer((8,), "float32", data=te.var("p"))
    with pytest.raises(NotImplementedError, match=r"decl_buffer\(elem_offset=...\)"):
        tvm.tir.decl_buffer((8,), "float32", elem_offset=3)
    with pytest.raises(TypeError, match="argument 1 is a buffer.*tir.call_packed"):
        tvm.tir.call_extern("float32", "vadd", Ab)


def test_strided_buffer_declarations_bind_to_the_compact_strides():
    """TVM's ``decl_buffer(strides=[s0, 1], offset_factor=1, elem_offset=v)``: the
    stride variables stand for the strides of the buffers given (compact ones), and a
    call passing a stride passes its value."""
    n, m = te.var("n"), te.var("m")
    A = te.placeholder((n, m), name="A")
    s0 = te.var("s0")
    Ab = tvm.tir.decl_buffer(A.shape, A.dtype, name="Ab", strides=[s0, 1], offset_factor=1,
                             elem_offset=te.var("off"))
    seen = []

    @tvm.register_func("test.compat.rows_of")
    def rows_of(x, y, stride):
        seen.append(stride)
        y.copyfrom(x.numpy() * 2)
    try:
        B = te.extern(A.shape, [A], lambda ins, outs: tvm.tir.call_packed(
            "test.compat.rows_of", ins[0], outs[0], ins[0].strides[0]), in_buffers=[Ab],
            name="B")
        f = tvm.build(te.create_schedule(B.op), [A, B], "llvm")
        a = np.random.default_rng(1).random((3, 5)).astype("float32")
        b = tvm.nd.array(np.zeros_like(a))
        f(tvm.nd.array(a), b)
    finally:
        tvm.remove_global_func("test.compat.rows_of")
    np.testing.assert_allclose(b.numpy(), 2 * a)
    assert seen == [5]
    bad = tvm.tir.decl_buffer(A.shape, A.dtype, name="bad", strides=[7, 1])
    with pytest.raises(ValueError, match="compact.*stride 0 is 'm'"):
        te.extern(A.shape, [A], lambda ins, outs: tvm.tir.call_packed(
            "test.compat.rows_of", ins[0], outs[0], 0), in_buffers=[bad], name="C")
