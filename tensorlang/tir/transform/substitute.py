"""Replace variables by expressions."""
from __future__ import annotations

from ..expr import CommReducer, PrimExpr, Var
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


def combine(reducer: CommReducer, accumulators, values) -> tuple[PrimExpr, ...]:
    """The expressions of ``reducer`` combining ``accumulators`` with ``values`` (its
    ``lhs`` and ``rhs`` replaced by them)."""
    mapping = {**dict(zip(reducer.lhs, accumulators)), **dict(zip(reducer.rhs, values))}
    return tuple(substitute(r, mapping) for r in reducer.result)
