"""Simplification pass: simplify every expression under the ranges of enclosing loops.

Loop variables are bound to ``[min, min + extent)`` and let-variables to their values, so
``(i*32 + j) // 32`` inside ``for j in range(32)`` becomes ``i``.  Statements follow:
an ``if`` whose condition is proven true or false keeps only the branch taken, a loop of
extent 0 disappears, a loop of extent 1 becomes its body with the loop variable replaced
by the loop's start, and nested sequences are flattened.
"""
from __future__ import annotations

from .. import expr as E
from .. import stmt as S
from ..arith import Analyzer, ConstIntBound
from ..functor import Mutator
from .substitute import substitute


class StmtSimplifier(Mutator):
    """Simplifies statements with an :class:`Analyzer` that tracks the loop ranges in
    scope (callers may pre-bind outer variables)."""

    def __init__(self, analyzer: Analyzer | None = None):
        self.analyzer = analyzer or Analyzer()

    # expressions go to the analyzer in one piece (it memoizes per call)
    def visit_PrimExpr(self, node):
        return self.analyzer.simplify(node)

    def visit_For(self, node: S.For):
        lo = self.analyzer.simplify(node.min)
        extent = self.analyzer.simplify(node.extent)
        if type(extent) is E.IntImm and extent.value <= 0:
            return S.NO_OP
        if type(extent) is E.IntImm and extent.value == 1 \
                and node.kind != S.ForKind.THREAD_BINDING:
            return self.visit(substitute(node.body, {node.loop_var: lo}))
        with self.analyzer.scope(node.loop_var, E.Range(lo, extent)):
            body = self.visit(node.body)
        if S.is_no_op(body):
            return S.NO_OP
        return node.replace(min=lo, extent=extent, body=body)

    def visit_LetStmt(self, node: S.LetStmt):
        value = self.analyzer.simplify(node.value)
        if value.dtype.is_integer and value.dtype.lanes == 1:
            with self.analyzer.scope(node.var, value):
                body = self.visit(node.body)
        else:
            body = self.visit(node.body)
        return node.replace(value=value, body=body)

    def visit_IfThenElse(self, node: S.IfThenElse):
        cond = self.analyzer.simplify(node.condition)
        if type(cond) is E.IntImm:
            if cond.value:
                return self.visit(node.then_case)
            return S.NO_OP if node.else_case is None else self.visit(node.else_case)
        with self.analyzer.constraint_scope(cond):
            then_case = self.visit(node.then_case)
        else_case = node.else_case
        if else_case is not None:
            with self.analyzer.constraint_scope(E.Not(cond, cond.dtype)):
                else_case = self.visit(else_case)
            if S.is_no_op(else_case):
                else_case = None
        if S.is_no_op(then_case) and else_case is None:
            return S.NO_OP
        return node.replace(condition=cond, then_case=then_case, else_case=else_case)

    def visit_SeqStmt(self, node: S.SeqStmt):
        items = self.visit_tuple(node.seq)
        flat = any(isinstance(s, S.SeqStmt) or S.is_no_op(s) for s in items)
        if items is node.seq and not flat:
            return node
        return S.seq(*items)

    def visit_AttrStmt(self, node: S.AttrStmt):
        value = self.analyzer.simplify(node.value)
        body = self.visit(node.body)
        if S.is_no_op(body):
            return S.NO_OP
        return node.replace(value=value, body=body)

    def visit_Allocate(self, node: S.Allocate):
        body = self.visit(node.body)
        if S.is_no_op(body):
            return S.NO_OP  # storage nobody uses
        return node.replace(body=body)


def simplify(func: S.PrimFunc) -> S.PrimFunc:
    """The function with simplified expressions and statements (the same object when
    nothing simplifies)."""
    simplifier = StmtSimplifier()
    bind_shape_vars(simplifier.analyzer, func)
    body = simplifier.visit(func.body)
    return func.replace(body=body)


def bind_shape_vars(analyzer: Analyzer, func: S.PrimFunc) -> None:
    """Tell ``analyzer`` that the symbolic dimensions of the parameter buffers are
    non-negative (a shape is never negative), which lets ``(n + 7) // 8 >= 0`` hold."""
    for buffer in func.buffers:
        for dim in buffer.shape:
            if type(dim) is E.Var and dim.dtype.is_integer:
                analyzer.bind(dim, ConstIntBound(0, dim.dtype.max_value()))


def simplify_stmt(stmt: S.Stmt, analyzer: Analyzer | None = None) -> S.Stmt:
    """Simplify a statement, optionally under the ranges already bound in ``analyzer``."""
    return StmtSimplifier(analyzer).visit(stmt)


def simplify_expr(expr, ranges: dict | None = None):
    """Simplify one expression; ``ranges`` maps Vars to ``tir.Range`` / ``(min, extent)``.

    Example: ``simplify_expr((i*32 + j) // 32, {j: (0, 32)})`` is ``i``."""
    analyzer = Analyzer()
    for var, rng in (ranges or {}).items():
        analyzer.bind(var, rng)
    return analyzer.simplify(expr)
