"""Measuring candidates: builds in parallel worker processes, runs isolated in a process of
their own, outputs checked against the unscheduled computation.

A :class:`MeasureTask` describes one workload to a runner: its arguments (names, shapes,
dtypes, which are outputs), the seed of its random inputs and the compiled reference.  A
:class:`LocalBuilder` lowers and compiles candidates in a pool of worker processes
(:mod:`.workers`: fresh interpreters that never run the user's main script; they also
compute the candidates' features for the search); a :class:`Runner` runs them.  The
:class:`LocalRunner` keeps one persistent process that loads each candidate's object code
(no linking, no disk), runs it once, compares every output with the reference (a wrong
candidate is recorded as ``"wrong_result"`` and can never win), then times it: samples
until both ``min_repeats`` and ``min_measure_seconds`` are reached.  A candidate that kills
the process (``"crash"``) or outlives its time limit (``"timeout"``) costs only a restart.

>>> with LocalBuilder() as builder, LocalRunner() as runner:
...     builds = builder.build(task, configs)
...     results = runner.run(task, builds)

A distributed runner implements :class:`Runner` (``prepare`` and ``run``): artifacts and
tasks are plain picklable data.
"""
from __future__ import annotations

import io
import os
import pickle
import shutil
import signal
import sys
import tempfile
import time
import types
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import TuneError
from ..target.disk_cache import paths_of_dead_processes
from . import measure_worker
from .config import Config
from .workers import Worker, WorkerPool


@dataclass
class MeasureOptions:
    """How candidates are measured.

    ``timeout``: seconds a candidate's run (check and timing) may take before it is killed
    and recorded as ``"timeout"``; a candidate is also stopped once it has run
    ``slow_factor`` times as long as the best so far plus ``min_timeout`` seconds, since it
    cannot win.  ``min_measure_seconds`` / ``min_repeats`` / ``max_repeats``: timing
    samples; each sample batches calls to last ``min_sample_seconds``.  ``warmup``: extra
    untimed calls after the checked first call.  ``flush_cache``: evict the CPU caches
    before every sample.  ``array_offset``: bytes past a 64-byte boundary at which every
    input and output array starts.  Large numpy arrays usually start 16 bytes past a page
    boundary (malloc's header), where a candidate's vector loads may straddle cache lines
    and run slower than on aligned arrays, so candidates are timed as users' arrays will
    run them; None leaves the placement to numpy (it then varies from run to
    run).  ``retime_seconds``: seconds per candidate when the best few are re-timed side
    by side at the end of tuning (each round lasts that times their number, and at least
    ``min_repeats`` turns).  ``fault_hook``: a picklable ``hook(config_json, outputs)`` the
    runner calls after a candidate's first run (to test crash and error handling)."""
    timeout: float = 10.0
    min_timeout: float = 2.0
    slow_factor: float = 20.0
    build_timeout: float = 60.0
    reference_timeout: float = 600.0
    min_measure_seconds: float = 0.1
    min_repeats: int = 3
    max_repeats: int = 20
    min_sample_seconds: float = 1e-3
    warmup: int = 0
    flush_cache: bool = False
    array_offset: int | None = 16
    retime_seconds: float = 0.25
    fault_hook: Callable | None = None

    def for_runner(self) -> dict:
        return {"slow_factor": self.slow_factor, "warmup": self.warmup,
                "flush_cache": self.flush_cache, "min_sample_seconds": self.min_sample_seconds,
                "min_repeats": self.min_repeats, "max_repeats": self.max_repeats,
                "min_measure_seconds": self.min_measure_seconds, "fault_hook": self.fault_hook,
                "array_offset": self.array_offset,
                "parent_pid": os.getpid()}

    def run_deadline(self, best_time: float | None) -> float:
        """Seconds the runner waits for one candidate."""
        if best_time is None or best_time <= 0:
            return self.timeout
        return min(self.timeout, self.min_timeout + self.slow_factor * best_time +
                   self.min_measure_seconds * 2)


@dataclass
class ArgSpec:
    """One argument of a workload as the runner sees it.  ``value_range``: the
    ``(low, high)`` values (inclusive) its random contents take, for an integer input
    that indexes a tensor (see :mod:`.inputs`); None for the runner's default."""
    name: str
    shape: tuple
    dtype: str
    is_output: bool
    value_range: tuple | None = None


@dataclass
class MeasureTask:
    """One workload to measure candidates of: ``task_id`` names it (workload key and
    target), ``space_bytes`` is its pickled search space (for the builders), ``specs``
    its arguments, ``seed`` the seed of its random inputs, ``functions`` the registered
    functions its extern stages call (``{name: pickled function}``,
    :func:`.extern_functions.pack_functions`), which a runner registers before it
    computes the reference (:func:`.measure_worker.install_functions`)."""
    task_id: str
    target: str
    specs: list
    space_bytes: bytes | None = None
    space: Any = None
    seed: int = 0
    reference: "BuildResult | None" = None
    functions: dict = field(default_factory=dict)

    def spec_tuples(self) -> list:
        return [(s.name, tuple(s.shape), s.dtype, s.is_output,
                 None if s.value_range is None else tuple(s.value_range))
                for s in self.specs]


@dataclass
class BuildResult:
    """A built candidate: its config and schedule steps, the features of its lowered
    code, the artifact a runner loads, or the error that stopped it."""
    config: Config | None
    steps: list | None = None
    features: list | None = None
    artifact: Any = None
    error_kind: str | None = None
    error_msg: str = ""
    seconds: float = 0.0


@dataclass
class MeasureResult:
    """Seconds per call of a candidate, or the kind of error that stopped it."""
    costs: list | None = None
    error_kind: str | None = None
    error_msg: str = ""
    seconds: float = 0.0
    timestamp: float = field(default_factory=time.time)

    @property
    def mean_cost(self) -> float:
        return sum(self.costs) / len(self.costs) if self.costs else float("inf")


# -- building -------------------------------------------------------------------------------

class LocalBuilder:
    """Lowers and compiles candidates in ``n_parallel`` worker processes (default: one per
    core).  Where a task's space cannot be pickled, builds run in this process."""

    def __init__(self, n_parallel: int | None = None, timeout: float = 60.0):
        self.n_parallel = n_parallel or len(os.sched_getaffinity(0))
        self.timeout = timeout
        self._pool = WorkerPool(self.n_parallel, name="tensorlang-builder")

    def close(self) -> None:
        """Stop the worker processes."""
        self._pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- jobs ----------------------------------------------------------------------------
    def _run_jobs(self, function: str, jobs: list, timeout: float, on_failure) -> list:
        """Results of ``measure_worker.<function>(*job)`` for every job, in order, run in
        the worker processes.  A job whose worker dies or that outlives ``timeout``
        seconds gets ``on_failure(kind, message)``: each worker runs one job at a time,
        so a crash is blamed on its own job."""
        results = []
        for status, value in self._pool.run(function, jobs, timeout):
            if status == "ok":
                results.append(value)
            elif status == "timeout":
                results.append(on_failure("timeout",
                                          f"building took longer than {timeout:g} s"))
            elif status == "crash":
                results.append(on_failure("build_error",
                                          f"the build process crashed ({value})"))
            else:  # e.g. a result that cannot be pickled
                results.append(on_failure("build_error", value))
        return results

    def build(self, task: MeasureTask, configs: list, reference: bool = False) -> list:
        """A :class:`BuildResult` per config (``reference=True``: one build of the
        unscheduled computation, ``configs`` ignored)."""
        if reference:
            configs = [None]
        jobs = [(task.task_id, task.space_bytes, task.target,
                 None if c is None else c.to_json(), reference) for c in configs]
        if task.space_bytes is None:
            raw = [self._build_here(task, *job[3:]) for job in jobs]
        else:
            raw = self._run_jobs("build_candidate", jobs, self.timeout,
                                 lambda kind, msg: {"error_kind": kind, "error_msg": msg})
        return [BuildResult(config, item.get("steps"), item.get("features"),
                            item.get("artifact"), item.get("error_kind"),
                            item.get("error_msg", ""), item.get("seconds", 0.0))
                for config, item in zip(configs, raw)]

    @staticmethod
    def _build_here(task: MeasureTask, config_json, reference) -> dict:
        measure_worker._SPACES[task.task_id] = task.space
        return measure_worker.build_candidate(task.task_id, b"", task.target, config_json,
                                              reference)

    def featurize(self, task: MeasureTask, configs: list, chunk: int = 8) -> list:
        """Feature vectors (lists) of configs, None for configs that cannot be lowered;
        computed in the worker processes, ``chunk`` configs per job."""
        config_jsons = [c.to_json() for c in configs]
        if task.space_bytes is None:
            measure_worker._SPACES[task.task_id] = task.space
            return measure_worker.featurize_candidates(task.task_id, b"", config_jsons)
        size = max(1, min(chunk, -(-len(configs) // self.n_parallel)))
        jobs = [(task.task_id, task.space_bytes, config_jsons[k:k + size])
                for k in range(0, len(configs), size)]
        chunks = self._run_jobs("featurize_candidates", jobs,
                                self.timeout * size, lambda kind, msg: [None] * size)
        out = []
        for job, values in zip(jobs, chunks):
            out.extend(values[:len(job[2])])
        return out


def _wrapped_function(module_name: str, qualified_name: str):
    """The function a decorator object (a template) at ``module.qualified_name`` wraps."""
    import importlib
    holder = importlib.import_module(module_name)
    for part in qualified_name.split("."):
        holder = getattr(holder, part)
    return holder.func


class _SpacePickler(pickle.Pickler):
    """Pickles a function hidden behind a decorator object of the same name (a
    ``@template``) through that object, which pickle's by-name lookup cannot do.  Notes
    in ``main_names`` the functions and classes of the main script it meets: the worker
    processes do not run that script, so they could not unpickle them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.main_names: list[str] = []

    def reducer_override(self, obj):
        if isinstance(obj, (type, types.FunctionType)) and obj.__module__ == "__main__":
            self.main_names.append(obj.__qualname__)
        if isinstance(obj, types.FunctionType) and "<locals>" not in obj.__qualname__:
            holder = sys.modules.get(obj.__module__)
            for part in obj.__qualname__.split("."):
                holder = getattr(holder, part, None)
            if holder is not obj and getattr(holder, "func", None) is obj:
                return _wrapped_function, (obj.__module__, obj.__qualname__)
        return NotImplemented


def pickle_space(space) -> bytes | None:
    """The space as bytes for the worker processes, or None where they could not
    unpickle it (then builds run in the tuning process; :func:`pickle_problem` says
    why)."""
    return _pickle_space(space)[0]


def pickle_problem(space) -> str | None:
    """Why the worker processes cannot receive ``space`` (None: they can)."""
    return _pickle_space(space)[1]


def _pickle_space(space) -> tuple:
    try:
        buffer = io.BytesIO()
        pickler = _SpacePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dump(space)
        data = buffer.getvalue()
        pickle.loads(data)
    except Exception as error:  # noqa: BLE001 - lambdas, local classes, open handles, ...
        return None, f"it cannot be pickled ({type(error).__name__}: {error})"
    if pickler.main_names:
        names = ", ".join(sorted(set(pickler.main_names)))
        return None, (f"it uses {names} of the main script, which the worker processes do "
                      f"not run; define {'them' if ',' in names else 'it'} in a module to "
                      f"build in parallel")
    return data, None


# -- running -------------------------------------------------------------------------------

class Runner(ABC):
    """Runs built candidates and reports their costs.

    ``prepare(task)`` readies a workload (inputs, reference outputs) and must be called
    before ``run`` for that task; ``run(task, builds, best_time)`` measures candidates in
    order (``best_time``: the best seconds so far, so that hopeless candidates can be cut
    short).  A candidate that fails is reported with its error kind, never raised."""

    @abstractmethod
    def prepare(self, task: MeasureTask) -> None:
        """Make ``task`` runnable (may compute its reference outputs)."""

    @abstractmethod
    def run(self, task: MeasureTask, builds: list, best_time: float | None = None) -> list:
        """A :class:`MeasureResult` per :class:`BuildResult`."""

    def run_each(self, task: MeasureTask, builds: list, best_time: float | None = None):
        """The results of :meth:`run`, yielded one by one as each candidate is measured,
        so the tuner records each at once (a killed run then loses only the candidate in
        flight).  This default waits for :meth:`run`; runners that measure one
        candidate at a time override it."""
        yield from self.run(task, builds, best_time)

    def retime(self, task: MeasureTask, builds: list) -> list:
        """Time ``builds`` (already measured once, all of one task) again, to rank them:
        a :class:`MeasureResult` per build.  Runners that can should time them in turns,
        so that all see the same machine load, as :class:`LocalRunner` does; this default
        measures them once more, one after another."""
        return self.run(task, builds)

    def close(self) -> None:
        """Release processes and files."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


#: the start of the names of runners' temporary directories, followed by the pid of
#: the tuning process that made one
TEMP_PREFIX = "tensorlang-tune-"


def remove_stale_directories(root: str | None = None) -> list[str]:
    """Remove the temporary directories (reference outputs) of runners whose tuning
    process is gone: a run killed with ``kill -9`` leaves its directory behind, and the
    next run cleans it.  Returns the paths removed."""
    removed = []
    for path in paths_of_dead_processes(root or tempfile.gettempdir(), TEMP_PREFIX):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            removed.append(path)
    return removed


class LocalRunner(Runner):
    """Runs candidates one at a time in a persistent process of their own, restarted after
    a crash or a timeout."""

    def __init__(self, options: MeasureOptions | None = None, **option_values):
        self.options = options or MeasureOptions(**option_values)
        if options is not None and option_values:
            raise TuneError("LocalRunner: give either options or keyword options, not both")
        self._process = None
        self._connection = None
        self._spare = None
        self._loaded: set[str] = set()
        self._tasks: dict[str, MeasureTask] = {}
        self._reference_files: dict[str, str] = {}
        remove_stale_directories()
        self._directory = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-")
        self.restarts = 0

    # -- the process ---------------------------------------------------------------------
    def _spawn(self):
        worker = Worker("runner_main", (self.options.for_runner(),), name="tensorlang-runner")
        return worker, worker.connection

    def _start(self) -> None:
        """Start the runner process, or take the spare one started after the last
        restart (a run that crashes once tends to crash again: the spare makes each
        restart cost no start-up time)."""
        if self._spare is not None and self._spare[0].is_alive():
            self._process, self._connection = self._spare
            self._spare = None
        else:
            self._process, self._connection = self._spawn()
        if self.restarts:
            self._spare = self._spawn()
        self._loaded.clear()

    @staticmethod
    def _end(process, connection, kill: bool) -> None:
        if kill and process.is_alive():
            process.kill()
        elif process.is_alive():
            try:
                connection.send(("stop",))
            except (OSError, BrokenPipeError):
                process.kill()
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
        connection.close()

    def _stop(self, kill: bool) -> None:
        process, connection = self._process, self._connection
        self._process = self._connection = None
        self._loaded.clear()
        if process is not None:
            self._end(process, connection, kill)

    def close(self) -> None:
        self._stop(kill=False)
        if self._spare is not None:
            self._end(*self._spare, kill=False)
            self._spare = None
        shutil.rmtree(self._directory, ignore_errors=True)

    def _request(self, message, deadline: float):
        """Send a request and wait for the reply: ``(reply, None)`` or ``(None, (kind,
        message))`` when the process died or ran past ``deadline`` seconds."""
        if self._process is None:
            self._start()
        hung = False
        try:
            self._connection.send(message)
            if self._connection.poll(deadline):
                return self._connection.recv(), None
            hung = True
        except (EOFError, OSError, BrokenPipeError):
            pass
        process = self._process
        if not hung:
            process.join(5)  # the pipe closed: the process is dying, collect its status
        if process.is_alive():
            # no reply in time: it is hung or too slow, stop it
            self._stop(kill=True)
            self.restarts += 1
            return None, ("timeout", f"no result within {deadline:.3g} s; the run was stopped")
        process.join(1)
        code = process.exitcode
        self._stop(kill=True)
        self.restarts += 1
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return None, ("crash", f"the candidate killed its process ({name})")
        return None, ("crash", f"the runner process exited with code {code}")

    # -- Runner --------------------------------------------------------------------------
    def prepare(self, task: MeasureTask) -> None:
        """Compute the reference outputs of ``task`` in the runner process (once; later
        restarts reload them from a file)."""
        if task.reference is None or task.reference.error_kind is not None:
            message = "" if task.reference is None else task.reference.error_msg
            raise TuneError(f"the unscheduled computation of task '{task.task_id}' could "
                            f"not be built as the correctness reference: {message}")
        self._tasks[task.task_id] = task
        self._ensure_loaded(task, self.options.reference_timeout)

    def _ensure_loaded(self, task: MeasureTask, deadline: float) -> None:
        if self._process is not None and task.task_id in self._loaded:
            return
        cache = self._reference_files.setdefault(
            task.task_id, os.path.join(self._directory,
                                       f"reference-{len(self._reference_files)}.npz"))
        reply, failure = self._request(
            ("prepare", task.task_id, task.spec_tuples(), task.seed, task.target,
             task.reference.artifact, cache, task.functions), deadline)
        if failure is not None or not reply.get("ok"):
            kind, message = failure or (reply.get("error_kind"), reply.get("error_msg"))
            raise TuneError(f"running the unscheduled computation of task '{task.task_id}' "
                            f"as the correctness reference failed ({kind}): {message}")
        self._loaded.add(task.task_id)

    def run(self, task: MeasureTask, builds: list, best_time: float | None = None) -> list:
        return list(self.run_each(task, builds, best_time))

    def run_each(self, task: MeasureTask, builds: list, best_time: float | None = None):
        if task.task_id not in self._tasks:
            self.prepare(task)
        for build in builds:
            start = time.perf_counter()
            if build.error_kind is not None:
                yield MeasureResult(None, build.error_kind, build.error_msg)
                continue
            self._ensure_loaded(task, self.options.reference_timeout)
            deadline = self.options.run_deadline(best_time)
            reply, failure = self._request(
                ("run", task.task_id, build.artifact, build.config.to_json(), best_time),
                deadline)
            if failure is not None:
                result = MeasureResult(None, failure[0], failure[1])
            elif reply.get("error_kind"):
                result = MeasureResult(None, reply["error_kind"], reply.get("error_msg", ""))
            else:
                result = MeasureResult(list(reply["costs"]))
                if best_time is None or result.mean_cost < best_time:
                    best_time = result.mean_cost
            result.seconds = time.perf_counter() - start
            yield result

    def retime(self, task: MeasureTask, builds: list) -> list:
        """Time ``builds`` in turns in one process (each checked against the reference
        once more first), for ``options.retime_seconds`` per build."""
        if task.task_id not in self._tasks:
            self.prepare(task)
        results = [MeasureResult(None, b.error_kind, b.error_msg) for b in builds]
        ready = [k for k, b in enumerate(builds) if b.error_kind is None]
        if not ready:
            return results
        self._ensure_loaded(task, self.options.reference_timeout)
        span = self.options.retime_seconds * len(ready)
        reply, failure = self._request(
            ("retime", task.task_id, [builds[k].artifact for k in ready],
             [builds[k].config.to_json() for k in ready], span),
            self.options.timeout * len(ready) + 2 * span)
        for position, k in enumerate(ready):
            if failure is not None:
                results[k] = MeasureResult(None, failure[0], failure[1])
                continue
            entry = reply["results"][position] if "results" in reply else reply
            if entry.get("error_kind"):
                results[k] = MeasureResult(None, entry["error_kind"], entry.get("error_msg", ""))
            else:
                results[k] = MeasureResult(list(entry["costs"]))
        return results
