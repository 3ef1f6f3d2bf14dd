"""Lowering a schedule to a TIR :class:`PrimFunc` (TVM's ScheduleOps).

Each computed stage becomes the loop nest of its leaf iteration variables, wrapped in
``AttrStmt(stage name, "stage")``; the values of the operation's axes are rebuilt from
the loop variables through the split/fuse relations; a guard ``if axis < extent`` is
emitted only where the loop ranges do not prove it.  A reduction gets an initialisation
nest placed just outside its first reduction loop.  A stage attached with ``compute_at``
is emitted (with its buffer) at the top of the chosen loop of its consumer and computes
only the region bound inference found; inlined stages are substituted into readers.
"""
from __future__ import annotations

from ..errors import InternalError, LoweringError
from ..te.graph import Tensor
from ..tir import expr as E
from ..tir.analysis import free_vars
from ..tir import op as O
from ..tir.arith import (LinearSum, linear, prove_at_least, prove_less, simplify_linear,
                         upper_bound)
from ..tir.buffer import Buffer
from ..tir.datatype import int32
from ..tir.functor import Mutator
from ..tir.stmt import (NO_OP, Allocate, AttrStmt, BufferStore, For, ForKind, IfThenElse,
                        LetStmt, PrimFunc, seq)
from ..tir.transform.substitute import combine
from .bound import attach_path, infer_bounds, inline_bodies, loop_var, scan_step, thread_of
from .read_bounds import check_reads_in_bounds
from .stage import INLINE, ROOT, SCOPE, Singleton, Split


def schedule_to_tir(schedule, args, name: str = "main") -> PrimFunc:
    """Lower ``schedule`` to a PrimFunc whose parameters are ``args`` (tensors become
    buffers; ``te.var`` scalars stay scalars)."""
    return _Lowering(schedule, args).run(name)


class _Convert(Mutator):
    """Tensor expression -> TIR: axis variables -> values, tensor reads -> buffer loads."""

    def __init__(self, lowering, var_map, dom):
        self.lowering = lowering
        self.var_map = var_map
        self.dom = dom

    def visit_Var(self, node):
        return self.var_map.get(node, node)

    def visit_ProducerLoad(self, node):
        indices = [self.visit(i) for i in node.indices]
        buf, mins = self.lowering.buffer_of(node.producer)
        return E.BufferLoad(buf, self.lowering.index(indices, mins, self.dom), buf.dtype)

    def visit_Reduce(self, node):  # pragma: no cover - reductions are lowered apart
        raise InternalError("a reduction was left inside an expression during lowering")


class _Lowering:
    def __init__(self, schedule, args):
        check_reads_in_bounds(schedule)
        self.schedule = schedule
        # inlined tensors among the arguments are inlined into their consumers and also
        # stored, in full, at the root: the caller gets their values
        self.stored_inline = {schedule.stage_map[t.op] for t in
                              (args if isinstance(args, (list, tuple)) else ())
                              if isinstance(t, Tensor) and t.op in schedule.stage_map
                              and schedule.stage_map[t.op].attach_type == INLINE}
        self.bodies = inline_bodies(schedule, self.stored_inline)
        self.bounds = infer_bounds(schedule, self.bodies)
        self.ranges = self.bounds.ranges
        self.global_dom = self.bounds.loop_dom
        self.buffers: dict = {}     # (stage, value_index) -> Buffer
        #: a scan's init, update and state tensors -> the scan's output that holds them
        self.held_by_scan: dict = {}
        for stage in schedule.stages:
            if stage.is_scan:
                op = stage.op
                for tensors in (op.init, op.update, op.state_placeholder):
                    for k, t in enumerate(tensors):
                        self.held_by_scan[t] = op.output(k)
        self.arg_stages: set = set()
        self.params: list = []
        self._bind_args(args)
        self.attached: dict = {}
        paths: dict = {}
        for stage in schedule.stages:
            if stage in self.bodies and stage.attach_type == SCOPE:
                attach_path(stage, paths)  # validates the attach point
                key = (id(stage.attach_stage), id(stage.attach_ivar))
                self.attached.setdefault(key, []).append(stage)

    # -- parameters and buffers --------------------------------------------------------
    def _bind_args(self, args) -> None:
        if not isinstance(args, (list, tuple)):
            raise LoweringError(f"lower: args must be a list of tensors and te.vars, got "
                                f"{args!r}")
        seen = set()
        for arg in args:
            if isinstance(arg, Tensor):
                try:
                    stage = self.schedule[arg]
                except Exception:
                    raise LoweringError(f"lower: tensor '{arg.name}' in args is not part of "
                                        f"the schedule") from None
                key = (stage, arg.value_index)
                held = self.held_by_scan.get(arg)
                if held is not None:
                    role = self.schedule.scan_role(stage)
                    raise LoweringError(
                        f"lower: tensor '{arg.name}' in args is the {role[0]} of scan "
                        f"'{role[1].name}', held in the scan's output; pass the scan's "
                        f"output '{held.name}' instead")
                if key in seen:
                    raise LoweringError(f"lower: tensor '{arg.name}' appears twice in args")
                seen.add(key)
                buf = Buffer(arg.name, tuple(arg.shape), arg.dtype)
                self.buffers[key] = buf
                self.arg_stages.add(key)
                self.params.append(buf)
            elif isinstance(arg, E.Var):
                self.params.append(arg)
            else:
                raise LoweringError(f"lower: args must hold tensors and te.vars, got {arg!r}")

    def buffer_of(self, tensor: Tensor):
        """``(buffer, region mins)`` holding ``tensor``; mins are None for parameters."""
        held = self.held_by_scan.get(tensor)
        if held is not None:   # indexed as the scan's output: time first, from 0
            return self.buffer_of(held)[0], None
        stage = self.schedule.stage_map[tensor.op]
        key = (stage, tensor.value_index)
        buf = self.buffers.get(key)
        if key in self.arg_stages:
            return buf, None
        if stage.is_scan:
            if buf is None:
                out = stage.op.output(tensor.value_index)
                buf = self.buffers[key] = Buffer(out.name, tuple(out.shape), out.dtype)
            return buf, None
        if stage.is_placeholder:
            raise LoweringError(f"lower: tensor '{tensor.name}' is read but is not in args; "
                                f"add it to the argument list")
        if stage.is_extern:
            # an extern stage computes its whole outputs, from index 0
            if buf is None:
                out = stage.op.output(tensor.value_index)
                buf = Buffer(out.name, tuple(out.shape), out.dtype, self.bounds.scopes[stage])
                self.buffers[key] = buf
            return buf, None
        mins = [self.ranges[iv][0] for iv in stage.op.axis]
        if buf is None:
            shape = []
            for iv in stage.op.axis:
                extent = self.ranges[iv][1]
                if not extent.is_const():
                    bound = upper_bound(extent, self.global_dom)
                    extent = LinearSum.of_const(bound) if bound is not None else extent
                shape.append(extent.to_expr(iv.var.dtype))
            out = stage.op.output(tensor.value_index)
            buf = Buffer(out.name, tuple(shape), out.dtype, self.bounds.scopes[stage],
                         _aligned_strides(stage, shape))
            self.buffers[key] = buf
        return buf, mins

    def index(self, values, mins, dom) -> tuple:
        result = []
        for value, m in zip(values, mins or [None] * len(values)):
            lin = linear(value)
            if m is not None:
                lin = lin.sub(m)
            result.append(simplify_linear(lin, dom).to_expr(value.dtype))
        return tuple(result)

    # -- function ------------------------------------------------------------------------
    def run(self, name: str) -> PrimFunc:
        stmts, allocated = [], []
        for stage in self.schedule.stages:
            if stage.is_scan:
                stmts.append(self.scan_stmt(stage))
                allocated.append(stage)
            elif stage in self.bodies and (stage.attach_type == ROOT
                                           or stage in self.stored_inline):
                stmts.append(self.stage_stmt(stage))
                allocated.append(stage)
        body = seq(*stmts)
        for stage in reversed(allocated):
            body = self.allocate(stage, body)
        self._check_shape_vars()
        return PrimFunc(name, tuple(self.params), body, (("global_symbol", name),))

    def _check_shape_vars(self) -> None:
        """A variable in an argument's shape is known when the call gives it: as an
        argument, or as a whole dimension of an argument (``(n, 8)``); one only inside a
        dimension (``(8 * m,)``) must be an argument itself."""
        known = {p for p in self.params if isinstance(p, E.Var)}
        buffers = [p for p in self.params if not isinstance(p, E.Var)]
        known.update(d for b in buffers for d in b.shape if isinstance(d, E.Var))
        for buf in buffers:
            for dim in buf.shape:
                missing = [v for v in free_vars(dim) if v not in known]
                if missing:
                    raise LoweringError(
                        f"lower: the shape of '{buf.name}' uses '{missing[0].name}' in "
                        f"'{dim}', which no argument gives (it is not a whole dimension of "
                        f"any argument): add {missing[0].name} to args")

    def allocate(self, stage, body):
        for k in reversed(range(stage.op.num_outputs)):
            if (stage, k) not in self.arg_stages and \
                    stage.op.output(k) not in self.held_by_scan:
                buf, _ = self.buffer_of(stage.op.output(k))
                body = Allocate(buf, body)
        return body

    # -- one stage -----------------------------------------------------------------------
    def stage_stmt(self, stage):
        if stage.is_extern:
            return AttrStmt(stage.name, "stage", E.IntImm(int32, 0), self.extern_calls(stage))
        dom = dict(self.global_dom)
        for iv in stage.leaf_iter_vars:
            dom[loop_var(stage, iv)] = (LinearSum.of_const(0), self.ranges[iv][1].plus(-1))
        leaves = stage.leaf_iter_vars
        values = {iv: self.leaf_value(stage, iv) for iv in leaves}
        if stage.op.own_reduce_axis:
            nest = self.reduction(stage, values, dom)
        else:
            roots, offsets = self.root_values(stage, values, dom)
            body = self.stores(stage, roots, dom)
            body = self.guard(stage, roots, offsets, dom, body, with_reduce=False)
            nest = self.loops(stage, leaves, body)
        return AttrStmt(stage.name, "stage", E.IntImm(int32, 0), nest)

    def extern_calls(self, stage):
        """The calls of an extern stage, over the buffers that hold its inputs and
        outputs (in place of the buffers its fcompute was given)."""
        op = stage.op
        mapping = {}
        for placeholder, tensor in zip(op.input_placeholders, op.inputs):
            producer = self.schedule.stage_map[tensor.op]
            if producer.attach_type == INLINE:
                raise LoweringError(
                    f"stage '{producer.name}' is inlined, but the extern stage "
                    f"'{stage.name}' passes it whole to the function it calls, so it must be "
                    f"stored: call s[{producer.name}].compute_root()")
            buf, mins = self.buffer_of(tensor)
            if mins is not None and not all(m.is_const() and m.const == 0 for m in mins):
                raise InternalError(f"the input '{tensor.name}' of extern stage "
                                    f"'{stage.name}' is not computed from index 0")
            mapping[placeholder] = buf
        for k, placeholder in enumerate(op.output_placeholders):
            mapping[placeholder] = self.buffer_of(op.output(k))[0]
        return _ReplaceBuffers(mapping).visit(op.body)

    def scan_stmt(self, stage):
        """The loops over a scan's steps after its init (the scan axis, or the loops
        split from it, in order), with the stages of one step in the innermost (the
        update last); a split that does not divide the steps guards the step."""
        leaves = stage.leaf_iter_vars
        dom = dict(self.global_dom)
        step = linear(scan_step(stage, self.ranges))
        steps, dtype = self.ranges[stage.op.scan_axis][1], stage.op.scan_axis.var.dtype
        body = self.insert_attached(stage, leaves[-1], NO_OP)
        if not prove_less(step, steps, dom):
            body = IfThenElse(O.lt(simplify_linear(step, dom).to_expr(dtype),
                                   steps.to_expr(dtype)), body)
        body = self.make_for(stage, leaves[-1], body, annotations=(("scan", stage.name),))
        # "scan": the loops carry a recurrence; GPU code runs them on the host, around
        # the kernels of each step
        body = self.loops(stage, leaves[:-1], body, annotations=(("scan", stage.name),))
        return AttrStmt(stage.name, "stage", E.IntImm(int32, 0), body)

    def leaf_value(self, stage, iv):
        extent = self.ranges[iv][1]
        if extent.is_const() and extent.const == 1 and thread_of(stage, iv) is None:
            return E.IntImm(iv.var.dtype, 0)
        return loop_var(stage, iv)

    def root_values(self, stage, values, dom):
        """Absolute value of every axis of the operation, from the leaf values, and the
        offset (value minus range start) of every iteration variable."""
        state = dict(values)
        for rel in reversed(stage.relations):
            if isinstance(rel, Singleton):
                continue
            if isinstance(rel, Split):
                factor = self.ranges[rel.inner][1].to_expr(rel.parent.var.dtype)
                state[rel.parent] = O.add(O.mul(state[rel.outer], factor), state[rel.inner])
            else:
                fused = state[rel.fused]
                extent = self.ranges[rel.inner][1].to_expr(rel.fused.var.dtype)
                state[rel.outer] = O.floordiv(fused, extent)
                state[rel.inner] = O.floormod(fused, extent)
        result = {}
        for iv in stage.op.axis + stage.op.own_reduce_axis:
            lin = self.ranges[iv][0].add(linear(state[iv]))
            result[iv] = (simplify_linear(lin, dom), iv.var.dtype)
        return result, state

    def guard(self, stage, roots, offsets, dom, body, with_reduce: bool):
        """Wrap ``body`` in the checks the loop ranges do not prove: every split or fused
        variable stays below its extent (a split that does not divide), and every axis
        inside the operation's domain (a region that overhangs it)."""
        conds = []
        leaves = {id(iv) for iv in stage.leaf_iter_vars}
        for iv in stage.all_iter_vars:
            if id(iv) in leaves or not with_reduce and iv.iter_type == E.REDUCE:
                continue
            offset = linear(offsets[iv])
            extent = self.ranges[iv][1]
            if not prove_less(offset, extent, dom):
                conds.append(O.lt(simplify_linear(offset, dom).to_expr(iv.var.dtype),
                                  extent.to_expr(iv.var.dtype)))
        for iv in stage.op.axis + (stage.op.own_reduce_axis if with_reduce else ()):
            value, dtype = roots[iv]
            lo = linear(iv.dom.min)
            end = lo.add(linear(iv.dom.extent))
            expr = None
            if not prove_at_least(value, lo, dom):
                expr = value.to_expr(dtype)
                conds.append(O.ge(expr, lo.to_expr(dtype)))
            if not prove_less(value, end, dom):
                expr = expr if expr is not None else value.to_expr(dtype)
                conds.append(O.lt(expr, end.to_expr(dtype)))
        if not conds:
            return body
        cond = conds[0]
        for c in conds[1:]:
            cond = O.logical_and(cond, c)
        return IfThenElse(cond, body)

    def converter(self, roots, dom) -> _Convert:
        var_map = {iv.var: _axis_expr(value, dtype) for iv, (value, dtype) in roots.items()}
        return _Convert(self, var_map, dom)

    def stores(self, stage, roots, dom):
        conv = self.converter(roots, dom)
        stmts = []
        for k, body in enumerate(self.bodies[stage]):
            buf, mins = self.buffer_of(stage.op.output(k))
            idx = self.index([_axis_expr(*roots[iv]) for iv in stage.op.axis],
                             mins, dom)
            stmts.append(BufferStore(buf, conv.visit(body), idx))
        return seq(*stmts)

    def reduction(self, stage, values, dom):
        leaves = stage.leaf_iter_vars
        first = next(k for k, iv in enumerate(leaves) if iv.iter_type == E.REDUCE)
        reduces = self.bodies[stage]
        red = reduces[0]
        # update: acc = combine(acc, source)
        roots, offsets = self.root_values(stage, values, dom)
        conv = self.converter(roots, dom)
        targets = []
        for k in range(len(reduces)):
            buf, mins = self.buffer_of(stage.op.output(k))
            idx = self.index([_axis_expr(*roots[iv]) for iv in stage.op.axis],
                             mins, dom)
            targets.append((buf, idx))
        accs = [E.BufferLoad(buf, idx, buf.dtype) for buf, idx in targets]
        sources = [conv.visit(s) for s in red.source]
        combined = combine(red.combiner, accs, sources)
        if len(targets) == 1:
            update = BufferStore(targets[0][0], combined[0], targets[0][1])
        else:
            temps = [E.Var(f"{buf.name}.v", buf.dtype) for buf, _ in targets]
            update = seq(*[BufferStore(buf, t, idx) for (buf, idx), t in zip(targets, temps)])
            for t, value in reversed(list(zip(temps, combined))):
                update = LetStmt(t, value, update)
        condition = conv.visit(red.condition)
        if not (isinstance(condition, E.IntImm) and condition.value):
            update = IfThenElse(condition, update)
        update = self.guard(stage, roots, offsets, dom, update, with_reduce=True)
        main = self.loops(stage, leaves[first:], update)
        # init, in copies of the data-parallel loops inside the first reduction loop
        init_values = dict(values)
        copies = {}
        for iv in leaves[first:]:
            if iv.iter_type == E.REDUCE:
                init_values[iv] = E.IntImm(iv.var.dtype, 0)
            elif isinstance(values[iv], E.Var) and thread_of(stage, iv) is None:
                copies[iv] = E.Var(iv.var.name + ".init", iv.var.dtype)
                init_values[iv] = copies[iv]
        init_dom = dict(dom)
        for iv, v in copies.items():
            init_dom[v] = dom[iv.var]
        init_roots, init_offsets = self.root_values(stage, init_values, init_dom)
        init_conv = self.converter(init_roots, init_dom)
        inits = red.init if red.init else red.combiner.identity
        init_stmts = []
        for k in range(len(reduces)):
            buf, mins = self.buffer_of(stage.op.output(k))
            idx = self.index([_axis_expr(*init_roots[iv]) for iv in stage.op.axis], mins,
                             init_dom)
            init_stmts.append(BufferStore(buf, init_conv.visit(inits[k]), idx))
        init = self.guard(stage, init_roots, init_offsets, init_dom, seq(*init_stmts),
                          with_reduce=False)
        spatial_inside = [iv for iv in leaves[first:] if iv.iter_type != E.REDUCE]
        init = self.loops(stage, spatial_inside, init, copies=copies, attach=False)
        return self.loops(stage, leaves[:first], seq(init, main))

    # -- loops -----------------------------------------------------------------------------
    def loops(self, stage, leaves, body, copies=None, attach=True, annotations=()):
        for iv in reversed(leaves):
            if attach:
                body = self.insert_attached(stage, iv, body)
            body = self.make_for(stage, iv, body, copies, annotations)
        return body

    def insert_attached(self, stage, iv, body):
        producers = self.attached.get((id(stage), id(iv)))
        if not producers:
            return body
        body = seq(*[self.stage_stmt(p) for p in producers], body)
        for p in reversed(producers):
            body = self.allocate(p, body)
        return body

    def make_for(self, stage, iv, body, copies=None, annotations=()):
        extent = self.ranges[iv][1]
        attr = stage.iter_attrs.get(iv)
        thread = None if attr is None else attr.thread
        if extent.is_const() and extent.const == 1 and thread is None:
            return body
        var = copies.get(iv) if copies and iv in copies else loop_var(stage, iv)
        kind = ForKind.SERIAL if attr is None else attr.kind
        if kind == ForKind.VECTORIZED and not extent.is_const():
            raise LoweringError(
                f"vectorize({iv.var.name}) on stage '{stage.name}': the loop extent "
                f"'{extent.to_expr(int32)}' is not a constant; split the axis by a constant "
                f"factor and vectorize the inner part")
        if kind == ForKind.UNROLLED and not extent.is_const():
            kind = ForKind.SERIAL  # nothing to unroll without a known trip count
        pragmas = [] if attr is None else [(f"pragma_{k}", v) for k, v in attr.pragmas]
        annotations = tuple(sorted(pragmas + list(annotations)))
        return For(var, E.IntImm(var.dtype, 0), extent.to_expr(var.dtype), kind, body,
                   thread.thread_tag if thread is not None else "", annotations)


class _ReplaceBuffers(Mutator):
    """Pass ``mapping[b]`` to calls wherever they were passed buffer ``b``."""

    def __init__(self, mapping):
        self.mapping = mapping

    def visit_BufferArg(self, node):
        return node.replace(buffer=self.mapping.get(node.buffer, node.buffer))


def _axis_expr(value: LinearSum, dtype):
    """The value of an axis of type ``dtype`` as an expression of that type.  Loop
    variables wider than the axis (a fused loop counting past 2**31 over two 32-bit axes)
    compute it in 64 bits; the value itself lies inside the axis, so it narrows exactly
    (guards compare the wide form, see ``guard``)."""
    expr = value.to_expr(dtype)
    if expr.dtype != dtype and expr.dtype.is_integer and dtype.is_integer:
        expr = O.cast(expr, dtype)
    return expr


def _aligned_strides(stage, shape) -> tuple:
    """Strides padded as ``storage_align`` asks, or () for a compact layout."""
    if not stage.storage_aligns:
        return ()
    aligns = {dim: (factor, offset) for dim, factor, offset in stage.storage_aligns}
    strides = [None] * len(shape)
    stride = E.IntImm(shape[-1].dtype, 1) if shape else None
    for dim in reversed(range(len(shape))):
        if dim in aligns:
            factor, offset = aligns[dim]
            stride = O.add(stride, O.floormod(O.sub(factor + offset, O.floormod(stride, factor)),
                                              factor))
        strides[dim] = stride
        stride = O.mul(stride, shape[dim])
    return tuple(strides)
