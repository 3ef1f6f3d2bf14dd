"""The base class of IR nodes: identity hash, cheap ``replace``, text form, and the
declarations of which fields bind variables (read by :mod:`tensorlang.tir.structural`)."""
from __future__ import annotations

import dataclasses
from typing import Callable


def _plain_text(node) -> str:
    return f"<{type(node).__name__}>"


#: the function that gives a node its text (``str(node)``); the printer installs its own
_text_form: Callable[[object], str] = _plain_text


def set_text_form(function: Callable[[object], str]) -> None:
    """Make ``str(node)`` return ``function(node)`` (:mod:`tensorlang.tir.printer` calls
    this when imported, and ``tensorlang.tir`` imports the printer)."""
    global _text_form
    _text_form = function


class Node:
    """Base of all IR nodes: identity hash, cheap ``replace``.

    Structural comparison reads three class attributes: ``_binds`` names the fields whose
    variables (or buffers) the node defines, ``_scope`` the fields where those definitions
    hold, and ``_variable`` marks nodes that stand for themselves (Var, Buffer): they are
    matched by their place of definition, not by their fields."""

    __slots__ = ()
    #: names of fields holding child expressions / statements (tuples allowed)
    _children: tuple[str, ...] = ()
    _binds: tuple[str, ...] = ()
    _scope: tuple[str, ...] = ()
    _variable = False

    __hash__ = object.__hash__

    def replace(self, **changes):
        """A copy with ``changes`` applied; ``self`` when every change is the same object."""
        for key, value in changes.items():
            if getattr(self, key) is not value:
                return dataclasses.replace(self, **changes)
        return self

    def __str__(self) -> str:
        return _text_form(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"
