"""The CUDA build: a lowered, thread-bound PrimFunc through ``pipeline.cuda_passes`` to
CUDA C, as a :class:`~tensorlang.target.cuda.runtime.CudaModule`.

>>> mod = build(func, "cuda")
>>> print(mod.get_source("cuda"))
"""
from __future__ import annotations

from dataclasses import dataclass

from ... import pipeline
from ...errors import BuildError
from ...tir.packed import called_names
from ...tir.stmt import PrimFunc
from ..target import Target, backend_target
from .codegen import CudaCodegen, FastMathCudaCodegen, generate_cuda
from ...tir.transform.split_kernels import DEFAULT_MAX_SHARED_BYTES, DEFAULT_MAX_THREADS, Limits
from .runtime import CudaModule


@dataclass(frozen=True)
class CudaBuildOptions:
    """Options of a CUDA build (from the target string and keyword arguments)."""
    #: ``sm_80``...; empty means the architecture of the GPU the module runs on
    arch: str = ""
    max_threads_per_block: int = DEFAULT_MAX_THREADS
    max_shared_memory: int = DEFAULT_MAX_SHARED_BYTES
    #: hardware approximations of exp/log/sin/cos (``__expf``...)
    fast_math: bool = False
    #: run :func:`inject_syncthreads` before code generation
    inject_sync: bool = True

    @property
    def limits(self) -> Limits:
        return Limits(self.max_threads_per_block, self.max_shared_memory)

    @staticmethod
    def from_target(target: Target, **overrides) -> "CudaBuildOptions":
        known = CudaBuildOptions.__dataclass_fields__
        for key in overrides:
            if key not in known:
                raise BuildError(f"unknown CUDA build option '{key}'; known options: "
                                 f"{', '.join(sorted(known))}")
        fields = {}
        if target.arch:
            fields["arch"] = target.arch
        for option, name in (("max-threads-per-block", "max_threads_per_block"),
                             ("max-shared-memory", "max_shared_memory")):
            if option in target.options:
                try:
                    fields[name] = int(target.options[option])
                except ValueError:
                    raise BuildError(f"target '{target}': -{option} must be an integer, got "
                                     f"{target.options[option]!r}") from None
        fields.update(overrides)
        return CudaBuildOptions(**fields)


def build(func: PrimFunc, target="cuda", **options) -> "CudaModule":
    """Compile a lowered, thread-bound PrimFunc for the GPU.

    Before code generation, ``pipeline.cuda_passes`` turn accumulations across threadIdx
    into shared-memory tree reductions, vectorized loops into (float2/float4 where
    aligned) vector accesses, unrolled loops into straight-line code, insert barriers and
    split the function into kernels.  Validation errors (unbound loops, too many threads,
    too much shared memory, one thread tag bound with different extents) raise BuildError
    naming stage and loop.
    Code generation needs no GPU; the nvcc compilation happens at the first launch.

    >>> mod = build(func, "cuda -arch=sm_80")
    """
    target = backend_target(func, target, "cuda", "CUDA")
    called = called_names(func.body)
    if called:
        raise BuildError(f"'{func.name}' calls the registered Python function(s) "
                         f"{', '.join(repr(n) for n in called)} (te.extern / "
                         f"tir.call_packed), which CUDA kernels cannot call; build it for "
                         f"\"llvm\", or compute those stages with te.compute")
    build_options = CudaBuildOptions.from_target(target, **options)
    passes = pipeline.cuda_passes(build_options.inject_sync, build_options.limits)
    program = pipeline.PassRunner(label="tl.build cuda").run_all(passes, func)
    codegen = FastMathCudaCodegen if build_options.fast_math else CudaCodegen
    source = generate_cuda(program, codegen)
    return CudaModule(program, source, target, build_options)
