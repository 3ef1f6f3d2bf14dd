"""Tuning workloads with te.extern stages: the sketch space schedules the te.compute
stages around an extern stage (kept as written: nothing is inlined into it or computed
at a loop for it), the runner process calls the registered functions (shipped by
reference), a function it could not import stops tuning with a TuneError naming it, a
function whose result varies cannot make a candidate win, and tuned records of such
workloads are built under apply_history_best."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te, tir
from tensorlang.autotune import TuneWarning, canonical_te_text, sketch_space, workload_key
from tensorlang.autotune.extern_functions import pack_functions
from tensorlang.autotune.template import TemplateSpace, template
from tensorlang.contrib import cblas
from tensorlang.errors import TuneError
from tensorlang.schedule.stage_parts import ROOT

from extern_tuning_functions import drifting_scale, nd_scale, scale
from registry_helpers import registered

FAST = dict(verbose=0, n_parallel=2, population_size=16, num_generations=1, retime=0)
RNG = np.random.default_rng(0)


def matmul_bias_relu(n=16, k=8, m=12):
    A, B = te.placeholder((n, k), name="A"), te.placeholder((k, m), name="B")
    bias = te.placeholder((m,), name="bias")
    C = cblas.matmul(A, B)
    D = te.compute(C.shape, lambda i, j: te.max(C[i, j] + bias[j], 0.0), name="D")
    return A, B, bias, D


def inputs(*shapes):
    return [RNG.uniform(-1, 1, s).astype("float32") for s in shapes]


def expected_relu(a, b, bias):
    return np.maximum(a @ b + bias, 0.0)


def scaled(D, name, factor=0.5, stage="E"):
    return te.extern(D.shape, [D], lambda ins, outs: tir.call_packed(name, ins[0], outs[0],
                                                                     factor), name=stage)


# -- the space ------------------------------------------------------------------------------

def pipeline():
    """P (element-wise) -> C = cblas matmul of P -> D = relu(C + bias) -> G = D @ W: the
    stages on both sides of the extern stage."""
    A, B = te.placeholder((16, 8), name="A"), te.placeholder((8, 12), name="B")
    bias, W = te.placeholder((12,), name="bias"), te.placeholder((12, 20), name="W")
    P = te.compute(A.shape, lambda i, j: A[i, j] * 2.0, name="P")
    C = cblas.matmul(P, B)
    D = te.compute(C.shape, lambda i, j: te.max(C[i, j] + bias[j], 0.0), name="D")
    r = te.reduce_axis((0, 12), name="r")
    G = te.compute((16, 20), lambda i, j: te.sum(D[i, r] * W[r, j], axis=r), name="G")
    return [A, B, bias, W], G


def test_the_sketch_space_schedules_the_stages_around_an_extern_stage():
    (A, B, bias, W), G = pipeline()
    space = sketch_space([G], "llvm")
    stages = {name.split("/")[0] for name in space.domains}
    assert stages == {"P", "D", "G"}               # no decision of the extern stage C
    # P is read whole by C: neither inlined into it nor computed at a loop for it
    assert "P/inline" not in space.domains and "P/at" not in space.domains
    assert {"D/inline", "D/at"} <= set(space.domains)   # D feeds G: both are open
    a, b, bb, w = inputs((16, 8), (8, 12), (12,), (12, 20))
    want = np.maximum(2 * a @ b + bb, 0) @ w
    rng = np.random.default_rng(1)
    configs = [space.sample(rng) for _ in range(24)] + [space.default_config()]
    for config in configs:
        s, args = space.apply(config)
        for name in ("C", "P"):
            assert s.stage_by_name(name).attach_type == ROOT, config
        g = np.full((16, 20), np.nan, "float32")
        tl.build(s, args)(a, b, bb, w, g)
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-4, err_msg=str(config))


def test_extern_workload_keys_are_structural():
    def key(transb=False, name="C"):
        A, B = te.placeholder((16, 8), name="A"), te.placeholder((12, 8) if transb else
                                                                   (8, 12), name="B")
        C = cblas.matmul(A, B, transb=transb, name=name)
        D = te.compute(C.shape, lambda i, j: C[i, j] + 1.0, name="D")
        return workload_key(D)
    assert key() == key(name="other")              # names do not matter
    assert key() != key(transb=True)               # the call's arguments do
    _, _, _, D = matmul_bias_relu()
    text = canonical_te_text(D)
    assert '"tl.contrib.cblas.matmul"' in text and "extern(inputs=(op0.0, op1.0)" in text


def test_gpu_sketch_space_says_extern_stages_run_on_the_cpu():
    _, _, _, D = matmul_bias_relu()
    with pytest.raises(TuneError, match=r"gpu_sketch_space: stage 'C' is an extern stage "
                                        r"\(te.extern calling 'tl.contrib.cblas.matmul'\), "
                                        r"which runs on the CPU only"):
        tl.autotune.gpu_sketch_space([D], "cuda")


# -- tuning ---------------------------------------------------------------------------------

def test_tuning_cblas_with_a_bias_relu_epilogue_resumes_and_applies(tmp_path):
    A, B, bias, D = matmul_bias_relu()
    log = str(tmp_path / "log.jsonl")
    res = tl.autotune(D, "llvm", trials=4, log_file=log, **FAST)
    assert res.num_trials == 4 and not res.errors, res.errors
    a, b, bb = inputs((16, 8), (8, 12), (12,))
    d = np.full((16, 12), np.nan, "float32")
    res.build()(a, b, bb, d)
    np.testing.assert_allclose(d, expected_relu(a, b, bb), rtol=1e-5, atol=1e-5)
    # a second run over the finished log measures nothing and keeps the best
    again = tl.autotune(D, "llvm", trials=4, log_file=log, **FAST)
    assert again.measured_now == 0 and again.best_config == res.best_config
    # a fresh, identical definition builds the best record under apply_history_best
    A, B, bias, D = matmul_bias_relu()
    with warnings.catch_warnings():
        warnings.simplefilter("error", TuneWarning)   # the record is found
        with tl.autotune.apply_history_best(log):
            best, _ = tl.autotune.best_schedule(D, "llvm")
            mod = tl.build(tl.create_schedule(D.op), [A, B, bias, D])
    assert [st.to_json() for st in best.steps] == res.best_steps
    d = np.full((16, 12), np.nan, "float32")
    mod(a, b, bb, d)
    np.testing.assert_allclose(d, expected_relu(a, b, bb), rtol=1e-5, atol=1e-5)


def test_a_user_function_of_a_module_is_called_by_the_runner(tmp_path):
    with registered("test.tune.scale", scale):
        A, B, bias, D = matmul_bias_relu()
        E = scaled(D, "test.tune.scale")
        F = te.compute(E.shape, lambda i, j: E[i, j] + 3.0, name="F")
        res = tl.autotune(F, "llvm", trials=3, **FAST)
        assert res.num_trials == 3 and not res.errors, res.errors
        a, b, bb = inputs((16, 8), (8, 12), (12,))
        f = np.zeros((16, 12), "float32")
        res.build()(a, b, bb, f)
    np.testing.assert_allclose(f, 0.5 * expected_relu(a, b, bb) + 3.0, rtol=1e-5, atol=1e-5)


def test_a_function_whose_result_varies_cannot_make_a_candidate_win():
    """The runner computes the reference first; every candidate after it gets the drifted
    result, which the check against the reference catches."""
    with registered("test.tune.drift", drifting_scale):
        _, _, _, D = matmul_bias_relu()
        E = scaled(D, "test.tune.drift")
        F = te.compute(E.shape, lambda i, j: E[i, j] * 2.0, name="F")
        res = tl.autotune(F, "llvm", trials=2, **FAST)
    assert res.errors == {"wrong_result": 2}
    assert "output 'F' differs from the reference" in res.history[0].error_msg
    with pytest.raises(TuneError, match="found no valid schedule in 2 trial"):
        res.build()


@template
def extern_tmpl(cfg, n):
    A, B = te.placeholder((n, 8), name="A"), te.placeholder((8, 12), name="B")
    bias = te.placeholder((12,), name="bias")
    C = cblas.matmul(A, B)
    D = te.compute(C.shape, lambda i, j: te.max(C[i, j] + bias[j], 0.0), name="D")
    s = tl.create_schedule(D.op)
    x, y = s[D].op.axis
    cfg.define_split("tile_y", y, num_outputs=2)
    cfg.define_knob("parallel", [True, False])
    _, yi = cfg["tile_y"].apply(s, D, y)
    if cfg["parallel"].val:
        s[D].parallel(x)
    s[D].vectorize(yi)
    return s, [A, B, bias, D]


def test_a_template_with_an_extern_stage_tunes(tmp_path):
    log = str(tmp_path / "log.jsonl")
    res = tl.autotune(extern_tmpl, "llvm", trials=3, args=(16,), log_file=log, **FAST)
    assert res.num_trials == 3 and not res.errors, res.errors
    a, b, bb = inputs((16, 8), (8, 12), (12,))
    d = np.zeros((16, 12), "float32")
    with tl.autotune.apply_history_best(log):
        mod = tl.autotune.build(extern_tmpl, "llvm", args=(16,))
    mod(a, b, bb, d)
    np.testing.assert_allclose(d, expected_relu(a, b, bb), rtol=1e-5, atol=1e-5)


# -- functions the runner could not call --------------------------------------------------

def _outer():
    def local_scale(x, y, factor):
        np.multiply(x, factor, out=y)
    return local_scale


def _main_scale(x, y, factor):
    np.multiply(x, factor, out=y)


_main_scale.__module__ = "__main__"   # as if defined in the user's script


@pytest.mark.parametrize("function, why", [
    (lambda x, y, factor: np.multiply(x, factor, out=y), "it is a lambda"),
    (_outer(), "it is defined inside the function '_outer'"),
    (_main_scale, "it is defined in the main script, which the worker processes do not run"),
])
def test_a_function_the_runner_cannot_import_stops_tuning(function, why):
    with registered("test.tune.unshippable", function):
        _, _, _, D = matmul_bias_relu()
        E = scaled(D, "test.tune.unshippable")
        with pytest.raises(TuneError) as info:
            tl.autotune(E, "llvm", trials=2, **FAST)
    message = str(info.value)
    assert message.startswith("autotune: stage 'E' calls 'test.tune.unshippable', "
                              "registered as "), message
    assert why in message
    assert "Define the function at module level in an importable module" in message


def test_a_missing_function_stops_tuning():
    _, _, _, D = matmul_bias_relu()
    E = scaled(D, "test.tune.nobody")
    with pytest.raises(TuneError, match=r"stage 'E' calls 'test.tune.nobody', which is not "
                                        r"registered; register it with tl.register_func"):
        tl.autotune(E, "llvm", trials=2, **FAST)


def test_tvm_registered_functions_ship_by_reference():
    from tensorlang.compat import tvm
    tvm.register_func("test.tune.nd_scale", nd_scale)
    try:
        _, _, _, D = matmul_bias_relu()
        E = scaled(D, "test.tune.nd_scale", factor=3.0)
        shipped = pickle.loads(pack_functions([E])["test.tune.nd_scale"])
    finally:
        tl.remove_global_func("test.tune.nd_scale")
    x, y = inputs((4, 3))[0], np.zeros((4, 3), "float32")
    shipped(x, y, 3.0)                        # NDArrays for the arrays, as registered
    np.testing.assert_allclose(y, 3 * x, rtol=1e-6)


def test_templates_space_ships_the_functions_of_its_outputs():
    space = TemplateSpace(extern_tmpl, (16,))
    assert list(pack_functions(space.args)) == ["tl.contrib.cblas.matmul"]


def test_a_function_the_runner_fails_to_import_is_named(monkeypatch):
    """A module that exists only in this process (made at run time): the function pickles
    here, and the runner's failure to import it names the function."""
    import sys
    import types
    ghost = types.ModuleType("extern_tuning_ghost")

    def ghost_scale(x, y, factor):
        np.multiply(x, factor, out=y)
    ghost_scale.__module__, ghost_scale.__qualname__ = ghost.__name__, "ghost_scale"
    ghost.ghost_scale = ghost_scale
    monkeypatch.setitem(sys.modules, ghost.__name__, ghost)
    with registered("test.tune.ghost", ghost_scale):
        _, _, _, D = matmul_bias_relu()
        E = scaled(D, "test.tune.ghost")
        with pytest.raises(TuneError, match=r"the function registered as 'test.tune.ghost' "
                                            r"cannot be imported in the runner process: "
                                            r"ModuleNotFoundError"):
            tl.autotune(E, "llvm", trials=1, **FAST)
