"""Tuning and te.scan: the CPU sketch space keeps a scan as written (its time loop
serial, the stages of its steps unscheduled) and schedules the stages around it; the GPU
space refuses a scan (TuneError naming it); a template that schedules the scan by hand
tunes it, checked against the numpy reference; a scan's workload key follows its
definition."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.autotune import MeasureOptions, TuneWarning, workload_key
from tensorlang.autotune.sketch import SketchSpace
from tensorlang.autotune.sketch_gpu import GpuSketchSpace
from tensorlang.errors import TuneError
from tensorlang.schedule.stage_parts import ROOT

FAST = dict(verbose=0, n_parallel=2, population_size=16, num_generations=1, retime=0)
OPTIONS = MeasureOptions(timeout=5.0, min_timeout=1.0, min_measure_seconds=0.005)


def cumsum(steps, width, scale=1.0):
    X = te.placeholder((steps, width), name="X")
    s_state = te.placeholder((steps, width), name="s_state")
    s_init = te.compute((1, width), lambda _, i: X[0, i], name="s_init")
    s_update = te.compute((steps, width), lambda t, i: s_state[t - 1, i] * scale + X[t, i],
                          name="s_update")
    return X, s_update, te.scan(s_init, s_update, s_state, inputs=[X])


def test_the_gpu_search_space_refuses_a_scan():
    X, _, s_scan = cumsum(8, 16)
    with pytest.raises(TuneError, match="autotune: stage 'scan' is a te.scan .* GPU search "
                                        "space .* schedule it by hand .* update 's_update' "
                                        ".* or tune it with a template"):
        GpuSketchSpace(s_scan, "cuda")


def around_a_scan(steps=8, width=24):
    """P = 2 X -> a scan accumulating P -> Q = relu(scan + 1) -> G = Q @ W."""
    X, W = te.placeholder((steps, width), name="X"), te.placeholder((width, 16), name="W")
    P = te.compute(X.shape, lambda t, i: X[t, i] * 2.0, name="P")
    state = te.placeholder((steps, width), name="state")
    init = te.compute((1, width), lambda _, i: P[0, i], name="init")
    update = te.compute((steps, width), lambda t, i: state[t - 1, i] * 0.5 + P[t, i],
                        name="update")
    S = te.scan(init, update, state, inputs=[P])
    Q = te.compute(S.shape, lambda t, i: te.max(S[t, i] + 1.0, 0.0), name="Q")
    r = te.reduce_axis((0, width), name="r")
    G = te.compute((steps, 16), lambda t, j: te.sum(Q[t, r] * W[r, j], axis=r), name="G")
    return X, W, G


def around_a_scan_numpy(x, w):
    s = np.zeros_like(x)
    s[0] = 2 * x[0]
    for t in range(1, len(x)):
        s[t] = 0.5 * s[t - 1] + 2 * x[t]
    return np.maximum(s + 1, 0) @ w


def test_the_cpu_sketch_space_schedules_the_stages_around_a_scan():
    X, W, G = around_a_scan()
    space = SketchSpace(G, "llvm")
    assert {name.split("/")[0] for name in space.domains} == {"P", "Q", "G"}
    assert "P/inline" not in space.domains and "P/at" not in space.domains  # read whole
    rng = np.random.default_rng(0)
    x = rng.random((8, 24)).astype("float32")
    w = rng.random((24, 16)).astype("float32")
    want = around_a_scan_numpy(x, w)
    for config in [space.sample(rng) for _ in range(16)] + [space.default_config()]:
        s, args = space.apply(config)
        assert s.stage_by_name("P").attach_type == ROOT
        assert not s.stage_by_name("update").relations      # the steps as written
        g = np.full((8, 16), np.nan, "float32")
        tl.build(s, args)(x, w, g)
        np.testing.assert_allclose(g, want, rtol=1e-4, err_msg=str(config))


def test_autotune_tunes_around_a_scan_and_applies_the_record(tmp_path):
    log = str(tmp_path / "log.jsonl")
    X, W, G = around_a_scan()
    res = tl.autotune(G, "llvm", trials=3, log_file=log, measure_options=OPTIONS, **FAST)
    assert res.num_trials == 3 and not res.errors, res.errors
    rng = np.random.default_rng(1)
    x = rng.random((8, 24)).astype("float32")
    w = rng.random((24, 16)).astype("float32")
    X, W, G = around_a_scan()
    with tl.autotune.apply_history_best(log):
        best, _ = tl.autotune.best_schedule(G, "llvm")
        mod = tl.build(tl.create_schedule(G.op), [X, W, G])
    assert [step.to_json() for step in best.steps] == res.best_steps
    g = np.zeros((8, 16), "float32")
    mod(x, w, g)
    np.testing.assert_allclose(g, around_a_scan_numpy(x, w), rtol=1e-4)


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
    # tl.build of the unscheduled scan under the log (of the template's records only):
    # no record of that workload, so the schedule as given, with a warning
    X, _, s_scan = cumsum(12, 48)
    with tl.autotune.apply_history_best(str(log)), \
            pytest.warns(TuneWarning, match="no tuning record for workload 'scan'"):
        mod = tl.build(tl.create_schedule(s_scan), [X, s_scan])
    out = np.zeros_like(x)
    mod(x, out)
    np.testing.assert_allclose(out, np.cumsum(x, axis=0), rtol=1e-5)
