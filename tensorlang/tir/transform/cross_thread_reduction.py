"""Cross-thread reductions: a reduction axis bound to ``threadIdx`` becomes a tree
reduction through shared memory.

The usual schedule factors a reduction with ``rfactor`` and binds the remaining reduction
axis to a thread index::

    ko, ki = s[B].split(k, factor=64)
    BF = s.rfactor(B, ki)
    s[B].bind(s[B].op.reduce_axis[0], te.thread_axis("threadIdx.x"))
    s[BF].compute_at(s[B], s[B].op.reduce_axis[0]); s[BF].set_scope("local")

Lowered, the update ``B[i] = B[i] + partial`` sits inside the loop bound to ``threadIdx.x``
while its index does not depend on that thread: run as written, every thread would update
the same element at once.  This pass replaces each such accumulation (``+``, ``*``,
``min``, ``max`` into global or shared memory) with

* every thread stores its contribution into a shared array ``B.red`` (one row per
  combination of the other thread indices),
* a tree of halving steps, separated by ``__syncthreads()``, combines the row into its
  first element (extents that are not powers of two fold their excess first),
* the thread with reduction index 0 folds the result into ``B[i]``.

Sequentially (the loop IR's meaning) the thread loop accumulates the contributions one
after the other; the tree computes the same reduction in another order.  A guard on the
update that depends on the reduced thread (a reduction tail) is folded into the
contribution with the reduction's identity.  The steps are barriers, so every thread of
the block must reach them: loops and conditions between the thread loop and the update
must not depend on the reduced thread index (BuildError otherwise).

>>> func = lower_cross_thread_reduction(func)
"""
from __future__ import annotations

import math

from ...errors import BuildError
from .. import expr as E
from .. import op
from .. import stmt as S
from ..buffer import Buffer
from ..functor import Mutator
from ..structural import structural_equal
from ..analysis import buffer_stores, free_vars
from .split_kernels import THREAD_TAGS, is_hardware_thread_loop
from .inject_syncthreads import syncthreads

#: accumulation node -> (combine, identity of a dtype)
_COMBINERS = {
    E.Add: (op.add, lambda t: op.const(0, t)),
    E.Mul: (op.mul, lambda t: op.const(1, t)),
    E.Max: (op.maximum, lambda t: op.const(float("-inf") if t.is_float else t.min_value(), t)),
    E.Min: (op.minimum, lambda t: op.const(float("inf") if t.is_float else t.max_value(), t)),
}


def lower_cross_thread_reduction(func: S.PrimFunc) -> S.PrimFunc:
    """``func`` with every accumulation across ``threadIdx`` turned into a shared-memory
    tree reduction (the function itself when it has none)."""
    body = _Rewriter(func.name).visit(func.body)
    return func if body is func.body else func.replace(body=body)


class _Rewriter(Mutator):
    def __init__(self, func_name: str):
        self.func_name = func_name
        self.stage = func_name
        #: enclosing statements, outermost first: ("loop", For) / ("if", condition)
        self.context: list = []
        #: let variable -> the variables its value depends on (transitively)
        self.let_deps: dict = {}
        self.count = 0

    # -- traversal (statements only; expressions are left alone) ---------------------
    def visit_For(self, node):
        self.context.append(("loop", node))
        body = self.visit(node.body)
        self.context.pop()
        return node if body is node.body else node.replace(body=body)

    def visit_AttrStmt(self, node):
        saved = self.stage
        if node.key == "stage":
            self.stage = node.node if isinstance(node.node, str) else \
                getattr(node.node, "name", str(node.node))
        body = self.visit(node.body)
        self.stage = saved
        return node if body is node.body else node.replace(body=body)

    def visit_LetStmt(self, node):
        self.let_deps[node.var] = self.dependencies(node.value)
        body = self.visit(node.body)
        return node if body is node.body else node.replace(body=body)

    def visit_Allocate(self, node):
        body = self.visit(node.body)
        return node if body is node.body else node.replace(body=body)

    def visit_SeqStmt(self, node):
        seq = tuple(self.visit(s) for s in node.seq)
        return node if all(a is b for a, b in zip(seq, node.seq)) else node.replace(seq=seq)

    def visit_IfThenElse(self, node):
        if node.else_case is None and isinstance(node.then_case, S.BufferStore):
            rewritten = self.rewrite(node.then_case, guard=node.condition)
            if rewritten is not None:
                return rewritten
        self.context.append(("if", node.condition))
        then_case = self.visit(node.then_case)
        else_case = None if node.else_case is None else self.visit(node.else_case)
        self.context.pop()
        if then_case is node.then_case and else_case is node.else_case:
            return node
        return node.replace(then_case=then_case, else_case=else_case)

    def visit_BufferStore(self, node):
        rewritten = self.rewrite(node, guard=None)
        return node if rewritten is None else rewritten

    def visit_Evaluate(self, node):
        return node

    # -- analysis --------------------------------------------------------------------
    def dependencies(self, expr) -> set:
        found = set()
        for var in free_vars(expr):
            found.add(var)
            found |= self.let_deps.get(var, set())
        return found

    def thread_loops(self) -> list[S.For]:
        return [node for kind, node in self.context
                if kind == "loop" and is_hardware_thread_loop(node)
                and node.thread_tag in THREAD_TAGS]

    @staticmethod
    def accumulation(store: S.BufferStore):
        """(combine, identity, contribution) when ``store`` is ``X[i] = X[i] op value``."""
        value = store.value
        entry = _COMBINERS.get(type(value))
        if entry is None or value.dtype.lanes > 1:
            return None

        def is_self(e) -> bool:
            return isinstance(e, E.BufferLoad) and e.buffer is store.buffer and \
                len(e.indices) == len(store.indices) and all(
                    bool(structural_equal(a, b)) for a, b in zip(e.indices, store.indices))

        if is_self(value.a):
            return entry[0], entry[1], value.b
        if is_self(value.b):
            return entry[0], entry[1], value.a
        return None

    def reinitialised(self, store: S.BufferStore, loop: S.For) -> bool:
        """Whether ``loop``'s body also overwrites ``store``'s buffer (every thread then
        computes the whole reduction itself, which is no cross-thread reduction)."""
        return any(self.accumulation(node) is None
                   for node in buffer_stores(loop.body, store.buffer))

    # -- rewriting -------------------------------------------------------------------
    def rewrite(self, store: S.BufferStore, guard):
        if store.buffer.scope == "local":
            return None  # per-thread memory: no other thread sees the accumulation
        threads = self.thread_loops()
        if not threads:
            return None
        index_deps = set()
        for index in store.indices:
            index_deps |= self.dependencies(index)
        reduced = [loop for loop in threads if loop.loop_var not in index_deps
                   and not op.is_const_int(loop.extent, 1)]
        if not reduced:
            return None
        found = self.accumulation(store)
        if found is None:
            return None
        combine, identity, contribution = found
        if self.reinitialised(store, reduced[0]):
            return None
        reduced_vars = {loop.loop_var for loop in reduced}
        names = ", ".join(f"'{loop.loop_var.name}' ({loop.thread_tag})" for loop in reduced)
        where = (f"stage '{self.stage}': the reduction into '{store.buffer.name}' across "
                 f"threads {names}")
        self.check_uniform({loop.loop_var for loop in threads}, where)
        for loop in threads:
            if not isinstance(loop.extent, E.IntImm):
                raise BuildError(f"{where} needs a constant number of threads, but "
                                 f"'{loop.loop_var.name}' bound to {loop.thread_tag} has "
                                 f"extent {loop.extent}; split the axis with a constant "
                                 f"factor before binding it")
        # a guard on a reduced index masks the contribution; any other guard (a tail of
        # the rows) masks the contribution and the final update alike
        parts = _conjuncts(guard) if guard is not None else []
        row_guard = [p for p in parts if not self.dependencies(p) & reduced_vars]
        return self.tree(store, combine, identity(store.value.dtype), contribution, parts,
                         row_guard, threads, reduced)

    def check_uniform(self, thread_vars, where) -> None:
        """Every thread must reach the barriers: no enclosing condition or loop bound may
        depend on a thread index."""
        for kind, node in self.context:
            if kind == "if" and self.dependencies(node) & thread_vars:
                raise BuildError(f"{where} sits under the condition '{node}', which depends "
                                 f"on a thread index, so not every thread would reach the "
                                 f"reduction's barriers; split the axes so that the "
                                 f"condition is not needed, or guard only the update")
            if kind == "loop" and not is_hardware_thread_loop(node) and (
                    (self.dependencies(node.min) | self.dependencies(node.extent))
                    & thread_vars):
                raise BuildError(f"{where} sits in loop '{node.loop_var.name}' whose bounds "
                                 f"depend on a thread index, so threads would run different "
                                 f"numbers of reduction steps; split the axes so the loop "
                                 f"has the same bounds in every thread")

    def tree(self, store, combine, identity, contribution, guard, row_guard, threads,
             reduced) -> S.Stmt:
        spatial = [loop for loop in threads if loop not in reduced]
        count = math.prod(loop.extent.value for loop in reduced)
        flat = None
        for loop in reduced:
            flat = loop.loop_var if flat is None else \
                op.add(op.mul(flat, loop.extent.value), loop.loop_var)
        self.count += 1
        shape = tuple(loop.extent for loop in spatial) + (op.const(count),)
        red = Buffer(f"{store.buffer.name}.red{self.count if self.count > 1 else ''}",
                     shape, store.value.dtype.element_of(), "shared")
        rows = tuple(loop.loop_var for loop in spatial)

        def at(position):
            return rows + (position,)

        if guard:
            steps = [S.BufferStore(red, identity, at(flat)),
                     S.IfThenElse(_all(guard), S.BufferStore(red, contribution, at(flat)))]
        else:
            steps = [S.BufferStore(red, contribution, at(flat))]
        half = 1 << max(0, (count - 1).bit_length() - 1)  # largest power of 2 below count
        active = count - half
        while half >= 1:
            steps.append(syncthreads())
            update = S.BufferStore(red, combine(E.BufferLoad(red, at(flat), red.dtype),
                                                E.BufferLoad(red, at(op.add(flat, half)),
                                                             red.dtype)), at(flat))
            steps.append(S.IfThenElse(op.lt(flat, active), update))
            half //= 2
            active = half
        steps.append(syncthreads())
        first = _all([op.eq(loop.loop_var, 0) for loop in reduced] + row_guard)
        total = E.BufferLoad(red, at(op.const(0)), red.dtype)
        steps.append(S.IfThenElse(first, S.BufferStore(
            store.buffer, combine(E.BufferLoad(store.buffer, store.indices,
                                               store.value.dtype), total), store.indices)))
        return S.Allocate(red, S.seq(*steps))


def _conjuncts(condition) -> list:
    if isinstance(condition, E.And):
        return _conjuncts(condition.a) + _conjuncts(condition.b)
    return [condition]


def _all(conditions):
    result = conditions[0]
    for condition in conditions[1:]:
        result = op.logical_and(result, condition)
    return result
