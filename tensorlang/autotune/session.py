"""The tuning loop behind ``tl.autotune``: search, build, run, record, learn, repeat.

One round: the task scheduler picks a workload, its evolutionary search proposes a batch
of unmeasured configs, the builder pool compiles them (computing their features on the
way), the runner measures them one by one, each result is appended to the log as it
arrives (so a killed run loses at most the candidates in flight), and the cost model
retrains on everything measured so far.  At the end, the fastest few candidates of each
workload are re-timed side by side (:meth:`Session.retime`), and the fastest there wins.

Several processes may tune into one log: each round runs under the log's lock, after
taking in what the others appended (their trials count against the budget, are never
measured again and train the model), so nothing is measured twice, two processes never
time candidates at once on one machine, and all end with the same best.
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings

import numpy as np

from .cost_model import XGBoostCostModel
from .features import FEATURE_NAMES
from .measure import LocalBuilder, LocalRunner
from .progress import Progress, time_text
from .pretrained import pretrained_cost_model
from .record import TuningRecord, last_round, record_config
from .search import EvolutionarySearch
from .task_scheduler import GradientTaskScheduler
from .tune_warnings import TuneWarning


#: built candidates kept per workload for the re-timing round (the fastest as first
#: measured): the round then loads the code measured as a trial instead of compiling it
#: again (builds are deterministic, so it is the same code)
KEPT_BUILDS = 32

#: candidates re-timed in a round are at most this many times slower, as first measured,
#: than the fastest: on a shared machine a parallel kernel can run much slower for seconds
#: at a time, so a first measurement can make a candidate look that much slower
RETIME_WITHIN = 2.0


def retime_candidates(trials: list, count: int) -> list[TuningRecord]:
    """The valid trials worth re-timing side by side: the ``count`` fastest as first
    measured (distinct configs of the search space) within :data:`RETIME_WITHIN` times
    the fastest."""
    valid = sorted((r for r in trials if r.is_valid and record_config(r) is not None),
                   key=lambda r: r.mean_cost)
    chosen, keys = [], set()
    for record in valid:
        if len(chosen) == count or record.mean_cost > RETIME_WITHIN * valid[0].mean_cost:
            break
        if record.config_key not in keys:
            keys.add(record.config_key)
            chosen.append(record)
    return chosen


def due_round(trials: list, retimes: list, count: int) -> list[TuningRecord]:
    """The candidates of a re-timing round (:func:`retime_candidates`) when one is due
    (two or more qualify and the latest round did not cover them all), else []."""
    candidates = retime_candidates(trials, count) if count > 1 else []
    covered = {r.config_key for r in last_round(retimes)}
    if len(candidates) > 1 and not {r.config_key for r in candidates} <= covered:
        return candidates
    return []


def warn_internal_errors(name: str, builds: list) -> None:
    """Warn about candidates whose build hit a compiler bug (an ``InternalError``, not a
    mistake of the schedule): they are recorded as failed builds and tuning goes on, but a
    bug should not pass unseen."""
    hit = [b for b in builds if b.error_kind and b.error_msg.startswith("InternalError")]
    if hit:
        warnings.warn(f"tuning '{name}': {len(hit)} of {len(builds)} candidates hit a bug "
                      f"in tensorlang and were recorded as failed builds; please report it "
                      f"with the first one's config {hit[0].config}: {hit[0].error_msg}",
                      TuneWarning, stacklevel=3)


def default_cost_model(seed: int = 0, target=None, pretrained=None) -> XGBoostCostModel:
    """The tuner's model: one xgboost thread (OpenMP threads that outnumber free cores
    spin, and slow training down badly on a busy machine) and 64 histogram bins
    (features are log-scaled counts with few distinct values).  With a ``target``, it
    starts from the pretrained model for that target where one is usable
    (:func:`~tensorlang.autotune.pretrained.pretrained_cost_model`; ``pretrained``:
    None or True for the default file, False for none, or a model file's path)."""
    options = dict(num_threads=1, params={"max_bin": 64})
    if target is not None:
        model = pretrained_cost_model(target, pretrained, seed=seed, **options)
        if model is not None:
            return model
    return XGBoostCostModel(seed=seed, **options)


class Session:
    """Processes, model and searches of one ``autotune`` call."""

    def __init__(self, tasks, target, log, verbose, seed, runner, batch_size, early_stopping,
                 measure_options, n_parallel, cost_model, search, search_options,
                 pretrained=None):
        self.tasks = tasks
        self.target = target
        self.log = log
        self.verbose = verbose
        self.seed = seed
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.search_options = search_options
        self.random_search = search == "random"
        #: seconds spent per phase (prepare, search, build, run, model, retime)
        self.timings: dict[str, float] = {}
        #: workload key -> {config key: (mean cost, BuildResult)}: the fastest valid
        #: builds measured by this session (at most KEPT_BUILDS each)
        self._kept_builds: dict[str, dict] = {}
        timeout = measure_options.build_timeout if measure_options else 60.0
        self.builder = LocalBuilder(n_parallel, timeout=timeout)
        self.own_runner = runner is None
        self.runner = runner if runner is not None else LocalRunner(measure_options)
        if cost_model is not None:
            self.model = cost_model
        elif self.random_search:
            self.model = default_cost_model(seed)  # never consulted
        else:
            self.model = default_cost_model(seed, target, pretrained)

    def __enter__(self):
        return self

    @contextlib.contextmanager
    def _timed(self, phase: str):
        """Adds the seconds spent in the block to ``self.timings[phase]``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - start

    def __exit__(self, *exc):
        self.builder.close()
        if self.own_runner:
            self.runner.close()

    # -- setup -------------------------------------------------------------------------
    def _warm_start(self) -> None:
        """Train on every record of the log for this target that carries features (other
        workloads' too: the ranking objective groups by workload)."""
        if self.random_search:
            return
        try:
            self.model.warm_start(self.log.load(), target=self.target)
        except Exception:  # noqa: BLE001 - a log of another feature version: start cold
            pass

    def _prepare_measure(self, task, shape_vars):
        """Build the reference and ready the runner for ``task`` (once)."""
        if task.measure_task is None:
            measure_task = task.make_measure_task(shape_vars)
            measure_task.reference = self.builder.build(measure_task, [], reference=True)[0]
            self.runner.prepare(measure_task)
        return task.measure_task

    def _prepare(self, task, shape_vars) -> None:
        measure_task = self._prepare_measure(task, shape_vars)
        task.search = EvolutionarySearch(
            task.space, self.model, lambda configs: self.builder.featurize(measure_task,
                                                                           configs),
            seed=self.seed + len(task.records), **self.search_options)
        for record in task.records:  # measured in earlier runs
            config = record_config(record)
            if config is not None:
                task.search.remember_features(config, record.features, measured=True)

    # -- the loop ------------------------------------------------------------------------
    def tune(self, trials: int, shape_vars, progress: Progress) -> list[int]:
        """Measure candidates until the log holds ``trials`` trials of the tasks (the
        records of other processes tuning into the same log count too), shown on
        ``progress`` (which stays open for the round and the final figure); returns how
        many this process measured per task."""
        self._warm_start()
        tasks = self.tasks
        scheduler = GradientTaskScheduler(len(tasks), seed=self.seed)
        for k, task in enumerate(tasks):
            if task.records:
                scheduler.observe(k, len(task.records), task.best_time)
        measured = [0] * len(tasks)
        while True:
            k = scheduler.next_task()
            if k is None:
                break
            task = tasks[k]
            if task.search is None:
                with self._timed("prepare"):
                    self._prepare(task, shape_vars)
            with self.log.locked():
                for other in tasks:
                    self._absorb(other, other.refresh(self.log), progress)
                remaining = trials - sum(len(t.records) for t in tasks)
                if remaining <= 0:
                    break
                count = self._round(task, min(self.batch_size, remaining), progress)
            if count == 0:
                task.exhausted = True
                scheduler.finish(k)
                continue
            measured[k] += count
            scheduler.observe(k, len(task.records), task.best_time)
            if self.early_stopping is not None and \
                    task.since_improvement >= self.early_stopping:
                scheduler.finish(k)
        return measured

    def _absorb(self, task, fresh: list, progress: Progress) -> None:
        """Take in trials another process appended to the log: never measure their
        configs, and learn from their features."""
        rows, costs = [], []
        for record in fresh:
            config = record_config(record)
            if config is None:
                continue
            task.measured.add(config.key())
            features = record.features
            if features is None or len(features) != len(FEATURE_NAMES):
                continue  # none, or of another version of the features
            if task.search is not None:
                task.search.remember_features(config, features, measured=True)
            rows.append(features)
            costs.append(record.mean_cost)
        if rows and not self.random_search:
            with self._timed("model"):
                self.model.update(np.asarray(rows, dtype=np.float32), costs,
                                  [task.key] * len(rows))
        if fresh:
            progress.absorbed(len(fresh), self._best_text(task, task.best_time))

    def _round(self, task, count: int, progress: Progress) -> int:
        """Measure one batch of ``task``; returns the number measured (0: nothing left).
        Each result is appended to the log as soon as the runner reports it."""
        trained = self.model.is_trained and not self.random_search
        progress.batch_started(count)
        with self._timed("search"):
            configs = task.search.next_batch(count, task.measured, task.elites(16), trained)
        configs = [c for c in configs if c.key() not in task.measured][:count]
        if not configs:
            return 0
        with self._timed("build"):
            builds = self.builder.build(task.measure_task, configs)
        progress.batch_built()
        warn_internal_errors(task.name, builds)
        for build in builds:
            task.search.remember_features(build.config, build.features, measured=True)
        best = task.best_time
        rows, costs = [], []
        results = self.runner.run_each(task.measure_task, builds,
                                       best if math.isfinite(best) else None)
        run_start = time.perf_counter()
        for build, result in zip(builds, results):
            config_json = {**build.config.to_json(), "steps": build.steps}
            record = TuningRecord(task.key, task.description, self.target, config_json,
                                  costs=result.costs, error_kind=result.error_kind,
                                  error_msg=result.error_msg[:2000],
                                  features=build.features)
            self.log.append(record)
            task.add_own(record)
            task.measured.add(build.config.key())
            if record.is_valid and record.median_cost < best:
                best = record.median_cost
                task.since_improvement = 0
            else:
                task.since_improvement += 1
            if record.is_valid:
                self._keep_build(task.key, build, record.mean_cost)
            if build.features is not None:
                rows.append(build.features)
                costs.append(record.mean_cost)
            progress.trial_done(self._best_text(task, best))
        self.timings["run"] = self.timings.get("run", 0.0) + time.perf_counter() - run_start
        if rows and not self.random_search:
            with self._timed("model"):
                self.model.update(np.asarray(rows, dtype=np.float32), costs,
                                  [task.key] * len(rows))
        progress.batch_done()
        return len(builds)

    def _keep_build(self, task_key: str, build, cost: float) -> None:
        """Keep ``build`` (valid, measured at ``cost``) if it is among the
        :data:`KEPT_BUILDS` fastest of its workload."""
        kept = self._kept_builds.setdefault(task_key, {})
        kept[build.config.key()] = (cost, build)
        if len(kept) > KEPT_BUILDS:
            slowest = max(kept, key=lambda k: kept[k][0])
            del kept[slowest]

    def _builds_of(self, task, measure_task, configs: list) -> list:
        """A BuildResult per config: the kept build of a config measured by this session,
        else a fresh build (all of those in one pass of the builder pool)."""
        kept = self._kept_builds.get(task.key, {})
        builds = [kept[c.key()][1] if c.key() in kept else None for c in configs]
        missing = [k for k, b in enumerate(builds) if b is None]
        if missing:
            fresh = self.builder.build(measure_task, [configs[k] for k in missing])
            for k, build in zip(missing, fresh):
                builds[k] = build
        return builds

    # -- re-timing ----------------------------------------------------------------------
    def retime(self, count: int, shape_vars, progress: Progress) -> None:
        """For each workload whose round is due (:func:`due_round`), time its ``count``
        fastest candidates again, in turns in one process, and append the round to the
        log; the fastest of the round becomes the workload's best.  Under the log's
        lock, after reading what other processes appended: one round covers them all."""
        for task in self.tasks:
            with self.log.locked():
                task.refresh(self.log)
                candidates = due_round(task.records, task.retimes, count)
                if candidates:
                    progress.status(f"re-timing the {len(candidates)} fastest candidates "
                                    f"of {task.name} side by side")
                    with self._timed("retime"):
                        self._retime(task, candidates, shape_vars)

    def _retime(self, task, candidates: list, shape_vars) -> None:
        measure_task = self._prepare_measure(task, shape_vars)
        builds = self._builds_of(task, measure_task, [record_config(r) for r in candidates])
        warn_internal_errors(task.name, builds)
        results = self.runner.retime(measure_task, builds)
        number = max((r.round for r in task.retimes), default=0) + 1
        failed = []
        for candidate, result in zip(candidates, results):
            record = TuningRecord(task.key, task.description, self.target, candidate.config,
                                  costs=result.costs, error_kind=result.error_kind,
                                  error_msg=result.error_msg[:2000], kind="retime",
                                  round=number)
            self.log.append(record)
            task.add_own(record)
            if not record.is_valid:
                failed.append(record)
        if failed:
            kinds = sorted({r.error_kind for r in failed})
            warnings.warn(f"re-timing the fastest candidates of '{task.name}': "
                          f"{len(failed)} of {len(candidates)} failed ({', '.join(kinds)}: "
                          f"{failed[0].error_msg}); a candidate that fails there cannot win",
                          TuneWarning, stacklevel=3)

    @staticmethod
    def _best_text(task, best: float) -> str:
        """The best first measurement so far, marked provisional: the round at the end
        re-times the fastest and gives the figure of the result."""
        if not math.isfinite(best):
            return "best: none yet"
        if task.flops:
            return f"best so far {task.flops / best / 1e9:.1f} GFLOPS (provisional)"
        return f"best so far {time_text(best)} (provisional)"

