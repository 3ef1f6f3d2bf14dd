"""``cache_read`` and ``cache_write``: stage data through a buffer in another memory scope."""
from __future__ import annotations

from ..errors import ScheduleError
from ..te.graph import ComputeOp, Tensor
from ..tir import expr as E
from ..tir.functor import Mutator
from ..tir.transform.substitute import substitute
from ..tir.op import const
from .schedule import rebuild_compute, rebuild_reading
from .stage import INLINE, SCOPE, Stage, check_scope
from .steps import CacheRead, CacheWrite


def _tensor_arg(schedule, tensor, prim: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise ScheduleError(f"{prim}: expected a tensor, got {tensor!r}")
    schedule[tensor]  # raises when foreign
    return schedule.current_tensor(tensor)


def _copy_axes(shape, names) -> tuple[E.IterVar, ...]:
    return tuple(E.IterVar(E.Var(n, s.dtype), E.Range(const(0, s.dtype), s), E.DATA_PAR)
                 for n, s in zip(names, shape))


class _PermutedReads(Mutator):
    """Reads of ``tensor`` become reads of ``copy``, whose dimension ``k`` is dimension
    ``order[k]`` of ``tensor``."""

    def __init__(self, tensor, copy, order):
        self.tensor, self.copy, self.order = tensor, copy, order

    def visit_ProducerLoad(self, node):
        indices = self.visit_tuple(node.indices)
        if node.producer is not self.tensor:
            return node.replace(indices=indices)
        return E.ProducerLoad(self.copy, tuple(indices[d] for d in self.order), node.dtype)


def _layout(axes, ndim: int, prim: str, name: str):
    """The dimension order of a cache (``axes``: a permutation of ``range(ndim)``, the
    tensor's dimension each of the cache's holds, outer first), or None for the tensor's
    own."""
    if axes is None:
        return None
    order = tuple(axes) if isinstance(axes, (list, tuple)) else None
    if order is None or sorted(order) != list(range(ndim)) or \
            not all(isinstance(d, int) and not isinstance(d, bool) for d in order):
        raise ScheduleError(f"{prim}: axes must order the {ndim} dimensions of '{name}' "
                            f"(a permutation of {tuple(range(ndim))}), got {axes!r}")
    return None if order == tuple(range(ndim)) else order


def cache_read(schedule, tensor, scope: str, readers, axes=None) -> Tensor:
    """``AA = s.cache_read(A, "shared", [C])``: ``readers`` read ``AA``, a copy of ``A``
    in ``scope`` computed by a new stage.  ``axes``: the dimensions of ``A`` in the order
    the copy stores them (``axes=(0, 2, 1)`` transposes the last two, so that a product
    reading ``B[b, j, k]`` along ``j`` reads the copy contiguously); the readers then read
    the copy with their indices in that order."""
    name = getattr(tensor, "name", repr(tensor))
    prim = f"cache_read({name}, {scope!r})"
    current = _tensor_arg(schedule, tensor, prim)
    order = _layout(axes, len(current.shape), prim, name)
    producer = schedule[tensor]
    check_scope(scope, prim, producer.name)
    if isinstance(readers, (Tensor, Stage)):
        readers = [readers]   # TVM accepts one reader without a list
    if not isinstance(readers, (list, tuple)) or not readers:
        raise ScheduleError(f"{prim}: readers must be a non-empty list of tensors or stages "
                            f"that read '{name}', got {readers!r}")
    reader_stages: list[Stage] = []
    for r in readers:
        try:
            stage = schedule[r]
        except (ScheduleError, AttributeError):
            raise ScheduleError(f"{prim}: reader {r!r} is not a stage of this schedule") \
                from None
        if stage.is_scan:
            raise ScheduleError(f"{prim}: stage '{stage.name}' is a scan, which holds "
                                f"'{name}' in its own output rather than reading it; the "
                                f"readers of a cache are stages that index '{name}'")
        if not any(t is current for t in getattr(stage.op, "input_tensors", ())):
            raise ScheduleError(f"{prim}: stage '{stage.name}' does not read '{name}'; "
                                f"readers must read the cached tensor directly")
        if order is not None and not isinstance(stage.op, ComputeOp):
            raise ScheduleError(f"{prim}: stage '{stage.name}' is not a te.compute stage; "
                                f"only those can read a copy of '{name}' with its "
                                f"dimensions reordered (axes={axes!r})")
        if not any(s is stage for s in reader_stages):
            reader_stages.append(stage)
    dims = order or tuple(range(len(current.shape)))
    axes_ = _copy_axes([current.shape[d] for d in dims],
                       [f"ax{k}" for k in range(len(current.shape))])
    index = [None] * len(dims)
    for k, d in enumerate(dims):
        index[d] = axes_[k].var
    body = E.ProducerLoad(current, tuple(index), current.dtype)
    cache_op = ComputeOp(f"{current.name}.{scope}", "", {}, axes_, [body])
    position = schedule.stages.index(producer) + 1
    cache_stage = schedule.add_stage(cache_op, position)
    cache_stage.scope, cache_stage.scope_given = scope, True
    for stage in reader_stages:
        old = stage.op
        if order is None:
            new_op = rebuild_reading(old, {current: cache_op.output(0)})
        else:
            mutator = _PermutedReads(current, cache_op.output(0), order)
            new_op = rebuild_compute(old, [mutator.visit(b) for b in old.body])
        schedule.set_stage_op(stage, new_op, keep_loops=True)
        schedule.replace_dataflow(dict(zip(old.outputs, new_op.outputs)))
    schedule.record(CacheRead(producer.name, tensor.value_index, scope,
                              tuple(s.name for s in reader_stages), (cache_stage.name,),
                              order))
    return cache_op.output(0)


class _RenameAxes(Mutator):
    """Substitute axis variables, rebuilding Reduce nodes over renamed reduce axes."""

    def __init__(self, var_map, iv_map):
        self.var_map = var_map
        self.iv_map = iv_map

    def visit_Var(self, node):
        return self.var_map.get(node, node)

    def visit_Reduce(self, node):
        changed = self.generic_visit(node)
        combiner = node.combiner
        # a reducer's combination and identity may use the axes (te.comm_reducer over
        # lambda x, y: te.max(x + y, n)): they are renamed with the body
        result, identity = self.visit_tuple(combiner.result), self.visit_tuple(combiner.identity)
        if result is not combiner.result or identity is not combiner.identity:
            combiner = combiner.replace(result=result, identity=identity)
        return E.Reduce(combiner, changed.source, tuple(self.iv_map[a] for a in node.axis),
                        changed.condition, node.value_index, node.dtype, changed.init)


def copy_with_new_axes(op: ComputeOp, name: str, suffix: str = ""):
    """The body of ``op`` over fresh axes: ``(axes, reduce_axes, body)``; the reduce axes'
    ranges, which may use the spatial axes (``te.reduce_axis((0, i))``), follow."""
    axes = tuple(E.IterVar(E.Var(iv.var.name + suffix, iv.var.dtype), iv.dom, E.DATA_PAR)
                 for iv in op.axis)
    spatial = {old.var: new.var for old, new in zip(op.axis, axes)}
    red = tuple(E.IterVar(E.Var(iv.var.name, iv.var.dtype),
                          E.Range(substitute(iv.dom.min, spatial),
                                  substitute(iv.dom.extent, spatial)), E.REDUCE)
                for iv in op.own_reduce_axis)
    var_map = {old.var: new.var for old, new in zip(op.axis + op.own_reduce_axis, axes + red)}
    iv_map = dict(zip(op.own_reduce_axis, red))
    renamer = _RenameAxes(var_map, iv_map)
    return axes, red, [renamer.visit(b) for b in op.body]


def _spatial_loops(stage, prim: str):
    """What ``stage`` keeps of its loops through cache_write: None when untouched, else
    ``(relations, all_iter_vars, leaf_iter_vars, iter_attrs)`` without the reduction
    axes, which move to the new stage (refused where they were already scheduled)."""
    scheduled = stage.relations or stage.iter_attrs or \
        any(a is not b for a, b in zip(stage.leaf_iter_vars, stage.root_iter_vars))
    if not scheduled:
        return None
    roots = list(stage.op.own_reduce_axis)
    touched = [iv for iv in stage.all_iter_vars if iv.iter_type == E.REDUCE and
               (iv in stage.iter_attrs or not any(iv is r for r in roots))]
    tail = stage.leaf_iter_vars[len(stage.leaf_iter_vars) - len(roots):]
    moved = [r for r, leaf in zip(roots, tail) if r is not leaf] if roots else []
    if touched or moved:
        axis = (touched or moved)[0].var.name
        raise ScheduleError(f"{prim} on stage '{stage.name}': the reduction axis '{axis}' "
                            f"was already split, reordered or annotated; the reduction moves "
                            f"to the new stage, whose loops start afresh: call cache_write "
                            f"before scheduling the reduction of '{stage.name}', then "
                            f"schedule the returned stage's s[CC].op.reduce_axis")
    spatial = [iv for iv in stage.all_iter_vars if iv.iter_type != E.REDUCE]
    leaves = [iv for iv in stage.leaf_iter_vars if iv.iter_type != E.REDUCE]
    return list(stage.relations), spatial, leaves, dict(stage.iter_attrs)


def cache_write(schedule, tensor, scope: str) -> Tensor:
    """``CC = s.cache_write(C, "local")``: ``C``'s computation moves to a new stage
    ``CC`` writing a buffer in ``scope``; ``C``'s stage then copies ``CC`` out.  For an
    operation of several outputs, ``s.cache_write([C0, C1], "local")`` gives the caches
    of the tensors listed, in order (every output of the operation is cached)."""
    if isinstance(tensor, (list, tuple)):
        return _cache_write_outputs(schedule, list(tensor), scope)
    name = getattr(tensor, "name", repr(tensor))
    prim = f"cache_write({name}, {scope!r})"
    _tensor_arg(schedule, tensor, prim)
    stage = schedule[tensor]
    check_scope(scope, prim, stage.name)
    stage.require_compute(prim)
    if stage.is_scan:
        raise ScheduleError(f"{prim} on stage '{stage.name}': '{stage.name}' is a scan, "
                            f"whose init and update compute its output; cache_write the "
                            f"update instead")
    if stage.attach_type == INLINE:
        raise ScheduleError(f"{prim} on stage '{stage.name}': the stage is inlined")
    kept_loops = _spatial_loops(stage, prim)
    for other in schedule.stages:
        if other.attach_type == SCOPE and other.attach_stage is stage:
            raise ScheduleError(f"{prim} on stage '{stage.name}': stage '{other.name}' is "
                                f"computed at an axis of '{stage.name}'; call cache_write "
                                f"first")
    op = stage.op
    axes, red, body = copy_with_new_axes(op, op.name, ".c")
    names = None if op.num_outputs == 1 else \
        [f"{t.name}.{scope}" for t in op.outputs]
    cache_op = ComputeOp(f"{op.name}.{scope}", op.tag, op.attrs, axes, body,
                         output_names=names)
    # the copy-out reuses the original axes, so s[C].op.axis and C.op.axis stay valid
    out_axes = op.axis
    out_body = [E.ProducerLoad(t, tuple(iv.var for iv in out_axes), t.dtype)
                for t in cache_op.outputs]
    new_op = ComputeOp(op.name, op.tag, op.attrs, out_axes, out_body,
                       output_names=[t.name for t in op.outputs])
    cache_stage = schedule.add_stage(cache_op, schedule.stages.index(stage))
    cache_stage.scope, cache_stage.scope_given = scope, True
    schedule.set_stage_op(stage, new_op, keep_loops=False)
    if kept_loops is not None:
        # the copy-out has the original spatial axes: their splits, fuses, order and
        # annotations stay (TVM drops them); the computation's stage starts afresh
        stage.relations, stage.all_iter_vars, stage.leaf_iter_vars, stage.iter_attrs = \
            kept_loops
        stage.reserve_names(iv.var.name for iv in stage.all_iter_vars)
    schedule.replace_dataflow(dict(zip(op.outputs, new_op.outputs)),
                              skip=(cache_stage, stage))
    schedule.record(CacheWrite(stage.name, tensor.value_index, scope, (cache_stage.name,)))
    return cache_op.output(tensor.value_index)


def _cache_write_outputs(schedule, tensors: list, scope: str) -> list[Tensor]:
    names = ", ".join(getattr(t, "name", repr(t)) for t in tensors)
    prim = f"cache_write([{names}], {scope!r})"
    if not tensors:
        raise ScheduleError(f"{prim}: give the outputs of one operation to cache")
    current = [_tensor_arg(schedule, t, prim) for t in tensors]
    stages = {id(schedule[t]): schedule[t] for t in current}
    if len(stages) != 1:
        raise ScheduleError(f"{prim}: the tensors belong to the stages "
                            f"{sorted(s.name for s in stages.values())}; one cache_write "
                            f"caches the outputs of one operation (call it per stage)")
    first = cache_write(schedule, current[0], scope)
    return [first.op.output(t.value_index) for t in current]
