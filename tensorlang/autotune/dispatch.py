"""Using tuning results: the best recorded schedule of a workload, looked up in logs.

>>> with tl.autotune.apply_history_best("matmul.jsonl"):
...     s, args = tl.autotune.best_schedule(C, "llvm")
...     mod = tl.autotune.build(C, "llvm")        # tl.build of the best schedule
...     mod = tl.build(tl.create_schedule(C), [A, B, C])   # the same: C is tuned

Inside a context, ``tl.build`` of a schedule no step has touched builds the best record
of its workload instead; a schedule with steps is the user's choice and is built as
given.  A workload with no valid record in the logs gets its default schedule and a
:class:`TuneWarning` naming it, never a silent fallback.
"""
from __future__ import annotations

import os
import threading
import warnings

from ..driver import build as build_schedule
from ..errors import ScheduleError, TensorLangError, TuneError
from ..pipeline import pop_schedule_substitution, push_schedule_substitution
from ..schedule import create_schedule, replay
from ..target import Target
from ..te.graph import Operation, Tensor, default_parameters
from .flops import count_flops
from .record import RecordLog, normalize_target, record_config
from .record_check import RecordCheck
from .tune_warnings import TuneWarning
from .workload import resolve_parameter_refs, workload_key
from .workload_space import check_target, make_space

_STATE = threading.local()


def _stack() -> list:
    if not hasattr(_STATE, "stack"):
        _STATE.stack = []
    return _STATE.stack


class ApplyHistoryBest:
    """Context manager making the records of ``log_files`` (one path or several) the
    source of :func:`best_schedule`; contexts nest, the innermost is asked first."""

    def __init__(self, log_files):
        paths = [log_files] if isinstance(log_files, (str, os.PathLike)) else list(log_files)
        for path in paths:
            if not os.path.exists(path):
                raise TuneError(f"apply_history_best: no tuning log {os.fspath(path)!r}; "
                                f"tune first with tl.autotune(..., log_file=...)")
        self.logs = [RecordLog(path) for path in paths]

    def best(self, key: str, target: str, check=None):
        """The best valid record of workload ``key`` on ``target``, or None; records
        ``check`` finds wrong with (:class:`RecordCheck`) are skipped with a warning."""
        found = [log.best(key, target, check) for log in self.logs]
        found = [r for r in found if r is not None]
        return min(found, key=lambda r: r.median_cost) if found else None

    def __enter__(self):
        _stack().append(self)
        push_schedule_substitution(tuned_schedule)
        return self

    def __exit__(self, *exc):
        pop_schedule_substitution(tuned_schedule)
        _stack().remove(self)


def apply_history_best(log_files) -> ApplyHistoryBest:
    """``with tl.autotune.apply_history_best("matmul.jsonl"): ...``"""
    return ApplyHistoryBest(log_files)


def current_context() -> ApplyHistoryBest | None:
    """The innermost active :func:`apply_history_best` context, if any."""
    stack = _stack()
    return stack[-1] if stack else None


def _outputs(op) -> list[Tensor]:
    items = op if isinstance(op, (list, tuple)) else [op]
    tensors = []
    for item in items:
        tensors.extend(item.outputs if isinstance(item, Operation) else [item])
    return tensors


def default_args(outputs: list[Tensor]) -> list[Tensor]:
    """Placeholders in the order they were created, then the outputs: the parameter
    order of a workload tuned without an explicit ``params`` list."""
    return default_parameters(outputs)


def record_parameters(record, outputs: list[Tensor]) -> list[Tensor]:
    """The parameters, in order, that ``record``'s tuning was given (``params=``), as
    tensors of ``outputs``' computation; the default order where it was given none (or
    the record's list does not fit, with a :class:`TuneWarning`)."""
    refs = record.workload.get("params") if isinstance(record.workload, dict) else None
    if refs is None:
        return default_args(outputs)
    try:
        return resolve_parameter_refs(outputs, refs)
    except ValueError as error:
        warnings.warn(f"tuning record of workload '{'+'.join(t.name for t in outputs)}': "
                      f"its parameter order {refs!r} does not fit the workload ({error}); "
                      f"using the default order", TuneWarning, stacklevel=3)
        return default_args(outputs)


def best_schedule(op, target="llvm", log_file=None, shape_vars=None, args=()):
    """``(Schedule, tensors)``: the best recorded schedule of ``op`` (output tensors, or
    a template function with ``args``) on ``target``, from ``log_file`` or the active
    :func:`apply_history_best` contexts.  Without a record, the default schedule and a
    :class:`TuneWarning` naming the workload.

    ``tensors`` are the parameters in order: the list given when tuning
    (``tl.autotune(C, params=[...])``, a template's returned list), else the
    placeholders in the order they were created, then the outputs."""
    return _best_schedule(op, target, log_file, shape_vars, args, stacklevel=3)


def _best_schedule(op, target, log_file, shape_vars, args, stacklevel: int):
    """:func:`best_schedule`, its warning attributed ``stacklevel`` frames up."""
    target = normalize_target(str(_parse_target(target)))
    contexts = [ApplyHistoryBest(log_file)] if log_file is not None else \
        list(reversed(_stack()))
    if not contexts:
        raise TuneError("best_schedule: no tuning log; pass log_file=... or call it inside "
                        "`with tl.autotune.apply_history_best(log_file):`")
    template = callable(op) and not isinstance(op, (Tensor, Operation, list, tuple))
    if template:
        space = make_space(op, target, shape_vars, args)
        key, name, outputs = space.workload_key, getattr(op, "__name__", "template"), None
        check = RecordCheck(space, target, getattr(space, "flop", 0))
    else:
        outputs = _outputs(op)
        key, name = workload_key(outputs, shape_vars), "+".join(t.name for t in outputs)
        check = _record_check(outputs, key, target, shape_vars)
    record = None
    for context in contexts:
        record = context.best(key, target, check)
        if record is not None:
            break
    if record is None:
        logs = ", ".join(log.path for c in contexts for log in c.logs)
        warnings.warn(f"no tuning record for workload '{name}' (key {key}) on target "
                      f"'{target}' in {logs}; using the default schedule. Tune it with "
                      f"tl.autotune(...)", TuneWarning, stacklevel=stacklevel)
        if template:
            return space.reference()
        return create_schedule([t.op for t in outputs]), default_args(outputs)
    config = record_config(record)
    if template:
        return space.apply(config)
    params = record_parameters(record, outputs)
    try:
        schedule = replay(record.config.get("steps") or [], [t.op for t in outputs])
        return schedule, params
    except (ScheduleError, TensorLangError, KeyError, TypeError, ValueError):
        # the record was made on a rewritten definition: rebuild it through the space
        check_target(target)
        return make_space(outputs, target, shape_vars, params=params).apply(config)


#: the record check of each workload and target looked up so far (its space is built once)
_CHECKS: dict = {}


def _record_check(outputs: list, key: str, target: str, shape_vars) -> RecordCheck:
    """The :class:`RecordCheck` of a workload given by its output tensors: against its
    automatic search space (:func:`make_space`, as tuning builds it), or only the cost and
    form of records where that space cannot be built here (a CUDA target without a GPU)."""
    check = _CHECKS.get((key, target))
    if check is None:
        try:
            space = make_space(outputs, target, shape_vars)
        except TensorLangError:
            space = None
        check = RecordCheck(space, target, count_flops(outputs, shape_vars),
                            other_sketches=True)
        if len(_CHECKS) > 64:
            _CHECKS.clear()
        _CHECKS[(key, target)] = check
    return check


def tuned_schedule(schedule, args, target):
    """What ``tl.build(schedule, args, target)`` compiles inside an
    :func:`apply_history_best` context (the substitution the context pushes onto the
    pipeline's ``apply_tuning_records``): ``(schedule, args)`` of the best record of the
    workload of an unscheduled ``schedule`` (with a :class:`TuneWarning` and the schedule
    as given where there is none)."""
    if current_context() is None or schedule.steps:
        return schedule, args
    outputs = [t for op in schedule.initial_outputs for t in op.outputs]
    # the warning of an untuned workload points at the caller of tl.build (through
    # tl.build, its pass runner, its apply_tuning_records pass and the pipeline's function)
    best, tensors = _best_schedule(outputs, target, None, None, (), stacklevel=7)
    if not best.steps:
        return schedule, args
    ops = [t.op for t in tensors]
    if args is None or all(any(t.op is op for op in ops) for t in args
                           if isinstance(t, Tensor)):
        return best, args if args is not None else tensors
    # the record was rebuilt through its search space, on tensors of its own: match the
    # caller's parameters to them by name
    by_name = {t.name: t for t in tensors}
    names = [getattr(t, "name", None) for t in args]
    if all(isinstance(t, Tensor) for t in args) and all(n in by_name for n in names):
        return best, [by_name[n] for n in names]
    raise TuneError(f"tl.build: the best record of workload "
                    f"'{'+'.join(t.name for t in outputs)}' rewrites the computation into "
                    f"tensors {sorted(by_name)}, which do not match the parameters {names}; "
                    f"use tl.autotune.build(...) or best_schedule(...)'s tensors")


def build(op, target="llvm", log_file=None, shape_vars=None, args=(), name: str = "main"):
    """``tl.build`` of :func:`best_schedule` (a warning, and the default schedule, where
    the workload has no record)."""
    schedule, tensors = best_schedule(op, target, log_file, shape_vars, args)
    return build_schedule(schedule, tensors, target=target, name=name)


def _parse_target(target):
    return Target(target)
