"""Insert ``__syncthreads()`` where threads of a block exchange data through shared memory.

A barrier is needed between a write of a shared buffer and a later read of it by another
thread (read after write), and between a read and a later overwrite by another thread
(write after read: the second barrier of the classic tiled loop, before the next tile
load).  The pass walks each kernel in program order keeping the shared accesses made since
the last barrier; a statement whose accesses conflict with them gets a barrier in front.
A compound statement (a loop nest, a guarded block) that conflicts as a whole gets the
barrier in front of it rather than deep inside, so the barrier of a cooperative tile load
sits between the load nest and the compute nest.  Loops are walked until the accesses
carried from one iteration into the next stop changing.

Two accesses conflict unless they touch the same location from the same thread: their
indices are structurally equal and use every ``threadIdx`` of extent > 1 (outside ``//``
and ``%``), so each thread owns its element.  Barriers never go under a condition that
depends on the thread index (some threads would skip them); a conflict inside such a
block raises BuildError.

>>> func = inject_syncthreads(func)
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import BuildError
from .. import expr as E
from .. import stmt as S
from ..datatype import DataType
from ..functor import Visitor
from ..structural import structural_equal
from .substitute import substitute
from .split_kernels import THREAD_TAGS, is_hardware_thread_loop, is_host_loop

SYNC_OP = "tl.syncthreads"


def syncthreads() -> S.Evaluate:
    """The barrier statement ``Evaluate(Call(void, "tl.syncthreads", ()))``."""
    return S.Evaluate(E.Call(DataType("handle", 64), SYNC_OP, ()))


def is_syncthreads(stmt) -> bool:
    return isinstance(stmt, S.Evaluate) and isinstance(stmt.value, E.Call) \
        and stmt.value.op == SYNC_OP


@dataclass(frozen=True, eq=False)
class _Access:
    buffer: object
    indices: tuple       # normalised: thread loop variables replaced by canonical ones
    is_write: bool


class _AccessCollector(Visitor):
    """Shared-memory reads and writes of a statement (all of it, barriers ignored)."""

    def __init__(self, planner: "_Planner"):
        self.planner = planner
        self.reads: list[_Access] = []
        self.writes: list[_Access] = []

    def visit_BufferLoad(self, node):
        if node.buffer.scope == "shared":
            self.reads.append(self.planner.access(node.buffer, node.indices, False))
        self.generic_visit(node)

    def visit_BufferStore(self, node):
        if node.buffer.scope == "shared":
            self.writes.append(self.planner.access(node.buffer, node.indices, True))
        self.generic_visit(node)

    def visit_For(self, node):
        self.planner.enter_loop(node)
        self.generic_visit(node)
        self.planner.leave_loop(node)


class _State:
    """Shared accesses made since the last barrier."""

    def __init__(self, reads=(), writes=()):
        self.reads: list[_Access] = list(reads)
        self.writes: list[_Access] = list(writes)

    def copy(self) -> "_State":
        return _State(self.reads, self.writes)

    def merge(self, other: "_State") -> "_State":
        reads = self.reads + [a for a in other.reads if not any(a is b for b in self.reads)]
        writes = self.writes + [a for a in other.writes
                                if not any(a is b for b in self.writes)]
        return _State(reads, writes)

    def size(self) -> int:
        return len(self.reads) + len(self.writes)


class _Planner:
    def __init__(self):
        # thread loop variable -> its value in terms of a canonical variable of its tag
        self.thread_values: dict = {}
        self.canonical = {tag: E.Var(tag, DataType("int", 32)) for tag in THREAD_TAGS}
        self.thread_extents: dict[str, E.PrimExpr] = {}
        self.access_cache: dict = {}
        self.inserted = 0

    # -- thread variables ----------------------------------------------------------
    def enter_loop(self, loop) -> None:
        if is_hardware_thread_loop(loop) and loop.thread_tag in self.canonical:
            value = self.canonical[loop.thread_tag]
            if not (isinstance(loop.min, E.IntImm) and loop.min.value == 0):
                value = E.Add(loop.min, value, value.dtype) \
                    if loop.min.dtype == value.dtype else value
            self.thread_values[loop.loop_var] = value
            self.thread_extents.setdefault(loop.thread_tag, loop.extent)

    def leave_loop(self, loop) -> None:
        pass  # loop variables are unique per loop; the mapping stays valid

    def access(self, buffer, indices, is_write: bool) -> _Access:
        key = (id(buffer), tuple(id(i) for i in indices), is_write)
        found = self.access_cache.get(key)
        if found is None:
            normal = tuple(substitute(i, self.thread_values) for i in indices)
            found = _Access(buffer, normal, is_write)
            self.access_cache[key] = (found, indices)
        else:
            found = found[0]
        return found

    def thread_dependent(self, expr) -> bool:
        used = []

        class _Find(Visitor):
            def visit_Var(inner, var):  # noqa: N805 - nested visitor
                if var in self.thread_values:
                    used.append(var)

        _Find().visit(expr)
        return bool(used)

    # -- conflicts -----------------------------------------------------------------
    def owned_by_thread(self, a: _Access, b: _Access) -> bool:
        """Whether ``a`` and ``b`` touch the same element, written/read by one thread."""
        if len(a.indices) != len(b.indices) or not all(
                structural_equal(x, y) for x, y in zip(a.indices, b.indices)):
            return False
        needed = [self.canonical[t] for t, e in self.thread_extents.items()
                  if t.startswith("threadIdx") and not (isinstance(e, E.IntImm) and e.value == 1)]
        return all(any(_uses_injectively(i, var) for i in a.indices) for var in needed)

    def conflicts(self, state: _State, reads, writes) -> bool:
        for r in reads:
            for w in state.writes:
                if w.buffer is r.buffer and not self.owned_by_thread(w, r):
                    return True
        for w in writes:
            for r in state.reads:
                if r.buffer is w.buffer and not self.owned_by_thread(r, w):
                    return True
        return False

    def summary(self, stmt) -> tuple[list, list]:
        collector = _AccessCollector(self)
        collector.visit(stmt)
        return collector.reads, collector.writes

    # -- planning ------------------------------------------------------------------
    def plan(self, stmt, state: _State) -> tuple[S.Stmt, _State]:
        """``stmt`` with barriers inserted, and the accesses pending after it."""
        if isinstance(stmt, S.SeqStmt):
            out = []
            changed = False
            for child in stmt.seq:
                new, state = self.plan_item(child, state, out)
                changed |= new is not child
                out.append(new)
            if len(out) != len(stmt.seq):
                changed = True
            return (S.SeqStmt(tuple(out)) if changed else stmt), state
        out: list = []
        new, state = self.plan_item(stmt, state, out)
        if out:
            return S.SeqStmt(tuple(out + [new])), state
        return new, state

    def plan_item(self, stmt, state: _State, out: list) -> tuple[S.Stmt, _State]:
        """Plan one statement of a sequence; a needed barrier is appended to ``out``."""
        if is_syncthreads(stmt):
            return stmt, _State()
        if isinstance(stmt, S.SeqStmt):
            return self.plan(stmt, state)
        reads, writes = self.summary(stmt)
        if not reads and not writes and not _contains_sync(stmt):
            return stmt, state
        if self.conflicts(state, reads, writes):
            out.append(syncthreads())
            self.inserted += 1
            state = _State()
        t = type(stmt)
        if t in (S.BufferStore, S.Evaluate):
            return stmt, _State(state.reads + reads, state.writes + writes)
        if t is S.For:
            return self.plan_loop(stmt, state)
        if t is S.IfThenElse:
            return self.plan_if(stmt, state, reads, writes)
        if t in (S.AttrStmt, S.Allocate, S.LetStmt):
            body, state = self.plan(stmt.body, state)
            return stmt.replace(body=body), state
        return stmt, _State(state.reads + reads, state.writes + writes)

    def plan_loop(self, loop: S.For, state: _State) -> tuple[S.Stmt, _State]:
        self.enter_loop(loop)
        if is_host_loop(loop):
            # a scan's steps: each iteration launches its own kernels, and shared memory
            # lives within one launch, so nothing carries from one step into the next
            body, _ = self.plan(loop.body, _State())
            return loop.replace(body=body), _State()
        if is_hardware_thread_loop(loop):
            # every thread runs the body once: nothing is carried between iterations
            body, after = self.plan(loop.body, state)
            return loop.replace(body=body), after
        entry = state
        while True:
            before = self.inserted
            body, after = self.plan(loop.body, entry)
            carried = entry.merge(after)
            if carried.size() == entry.size():
                break
            self.inserted = before
            entry = carried
        # the loop may run zero times: what was pending before it may still be pending
        return loop.replace(body=body), after.merge(state)

    def plan_if(self, stmt: S.IfThenElse, state: _State, reads, writes):
        if self.thread_dependent(stmt.condition):
            for branch in (stmt.then_case, stmt.else_case):
                if branch is None:
                    continue
                before = self.inserted
                self.plan(branch, _State())
                if self.inserted != before:
                    raise BuildError(
                        f"shared memory written and then read by different threads inside "
                        f"'if {stmt.condition}', a condition that depends on the thread "
                        f"index: a __syncthreads() there would not be reached by every "
                        f"thread; move the guarded shared-memory exchange out of the "
                        f"condition")
            return stmt, _State(state.reads + reads, state.writes + writes)
        then_case, after_then = self.plan(stmt.then_case, state)
        if stmt.else_case is None:
            return stmt.replace(then_case=then_case), after_then.merge(state)
        else_case, after_else = self.plan(stmt.else_case, state)
        return stmt.replace(then_case=then_case, else_case=else_case), \
            after_then.merge(after_else)


def _contains_sync(stmt) -> bool:
    found = []

    class _Find(Visitor):
        def visit_Evaluate(self, node):
            if is_syncthreads(node):
                found.append(node)

    _Find().visit(stmt)
    return bool(found)


def _uses_injectively(expr, var) -> bool:
    """Whether ``var`` occurs in ``expr`` outside floor division and modulo (which would
    map several threads to one element)."""
    if expr is var:
        return True
    if isinstance(expr, (E.FloorDiv, E.FloorMod, E.Div)):
        return False
    for name in expr._children:
        child = getattr(expr, name)
        children = child if isinstance(child, tuple) else (child,)
        for c in children:
            if isinstance(c, E.PrimExpr) and _uses_injectively(c, var):
                return True
    return False


def inject_syncthreads(func: S.PrimFunc) -> S.PrimFunc:
    """``func`` with ``tl.syncthreads`` barriers wherever shared memory written by some
    threads is read by others (and before it is overwritten while others may still read
    it); the same object when none is needed.  Existing barriers are kept and counted."""
    planner = _Planner()
    body, _ = planner.plan(func.body, _State())
    if planner.inserted == 0 or body is func.body:
        return func
    return func.replace(body=body)
