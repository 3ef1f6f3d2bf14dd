"""The LLVM CPU backend: code generation with llvmlite, JIT loading, the parallel
runtime, the compile cache and shared-library export.

>>> mod = tensorlang.target.llvm.build(func, "llvm")
>>> mod(a, b, c)
"""
from .build import BuildOptions, build, prepare_for_codegen  # noqa: F401
from .module import Artifact, Context, Module, load_artifact, load_module, new_context  # noqa: F401
