"""te.scan on CUDA: the loop over the steps stays on the host and launches the kernels of
each step in order (TVM's scan tutorial); emulated on the CPU against numpy, compiled with
nvcc, and run on a GPU where there is one."""
import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.errors import BuildError
from tensorlang.target.cuda import compile_cuda
from tensorlang.te.reference import evaluate
from tensorlang.tir.transform.split_kernels import HostLoop, Kernel
from scan_strategies import rnn

RNG = np.random.default_rng(11)


def tutorial_cumsum(num_thread=256):
    """The first schedule of TVM's scan tutorial: init and update bound to blocks and
    threads over the columns."""
    m, n = te.var("m"), te.var("n")
    X = te.placeholder((m, n), name="X")
    s_state = te.placeholder((m, n), name="s_state")
    s_init = te.compute((1, n), lambda _, i: X[0, i], name="s_init")
    s_update = te.compute((m, n), lambda t, i: s_state[t - 1, i] + X[t, i], name="s_update")
    s_scan = te.scan(s_init, s_update, s_state, inputs=[X])
    s = te.create_schedule(s_scan.op)
    block_x, thread_x = te.thread_axis("blockIdx.x"), te.thread_axis("threadIdx.x")
    for stage in (s_init, s_update):
        xo, xi = s[stage].split(stage.op.axis[1], factor=num_thread)
        s[stage].bind(xo, block_x)
        s[stage].bind(xi, thread_x)
    return s, [X, s_scan]


def rnn_gpu_schedule(steps=6, hidden=16, cross_thread=False):
    """One thread per hidden unit; ``cross_thread``: ``h2h`` a kernel of its own, one block
    per unit reducing across threads (rfactor)."""
    W, X, h2h, h_update, h_init, h_scan = rnn(steps, hidden)
    s = te.create_schedule(h_scan.op)
    tx = te.thread_axis("threadIdx.x")
    s[h_init].bind(h_init.op.axis[1], tx)
    s[h_update].bind(h_update.op.axis[1], tx)
    if cross_thread:
        ko, ki = s[h2h].split(s[h2h].op.reduce_axis[0], factor=4)
        HF = s.rfactor(h2h, ki)
        s[h2h].bind(s[h2h].op.axis[1], te.thread_axis("blockIdx.x"))
        s[h2h].bind(s[h2h].op.reduce_axis[0], tx)
        s[HF].compute_at(s[h2h], s[h2h].op.reduce_axis[0])
    else:
        s[h2h].compute_at(s[h_update], h_update.op.axis[1])
    return s, [W, X, h_scan]


def test_tutorial_cumsum_kernels_and_host_loop():
    s, args = tutorial_cumsum()
    mod = tl.build(s, args, target="cuda", name="myscan")
    init, loop = mod.program.plan
    assert isinstance(init, Kernel) and init.stage == "s_init" and init.host_vars == ()
    assert isinstance(loop, HostLoop) and loop.stage == "scan"
    (step,) = loop.body
    assert isinstance(step, Kernel) and step.stage == "s_update"
    assert [v.name for v in step.host_vars] == ["scan.idx"] and step.host_vars[0] in step.scalars
    source = mod.get_source("cuda")
    assert "myscan_kernel1(float* __restrict__ X, float* __restrict__ scan, int m, int n, " \
           "int scan_idx)" in source
    launches = list(mod.program.launches({v: 4 for v in mod.program.size_vars}))
    assert [(k.name, env.get(step.host_vars[0])) for k, env in launches] == \
        [("myscan_kernel0", None), ("myscan_kernel1", 0), ("myscan_kernel1", 1),
         ("myscan_kernel1", 2)]


@pytest.mark.parametrize("m,n", [(10, 300), (1, 5), (3, 256)])
def test_tutorial_cumsum_emulated(m, n):
    s, args = tutorial_cumsum()
    mod = tl.build(s, args, target="cuda")
    a = RNG.uniform(size=(m, n)).astype("float32")
    b = np.zeros((m, n), "float32")
    mod.emulate(a, b)
    np.testing.assert_allclose(b, np.cumsum(a, axis=0), rtol=1e-5)


@pytest.mark.parametrize("cross_thread", [False, True])
def test_rnn_emulated(cross_thread):
    s, (W, X, h_scan) = rnn_gpu_schedule(cross_thread=cross_thread)
    mod = tl.build(s, [W, X, h_scan], target="cuda")
    kernels_per_step = 2 if cross_thread else 1
    assert len(mod.program.plan[-1].body) == kernels_per_step
    w = (RNG.random((16, 16)) * 0.3).astype("float32")
    x = RNG.random((6, 16)).astype("float32")
    [want] = evaluate([h_scan], {W: w, X: x})
    got = np.zeros_like(x)
    mod.emulate(w, x, got)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_split_scan_axis_nests_host_loops():
    X = te.placeholder((9, 40), name="X")
    state = te.placeholder((9, 40), name="state")
    init = te.compute((1, 40), lambda _, i: X[0, i], name="init")
    s1 = te.compute((9, 40), lambda t, i: state[t - 1, i] * 0.5, name="s1")
    update = te.compute((9, 40), lambda t, i: s1[t, i] + X[t, i], name="update")
    out = te.scan(init, update, state)
    s = te.create_schedule(out.op)
    to, ti = s[out].split(out.op.scan_axis, factor=3)
    tx = te.thread_axis("threadIdx.x")
    s[init].bind(init.op.axis[1], tx)
    s[update].bind(update.op.axis[1], tx)
    s[s1].compute_at(s[update], update.op.axis[1])
    mod = tl.build(s, [X, out], target="cuda")
    outer = mod.program.plan[1]
    assert isinstance(outer, HostLoop) and isinstance(outer.body[0], HostLoop)
    x = RNG.random((9, 40)).astype("float32")
    [want] = evaluate([out], {X: x})
    got = np.zeros_like(x)
    mod.emulate(x, got)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_stage_of_a_step_left_unbound_runs_on_the_host():
    W, X, h2h, h_update, h_init, h_scan = rnn(4, 8)
    s = te.create_schedule(h_scan.op)
    s[h_init].bind(h_init.op.axis[1], te.thread_axis("threadIdx.x"))
    s[h_update].bind(h_update.op.axis[1], te.thread_axis("threadIdx.x"))
    with pytest.raises(BuildError, match="stage 'h2h': loop 'j' .* runs on the host, outside "
                                         "any GPU kernel"):
        tl.build(s, [W, X, h_scan], target="cuda")


def test_scan_kernels_compile_with_nvcc(nvcc_cached):
    for s, args in (tutorial_cumsum(), rnn_gpu_schedule(cross_thread=True)):
        source = tl.build(s, args, target="cuda").get_source("cuda")
        ptx = compile_cuda(source, "sm_80", "ptx").decode()
        assert ".target sm_80" in ptx and "main_kernel1" in ptx


@pytest.mark.gpu
def test_scans_on_the_gpu(gpu, monkeypatch):
    monkeypatch.delenv("TL_CUDA_EMULATE", raising=False)
    s, args = tutorial_cumsum()
    mod = tl.build(s, args, target="cuda")
    a = RNG.uniform(size=(10, 1024)).astype("float32")
    b = np.zeros_like(a)
    mod(a, b)
    np.testing.assert_allclose(b, np.cumsum(a, axis=0), rtol=1e-5)
    for cross_thread in (False, True):
        s, (W, X, h_scan) = rnn_gpu_schedule(steps=20, hidden=16, cross_thread=cross_thread)
        mod = tl.build(s, [W, X, h_scan], target="cuda")
        w = (RNG.random((16, 16)) * 0.3).astype("float32")
        x = RNG.random((20, 16)).astype("float32")
        [want] = evaluate([h_scan], {W: w, X: x})
        got = np.zeros_like(x)
        mod(w, x, got)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
