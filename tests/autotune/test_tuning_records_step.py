"""``tl.build``'s first step, ``apply_tuning_records``: a no-op without an
``apply_history_best`` context, the context's schedule substitution inside one."""
import warnings

import numpy as np

import tensorlang as tl
from tensorlang import pipeline, te
from tensorlang.settings import settings
from tensorlang.autotune.dispatch import TuneWarning, tuned_schedule


def _add_one(n=8):
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: A[i] + 1.0, name="B")
    return A, B


def test_without_a_context_the_records_step_changes_nothing(capsys):
    A, B = _add_one()
    s = tl.create_schedule(B.op)
    assert pipeline.apply_tuning_records(s, [A, B], "llvm") == (s, [A, B])
    with settings.override(dump_ir=True):
        tl.build(s, [A, B])
    assert "# after apply_tuning_records: unchanged" in capsys.readouterr().err


def test_a_pushed_substitution_is_what_build_compiles():
    A, B = _add_one()
    C = te.compute((8,), lambda i: A[i] * 3.0, name="C")
    seen = []

    def substitute(schedule, args, target):
        seen.append(target)
        return tl.create_schedule(C.op), [A, C]
    pipeline.push_schedule_substitution(substitute)
    try:
        mod = tl.build(tl.create_schedule(B.op), [A, B])
    finally:
        pipeline.pop_schedule_substitution(substitute)
    a, out = np.arange(8, dtype=np.float32), np.zeros(8, np.float32)
    mod(a, out)
    np.testing.assert_allclose(out, a * 3.0)
    assert seen == ["llvm"]
    assert pipeline.apply_tuning_records(tl.create_schedule(B.op), None, "llvm")[1] is None


def test_apply_history_best_pushes_and_pops_its_substitution(tmp_path):
    log = tmp_path / "empty.jsonl"
    log.write_text("")
    A, B = _add_one()
    s = tl.create_schedule(B.op)
    with tl.autotune.apply_history_best(str(log)):
        assert pipeline.schedule_substitutions()[-1] is tuned_schedule
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tl.build(s, [A, B])
        tune = [w for w in caught if issubclass(w.category, TuneWarning)]
        assert tune and tune[0].filename == __file__  # points at the caller of tl.build
    assert pipeline.schedule_substitutions() == []
