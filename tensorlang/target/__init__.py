"""Compilation targets and their backends: :class:`Target`, and ``build`` /
``load_module`` dispatching on the target kind."""
from __future__ import annotations

from ..errors import BuildError
from .disk_cache import CacheWarning  # noqa: F401
from .target import Target, as_target  # noqa: F401


def build(func, target="llvm", **options):
    """Compile a lowered PrimFunc for ``target`` (a string or :class:`Target`).

    Options go to the backend (llvm: ``bounds_check``, ``opt_level``, ``use_cache``).
    """
    target = as_target(target)
    if target.kind == "llvm":
        from .llvm import build as build_llvm
        return build_llvm(func, target, **options)
    if target.kind == "cuda":
        try:
            from .cuda import build as build_cuda
        except ImportError:
            raise BuildError("the cuda backend is not available in this installation") from None
        return build_cuda(func, target, **options)
    raise BuildError(f"no backend for target '{target}'")


def load_module(path):
    """Load a shared library written by ``Module.export_library``."""
    from .llvm import load_module as load_llvm
    return load_llvm(path)
