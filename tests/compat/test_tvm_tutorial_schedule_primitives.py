"""TVM's "Schedule Primitives" tutorial through ``tensorlang.compat.tvm``: each section's
schedule is lowered as the tutorial prints it, then built and checked against numpy."""
from __future__ import annotations

import numpy as np
import pytest

from tensorlang.compat import tvm
from tvm import te  # noqa: E402

M, N = 37, 23   # not multiples of the tutorial's factors


def _run(s, tensors, inputs, expected):
    text = str(tvm.lower(s, tensors, simple_mode=True))
    assert "for" in text
    f = tvm.build(s, tensors, "llvm")
    out = tvm.nd.empty(expected.shape, tensors[-1].dtype)
    f(*[tvm.nd.array(x) for x in inputs], out)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    return text


@pytest.fixture
def mn():
    return te.var("m"), te.var("n")


def test_elementwise_multiply(mn):
    m, n = mn
    A = te.placeholder((m, n), name="A")
    B = te.placeholder((m, n), name="B")
    C = te.compute((m, n), lambda i, j: A[i, j] * B[i, j], name="C")
    s = te.create_schedule([C.op])
    a, b = np.random.rand(M, N).astype("float32"), np.random.rand(M, N).astype("float32")
    _run(s, [A, B, C], [a, b], a * b)


@pytest.mark.parametrize("how", ["factor", "nparts"])
def test_split(mn, how):
    m, _ = mn
    A = te.placeholder((m,), name="A")
    B = te.compute((m,), lambda i: A[i] * 2, name="B")
    s = te.create_schedule(B.op)
    if how == "factor":
        xo, xi = s[B].split(B.op.axis[0], factor=32)
    else:
        bx, tx = s[B].split(B.op.axis[0], nparts=32)
    a = np.random.rand(M).astype("float32")
    _run(s, [A, B], [a], a * 2)


@pytest.mark.parametrize("then", ["tile", "fuse", "reorder"])
def test_tile_fuse_reorder(mn, then):
    m, n = mn
    A = te.placeholder((m, n), name="A")
    B = te.compute((m, n), lambda i, j: A[i, j], name="B")
    s = te.create_schedule(B.op)
    xo, yo, xi, yi = s[B].tile(B.op.axis[0], B.op.axis[1], x_factor=10, y_factor=5)
    if then == "fuse":
        s[B].fuse(xi, yi)
    elif then == "reorder":
        s[B].reorder(xi, yo, xo, yi)
    a = np.random.rand(M, N).astype("float32")
    _run(s, [A, B], [a], a)


def test_bind_lowers_and_runs_emulated(mn):
    from tensorlang.settings import settings
    _, n = mn
    A = te.placeholder((n,), name="A")
    B = te.compute(A.shape, lambda i: A[i] * 2, name="B")
    s = te.create_schedule(B.op)
    bx, tx = s[B].split(B.op.axis[0], factor=64)
    s[B].bind(bx, te.thread_axis("blockIdx.x"))
    s[B].bind(tx, te.thread_axis("threadIdx.x"))
    assert "blockIdx.x" in str(tvm.lower(s, [A, B], simple_mode=True))
    f = tvm.build(s, [A, B], "cuda")
    a = np.random.rand(200).astype("float32")
    out = tvm.nd.empty((200,), "float32", tvm.cuda(0))
    with settings.override(cuda_emulate=True):
        f(tvm.nd.array(a, tvm.cuda(0)), out)
    np.testing.assert_allclose(out.numpy(), a * 2)


@pytest.mark.parametrize("placement", ["root", "compute_at", "compute_inline",
                                       "compute_at_then_root"])
def test_placements(mn, placement):
    m, _ = mn
    A = te.placeholder((m,), name="A")
    B = te.compute((m,), lambda i: A[i] + 1, name="B")
    C = te.compute((m,), lambda i: B[i] * 2, name="C")
    s = te.create_schedule(C.op)
    if placement in ("compute_at", "compute_at_then_root"):
        s[B].compute_at(s[C], C.op.axis[0])
    if placement == "compute_at_then_root":
        s[B].compute_root()
    if placement == "compute_inline":
        s[B].compute_inline()
    a = np.random.rand(M).astype("float32")
    tensors = [A, B, C] if placement != "compute_inline" else [A, C]
    f = tvm.build(s, tensors, "llvm")
    outs = [tvm.nd.empty((M,), "float32") for _ in tensors[1:]]
    f(tvm.nd.array(a), *outs)
    np.testing.assert_allclose(outs[-1].numpy(), (a + 1) * 2, rtol=1e-6)
