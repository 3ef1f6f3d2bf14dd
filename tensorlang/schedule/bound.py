"""Bound inference: the range of every loop of every stage.

For each stage, consumers first, the region of the stage that must be computed at its
attach point is the union of what its consumers read while the consumer loops *inside*
the attach point run over their ranges and the loops at or outside it stay fixed (TVM's
InferRootBound).  Thread-bound loops are relaxed as the memory scope requires: a
``shared`` buffer is filled by all threads of a block, a ``global`` one by all blocks.
Ranges then flow from an operation's axes down to the leaf loops through the split and
fuse relations.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import LoweringError
from ..tir import expr as E
from ..tir import op as O
from ..tir.arith import (LinearSum, floordiv_bound, interval_union, is_point_interval, linear,
                         linear_interval, relax, upper_bound)
from ..tir.datatype import int32
from ..tir.functor import Mutator, Visitor
from ..tir.transform.substitute import substitute
from .stage import INLINE, SCOPE, Singleton, Split

_SCOPE_RANK = {"global": 0, "shared": 1, "local": 2}

#: what an extern stage reads of each of its inputs (in place of a list of loads)
WHOLE = "whole"


@dataclass(eq=False)
class Bounds:
    """Result of bound inference.

    ``ranges[iv] = (min, extent)`` as linear forms (:class:`LinearSum`) for every
    iteration variable of every computed stage (roots: absolute ``min``; split/fuse
    results: ``min`` 0).
    ``loop_dom[var] = (0, extent - 1)`` for every loop variable, for proofs."""
    ranges: dict
    loop_dom: dict
    bodies: dict
    scopes: dict   # stage -> memory scope of its buffer (storage_scope)


def thread_of(stage, iv):
    attr = stage.iter_attrs.get(iv)
    return None if attr is None else attr.thread


def loop_var(stage, iv) -> E.Var:
    """The variable a leaf loop runs: the thread index when bound, else its own."""
    thread = thread_of(stage, iv)
    return thread.var if thread is not None else iv.var


def _need_relax(thread, found_attach: bool, scope: str) -> bool:
    if thread is None:
        return not found_attach
    tag = thread.thread_tag
    tag_rank = 0 if tag.startswith("blockIdx") else 1
    return _SCOPE_RANK.get(scope, 0) <= tag_rank


# ---------------------------------------------------------------------------------------
# inlining
class _Inline(Mutator):
    def __init__(self, schedule, inlined):
        self.schedule = schedule
        self.inlined = inlined  # stage -> (axis vars, body)

    def visit_ProducerLoad(self, node):
        indices = self.visit_tuple(node.indices)
        stage = self.schedule.stage_map[node.producer.op]
        entry = self.inlined.get(stage)
        if entry is None:
            return node.replace(indices=indices)
        axis_vars, body = entry
        return substitute(body, dict(zip(axis_vars, indices)))


def inline_bodies(schedule, stored=()) -> dict:
    """The body of every computed, non-inlined stage with inlined producers substituted;
    of the inlined stages in ``stored`` too (inlined into their consumers, and stored
    because the function's arguments hold them)."""
    inlined: dict = {}
    bodies: dict = {}
    mutator = _Inline(schedule, inlined)
    for stage in schedule.stages:
        if stage.is_placeholder or stage.is_scan:
            continue
        if stage.is_extern:
            bodies[stage] = []   # calls over whole buffers: no expressions to inline into
            continue
        body = [mutator.visit(b) for b in stage.op.body]
        if stage.attach_type == INLINE:
            inlined[stage] = ([iv.var for iv in stage.op.axis], body[0])
        if stage.attach_type != INLINE or stage in stored:
            bodies[stage] = body
    return bodies


class _CollectReads(Visitor):
    def __init__(self):
        self.reads: list[E.ProducerLoad] = []

    def visit_ProducerLoad(self, node):
        self.reads.append(node)
        self.generic_visit(node)


def collect_reads(exprs) -> list[E.ProducerLoad]:
    collector = _CollectReads()
    for e in exprs:
        collector.visit(e)
    return collector.reads


# ---------------------------------------------------------------------------------------
# passing ranges through relations
def _ceildiv(extent: LinearSum, factor: int) -> LinearSum:
    if extent.is_const():
        return LinearSum.of_const(-(-extent.const // factor))
    if all(coef % factor == 0 for _, coef in extent.terms.values()):
        # (f * a + c) / f rounded up is a + ceil(c / f): split(8 * m, 8) has m steps
        exact = LinearSum(extent.dtype, -(-extent.const // factor))
        for key, (atom, coef) in extent.terms.items():
            exact.add_term(key, atom, coef // factor)
        return exact
    return linear(O.floordiv(extent.plus(factor - 1).to_expr(int32), factor))


def _times(a: LinearSum, b: LinearSum, dtype) -> LinearSum:
    """``a * b``, multiplied in ``dtype`` (a fused loop's type: 64-bit where the product
    of two 32-bit extents may pass 2**31)."""
    if a.is_const():
        return b.scale(a.const)
    if b.is_const():
        return a.scale(b.const)
    return linear(O.mul(_widened(a.to_expr(dtype), dtype), _widened(b.to_expr(dtype), dtype)))


def _widened(expr, dtype):
    return O.cast(expr, dtype) if expr.dtype.bits < dtype.bits else expr


def pass_down(stage, ranges: dict) -> None:
    """Extents of split/fuse results from the extents of their inputs."""
    zero = LinearSum.of_const(0)
    for rel in stage.relations:
        if isinstance(rel, Split):
            extent = ranges[rel.parent][1]
            if rel.factor is not None:
                outer, inner = _ceildiv(extent, rel.factor), LinearSum.of_const(rel.factor)
                if extent.is_const() and extent.const < rel.factor and \
                        not _thread_bound(stage, rel.inner):
                    # a factor past the extent: one step of the whole axis, no guard (in
                    # a stage bound to threads the launch keeps the size the schedule gave)
                    outer, inner = LinearSum.of_const(1), LinearSum.of_const(extent.const)
            else:
                outer, inner = LinearSum.of_const(rel.nparts), _ceildiv(extent, rel.nparts)
                if extent.is_const() and extent.const < rel.nparts and \
                        not _thread_bound(stage, rel.outer):
                    outer = LinearSum.of_const(extent.const)
            ranges[rel.outer] = (zero, outer)
            ranges[rel.inner] = (zero, inner)
        elif isinstance(rel, Singleton):
            ranges[rel.iter_var] = (zero, LinearSum.of_const(1))
        else:
            ranges[rel.fused] = (zero, _times(ranges[rel.outer][1], ranges[rel.inner][1],
                                              rel.fused.var.dtype))


def _thread_bound(stage, iv) -> bool:
    """Whether the stage binds loops to threads: its splits then keep the extents the
    schedule gave (the launch's size, shared by the stages of the kernel)."""
    return any(attr.thread is not None for attr in stage.iter_attrs.values())


def _full(extent: LinearSum):
    return (LinearSum.of_const(0), extent.plus(-1))


def _covers(interval, extent: LinearSum) -> bool:
    lo, hi = interval
    if lo is None or hi is None or not lo.is_const() or lo.const != 0:
        return False
    d = hi.sub(extent)
    return d.is_const() and d.const == -1


def pass_up(stage, ranges: dict, state: dict) -> None:
    """Offset intervals of the operation's axes from those of the leaves (``state``)."""
    for rel in reversed(stage.relations):
        if isinstance(rel, Singleton):
            continue
        if isinstance(rel, Split):
            outer, inner = state[rel.outer], state[rel.inner]
            if _covers(outer, ranges[rel.outer][1]) and _covers(inner, ranges[rel.inner][1]):
                state[rel.parent] = _full(ranges[rel.parent][1])
                continue
            factor = ranges[rel.inner][1]
            if factor.is_const():
                lo = None if outer[0] is None or inner[0] is None else \
                    outer[0].scale(factor.const).add(inner[0])
                hi = None if outer[1] is None or inner[1] is None else \
                    outer[1].scale(factor.const).add(inner[1])
                state[rel.parent] = (lo, hi)
            else:
                state[rel.parent] = _full(ranges[rel.parent][1])
        else:
            fused = state[rel.fused]
            inner_extent = ranges[rel.inner][1]
            if _covers(fused, ranges[rel.fused][1]) or not inner_extent.is_const():
                state[rel.outer] = _full(ranges[rel.outer][1])
                state[rel.inner] = _full(inner_extent)
            elif is_point_interval(fused):
                value = fused[0].to_expr(int32)
                c = inner_extent.const
                outer = linear(O.floordiv(value, c))
                inner = linear(O.floormod(value, c))
                state[rel.outer] = (outer, outer)
                state[rel.inner] = (inner, inner)
            else:
                c = inner_extent.const
                state[rel.outer] = (floordiv_bound(fused[0], c), floordiv_bound(fused[1], c))
                state[rel.inner] = _full(inner_extent)


# ---------------------------------------------------------------------------------------
def attach_path(stage, cache: dict) -> list:
    """``(stage, iv)`` for the loops enclosing ``stage``'s attach point, innermost first."""
    path = cache.get(stage)
    if path is not None:
        return path
    path = []
    if stage.attach_type == SCOPE:
        parent = stage.attach_stage
        k = parent.leaf_index(stage.attach_ivar)
        if k < 0 or parent.attach_type == INLINE:
            raise LoweringError(
                f"stage '{stage.name}' is computed at axis '{stage.attach_ivar.var.name}' of "
                f"stage '{parent.name}', which is no longer a loop of '{parent.name}' (it was "
                f"split, fused or inlined afterwards); call compute_at with a current leaf")
        path = [(parent, iv) for iv in reversed(parent.leaf_iter_vars[:k + 1])]
        path += attach_path(parent, cache)
    cache[stage] = path
    return path


def storage_scope(stage, paths: dict) -> str:
    """The memory scope of ``stage``'s buffer: the one given (set_scope, cache_read /
    cache_write), else inferred from where it is computed, as TVM does: inside a loop bound
    to ``threadIdx``, ``local`` (each thread computes its own copy); inside loops bound to
    ``blockIdx`` only, ``shared`` (one copy per block); elsewhere ``global``."""
    if stage.scope_given or stage.attach_type != SCOPE:
        return stage.scope
    tags = [thread.thread_tag for thread in (thread_of(o, iv) for o, iv in
                                             attach_path(stage, paths)) if thread is not None]
    if any(tag.startswith("threadIdx") for tag in tags):
        return "local"
    if any(tag.startswith("blockIdx") for tag in tags):
        return "shared"
    return stage.scope


def infer_bounds(schedule, bodies: dict) -> Bounds:
    """Ranges of all iteration variables of the computed stages of ``schedule``."""
    ranges: dict = {}
    paths: dict = {}
    loop_dom: dict = {}  # loop variable -> (0, extent - 1), consumers first
    readers: dict = {}  # producer stage -> [(consumer stage, [ProducerLoad])]
    scopes = {stage: storage_scope(stage, paths) for stage in bodies}
    for stage, body in bodies.items():
        grouped: dict = {}
        for load in collect_reads(body):
            producer = schedule.stage_map[load.producer.op]
            grouped.setdefault(producer, []).append(load)
        for producer, loads in grouped.items():
            readers.setdefault(producer, []).append((stage, loads))
        if stage.is_extern:
            # the called function reads every input whole
            for tensor in dict.fromkeys(stage.op.inputs):
                producer = schedule.stage_map[tensor.op]
                readers.setdefault(producer, []).append((stage, WHOLE))
    for stage in reversed(schedule.stages):
        if stage.is_scan:
            _scan_ranges(stage, ranges, loop_dom)
            continue
        if stage not in bodies:
            continue
        op = stage.op
        consumers = readers.get(stage, [])
        role = schedule.scan_role(stage)
        if role is not None and role[0] == "update":
            _update_ranges(stage, role[1], ranges)
        elif stage.is_output or not consumers or stage.is_extern:
            for iv in op.axis:
                ranges[iv] = (linear(iv.dom.min), linear(iv.dom.extent))
        else:
            _infer_root(stage, op, consumers, ranges, paths, loop_dom, scopes[stage])
        for iv in op.own_reduce_axis:
            ranges[iv] = (linear(iv.dom.min), linear(iv.dom.extent))
        pass_down(stage, ranges)
        for iv in stage.leaf_iter_vars:
            loop_dom[loop_var(stage, iv)] = _full(ranges[iv][1])
    return Bounds(ranges, loop_dom, bodies, scopes)


def _scan_ranges(stage, ranges, loop_dom) -> None:
    """A scan loops over the steps after its init: ``scan_axis`` as declared (split or
    fused into several loops, in order)."""
    iv = stage.op.scan_axis
    ranges[iv] = (linear(iv.dom.min), linear(iv.dom.extent))
    pass_down(stage, ranges)
    for leaf in stage.leaf_iter_vars:
        loop_dom[loop_var(stage, leaf)] = _full(ranges[leaf][1])


def scan_step(scan, ranges) -> E.PrimExpr:
    """The step a scan's loops are at: the offset of its scan axis from the leaf loops
    (a loop of one iteration stands for 0, as lowering emits no loop for it)."""
    values = {}
    for leaf in scan.leaf_iter_vars:
        extent = ranges[leaf][1]
        values[leaf] = E.IntImm(leaf.var.dtype, 0) if extent.is_const() and \
            extent.const == 1 else loop_var(scan, leaf)
    for rel in reversed(scan.relations):
        if isinstance(rel, Singleton):
            continue
        if isinstance(rel, Split):
            factor = ranges[rel.inner][1].to_expr(rel.parent.var.dtype)
            values[rel.parent] = O.add(O.mul(values[rel.outer], factor), values[rel.inner])
        else:
            extent = ranges[rel.inner][1].to_expr(rel.fused.var.dtype)
            values[rel.outer] = O.floordiv(values[rel.fused], extent)
            values[rel.inner] = O.floormod(values[rel.fused], extent)
    return values[scan.op.scan_axis]


def _update_ranges(stage, scan, ranges) -> None:
    """Each step of ``scan`` computes its update at the step's time point, all of it:
    the update writes the scan's output, which is there in full."""
    time, *others = stage.op.axis
    step = ranges[scan.op.scan_axis][0].add(linear(scan_step(scan, ranges)))
    ranges[time] = (step, LinearSum.of_const(1))
    for iv in others:
        ranges[iv] = (linear(iv.dom.min), linear(iv.dom.extent))


def _encloses(owner, iv, consumer, paths) -> bool:
    """Whether loop ``iv`` of stage ``owner`` encloses the body of ``consumer``: the
    consumer is ``owner`` itself or is computed at ``iv`` or at a loop inside it."""
    if consumer is owner:
        return True
    return any(o is owner and v is iv for o, v in attach_path(consumer, paths))


def _check_consumers_inside(stage, consumers, paths) -> None:
    """A stage computed at a loop lives in a buffer allocated in that loop's body, so every
    consumer must run inside that loop: refuse the schedule otherwise, naming a loop that
    encloses all of them (the innermost) as the place to compute the stage instead."""
    owner, ivar = stage.attach_stage, stage.attach_ivar
    outside = [c for c in consumers if not _encloses(owner, ivar, c, paths)]
    if not outside:
        return
    names = ", ".join(f"'{c.name}'" for c in outside)
    noun, verb = ("consumer", "reads") if len(outside) == 1 else ("consumers", "read")
    common = next(((o, v) for o, v in attach_path(stage, paths)
                   if all(_encloses(o, v, c, paths) for c in consumers)), None)
    if common is None:
        fix = f"s[{stage.name}].compute_root()"
    else:
        fix = f"s[{stage.name}].compute_at(s[{common[0].name}], {common[1].var.name})"
    raise LoweringError(
        f"stage '{stage.name}' is computed at axis '{ivar.var.name}' of stage "
        f"'{owner.name}', but its {noun} {names} {verb} it outside that loop, where its "
        f"buffer does not exist; compute '{stage.name}' at a loop that encloses all of its "
        f"consumers ({fix}), or compute the {noun} inside that loop too")


def _infer_root(stage, op, consumers, ranges, paths, loop_dom, scope: str) -> None:
    own_path = attach_path(stage, paths)
    stage_attach = {id(iv) for _, iv in own_path}
    region = [None] * len(op.axis)
    if own_path:
        _check_consumers_inside(stage, [c for c, _ in consumers], paths)
    for consumer, loads in consumers:
        if loads is WHOLE:
            for d, iv in enumerate(op.axis):
                lo = linear(iv.dom.min)
                whole = (lo, lo.add(linear(iv.dom.extent)).plus(-1))
                region[d] = whole if region[d] is None else interval_union(region[d], whole)
            continue
        found = False
        state: dict = {}
        for iv in reversed(consumer.leaf_iter_vars):
            if id(iv) in stage_attach:
                found = True
            extent = ranges[iv][1]
            if extent.is_const() and extent.const == 1:
                state[iv] = (LinearSum.of_const(0), LinearSum.of_const(0))
            elif _need_relax(thread_of(consumer, iv), found, scope):
                state[iv] = _full(extent)
            else:
                p = LinearSum.of_atom(loop_var(consumer, iv))
                state[iv] = (p, p)
        relax_dom: dict = {}
        for owner, iv in attach_path(consumer, paths):
            if id(iv) in stage_attach:
                found = True
            if _need_relax(thread_of(owner, iv), found, scope):
                relax_dom[loop_var(owner, iv)] = _full(ranges[iv][1])
        pass_up(consumer, ranges, state)
        dom = {}
        for iv in consumer.op.axis + consumer.op.own_reduce_axis:
            lo, hi = state[iv]
            base = ranges[iv][0]
            interval = (None if lo is None else base.add(lo), None if hi is None else base.add(hi))
            dom[iv.var] = relax(interval, relax_dom) if relax_dom else interval
        for load in loads:
            for d, index in enumerate(load.indices):
                interval = linear_interval(index, dom)
                region[d] = interval if region[d] is None else interval_union(region[d], interval)
    for d, iv in enumerate(op.axis):
        dom_min, dom_extent = linear(iv.dom.min), linear(iv.dom.extent)
        lo, hi = region[d] if region[d] is not None else (None, None)
        if lo is None or hi is None:
            ranges[iv] = (dom_min, dom_extent)
            continue
        if lo.is_const() and dom_min.is_const():
            lo = LinearSum.of_const(max(lo.const, dom_min.const))
        if hi.is_const() and dom_min.is_const() and dom_extent.is_const():
            hi = LinearSum.of_const(min(hi.const, dom_min.const + dom_extent.const - 1))
        extent = hi.sub(lo).plus(1)
        if not extent.is_const():
            # An extent that varies with the enclosing loops (a fused or divided index)
            # is widened to its constant bound: the extra points lie inside the
            # operation's domain or are guarded, and constant extents make fixed-size
            # buffers and vectorizable loops.
            bound = upper_bound(extent, loop_dom)
            if bound is not None:
                extent = LinearSum.of_const(bound)
        ranges[iv] = (lo, extent)


__all__ = ["Bounds", "infer_bounds", "storage_scope", "inline_bodies", "collect_reads",
           "pass_down", "pass_up", "attach_path", "loop_var", "thread_of", "scan_step"]
