"""Stage groups (TVM's ``s.create_group``): stages placed together with one compute_at.

``g = s.create_group(outputs=D, inputs=A)`` groups the stages that compute ``D`` from
``A`` (``A`` itself with ``include_inputs=True``); ``s[g].compute_at(s[E], i)`` computes
them all inside loop ``i`` of ``E``, in dataflow order, and ``s[g].compute_root()`` takes
them back.  Members keep their own schedules: one computed at another member stays there
and moves with it.
"""
from __future__ import annotations

from ..errors import ScheduleError
from ..te.graph import Tensor
from ..tir import expr as E
from .stage import INLINE, ROOT, SCOPE, Stage
from .steps import ComputeAt, ComputeRoot, CreateGroup


class Group:
    """The stages of a group; ``s[g]`` is the group itself."""

    is_group = True

    def __init__(self, schedule, name: str, members: list[Stage], outputs: list[Stage],
                 inputs: list[Stage], include_inputs: bool):
        self.schedule = schedule
        self.name = name
        self.members = members
        self.outputs, self.inputs, self.include_inputs = outputs, inputs, include_inputs
        self.attach_stage: Stage | None = None
        self.attach_ivar: E.IterVar | None = None

    def __repr__(self) -> str:
        return f"Group({self.name}: {', '.join(m.name for m in self.members)})"

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise ScheduleError(f"s[{self.name}].{name}: a group of stages is placed with "
                            f"compute_at / compute_root; schedule the loops of its stages "
                            f"({', '.join(m.name for m in self.members)}) one by one")

    def compute_at(self, parent, axis) -> None:
        """Compute every member not placed inside another member in loop ``axis`` of
        ``parent``."""
        schedule = self.schedule
        parent = schedule[parent]
        axis_name = axis.var.name if isinstance(axis, E.IterVar) else repr(axis)
        prim = f"compute_at(s[{parent.name}], {axis_name}) on group '{self.name}'"
        if any(parent is m for m in self.members):
            raise ScheduleError(f"{prim}: '{parent.name}' belongs to the group")
        if not isinstance(axis, E.IterVar) or parent.leaf_index(axis) < 0:
            raise ScheduleError(f"{prim}: axis '{axis_name}' is not a leaf (current loop) of "
                                f"stage '{parent.name}'")
        if parent.attach_type == INLINE:
            raise ScheduleError(f"{prim}: stage '{parent.name}' is inlined and has no loops")
        if not any(schedule.depends_on(parent, m) for m in self.members):
            raise ScheduleError(f"{prim}: stage '{parent.name}' reads no stage of the "
                                f"group; compute it at one of their consumers")
        moving = self._root_members(prim)
        for member in moving:
            if member.is_output:
                raise ScheduleError(f"{prim}: member '{member.name}' is an output, which "
                                    f"must be computed in full at the root")
        for member in moving:
            member.attach_type, member.attach_stage, member.attach_ivar = SCOPE, parent, axis
            member.carried_by = self
        self.attach_stage, self.attach_ivar = parent, axis
        schedule.record(ComputeAt(self.name, parent.name, axis.var.name))

    def compute_root(self) -> None:
        """Members placed by the group go back to the root."""
        for member in self.members:
            if member.carried_by is self:
                member.attach_type, member.attach_stage, member.attach_ivar = ROOT, None, None
                member.carried_by = None
        self.attach_stage = self.attach_ivar = None
        self.schedule.record(ComputeRoot(self.name))

    def _root_members(self, prim: str) -> list[Stage]:
        """The members the group places: those at the root or placed by the group."""
        inside = {id(m) for m in self.members}
        moving = []
        for member in self.members:
            if member.attach_type == INLINE:
                continue
            if member.attach_type == SCOPE and member.carried_by is not self:
                if id(member.attach_stage) not in inside:
                    raise ScheduleError(
                        f"{prim}: member '{member.name}' is computed at stage "
                        f"'{member.attach_stage.name}', outside the group; compute it at "
                        f"the root or inside the group first")
                continue   # inside another member: it moves with it
            moving.append(member)
        return moving


def create_group(schedule, outputs, inputs, include_inputs: bool = False) -> Group:
    """``g = s.create_group(outputs=D, inputs=[A, B])``: the stages between ``inputs``
    and ``outputs`` (the outputs included, the inputs with ``include_inputs``)."""
    outs = _tensors(outputs, "outputs")
    ins = _tensors(inputs, "inputs")
    prim = (f"create_group(outputs=[{', '.join(t.name for t in outs)}], "
            f"inputs=[{', '.join(t.name for t in ins)}])")
    if not outs:
        raise ScheduleError(f"{prim}: give the tensors the group computes as outputs")
    out_stages = _unique([schedule[t] for t in outs])
    in_stages = _unique([schedule[t] for t in ins])
    boundary = {id(s) for s in in_stages}
    found, todo = {}, list(out_stages)
    while todo:
        stage = todo.pop()
        if id(stage) in found:
            continue
        if id(stage) in boundary:
            if include_inputs and not stage.is_placeholder:
                found[id(stage)] = stage
            continue
        if stage.is_placeholder:
            continue
        found[id(stage)] = stage
        todo.extend(schedule.read_stages(stage))
    members = [s for s in schedule.stages if id(s) in found]
    for member in members:
        if member.is_scan or member.is_extern or schedule.scan_role(member) is not None:
            raise ScheduleError(f"{prim}: stage '{member.name}' is a scan, part of one, or an "
                                f"extern stage, which are placed by their own rules")
        if getattr(member, "group", None) is not None:
            raise NotImplementedError(
                f"{prim}: stage '{member.name}' is already in group "
                f"'{member.group.name}'; groups inside groups are not built (compute_at the "
                f"stages of the inner group at a member of the outer one instead)")
    if not members:
        raise ScheduleError(f"{prim}: no computed stage lies between the inputs and outputs")
    group = Group(schedule, schedule.reserve_stage_name("group"), members, out_stages,
                  in_stages, bool(include_inputs))
    for member in members:
        member.group = group
    schedule.register_group(group)
    schedule.record(CreateGroup(group.name, tuple(s.name for s in out_stages),
                                tuple(s.name for s in in_stages), int(bool(include_inputs))))
    return group


def _tensors(value, what: str) -> list[Tensor]:
    items = [] if value is None else list(value) if isinstance(value, (list, tuple)) \
        else [value]
    for item in items:
        if not isinstance(item, Tensor):
            raise ScheduleError(f"create_group: {what} must be tensors, got {item!r}")
    return items


def _unique(stages: list[Stage]) -> list[Stage]:
    return list({id(s): s for s in stages}.values())
