"""TIR-to-TIR passes, one a module; :mod:`tensorlang.pipeline` lists their order.

The CUDA passes live here too (``cross_thread_reduction``, ``inject_syncthreads``,
``split_kernels``): they rewrite loop IR and know nothing of CUDA C or of the runtime.
"""
from .substitute import substitute  # noqa: F401
