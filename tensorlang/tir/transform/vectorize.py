"""Turn loops of kind VECTORIZED into straight-line vector code.

The loop variable becomes ``Ramp(min, 1, lanes)``; expressions that do not depend on it
stay scalar and are broadcast only where they meet a vector.  Integer arithmetic on ramps
is folded back into ramps (``Ramp(b, 1, L) * 4 + c -> Ramp(b*4 + c, 4, L)``) so that a
buffer index whose last entry is ``Ramp(base, 1, L)`` reads as a contiguous access; every
other vector index is a gather or scatter.

Vector code executes one statement for all lanes before the next one, whereas the loop ran
all statements for one lane before the next lane.  The two agree only when lanes do not
communicate through memory, so before a loop is replaced the pass checks that every buffer
written in the body is touched by each lane in its own elements (one index is the same
ramp in every access, or one index tuple names a different element in every lane, as
``(f // 16, f % 16)`` of a fused axis does).  Lane-dependent branches become predicated stores
(``buf[i] = select(c, v, buf[i])``) when the store is provably in bounds.  Branches of a
vector ``select`` are evaluated for every lane, so loads there that are not provably in
bounds get clamped indices (the lanes that really use such a load are the ones the
original program loaded, hence in bounds; the other lanes' values are discarded).
Whatever cannot be vectorized this way stays a serial loop: correctness first.
"""
from __future__ import annotations

from ...errors import InternalError
from .. import op
from ..expr import (Add, And, Broadcast, BufferLoad, Call, Cast,
                    IntImm, Let, Mul, Not, PrimExpr, ProducerLoad, Ramp,
                    Reduce, Select, Sub, Var, BinaryOp)
from ..functor import Mutator, Visitor
from ..stmt import (Allocate, AttrStmt, BufferStore, Evaluate, For, ForKind, IfThenElse,
                    LetStmt, PrimFunc, SeqStmt, seq)
from ..analysis import loaded_buffers, stored_buffers
from ..arith.const_int_bound import BoundEvaluator, ConstIntBound
from .lane_independence import lanes_are_independent

__all__ = ["vectorize_loops"]



class _CannotVectorize(Exception):
    """Raised inside the body vectorizer: keep the loop serial."""


def vectorize_loops(func: PrimFunc, masked_selects: bool = False) -> PrimFunc:
    """Replace every ``For`` of kind VECTORIZED with a constant extent by vector code.

    Loops that cannot be vectorized without changing the result become serial loops.
    Returns ``func`` itself when it has no vectorized loop.

    A vector ``select`` evaluates both branches in every lane, so loads in them get their
    indices clamped into the buffer -- unless ``masked_selects``: the backend evaluates
    each branch with only the lanes that take it (the LLVM backend's masked loads), and
    a strided padding read stays a strided load instead of becoming a gather.

    >>> # for x in T.vectorized(8): C[i, x] = A[i, x] + 1.0
    >>> # becomes  C[i, T.Ramp(0, 1, 8)] = A[i, T.Ramp(0, 1, 8)] + T.Broadcast(1.0, 8)
    """
    body = _LoopVectorizer(masked_selects).visit(func.body)
    return func if body is func.body else func.replace(body=body)


# ---------------------------------------------------------------------------------------
# the outer walk: finds vectorized loops, innermost first, and tracks variable ranges

class _LoopVectorizer(Mutator):
    def __init__(self, masked_selects: bool = False):
        self.ranges: dict[Var, tuple[int, int]] = {}
        self.masked_selects = masked_selects

    def visit_For(self, node: For):
        saved = _bind_loop_range(self.ranges, node)
        body = self.visit(node.body)
        _restore(self.ranges, node.loop_var, saved)
        loop = node.replace(body=body)
        if loop.kind != ForKind.VECTORIZED:
            return loop
        lanes = op.as_const_int(loop.extent)
        if lanes is None or lanes <= 1 or _contains_vectors(loop.body):
            return loop.replace(kind=ForKind.SERIAL)
        try:
            return _vectorize_loop(loop, lanes, self.ranges, self.masked_selects)
        except _CannotVectorize:
            return loop.replace(kind=ForKind.SERIAL)

    def visit_LetStmt(self, node: LetStmt):
        saved = self.ranges.get(node.var)
        bounds = interval_of(node.value, self.ranges)
        if bounds is not None:
            self.ranges[node.var] = bounds
        body = self.visit(node.body)
        _restore(self.ranges, node.var, saved)
        return node.replace(body=body)


def interval_of(expr: PrimExpr, ranges) -> tuple[int, int] | None:
    """Inclusive integer bounds of ``expr`` over all its lanes when its variables range
    as ``ranges`` says (Var -> (low, high)); None when unbounded."""
    bounds = BoundEvaluator({var: ConstIntBound(*r) for var, r in ranges.items()})(expr)
    return (bounds.min_value, bounds.max_value) if bounds.is_bounded else None


def _bind_loop_range(ranges, loop: For):
    """Record the range of ``loop``'s variable; return what it replaced."""
    saved = ranges.get(loop.loop_var)
    low = interval_of(loop.min, ranges)
    extent = interval_of(loop.extent, ranges)
    if low is not None and extent is not None and extent[1] >= 1:
        ranges[loop.loop_var] = (low[0], low[1] + extent[1] - 1)
    else:
        ranges.pop(loop.loop_var, None)
    return saved


def _restore(ranges, var, saved) -> None:
    if saved is None:
        ranges.pop(var, None)
    else:
        ranges[var] = saved


class _VectorFinder(Visitor):
    def __init__(self):
        self.found = False

    def generic_visit(self, node):
        if isinstance(node, PrimExpr) and node.dtype.lanes > 1:
            self.found = True
            return
        if not self.found:
            Visitor.generic_visit(self, node)


def _contains_vectors(stmt) -> bool:
    """Whether ``stmt`` already holds vector values (an inner loop was vectorized)."""
    finder = _VectorFinder()
    finder.visit(stmt)
    return finder.found


def _vectorize_loop(loop: For, lanes: int, ranges, masked_selects: bool = False) -> object:
    var = loop.loop_var
    base = op.cast(loop.min, var.dtype)
    ramp = Ramp(base, IntImm(var.dtype, 1), lanes, var.dtype.with_lanes(lanes))
    vectorizer = _BodyVectorizer(var, ramp, lanes, dict(ranges))
    vectorizer.masked_selects = masked_selects
    body = vectorizer.visit(loop.body)
    if not lanes_are_independent(body, lanes, vectorizer.bound_inside, ranges):
        raise _CannotVectorize()
    return body


# ---------------------------------------------------------------------------------------
# the body vectorizer

_RAMP_FOLDABLE = (Add, Sub, Mul)


class _BodyVectorizer(Mutator):
    """Rewrites one loop body with its variable replaced by a ramp.

    Returns scalar expressions for lane-invariant parts and vector expressions (``lanes``
    lanes) for the rest; raises :class:`_CannotVectorize` for anything it cannot express.
    """

    def __init__(self, var: Var, ramp: Ramp, lanes: int, ranges):
        self.var = var
        self.ramp = ramp
        self.lanes = lanes
        self.ranges = ranges
        self.renamed: dict[Var, Var] = {}   # let variables that became vectors
        self.bound_inside: set[Var] = set()  # variables defined inside the body

    # -- helpers ---------------------------------------------------------------------
    def widen(self, value: PrimExpr) -> PrimExpr:
        if value.dtype.lanes == self.lanes:
            return value
        if value.dtype.lanes != 1:
            raise InternalError(f"vectorize: {value.dtype.lanes} lanes where 1 or "
                                f"{self.lanes} were expected in '{value}'")
        return Broadcast(value, self.lanes, value.dtype.with_lanes(self.lanes))

    def vector_type(self, node: PrimExpr):
        return node.dtype.with_lanes(self.lanes)

    @staticmethod
    def is_vector(value: PrimExpr) -> bool:
        return value.dtype.lanes > 1

    # -- leaves ----------------------------------------------------------------------
    def visit_Var(self, node: Var):
        if node is self.var:
            return self.ramp
        return self.renamed.get(node, node)

    def visit_ProducerLoad(self, node: ProducerLoad):
        raise _CannotVectorize()

    def visit_Reduce(self, node: Reduce):
        raise _CannotVectorize()

    def visit_Ramp(self, node: Ramp):
        raise _CannotVectorize()

    def visit_Broadcast(self, node: Broadcast):
        raise _CannotVectorize()

    # -- arithmetic ------------------------------------------------------------------
    def visit_BinaryOp(self, node: BinaryOp):
        a, b = self.visit(node.a), self.visit(node.b)
        if not self.is_vector(a) and not self.is_vector(b):
            return node.replace(a=a, b=b)
        if isinstance(node, _RAMP_FOLDABLE) and node.dtype.is_integer:
            folded = _fold_ramp(type(node), a, b, self.lanes)
            if folded is not None:
                return folded
        return type(node)(self.widen(a), self.widen(b), self.vector_type(node))

    def visit_Not(self, node: Not):
        a = self.visit(node.a)
        if not self.is_vector(a):
            return node.replace(a=a)
        return Not(a, self.vector_type(node))

    def visit_Cast(self, node: Cast):
        value = self.visit(node.value)
        if not self.is_vector(value):
            return node.replace(value=value)
        return Cast(self.vector_type(node), value)

    def visit_Call(self, node: Call):
        if node.op == "tl.likely":  # a hint for loop partitioning, which ran already
            return self.visit(node.args[0])
        if node.op not in op.INTRINSICS:
            raise _CannotVectorize()  # builtins may have effects: keep them per lane
        args = self.visit_tuple(node.args)
        if not any(self.is_vector(a) for a in args):
            return node.replace(args=args)
        return Call(self.vector_type(node), node.op, tuple(self.widen(a) for a in args))

    def visit_Select(self, node: Select):
        cond = self.visit(node.condition)
        true_value, false_value = self.visit(node.true_value), self.visit(node.false_value)
        if not any(self.is_vector(x) for x in (cond, true_value, false_value)):
            return node.replace(condition=cond, true_value=true_value,
                                false_value=false_value)
        # A vector select evaluates both sides for every lane: make them safe to evaluate
        # (loads are safe already where the backend masks each side's lanes).
        true_value = self.speculate(self.widen(true_value), self.masked_selects)
        false_value = self.speculate(self.widen(false_value), self.masked_selects)
        return Select(cond, true_value, false_value, self.vector_type(node))

    def visit_Let(self, node: Let):
        value = self.visit(node.value)
        self.bound_inside.add(node.var)
        if not self.is_vector(value):
            return node.replace(value=value, body=self.visit(node.body))
        new_var = Var(node.var.name, value.dtype)
        self.bound_inside.add(new_var)
        self.renamed[node.var] = new_var
        bounds = interval_of(value, self.ranges)
        if bounds is not None:
            self.ranges[new_var] = bounds
        body = self.widen(self.visit(node.body))
        return Let(new_var, value, body, body.dtype)

    # -- memory ----------------------------------------------------------------------
    def visit_BufferLoad(self, node: BufferLoad):
        indices = self.visit_tuple(node.indices)
        if indices is node.indices:
            return node
        lanes = max(i.dtype.lanes for i in indices)
        return BufferLoad(node.buffer, indices, node.buffer.dtype.with_lanes(lanes))

    def visit_BufferStore(self, node: BufferStore):
        indices = self.visit_tuple(node.indices)
        value = self.visit(node.value)
        if any(self.is_vector(i) for i in indices):
            value = self.widen(value)
        elif self.is_vector(value):
            raise _CannotVectorize()  # every lane writes the same element
        return node.replace(value=value, indices=indices)

    # -- statements ------------------------------------------------------------------
    def visit_For(self, node: For):
        low, extent = self.visit(node.min), self.visit(node.extent)
        if self.is_vector(low) or self.is_vector(extent) or \
                node.kind == ForKind.THREAD_BINDING:
            raise _CannotVectorize()
        self.bound_inside.add(node.loop_var)
        saved = _bind_loop_range(self.ranges, node)
        body = self.visit(node.body)
        _restore(self.ranges, node.loop_var, saved)
        return node.replace(min=low, extent=extent, body=body)

    def visit_LetStmt(self, node: LetStmt):
        value = self.visit(node.value)
        self.bound_inside.add(node.var)
        var = node.var
        if self.is_vector(value):
            var = Var(node.var.name, value.dtype)
            self.renamed[node.var] = var
            self.bound_inside.add(var)
        bounds = interval_of(value, self.ranges)
        if bounds is not None:
            self.ranges[var] = bounds
        body = self.visit(node.body)
        return node.replace(var=var, value=value, body=body)

    def visit_Allocate(self, node: Allocate):
        raise _CannotVectorize()

    def visit_Evaluate(self, node: Evaluate):
        if isinstance(node.value, IntImm):
            return node
        raise _CannotVectorize()

    def visit_AttrStmt(self, node: AttrStmt):
        value = self.visit(node.value)
        if self.is_vector(value):
            raise _CannotVectorize()
        return node.replace(value=value, body=self.visit(node.body))

    def visit_IfThenElse(self, node: IfThenElse):
        cond = self.visit(node.condition)
        if not self.is_vector(cond):
            then_case = self.visit(node.then_case)
            else_case = None if node.else_case is None else self.visit(node.else_case)
            return node.replace(condition=cond, then_case=then_case, else_case=else_case)
        then_case = self.predicate(node.then_case, cond)
        if node.else_case is None:
            return then_case
        return seq(then_case, self.predicate(node.else_case, Not(cond, cond.dtype)))

    # -- predication -----------------------------------------------------------------
    def predicate(self, stmt, mask: PrimExpr):
        """``stmt`` executed only in the lanes where the vector ``mask`` holds, as stores
        of ``select(mask, new, old)``."""
        if loaded_buffers(mask) & stored_buffers(stmt):
            raise _CannotVectorize()  # the mask would change under its own stores
        return self._predicate(stmt, mask)

    def _predicate(self, stmt, mask: PrimExpr):
        if isinstance(stmt, SeqStmt):
            return seq(*(self._predicate(s, mask) for s in stmt.seq))
        if isinstance(stmt, Evaluate) and isinstance(stmt.value, IntImm):
            return stmt
        if isinstance(stmt, IfThenElse):
            inner = self.speculate(self.widen(self.visit(stmt.condition)))
            then_case = self._predicate(stmt.then_case, And(mask, inner, mask.dtype))
            if stmt.else_case is None:
                return then_case
            other = And(mask, Not(inner, inner.dtype), mask.dtype)
            return seq(then_case, self._predicate(stmt.else_case, other))
        if isinstance(stmt, BufferStore):
            store = self.visit(stmt)
            if not any(self.is_vector(i) for i in store.indices):
                raise _CannotVectorize()
            if not all(_index_in_bounds(index, extent, self.ranges) == (True, True)
                       for index, extent in zip(store.indices, store.buffer.shape)):
                raise _CannotVectorize()  # the old value cannot be loaded and rewritten
            old = BufferLoad(store.buffer, store.indices, store.value.dtype)
            value = Select(mask, self.speculate(store.value), old, store.value.dtype)
            return store.replace(value=value)
        raise _CannotVectorize()

    #: whether the backend evaluates the branches of a vector select with only the lanes
    #: that take them (see :func:`vectorize_loops`)
    masked_selects = False

    def speculate(self, value: PrimExpr, masked: bool = False) -> PrimExpr:
        """``value`` made safe to evaluate in lanes where the program did not evaluate it
        (``masked``: loads read only the lanes that use them; divisions still trap)."""
        return _Speculator(self.ranges, clamp_loads=not masked).visit(value)


def _fold_ramp(cls, a: PrimExpr, b: PrimExpr, lanes: int):
    """``a op b`` as a Ramp or Broadcast when one exists, else None."""
    def as_ramp(x):
        if isinstance(x, Ramp):
            return x.base, x.stride
        if isinstance(x, Broadcast):
            return x.value, IntImm(x.value.dtype, 0)
        if x.dtype.lanes == 1:
            return x, IntImm(x.dtype, 0)
        return None

    ra, rb = as_ramp(a), as_ramp(b)
    if ra is None or rb is None:
        return None
    (base_a, stride_a), (base_b, stride_b) = ra, rb
    if cls is Add:
        base, stride = op.add(base_a, base_b), op.add(stride_a, stride_b)
    elif cls is Sub:
        base, stride = op.sub(base_a, base_b), op.sub(stride_a, stride_b)
    else:
        if not (op.is_const_int(stride_a, 0) or op.is_const_int(stride_b, 0)):
            return None  # ramp * ramp is quadratic in the lane
        base = op.mul(base_a, base_b)
        stride = op.mul(stride_a, base_b) if op.is_const_int(stride_b, 0) \
            else op.mul(base_a, stride_b)
    if op.is_const_int(stride, 0):
        return Broadcast(base, lanes, base.dtype.with_lanes(lanes))
    return Ramp(base, stride, lanes, base.dtype.with_lanes(lanes))


# ---------------------------------------------------------------------------------------
# speculation safety

def _index_in_bounds(index: PrimExpr, extent: PrimExpr, ranges) -> tuple[bool, bool]:
    """Whether ``index`` is provably >= 0, and provably < ``extent``, in every lane."""
    bounds = interval_of(index, ranges)
    if bounds is None:
        return False, False
    extent_bounds = interval_of(extent, ranges)
    upper_ok = extent_bounds is not None and bounds[1] <= extent_bounds[0] - 1
    return bounds[0] >= 0, upper_ok


class _Speculator(Mutator):
    """Clamps load indices not provably in bounds; refuses integer division by values
    that might be zero (which would trap in lanes the program never computed)."""

    def __init__(self, ranges, clamp_loads: bool = True):
        self.ranges = ranges
        self.clamp_loads = clamp_loads

    def visit_BufferLoad(self, node: BufferLoad):
        if not self.clamp_loads:
            return Mutator.generic_visit(self, node)
        indices = list(self.visit_tuple(node.indices))
        for dim, (index, extent) in enumerate(zip(indices, node.buffer.shape)):
            low_ok, high_ok = _index_in_bounds(index, extent, self.ranges)
            if not high_ok:
                index = op.minimum(index, op.sub(op.cast(extent, index.dtype.element_of()), 1))
            if not low_ok:
                index = op.maximum(index, 0)
            indices[dim] = index
        indices = tuple(indices)
        if all(x is y for x, y in zip(indices, node.indices)):
            return node
        return node.replace(indices=indices)

    def _division(self, node):
        bounds = interval_of(node.b, self.ranges)
        if bounds is None or bounds[0] <= 0 <= bounds[1]:
            raise _CannotVectorize()
        return Mutator.generic_visit(self, node)

    visit_FloorDiv = _division
    visit_FloorMod = _division

    def visit_Call(self, node: Call):
        if node.op not in op.INTRINSICS and node.op != "tl.likely":
            raise _CannotVectorize()
        return Mutator.generic_visit(self, node)

    def visit_Let(self, node: Let):
        saved = self.ranges.get(node.var)
        bounds = interval_of(node.value, self.ranges)
        if bounds is not None:
            self.ranges[node.var] = bounds
        try:
            return Mutator.generic_visit(self, node)
        finally:
            _restore(self.ranges, node.var, saved)
