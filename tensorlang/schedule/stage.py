"""Stages and the loop primitives: split, fuse, reorder, tile, vectorize, unroll, parallel,
bind, pragma, storage_align.

A :class:`Stage` schedules one operation.  Its loops are *leaf iteration variables*
derived from the operation's axes through relations (:class:`Split`, :class:`Fuse`), as in
TVM; annotations (parallel, vectorized, thread binding, pragmas) sit on leaves.  Every
primitive validates its arguments first and raises :class:`ScheduleError` naming the
stage, the axis and the rule, then records a step (:mod:`.steps`) in the schedule.

Stage, Schedule and the steps are the core of the package: where a stage is computed
(attach.py) and the primitives that rebuild the dataflow (cache.py, rfactor.py) are built
on them, and reach the methods of the core through :func:`install_primitives`.
"""
from __future__ import annotations

from ..errors import ScheduleError
from ..te.extern import ExternOp
from ..te.graph import PlaceholderOp, ScanOp
from ..tir import expr as E
from ..tir.analysis import free_vars
from ..tir.datatype import int32, int64
from ..tir.index_width import extent_bound, fits
from ..tir.stmt import ForKind
from . import steps


from .stage_parts import (INLINE, ROOT, SCOPE, Fuse, IterAttr, Singleton,  # noqa: F401
                          Split, check_scope, install_primitives, installed)


def _wide(iv) -> E.IterVar:
    """A stand-in for ``iv`` whose variable is 64-bit, to make new loop variables like."""
    return E.IterVar(E.Var(iv.var.name, int64), None, iv.iter_type)


def _axis_name(iv) -> str:
    return iv.var.name if isinstance(iv, E.IterVar) else repr(iv)


def _check_int(value, what: str, prim: str, stage: str) -> int:
    if isinstance(value, E.IntImm) and not value.dtype.is_bool:
        value = value.value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScheduleError(f"{prim} on stage '{stage}': {what} must be a positive int, "
                            f"got {value!r}")
    if value <= 0:
        raise ScheduleError(f"{prim} on stage '{stage}': {what} must be a positive int, "
                            f"got {value}")
    return value


class Stage:
    """The schedule of one operation: ``s[C]``.

    ``op`` is the stage's current operation (``cache_write`` and ``rfactor`` replace it;
    use ``s[C].op.axis`` afterwards); ``leaf_iter_vars`` are its loops, outermost first.
    """

    def __init__(self, schedule, op, name: str):
        self.schedule = schedule
        self.origin_op = op
        self.name = name
        self.scope = "global"
        #: whether the scope was given (set_scope, cache_read/write); otherwise lowering
        #: infers it from where the stage is computed (bound.storage_scope)
        self.scope_given = False
        self.is_output = False
        self.attach_type = ROOT
        self.attach_stage: Stage | None = None
        self.attach_ivar: E.IterVar | None = None
        self.storage_aligns: list[tuple[int, int, int]] = []
        #: the stages of reductions inside this stage's expression (``<name>_red``): they
        #: follow its compute_at unless placed themselves (``placed``: compute_at or
        #: compute_root was called on the stage); ``carried_by``: the stage whose
        #: compute_at placed this one
        self.companions: list[Stage] = []
        self.carried_by = None   # a Stage, or a group (schedule/group.py)
        self.placed = False
        #: the group (s.create_group) the stage belongs to
        self.group = None
        self.reset(op)

    def reset(self, op) -> None:
        """Point the stage at ``op`` with fresh, unscheduled loops."""
        self.op = op
        roots = _root_iter_vars(op)
        self.all_iter_vars: list[E.IterVar] = list(roots)
        self.leaf_iter_vars: list[E.IterVar] = list(roots)
        self.relations: list = []
        self.iter_attrs: dict[E.IterVar, IterAttr] = {}
        self._names = {iv.var.name for iv in roots}

    def reserve_names(self, names) -> None:
        """Mark loop names as taken (loops a primitive carried over from an operation
        this stage had before)."""
        self._names.update(names)

    # -- helpers --------------------------------------------------------------------
    @property
    def is_placeholder(self) -> bool:
        return isinstance(self.op, PlaceholderOp)

    @property
    def is_scan(self) -> bool:
        """Whether this is the stage of a ``te.scan`` (its only loop: the scan axis)."""
        return isinstance(self.op, ScanOp)

    @property
    def is_extern(self) -> bool:
        """Whether the stage is a ``te.extern``: computed whole by calls, with no loops."""
        return isinstance(self.op, ExternOp)

    @property
    def root_iter_vars(self) -> list[E.IterVar]:
        return _root_iter_vars(self.op)

    def is_time_loop(self, iv) -> bool:
        """Whether ``iv`` runs over a scan's time steps, which must run in order: every
        loop of a scan stage (its scan axis and the loops split from it), and the first
        axis of a scan's update (each step computes the update at one time point)."""
        if self.is_scan:
            return any(iv is v for v in self.all_iter_vars)
        time = self.schedule.time_axis(self)
        return time is not None and iv is time

    def require_not_time(self, iv, prim: str, action: str, scan_ok: bool = False) -> None:
        """ScheduleError, naming ``prim``, where ``iv`` is a time loop
        (:meth:`is_time_loop`); ``action`` says what was refused.  ``scan_ok``: the
        primitive keeps the steps in order on a scan's own loops (split, fuse)."""
        if not self.is_time_loop(iv) or (scan_ok and self.is_scan):
            return
        if self.is_scan:
            updates = ", ".join(f"'{t.name}'" for t in self.op.update)
            raise ScheduleError(
                f"{prim} on stage '{self.name}': axis '{iv.var.name}' is a loop over the "
                f"steps of scan '{self.name}', which cannot be {action}: step t reads the "
                f"state of earlier "
                f"steps, so the steps run one after another; schedule the loops of its "
                f"update {updates} instead")
        scan = self.schedule.scan_role(self)[1]
        raise ScheduleError(
            f"{prim} on stage '{self.name}': axis '{iv.var.name}' is the time axis of "
            f"'{self.name}', the update of scan '{scan.name}', which cannot be {action}: "
            f"each step of the scan computes '{self.name}' at one time point, in order; "
            f"schedule its other axes instead")

    def __repr__(self) -> str:
        return f"Stage({self.name})"

    def leaf_index(self, iv) -> int:
        for k, leaf in enumerate(self.leaf_iter_vars):
            if leaf is iv:
                return k
        return -1

    def _fresh_name(self, base: str) -> str:
        name = base
        k = 1
        while name in self._names:
            name = f"{base}_{k}"
            k += 1
        self._names.add(name)
        return name

    def _new_iter_var(self, name: str, like: E.IterVar, iter_type: str) -> E.IterVar:
        iv = E.IterVar(E.Var(self._fresh_name(name), like.var.dtype), None, iter_type)
        self.all_iter_vars.append(iv)
        return iv

    def require_leaf(self, iv, prim: str) -> None:
        """ScheduleError, naming ``prim``, unless ``iv`` is a leaf axis of this stage."""
        if not isinstance(iv, E.IterVar):
            raise ScheduleError(f"{prim} on stage '{self.name}': expected an axis (IterVar), "
                                f"got {type(iv).__name__} {iv!r}")
        if self.leaf_index(iv) < 0:
            if any(x is iv for x in self.all_iter_vars):
                why = "it was already split or fused; use the axes that returned"
            elif self.is_placeholder:
                why = "placeholders have no loops to schedule"
            elif any(any(x is iv for x in c.all_iter_vars) for c in self.companions):
                k = next(k for k, c in enumerate(self.companions)
                         if any(x is iv for x in c.all_iter_vars))
                why = (f"it is an axis of stage '{self.companions[k].name}', which computes "
                       f"the reduction written inside the expression of '{self.name}' "
                       f"({self.name}.op.reduce_axis lists the axes of that stage); "
                       f"schedule it there: s[{self.name}.op.hidden_reductions[{k}]]."
                       f"{prim}")
            else:
                why = ("it belongs to another stage or to an earlier operation of this "
                       "stage (after cache_write/rfactor use s[...].op.axis)")
            raise ScheduleError(f"{prim} on stage '{self.name}': axis '{iv.var.name}' is "
                                f"not a leaf of this stage: {why}")

    def require_compute(self, prim: str, extern_ok: bool = False) -> None:
        """ScheduleError, naming ``prim``, where this stage is a placeholder, or an extern
        stage (unless ``extern_ok``: primitives that need no loops)."""
        if self.is_placeholder:
            raise ScheduleError(f"{prim} on stage '{self.name}': '{self.name}' is a "
                                f"placeholder (an input); only computed stages can be "
                                f"scheduled")
        if self.is_extern and not extern_ok:
            called = ", ".join(f"'{n}'" for n in self.op.called_names)
            raise ScheduleError(f"{prim} on stage '{self.name}': '{self.name}' is an extern "
                                f"stage (te.extern calling {called}): one call computes all "
                                f"of it at the root, so it has no loops to schedule; "
                                f"schedule the stages that read it instead")

    def _attr(self, iv) -> IterAttr:
        attr = self.iter_attrs.get(iv)
        if attr is None:
            attr = self.iter_attrs[iv] = IterAttr()
        return attr

    def static_extent(self, iv) -> int | None:
        """The loop extent of ``iv`` when known before bound inference, else None."""
        if iv.dom is not None:
            return iv.dom.extent.value if isinstance(iv.dom.extent, E.IntImm) else None
        for rel in self.relations:
            if isinstance(rel, Split) and (rel.outer is iv or rel.inner is iv):
                parent = self.static_extent(rel.parent)
                if rel.factor is not None:
                    if rel.inner is iv:
                        return rel.factor
                    return None if parent is None else -(-parent // rel.factor)
                if rel.outer is iv:
                    return rel.nparts
                return None if parent is None else -(-parent // rel.nparts)
            if isinstance(rel, Fuse) and rel.fused is iv:
                a, b = self.static_extent(rel.outer), self.static_extent(rel.inner)
                return None if a is None or b is None else a * b
        return None

    def extent_bound(self, iv) -> int | None:
        """The largest loop extent ``iv`` may have (a symbolic dimension as large as its
        type allows), or None when unknown; chooses the width of new loop variables."""
        if iv.dom is not None:
            return extent_bound(iv.dom.extent)
        for rel in self.relations:
            if isinstance(rel, Split) and (rel.outer is iv or rel.inner is iv):
                if rel.inner is iv and rel.factor is not None:
                    return rel.factor
                if rel.outer is iv and rel.nparts is not None:
                    return rel.nparts
                parent = self.extent_bound(rel.parent)
                return None if parent is None else -(-parent // (rel.factor or rel.nparts))
            if isinstance(rel, Fuse) and rel.fused is iv:
                a, b = self.extent_bound(rel.outer), self.extent_bound(rel.inner)
                return None if a is None or b is None else a * b
        return None

    # -- loop primitives --------------------------------------------------------------
    def split(self, parent, factor=None, nparts=None):
        """Split ``parent`` into ``(outer, inner)`` with ``inner`` of extent ``factor``
        (or ``outer`` of extent ``nparts``): ``xo, xi = s[C].split(x, factor=32)``."""
        prim = f"split({_axis_name(parent)})"
        self.require_compute(prim)
        self.require_leaf(parent, prim)
        self.require_not_time(parent, prim, "split", scan_ok=True)
        if (factor is None) == (nparts is None):
            raise ScheduleError(f"{prim} on stage '{self.name}': give exactly one of "
                                f"factor= or nparts=")
        for what, value in (("factor", factor), ("nparts", nparts)):
            if isinstance(value, E.ExprOp) and not isinstance(value, E.IntImm):
                raise NotImplementedError(
                    f"{prim} on stage '{self.name}': a symbolic split {what} ({what}="
                    f"{value}) is not built; split axis '{parent.var.name}' by a constant "
                    f"{what}: one schedule per value, or let the tuner choose it "
                    f"(cfg.define_split)")
        if factor is not None:
            factor = _check_int(factor, "factor", prim, self.name)
        else:
            nparts = _check_int(nparts, "nparts", prim, self.name)
        outer, inner = self._split(parent, factor, nparts)
        if self.is_scan:
            self.schedule.follow_scan_loops(self)
        self.schedule.record(steps.Split(self.name, parent.var.name, factor, nparts,
                                         (outer.var.name, inner.var.name)))
        return outer, inner

    def _split(self, parent, factor, nparts):
        like = parent
        extent = self.static_extent(parent)
        if extent is not None:
            # ``outer * factor + inner`` overshoots the extent where the split does not
            # divide it; within a factor of 2**31 that takes 64 bits
            parts = nparts if nparts is not None else -(-extent // factor)
            span = parts * (factor if factor is not None else -(-extent // nparts))
            if not fits(span - 1, parent.var.dtype):
                like = _wide(parent)
        outer = self._new_iter_var(parent.var.name + ".outer", like, parent.iter_type)
        inner = self._new_iter_var(parent.var.name + ".inner", like, parent.iter_type)
        self.relations.append(Split(parent, outer, inner, factor, nparts))
        k = self.leaf_index(parent)
        self.leaf_iter_vars[k:k + 1] = [outer, inner]
        return outer, inner

    def fuse(self, *axes):
        """Fuse adjacent leaves (outer first) into one loop: ``f = s[C].fuse(x, y)``.
        One axis fuses to itself; no axes (``s[C].fuse()``, as TVM's) adds a loop of one
        iteration outside all others, which split and compute_at then take like any."""
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        prim = f"fuse({', '.join(_axis_name(a) for a in axes)})"
        self.require_compute(prim)
        if not axes:
            if self.is_scan:
                raise ScheduleError(f"fuse() on stage '{self.name}': a scan's loops are its "
                                    f"steps; give the axes to fuse")
            single = E.IterVar(E.Var(self._fresh_name("singleton"), int32),
                               E.Range(E.IntImm(int32, 0), E.IntImm(int32, 1)), E.DATA_PAR)
            self.all_iter_vars.append(single)
            self.relations.append(Singleton(single))
            self.leaf_iter_vars.insert(0, single)
            self.schedule.record(steps.Fuse(self.name, (), (single.var.name,)))
            return single
        for iv in axes:
            self.require_leaf(iv, prim)
            if len(axes) > 1:
                self.require_not_time(iv, prim, "fused", scan_ok=True)
        positions = [self.leaf_index(iv) for iv in axes]
        for a, b, pa, pb in zip(axes, axes[1:], positions, positions[1:]):
            if a is b:
                raise ScheduleError(f"{prim} on stage '{self.name}': axis '{a.var.name}' "
                                    f"given twice")
            if pb != pa + 1:
                raise ScheduleError(
                    f"{prim} on stage '{self.name}': axes '{a.var.name}' and "
                    f"'{b.var.name}' are not adjacent loops (outer first); reorder them "
                    f"next to each other before fusing")
        kinds = {iv.iter_type for iv in axes}
        if E.REDUCE in kinds and len(kinds) > 1:
            raise ScheduleError(f"{prim} on stage '{self.name}': cannot fuse a reduction "
                                f"axis with a data-parallel axis")
        for iv in axes:
            if iv in self.iter_attrs and self.iter_attrs[iv].kind != ForKind.SERIAL:
                raise ScheduleError(f"{prim} on stage '{self.name}': axis '{iv.var.name}' "
                                    f"is already {self.iter_attrs[iv].kind}; fuse before "
                                    f"annotating")
        fused = self._fuse(axes)
        if self.is_scan:
            self.schedule.follow_scan_loops(self)
        self.schedule.record(steps.Fuse(self.name, tuple(a.var.name for a in axes),
                                        (fused.var.name,)))
        return fused

    def _fuse(self, axes):
        fused = axes[0]
        for inner in axes[1:]:
            name = f"{fused.var.name}.{inner.var.name}.fused" if fused is axes[0] else \
                fused.var.name[:-len(".fused")] + f".{inner.var.name}.fused"
            a, b = self.extent_bound(fused), self.extent_bound(inner)
            like = fused if inner.var.dtype.bits <= fused.var.dtype.bits else inner
            if a is None or b is None or not fits(a * b, like.var.dtype):
                like = _wide(like)  # the fused count may pass 2**31 (see index_width)
            new = self._new_iter_var(name, like, fused.iter_type)
            self.relations.append(Fuse(fused, inner, new))
            k = self.leaf_index(fused)
            self.leaf_iter_vars[k:k + 2] = [new]
            fused = new
        return fused

    def reorder(self, *axes):
        """Put the given leaves in this order (the positions they occupy among the leaves
        are refilled in the order given): ``s[C].reorder(xo, yo, k, xi, yi)``."""
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        prim = f"reorder({', '.join(_axis_name(a) for a in axes)})"
        self.require_compute(prim)
        for k, iv in enumerate(axes):
            self.require_leaf(iv, prim)
            if any(x is iv for x in axes[:k]):
                raise ScheduleError(f"{prim} on stage '{self.name}': axis '{iv.var.name}' "
                                    f"given twice")
        positions = sorted(self.leaf_index(iv) for iv in axes)
        for position, iv in zip(positions, axes):
            if position != self.leaf_index(iv):
                self.require_not_time(iv, prim, "reordered")
        self._reorder(axes)
        self.schedule.record(steps.Reorder(self.name, tuple(a.var.name for a in axes)))

    def _reorder(self, axes):
        positions = sorted(self.leaf_index(iv) for iv in axes)
        for pos, iv in zip(positions, axes):
            self.leaf_iter_vars[pos] = iv

    def tile(self, x_parent, y_parent, x_factor, y_factor):
        """Split ``x`` and ``y`` and reorder to ``(xo, yo, xi, yi)``, which it returns."""
        prim = f"tile({_axis_name(x_parent)}, {_axis_name(y_parent)})"
        self.require_compute(prim)
        self.require_leaf(x_parent, prim)
        self.require_leaf(y_parent, prim)
        self.require_not_time(x_parent, prim, "tiled")
        self.require_not_time(y_parent, prim, "tiled")
        if x_parent is y_parent:
            raise ScheduleError(f"{prim} on stage '{self.name}': axis "
                                f"'{x_parent.var.name}' given twice")
        x_factor = _check_int(x_factor, "x_factor", prim, self.name)
        y_factor = _check_int(y_factor, "y_factor", prim, self.name)
        xo, xi = self._split(x_parent, x_factor, None)
        yo, yi = self._split(y_parent, y_factor, None)
        self._reorder((xo, yo, xi, yi))
        self.schedule.record(steps.Tile(self.name, x_parent.var.name, y_parent.var.name,
                                        x_factor, y_factor,
                                        tuple(v.var.name for v in (xo, yo, xi, yi))))
        return xo, yo, xi, yi

    def _annotate(self, iv, kind: str, prim: str, allow_reduce: bool) -> None:
        self.require_compute(prim)
        self.require_leaf(iv, prim)
        if kind != ForKind.UNROLLED:
            self.require_not_time(iv, prim, {ForKind.VECTORIZED: "vectorized",
                                             ForKind.PARALLEL: "run in parallel",
                                             ForKind.THREAD_BINDING: "bound to a thread"}[kind])
        if not allow_reduce and iv.iter_type == E.REDUCE:
            verb = {ForKind.VECTORIZED: "vectorized", ForKind.PARALLEL: "run in parallel",
                    ForKind.THREAD_BINDING: "bound to a thread"}.get(kind, kind)
            raise ScheduleError(f"{prim} on stage '{self.name}': axis '{iv.var.name}' is a "
                                f"reduction axis, which cannot be {verb}; factor it out "
                                f"with rfactor first, or unroll it")
        attr = self.iter_attrs.get(iv)
        if attr is not None and attr.thread is not None and kind != ForKind.THREAD_BINDING:
            raise ScheduleError(f"{prim} on stage '{self.name}': axis '{iv.var.name}' is "
                                f"already bound to '{attr.thread.thread_tag}'")

    def vectorize(self, iv) -> None:
        """Run the leaf ``iv`` (of constant extent) as SIMD lanes."""
        prim = f"vectorize({_axis_name(iv)})"
        self._annotate(iv, ForKind.VECTORIZED, prim, allow_reduce=False)
        if not _constant_extent_possible(self, iv):
            raise ScheduleError(f"{prim} on stage '{self.name}': axis '{iv.var.name}' has "
                                f"a non-constant extent; split it by a constant factor and "
                                f"vectorize the inner axis")
        self._attr(iv).kind = ForKind.VECTORIZED
        self.schedule.record(steps.Vectorize(self.name, iv.var.name))

    def unroll(self, iv) -> None:
        """Unroll the leaf ``iv``."""
        self._annotate(iv, ForKind.UNROLLED, f"unroll({_axis_name(iv)})", allow_reduce=True)
        self._attr(iv).kind = ForKind.UNROLLED
        self.schedule.record(steps.Unroll(self.name, iv.var.name))

    def parallel(self, iv) -> None:
        """Run the leaf ``iv`` on several CPU threads."""
        self._annotate(iv, ForKind.PARALLEL, f"parallel({_axis_name(iv)})",
                       allow_reduce=False)
        self._attr(iv).kind = ForKind.PARALLEL
        self.schedule.record(steps.Parallel(self.name, iv.var.name))

    def bind(self, iv, thread_ivar) -> None:
        """Bind the leaf ``iv`` to a GPU thread index: ``bind(bx, te.thread_axis("blockIdx.x"))``."""
        tag = getattr(thread_ivar, "thread_tag", "")
        prim = f"bind({_axis_name(iv)}, {tag or repr(thread_ivar)})"
        # the final reduction of an rfactor bound to threadIdx is a cross-thread
        # reduction: the CUDA backend combines the threads' partial values
        self._annotate(iv, ForKind.THREAD_BINDING, prim,
                       allow_reduce=tag.startswith("threadIdx.") and _reads_rfactor(self))
        if not isinstance(thread_ivar, E.IterVar) or thread_ivar.iter_type != E.THREAD \
                or not tag:
            raise ScheduleError(f"{prim} on stage '{self.name}': bind needs a thread axis "
                                f"made by te.thread_axis(\"threadIdx.x\"), got "
                                f"{thread_ivar!r}")
        for other, attr in self.iter_attrs.items():
            if attr.thread is not None and attr.thread.thread_tag == tag and other is not iv:
                raise ScheduleError(f"{prim} on stage '{self.name}': thread tag '{tag}' is "
                                    f"already bound to axis '{other.var.name}' of this stage")
        attr = self._attr(iv)
        attr.kind = ForKind.THREAD_BINDING
        attr.thread = thread_ivar
        self.schedule.record(steps.Bind(self.name, iv.var.name, tag))

    def set_store_predicate(self, predicate) -> None:
        """TVM's store predicate of a cross-thread reduction
        (``s[B].set_store_predicate(tx.var.equal(0))``): after the reduction every thread
        of the reduced axis holds the result and one stores it, which tensorlang's
        cross-thread reduction already does, so a predicate over those threads changes
        nothing and is accepted.  A predicate over other loops would leave outputs
        unwritten: refused (guard the value with te.if_then_else instead)."""
        prim = f"set_store_predicate({predicate})"
        self.require_compute(prim)
        if not isinstance(predicate, E.PrimExpr) or not predicate.dtype.is_bool:
            raise ScheduleError(f"{prim} on stage '{self.name}': the predicate must be a "
                                f"boolean expression such as tx.var.equal(0)")
        reduced = {attr.thread.var for iv, attr in self.iter_attrs.items()
                   if attr.thread is not None and iv.iter_type == E.REDUCE}
        others = [v.name for v in free_vars(predicate) if v not in reduced]
        if others:
            raise ScheduleError(f"{prim} on stage '{self.name}': tensorlang honours store "
                                f"predicates over the threads of a cross-thread reduction "
                                f"(bind its reduction axis to threadIdx first); "
                                f"{', '.join(repr(n) for n in others)} is not one, and a "
                                f"predicate over it would leave outputs unwritten: guard "
                                f"the value with te.if_then_else instead")

    def tensorize(self, iv, intrin) -> None:
        """TVM's tensorize: not built yet."""
        raise NotImplementedError(
            f"tensorize on stage '{self.name}' is not built yet in tensorlang: vectorize or "
            f"unroll the loops under '{getattr(getattr(iv, 'var', None), 'name', iv)}', or "
            f"call a C function per element with tir.call_pure_extern")

    def pragma(self, iv, name: str, value=1) -> None:
        """Attach the pragma ``name`` (with ``value``) to the leaf loop ``iv``."""
        prim = f"pragma({_axis_name(iv)}, {name!r})"
        self.require_compute(prim)
        self.require_leaf(iv, prim)
        if not isinstance(name, str) or not name.isidentifier():
            raise ScheduleError(f"{prim} on stage '{self.name}': the pragma name must be an "
                                f"identifier string, got {name!r}")
        if isinstance(value, E.IntImm):
            value = value.value
        if not isinstance(value, (int, float, str)):
            raise ScheduleError(f"{prim} on stage '{self.name}': the pragma value must be an "
                                f"int, float or str, got {value!r}")
        self._attr(iv).pragmas.append((name, value))
        self.schedule.record(steps.Pragma(self.name, iv.var.name, name, value))

    def storage_align(self, iv, factor: int, offset: int) -> None:
        """Pad the buffer of this stage so that the stride of the dimension of ``iv`` is
        ``k * factor + offset`` (avoids shared-memory bank conflicts)."""
        prim = f"storage_align({_axis_name(iv)}, {factor!r}, {offset!r})"
        self.require_compute(prim)
        axes = list(self.op.axis)
        dim = next((k for k, a in enumerate(axes) if a is iv), -1)
        if dim < 0:
            raise ScheduleError(f"{prim} on stage '{self.name}': axis '{_axis_name(iv)}' is "
                                f"not a data-parallel axis of s[{self.name}].op.axis")
        factor = _check_int(factor, "factor", prim, self.name)
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < factor:
            raise ScheduleError(f"{prim} on stage '{self.name}': offset must be an int in "
                                f"[0, factor), got {offset!r}")
        self.storage_aligns = [a for a in self.storage_aligns if a[0] != dim]
        self.storage_aligns.append((dim, factor, offset))
        self.schedule.record(steps.StorageAlign(self.name, iv.var.name, factor, offset))

    def set_scope(self, scope: str) -> None:
        """Store this stage's result in memory scope ``scope``."""
        check_scope(scope, f"set_scope({scope!r})", self.name)
        self.require_compute(f"set_scope({scope!r})", extern_ok=True)
        role = self.schedule.scan_role(self)
        if role is not None and role[0] in ("scan", "init", "update"):
            raise ScheduleError(
                f"set_scope({scope!r}) on stage '{self.name}': the {role[0]} of scan "
                f"'{role[1].name}' is stored in the scan's output, in global memory")
        self.scope = scope
        self.scope_given = True
        self.schedule.record(steps.SetScope(self.name, scope))

    # -- attachment (attach.py, installed) --------------------------------------------
    def compute_at(self, parent, axis) -> None:
        """Compute this stage inside loop ``axis`` of stage ``parent``, only the region
        that one iteration of ``parent`` needs."""
        installed("compute_at")(self, parent, axis)

    def compute_inline(self) -> None:
        """Substitute this stage's expression into its consumers."""
        installed("compute_inline")(self)

    def compute_root(self) -> None:
        """Compute this stage fully, at the outermost level (the default)."""
        installed("compute_root")(self)


def _reads_rfactor(stage: Stage) -> bool:
    """Whether ``stage`` is the final reduction of an rfactor (it reduces the partial
    results of the ``<name>.rf`` stage)."""
    body = () if stage.is_extern else getattr(stage.op, "body", None) or ()
    return bool(body) and all(
        isinstance(r, E.Reduce) and all(
            isinstance(src, E.ProducerLoad)
            and getattr(src.producer.op, "name", "") == f"{stage.op.name}.rf"
            for src in r.source)
        for r in body)


def _constant_extent_possible(stage: Stage, iv) -> bool:
    """False when ``iv``'s extent is certainly symbolic.  An output always covers its whole
    domain, so its extents are known now; other stages may still be attached somewhere
    that makes the extent constant, which lowering checks."""
    if stage.static_extent(iv) is not None:
        return True
    return not stage.is_output


def _root_iter_vars(op) -> list[E.IterVar]:
    """The loops a stage of ``op`` starts with: its axes then its reduction axes; the
    scan axis alone for a scan (its spatial axes are opaque, as in TVM)."""
    if isinstance(op, ScanOp):
        return [op.scan_axis]
    return list(getattr(op, "axis", ())) + list(getattr(op, "own_reduce_axis", ()))
