"""``build``: a lowered PrimFunc to a callable CPU :class:`Module`.

The steps, in order: look the function up in the compile cache; on a miss run the
code-generation preparation passes (``pipeline.llvm_passes``), generate LLVM IR,
optimise it at O3 with the new pass manager, emit position-independent object code,
store it in the cache; finally load the object code into the process.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ... import pipeline
from ...errors import BuildError, TensorLangValueError
from ...tir import stmt as S
from ...tir.structural import structural_hash
from ..target import Target, backend_target
from . import cache
from .codegen import CodeGenLLVM
from .jit import add_function_attributes, compile_ir, function_attributes, target_machine
from .module import Module, load_object_code
from .signature import Signature


@dataclass(frozen=True)
class BuildOptions:
    """Options of an llvm build.

    ``bounds_check``: every buffer access checks its index and the call raises
    ``IndexError`` instead of touching memory out of bounds (slower).
    ``opt_level``: LLVM optimisation level 0-3.  ``use_cache``: read and write the
    on-disk compile cache."""
    bounds_check: bool = False
    opt_level: int = 3
    use_cache: bool = True

    def key(self) -> str:
        """Every option that can change the compiled code (all but ``use_cache``)."""
        return " ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)
                        if f.name != "use_cache")


def make_options(options=None, **overrides) -> BuildOptions:
    """BuildOptions from an instance, a dict, keyword arguments, or nothing."""
    if options is None:
        options = BuildOptions()
    elif isinstance(options, dict):
        overrides = {**options, **overrides}
        options = BuildOptions()
    elif not isinstance(options, BuildOptions):
        raise TensorLangValueError(f"build options must be a BuildOptions or a dict, got "
                                   f"{type(options).__name__}")
    known = {f.name for f in dataclasses.fields(BuildOptions)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TensorLangValueError(f"unknown llvm build option(s) {unknown}; known: "
                                   f"{sorted(known)}")
    options = dataclasses.replace(options, **overrides)
    if options.opt_level not in (0, 1, 2, 3):
        raise TensorLangValueError(f"opt_level={options.opt_level} must be 0, 1, 2 or 3")
    return options


def prepare_for_codegen(func: S.PrimFunc, intrinsics_lowered: bool = False) -> S.PrimFunc:
    """``func`` through ``pipeline.llvm_passes``: vector code for vectorized loops,
    unrolled loops, simplified (``intrinsics_lowered``: the first of them, the
    intrinsics' lowering rules, already ran on ``func``)."""
    passes = pipeline.llvm_passes
    if intrinsics_lowered:
        passes = [p for p in passes if p is not pipeline.lower_intrinsics_llvm]
    return pipeline.PassRunner(label="tl.build llvm").run_all(passes, func)


def _ir_key(func: S.PrimFunc) -> str:
    """The structural hash of the function's IR with the names of its variables and
    buffers, which the compiled code shows (symbols, IR text, error messages)."""
    return structural_hash(func, names=True)


def build(func: S.PrimFunc, target: Target | str | None = None, options=None,
          **option_values) -> Module:
    """Compile ``func`` (a lowered PrimFunc) for the CPU ``target`` (default: host).

    >>> mod = build(func, "llvm", bounds_check=True)
    >>> mod(a, b, c)
    """
    target = backend_target(func, target, "llvm", "llvm", TensorLangValueError)
    if not target.is_host:
        raise BuildError(f"target '{target}' names another machine (-mtriple); only the "
                         f"host can run compiled code")
    options = make_options(options, **option_values)
    triple, cpu, features = target.triple, target.mcpu, ",".join(target.mattr)

    key = None
    if options.use_cache:
        # keyed by the IR after the intrinsics' lowering rules: a changed rule compiles
        # anew; the lowered function goes on to code generation (the rules run once)
        func = pipeline.PassRunner(label="tl.build llvm")(pipeline.lower_intrinsics_llvm,
                                                          func)
        key = cache.make_key(_ir_key(func), target.cache_key(), options.key())
        entry = cache.load(key)
        if entry is not None:
            object_code, header, ir_text = entry
            signature = Signature.from_json(header["signature"])
            return load_object_code(signature, object_code, ir_text, (triple, cpu, features))

    prepared = prepare_for_codegen(func, intrinsics_lowered=options.use_cache)
    generator = CodeGenLLVM(target, bounds_check=options.bounds_check)
    ir_module, signature = generator.generate(prepared)
    attributes = function_attributes(cpu, features, target.vector_bits)
    ir_text = add_function_attributes(str(ir_module), attributes)
    machine = target_machine(triple, cpu, features, options.opt_level)
    object_code, optimised = compile_ir(ir_text, machine, options.opt_level)
    if key is not None:
        cache.store(key, object_code, {"signature": signature.to_json()}, optimised)
    return load_object_code(signature, object_code, optimised, (triple, cpu, features))

