"""Visitors and mutators over IR nodes.

Subclasses define ``visit_<ClassName>`` methods for the nodes they care about; every other
node gets the generic traversal over its child fields (``Node._children``).  A mutator
returns the very same node when nothing below it changed, so ``new is old`` tells a pass
that it did nothing (as Exo's rewrites do).
"""
from __future__ import annotations

from .expr import Node


class Functor:
    """Dispatch on node type to ``visit_<ClassName>`` (first match along the MRO), cached
    per subclass; ``generic_visit`` handles the rest."""

    _method_cache: dict  # per subclass: node type -> unbound method

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._method_cache = {}

    def _method(self, node_type):
        cache = type(self)._method_cache
        method = cache.get(node_type)
        if method is None:
            method = type(self).generic_visit
            for klass in node_type.__mro__:
                found = getattr(type(self), "visit_" + klass.__name__, None)
                if found is not None:
                    method = found
                    break
            cache[node_type] = method
        return method

    def visit(self, node):
        method = self._method_cache.get(type(node))
        if method is None:
            method = self._method(type(node))
        return method(self, node)

    def generic_visit(self, node):  # pragma: no cover - overridden
        raise NotImplementedError


class ExprFunctor(Functor):
    """A walker that returns one value per node (code generators, translators): every
    node kind it meets needs a ``visit_<ClassName>`` method (or one for a base class);
    any other is an error, reported by :meth:`unsupported`."""

    def generic_visit(self, node):
        return self.unsupported(node)

    def unsupported(self, node):
        raise TypeError(f"{type(self).__name__} cannot handle {type(node).__name__} "
                        f"'{node}'")


class Visitor(Functor):
    """Read-only traversal of expressions and statements."""

    def generic_visit(self, node):
        for name in node._children:
            child = getattr(node, name)
            if isinstance(child, tuple):
                for c in child:
                    if isinstance(c, Node):
                        self.visit(c)
            elif isinstance(child, Node):
                self.visit(child)


class Mutator(Functor):
    """Rewriting traversal: returns new nodes, or the same node when unchanged."""

    def generic_visit(self, node):
        changes = None
        for name in node._children:
            child = getattr(node, name)
            if isinstance(child, tuple):
                new = self.visit_tuple(child)
            elif isinstance(child, Node):
                new = self.visit(child)
            else:
                continue
            if new is not child:
                if changes is None:
                    changes = {}
                changes[name] = new
        return node if changes is None else node.replace(**changes)

    def visit_tuple(self, items: tuple) -> tuple:
        out = None
        for idx, c in enumerate(items):
            new = self.visit(c) if isinstance(c, Node) else c
            if new is not c and out is None:
                out = list(items[:idx])
            if out is not None:
                out.append(new)
        return items if out is None else tuple(out)


def post_order_visit(node, fvisit) -> None:
    """Call ``fvisit`` on every node below ``node`` (children first)."""

    class _PostOrder(Visitor):
        def generic_visit(self, n):
            Visitor.generic_visit(self, n)
            fvisit(n)

    _PostOrder().visit(node)
