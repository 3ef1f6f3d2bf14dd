"""The CUDA backend: thread-bound loop IR to CUDA C, launched through pycuda, or emulated
on the CPU where no GPU is present.

>>> mod = tensorlang.target.cuda.build(func, "cuda")
>>> mod.emulate(a, b, c)            # or mod(a, b, c) on a machine with a GPU
>>> print(mod.get_source("cuda"))
"""
from .codegen import CudaCodegen, FastMathCudaCodegen, generate_cuda  # noqa: F401
from .emulate import EmulationError, Emulator, emulate  # noqa: F401
from ...tir.transform.split_kernels import (DeviceProgram, Kernel, Limits,  # noqa: F401
                                            split_kernels)
from .build import CudaBuildOptions, build  # noqa: F401
from .nvcc import compile_cuda, nvcc_path  # noqa: F401
from .runtime import CudaModule, CudaRuntimeError, gpu_available  # noqa: F401
from ...tir.transform.cross_thread_reduction import lower_cross_thread_reduction  # noqa: F401
from ...tir.transform.inject_syncthreads import inject_syncthreads, syncthreads  # noqa: F401
