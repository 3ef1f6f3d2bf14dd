"""Parameter order: without an explicit list, a module's parameters are the placeholders in
the order the user created them, then the outputs (never the order an expression happens
to read them in); an explicit list given to tuning is kept in the log and every way of
building the tuned result honours it."""
from __future__ import annotations

import json

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.autotune import MeasureOptions
from tensorlang.errors import TuneError

FAST = dict(verbose=0, n_parallel=2, population_size=16, num_generations=1, retime=0)
OPTIONS = MeasureOptions(timeout=5.0, min_timeout=1.0, min_measure_seconds=0.005)
N = 16


def difference():
    """``C = B - A`` with A created first: the expression reads B first."""
    A = te.placeholder((N,), name="A")
    B = te.placeholder((N,), name="B")
    C = te.compute((N,), lambda i: B[i] - A[i] * 2.0, name="C")
    return A, B, C


def _arrays():
    rng = np.random.default_rng(0)
    return (rng.random(N, dtype=np.float32), rng.random(N, dtype=np.float32),
            np.zeros(N, np.float32))


def _runs_as(mod, order: str) -> None:
    """``mod`` takes its inputs as ``order`` says: "AB" (a, b, c) or "BA" (b, a, c)."""
    a, b, c = _arrays()
    mod(*((a, b) if order == "AB" else (b, a)), c)
    np.testing.assert_allclose(c, b - a * 2, rtol=1e-6)


def test_build_and_lower_without_args_follow_creation_order():
    A, B, C = difference()
    s = tl.create_schedule(C)
    assert [p.name for p in tl.lower(s).params] == ["A", "B", "C"]
    _runs_as(tl.build(s), "AB")
    # created in the other order, the default order follows
    B2 = te.placeholder((N,), name="B")
    A2 = te.placeholder((N,), name="A")
    C2 = te.compute((N,), lambda i: B2[i] - A2[i] * 2.0, name="C")
    assert [p.name for p in tl.lower(tl.create_schedule(C2)).params] == ["B", "A", "C"]


def test_outputs_follow_the_placeholders_in_the_order_given():
    A = te.placeholder((N,), name="A")
    B = te.placeholder((N,), name="B")
    D = te.compute((N,), lambda i: B[i] * 3.0, name="D")
    E = te.compute((N,), lambda i: A[i] + 1.0, name="E")
    s = tl.create_schedule([E, D])
    assert [p.name for p in tl.lower(s).params] == ["A", "B", "E", "D"]


def test_tuning_without_params_builds_in_creation_order(tmp_path):
    A, B, C = difference()
    log = tmp_path / "default.jsonl"
    res = tl.autotune(C, trials=3, batch_size=3, log_file=log, measure_options=OPTIONS,
                      **FAST)
    assert [t.name for t in res.params] == ["A", "B", "C"]
    _runs_as(res.build(), "AB")
    assert "# parameters, in order: A, B, C" in str(res)
    A2, B2, C2 = difference()      # a fresh, identical definition
    with tl.autotune.apply_history_best(str(log)):
        s, args = tl.autotune.best_schedule(C2, "llvm")
        assert [t.name for t in args] == ["A", "B", "C"] and args[0] is A2
        _runs_as(tl.build(tl.create_schedule(C2)), "AB")


@pytest.mark.parametrize("spelling", ["params", "args"])
def test_explicit_params_are_kept_in_the_log_and_honoured(tmp_path, spelling):
    A, B, C = difference()
    log = tmp_path / "explicit.jsonl"
    res = tl.autotune(C, trials=3, batch_size=3, log_file=log, measure_options=OPTIONS,
                      **{spelling: [B, A, C]}, **FAST)
    assert res.params == [B, A, C]
    _runs_as(res.build(), "BA")
    s, args = res.schedule()
    assert args == [B, A, C]
    # kept by position in the definition's canonical text (B is read first: op0)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records and all(r["workload"]["params"] == ["op0.0", "op1.0", "op2.0"]
                           for r in records)
    # another process's identical definition: the record's order, in its tensors
    A2, B2, C2 = difference()
    with tl.autotune.apply_history_best(str(log)):
        s, args = tl.autotune.best_schedule(C2, "llvm")
        assert args == [B2, A2, C2]
        _runs_as(tl.build(s, args), "BA")
        _runs_as(tl.build(tl.create_schedule(C2)), "BA")
        _runs_as(tl.autotune.build(C2, "llvm"), "BA")
    # resuming with the same list measures nothing more and keeps the order
    again = tl.autotune(C2, trials=3, log_file=log, params=[B2, A2, C2],
                        measure_options=OPTIONS, **FAST)
    assert again.measured_now == 0
    _runs_as(again.build(), "BA")


def test_bad_params_name_the_tensor():
    A, B, C = difference()
    other = te.placeholder((N,), name="Other")
    cases = [([A, C], "lacks the tensor"), ([A, A, B, C], "'A' twice"),
             ([A, B, other, C], "'Other'"), ([A, B, "C"], "not a tensor")]
    for params, message in cases:
        with pytest.raises(TuneError, match=message):
            tl.autotune(C, trials=1, params=params, **FAST)
    with pytest.raises(TuneError, match="once"):
        tl.autotune(C, trials=1, params=[A, B, C], args=[A, B, C], **FAST)


@tl.autotune.template
def difference_template(cfg, n):
    A = te.placeholder((n,), name="A")
    B = te.placeholder((n,), name="B")
    C = te.compute((n,), lambda i: B[i] - A[i] * 2.0, name="C")
    s = tl.create_schedule(C)
    cfg.define_split("split", C.op.axis[0], num_outputs=2)
    cfg["split"].apply(s, C, C.op.axis[0])
    return s, [B, A, C]


def test_a_template_orders_its_parameters_by_its_list(tmp_path):
    log = tmp_path / "template.jsonl"
    res = tl.autotune(difference_template, args=(N,), trials=3, batch_size=3, log_file=log,
                      measure_options=OPTIONS, **FAST)
    assert [t.name for t in res.params] == ["B", "A", "C"]
    _runs_as(res.build(), "BA")
    with tl.autotune.apply_history_best(str(log)):
        s, args = tl.autotune.best_schedule(difference_template, "llvm", args=(N,))
    _runs_as(tl.build(s, args), "BA")
    with pytest.raises(TuneError, match="orders its parameters itself"):
        tl.autotune(difference_template, args=(N,), params=[], trials=1, **FAST)


def test_command_line_tune_prints_the_parameter_order(tmp_path, capsys):
    from tensorlang.cli import main
    argv = ["tune", "layer_norm", "--size", "16", "--trials", "2", "--batch-size", "2",
            "--log", str(tmp_path / "ln.jsonl"), "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "# parameters, in order: x, gamma, beta, " in out
