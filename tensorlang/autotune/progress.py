"""The tuning progress bar: trials done, the time left and the best so far.

The time left is this run's own measure of its batches: the trials left at the mean
wall seconds of a run so far, plus the batches left at the mean seconds of a batch's
search, build and model update (the batch under way: its search and build).  So it is
sane from the first trial of the first batch: a batch builds all its candidates before
the first one runs, and that cost is counted once per batch, not charged to the first
trial.  The re-timing round at the end is added (a quarter second per candidate by
default, plus building them).  No time limit of a candidate enters it.

Before the round the best is the fastest first measurement and the bar marks it
``provisional``; at the end the bar shows the result's own figure (``TuneResult``'s
``best_text``), the one ``print(res)`` and ``res.best_time`` give.

>>> progress = Progress(verbose=1, total=100, initial=0, name="matmul")
>>> progress.batch_started(32); progress.batch_built(); progress.trial_done("best ...")
>>> progress.finish(result.best_text)
"""
from __future__ import annotations

import math
import time

#: the bar: no rate or remaining time of tqdm's own (it smooths the seconds between
#: updates, and the first update comes after a whole batch was built)
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


class EtaEstimator:
    """Seconds left, from the wall time of this run's batches (see the module
    docstring): a batch costs its search and build, its runs and the model's update
    after them.  ``clock``: seconds, monotonic (default ``time.perf_counter``)."""

    def __init__(self, clock=None):
        self.clock = clock or time.perf_counter
        self._overheads: list[float] = []  # search, build and model seconds per batch
        self._run_seconds = 0.0
        self._runs = 0
        self._batch = None  # [start, size, build seconds or None, runs done, last time]

    def batch_started(self, size: int) -> None:
        """A batch of ``size`` candidates is being searched for and built."""
        self._batch = [self.clock(), size, None, 0, None]

    def batch_built(self) -> None:
        """Its candidates are built; the runs begin."""
        batch = self._batch
        if batch is not None:
            now = self.clock()
            batch[2], batch[4] = now - batch[0], now

    def trial_done(self) -> None:
        batch = self._batch
        if batch is not None and batch[4] is not None:
            now = self.clock()
            self._run_seconds += now - batch[4]
            self._runs += 1
            batch[3] += 1
            batch[4] = now

    def batch_done(self) -> None:
        """The batch's trials are measured and learnt from."""
        batch = self._batch
        if batch is not None and batch[4] is not None:
            self._overheads.append(batch[2] + self.clock() - batch[4])
        self._batch = None

    def _batch_overhead(self) -> float | None:
        """Search, build and model seconds of one batch: the mean of those done, else
        the search and build of the one under way."""
        if self._overheads:
            return sum(self._overheads) / len(self._overheads)
        batch = self._batch
        return None if batch is None or batch[2] is None else batch[2]

    def seconds_left(self, trials_left: int, batch_size: int, round_size: int = 0,
                     round_seconds: float = 0.0) -> float | None:
        """Seconds for ``trials_left`` more trials, in batches of ``batch_size``, and a
        re-timing round of ``round_size`` candidates of ``round_seconds`` each; None
        before the first trial is measured."""
        overhead = self._batch_overhead()
        if not self._runs or overhead is None:
            return None
        trials_left = max(0, trials_left)
        per_run = self._run_seconds / self._runs
        batch = self._batch
        in_batch = 0 if batch is None else min(trials_left, max(0, batch[1] - batch[3]))
        batches = -(-(trials_left - in_batch) // max(1, batch_size))
        model = 0.0 if batch is None or not self._overheads else \
            max(0.0, overhead - (batch[2] or 0.0))  # the model's update ending this batch
        build_each = overhead / max(1, batch_size)
        return trials_left * per_run + batches * overhead + model + \
            round_size * (round_seconds + build_each)


def time_text(seconds: float) -> str:
    """Seconds per call as printed: ``4.190 ms``, or ``2.74 us`` below a millisecond."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e3:.3f} ms"


def format_seconds(seconds: float) -> str:
    """``1:05`` (minutes:seconds) or ``1:02:03``."""
    seconds = int(math.ceil(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """A tqdm bar (trials, time left, best), a line of text without tqdm, or nothing
    with ``verbose=0``.  ``round_size`` / ``round_seconds``: the re-timing round to
    come, for the time left.  :attr:`text` is what the bar shows after its count."""

    def __init__(self, verbose: int, total: int, initial: int, name: str,
                 batch_size: int = 32, round_size: int = 0, round_seconds: float = 0.0,
                 clock=None, file=None):
        self.total = total
        self.batch_size = batch_size
        self.done = initial
        self.name = name
        self.round_size = round_size
        self.round_seconds = round_seconds
        self.eta = EtaEstimator(clock)
        self.best = ""
        self.text = ""
        self.bar = None
        self.verbose = verbose
        if verbose:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, initial=initial, desc=f"tuning {name}",
                                unit="trial", dynamic_ncols=True, leave=True,
                                bar_format=BAR_FORMAT, file=file)
            else:
                print(f"tuning {name}: {initial}/{total} trials done")

    # -- what the bar says ---------------------------------------------------------------
    def _show(self, text: str, count: int = 0) -> None:
        self.text = text
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(count)  # refreshes as tqdm's rate limit allows
            if not count:
                self.bar.refresh()

    def _running_text(self) -> str:
        left = self.eta.seconds_left(self.total - self.done, self.batch_size,
                                     self.round_size, self.round_seconds)
        eta = "ETA after the first trial" if left is None else \
            f"ETA {format_seconds(left)}"
        return f"{eta}, {self.best}" if self.best else eta

    # -- events ---------------------------------------------------------------------------
    def batch_started(self, size: int) -> None:
        self.eta.batch_started(size)

    def batch_built(self) -> None:
        self.eta.batch_built()

    def trial_done(self, best: str) -> None:
        """A trial of this process was measured; ``best``: the best so far, as text."""
        self.eta.trial_done()
        self.best = best
        self.done += 1
        self._show(self._running_text(), 1)

    def absorbed(self, count: int, best: str) -> None:
        """``count`` trials appended by other processes were taken in."""
        self.best = best
        self.done += count
        self._show(self._running_text(), count)

    def batch_done(self) -> None:
        self.eta.batch_done()

    def status(self, text: str) -> None:
        """A phase without trials (the re-timing round)."""
        self._show(text)
        if self.bar is None and self.verbose:  # no tqdm: a line
            print(text, flush=True)

    def finish(self, text: str) -> None:
        """The final figure (``TuneResult.best_text``); closes the bar."""
        self._show(text)
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
