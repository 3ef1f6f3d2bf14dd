"""Tuning and te.scan: the derived search spaces refuse a scan (TuneError naming it), a
template that schedules the scan by hand tunes it, checked against the numpy reference,
and a scan's workload key follows its definition."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.autotune import MeasureOptions, workload_key
from tensorlang.autotune.sketch import SketchSpace
from tensorlang.autotune.sketch_gpu import GpuSketchSpace
from tensorlang.errors import TuneError

FAST = dict(verbose=0, n_parallel=2, population_size=16, num_generations=1, retime=0)
OPTIONS = MeasureOptions(timeout=5.0, min_timeout=1.0, min_measure_seconds=0.005)


def cumsum(steps, width, scale=1.0):
    X = te.placeholder((steps, width), name="X")
    s_state = te.placeholder((steps, width), name="s_state")
    s_init = te.compute((1, width), lambda _, i: X[0, i], name="s_init")
    s_update = te.compute((steps, width), lambda t, i: s_state[t - 1, i] * scale + X[t, i],
                          name="s_update")
    return X, s_update, te.scan(s_init, s_update, s_state, inputs=[X])


@pytest.mark.parametrize("space", [SketchSpace, GpuSketchSpace])
def test_derived_search_spaces_refuse_a_scan(space):
    X, _, s_scan = cumsum(8, 16)
    target = "cuda" if space is GpuSketchSpace else "llvm"
    with pytest.raises(TuneError, match="autotune: stage 'scan' is a te.scan .* schedule it by "
                                        "hand .* update 's_update' .* or tune it with a "
                                        "template"):
        space(s_scan, target)


def test_autotune_refuses_a_scan_on_the_cpu():
    X, _, s_scan = cumsum(8, 16)
    with pytest.raises(TuneError, match="stage 'scan' is a te.scan"):
        tl.autotune(s_scan, target="llvm", trials=2, **FAST)


def test_workload_key_of_a_scan_follows_its_definition():
    assert workload_key(cumsum(8, 16)[2]) == workload_key(cumsum(8, 16)[2])
    assert workload_key(cumsum(8, 16)[2]) != workload_key(cumsum(9, 16)[2])
    assert workload_key(cumsum(8, 16)[2]) != workload_key(cumsum(8, 16, scale=0.5)[2])


@tl.autotune.template
def cumsum_template(cfg, steps, width):
    X, s_update, s_scan = cumsum(steps, width)
    s = tl.create_schedule(s_scan)
    cfg.define_split("tile_i", s_update.op.axis[1], num_outputs=2)
    io, ii = cfg["tile_i"].apply(s, s_update, s_update.op.axis[1])
    s[s_update].vectorize(ii)
    return s, [X, s_scan]


def test_a_template_tunes_a_scan(tmp_path):
    log = tmp_path / "scan.jsonl"
    res = tl.autotune(cumsum_template, args=(12, 48), trials=3, batch_size=3,
                      log_file=str(log), measure_options=OPTIONS, **FAST)
    assert res.best_time > 0 and "tile_i" in res.best_config["decisions"]
    assert all(r.error_kind is None for r in res.history)
    x = np.random.default_rng(0).random((12, 48)).astype("float32")
    out = np.zeros_like(x)
    res.build()(x, out)
    np.testing.assert_allclose(out, np.cumsum(x, axis=0), rtol=1e-5)
    # tl.build of an unscheduled scan under the log builds it as given
    X, _, s_scan = cumsum(12, 48)
    with tl.autotune.apply_history_best(str(log)):
        mod = tl.build(tl.create_schedule(s_scan), [X, s_scan])
    out = np.zeros_like(x)
    mod(x, out)
    np.testing.assert_allclose(out, np.cumsum(x, axis=0), rtol=1e-5)
