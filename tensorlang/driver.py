"""``tl.lower``: the one place that lists the lowering passes, in order; ``tl.build``:
lowering followed by a backend.

Each backend then shapes the lowered function for its code generator, in the one function
that starts its build: llvm (``target/llvm/build.py``: vectorize_loops, unroll_loops,
simplify), cuda (``target/cuda/runtime.py``: vectorize and unroll, cross-thread
reductions, ``__syncthreads`` insertion, kernel splitting).

Set ``TL_DUMP_IR=1`` to print the IR after each pass that changed it, ``TL_TIME_PASSES=1``
to print how long each pass took.  The environment is read once, here, into
:class:`LowerOptions`.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

from .errors import LoweringError
from .schedule import Schedule, schedule_to_tir
from .te.graph import default_parameters
from .tir.stmt import PrimFunc
from .tir.transform.loop_partition import partition_loops
from .tir.transform.remove_no_op import remove_no_op
from .tir.transform.simplify import simplify


@dataclass(frozen=True)
class LowerOptions:
    """How ``lower`` reports on its work."""
    dump_ir: bool = False
    time_passes: bool = False

    @staticmethod
    def from_environment() -> "LowerOptions":
        def flag(name):
            return os.environ.get(name, "") not in ("", "0", "false", "False")
        return LowerOptions(dump_ir=flag("TL_DUMP_IR"), time_passes=flag("TL_TIME_PASSES"))


class _PassRunner:
    """Runs one pass, printing and timing it as the options ask."""

    def __init__(self, options: LowerOptions):
        self.options = options

    def __call__(self, fn, func: PrimFunc) -> PrimFunc:
        start = time.perf_counter()
        result = fn(func)
        elapsed = time.perf_counter() - start
        name = getattr(fn, "__name__", repr(fn))
        if self.options.time_passes:
            print(f"[tl.lower] {name}: {elapsed * 1e3:.3f} ms", file=sys.stderr)
        if self.options.dump_ir:
            if result is func:
                print(f"# after {name}: unchanged", file=sys.stderr)
            else:
                print(f"# after {name}:\n{result.script()}", file=sys.stderr)
        return result


def lower(sch_or_func, args=None, name: str = "main", simple_mode: bool = False,
          options: LowerOptions | None = None) -> PrimFunc:
    """Lower a schedule (or run the passes on a PrimFunc): ``print(tl.lower(s, [A, B, C]))``.

    ``args`` lists the tensors (and scalar ``te.var``s) that become parameters, in order;
    by default the placeholders in the order they were created, then the outputs (see
    :func:`default_args`).  ``simple_mode`` skips loop partitioning, for compact text.
    """
    _check_name(name)
    options = options or LowerOptions.from_environment()
    run = _PassRunner(options)

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
    # The pipeline, in order:
    func = run(simplify, func)             # fold constants, simplify indices and guards
    if not simple_mode:
        func = run(partition_loops, func)  # peel tails so main bodies carry no guard
        func = run(simplify, func)         # clean the peeled copies
    func = run(remove_no_op, func)         # drop empty loops and branches
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
    outputs = [t for op in schedule._initial_outputs for t in op.outputs]
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
    from .target import build as build_for_target
    _check_name(name)
    if isinstance(sch_or_func, Schedule):
        # the tuning records apply only when the autotuner is loaded and a context is on
        dispatch = sys.modules.get("tensorlang.autotune.dispatch")
        if dispatch is not None:
            sch_or_func, args = dispatch.tuned_schedule(sch_or_func, args, str(target))
        func = lower(sch_or_func, args, name=name)
    elif isinstance(sch_or_func, PrimFunc):
        if args is not None:
            raise LoweringError("build: args are taken from the PrimFunc's parameters; pass "
                                "args only with a Schedule")
        func = sch_or_func
    else:
        raise LoweringError(f"build: expected a Schedule (with args) or a PrimFunc from "
                            f"tl.lower, got {type(sch_or_func).__name__}")
    return build_for_target(func, target, **options)
