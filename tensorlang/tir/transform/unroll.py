"""Unroll loops: explicit ``unroll`` loops and those under ``auto_unroll_max_step``.

An unrolled loop becomes the sequence of its bodies with the loop variable replaced by
``min + 0``, ``min + 1``, ...; the simplifier, run afterwards by the driver, folds the
indices.  Variables and buffers defined inside the body get fresh copies in each
repetition, so every definition in the result stays unique.

The pragma ``auto_unroll_max_step`` (a loop annotation, or an attribute statement
``pragma_auto_unroll_max_step`` around a loop) also unrolls the serial loops inside it
whose whole nest runs at most that many statements, as TVM's ``UnrollLoop`` does.
"""
from __future__ import annotations

from .. import op
from ..buffer import Buffer
from ..expr import BufferLoad, Let, Var
from ..functor import Mutator, Visitor
from ..stmt import (Allocate, AttrStmt, BufferStore, For, ForKind, IfThenElse, LetStmt,
                    PrimFunc, SeqStmt, Stmt, seq)
from .substitute import substitute

__all__ = ["unroll_loops", "DEFAULT_MAX_UNROLL_EXTENT"]

#: explicit ``unroll`` loops with a larger constant extent stay loops
DEFAULT_MAX_UNROLL_EXTENT = 64
#: annotation left on an ``unroll`` loop that could not be unrolled (code generators may
#: still ask the backend to unroll it)
UNROLL_HINT = "unroll_hint"
_AUTO_UNROLL_KEYS = ("auto_unroll_max_step", "pragma_auto_unroll_max_step")


def unroll_loops(func: PrimFunc, *, max_extent: int = DEFAULT_MAX_UNROLL_EXTENT) -> PrimFunc:
    """Unroll the loops of kind UNROLLED (constant extent <= ``max_extent``) and the
    serial loops under an ``auto_unroll_max_step`` pragma; returns ``func`` itself when
    nothing is unrolled.

    ``for k in T.unroll(2): C[k] = 0`` becomes ``C[0 + 0] = 0; C[0 + 1] = 0``.
    Longer or symbolic ``unroll`` loops become serial loops annotated ``unroll_hint``.
    """
    body = _Unroller(max_extent).visit(func.body)
    return func if body is func.body else func.replace(body=body)


class _Unroller(Mutator):
    def __init__(self, max_extent: int):
        self.max_extent = max_extent
        self.auto_max_step = 0  # 0: no auto_unroll_max_step pragma in scope

    def visit_AttrStmt(self, node: AttrStmt):
        if node.key not in _AUTO_UNROLL_KEYS:
            return Mutator.generic_visit(self, node)
        return self._with_auto_step(op.as_const_int(node.value),
                                    lambda: Mutator.generic_visit(self, node))

    def visit_For(self, node: For):
        pragma = next((value for key, value in node.annotations if key in _AUTO_UNROLL_KEYS),
                      None)
        if pragma is not None:
            return self._with_auto_step(op.as_const_int(pragma), lambda: self._loop(node))
        return self._loop(node)

    def _with_auto_step(self, step, visit):
        saved = self.auto_max_step
        if step is not None:
            self.auto_max_step = step
        try:
            return visit()
        finally:
            self.auto_max_step = saved

    def _loop(self, node: For):
        loop = node.replace(body=self.visit(node.body))  # inner loops first
        extent = op.as_const_int(loop.extent)
        if loop.kind == ForKind.UNROLLED:
            if extent is not None and extent <= self.max_extent:
                return _unrolled(loop, extent)
            annotations = tuple(sorted({**dict(loop.annotations), UNROLL_HINT: 1}.items()))
            return loop.replace(kind=ForKind.SERIAL, annotations=annotations)
        if loop.kind == ForKind.SERIAL and extent is not None and self.auto_max_step > 0:
            steps = step_count(loop)
            if steps is not None and steps <= self.auto_max_step:
                return _unrolled(loop, extent)
        return loop


def step_count(stmt: Stmt) -> int | None:
    """Statements run by ``stmt`` when its loops are unrolled; None when it holds a loop
    that must stay a loop (symbolic extent, thread-bound, parallel)."""
    if isinstance(stmt, For):
        extent = op.as_const_int(stmt.extent)
        if extent is None or stmt.kind in (ForKind.THREAD_BINDING, ForKind.PARALLEL):
            return None
        inner = step_count(stmt.body)
        if inner is None:
            return None
        # a vectorized loop runs as one statement per lane group
        return inner if stmt.kind == ForKind.VECTORIZED else extent * inner
    if isinstance(stmt, SeqStmt):
        total = 0
        for part in stmt.seq:
            count = step_count(part)
            if count is None:
                return None
            total += count
        return total
    if isinstance(stmt, IfThenElse):
        then_count = step_count(stmt.then_case)
        else_count = 0 if stmt.else_case is None else step_count(stmt.else_case)
        if then_count is None or else_count is None:
            return None
        return then_count + else_count
    if isinstance(stmt, (LetStmt, Allocate)):
        return step_count(stmt.body)
    if isinstance(stmt, AttrStmt):
        if stmt.key == "thread_extent":
            return None
        return step_count(stmt.body)
    return 1


def _unrolled(loop: For, extent: int) -> Stmt:
    copies = []
    for step in range(extent):
        value = op.add(loop.min, op.const(step, loop.loop_var.dtype))
        body = substitute(loop.body, {loop.loop_var: value})
        copies.append(_Renamer(body).visit(body) if step else body)
    return seq(*copies)


class _Definitions(Visitor):
    """Collects the variables and buffers a statement defines."""

    def __init__(self):
        self.vars: dict[Var, Var] = {}
        self.buffers: dict[Buffer, Buffer] = {}

    def visit_For(self, node: For):
        self.vars[node.loop_var] = Var(node.loop_var.name, node.loop_var.dtype)
        self.generic_visit(node)

    def visit_LetStmt(self, node: LetStmt):
        self.vars[node.var] = Var(node.var.name, node.var.dtype)
        self.generic_visit(node)

    def visit_Let(self, node: Let):
        self.vars[node.var] = Var(node.var.name, node.var.dtype)
        self.generic_visit(node)

    def visit_Allocate(self, node: Allocate):
        self.buffers[node.buffer] = None  # made once the variables are known
        self.generic_visit(node)


class _Renamer(Mutator):
    """Gives fresh variables and buffers to everything a statement defines, so repeated
    copies of a body do not define the same variable twice."""

    def __init__(self, stmt: Stmt):
        found = _Definitions()
        found.visit(stmt)
        self.vars = found.vars
        self.buffers: dict[Buffer, Buffer] = {}
        for old in found.buffers:
            self.buffers[old] = Buffer(old.name, self.visit_tuple(old.shape), old.dtype,
                                       old.scope, self.visit_tuple(old.strides))

    def visit_Var(self, node: Var):
        return self.vars.get(node, node)

    def buffer(self, buffer: Buffer) -> Buffer:
        return self.buffers.get(buffer, buffer)

    def visit_For(self, node: For):
        return node.replace(loop_var=self.vars.get(node.loop_var, node.loop_var),
                            min=self.visit(node.min), extent=self.visit(node.extent),
                            body=self.visit(node.body))

    def visit_LetStmt(self, node: LetStmt):
        return node.replace(var=self.vars.get(node.var, node.var),
                            value=self.visit(node.value), body=self.visit(node.body))

    def visit_Let(self, node: Let):
        return node.replace(var=self.vars.get(node.var, node.var),
                            value=self.visit(node.value), body=self.visit(node.body))

    def visit_Allocate(self, node: Allocate):
        return node.replace(buffer=self.buffer(node.buffer), body=self.visit(node.body))

    def visit_BufferLoad(self, node: BufferLoad):
        return node.replace(buffer=self.buffer(node.buffer),
                            indices=self.visit_tuple(node.indices))

    def visit_BufferStore(self, node: BufferStore):
        return node.replace(buffer=self.buffer(node.buffer), value=self.visit(node.value),
                            indices=self.visit_tuple(node.indices))

    def visit_AttrStmt(self, node: AttrStmt):
        target = node.node
        if isinstance(target, Buffer):
            target = self.buffer(target)
        elif isinstance(target, Var):
            target = self.vars.get(target, target)
        return node.replace(node=target, value=self.visit(node.value),
                            body=self.visit(node.body))
