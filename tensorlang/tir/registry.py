"""The process-wide registry of functions that code calls by name (TVM's global
PackedFunc registry): ``tir.call_packed("name", ...)`` in a function, and so every
``te.extern`` stage, calls ``get_global_func("name")`` when it runs.

>>> @tl.register_func("my.addone")
... def addone(x, y):          # buffers arrive as numpy arrays, outputs writable
...     y[...] = x + 1

Names are looked up at every call, not when a function is built: a module built (or
loaded from the compile cache) before its functions were registered runs once they are,
and one whose function was removed raises :class:`ExternCallError` naming it.
"""
from __future__ import annotations

import threading
from typing import Callable

from ..errors import ExternCallError, TensorLangTypeError, TensorLangValueError

_FUNCTIONS: dict[str, Callable] = {}
_LOCK = threading.Lock()


def _check_name(name, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise TensorLangTypeError(f"{what}: the name must be a non-empty string, got "
                                  f"{name!r}")
    return name


def register_func(func_name, f: Callable | None = None, override: bool = False):
    """Register ``f`` under ``func_name``; without ``f``, a decorator that does.

    ``@tl.register_func("my.f")``, ``@tl.register_func`` (the function's own name) and
    ``tl.register_func("my.f", f)`` all work, as TVM's.  A name already registered raises
    ``TensorLangValueError`` unless ``override=True``."""
    if callable(func_name) and f is None:
        function = func_name
        return register_func(function.__name__, function, override)
    name = _check_name(func_name, "register_func")

    def register(function: Callable) -> Callable:
        if not callable(function):
            raise TensorLangTypeError(f"register_func('{name}'): expected a function, got "
                                      f"{type(function).__name__}")
        with _LOCK:
            if name in _FUNCTIONS and not override:
                raise TensorLangValueError(
                    f"register_func: a function is already registered as '{name}'; pass "
                    f"override=True to replace it")
            _FUNCTIONS[name] = function
        return function

    return register if f is None else register(f)


def get_global_func(name, allow_missing: bool = False) -> Callable | None:
    """The function registered as ``name``; None when it is missing and
    ``allow_missing``, else :class:`ExternCallError`."""
    name = _check_name(name, "get_global_func")
    function = _FUNCTIONS.get(name)
    if function is None and not allow_missing:
        raise ExternCallError(f"function '{name}' is not registered; register it with "
                              f"tl.register_func(\"{name}\", f) before calling it")
    return function


def remove_global_func(name) -> None:
    """Forget the function registered as ``name`` (missing names are an error)."""
    name = _check_name(name, "remove_global_func")
    with _LOCK:
        if _FUNCTIONS.pop(name, None) is None:
            raise ExternCallError(f"remove_global_func: function '{name}' is not registered")


def list_global_func_names() -> list[str]:
    """The registered names, sorted."""
    return sorted(_FUNCTIONS)


def call_registered(name: str, args: list):
    """Call the function registered as ``name`` on ``args`` (what compiled and
    interpreted code does for ``call_packed``).  Its exceptions come back as
    :class:`ExternCallError` naming it, the original as ``__cause__``; exceptions that
    are not errors (KeyboardInterrupt, SystemExit) pass through as they are."""
    function = get_global_func(name)
    try:
        return function(*args)
    except Exception as error:
        raise ExternCallError(f"function '{name}' raised {type(error).__name__}: "
                              f"{error}") from error


__all__ = ["register_func", "get_global_func", "remove_global_func",
           "list_global_func_names", "call_registered"]
