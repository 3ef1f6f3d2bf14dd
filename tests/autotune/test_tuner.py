"""tl.autotune end to end on small spaces: faults contained, wrong results never win,
resumable logs, several workloads, the callable package, best_schedule."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import tensorlang as tl
from tensorlang.autotune import (Config, MeasureOptions, RecordLog, TuneResult,
                                 TuneWarning, TuningRecord, count_flops)
from tensorlang.autotune.record import record_config_key
from tensorlang.autotune.session import retime_candidates
from tensorlang.autotune.tuner import workload_groups
from tensorlang.errors import TuneError

from tiny_spaces import MatmulTileSpace, fault_hook, matmul, matmul_template

# pretrained=False: these tests are of the loop, not of whichever model the package ships
FAST = dict(verbose=0, n_parallel=2, population_size=32, num_generations=2, pretrained=False)


def _options(timeout=2.0, **kw) -> MeasureOptions:
    return MeasureOptions(timeout=timeout, min_timeout=1.0, min_measure_seconds=0.01,
                          fault_hook=fault_hook, **kw)


def _check_correct(result: TuneResult, n: int) -> None:
    mod = result.build()
    rng = np.random.default_rng(1)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    c = np.zeros((n, n), dtype=np.float32)
    mod(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4)


def test_faults_are_recorded_and_the_best_is_correct(tmp_path):
    log = tmp_path / "faults.jsonl"
    space = MatmulTileSpace(16, 16, 16, faults=("segfault", "hang", "wrong", "bad_schedule"))
    # the first batch (random samples) holds every kind of fault
    result = tl.autotune(space, trials=16, batch_size=10, log_file=log,
                         measure_options=_options(timeout=1.0), **FAST)
    assert result.num_trials == 16 == RecordLog(log).count()
    faults = {r.config["decisions"]["fault"]: r.error_kind for r in result.history}
    expected = {"segfault": "crash", "hang": "timeout", "wrong": "wrong_result",
                "bad_schedule": "build_error", "none": None}
    for fault, kind in faults.items():
        assert kind == expected[fault]
    assert {"crash", "timeout", "wrong_result"} <= set(result.errors)
    for record in result.history:  # each fault is recorded as its kind, always
        fault = record.config["decisions"]["fault"]
        assert record.error_kind == expected[fault], (fault, record.error_msg)
    assert result.best_config["decisions"]["fault"] == "none"
    # the fastest few valid candidates were re-timed side by side; the round's fastest won
    assert result.retimed and all(r.is_valid for r in result.retimed)
    assert all(r.config["decisions"]["fault"] == "none" for r in result.retimed)
    assert result.best_record in result.retimed
    assert result.best_time == min(r.median_cost for r in result.retimed)
    _check_correct(result, 16)
    assert result.best_gflops == pytest.approx(2 * 16 ** 3 / result.best_time / 1e9)


def test_a_compiler_bug_in_a_candidate_is_a_failed_build_with_a_warning(tmp_path):
    """An InternalError is not a user error (not a TensorLangError), yet a candidate that
    hits one is recorded as a failed build, tuning goes on, and a warning says so."""
    assert not issubclass(tl.InternalError, tl.TensorLangError)
    space = MatmulTileSpace(8, 8, 8, faults=("compiler_bug",))
    with pytest.warns(TuneWarning, match="bug in tensorlang.*InternalError: a pass broke"):
        result = tl.autotune(space, trials=12, batch_size=12, log_file=tmp_path / "bug.jsonl",
                             measure_options=_options(), retime=0, **FAST)
    buggy = [r for r in result.history if r.config["decisions"]["fault"] == "compiler_bug"]
    assert buggy and all(r.error_kind == "build_error" for r in buggy)
    assert all("InternalError" in r.error_msg for r in buggy)
    assert result.best_config["decisions"]["fault"] == "none"


def test_a_definition_reading_out_of_bounds_is_never_the_reference(tmp_path):
    """``(i * i) % 16`` reaches 9 on an 8-element tensor, which bound analysis cannot
    prove at lowering (a modulo): the bounds-checked reference run stops tuning with the
    read it caught, instead of holding every candidate to what it read past the end."""
    from tensorlang import te
    A = te.placeholder((8,), name="A")
    B = te.compute((8,), lambda i: A[(i * i) % 16] + 1.0, name="B")
    with pytest.raises(TuneError, match=r"correctness reference failed.*IndexError.*"
                                        r"index 9 .*buffer 'A'"):
        tl.autotune(B, trials=4, log_file=tmp_path / "oob.jsonl",
                    measure_options=_options(), **FAST)


def test_resume_after_kill_measures_only_the_remainder(tmp_path):
    log = tmp_path / "resume.jsonl"
    space = MatmulTileSpace(16, 16, 16)
    first = tl.autotune(space, trials=12, batch_size=6, log_file=log,
                        measure_options=_options(), **FAST)
    lines = log.read_bytes().splitlines(keepends=True)
    assert len(lines) == 12 + len(first.retimed)
    # kill -9 while writing the tenth record: nine whole lines and a torn one
    log.write_bytes(b"".join(lines[:9]) + lines[9][:40])
    with pytest.warns(tl.autotune.RecordWarning):
        second = tl.autotune(MatmulTileSpace(16, 16, 16), trials=12, batch_size=6,
                             log_file=log, measure_options=_options(), **FAST)
    assert second.measured_now == 3
    with pytest.warns(tl.autotune.RecordWarning, match="line 10"):
        records = RecordLog(log).load()
    keys = [record_config_key(r) for r in records if r.kind == "trial"]
    assert len(keys) == 12 and len(set(keys)) == 12
    assert second.num_trials == 12
    kept = [r.to_json() for r in second.history[:9]]
    assert kept == [r.to_json() for r in first.history[:9]]  # nothing of the killed run lost
    # the closing round compares the fastest of both runs
    fastest = {r.config_key for r in retime_candidates(second.history, 16)}
    assert {r.config_key for r in second.retimed} == (fastest if len(fastest) > 1 else set())
    assert second.best_record in (second.retimed or second.history)

    # a finished call measures nothing and returns the same best
    with pytest.warns(tl.autotune.RecordWarning, match="line 10"):
        third = tl.autotune(MatmulTileSpace(16, 16, 16), trials=12, log_file=log,
                            measure_options=_options(), **FAST)
    assert third.measured_now == 0 and third.best_time == second.best_time
    assert third.best_config == second.best_config
    assert third.retimed == second.retimed  # no second round: nothing new to compare


def _trial(space, decisions: dict, cost: float, target: str = "llvm") -> TuningRecord:
    """A trial record as the tuner writes it, with a made-up first measurement."""
    config = Config.make("tile", decisions)
    schedule, _ = space.apply(config)
    steps = json.loads(json.dumps([step.to_json() for step in schedule.steps]))
    return TuningRecord(space.workload_key, {"name": "C"}, target,
                        {**config.to_json(), "steps": steps}, costs=[cost])


SLOW = {"tile_i": 1, "tile_j": 1, "tile_k": 1, "order": 0, "vectorize": False,
        "parallel": False}
FAST_CONFIG = {"tile_i": 4, "tile_j": 16, "tile_k": 1, "order": 0, "vectorize": True,
               "parallel": False}


def test_round_corrects_a_lucky_first_measurement(tmp_path):
    # the slow candidate's first measurement was lucky: it is logged as the fastest
    log = tmp_path / "lucky.jsonl"
    space = MatmulTileSpace(64, 64, 64)
    RecordLog(log).append(_trial(space, SLOW, 1.0e-6))
    RecordLog(log).append(_trial(space, FAST_CONFIG, 1.2e-6))
    before = tl.autotune(space, trials=2, log_file=log, retime=0, **FAST)
    assert before.measured_now == 0 and before.best_config["decisions"] == SLOW
    # the budget is spent, but a round is due: both are timed again, side by side
    result = tl.autotune(space, trials=2, log_file=log, measure_options=_options(), **FAST)
    assert result.measured_now == 0 and result.num_trials == 2
    costs = {r.config["decisions"]["vectorize"]: r.median_cost for r in result.retimed}
    assert costs[False] > 2 * costs[True]
    assert result.best_config["decisions"] == FAST_CONFIG
    assert result.best_time == costs[True]
    assert len(log.read_bytes().splitlines()) == 4 and "retime" in result.timings
    with tl.autotune.apply_history_best(str(log)):
        s, _ = tl.autotune.best_schedule(space.C, "llvm")
    assert "vectorize" in str(s)
    # once done, the round is not repeated
    again = tl.autotune(space, trials=2, log_file=log, **FAST)
    assert len(log.read_bytes().splitlines()) == 4
    assert again.best_config["decisions"] == FAST_CONFIG


def test_a_candidate_wrong_when_re_timed_cannot_win(tmp_path):
    log = tmp_path / "flaky.jsonl"
    space = MatmulTileSpace(16, 16, 16, faults=("wrong",))
    flaky = dict(FAST_CONFIG, fault="wrong")  # as if it had passed its trial's check
    RecordLog(log).append(_trial(space, flaky, 1.0e-6))
    RecordLog(log).append(_trial(space, dict(SLOW, fault="none"), 1.1e-6))
    with pytest.warns(TuneWarning, match="1 of 2 failed \\(wrong_result"):
        result = tl.autotune(space, trials=2, log_file=log, measure_options=_options(),
                             **FAST)
    kinds = {r.config["decisions"]["fault"]: r.error_kind for r in result.retimed}
    assert kinds == {"wrong": "wrong_result", "none": None}
    assert result.best_config["decisions"]["fault"] == "none"
    _check_correct(result, 16)


def test_retime_off_keeps_the_fastest_first_measurement(tmp_path):
    result = tl.autotune(MatmulTileSpace(16, 16, 16), trials=8, batch_size=8, retime=0,
                         measure_options=_options(), **FAST)
    assert result.retimed == [] and "retime" not in result.timings
    assert result.best_time == min(r.median_cost for r in result.history if r.is_valid)
    with pytest.raises(TuneError, match="retime"):
        tl.autotune(MatmulTileSpace(16, 16, 16), trials=1, retime=-1, **FAST)


def test_retime_round_loads_the_builds_measured_as_trials(monkeypatch):
    from tensorlang.autotune.measure import LocalBuilder
    built: list = []
    original = LocalBuilder.build

    def counting_build(self, task, configs, reference=False):
        built.append([] if reference else [c.key() for c in configs])
        return original(self, task, configs, reference)
    monkeypatch.setattr(LocalBuilder, "build", counting_build)
    # every valid candidate qualifies for the round, however noisy the machine
    monkeypatch.setattr("tensorlang.autotune.session.RETIME_WITHIN", float("inf"))
    result = tl.autotune(MatmulTileSpace(16, 16, 16), trials=8, batch_size=8, retime=4,
                         measure_options=_options(), **FAST)
    assert len(result.retimed) >= 2
    # the reference, then one batch; the round builds nothing: its candidates were kept
    assert len(built) == 2 and built[0] == []
    assert {record_config_key(r) for r in result.retimed} <= set(built[1])
    _check_correct(result, 16)


def test_small_space_is_exhausted_without_repeats(tmp_path):
    space = MatmulTileSpace(8, 8, 8)
    space.choices = {"tile_i": (1, 2), "tile_j": (4, 8), "tile_k": (1,), "order": (0,),
                     "vectorize": (True,), "parallel": (False,)}
    result = tl.autotune(space, trials=10, batch_size=3, measure_options=_options(), **FAST)
    keys = [record_config_key(r) for r in result.history]
    assert len(keys) == 4 == len(set(keys))


def test_several_workloads_share_the_budget(tmp_path):
    log = tmp_path / "two.jsonl"
    spaces = [MatmulTileSpace(16, 16, 16), MatmulTileSpace(24, 24, 8)]
    results = tl.autotune(spaces, trials=24, batch_size=6, log_file=log,
                          measure_options=_options(), **FAST)
    assert isinstance(results, list) and len(results) == 2
    assert sum(r.num_trials for r in results) == 24
    assert all(r.num_trials >= 6 and r.best_record is not None for r in results)
    assert results[0].workload_key != results[1].workload_key
    again = tl.autotune([MatmulTileSpace(16, 16, 16), MatmulTileSpace(24, 24, 8)],
                        trials=24, log_file=log, **FAST)
    assert [r.measured_now for r in again] == [0, 0]
    # a new workload's model starts from the other workloads' records
    from tensorlang.autotune import XGBoostCostModel
    model = XGBoostCostModel(seed=0, num_threads=1)
    third = tl.autotune(MatmulTileSpace(8, 8, 8), trials=4, batch_size=4, log_file=log,
                        cost_model=model, measure_options=_options(), **FAST)
    with_features = sum(r.features is not None for r in RecordLog(log).load())
    assert third.measured_now == 4 and model.num_samples == with_features >= 24


def test_early_stopping_ends_tuning(tmp_path):
    result = tl.autotune(MatmulTileSpace(8, 8, 8), trials=60, batch_size=4,
                         early_stopping=1, measure_options=_options(), **FAST)
    assert 4 <= result.num_trials < 60


def test_history_best_and_warnings(tmp_path):
    log = tmp_path / "best.jsonl"
    result = tl.autotune(MatmulTileSpace(16, 16, 16), trials=6, batch_size=6, log_file=log,
                         measure_options=_options(), **FAST)
    A, B, C = matmul(16, 16, 16)   # a fresh, identical definition
    with tl.autotune.apply_history_best(str(log)):
        s, args = tl.autotune.best_schedule(C, "llvm")
        assert [st.to_json() for st in s.steps] == result.best_steps
        assert [t.name for t in args] == ["A", "B", "C"]
        mod = tl.build(s, args)
        a, b = np.ones((16, 16), np.float32), np.full((16, 16), 2, np.float32)
        c = np.zeros((16, 16), np.float32)
        mod(a, b, c)
        np.testing.assert_allclose(c, a @ b)
        _, _, other = matmul(16, 16, 8)
        with pytest.warns(TuneWarning, match="no tuning record for workload 'C'"):
            s2, _ = tl.autotune.best_schedule(other, "llvm")
        assert s2.steps == ()
    # tl.build of the untouched schedule builds the best record; a scheduled one is kept
    from tensorlang.autotune.dispatch import tuned_schedule
    plain = tl.create_schedule(C.op)
    with tl.autotune.apply_history_best(str(log)):
        chosen, chosen_args = tuned_schedule(plain, [A, B, C], "llvm")
        assert [st.to_json() for st in chosen.steps] == result.best_steps and chosen_args == [A, B, C]
        c = np.zeros((16, 16), np.float32)
        tl.build(plain, [A, B, C])(a, b, c)
        np.testing.assert_allclose(c, a @ b)
        hand = tl.create_schedule(C.op)
        hand[C].split(C.op.axis[0], factor=4)
        assert tuned_schedule(hand, [A, B, C], "llvm")[0] is hand
        X, Y, Z = matmul(16, 16, 8)
        with pytest.warns(TuneWarning, match="no tuning record for workload 'C'"):
            mod = tl.build(tl.create_schedule(Z.op), [X, Y, Z])
        x, y = np.ones((16, 8), np.float32), np.full((8, 16), 3, np.float32)
        z = np.zeros((16, 16), np.float32)
        mod(x, y, z)
        np.testing.assert_allclose(z, x @ y)
    assert tuned_schedule(plain, [A, B, C], "llvm")[0] is plain   # no context, no lookup
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tl.autotune.best_schedule(C, "llvm", log_file=str(log))[0].steps == s.steps
    with pytest.raises(TuneError, match="no tuning log"):
        tl.autotune.best_schedule(C, "llvm")
    with pytest.raises(TuneError, match="missing.jsonl"):
        tl.autotune.apply_history_best(str(tmp_path / "missing.jsonl"))


def test_result_reports_code_and_plot(tmp_path):
    result = tl.autotune(MatmulTileSpace(8, 8, 8), trials=4, batch_size=4,
                         measure_options=_options(), **FAST)
    text = str(result)
    assert "s = tl.create_schedule([C])" in text and ".split(" in text
    assert result.schedule_code == str(result.schedule()[0])
    json.dumps(result.best_config)
    trials, best = result.curve()
    assert list(trials) == [1, 2, 3, 4] and np.all(np.diff(best) <= 0)
    pytest.importorskip("matplotlib")
    path = tmp_path / "curve.png"
    result.plot(path=str(path))
    assert path.stat().st_size > 1000


def test_plot_without_matplotlib_says_so(monkeypatch):
    import sys
    result = TuneResult(MatmulTileSpace(8, 8, 8), "llvm", [], "C", 1.0)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(TuneError, match="pip install matplotlib"):
        result.plot()
    with pytest.raises(TuneError, match="no valid schedule"):
        result.build()


def test_package_is_callable_and_still_a_package():
    import types
    assert isinstance(tl.autotune, types.ModuleType) and callable(tl.autotune)
    assert callable(tl.autotune.apply_history_best)
    assert tl.autotune.autotune is tl.autotune.tuner.autotune
    import sys
    import tensorlang.autotune.template  # noqa: F401 - the submodule keeps the decorator
    assert tl.autotune.template is sys.modules["tensorlang.autotune.template"].template
    assert tl.autotune.TemplateSpace is sys.modules["tensorlang.autotune.template"].TemplateSpace


def test_bad_arguments_fail_at_once():
    _, _, C = matmul(8, 8, 8)
    with pytest.raises(TuneError, match="trials"):
        tl.autotune(C, trials=-1, verbose=0)
    with pytest.raises(TuneError, match="not the output of a te.compute"):
        tl.autotune(tl.te.placeholder((4,), name="X"), trials=1, verbose=0)
    n = tl.te.var("n")
    X = tl.te.placeholder((n,), name="X")
    Y = tl.te.compute((n,), lambda i: X[i] * 2.0, name="Y")
    from tensorlang.autotune.tuner import concrete_shape
    with pytest.raises(TuneError, match="shape_vars"):
        concrete_shape(X, None)
    assert concrete_shape(Y, {n: 7}) == (7,) == concrete_shape(Y, {"n": 7})


def test_cuda_without_gpu_fails_at_once():
    from tensorlang.target.cuda import gpu_available
    if gpu_available():
        pytest.skip("a GPU is present")
    _, _, C = matmul(8, 8, 8)
    with pytest.raises(TuneError, match="no CUDA GPU"):
        tl.autotune(C, target="cuda", trials=4, verbose=0)


def test_independent_outputs_are_separate_workloads():
    A, B, C = matmul(8, 8, 8)
    D = tl.te.compute((8, 8), lambda i, j: C[i, j] + 1.0, name="D")
    _, _, E = matmul(4, 4, 4)
    groups, several = workload_groups([C, E], ())
    assert several and [[t.name for t in g] for g in groups] == [["C"], ["C"]]
    groups, several = workload_groups([C, D], ())
    assert not several and len(groups[0]) == 2
    assert workload_groups(C, ())[1] is False


def test_flops_are_counted_from_the_definition():
    _, _, C = matmul(8, 16, 32)
    assert count_flops([C]) == 2 * 8 * 16 * 32
    X = tl.te.placeholder((10, 3), name="X")
    Y = tl.te.compute((10, 3), lambda i, j: X[i, j] * 2.0 + 1.0, name="Y")
    assert count_flops([Y]) == 2 * 30
    Z = tl.te.compute((10, 3), lambda i, j: X[i, j], name="Z")
    assert count_flops([Z]) == 0
    n = tl.te.var("n")
    P = tl.te.placeholder((n,), name="P")
    Q = tl.te.compute((n,), lambda i: P[i] + 1.0, name="Q")
    assert count_flops([Q]) is None and count_flops([Q], {n: 5}) == 5


def test_sketch_space_tuning_when_available():
    pytest.importorskip("tensorlang.autotune.sketch")
    _, _, C = matmul(32, 32, 32)
    result = tl.autotune(C, trials=8, batch_size=8, measure_options=_options(), **FAST)
    assert result.best_record is not None
    _check_correct(result, 32)


def test_template_tuning_and_history_best(tmp_path):
    log = tmp_path / "template.jsonl"
    result = tl.autotune(matmul_template, args=(16, 16, 16), trials=6, batch_size=6,
                         log_file=log, measure_options=_options(), **FAST)
    assert result.num_trials == 6 and result.best_record is not None
    assert set(result.best_config["decisions"]) == {"tile_i", "tile_j", "vectorize"}
    _check_correct(result, 16)
    with tl.autotune.apply_history_best(str(log)):
        s, args = tl.autotune.best_schedule(matmul_template, "llvm", args=(16, 16, 16))
    assert [st.to_json() for st in s.steps] == result.best_steps


def test_command_line_tune(tmp_path, capsys):
    pytest.importorskip("tensorlang.autotune.sketch")
    from tensorlang.cli import main
    log = tmp_path / "relu.jsonl"
    argv = ["tune", "relu", "--size", "64", "--trials", "3", "--batch-size", "3",
            "--log", str(log), "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "s = tl.create_schedule" in out and "3 measured in this run" in out
    assert RecordLog(log).count() == 3
    assert main(argv) == 0
    assert "0 measured in this run, 3 in all" in capsys.readouterr().out
    assert main(["tune", "nonsense", "--trials", "1", "--quiet"]) == 2


_TUNE_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import tensorlang as tl
from tensorlang.autotune import MeasureOptions
from tiny_spaces import MatmulTileSpace
tl.autotune(MatmulTileSpace(16, 16, 16), trials=40, batch_size=4, log_file={log!r},
            verbose=0, population_size=32, num_generations=2,
            measure_options=MeasureOptions(min_measure_seconds=0.2))
"""


def test_kill_9_mid_tuning_loses_nothing(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    log = tmp_path / "killed.jsonl"
    script = _TUNE_SCRIPT.format(tests=os.path.dirname(__file__), log=str(log))
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if log.exists() and log.read_bytes().count(b"\n") >= 6:
            break
        time.sleep(0.05)
    assert process.poll() is None, "tuning ended before it could be killed"
    workers = _children(process.pid)
    assert len(workers) >= 2  # the builders and the runner
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tl.autotune.RecordWarning)  # a line may be torn
        before = RecordLog(log).load()
        assert 6 <= len(before) < 40
        result = tl.autotune(MatmulTileSpace(16, 16, 16), trials=len(before) + 4,
                             batch_size=4, log_file=log, **FAST)
        after = RecordLog(log).load()
    trials = [r for r in after if r.kind == "trial"]
    assert result.measured_now == 4 and len(trials) == len(before) + 4
    assert len(after) == len(trials) + len(result.retimed)  # and the closing round
    keys = [record_config_key(r) for r in trials]
    assert len(set(keys)) == len(keys)
    assert [r.to_json() for r in after[:len(before)]] == [r.to_json() for r in before]
    # the worker processes of the killed run did not outlive it
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in workers):
        time.sleep(0.1)
    assert not [p for p in workers if os.path.exists(f"/proc/{p}")]


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    import os
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


_PHASE_SCRIPT = """
import os, signal, sys, threading
sys.path.insert(0, {tests!r})
import tensorlang as tl
from tensorlang.autotune import LocalBuilder, MeasureOptions
from tensorlang.autotune.session import Session
from tiny_spaces import MatmulTileSpace, journal_hook

phase, at = {phase!r}, {at!r}
calls = []

def die():
    os.kill(os.getpid(), signal.SIGKILL)

build = LocalBuilder.build
def building(self, task, configs, reference=False):
    if not reference:
        calls.append(1)
        if phase == "build" and len(calls) == at:
            threading.Timer(0.05, die).start()  # while the batch is being compiled
    return build(self, task, configs, reference)
LocalBuilder.build = building

measure_round = Session._round
def measuring(self, *args):
    count = measure_round(self, *args)
    if phase == "between" and len(calls) == at:
        die()  # the batch is recorded, the next not yet chosen
    return count
Session._round = measuring

tl.autotune(MatmulTileSpace(8, 8, 8), trials=16, batch_size=8, log_file={log!r},
            verbose=0, n_parallel=2, retime=0, search="random",
            measure_options=MeasureOptions(min_measure_seconds=0.01, min_timeout=1.0,
                                           fault_hook=journal_hook))
"""


@pytest.mark.parametrize("phase, at", [("build", 2), ("run", 11), ("between", 1)])
def test_kill_9_loses_at_most_the_candidates_in_flight(tmp_path, monkeypatch, phase, at):
    """Killed while a batch is compiled, while its candidates are measured (the 11th of
    16, mid-batch) or between two batches, a run has recorded every candidate it
    measured but the one in flight; the next run cleans up after it and measures only
    the remainder."""
    import os
    import subprocess
    import sys
    import tempfile
    from tensorlang.autotune.measure import TEMP_PREFIX
    log, journal = tmp_path / "killed.jsonl", tmp_path / "journal"
    temp = tmp_path / "temp"
    temp.mkdir()
    env = dict(os.environ, TMPDIR=str(temp), TL_TEST_JOURNAL=str(journal),
               TL_TEST_KILL_AT=str(at if phase == "run" else 0))
    script = _PHASE_SCRIPT.format(tests=os.path.dirname(__file__), log=str(log),
                                  phase=phase, at=at)
    process = subprocess.run([sys.executable, "-c", script], env=env, timeout=120)
    assert process.returncode == -9, "the tuning process was not killed"
    measured = journal.read_text().splitlines() if journal.exists() else []
    with warnings.catch_warnings():
        warnings.simplefilter("error", tl.autotune.RecordWarning)  # no torn line
        logged = RecordLog(log).load()
    assert len(measured) - len(logged) <= (1 if phase == "run" else 0)
    if phase == "run":
        assert len(measured) == at and len(logged) == at - 1  # mid-batch: 2 of 8 kept
    else:
        assert len(logged) == 8 * (at - 1 if phase == "build" else at)
    assert [p for p in os.listdir(temp) if p.startswith(TEMP_PREFIX)]  # left behind
    # the next run removes the dead run's temporary files and measures the rest
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TL_TEST_KILL_AT", "0")
    result = tl.autotune(MatmulTileSpace(8, 8, 8), trials=16, batch_size=8, log_file=log,
                         retime=0, search="random", measure_options=_options(), **FAST)
    assert result.measured_now == 16 - len(logged)
    keys = [record_config_key(r) for r in RecordLog(log).load()]
    assert len(keys) == 16 == len(set(keys))
    assert not [p for p in os.listdir(temp) if p.startswith(TEMP_PREFIX)]
