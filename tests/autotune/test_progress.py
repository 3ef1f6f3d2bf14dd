"""The progress bar: a time left that is sane from the first trial (a fake clock, so
nothing here depends on the machine's speed), and one best figure, told once: the bar's
last words, ``print(res)`` and ``res.best_time`` agree."""
from __future__ import annotations

import re
import statistics
import types

import pytest

import tensorlang as tl
from tensorlang.autotune import LocalRunner, MeasureOptions, progress
from tensorlang.autotune.progress import EtaEstimator, Progress, format_seconds, time_text

from tiny_spaces import MatmulTileSpace

#: a fresh model: these tests count on the first batch's random samples (several of them
#: within 2x of the fastest, so that a round is due), not on the shipped model's picks
FAST = dict(n_parallel=2, population_size=32, num_generations=2, pretrained=False)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def simulate(clock, eta, trials, batch, build, run, model, on_trial):
    """A tuning of ``trials`` trials in batches: ``build`` seconds of search and build
    per batch, ``run`` per trial, ``model`` of training after each batch."""
    done = 0
    while done < trials:
        size = min(batch, trials - done)
        eta.batch_started(size)
        clock.advance(build)
        eta.batch_built()
        for _ in range(size):
            clock.advance(run)
            eta.trial_done()
            done += 1
            on_trial(done)
        clock.advance(model)
        eta.batch_done()


@pytest.mark.parametrize("batch, build, run, model", [
    (32, 3.0, 0.1, 0.5),    # a batch costs more to build than to run
    (32, 0.5, 0.3, 0.1),    # runs dominate
    (8, 2.0, 0.01, 0.2),    # tiny kernels: building is everything
])
def test_time_left_is_sane_from_the_first_trial(batch, build, run, model):
    clock = FakeClock()
    eta = EtaEstimator(clock)
    trials = 100
    per_batch = build + model
    total = -(-trials // batch) * per_batch + trials * run
    estimates = {}
    simulate(clock, eta, trials, batch, build, run, model,
             lambda done: estimates.setdefault(done, (clock.now, eta.seconds_left(
                 trials - done, batch))))
    for done, (now, left) in estimates.items():
        actual = total - now
        if actual > 1.0:  # within a factor 2 of the truth at every trial
            assert actual / 2 <= left <= 2 * actual, (done, left, actual)
    # a whole batch built before its first run is not charged to that one trial:
    # the first estimate is the batch's cost spread over the batch, not 100x it
    first = estimates[1][1]
    assert first <= 2 * total


def test_time_left_counts_the_batches_and_the_round():
    clock = FakeClock()
    eta = EtaEstimator(clock)
    assert eta.seconds_left(10, 4) is None
    eta.batch_started(4)
    clock.advance(2.0)
    eta.batch_built()
    assert eta.seconds_left(10, 4) is None  # building: no trial measured yet
    clock.advance(0.5)
    eta.trial_done()
    # 9 runs of 0.5 s; 3 of them in this batch, 6 in two more batches of 2 s of
    # search and build each; a round of 3 candidates of 0.25 s, each built in 2 s / 4
    assert eta.seconds_left(9, 4, round_size=3, round_seconds=0.25) == pytest.approx(
        9 * 0.5 + 2 * 2.0 + 3 * (0.25 + 0.5))
    for _ in range(3):
        clock.advance(0.5)
        eta.trial_done()
    clock.advance(1.0)  # the model learns from the batch
    eta.batch_done()
    assert eta.seconds_left(6, 4) == pytest.approx(6 * 0.5 + 2 * 3.0)
    assert format_seconds(59.2) == "1:00" and format_seconds(3723) == "1:02:03"
    assert time_text(4.19e-3) == "4.190 ms" and time_text(2.7e-6) == "2.70 us"


def test_bar_text_before_the_first_trial_says_so():
    bar = Progress(verbose=0, total=8, initial=0, name="C", clock=FakeClock())
    bar.batch_started(4)
    bar.status("building")
    assert bar.text == "building"
    bar.absorbed(2, "best so far 1.0 GFLOPS (provisional)")
    assert bar.text == "ETA after the first trial, best so far 1.0 GFLOPS (provisional)"


class ClockedRunner(LocalRunner):
    """A runner whose every candidate takes 2 s on the fake clock (search, build and
    the model take none), so the time left is known exactly."""

    def __init__(self, clock, **options):
        super().__init__(**options)
        self.clock = clock

    def run_each(self, task, builds, best_time=None):
        for result in super().run_each(task, builds, best_time):
            self.clock.advance(2.0)
            yield result


@pytest.mark.parametrize("retime", [16, 0])
def test_one_best_told_once(monkeypatch, capsys, retime):
    clock = FakeClock()
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(perf_counter=clock))
    shown = []
    show = Progress._show

    def recording(self, text, count=0):
        shown.append(text)
        show(self, text, count)

    monkeypatch.setattr(Progress, "_show", recording)
    runner = ClockedRunner(clock, min_measure_seconds=0.01, retime_seconds=0.05)
    try:
        res = tl.autotune(MatmulTileSpace(16, 16, 16), trials=8, batch_size=4,
                          runner=runner, retime=retime, verbose=1,
                          measure_options=MeasureOptions(retime_seconds=0.05), **FAST)
    finally:
        runner.close()
    out, err = capsys.readouterr()
    # the time left after each trial: 2 s per trial left, and a round of up to 8
    # candidates of 0.05 s each (none when it is off), from the first trial on
    round_seconds = 8 * 0.05 if retime else 0.0
    trials_shown = shown[:8]
    for done, text in enumerate(trials_shown, 1):
        assert text.startswith(f"ETA {format_seconds((8 - done) * 2.0 + round_seconds)}, "
                               f"best so far "), text
        assert text.endswith("(provisional)")
    # the bar's last words, print(res) and res.best_time: one figure
    assert shown[-1] == res.best_text
    assert res.best_text in out.splitlines()[0] and res.best_text in str(res)
    assert res.best_text in re.split(r"[\r\n]", err.strip())[-1]
    assert res.best_time == statistics.median(res.best_samples)
    assert res.best_text.startswith(f"best {time_text(res.best_time)}, "
                                    f"{res.flops / res.best_time / 1e9:.1f} GFLOPS (median "
                                    f"of {len(res.best_samples)} samples, ")
    if retime:
        assert res.best_record in res.retimed and "re-timed side by side" in res.best_text
        assert any(text.startswith("re-timing the ") for text in shown)
    else:
        # no round: the figure is the fastest first measurement, the bar's last
        # provisional figure
        assert "first measurement" in res.best_text
        assert res.best_time == min(r.median_cost for r in res.history if r.is_valid)
        provisional = [t for t in shown if "provisional" in t][-1]
        assert f"{res.best_gflops:.1f} GFLOPS (provisional)" in provisional
