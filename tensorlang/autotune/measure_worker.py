"""The code that runs inside the tuner's worker processes: building candidates (and
computing their features) in the builder pool, and running them in the isolated runner.

Nothing here is called in the tuning process itself; :mod:`.measure` starts the processes
(through :mod:`.workers`: fresh interpreters that import tensorlang, never the user's main
script, and inherit no threads from the tuning process) and talks to them.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import time
import traceback

import numpy as np

from ..te.reference import bfloat16_to_float32, float32_to_bfloat16
from .timing import calls_per_sample

#: the bit pattern of a bfloat16 quiet NaN (what an unwritten bfloat16 output holds)
BFLOAT16_NAN = 0x7FC0

# -- builder pool -------------------------------------------------------------------------

#: spaces this worker has unpickled, by task id (a worker serves every task of a run)
_SPACES: dict = {}


def _space(task_id: str, space_bytes: bytes):
    space = _SPACES.get(task_id)
    if space is None:
        if len(_SPACES) > 16:
            _SPACES.clear()
        space = _SPACES[task_id] = pickle.loads(space_bytes)
    return space


def _lower(space, config_json: dict):
    from ..driver import lower
    from .space import Config
    config = Config.from_json(config_json)
    schedule, args = space.apply(config)
    steps = [step.to_json() for step in schedule.steps]
    return lower(schedule, args, name="candidate"), steps


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) < 2000 else text[:2000] + " ..."


def build_candidate(task_id: str, space_bytes: bytes, target: str, config_json: dict,
                    reference: bool = False) -> dict:
    """Lower and compile one config (or the unscheduled reference) of a task.

    Returns a dict with ``steps``, ``features``, ``artifact`` (what a runner loads),
    ``error_kind`` / ``error_msg`` and ``seconds``."""
    from ..target import Target
    from .features import extract_features
    start = time.perf_counter()
    result = {"steps": None, "features": None, "artifact": None, "error_kind": None,
              "error_msg": ""}
    try:
        space = _space(task_id, space_bytes)
        if reference:
            from ..driver import lower
            schedule, args = space.reference()
            func, result["steps"] = lower(schedule, args, name="reference"), []
        else:
            func, result["steps"] = _lower(space, config_json)
            result["features"] = [float(x) for x in extract_features(func)]
        # The reference checks every access: a definition that reads outside a tensor
        # (through an index bound analysis could not prove wrong, a gather say) must stop
        # tuning rather than become the outputs candidates are held to.
        result["artifact"] = compile_artifact(func, Target(target), bounds_check=reference)
    except Exception as error:  # noqa: BLE001 - any failure of one candidate is its record
        result["error_kind"] = "build_error"
        result["error_msg"] = _describe(error)
    result["seconds"] = time.perf_counter() - start
    return result


def compile_artifact(func, target, bounds_check: bool = False):
    """What a runner needs to load a compiled candidate: the object code for llvm (no
    linking, no disk), the pickled PrimFunc for other targets (the runner compiles it).
    ``bounds_check`` (llvm): every access checks its index, and a call that would read or
    write outside a buffer raises ``IndexError``."""
    from ..target import build
    if target.kind != "llvm":
        build(func, target)  # compile errors belong to the build, not the run
        return {"kind": "func", "func": pickle.dumps(func)}
    module = build(func, target, use_cache=False, bounds_check=bounds_check)
    return {"kind": "object", "artifact": module.artifact()}


def featurize_candidates(task_id: str, space_bytes: bytes, config_jsons: list) -> list:
    """Feature vectors (lists) of configs, None where one cannot be lowered."""
    from .features import extract_features
    space = _space(task_id, space_bytes)
    out = []
    for config_json in config_jsons:
        try:
            func, _ = _lower(space, config_json)
            out.append([float(x) for x in extract_features(func)])
        except Exception:  # noqa: BLE001 - an unlowerable config is scored as the worst
            out.append(None)
    return out


def serve_jobs(connection, parent_pid: int) -> None:
    """A builder worker: run ``("job", function name, arguments)`` requests one at a
    time, answering ``("ok", result)`` or ``("error", text)``, until told to stop or the
    pipe closes."""
    watch_parent(parent_pid)
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        if request[0] != "job":
            return
        _, function, args = request
        try:
            reply = ("ok", _JOBS[function](*args))
        except Exception as error:  # noqa: BLE001 - reported as the job's failure
            reply = ("error", _describe(error))
        try:
            connection.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            connection.send(("error", f"its result cannot be sent back: {_describe(error)}"))


def watch_parent(parent_pid: int, interval: float = 1.0) -> None:
    """Exit this worker once its parent is gone (killed with ``kill -9``, say), instead of
    waiting forever for work that will never come."""
    import threading

    def watch():
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                os._exit(0)
    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


#: the functions a builder worker runs, by name
_JOBS = {"build_candidate": build_candidate, "featurize_candidates": featurize_candidates}


# -- runner ----------------------------------------------------------------------------------

def load_artifact(artifact: dict, target: str):
    """A callable module from :func:`compile_artifact`'s output."""
    if artifact["kind"] == "object":
        from ..target.llvm import load_artifact as load_llvm_artifact
        return load_llvm_artifact(artifact["artifact"])
    from ..target import build
    return build(pickle.loads(artifact["func"]), target)


def random_array(shape, dtype: str, rng: np.random.Generator,
                 value_range: tuple | None = None) -> np.ndarray:
    """Inputs for correctness checks, in their own dtype: floats in [-1, 1) (bfloat16 as
    the uint16 bit patterns of such values, as modules take them), ints in
    ``value_range`` (inclusive; an input that indexes a tensor) or else in [1, 10) (no
    zero, so integer division stays defined), random bools."""
    if dtype == "bfloat16":
        return float32_to_bfloat16(rng.uniform(-1.0, 1.0, size=shape).astype(np.float32))
    np_dtype = np.dtype(dtype)
    if np_dtype.kind == "b":
        return rng.random(shape) < 0.5
    if np_dtype.kind in "iu":
        info = np.iinfo(np_dtype)
        low, high = value_range if value_range is not None else (1, 9)
        low, high = max(int(low), int(info.min)), min(int(high), int(info.max))
        return rng.integers(low, high, size=shape, endpoint=True).astype(np_dtype)
    return rng.uniform(-1.0, 1.0, size=shape).astype(np_dtype)


def task_inputs(specs: list, seed: int) -> dict:
    """The random input arrays of a task (``MeasureTask.spec_tuples()``), by position:
    what the reference and every candidate run on."""
    rng = np.random.default_rng(seed)
    return {k: random_array(shape, dtype, rng, value_range)
            for k, (_, shape, dtype, is_output, value_range) in enumerate(specs)
            if not is_output}


def placed(array: np.ndarray, offset: int) -> np.ndarray:
    """A copy of ``array`` whose data starts ``offset`` bytes past a 64-byte (cache line)
    boundary."""
    raw = np.empty(array.nbytes + 64, dtype=np.uint8)
    start = (offset - raw.ctypes.data) % 64
    out = raw[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    out[...] = array
    return out


def empty_output(shape, dtype: str) -> np.ndarray:
    """An output array full of values no correct candidate leaves behind (bfloat16: the
    bit pattern of NaN)."""
    if dtype == "bfloat16":
        return np.full(shape, BFLOAT16_NAN, dtype=np.uint16)
    np_dtype = np.dtype(dtype)
    if np_dtype.kind == "f":
        return np.full(shape, np.nan, dtype=np_dtype)
    if np_dtype.kind == "b":
        return np.zeros(shape, dtype=np_dtype)
    return np.full(shape, np.iinfo(np_dtype).min // 2 + 7, dtype=np_dtype)


#: per dtype: (relative tolerance, absolute tolerance as a fraction of the largest value)
TOLERANCES = {"float16": (1e-2, 1e-2), "bfloat16": (2e-2, 2e-2), "float32": (1e-3, 1e-4),
              "float64": (1e-7, 1e-9)}


def compare(output: np.ndarray, expected: np.ndarray, name: str, dtype: str) -> str | None:
    """None when ``output`` matches ``expected``; otherwise what differs."""
    if output.shape != expected.shape:
        return f"output '{name}' has shape {output.shape}, expected {expected.shape}"
    if dtype == "bfloat16":
        # bit patterns: compared as the values they stand for, within rounding
        output, expected = bfloat16_to_float32(output), bfloat16_to_float32(expected)
    if expected.dtype.kind != "f":
        bad = output != expected
    else:
        rtol, scale = TOLERANCES.get(dtype, (1e-3, 1e-4))
        finite = np.isfinite(expected)
        largest = float(np.max(np.abs(expected[finite]))) if finite.any() else 0.0
        atol = scale * max(largest, 1e-30)
        with np.errstate(invalid="ignore", over="ignore"):
            close = np.abs(output.astype(np.float64) - expected) <= atol + rtol * np.abs(expected)
        same_special = (output == expected) | (np.isnan(output) & np.isnan(expected))
        bad = ~(close | same_special)
    count = int(np.count_nonzero(bad))
    if count == 0:
        return None
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    return (f"output '{name}' differs from the reference at {count} of {bad.size} "
            f"element(s), e.g. at {where}: {output[where]!r} instead of {expected[where]!r}")


class _Caller:
    """Calls a module on fixed arrays with as little per-call work as possible (the
    arguments are checked and packed once; a module that calls registered functions gets
    its trampoline in the call context for each batch of calls)."""

    def __init__(self, module, arrays):
        self.module, self.arrays = module, arrays
        self._fast = None
        self._packed_calls = getattr(module, "_packed_calls", None)
        signature = getattr(module, "signature", None)
        function = getattr(module, "_function", None)
        if signature is not None and function is not None:
            from ..target.llvm import new_context
            pointers, scalars, temporaries = signature.pack(tuple(arrays))
            if not temporaries:  # no copies to keep alive or write back
                context = new_context()
                self._fast = (function, (*pointers, scalars, context))

    def first_call(self) -> None:
        """The checked call (errors raise with their message)."""
        self.module(*self.arrays)

    def _calls_enabled(self):
        """The context in which the fast path's compiled code may call registered
        functions (none needed where it calls none)."""
        if not self._packed_calls:
            return contextlib.nullcontext()
        from ..target.llvm.packed_calls import calls_enabled
        return calls_enabled(self._fast[1][-1], self._packed_calls)

    def __call__(self) -> None:
        self._calls(1)

    def _calls(self, number: int) -> None:
        if self._fast is None:
            for _ in range(number):
                self.module(*self.arrays)
            return
        function, call_args = self._fast
        with self._calls_enabled():
            for _ in range(number):
                function(*call_args)

    def sample(self, number: int) -> float:
        """Seconds per call over ``number`` calls (a GPU module times itself, with
        device events, excluding copies)."""
        if self._fast is None and hasattr(self.module, "time"):
            return self.module.time(*self.arrays, number=number, repeat=1)
        clock = time.perf_counter
        start = clock()
        self._calls(number)
        return (clock() - start) / number


def _cache_size() -> int:
    for level in ("index3", "index2"):
        try:
            with open(f"/sys/devices/system/cpu/cpu0/cache/{level}/size") as f:
                text = f.read().strip()
            return int(text.rstrip("KkMm")) * (1024 if text[-1] in "Kk" else 1024 * 1024)
        except (OSError, ValueError, IndexError):
            continue
    return 32 * 1024 * 1024


def install_functions(functions: dict) -> None:
    """Register the functions a task's extern stages call (``{name: pickled function}``,
    :func:`.extern_functions.pack_functions`) in this process; one that cannot be
    imported here raises naming it."""
    from ..tir.registry import register_func
    for name, data in functions.items():
        try:
            function = pickle.loads(data)
        except Exception as error:  # noqa: BLE001 - reported naming the function
            raise RuntimeError(f"the function registered as '{name}' cannot be imported "
                               f"in the runner process: {_describe(error)}") from error
        register_func(name, function, override=True)


class RunnerState:
    """What the runner process keeps between candidates: per task, the inputs and the
    reference outputs."""

    def __init__(self, options: dict):
        self.options = options
        self.tasks: dict = {}
        self._flush = None

    # -- tasks ---------------------------------------------------------------------------
    def prepare(self, task_id: str, specs: list, seed: int, target: str, artifact,
                cache_path: str, functions: dict | None = None) -> dict:
        install_functions(functions or {})
        inputs = {k: self._placed(array) for k, array in task_inputs(specs, seed).items()}
        if cache_path and os.path.exists(cache_path):
            with np.load(cache_path) as data:
                expected = {int(name[3:]): data[name] for name in data.files}
            seconds = 0.0
        else:
            module = load_artifact(artifact, target)
            arrays = [inputs[k] if k in inputs else
                      self._placed(empty_output(spec[1], spec[2]))
                      for k, spec in enumerate(specs)]
            start = time.perf_counter()
            module(*arrays)
            seconds = time.perf_counter() - start
            expected = {k: arrays[k] for k, spec in enumerate(specs) if spec[3]}
            if cache_path:
                temp = cache_path + f".{os.getpid()}.tmp.npz"
                np.savez(temp, **{f"out{k}": v for k, v in expected.items()})
                os.replace(temp, cache_path)
        pristine = {k: v.copy() for k, v in inputs.items()}
        self.tasks[task_id] = {"specs": specs, "inputs": inputs, "pristine": pristine,
                               "expected": expected, "target": target}
        return {"ok": True, "seconds": seconds}

    def _placed(self, array: np.ndarray) -> np.ndarray:
        """``array`` where the options place every array (see ``array_offset``)."""
        offset = self.options.get("array_offset")
        return array if offset is None else placed(array, offset)

    # -- one candidate ---------------------------------------------------------------------
    def _checked_caller(self, task, artifact, config_json):
        """``(caller, seconds of its first call, None)`` for a candidate that ran once and
        matched the reference, else ``(None, None, failure reply)``."""
        specs = task["specs"]
        try:
            module = load_artifact(artifact, task["target"])
        except Exception as error:  # noqa: BLE001
            return None, None, {"error_kind": "build_error", "error_msg": _describe(error)}
        arrays = [task["inputs"][k] if k in task["inputs"] else
                  self._placed(empty_output(spec[1], spec[2]))
                  for k, spec in enumerate(specs)]
        caller = _Caller(module, arrays)
        try:
            start = time.perf_counter()
            caller.first_call()
            first = time.perf_counter() - start
        except Exception as error:  # noqa: BLE001 - the candidate's failure is its record
            return None, None, {"error_kind": "runtime_error", "error_msg": _describe(error)}
        hook = self.options.get("fault_hook")
        if hook is not None:
            hook(config_json, [a for a, spec in zip(arrays, specs) if spec[3]])
        problem = self._check(task, arrays)
        if problem is not None:
            return None, None, {"error_kind": "wrong_result", "error_msg": problem}
        return caller, first, None

    def run(self, task_id: str, artifact, config_json, best_time) -> dict:
        caller, first, failure = self._checked_caller(self.tasks[task_id], artifact,
                                                      config_json)
        if failure is not None:
            return failure
        return {"costs": self._time(caller, first, best_time)}

    def retime(self, task_id: str, artifacts: list, config_jsons: list, span: float) -> dict:
        """Check each candidate once more, then time those that pass in turns (one sample
        of each, then the next round of samples) for ``span`` seconds and at least
        ``min_repeats`` turns, so that all see the same machine load."""
        task, options = self.tasks[task_id], self.options
        results: list[dict] = []
        ready = []
        for artifact, config_json in zip(artifacts, config_jsons):
            caller, _, failure = self._checked_caller(task, artifact, config_json)
            results.append(failure or {"costs": []})
            if caller is not None:
                ready.append((caller, results[-1]["costs"]))
        flush = options["flush_cache"]
        numbers = []
        for caller, _ in ready:
            per_call = caller.sample(3)  # also warms the candidate up
            numbers.append(1 if flush else
                           calls_per_sample(per_call, options["min_sample_seconds"]))
        clock = time.perf_counter
        end = clock() + span
        turns = 0
        while ready and (turns < options["min_repeats"] or clock() < end):
            for (caller, costs), number in zip(ready, numbers):
                if flush:
                    self._flush_cache()
                costs.append(caller.sample(number))
            turns += 1
        return {"results": results}

    def _check(self, task, arrays) -> str | None:
        for k, (name, _, dtype, is_output, _) in enumerate(task["specs"]):
            if is_output:
                problem = compare(arrays[k], task["expected"][k], name, dtype)
                if problem:
                    return problem
            elif not np.array_equal(arrays[k], task["pristine"][k], equal_nan=True):
                task["inputs"][k][...] = task["pristine"][k]
                return f"the candidate wrote into its input '{name}'"
        return None

    def _time(self, caller, first: float, best_time) -> list[float]:
        """Seconds per call: after the checked call (the warm-up), samples until both a
        minimum number of samples and a minimum measuring time are reached."""
        options = self.options
        if best_time and first > max(options["slow_factor"] * best_time,
                                     options["min_measure_seconds"]):
            return [first]  # far slower than the best: one sample says enough
        for _ in range(options["warmup"]):
            caller()
        flush = options["flush_cache"]
        number = 1 if flush else calls_per_sample(first, options["min_sample_seconds"])
        costs: list[float] = []
        clock = time.perf_counter
        total_start = clock()
        while len(costs) < options["max_repeats"]:
            if flush:
                self._flush_cache()
            costs.append(caller.sample(number))
            if len(costs) >= options["min_repeats"] and \
                    clock() - total_start >= options["min_measure_seconds"]:
                break
        return costs

    def _flush_cache(self) -> None:
        if self._flush is None:
            self._flush = np.zeros(2 * _cache_size() // 8, dtype=np.float64)
        self._flush += 1.0


def runner_main(connection, options: dict) -> None:
    """The runner process: answer requests until told to stop or the pipe closes."""
    from ..target.llvm import build  # noqa: F401 - import before the first request
    watch_parent(options["parent_pid"])
    state = RunnerState(options)
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        kind = request[0]
        if kind == "stop":
            return
        try:
            if kind == "prepare":
                reply = state.prepare(*request[1:])
            elif kind == "run":
                reply = state.run(*request[1:])
            elif kind == "retime":
                reply = state.retime(*request[1:])
            elif kind == "ping":
                reply = {"ok": True, "pid": os.getpid()}
            else:
                reply = {"error_kind": "runtime_error", "error_msg": f"unknown request {kind}"}
        except Exception as error:  # noqa: BLE001 - reported to the tuning process
            reply = {"error_kind": "runtime_error", "error_msg": _describe(error),
                     "traceback": traceback.format_exc()}
        connection.send(reply)


def crash_now() -> None:
    """Dereference a null pointer (used to check that crashes are contained)."""
    ctypes.string_at(0)
