"""From LLVM IR text to machine code in memory: the target machine of a Target, the O3
pipeline of LLVM's new pass manager, object emission, and loading objects into MCJIT.

Objects are emitted position independent, so the same bytes serve the JIT, the on-disk
compile cache and ``export_library``.
"""
from __future__ import annotations

import functools
import os
import re
import threading

import llvmlite.binding as llvm

from ...errors import BuildError, InternalError
from .runtime import ensure_runtime_loaded

_LOCK = threading.Lock()


@functools.lru_cache(maxsize=None)
def _initialise() -> None:
    # llvmlite 0.50 initialises LLVM itself; only the native target must be registered
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@functools.lru_cache(maxsize=16)
def target_machine(triple: str, cpu: str, features: str, opt_level: int = 3):
    """A cached TargetMachine for the given CPU (PIC, so objects can go in a .so)."""
    return new_target_machine(triple, cpu, features, opt_level)


def new_target_machine(triple: str, cpu: str, features: str, opt_level: int = 3):
    """A TargetMachine of its own (an execution engine takes ownership of the one it
    is given, so each JIT library needs a fresh one)."""
    _initialise()
    try:
        target = llvm.Target.from_triple(triple)
    except RuntimeError as error:
        raise BuildError(f"LLVM does not know the target triple {triple!r}: {error}") from None
    return target.create_target_machine(cpu=cpu, features=features, opt=opt_level,
                                        reloc="pic", codemodel="default")


def function_attributes(cpu: str, features: str, vector_bits: int) -> str:
    """String attributes every generated function carries: the CPU and its features, and
    the full vector width (LLVM prefers 256-bit vectors on AVX-512 machines otherwise)."""
    attrs = [f'"target-cpu"="{cpu}"']
    if features:
        attrs.append(f'"target-features"="{features}"')
    attrs.append(f'"prefer-vector-width"="{vector_bits}"')
    attrs.append('"min-legal-vector-width"="0"')
    return " ".join(attrs)


_DEFINE_LINE = re.compile(r"^(define [^\n]*)$", re.MULTILINE)


def add_function_attributes(ir_text: str, attributes: str) -> str:
    """Append ``attributes`` to every function definition of the textual module."""
    return _DEFINE_LINE.sub(lambda m: f"{m.group(1)} {attributes}", ir_text)


def compile_ir(ir_text: str, machine, opt_level: int = 3) -> tuple[bytes, str]:
    """Parse, verify, optimise and compile LLVM IR; returns (object code, optimised IR)."""
    _initialise()
    with _LOCK:  # LLVM's global context is not safe to use from two threads at once
        try:
            module = llvm.parse_assembly(ir_text)
            module.verify()
        except RuntimeError as error:
            raise InternalError(f"the generated LLVM IR is invalid: {error}") from None
        module = _optimise(module, ir_text, machine, opt_level)
        optimised = str(module)  # before object emission rewrites the module in place
        return machine.emit_object(module), optimised


#: pass switches tried in turn (loop vectorizer, SLP vectorizer, loop unroller) when the
#: optimised module fails verification: LLVM's O3 pipeline has been seen to turn valid
#: input into invalid IR (a use before its definition) with all three on, and object
#: emission then aborts the process
_FALLBACK_PIPELINES = ((True, False, True), (False, False, True), (False, False, False))


def _optimise(module, ir_text: str, machine, opt_level: int):
    """``module`` optimised at ``opt_level``, verified (the caller holds the lock)."""
    vectorize = opt_level >= 2
    pipelines = ((vectorize, vectorize, vectorize),) + (_FALLBACK_PIPELINES if vectorize
                                                        else ())
    for loop_vectorize, slp_vectorize, unroll in pipelines:
        if module is None:  # a fresh copy: the failed pipeline changed the last one
            module = llvm.parse_assembly(ir_text)
        module.triple = machine.triple
        module.data_layout = str(machine.target_data)
        options = llvm.create_pipeline_tuning_options(speed_level=opt_level)
        options.loop_vectorization = loop_vectorize
        options.slp_vectorization = slp_vectorize
        options.loop_unrolling = unroll
        builder = llvm.create_pass_builder(machine, options)
        builder.getModulePassManager().run(module, builder)
        try:
            module.verify()
            return module
        except RuntimeError as error:
            failure = error
            module = None
    raise InternalError(f"LLVM's optimiser produced invalid IR: {failure}")


def emit_assembly(ir_text: str, machine) -> str:
    """Assembly text of (already optimised) LLVM IR."""
    _initialise()
    with _LOCK:
        module = llvm.parse_assembly(ir_text)
        module.triple = machine.triple
        module.data_layout = str(machine.target_data)
        return machine.emit_assembly(module)


#: iterations an idle libgomp worker polls for the next parallel loop before it sleeps;
#: libgomp's default (300000, about a millisecond) makes idle workers compete for the
#: cores with whatever runs next -- numpy's BLAS threads, other processes -- and on a
#: busy 2-core machine parallel loops ran up to 5x slower than with this value, while
#: back-to-back launches still find the workers awake
GOMP_SPIN_COUNT = "10000"


def _default_gomp_spinning() -> None:
    """Shorten libgomp's busy-waiting unless the user chose a policy.  libgomp reads
    these variables when it is loaded, so this runs before the runtime is loaded."""
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = GOMP_SPIN_COUNT


class JitLibrary:
    """Machine code loaded into this process; keeps it alive while referenced."""

    def __init__(self, object_code: bytes, triple: str, cpu: str, features: str):
        _initialise()
        _default_gomp_spinning()
        ensure_runtime_loaded()
        machine = new_target_machine(triple, cpu, features)
        with _LOCK:
            empty = llvm.parse_assembly("")
            empty.triple = machine.triple
            self._engine = llvm.create_mcjit_compiler(empty, machine)
            self._engine.add_object_file(llvm.ObjectFileRef.from_data(object_code))
            self._engine.finalize_object()

    def address_of(self, symbol: str) -> int:
        with _LOCK:
            address = self._engine.get_function_address(symbol)
        if not address:
            raise InternalError(f"compiled code has no function named {symbol!r}")
        return address
