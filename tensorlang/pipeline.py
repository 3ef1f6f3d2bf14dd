"""Every pass of the compiler, in order, and the one runner that runs them.

``lower_passes``: a schedule's loop nests (``tl.lower``); then each backend shapes the
function for its code generator: ``llvm_passes`` (``target/llvm/build.py``) and
``cuda_passes(options)`` (``target/cuda/build.py``).  Each pass is a named function
PrimFunc -> PrimFunc; passes that need the target's options are closures made here.

:class:`PassRunner` runs each of them: ``TL_DUMP_IR=1`` prints the IR after each pass,
``TL_TIME_PASSES=1`` how long it took, ``TL_VERIFY_IR=1`` (on under the tests) checks the
IR after each pass with :func:`~tensorlang.tir.verify.verify_well_formed` and raises
:class:`~tensorlang.errors.InternalError` naming the pass that broke it.

``tl.build`` first runs ``apply_tuning_records``: inside ``tl.autotune.apply_history_best``
the context has pushed a schedule substitution (:func:`push_schedule_substitution`), and
the schedule is replaced by the best recorded one.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from .errors import InternalError
from .settings import settings
from .tir.transform.split_kernels import split_kernels
from .tir.transform.cross_thread_reduction import lower_cross_thread_reduction
from .tir.transform.inject_syncthreads import inject_syncthreads
from .tir.intrin_rules import lower_intrinsics
from .tir.stmt import PrimFunc
from .tir.transform.loop_partition import partition_loops
from .tir.transform.remove_no_op import remove_no_op
from .tir.transform.simplify import simplify
from .tir.transform.unroll import unroll_loops
from .tir.transform.vectorize import vectorize_loops
from .tir.verify import verify_well_formed


# -- the pass lists ----------------------------------------------------------------------
def lower_passes(simple_mode: bool = False) -> list:
    """``tl.lower``, after ``schedule_to_tir``; ``simple_mode`` skips loop partitioning."""
    if simple_mode:
        return [simplify, remove_no_op]
    return [simplify,        # fold constants, simplify indices and guards
            partition_loops,  # peel tails so main bodies carry no guard
            simplify,        # clean the peeled copies
            remove_no_op]    # drop empty loops and branches


def vectorize_masked(func: PrimFunc) -> PrimFunc:
    """Vectorized loops to vector code; vector selects need no clamped loads (the llvm
    code generator masks each side's loads)."""
    return vectorize_loops(func, masked_selects=True)


def lower_intrinsics_llvm(func: PrimFunc) -> PrimFunc:
    """Intrinsic calls rewritten by the lowering rules registered for llvm."""
    return lower_intrinsics(func, "llvm")


def lower_intrinsics_cuda(func: PrimFunc) -> PrimFunc:
    """Intrinsic calls rewritten by the lowering rules registered for cuda."""
    return lower_intrinsics(func, "cuda")


#: before llvm code generation
llvm_passes = [lower_intrinsics_llvm, vectorize_masked, unroll_loops, simplify]


def cuda_passes(inject_sync: bool = True, limits=None) -> list:
    """Before CUDA code generation; the last pass splits the function into kernels
    (a ``DeviceProgram``) within ``limits``."""
    def split_into_kernels(func: PrimFunc):
        return split_kernels(func, limits)
    passes = [lower_intrinsics_cuda,         # users' rules for intrinsics (register_intrin)
              lower_cross_thread_reduction,  # across threadIdx: shared-memory trees
              vectorize_loops,               # Ramp accesses, float2/float4 where aligned
              unroll_loops,
              simplify]
    if inject_sync:
        passes.append(inject_syncthreads)     # __syncthreads between shared accesses
    return passes + [split_into_kernels]


# -- the runner --------------------------------------------------------------------------
@dataclass(frozen=True)
class LowerOptions:
    """How the passes report on their work; ``verify`` None follows ``TL_VERIFY_IR``."""
    dump_ir: bool = False
    time_passes: bool = False
    verify: bool | None = None

    @staticmethod
    def from_environment() -> "LowerOptions":
        return LowerOptions(dump_ir=settings.dump_ir, time_passes=settings.time_passes)


class PassRunner:
    """Runs passes, printing, timing and verifying each as the options ask."""

    def __init__(self, options: LowerOptions | None = None, label: str = "tl.lower"):
        self.options = options or LowerOptions.from_environment()
        self.verify = (settings.verify_passes if self.options.verify is None
                       else self.options.verify)
        self.label = label

    def __call__(self, fn, func):
        start = time.perf_counter()
        result = fn(func)
        elapsed = time.perf_counter() - start
        name = getattr(fn, "__name__", repr(fn))
        if self.options.time_passes:
            print(f"[{self.label}] {name}: {elapsed * 1e3:.3f} ms", file=sys.stderr)
        if self.options.dump_ir:
            if result is func:
                print(f"# after {name}: unchanged", file=sys.stderr)
            elif isinstance(result, PrimFunc):
                print(f"# after {name}:\n{result.script()}", file=sys.stderr)
            else:
                print(f"# after {name}: {type(result).__name__}", file=sys.stderr)
        if self.verify and isinstance(result, PrimFunc) and result is not func:
            problems = verify_well_formed(result)
            if problems:
                raise InternalError(f"pass {name} produced ill-formed IR:\n  "
                                    + "\n  ".join(problems))
        return result

    def run_all(self, passes, func):
        """``func`` through each of ``passes`` in order."""
        for fn in passes:
            func = self(fn, func)
        return func


# -- tuning records ----------------------------------------------------------------------
_STATE = threading.local()


def schedule_substitutions() -> list:
    """The substitutions pushed in this thread, innermost last."""
    if not hasattr(_STATE, "substitutions"):
        _STATE.substitutions = []
    return _STATE.substitutions


def push_schedule_substitution(substitute) -> None:
    """Make ``substitute(schedule, args, target) -> (schedule, args)`` what
    ``apply_tuning_records`` does in this thread, until it is popped."""
    schedule_substitutions().append(substitute)


def pop_schedule_substitution(substitute) -> None:
    """Undo the matching :func:`push_schedule_substitution`."""
    stack = schedule_substitutions()
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is substitute:
            del stack[i]
            return


def apply_tuning_records(schedule, args, target: str):
    """``(schedule, args)`` as the innermost substitution makes them (unchanged when no
    ``apply_history_best`` context is active)."""
    stack = schedule_substitutions()
    if not stack:
        return schedule, args
    return stack[-1](schedule, args, target)
