"""A compiled CPU function callable on numpy arrays (API.md section 3).

>>> mod = tl.build(s, [A, B, C], target="llvm")
>>> mod(a, b, c)                 # arguments checked, outputs written in place
>>> mod.time(a, b, c)            # seconds per call
>>> print(mod.get_source("ll"))  # optimised LLVM IR ("asm": assembly)
>>> mod.export_library("matmul.so")

Calls go through ctypes, which releases the GIL while compiled code runs.
"""
from __future__ import annotations

import contextlib
import ctypes
import time as _time
from dataclasses import dataclass

from ...errors import BuildError, TensorLangValueError
from ..target import Target
from .buffers import (CTX_BUFFER, CTX_DIM, CTX_EXTENT, CTX_INDEX, CTX_SIZE,
                      CTX_STATUS, CTX_THREADS, STATUS_CALL_FAILED, STATUS_NO_MEMORY,
                      STATUS_OUT_OF_BOUNDS)
from .export import export_library, read_library
from .jit import JitLibrary, emit_assembly, target_machine
from .packed_calls import calls_enabled, prepare
from .runtime import num_threads
from .signature import Signature, write_back

#: the per-call context the compiled function reads its thread count from and reports
#: errors into
Context = ctypes.c_int64 * CTX_SIZE


def new_context() -> "Context":
    """A call context with the thread count of ``TL_NUM_THREADS`` (else every core)."""
    context = Context()
    context[CTX_THREADS] = num_threads()
    return context


@dataclass(frozen=True)
class Artifact:
    """Compiled code that another process can load with :func:`load_artifact` (no
    linking, no disk): object code, the signature as JSON, the target it is for."""
    object_code: bytes
    signature_json: dict
    triple: str
    cpu: str
    features: str
    ir_text: str | None = None

    @property
    def target_info(self) -> tuple:
        return (self.triple, self.cpu, self.features)


def load_object_code(signature: Signature, object_code: bytes, ir_text,
                     target_info) -> "Module":
    """A Module running ``object_code`` (``ir_text``: str, a callable producing it, or
    None; ``target_info``: (triple, cpu, features))."""
    library = JitLibrary(object_code, *target_info)
    address = library.address_of(signature.symbol)
    return Module(signature, address, library, object_code=object_code, ir_text=ir_text,
                  target_info=target_info)


def load_artifact(artifact: Artifact) -> "Module":
    """The Module of :meth:`Module.artifact`'s result, in this process."""
    return load_object_code(Signature.from_json(artifact.signature_json),
                            artifact.object_code, artifact.ir_text, artifact.target_info)


def load_module(path: str) -> "Module":
    """Load a library written by ``Module.export_library`` as a callable Module."""
    library, signature, ir_text, address = read_library(path)
    host = Target("llvm")
    return Module(signature, address, library, object_code=None, ir_text=ir_text,
                  target_info=(host.triple, host.mcpu, ",".join(host.mattr)))


class Module:
    """A function compiled for the CPU.

    Built by :func:`tensorlang.target.llvm.build` or loaded by
    :func:`tensorlang.target.llvm.load_module`; not constructed directly.
    """

    type_key = "llvm"

    def __init__(self, signature: Signature, address: int, keep_alive, *,
                 object_code: bytes | None = None, ir_text=None, target_info=None):
        self.signature = signature
        self._keep_alive = keep_alive
        self._object_code = object_code
        self._ir_source = ir_text  # str, or a callable producing it on first use
        self._target_info = target_info  # (triple, cpu, features) for assembly
        arg_types = [ctypes.c_void_p] * (signature.num_buffers + 2)
        self._function = ctypes.CFUNCTYPE(ctypes.c_int32, *arg_types)(address)
        #: the call sites of registered functions (tir.call_packed), if any
        self._packed_calls = prepare(signature.packed_calls)

    @property
    def entry_name(self) -> str:
        """Symbol of the compiled entry point."""
        return self.signature.symbol

    def __repr__(self) -> str:
        return f"Module(llvm, {self.entry_name}({self.signature.describe()}))"

    # -- calling -----------------------------------------------------------------------
    def __call__(self, *args) -> None:
        """Run on numpy arrays (outputs are written in place) and scalars."""
        # ``temporaries`` holds the copies the pointers may point into: alive until here
        pointers, scalars, temporaries = self.signature.pack(args)
        context = Context()
        context[CTX_THREADS] = num_threads()
        if self._packed_calls:
            with calls_enabled(context, self._packed_calls) as calls:
                status = self._function(*pointers, scalars, context)
        else:
            calls, status = None, self._function(*pointers, scalars, context)
        write_back(temporaries)
        if status:
            self._raise_status(status, context, calls)

    def time(self, *args, number: int = 10, repeat: int = 3) -> float:
        """Seconds per call: the mean over ``number`` calls, the minimum over ``repeat``
        such measurements (arguments are checked once, before timing)."""
        if number < 1 or repeat < 1:
            raise TensorLangValueError(f"time(number={number}, repeat={repeat}): both must "
                                       f"be at least 1")
        pointers, scalars, temporaries = self.signature.pack(args)
        context = new_context()
        with contextlib.ExitStack() as stack:
            calls = stack.enter_context(calls_enabled(context, self._packed_calls)) \
                if self._packed_calls else None
            best = self._time_calls((*pointers, scalars, context), number, repeat, calls)
        write_back(temporaries)
        return best

    def _time_calls(self, call_args, number: int, repeat: int, calls) -> float:
        function, context = self._function, call_args[-1]
        status = function(*call_args)  # warm-up: page faults, thread start-up
        if status:
            self._raise_status(status, context, calls)
        best = float("inf")
        clock = _time.perf_counter
        for _ in range(repeat):
            start = clock()
            for _ in range(number):
                function(*call_args)
            best = min(best, (clock() - start) / number)
        if calls is not None and context[CTX_STATUS]:
            self._raise_status(context[CTX_STATUS], context, calls)
        return best

    def _raise_status(self, status: int, context, calls=None) -> None:
        if context[CTX_STATUS] == STATUS_CALL_FAILED and calls is not None and \
                calls.error is not None:
            raise calls.error   # names the function called (ExternCallError)
        names = self.signature.buffer_names
        buffer_id = context[CTX_BUFFER]
        name = names[buffer_id] if 0 <= buffer_id < len(names) else f"#{buffer_id}"
        if context[CTX_STATUS] == STATUS_OUT_OF_BOUNDS:
            raise IndexError(
                f"{self.entry_name}: index {context[CTX_INDEX]} is out of bounds for "
                f"dimension {context[CTX_DIM]} of buffer '{name}' with extent "
                f"{context[CTX_EXTENT]}")
        if context[CTX_STATUS] == STATUS_NO_MEMORY:
            raise MemoryError(f"{self.entry_name}: could not allocate {context[CTX_INDEX]} "
                              f"bytes for buffer '{name}'")
        raise RuntimeError(f"{self.entry_name} failed with status {status}")

    def artifact(self, with_ir: bool = False) -> Artifact:
        """The compiled code as an :class:`Artifact` (``with_ir``: with the LLVM IR)."""
        if self._object_code is None:
            raise TensorLangValueError(f"module '{self.entry_name}' was loaded from a shared "
                                       f"library and has no object code")
        ir_text = self.get_source("ll") if with_ir else None
        return Artifact(self._object_code, self.signature.to_json(), *self._target_info,
                        ir_text=ir_text)

    # -- inspection ----------------------------------------------------------------------
    def get_source(self, fmt: str = "ll") -> str:
        """The optimised LLVM IR (``"ll"``) or the assembly (``"asm"``/``"s"``)."""
        if fmt not in ("ll", "llvm", "asm", "s"):
            raise TensorLangValueError(f"get_source({fmt!r}): the llvm module has sources "
                                       f"\"ll\" and \"asm\"")
        if callable(self._ir_source):
            self._ir_source = self._ir_source()
        if self._ir_source is None:
            raise TensorLangValueError(f"module '{self.entry_name}' was loaded without its "
                                       f"LLVM IR, so it has no {fmt!r} source")
        if fmt in ("ll", "llvm"):
            return self._ir_source
        triple, cpu, features = self._target_info
        return emit_assembly(self._ir_source, target_machine(triple, cpu, features))

    def export_library(self, path: str) -> None:
        """Write a shared library loadable by :func:`tensorlang.target.llvm.load_module`
        (or any C program: the entry point is ``int32 <name>(...)``)."""
        if self._object_code is None:
            raise TensorLangValueError(f"module '{self.entry_name}' was loaded from a shared "
                                       f"library; copy that file instead of exporting it")
        if self._packed_calls:
            names = ", ".join(dict.fromkeys(f"'{c.name}'" for c in self._packed_calls))
            raise BuildError(f"module '{self.entry_name}' calls the registered Python "
                             f"function(s) {names} (te.extern / tir.call_packed), which a "
                             f"shared library cannot reach: call the module in this process, "
                             f"or compute those stages with te.compute to export it")
        export_library(self, path)
