"""``tl.lower``: a schedule to loop IR through the lowering passes; ``tl.build``:
the tuning records, lowering, then a backend.  The passes themselves are listed in
:mod:`tensorlang.pipeline`, which also says how to print, time and verify them.
"""
from __future__ import annotations

from .errors import LoweringError
from .pipeline import LowerOptions, PassRunner, apply_tuning_records, lower_passes
from .schedule import Schedule, schedule_to_tir
from .target import build as build_for_target
from .te.graph import default_parameters
from .tir.stmt import PrimFunc

__all__ = ["LowerOptions", "build", "default_args", "lower"]


def lower(sch_or_func, args=None, name: str = "main", simple_mode: bool = False,
          options: LowerOptions | None = None) -> PrimFunc:
    """Lower a schedule (or run the passes on a PrimFunc): ``print(tl.lower(s, [A, B, C]))``.

    ``args`` lists the tensors (and scalar ``te.var``s) that become parameters, in order;
    by default the placeholders in the order they were created, then the outputs (see
    :func:`default_args`).  ``simple_mode`` skips loop partitioning, for compact text.
    """
    _check_name(name)
    run = PassRunner(options)

    if isinstance(sch_or_func, PrimFunc):
        func = sch_or_func
    elif isinstance(sch_or_func, Schedule):
        if args is None:
            args = default_args(sch_or_func)
        def schedule_to_tir_pass(_nothing):
            return schedule_to_tir(sch_or_func, args, name)
        schedule_to_tir_pass.__name__ = "schedule_to_tir"
        func = run(schedule_to_tir_pass, None)  # schedule -> loop nests
    else:
        raise LoweringError(f"lower: expected a Schedule or a PrimFunc, got "
                            f"{type(sch_or_func).__name__}")
    func = run.run_all(lower_passes(simple_mode), func)
    return func


def _check_name(name) -> None:
    """Function names become symbols of LLVM modules, shared objects and CUDA kernels."""
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise LoweringError(f"name={name!r}: a function name must be an ASCII identifier "
                            f"(letters, digits and underscores, not starting with a digit), "
                            f"e.g. name=\"matmul\"")


def default_args(schedule) -> list:
    """The parameters of ``schedule``'s function when no ``args`` are given: the
    placeholders in the order the user created them, then the outputs in the order
    ``create_schedule`` was given them.  For ``C = te.compute((8,), lambda i: B[i] -
    A[i])`` with ``A`` created first, the module is ``mod(a, b, c)``, whatever order the
    expression reads them in."""
    outputs = [t for op in schedule.initial_outputs for t in op.outputs]
    return default_parameters(outputs)


def build(sch_or_func, args=None, target="llvm", name: str = "main", **options):
    """Lower (when given a schedule) and compile for ``target``:
    ``mod = tl.build(s, [A, B, C], target="llvm", name="matmul")``.

    ``sch_or_func`` is a Schedule (lowered here with ``args``: the parameters in order,
    by default the placeholders in the order they were created, then the outputs) or a
    PrimFunc from ``tl.lower``.  ``target`` is a string (``"llvm"``,
    ``"llvm -mcpu=..."``, ``"cuda"``) or a :class:`~tensorlang.target.Target`;
    ``options`` go to the backend (llvm: ``bounds_check``, ``opt_level``,
    ``use_cache``).

    Inside ``with tl.autotune.apply_history_best(log):``, a schedule no step has touched
    is replaced by the best recorded schedule of its workload for ``target`` (a
    ``TuneWarning`` where the log has none).
    """
    _check_name(name)
    if isinstance(sch_or_func, Schedule):
        schedule = sch_or_func
        def apply_tuning_records_pass(given):
            tuned = apply_tuning_records(*given, str(target))
            return given if tuned[0] is given[0] and tuned[1] is given[1] else tuned
        apply_tuning_records_pass.__name__ = "apply_tuning_records"
        schedule, args = PassRunner(label="tl.build")(apply_tuning_records_pass,
                                                      (schedule, args))
        func = lower(schedule, args, name=name)
    elif isinstance(sch_or_func, PrimFunc):
        if args is not None:
            raise LoweringError("build: args are taken from the PrimFunc's parameters; pass "
                                "args only with a Schedule")
        func = sch_or_func
    else:
        raise LoweringError(f"build: expected a Schedule (with args) or a PrimFunc from "
                            f"tl.lower, got {type(sch_or_func).__name__}")
    return build_for_target(func, target, **options)
