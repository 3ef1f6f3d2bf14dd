"""``tl.autotune``: find a fast, correct schedule for a workload by measuring candidates
chosen by evolutionary search on a learned cost model.

>>> res = tl.autotune(C, target="llvm", trials=200, log_file="matmul.jsonl")
>>> res.best_time, res.best_gflops
>>> print(res.schedule_code)          # the best schedule as Python
>>> mod = res.build()

The log is the source of truth: ``trials`` is the budget of that workload and target in
the log, so rerunning a finished call measures nothing and returns the same best, and a
run killed half-way resumes with the remaining trials; no config is measured twice as a
trial.  At the end the fastest few candidates are re-timed side by side (``retime``),
and the fastest there is the best: the lowest of many noisy first measurements
overstates its candidate's speed, often enough to crown a slower one.  The result has
one figure, ``res.best_time`` (how it is measured: :class:`TuneResult`); ``print(res)``
and the progress bar's last words give that figure, and ``tensorlang demo`` prints it.

Each result is appended to the log as it is measured, so a run killed with ``kill -9``
loses only the candidate in flight.  Several processes may tune into one log at once:
they take turns, batch by batch, under the log's lock, share the budget, measure no
config twice and end with the same best.  Records of the log that are malformed or
implausible are skipped with a :class:`RecordWarning` naming the line.
"""
from __future__ import annotations

import collections
import math
import time
import warnings

import numpy as np

from ..driver import build as build_schedule
from ..errors import TuneError
from ..target.llvm.runtime import num_threads
from ..te.graph import Operation, PlaceholderOp, Tensor, post_order_ops
from ..tir import expr as E
from .config import Config
from .extern_functions import pack_functions
from .flops import count_flops
from .inputs import input_ranges
from .measure import (ArgSpec, MeasureOptions, MeasureTask, Runner, pickle_problem,
                      pickle_space)
from .progress import Progress, time_text
from .record import (MemoryLog, RecordLog, TuningRecord, last_round, record_config,
                     record_config_key, select_best)
from .pretrained import model_path
from .record_check import RecordCheck
from .session import Session, due_round
from .space import SearchSpace
from .tune_warnings import TuneWarning, user_stacklevel
from .workload import parameter_refs, workload_description
from .workload_space import check_target, make_space


# -- one workload -------------------------------------------------------------------------

class TuneResult:
    """What tuning one workload on one target found.

    ``best_time``: seconds per call of the best schedule, the median of its samples in
    the latest re-timing round (:attr:`TuningRecord.median_cost`).  Measured in the
    runner process, on the thread count of parallel loops (``TL_NUM_THREADS``, default
    every core: :attr:`threads`), on arrays 16 bytes past a cache line (as numpy's
    large arrays start), after a checked call and a short warm-up: a sample is the mean
    of back-to-back calls lasting at least ``MeasureOptions.min_sample_seconds`` (one
    call for a kernel slower than a millisecond; :mod:`.timing`), taken in turns with
    the other fastest candidates for ``MeasureOptions.retime_seconds`` each.  Where no
    round ran (``retime`` 0 or 1, a single candidate) it is the median of the best
    trial's samples.  ``print(res)``, ``best_text``, the progress bar's last words and
    ``tensorlang demo`` all give this one figure; the bar's figure before the round is
    marked provisional.

    Also: ``best_config`` (``{"sketch", "decisions"}``, JSON), ``best_steps`` (the
    schedule steps), ``best_gflops`` (None where no floating-point work can be counted),
    ``best_samples`` (the samples behind ``best_time``), ``history`` (every trial of
    this workload and target, in order), ``retimed`` (the records of the latest
    re-timing round), ``errors`` (count of failed trials by kind), ``measured_now`` and
    ``seconds`` (trials measured by this call and its duration), ``timings`` (its
    seconds per phase)."""

    def __init__(self, space: SearchSpace, target: str, records: list, name: str,
                 flops: float, measured_now: int = 0, seconds: float = 0.0,
                 timings: dict | None = None, retimes: list = ()):
        self.space = space
        self.target = target
        self.workload_key = space.workload_key
        self.name = name
        self.history: list[TuningRecord] = list(records)
        self.flops = flops
        self.measured_now = measured_now
        self.seconds = seconds
        #: seconds this call spent per phase (prepare, search, build, run, model, retime)
        self.timings = dict(timings or {})
        self.retimed: list[TuningRecord] = last_round(list(retimes))
        self.best_record = select_best(self.history, retimes)
        self.errors = collections.Counter(r.error_kind for r in self.history if r.error_kind)
        #: threads of parallel loops where it was measured (the runner's, as this process's)
        self.threads = num_threads()

    @property
    def num_trials(self) -> int:
        return len(self.history)

    @property
    def best_time(self) -> float:
        """Seconds per call of the best schedule (how it is measured: the class
        docstring); infinity when no trial is valid."""
        return self.best_record.median_cost if self.best_record else math.inf

    @property
    def best_samples(self) -> list[float]:
        """The samples (seconds per call) whose median is :attr:`best_time`."""
        return list(self.best_record.costs) if self.best_record else []

    @property
    def best_measured(self) -> str:
        """How :attr:`best_time` was measured, in a few words."""
        if self.best_record is None:
            return "nothing measured"
        count = len(self.best_record.costs)
        where = "re-timed side by side" if self.best_record.kind == "retime" else \
            "first measurement"
        threads = f", {self.threads} thread{'s' if self.threads != 1 else ''}" \
            if str(self.target).startswith("llvm") else ""
        return f"median of {count} sample{'s' if count != 1 else ''}, {where}{threads}"

    @property
    def best_text(self) -> str:
        """The best figure as ``print(res)`` and the progress bar give it:
        ``best 4.190 ms, 512.6 GFLOPS (median of 24 samples, ...)``."""
        if self.best_record is None:
            return f"no valid schedule in {self.num_trials} trials"
        speed = f", {self.best_gflops:.1f} GFLOPS" if self.best_gflops else ""
        return f"best {time_text(self.best_time)}{speed} ({self.best_measured})"

    @property
    def best_config(self) -> dict | None:
        if self.best_record is None:
            return None
        config = self.best_record.config
        return {"sketch": config["sketch"], "decisions": config["decisions"]}

    @property
    def best_steps(self) -> list | None:
        return None if self.best_record is None else self.best_record.config.get("steps")

    @property
    def best_gflops(self) -> float | None:
        if not self.flops or self.best_record is None:
            return None
        return self.flops / self.best_time / 1e9

    @property
    def trials_per_second(self) -> float:
        return self.measured_now / self.seconds if self.seconds > 0 else math.nan

    def _require_best(self):
        if self.best_record is None:
            raise TuneError(f"tuning '{self.name}' on {self.target} found no valid schedule "
                            f"in {self.num_trials} trial(s) (failures: {dict(self.errors)}); "
                            f"give more trials or check the workload")

    def schedule(self):
        """``(Schedule, tensors)`` of the best config."""
        self._require_best()
        return self.space.apply(Config.from_json(self.best_config))

    @property
    def params(self) -> list:
        """The tuned module's parameters in order (tensors): the list given when tuning
        (``params=``, a template's list), else the placeholders in the order they were
        created, then the outputs."""
        return list(self.space.args)

    def build(self, name: str | None = None):
        """The best schedule compiled for the tuned target; its parameters are
        :attr:`params`, in that order."""
        schedule, args = self.schedule()
        return build_schedule(schedule, args, target=self.target,
                              name=name or _identifier(self.name))

    @property
    def schedule_code(self) -> str:
        """The best schedule as the Python code that rebuilds it."""
        return str(self.schedule()[0])

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(trial numbers, best seconds so far) over the history."""
        best = np.minimum.accumulate([r.median_cost for r in self.history]) \
            if self.history else np.zeros(0)
        return np.arange(1, len(self.history) + 1), best

    def plot(self, ax=None, path=None):
        """Plot the tuning curve (best GFLOPS, or seconds, against trials) with
        matplotlib; saves it to ``path`` when given.  Returns the axes."""
        try:
            import matplotlib
            if ax is None and path is not None:
                matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError:
            raise TuneError("TuneResult.plot needs matplotlib: pip install matplotlib") from None
        trials, best = self.curve()
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        if self.flops:
            with np.errstate(divide="ignore"):
                values = np.where(np.isfinite(best), self.flops / best / 1e9, np.nan)
            ax.plot(trials, values)
            ax.set_ylabel("best GFLOPS")
        else:
            ax.plot(trials, np.where(np.isfinite(best), best * 1e3, np.nan))
            ax.set_ylabel("best time (ms)")
        ax.set_xlabel("trials")
        ax.set_title(f"tuning {self.name} on {self.target}")
        if path is not None:
            ax.figure.savefig(path)
        return ax

    def summary(self) -> str:
        if self.best_record is None:
            return f"{self.name} on {self.target}: {self.best_text}"
        return f"{self.name} on {self.target}: {self.best_text} after {self.num_trials} trials"

    def __repr__(self) -> str:
        return f"TuneResult({self.summary()})"

    def __str__(self) -> str:
        if self.best_record is None:
            return self.summary()
        names = ", ".join(getattr(t, "name", str(t)) for t in self.params)
        return f"{self.summary()}\n{self.schedule_code}\n# parameters, in order: {names}"


def _identifier(name: str) -> str:
    text = "".join(c if c.isalnum() else "_" for c in name)
    return text if text and not text[0].isdigit() else f"w_{text}"


class Task:
    """Tuning state of one workload: its space, search, measurement task, records."""

    def __init__(self, space: SearchSpace, target: str, log: RecordLog, shape_vars, seed: int):
        self.space = space
        self.target = target
        self.key = space.workload_key
        outputs = [t for t in space.args if not isinstance(t.op, PlaceholderOp)]
        self.description = workload_description(outputs, shape_vars) if outputs else {}
        if getattr(space, "explicit_params", False):
            # the order tuning was given, so that the log's best builds with it
            self.description["params"] = parameter_refs(space.outputs, space.args)
        self.name = self.description.get("name") or "workload"
        self.flops = getattr(space, "flop", 0) or count_flops(outputs, shape_vars)
        #: what a record of this workload in the log must satisfy to be used
        self.check = RecordCheck(space, target, self.flops)
        self.records: list[TuningRecord] = []
        self.retimes: list[TuningRecord] = []
        self._scanned = 0  # records of the log's workload already taken in
        self._own: collections.Counter = collections.Counter()
        self.refresh(log)
        self.measured = {k for k in map(record_config_key, self.records) if k}
        self.seed = seed
        self.search = None
        self.measure_task = None
        #: the registered functions its extern stages call, as the runner receives them
        self.functions: dict = {}
        self.exhausted = False
        self.since_improvement = 0

    def refresh(self, log: RecordLog) -> list[TuningRecord]:
        """Take in the records of this workload appended to ``log`` since the last call
        (by other processes: this one's are added by :meth:`add_own` when written);
        returns the new trials."""
        found = log.records_for(self.key, self.target, kind=None, check=self.check)
        fresh, self._scanned = found[self._scanned:], len(found)
        trials = []
        for record in fresh:
            text = record.to_json()
            if self._own[text]:
                self._own[text] -= 1
                continue
            if record.kind == "trial":
                self.records.append(record)
                trials.append(record)
            else:
                self.retimes.append(record)
        return trials

    def add_own(self, record: TuningRecord) -> None:
        """A record this process appended to the log."""
        (self.records if record.kind == "trial" else self.retimes).append(record)
        self._own[record.to_json()] += 1

    def reload(self, log: RecordLog) -> None:
        """Records and re-timings as the log holds them, in file order."""
        self.records = log.records_for(self.key, self.target, check=self.check)
        self.retimes = log.records_for(self.key, self.target, kind="retime",
                                       check=self.check)

    @property
    def best_time(self) -> float:
        """The fastest trial's figure (:attr:`TuningRecord.median_cost`) so far."""
        valid = [r.median_cost for r in self.records if r.is_valid]
        return min(valid) if valid else math.inf

    def elites(self, count: int) -> list:
        valid = sorted((r for r in self.records if r.is_valid), key=lambda r: r.mean_cost)
        return [c for c in map(record_config, valid[:count]) if c is not None]

    def make_measure_task(self, shape_vars) -> MeasureTask:
        # integer inputs that index a tensor take values that keep those reads in bounds
        ranges, unbounded = input_ranges(self.space.args, shape_vars)
        if unbounded:
            warnings.warn(f"tuning '{self.name}': bound analysis finds no values of the "
                          f"integer inputs that keep {', '.join(unbounded)} in bounds; its "
                          f"random inputs may read out of bounds", TuneWarning,
                          stacklevel=user_stacklevel())
        specs = [ArgSpec(t.name, concrete_shape(t, shape_vars), str(t.dtype),
                         not isinstance(t.op, PlaceholderOp), ranges.get(k))
                 for k, t in enumerate(self.space.args)]
        space_bytes = pickle_space(self.space)
        if space_bytes is None:
            warnings.warn(f"tuning '{self.name}': the worker processes cannot receive its "
                          f"search space, so its candidates are built in this process, one "
                          f"at a time: {pickle_problem(self.space)}", TuneWarning,
                          stacklevel=user_stacklevel())
        self.measure_task = MeasureTask(f"{self.key}|{self.target}", self.target, specs,
                                        space_bytes, self.space, self.seed,
                                        functions=self.functions)
        return self.measure_task


def concrete_shape(tensor: Tensor, shape_vars) -> tuple:
    """The shape of ``tensor`` as ints, symbolic dimensions taken from ``shape_vars``
    (measurement needs arrays of a size); a dimension without a size raises."""
    dims = []
    for dim in tensor.shape:
        if isinstance(dim, E.IntImm):
            dims.append(int(dim.value))
            continue
        value = None
        for var, bound in (shape_vars or {}).items():
            if var is dim or (isinstance(dim, E.Var) and getattr(var, "name", var) == dim.name):
                value = int(bound)
        if value is None:
            raise TuneError(f"tensor '{tensor.name}' has the symbolic dimension '{dim}'; "
                            f"tuning needs concrete shapes: pass shape_vars={{{dim}: size}}")
        dims.append(value)
    return tuple(dims)


# -- what is being tuned ---------------------------------------------------------------------

def _connected_groups(tensors: list) -> list[list]:
    """Tensors grouped by shared operations (placeholders included): one group per
    independent computation."""
    groups: list[tuple[set, list]] = []
    for tensor in tensors:
        ops = {id(op) for op in post_order_ops([tensor.op])}
        joined = [g for g in groups if g[0] & ops]
        merged_ops, merged = set(ops), []
        for group in joined:
            merged_ops |= group[0]
            merged += group[1]
            groups.remove(group)
        groups.append((merged_ops, merged + [tensor]))
    # in the order of the tensors given
    order = {id(t): k for k, t in enumerate(tensors)}
    ordered = [sorted(g[1], key=lambda t: order[id(t)]) for g in groups]
    return sorted(ordered, key=lambda g: order[id(g[0])])


def workload_groups(op, args) -> tuple[list, bool]:
    """The workloads ``op`` names, and whether several were given."""
    if isinstance(op, (SearchSpace, Tensor, Operation)) or (callable(op) and not
                                                            isinstance(op, (list, tuple))):
        return [op], False
    if not isinstance(op, (list, tuple)) or not op:
        raise TuneError(f"autotune: expected an output tensor, a list of them, a template "
                        f"function or a list of workloads, got {type(op).__name__} {op!r}")
    if all(isinstance(item, (Tensor, Operation)) for item in op):
        tensors = [t for item in op for t in
                   (item.outputs if isinstance(item, Operation) else [item])]
        groups = _connected_groups(tensors)
        return (groups, True) if len(groups) > 1 else ([tensors], False)
    return list(op), True


def _explicit_params(workloads: list, params, args) -> tuple:
    """``(params, template args)``: for output tensors, ``args`` given as a list of
    tensors is the parameter list (the spelling of ``tl.build(s, [A, B, C])``)."""
    tensors_given = bool(args) and isinstance(args, (list, tuple)) and \
        all(isinstance(a, Tensor) for a in args)
    is_tensor_workload = all(isinstance(w, (Tensor, Operation)) or
                             (isinstance(w, list) and w and
                              all(isinstance(t, (Tensor, Operation)) for t in w))
                             for w in workloads)
    if tensors_given and is_tensor_workload:
        if params is not None:
            raise TuneError("autotune: give the parameter list once, as params=[...]")
        return list(args), ()
    return params, args


def autotune(op, target="llvm", trials: int = 1000, log_file=None, shape_vars=None,
             args=(), params=None, verbose: int = 1, seed: int = 0,
             runner: Runner | None = None, batch_size: int = 32,
             early_stopping: int | None = None,
             measure_options: MeasureOptions | None = None, n_parallel: int | None = None,
             population_size: int = 128, num_generations: int = 3, epsilon: float = 0.1,
             cost_model=None, search: str = "model", retime: int = 16, pretrained=None):
    """Tune ``op`` for ``target`` with a budget of ``trials`` measured candidates.

    ``op``: an output tensor, a list of output tensors of one computation, a template
    function (with ``args``), a :class:`SearchSpace`, or a list of independent workloads
    (then the budget is spread by a gradient-based task scheduler and a list of results
    is returned).  ``params``: the parameters of the tuned module in order, e.g.
    ``params=[A, B, C]`` (every placeholder and output once; for output tensors,
    ``args=[A, B, C]`` says the same, as in ``tl.build(s, [A, B, C])``); by default the
    placeholders in the order they were created, then the outputs.  The order is kept in
    the log, and ``res.build()``, :func:`best_schedule` and ``tl.build`` under
    ``apply_history_best`` use it.  A template orders its parameters itself, by the list
    it returns.  ``log_file``: JSON-lines log to resume from and append to
    (checked writable before anything is measured; other processes may tune into it at once).
    ``early_stopping``: stop a workload after this many trials without improvement.
    ``runner``: a :class:`Runner` (default: a :class:`LocalRunner` with
    ``measure_options``).  ``search="random"`` measures uniform random samples instead of
    the model's picks (the baseline the model must beat).  ``retime``: at the end, time
    this many of the fastest candidates (those within 2x of the fastest as first
    measured) again side by side, in turns, and make the fastest there the best; 0 or 1
    turns this off.  The functions ``te.extern`` stages call are shipped to the runner
    process by reference: each must be importable from a module (a lambda, a nested
    function or one of the main script raises :class:`TuneError` naming it before
    anything is measured; see :mod:`.extern_functions`).  ``pretrained``: on llvm the
    search starts from the cost model shipped with the package, trained on a corpus of
    operators, and goes on learning from the run's measurements
    (:mod:`~tensorlang.autotune.pretrained`); False starts from a fresh model, a path uses
    another model file (``TENSORLANG_PRETRAINED_MODEL`` sets either for every run).
    ``cost_model`` replaces the model altogether.  Returns a :class:`TuneResult` (or a
    list of them)."""
    if not isinstance(trials, int) or trials < 0:
        raise TuneError(f"autotune: trials must be a non-negative integer, got {trials!r}")
    if search not in ("model", "random"):
        raise TuneError(f"autotune: search must be 'model' or 'random', got {search!r}")
    if batch_size < 1:
        raise TuneError(f"autotune: batch_size must be at least 1, got {batch_size}")
    if not isinstance(retime, int) or retime < 0:
        raise TuneError(f"autotune: retime must be a non-negative integer, got {retime!r}")
    if cost_model is not None and pretrained not in (None, False):
        raise TuneError("autotune: give either cost_model= (a model of your own) or "
                        "pretrained= (the file the default model starts from), not both")
    model_path(pretrained)  # a wrong value fails here, before anything is built
    target = check_target(target)
    workloads, several = workload_groups(op, args)
    params, args = _explicit_params(workloads, params, args)
    if params is not None and several:
        raise TuneError("autotune: params= orders the parameters of one workload; tune "
                        "independent workloads one at a time to give each its order")
    log = RecordLog(log_file) if log_file is not None else MemoryLog()
    tasks = [Task(make_space(w, target, shape_vars, args, params), target, log,
                   shape_vars, seed) for w in workloads]
    done = sum(len(t.records) for t in tasks)
    remaining = trials - done
    start = time.perf_counter()
    measured = [0] * len(tasks)
    due = any(due_round(t.records, t.retimes, retime) for t in tasks)
    progress = None
    if remaining > 0 or due:
        log.check_writable()  # before anything is measured
        for task in tasks:   # and every function extern stages call can be shipped
            task.functions = pack_functions(task.space.args, "autotune")
        progress = _progress(tasks, verbose, trials, done, batch_size, retime,
                             measure_options)
        try:
            with Session(tasks, target, log, verbose, seed, runner, batch_size,
                         early_stopping, measure_options, n_parallel, cost_model, search,
                         dict(population_size=population_size,
                              num_generations=num_generations, epsilon=epsilon),
                         pretrained) as session:
                if remaining > 0:
                    measured = session.tune(trials, shape_vars, progress)
                session.retime(retime, shape_vars, progress)
                timings = dict(session.timings)
            with log.locked():  # what every process tuning into the log has found
                for task in tasks:
                    task.reload(log)
        except BaseException:
            progress.close()
            raise
    else:
        timings = {}
    seconds = time.perf_counter() - start
    results = [TuneResult(t.space, target, t.records, t.name, t.flops, measured[k], seconds,
                          timings, t.retimes) for k, t in enumerate(tasks)]
    if progress is not None:  # the bar ends on the results' own figures
        progress.finish(results[0].best_text if len(results) == 1 else
                        "; ".join(f"{r.name}: {r.best_text}" for r in results))
    if verbose:
        for result in results:
            print(str(result))
    return results if several else results[0]


def _progress(tasks: list, verbose: int, trials: int, done: int, batch_size: int,
              retime: int, measure_options: MeasureOptions | None) -> Progress:
    """The progress bar of a tuning of ``tasks``, its time left counting the re-timing
    round to come."""
    name = tasks[0].name if len(tasks) == 1 else f"{len(tasks)} workloads"
    round_size = len(tasks) * min(retime, trials) if retime > 1 else 0
    seconds = (measure_options or MeasureOptions()).retime_seconds
    return Progress(verbose, trials, done, name, batch_size, round_size, seconds)

