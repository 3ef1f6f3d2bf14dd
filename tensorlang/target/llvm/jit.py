"""From LLVM IR text to machine code in memory: the target machine of a Target, the O3
pipeline of LLVM's new pass manager, object emission, and loading objects into MCJIT.

Objects are emitted position independent, so the same bytes serve the JIT, the on-disk
compile cache and ``export_library``.
"""
from __future__ import annotations

import functools
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
        module.triple = machine.triple
        module.data_layout = str(machine.target_data)
        options = llvm.create_pipeline_tuning_options(speed_level=opt_level)
        options.loop_vectorization = opt_level >= 2
        options.slp_vectorization = opt_level >= 2
        options.loop_unrolling = opt_level >= 2
        builder = llvm.create_pass_builder(machine, options)
        builder.getModulePassManager().run(module, builder)
        optimised = str(module)  # before object emission rewrites the module in place
        return machine.emit_object(module), optimised


def emit_assembly(ir_text: str, machine) -> str:
    """Assembly text of (already optimised) LLVM IR."""
    _initialise()
    with _LOCK:
        module = llvm.parse_assembly(ir_text)
        module.triple = machine.triple
        module.data_layout = str(machine.target_data)
        return machine.emit_assembly(module)


class JitLibrary:
    """Machine code loaded into this process; keeps it alive while referenced."""

    def __init__(self, object_code: bytes, triple: str, cpu: str, features: str):
        _initialise()
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
