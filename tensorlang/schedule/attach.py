"""Where a stage is computed: ``compute_at``, ``compute_inline``, ``compute_root``."""
from __future__ import annotations

from ..errors import ScheduleError
from ..tir import expr as E
from .stage import INLINE, ROOT, SCOPE, Stage
from .steps import ComputeAt, ComputeInline, ComputeRoot


def compute_at(stage: Stage, parent, axis) -> None:
    """Compute ``stage`` inside the loop ``axis`` of stage ``parent``."""
    schedule = stage.schedule
    if not isinstance(parent, Stage):
        try:
            parent = schedule[parent]
        except ScheduleError:
            raise ScheduleError(f"compute_at on stage '{stage.name}': the target must be a "
                                f"stage such as s[C], got {parent!r}") from None
    axis_name = axis.var.name if isinstance(axis, E.IterVar) else repr(axis)
    prim = f"compute_at(s[{parent.name}], {axis_name})"
    stage.require_compute(prim)
    if parent is stage:
        raise ScheduleError(f"{prim} on stage '{stage.name}': a stage cannot be computed "
                            f"inside its own loops")
    if stage.is_output:
        raise ScheduleError(f"{prim} on stage '{stage.name}': '{stage.name}' is an output, "
                            f"which must be computed in full at the root")
    if parent.schedule is not schedule:
        raise ScheduleError(f"{prim} on stage '{stage.name}': s[{parent.name}] belongs to "
                            f"another schedule")
    if parent.is_extern:
        raise ScheduleError(f"{prim} on stage '{stage.name}': stage '{parent.name}' is an "
                            f"extern stage (te.extern) and has no loops to compute "
                            f"'{stage.name}' in; leave '{stage.name}' at the root")
    if not isinstance(axis, E.IterVar) or parent.leaf_index(axis) < 0:
        raise ScheduleError(f"{prim} on stage '{stage.name}': axis '{axis_name}' is not a "
                            f"leaf (current loop) of stage '{parent.name}'; pass an axis of "
                            f"s[{parent.name}] that was not split or fused")
    if parent.attach_type == INLINE:
        raise ScheduleError(f"{prim} on stage '{stage.name}': stage '{parent.name}' is "
                            f"inlined and has no loops")
    _check_scan_attach(stage, parent, axis, prim)
    # The parent may read the stage through other stages (softmax: the maximum is read by
    # the exponentials, computed at the same loop); lowering checks that every consumer
    # then runs inside the loop (bound.py), when all attachments are known.
    if not schedule.depends_on(parent, stage):
        raise ScheduleError(f"{prim} on stage '{stage.name}': stage '{parent.name}' does "
                            f"not read '{stage.name}', directly or through other stages; "
                            f"compute it at one of its consumers")
    stage.attach_type = SCOPE
    stage.attach_stage = parent
    stage.attach_ivar = axis
    stage.carried_by, stage.placed = None, True
    _carry_companions(stage)
    schedule.record(ComputeAt(stage.name, parent.name, axis.var.name))


def _carry_companions(stage: Stage) -> None:
    """The hidden reduction stages of ``stage`` (``te.sum(...) / n``) go where it goes,
    unless they were placed themselves: computed at the same loop, before it."""
    for companion in stage.companions:
        if not companion.placed or companion.carried_by is stage:
            companion.attach_type, companion.attach_stage, companion.attach_ivar = \
                stage.attach_type, stage.attach_stage, stage.attach_ivar
            companion.carried_by = stage if stage.attach_type == SCOPE else None


def compute_inline(stage: Stage) -> None:
    """Substitute ``stage``'s expression into every consumer."""
    prim = "compute_inline()"
    stage.require_compute(prim)
    role = stage.schedule.scan_role(stage)
    if role is not None and role[0] == "scan":
        raise ScheduleError(f"{prim} on stage '{stage.name}': '{stage.name}' is a scan, "
                            f"which cannot be inlined: its steps run in order, into its "
                            f"output")
    if role is not None and role[0] in ("init", "update"):
        raise ScheduleError(f"{prim} on stage '{stage.name}': '{stage.name}' is the "
                            f"{role[0]} of scan '{role[1].name}', stored in the scan's "
                            f"output, so it cannot be inlined")
    if stage.is_output:
        raise ScheduleError(f"{prim} on stage '{stage.name}': '{stage.name}' is an output "
                            f"of the schedule and must be stored, not inlined")
    if stage.op.own_reduce_axis:
        raise ScheduleError(f"{prim} on stage '{stage.name}': '{stage.name}' is a "
                            f"reduction, which cannot be inlined; use compute_at instead")
    if stage.op.num_outputs > 1:
        raise ScheduleError(f"{prim} on stage '{stage.name}': '{stage.name}' has "
                            f"{stage.op.num_outputs} outputs; only single-output stages can "
                            f"be inlined")
    for other in stage.schedule.stages:
        if other.attach_type == SCOPE and other.attach_stage is stage:
            raise ScheduleError(f"{prim} on stage '{stage.name}': stage '{other.name}' is "
                                f"computed at an axis of '{stage.name}'; move it first")
        if other.is_extern and any(t.op is stage.op for t in other.op.inputs):
            raise ScheduleError(f"{prim} on stage '{stage.name}': the extern stage "
                                f"'{other.name}' reads '{stage.name}', and the function it "
                                f"calls receives whole buffers, so '{stage.name}' must be "
                                f"stored: keep it at the root")
    stage.attach_type = INLINE
    stage.attach_stage = None
    stage.attach_ivar = None
    stage.schedule.record(ComputeInline(stage.name))


def compute_root(stage: Stage) -> None:
    """Compute ``stage`` in full at the outermost level."""
    stage.require_compute("compute_root()", extern_ok=True)
    role = stage.schedule.scan_role(stage)
    if role is not None and role[0] in ("update", "body"):
        scan = role[1]
        raise ScheduleError(
            f"compute_root() on stage '{stage.name}': '{stage.name}' reads the state of scan "
            f"'{scan.name}', so it is computed at each step of the scan, inside its loop "
            f"over time; s[{stage.name}].compute_at(s[{scan.name}], "
            f"{scan.leaf_iter_vars[-1].var.name}) computes it at the step, or compute_at a loop "
            f"of the update")
    stage.attach_type = ROOT
    stage.attach_stage = None
    stage.attach_ivar = None
    stage.carried_by, stage.placed = None, True
    _carry_companions(stage)
    stage.schedule.record(ComputeRoot(stage.name))


def _check_scan_attach(stage: Stage, parent: Stage, axis, prim: str) -> None:
    """A scan is computed at the root, its init and update where the scan puts them; a
    stage computed at each step stays inside the steps of its own scan."""
    schedule = stage.schedule
    role = schedule.scan_role(stage)
    if role is None:
        return
    kind, scan = role
    if kind == "scan":
        raise ScheduleError(f"{prim} on stage '{stage.name}': '{stage.name}' is a scan, "
                            f"computed at the root: its loop over time is the outermost loop")
    if kind in ("init", "update"):
        when = "before the first step" if kind == "init" else "at each step"
        raise ScheduleError(
            f"{prim} on stage '{stage.name}': '{stage.name}' is the {kind} of scan "
            f"'{scan.name}', which computes it {when} into the scan's output; schedule the "
            f"loops of '{stage.name}' instead")
    if kind == "body":
        target = schedule.scan_role(parent)
        if parent is not scan and (target is None or target[1] is not scan or
                                   target[0] not in ("update", "body")):
            raise ScheduleError(
                f"{prim} on stage '{stage.name}': '{stage.name}' reads the state of scan "
                f"'{scan.name}', so it is computed at each step of the scan: compute it at "
                f"a loop of the scan's update or of another stage computed at each step, "
                f"not of '{parent.name}'")
        inner = scan.leaf_iter_vars[-1]
        if parent is scan and axis is not inner:
            raise ScheduleError(
                f"{prim} on stage '{stage.name}': '{stage.name}' reads the state of scan "
                f"'{scan.name}', so it is computed at each step: at the scan's innermost "
                f"loop '{inner.var.name}', not at '{axis.var.name}', which runs several steps")
