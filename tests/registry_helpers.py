"""Registering a Python function for the duration of a test (te.extern, call_packed)."""
from __future__ import annotations

import contextlib

import tensorlang as tl


@contextlib.contextmanager
def registered(name, function):
    """``function`` registered as ``name`` inside the block, forgotten after it (unless
    the block removed it itself)."""
    tl.register_func(name, function)
    try:
        yield function
    finally:
        if tl.get_global_func(name, allow_missing=True) is not None:
            tl.remove_global_func(name)
