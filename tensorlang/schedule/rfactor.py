"""``rfactor``: factor a reduction into a data-parallel stage of partial results and a
small final reduction (``C.rf[ki, i] = sum over ko``, then ``C[i] = sum over ki``)."""
from __future__ import annotations

from ..errors import ScheduleError
from ..te.graph import ComputeOp, Tensor
from ..tir import expr as E
from ..tir import op as O
from ..tir.arith import LinearSum, linear, prove_less
from ..tir.op import const
from ..tir.analysis import free_vars
from ..tir.transform.substitute import substitute
from .bound import pass_down
from .stage import SCOPE, Singleton, Split
from .steps import Rfactor


def rfactor(schedule, tensor, axis, factor_axis: int = 0) -> Tensor:
    """See :meth:`Schedule.rfactor`."""
    name = getattr(tensor, "name", repr(tensor))
    axis_name = axis.var.name if isinstance(axis, E.IterVar) else repr(axis)
    prim = f"rfactor({name}, {axis_name})"
    if not isinstance(tensor, Tensor):
        raise ScheduleError(f"{prim}: expected a tensor, got {tensor!r}")
    stage = schedule[tensor]
    stage.require_compute(prim)
    op = stage.op
    if not op.own_reduce_axis:
        raise ScheduleError(f"{prim} on stage '{stage.name}': '{stage.name}' is not a "
                            f"reduction")
    stage.require_leaf(axis, prim)
    if axis.iter_type != E.REDUCE:
        raise ScheduleError(f"{prim} on stage '{stage.name}': axis '{axis_name}' is not a "
                            f"reduction axis; rfactor factors out a (split) reduce axis")
    if isinstance(factor_axis, bool) or not isinstance(factor_axis, int) or \
            not 0 <= factor_axis <= len(op.axis):
        raise ScheduleError(f"{prim} on stage '{stage.name}': factor_axis must be an int in "
                            f"[0, {len(op.axis)}], got {factor_axis!r}")
    first = op.body[0]
    if first.init:
        raise ScheduleError(f"{prim} on stage '{stage.name}': a reduction with an explicit "
                            f"init value cannot be factored")
    for other in schedule.stages:
        if other.attach_type == SCOPE and other.attach_stage is stage:
            raise ScheduleError(f"{prim} on stage '{stage.name}': stage '{other.name}' is "
                                f"computed at an axis of '{stage.name}'; call rfactor first")
    spatial_vars = {iv.var for iv in op.axis}
    for iv in op.own_reduce_axis:
        if any(v in spatial_vars for v in free_vars((iv.dom.min, iv.dom.extent))):
            raise ScheduleError(
                f"{prim} on stage '{stage.name}': the range of reduction axis "
                f"'{iv.var.name}' depends on the axes of '{stage.name}' "
                f"({iv.dom.min}, {iv.dom.extent}), so its parts have no common extent to "
                f"factor out; write the reduction over a fixed range with a where= "
                f"condition instead")
    # leaf extents over the full domain
    ranges = {iv: (linear(iv.dom.min), linear(iv.dom.extent))
              for iv in op.axis + op.own_reduce_axis}
    pass_down(stage, ranges)

    def extent(iv):
        return ranges[iv][1].to_expr(iv.var.dtype)

    spatial = tuple(E.IterVar(E.Var(iv.var.name, iv.var.dtype), iv.dom, E.DATA_PAR)
                    for iv in op.axis)
    factor_iv = E.IterVar(E.Var(axis.var.name, axis.var.dtype),
                          E.Range(const(0, axis.var.dtype), extent(axis)), E.DATA_PAR)
    values, new_reduce, dom = {}, [], {}
    for leaf in stage.leaf_iter_vars:
        if leaf.iter_type != E.REDUCE:
            continue
        if leaf is axis:
            values[leaf] = factor_iv.var
            iv = factor_iv
        else:
            iv = E.IterVar(E.Var(leaf.var.name, leaf.var.dtype),
                           E.Range(const(0, leaf.var.dtype), extent(leaf)), E.REDUCE)
            new_reduce.append(iv)
            values[leaf] = iv.var
        dom[iv.var] = (LinearSum.of_const(0), ranges[leaf][1].plus(-1))
    for rel in reversed(stage.relations):
        if isinstance(rel, Split):
            if rel.parent.iter_type == E.REDUCE:
                values[rel.parent] = O.add(O.mul(values[rel.outer], extent(rel.inner)),
                                           values[rel.inner])
        elif not isinstance(rel, Singleton) and rel.fused.iter_type == E.REDUCE:
            values[rel.outer] = O.floordiv(values[rel.fused], extent(rel.inner))
            values[rel.inner] = O.floormod(values[rel.fused], extent(rel.inner))
    var_map = {old.var: new.var for old, new in zip(op.axis, spatial)}
    for iv in op.own_reduce_axis:
        var_map[iv.var] = O.add(iv.dom.min, values[iv])
    # Every reduce variable rebuilt from a split must stay below its extent: a split that
    # does not divide overhangs its parent, whether the parent is a root axis or itself
    # the inner part of an earlier split (``ko, ki = split(k, 8); split(ki, 3)``).  The
    # leaves are loops and a fuse's parts are in range when the fused value is, so the
    # split parents are the only values to guard.
    condition = const(True)
    for rel in stage.relations:
        if isinstance(rel, Split) and rel.parent.iter_type == E.REDUCE:
            value, end = values[rel.parent], ranges[rel.parent][1]
            if not prove_less(linear(value), end, dom):
                condition = O.logical_and(condition, O.lt(value, end.to_expr(value.dtype)))
    condition = O.logical_and(substitute(first.condition, var_map), condition)
    sources = tuple(substitute(s, var_map) for s in first.source)
    rf_axes = spatial[:factor_axis] + (factor_iv,) + spatial[factor_axis:]
    # a reducer whose combination or identity uses the axes uses the new ones
    rf_combiner = first.combiner.replace(
        result=tuple(substitute(r, var_map) for r in first.combiner.result),
        identity=tuple(substitute(i, var_map) for i in first.combiner.identity))
    if new_reduce:
        rf_body = [E.Reduce(rf_combiner, sources, tuple(new_reduce), condition, k,
                            s.dtype) for k, s in enumerate(sources)]
    else:
        rf_body = [O.select(condition, s, ident)
                   for s, ident in zip(sources, rf_combiner.identity)]
    rf_names = [f"{t.name}.rf" for t in op.outputs]
    rf_op = ComputeOp(f"{op.name}.rf", op.tag, op.attrs, rf_axes, rf_body, rf_names)
    # the final reduction over the factored axis
    out_axes = op.axis  # the final reduction keeps the original axes, as C.op.axis
    rv = E.IterVar(E.Var(axis.var.name + ".v", axis.var.dtype), factor_iv.dom, E.REDUCE)
    index = [iv.var for iv in out_axes]
    index.insert(factor_axis, rv.var)
    loads = tuple(E.ProducerLoad(t, tuple(index), t.dtype) for t in rf_op.outputs)
    out_body = [E.Reduce(first.combiner, loads, (rv,), const(True), k, t.dtype)
                for k, t in enumerate(op.outputs)]
    new_op = ComputeOp(op.name, op.tag, op.attrs, out_axes, out_body,
                       [t.name for t in op.outputs])
    rf_stage = schedule.add_stage(rf_op, schedule.stages.index(stage))
    schedule.set_stage_op(stage, new_op, keep_loops=False)
    schedule.replace_dataflow(dict(zip(op.outputs, new_op.outputs)), skip=(stage, rf_stage))
    schedule.record(Rfactor(stage.name, tensor.value_index, axis_name, factor_axis,
                            (rf_stage.name,)))
    return rf_op.output(tensor.value_index)
