"""The parts a stage is made of: the loop relations (:class:`Split`, :class:`Fuse`,
:class:`Singleton`), the annotations of a loop (:class:`IterAttr`), where a stage is
computed (``ROOT``, ``INLINE``, ``SCOPE``), and the registry through which primitives
built on the core become its methods (:func:`install_primitives`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import InternalError, ScheduleError
from ..tir import expr as E
from ..tir.buffer import SCOPES
from ..tir.stmt import ForKind


@dataclass(eq=False)
class Split:
    """``parent = outer * factor + inner`` (``factor`` or ``nparts`` given)."""
    parent: E.IterVar
    outer: E.IterVar
    inner: E.IterVar
    factor: int | None
    nparts: int | None


@dataclass(eq=False)
class Fuse:
    """``fused = outer * extent(inner) + inner``."""
    outer: E.IterVar
    inner: E.IterVar
    fused: E.IterVar


@dataclass(eq=False)
class Singleton:
    """A new loop of one iteration, outermost (``fuse()`` of no axes, as TVM's)."""
    iter_var: E.IterVar


@dataclass(eq=False)
class IterAttr:
    """Annotations of a leaf loop."""
    kind: str = ForKind.SERIAL
    thread: E.IterVar | None = None
    pragmas: list = field(default_factory=list)


ROOT, INLINE, SCOPE = "root", "inline", "scope"

#: the primitives of modules built on the core, by name (see :func:`install_primitives`)
_INSTALLED: dict[str, Callable] = {}


def install_primitives(*functions: Callable) -> None:
    """Make the Stage and Schedule methods of the same names call ``functions`` (with the
    stage or schedule first): ``compute_at`` ... of attach.py, ``cache_read`` ... of
    cache.py, ``rfactor``.  ``tensorlang.schedule`` installs them when imported, so the
    core imports none of the modules built on it."""
    for function in functions:
        _INSTALLED[function.__name__] = function


def installed(name: str) -> Callable:
    """The implementation of primitive ``name`` given to :func:`install_primitives`."""
    function = _INSTALLED.get(name)
    if function is None:
        raise InternalError(f"schedule primitive '{name}' is not installed; "
                            f"tensorlang.schedule installs it when imported")
    return function


def check_scope(scope, prim: str, stage_name: str) -> None:
    """Raise unless ``scope`` is a memory scope a stage can be stored in."""
    if scope not in SCOPES:
        raise ScheduleError(f"{prim} on stage '{stage_name}': unknown memory scope "
                            f"{scope!r}; use one of {', '.join(SCOPES)}")
