"""TVM's global function registry over tensorlang's (``tensorlang.tir.registry``):
``tvm.register_func``, ``tvm.get_global_func``, ``tvm.list_global_func_names``.

A function registered here receives its buffers as ``tvm.nd.NDArray`` objects (views of
the buffers, so ``tvm.nd.array(x.numpy() + 1).copyto(y)`` writes the output), as TVM's
PackedFuncs do; a function from ``get_global_func`` takes NDArrays or numpy arrays.
"""
from __future__ import annotations

import functools

import numpy as np

from ...tir import registry as _registry
from .runtime import NDArray, cpu, unwrap


class WithNDArrays:
    """``function`` called with NDArrays for the numpy arrays it is given.  A class at
    module level, not a closure, so that it pickles wherever ``function`` does (the
    tuner ships the functions extern stages call to its runner process)."""

    def __init__(self, function):
        self.function = function
        functools.update_wrapper(self, function)

    def __call__(self, *args):
        return self.function(*(NDArray(a, cpu(0)) if isinstance(a, np.ndarray) else a
                               for a in args))


def register_func(func_name, f=None, override: bool = False):
    """``@tvm.register_func("name")``: ``f`` is called with NDArrays for buffers."""
    if callable(func_name) and f is None:
        return register_func(func_name.__name__, func_name, override)

    def register(function):
        _registry.register_func(func_name, WithNDArrays(function), override)
        return function

    return register if f is None else register(f)


def get_global_func(name, allow_missing: bool = False):
    """The function registered as ``name`` (None when missing and ``allow_missing``),
    callable with NDArrays or numpy arrays."""
    function = _registry.get_global_func(name, allow_missing)
    if function is None:
        return None

    def call(*args):
        return function(*(unwrap(a) for a in args))
    call.__name__ = name
    return call


def list_global_func_names() -> list:
    return _registry.list_global_func_names()


def remove_global_func(name) -> None:
    _registry.remove_global_func(name)
