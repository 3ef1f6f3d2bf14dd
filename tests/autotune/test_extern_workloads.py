"""Workloads with te.extern stages are refused by the tuner with TuneError naming the
stage (its worker processes cannot call this process's registered functions, and its
search spaces have no rules for extern stages); under apply_history_best they build with
the schedule given."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.autotune import sketch_space
from tensorlang.autotune.template import TemplateSpace, template
from tensorlang.contrib import cblas
from tensorlang.errors import TuneError

REFUSED = r"stage 'C' is an extern stage \(te.extern calling 'tl.contrib.cblas.matmul'\), " \
          r"which the tuner does not tune"


def matmul_bias():
    A, B = te.placeholder((16, 8), name="A"), te.placeholder((8, 12), name="B")
    C = cblas.matmul(A, B)
    D = te.compute(C.shape, lambda i, j: C[i, j] + 1.0, name="D")
    return A, B, D


def test_autotune_and_its_spaces_refuse_extern_stages(tmp_path):
    _, _, D = matmul_bias()
    with pytest.raises(TuneError, match="autotune: " + REFUSED):
        tl.autotune(D, trials=2, log_file=str(tmp_path / "log.jsonl"))
    with pytest.raises(TuneError, match="sketch_space: " + REFUSED):
        sketch_space([D], "llvm")
    log = tmp_path / "empty.jsonl"
    log.write_text("")
    with pytest.raises(TuneError, match="best_schedule: " + REFUSED):
        tl.autotune.best_schedule(D, "llvm", log_file=str(log))


def test_templates_with_extern_stages_are_refused():
    @template
    def with_extern(cfg):
        A, B, D = matmul_bias()
        cfg.define_knob("unused", [0, 1])
        return tl.create_schedule(D.op), [A, B, D]

    with pytest.raises(TuneError, match="template '.*with_extern': " + REFUSED):
        TemplateSpace(with_extern)


def test_apply_history_best_builds_an_extern_workload_as_given(tmp_path):
    A, B, D = matmul_bias()
    log = tmp_path / "log.jsonl"
    log.write_text("")
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no "no tuning record" warning either
        with tl.autotune.apply_history_best(str(log)):
            mod = tl.build(tl.create_schedule(D.op), [A, B, D])
    a = np.random.default_rng(0).standard_normal((16, 8)).astype("float32")
    b = np.random.default_rng(1).standard_normal((8, 12)).astype("float32")
    d = np.zeros((16, 12), "float32")
    mod(a, b, d)
    np.testing.assert_allclose(d, a @ b + 1.0, rtol=1e-5, atol=1e-5)
