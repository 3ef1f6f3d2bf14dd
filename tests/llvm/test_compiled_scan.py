"""te.scan compiled for the CPU: symbolic steps and widths bound by the arguments, a
parallel and vectorized RNN step, bounds-checked code, an exported library, and the
argument checks, each against numpy."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang.errors import TensorLangTypeError
from tensorlang import te
from scan_strategies import rnn, rnn_numpy

RNG = np.random.default_rng(5)


def cumsum():
    m, n = te.var("m"), te.var("n")
    X = te.placeholder((m, n), name="X")
    s_state = te.placeholder((m, n), name="s_state")
    s_init = te.compute((1, n), lambda _, i: X[0, i], name="s_init")
    s_update = te.compute((m, n), lambda t, i: s_state[t - 1, i] + X[t, i], name="s_update")
    return X, s_update, te.scan(s_init, s_update, s_state, inputs=[X])


@pytest.mark.parametrize("bounds_check", [False, True])
def test_cumsum_of_any_size(bounds_check):
    X, s_update, s_scan = cumsum()
    s = te.create_schedule(s_scan.op)
    io, ii = s[s_update].split(s_update.op.axis[1], factor=8)
    s[s_update].vectorize(ii)
    s[s_update].parallel(io)
    mod = tl.build(s, [X, s_scan], bounds_check=bounds_check)
    for m, n in ((1, 3), (7, 8), (20, 37)):
        x = RNG.random((m, n)).astype("float32")
        out = np.full_like(x, np.nan)
        mod(x, out)
        np.testing.assert_allclose(out, np.cumsum(x, axis=0), rtol=1e-5)


def test_parallel_vectorized_rnn_step():
    W, X, h2h, h_update, _, h_scan = rnn(12, 32)
    s = te.create_schedule(h_scan.op)
    jo, ji = s[h_update].split(h_update.op.axis[1], factor=8)
    s[h_update].parallel(jo)
    s[h_update].vectorize(ji)
    s[h2h].compute_at(s[h_update], jo)
    j = s[h2h].op.axis[1]
    s[h2h].reorder(s[h2h].op.reduce_axis[0], j)
    s[h2h].vectorize(j)
    mod = tl.build(s, [W, X, h_scan])
    assert "<8 x float>" in mod.get_source("ll")
    w = (RNG.random((32, 32)) * 0.2).astype("float32")
    x = RNG.random((12, 32)).astype("float32")
    out = np.zeros_like(x)
    mod(w, x, out)
    np.testing.assert_allclose(out, rnn_numpy(w, x), rtol=1e-4, atol=1e-5)


def test_exported_scan_library(tmp_path):
    X, _, s_scan = cumsum()
    mod = tl.build(te.create_schedule(s_scan.op), [X, s_scan], name="cumsum")
    path = tmp_path / "cumsum.so"
    mod.export_library(str(path))
    loaded = tl.load_module(str(path))
    x = RNG.random((5, 6)).astype("float32")
    out = np.zeros_like(x)
    loaded(x, out)
    np.testing.assert_allclose(out, np.cumsum(x, axis=0), rtol=1e-5)


def test_arguments_are_checked_against_the_scan_shape():
    X, _, s_scan = cumsum()
    mod = tl.build(te.create_schedule(s_scan.op), [X, s_scan])
    with pytest.raises(ValueError, match="scan"):
        mod(np.zeros((4, 3), "float32"), np.zeros((4, 2), "float32"))


def double(x, y):
    y[...] = 2 * x


def test_scans_with_extern_stages_before_and_after():
    """An extern stage computing a scan's input, another reading the scan's output: both
    outside the steps, each run once, the result against numpy and the reference."""
    from tensorlang import tir
    from tensorlang.te.reference import evaluate
    m, n = 6, 5
    X0 = te.placeholder((m, n), name="X0")
    X = te.extern((m, n), [X0], lambda ins, outs: tir.call_packed(
        "test.scan.double", ins[0], outs[0]), name="X")
    s_state = te.placeholder((m, n), name="s_state")
    s_init = te.compute((1, n), lambda _, i: X[0, i], name="s_init")
    s_update = te.compute((m, n), lambda t, i: s_state[t - 1, i] + X[t, i], name="s_update")
    s_scan = te.scan(s_init, s_update, s_state, inputs=[X])
    Y = te.extern((m, n), [s_scan], lambda ins, outs: tir.call_packed(
        "test.scan.double", ins[0], outs[0]), name="Y")
    s = te.create_schedule(Y.op)
    s[s_update].vectorize(s_update.op.axis[1])
    mod = tl.build(s, [X0, Y])
    x = RNG.random((m, n)).astype("float32")
    out = np.zeros_like(x)
    calls = []

    def counted(a, b):
        calls.append(a.shape)
        double(a, b)
    tl.register_func("test.scan.double", counted)
    try:
        mod(x, out)
        assert calls == [(m, n), (m, n)]   # once each, not once per step
        [expected] = evaluate([Y], {X0: x})
    finally:
        tl.remove_global_func("test.scan.double")
    np.testing.assert_allclose(out, 4 * np.cumsum(x, axis=0), rtol=1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_an_extern_stage_cannot_be_computed_at_each_step():
    from tensorlang import tir
    m, n = 4, 3
    X = te.placeholder((m, n), name="X")
    s_state = te.placeholder((m, n), name="s_state")
    s_init = te.compute((1, n), lambda _, i: X[0, i], name="s_init")
    E = te.extern((m, n), [s_state], lambda ins, outs: tir.call_packed(
        "test.scan.double", ins[0], outs[0]), name="E")
    s_update = te.compute((m, n), lambda t, i: E[t - 1, i] + X[t, i], name="s_update")
    with pytest.raises(TensorLangTypeError, match="reads the state through 'E', a ExternOp"):
        te.scan(s_init, s_update, s_state, inputs=[X])
