"""Replace variables by expressions."""
from __future__ import annotations

from ..expr import PrimExpr, Var
from ..functor import Mutator


class _Substitute(Mutator):
    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Var(self, node: Var):
        return self.mapping.get(node, node)


def substitute(node, mapping: dict[Var, PrimExpr]):
    """``node`` with every Var in ``mapping`` replaced; ``node`` itself if none occurs."""
    if not mapping:
        return node
    return _Substitute(mapping).visit(node)
