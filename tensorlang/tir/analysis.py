"""Questions about an IR tree that passes, code generators and search spaces ask:
which variables it uses, whether it uses one, which buffers it loads and stores.

Each is a small :class:`~tensorlang.tir.functor.Visitor`; use these rather than writing
another collector.
"""
from __future__ import annotations

from .functor import Visitor


class _FreeVars(Visitor):
    def __init__(self):
        self.found: dict = {}  # insertion-ordered set

    def visit_Var(self, node):
        self.found.setdefault(node, None)


def free_vars(node) -> list:
    """The variables ``node`` (an expression, a statement or a tuple of them) reads, in
    order of first appearance, each once.  Loop and let variables bound inside count too:
    callers that want only the free ones subtract what they bind."""
    collector = _FreeVars()
    for item in node if isinstance(node, (tuple, list)) else (node,):
        if item is not None and not isinstance(item, (int, float)):
            collector.visit(item)
    return list(collector.found)


class _Found(Exception):
    pass


class _UsesVar(Visitor):
    def __init__(self, var):
        self.var = var

    def visit_Var(self, node):
        if node is self.var:
            raise _Found


def uses_var(node, var) -> bool:
    """Whether ``var`` occurs anywhere in ``node`` (stops at the first occurrence)."""
    if node is None or isinstance(node, (int, float)):
        return False
    try:
        _UsesVar(var).visit(node)
    except _Found:
        return True
    return False


class _Accesses(Visitor):
    def __init__(self):
        self.loads: list = []
        self.stores: list = []

    def visit_BufferLoad(self, node):
        self.loads.append(node)
        self.generic_visit(node)

    def visit_BufferStore(self, node):
        self.stores.append(node)
        self.generic_visit(node)


def buffer_loads(node, buffer=None) -> list:
    """The ``BufferLoad`` nodes in ``node``, in visiting order; only those of ``buffer``
    when one is given."""
    collector = _Accesses()
    collector.visit(node)
    return [ld for ld in collector.loads if buffer is None or ld.buffer is buffer]


def buffer_stores(node, buffer=None) -> list:
    """The ``BufferStore`` statements in ``node``, in visiting order; only those of
    ``buffer`` when one is given."""
    collector = _Accesses()
    collector.visit(node)
    return [st for st in collector.stores if buffer is None or st.buffer is buffer]


def buffer_accesses(node) -> tuple[list, list]:
    """The ``BufferLoad`` nodes and the ``BufferStore`` statements in ``node``, each in
    visiting order, from one walk."""
    collector = _Accesses()
    collector.visit(node)
    return collector.loads, collector.stores


def stored_buffers(node) -> set:
    """The buffers that ``node`` writes."""
    return {st.buffer for st in buffer_stores(node)}


def loaded_buffers(node) -> set:
    """The buffers that ``node`` reads."""
    return {ld.buffer for ld in buffer_loads(node)}
