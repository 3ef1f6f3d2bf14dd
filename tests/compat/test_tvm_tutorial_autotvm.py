"""TVM's "Optimizing operators with schedule templates and AutoTVM" tutorial through
``tensorlang.compat.tvm``: a matmul template with knobs, a task, a tuner, the log, and the
best config built under ``apply_history_best``, checked against numpy."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from tensorlang.compat import tvm
from tvm import autotvm, te  # noqa: E402
from tensorlang.autotune import TuneWarning  # noqa: E402
from tensorlang.errors import TuneError  # noqa: E402


@autotvm.template("tutorial/matmul_v1")
def matmul_v1(N, L, M, dtype):
    A = te.placeholder((N, L), name="A", dtype=dtype)
    B = te.placeholder((L, M), name="B", dtype=dtype)
    k = te.reduce_axis((0, L), name="k")
    C = te.compute((N, M), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    s = te.create_schedule(C.op)
    y, x = s[C].op.axis
    k = s[C].op.reduce_axis[0]
    cfg = autotvm.get_config()
    cfg.define_knob("tile_y", [1, 2, 4, 8, 16])
    cfg.define_knob("tile_x", [1, 2, 4, 8, 16])
    yo, yi = s[C].split(y, cfg["tile_y"].val)
    xo, xi = s[C].split(x, cfg["tile_x"].val)
    s[C].reorder(yo, xo, k, yi, xi)
    return s, [A, B, C]


@autotvm.template("tutorial/matmul")
def matmul(N, L, M, dtype):
    A = te.placeholder((N, L), name="A", dtype=dtype)
    B = te.placeholder((L, M), name="B", dtype=dtype)
    k = te.reduce_axis((0, L), name="k")
    C = te.compute((N, M), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    s = te.create_schedule(C.op)
    y, x = s[C].op.axis
    k = s[C].op.reduce_axis[0]
    cfg = autotvm.get_config()
    cfg.define_split("tile_y", y, num_outputs=2)
    cfg.define_split("tile_x", x, num_outputs=2)
    yo, yi = cfg["tile_y"].apply(s, C, y)
    xo, xi = cfg["tile_x"].apply(s, C, x)
    s[C].reorder(yo, xo, k, yi, xi)
    return s, [A, B, C]


N, L, M = 48, 40, 36


def _check(func):
    rng = np.random.default_rng(0)
    a_np = rng.uniform(size=(N, L)).astype(np.float32)
    b_np = rng.uniform(size=(L, M)).astype(np.float32)
    c_tvm = tvm.nd.empty((N, M))
    func(tvm.nd.array(a_np), tvm.nd.array(b_np), c_tvm)
    tvm.testing.assert_allclose(a_np.dot(b_np), c_tvm.numpy(), rtol=1e-4)


@pytest.mark.parametrize("template, tuner_class", [(matmul_v1, autotvm.tuner.RandomTuner),
                                                   (matmul, autotvm.tuner.XGBTuner)])
def test_tune_then_build_the_best(tmp_path, template, tuner_class):
    task = autotvm.task.create(template.name, args=(N, L, M, "float32"), target="llvm")
    assert len(task.config_space) > 1 and "tile_y" in repr(task.config_space)
    measure_option = autotvm.measure_option(builder="local",
                                            runner=autotvm.LocalRunner(number=5))
    log = tmp_path / "matmul.log"
    tuner = tuner_class(task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TuneWarning)   # candidates built in this process
        tuner.tune(n_trial=4, measure_option=measure_option,
                   callbacks=[autotvm.callback.log_to_file(str(log))])
    assert log.read_text().count("\n") >= 4 and tuner.best_flops > 0
    with autotvm.apply_history_best(str(log)):
        with tvm.target.Target("llvm"):
            s, arg_bufs = template(N, L, M, "float32")
            func = tvm.build(s, arg_bufs)
    _check(func)
    best = tuner.best_config["decisions"]
    assert "tile_x" in best and "tile_y" in best


def test_outside_apply_history_best_the_fallback_config_warns():
    with pytest.warns(TuneWarning, match="fallback config"):
        s, arg_bufs = matmul(N, L, M, "float32")
    _check(tvm.build(s, arg_bufs))


def test_get_config_outside_a_template_says_where_it_belongs():
    with pytest.raises(TuneError, match="inside an @autotvm.template"):
        autotvm.get_config()


def test_unknown_task_names_the_decorator():
    with pytest.raises(TuneError, match=r"@autotvm.template\('nope'\)"):
        autotvm.task.create("nope", args=(), target="llvm")


def test_refused_constructs_say_what_to_write():
    with pytest.raises(NotImplementedError, match="RayRunner"):
        autotvm.RPCRunner("key", "host", 9190)
    with pytest.raises(NotImplementedError, match="@autotvm.template"):
        autotvm.register_topi_compute("conv2d_nchw.x86")
