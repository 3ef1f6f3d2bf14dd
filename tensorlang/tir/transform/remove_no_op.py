"""Drop statements that do nothing.

Removed: ``Evaluate`` of a constant, empty sequences, loops whose body does nothing (or
that run zero times), branches that do nothing on either side, lets and attributes around
nothing, and allocations whose buffer is never used.
"""
from __future__ import annotations

from .. import op
from ..expr import FloatImm, IntImm, Not, StringImm
from ..functor import Mutator, Visitor
from ..stmt import (NO_OP, Allocate, AttrStmt, Evaluate, For, IfThenElse, LetStmt,
                    PrimFunc, SeqStmt, Stmt, seq)

__all__ = ["remove_no_op"]


def remove_no_op(func: PrimFunc) -> PrimFunc:
    """``func`` without statements that have no effect; ``func`` itself when it has none.

    ``for i in range(4): T.evaluate(0)`` disappears, ``if c: pass else: S`` becomes
    ``if not c: S``.
    """
    body = _NoOpRemover().visit(func.body)
    return func if body is func.body else func.replace(body=body)


def _is_no_op(stmt: Stmt | None) -> bool:
    if stmt is None:
        return True
    if isinstance(stmt, Evaluate):
        return isinstance(stmt.value, (IntImm, FloatImm, StringImm))
    return isinstance(stmt, SeqStmt) and not stmt.seq


class _NoOpRemover(Mutator):
    def visit_Evaluate(self, node: Evaluate):
        return NO_OP if _is_no_op(node) and node is not NO_OP else node

    def visit_SeqStmt(self, node: SeqStmt):
        parts = self.visit_tuple(node.seq)
        if parts is node.seq and node.seq and not any(
                _is_no_op(p) or isinstance(p, SeqStmt) for p in parts):
            return node
        return seq(*parts)

    def visit_For(self, node: For):
        body = self.visit(node.body)
        extent = op.as_const_int(node.extent)
        if _is_no_op(body) or (extent is not None and extent <= 0):
            return NO_OP
        return node.replace(body=body)

    def visit_IfThenElse(self, node: IfThenElse):
        then_case = self.visit(node.then_case)
        else_case = None if node.else_case is None else self.visit(node.else_case)
        if _is_no_op(else_case):
            else_case = None
        if _is_no_op(then_case):
            if else_case is None:
                return NO_OP
            return IfThenElse(Not(node.condition, node.condition.dtype), else_case, None)
        return node.replace(then_case=then_case, else_case=else_case)

    def visit_LetStmt(self, node: LetStmt):
        body = self.visit(node.body)
        return NO_OP if _is_no_op(body) else node.replace(body=body)

    def visit_AttrStmt(self, node: AttrStmt):
        body = self.visit(node.body)
        return NO_OP if _is_no_op(body) else node.replace(body=body)

    def visit_Allocate(self, node: Allocate):
        body = self.visit(node.body)
        if _is_no_op(body) or not _uses_buffer(body, node.buffer):
            return body if not _is_no_op(body) else NO_OP
        return node.replace(body=body)


class _BufferUse(Visitor):
    def __init__(self, buffer):
        self.buffer = buffer
        self.used = False

    def generic_visit(self, node):
        if self.used:
            return
        if getattr(node, "buffer", None) is self.buffer or \
                getattr(node, "node", None) is self.buffer:
            self.used = True
            return
        Visitor.generic_visit(self, node)


def _uses_buffer(stmt: Stmt, buffer) -> bool:
    """Whether ``stmt`` loads, stores or annotates ``buffer``."""
    finder = _BufferUse(buffer)
    finder.visit(stmt)
    return finder.used
