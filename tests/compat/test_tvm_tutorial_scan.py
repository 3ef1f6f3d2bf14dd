"""TVM's "Scan and Recurrent Kernel" tutorial through ``tensorlang.compat.tvm``: the
cumsum scan bound to blocks and threads (CUDA, emulated), a two-stage scan cell with
compute_at, and a scan of two states, each checked against numpy."""
from __future__ import annotations

import numpy as np

from tensorlang.compat import tvm
import tvm.testing  # noqa: E402,F811
from tvm import te  # noqa: E402
from tensorlang.settings import settings  # noqa: E402


def test_cumsum_scan_on_cuda():
    m = te.var("m")
    n = te.var("n")
    X = te.placeholder((m, n), name="X")
    s_state = te.placeholder((m, n))
    s_init = te.compute((1, n), lambda _, i: X[0, i])
    s_update = te.compute((m, n), lambda t, i: s_state[t - 1, i] + X[t, i])
    s_scan = tvm.te.scan(s_init, s_update, s_state, inputs=[X])
    s = te.create_schedule(s_scan.op)
    num_thread = 256
    block_x = te.thread_axis("blockIdx.x")
    thread_x = te.thread_axis("threadIdx.x")
    xo, xi = s[s_init].split(s_init.op.axis[1], factor=num_thread)
    s[s_init].bind(xo, block_x)
    s[s_init].bind(xi, thread_x)
    xo, xi = s[s_update].split(s_update.op.axis[1], factor=num_thread)
    s[s_update].bind(xo, block_x)
    s[s_update].bind(xi, thread_x)
    assert "scan" in str(tvm.lower(s, [X, s_scan], simple_mode=True))
    fscan = tvm.build(s, [X, s_scan], "cuda", name="myscan")
    with settings.override(cuda_emulate=True):
        dev = tvm.cuda(0)
        n, m = 300, 10
        a_np = np.random.uniform(size=(m, n)).astype(s_scan.dtype)
        a = tvm.nd.array(a_np, dev)
        b = tvm.nd.array(np.zeros((m, n), dtype=s_scan.dtype), dev)
        fscan(a, b)
    tvm.testing.assert_allclose(b.numpy(), np.cumsum(a_np, axis=0), rtol=1e-5)


def test_multi_stage_scan_cell():
    m = te.var("m")
    n = te.var("n")
    X = te.placeholder((m, n), name="X")
    s_state = te.placeholder((m, n))
    s_init = te.compute((1, n), lambda _, i: X[0, i])
    s_update_s1 = te.compute((m, n), lambda t, i: s_state[t - 1, i] * 2, name="s1")
    s_update_s2 = te.compute((m, n), lambda t, i: s_update_s1[t, i] + X[t, i], name="s2")
    s_scan = tvm.te.scan(s_init, s_update_s2, s_state, inputs=[X])
    s = te.create_schedule(s_scan.op)
    xo, xi = s[s_update_s2].split(s_update_s2.op.axis[1], factor=32)
    s[s_update_s1].compute_at(s[s_update_s2], xo)
    assert "s1" in str(tvm.lower(s, [X, s_scan], simple_mode=True))
    f = tvm.build(s, [X, s_scan], "llvm")
    a_np = np.random.uniform(size=(8, 70)).astype("float32")
    b = tvm.nd.array(np.zeros((8, 70), "float32"))
    f(tvm.nd.array(a_np), b)
    want = np.zeros_like(a_np)
    want[0] = a_np[0]
    for t in range(1, 8):
        want[t] = want[t - 1] * 2 + a_np[t]
    tvm.testing.assert_allclose(b.numpy(), want, rtol=1e-5)


def test_multiple_states():
    m = te.var("m")
    n = te.var("n")
    l = te.var("l")  # noqa: E741 - the tutorial's name
    X = te.placeholder((m, n), name="X")
    s_state1 = te.placeholder((m, n))
    s_state2 = te.placeholder((m, l))
    s_init1 = te.compute((1, n), lambda _, i: X[0, i])
    s_init2 = te.compute((1, l), lambda _, i: 0.0)
    s_update1 = te.compute((m, n), lambda t, i: s_state1[t - 1, i] + X[t, i])
    s_update2 = te.compute((m, l), lambda t, i: s_state2[t - 1, i] + s_state1[t - 1, 0])
    s_scan1, s_scan2 = tvm.te.scan(
        [s_init1, s_init2], [s_update1, s_update2], [s_state1, s_state2], inputs=[X]
    )
    s = te.create_schedule(s_scan1.op)
    assert "for" in str(tvm.lower(s, [X, s_scan1, s_scan2], simple_mode=True))
    f = tvm.build(s, [X, s_scan1, s_scan2], "llvm")
    a_np = np.random.uniform(size=(6, 4)).astype("float32")
    b1 = tvm.nd.array(np.zeros((6, 4), "float32"))
    b2 = tvm.nd.array(np.zeros((6, 3), "float32"))
    f(tvm.nd.array(a_np), b1, b2)
    want1 = np.cumsum(a_np, axis=0)
    want2 = np.zeros((6, 3), "float32")
    for t in range(1, 6):
        want2[t] = want2[t - 1] + want1[t - 1, 0]
    tvm.testing.assert_allclose(b1.numpy(), want1, rtol=1e-5)
    tvm.testing.assert_allclose(b2.numpy(), want2, rtol=1e-5)
