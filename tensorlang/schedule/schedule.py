"""The :class:`Schedule`: one :class:`Stage` per operation, in dataflow order, plus the
steps applied so far (a schedule is plain data), and :func:`replay` of steps."""
from __future__ import annotations

import re

from ..errors import ScheduleError
from ..te.extern import ExternOp
from ..te.graph import ComputeOp, Operation, ScanOp, Tensor, post_order_ops
from ..tir import expr as E
from ..tir.functor import Mutator
from .stage import INLINE, ROOT, SCOPE, Stage, installed
from .steps import Step, as_step, py_name, steps_from_json, steps_to_json


def _as_ops(ops, what: str) -> list[Operation]:
    if isinstance(ops, (Tensor, Operation)):
        ops = [ops]
    if not isinstance(ops, (list, tuple)) or not ops:
        raise ScheduleError(f"{what}: expected a tensor, an operation or a list of them, "
                            f"got {ops!r}")
    result = []
    for item in ops:
        if isinstance(item, Tensor):
            item = item.op
        if not isinstance(item, Operation):
            raise ScheduleError(f"{what}: expected tensors or operations, got {item!r}")
        if not any(item is r for r in result):
            result.append(item)
    return result


def create_schedule(ops) -> "Schedule":
    """A default schedule (every stage computed at the root, loops in axis order) for the
    given output tensors or operations: ``s = tl.create_schedule(C)``."""
    return Schedule(_as_ops(ops, "create_schedule"))


class ReplaceProducers(Mutator):
    """Read ``mapping[t]`` wherever an expression reads tensor ``t``."""

    def __init__(self, mapping):
        self.mapping = mapping

    def visit_ProducerLoad(self, node):
        indices = self.visit_tuple(node.indices)
        new = self.mapping.get(node.producer)
        if new is None:
            return node.replace(indices=indices)
        return E.ProducerLoad(new, indices, node.dtype)


def rebuild_compute(op: ComputeOp, body) -> ComputeOp:
    """A copy of ``op`` with another body over the same axes."""
    return ComputeOp(op.name, op.tag, op.attrs, op.axis, body,
                     output_names=[t.name for t in op.outputs])


def rebuild_reading(op, mapping: dict):
    """A copy of ``op`` (a te.compute, te.scan or te.extern operation) that reads
    ``mapping[t]`` wherever it read tensor ``t``."""
    if isinstance(op, ExternOp):
        return op.with_inputs([mapping.get(t, t) for t in op.inputs])
    if isinstance(op, ScanOp):
        return op.replace_inputs(mapping)   # the same scan axis: its loop stays
    mutator = ReplaceProducers(mapping)
    return rebuild_compute(op, [mutator.visit(b) for b in op.body])


class Schedule:
    """Stages of a computation and the steps that scheduled them.

    ``s[C]`` is the stage of tensor ``C`` (also after ``cache_write``/``rfactor`` replaced
    its operation); ``s.steps`` holds the primitives applied (:class:`Step` records),
    ``str(s)`` prints them as the Python code that rebuilds the schedule.
    """

    def __init__(self, outputs: list[Operation]):
        self.outputs: list[Operation] = list(outputs)
        self.stages: list[Stage] = []
        self.stage_map: dict[Operation, Stage] = {}
        self._steps: list[Step] = []
        self._lines: list[str] = []
        #: the operations the schedule was created for (cache_write and rfactor may
        #: replace the operations of their stages; the function's outputs stay these)
        self.initial_outputs = list(outputs)
        self._stage_names: dict[str, Stage] = {}
        for op in post_order_ops(self.outputs):
            self.add_stage(op, len(self.stages))
        for op in self.outputs:
            self.stage_map[op].is_output = True
        for stage in self.stages:
            stage.companions = [self.stage_map[h] for h in
                                getattr(stage.op, "hidden_reductions", ())
                                if h in self.stage_map]
        self._check_scans()
        self._attach_scan_bodies()

    # -- stages ------------------------------------------------------------------------
    def _unique_name(self, base: str) -> str:
        name, k = base, 1
        while name in self._stage_names:
            name = f"{base}_{k}"
            k += 1
        return name

    def add_stage(self, op: Operation, position: int) -> Stage:
        """A new stage for ``op`` at ``position`` of :attr:`stages` (the primitives that
        create operations, cache_read/write and rfactor, call it)."""
        stage = Stage(self, op, self._unique_name(op.name))
        self._stage_names[stage.name] = stage
        self.stages.insert(position, stage)
        self.stage_map[op] = stage
        return stage

    def __getitem__(self, key) -> Stage:
        if isinstance(key, Stage) or getattr(key, "is_group", False):
            return key
        op = key.op if isinstance(key, Tensor) else key
        stage = self.stage_map.get(op) if isinstance(op, Operation) else None
        if stage is None:
            name = getattr(key, "name", repr(key))
            raise ScheduleError(f"s[{name}]: '{name}' is not part of this schedule; create "
                                f"the schedule from the outputs that depend on it")
        return stage

    def stage_by_name(self, name: str) -> Stage:
        if name in self._stage_names:
            return self._stage_names[name]
        raise ScheduleError(f"no stage named '{name}' in this schedule (stages: "
                            f"{', '.join(s.name for s in self.stages)})")

    def current_tensor(self, tensor: Tensor) -> Tensor:
        """The tensor that now holds the values of ``tensor`` (operations are rebuilt by
        cache_read/cache_write/rfactor)."""
        return self[tensor].op.output(tensor.value_index)

    def stage_of_tensor(self, tensor: Tensor) -> Stage:
        return self.stage_map[tensor.op]

    def read_stages(self, stage: Stage) -> list[Stage]:
        """Stages whose outputs ``stage`` reads directly."""
        result: list[Stage] = []
        for t in getattr(stage.op, "input_tensors", ()):
            producer = self.stage_map[t.op]
            if not any(p is producer for p in result):
                result.append(producer)
        return result

    def consumes(self, consumer: Stage, producer: Stage) -> bool:
        """Whether ``consumer`` reads ``producer``, directly or through inlined stages."""
        return self._reads(consumer, producer, lambda stage: stage.attach_type == INLINE)

    def depends_on(self, consumer: Stage, producer: Stage) -> bool:
        """Whether ``consumer`` reads ``producer`` through any chain of stages."""
        return self._reads(consumer, producer, lambda stage: True)

    def _reads(self, consumer: Stage, producer: Stage, through) -> bool:
        todo, seen = [consumer], set()
        while todo:
            stage = todo.pop()
            for p in self.read_stages(stage):
                if p is producer:
                    return True
                if through(p) and id(p) not in seen:
                    seen.add(id(p))
                    todo.append(p)
        return False

    def normalize(self) -> "Schedule":
        """TVM's ``s = s.normalize()`` rebases loops to start at 0 before bound inference;
        tensorlang's bound inference and lowering take loops as they are, and what they
        compute is the same either way, so the schedule is returned unchanged."""
        return self

    def create_group(self, outputs, inputs, include_inputs: bool = False):
        """``g = s.create_group(outputs=D, inputs=A)``: the stages computing ``D`` from
        ``A``, placed together by ``s[g].compute_at(s[E], i)`` (TVM's stage groups)."""
        return installed("create_group")(self, outputs, inputs, include_inputs)

    def reserve_stage_name(self, base: str) -> str:
        """A name no stage or group of this schedule has, now taken."""
        name = self._unique_name(base)
        self._stage_names[name] = None
        return name

    def register_group(self, group) -> None:
        """Make ``group`` reachable by its name (``stage_by_name``) and as ``s[group]``."""
        self._stage_names[group.name] = group

    def replace_dataflow(self, mapping: dict[Tensor, Tensor], skip=()) -> None:
        """Make every stage read ``mapping[t]`` instead of ``t``; rebuilt operations are
        mapped in turn so that downstream readers follow.  Stages in ``skip`` keep their
        reads."""
        mapping = dict(mapping)
        for stage in self.stages:
            if stage.is_placeholder or any(stage is s for s in skip):
                continue
            op = stage.op
            if not any(t in mapping for t in op.input_tensors):
                continue
            new_op = rebuild_reading(op, mapping)
            self.set_stage_op(stage, new_op, keep_loops=True)
            for old, new in zip(op.outputs, new_op.outputs):
                mapping[old] = new
        self._attach_scan_bodies()

    def set_stage_op(self, stage: Stage, new_op, keep_loops: bool) -> None:
        """Point ``stage`` at ``new_op`` (same axes when ``keep_loops``)."""
        old = stage.op
        if keep_loops:
            stage.op = new_op
        else:
            stage.reset(new_op)
        self.stage_map[new_op] = stage
        self.outputs = [new_op if o is old else o for o in self.outputs]

    # -- scans -------------------------------------------------------------------------
    def scan_role(self, stage: Stage):
        """``(role, scan stage)`` where ``stage`` belongs to a ``te.scan``: ``"scan"``
        (the scan itself), ``"init"``, ``"update"``, ``"body"`` (computed at each step:
        it reads the state) or ``"state"`` (a state placeholder); else None."""
        op = stage.op
        for scan in self.stages:
            if not scan.is_scan:
                continue
            scan_op: ScanOp = scan.op
            if scan is stage:
                return "scan", scan
            for role, tensors in (("init", scan_op.init), ("update", scan_op.update),
                                  ("state", scan_op.state_placeholder)):
                if any(op is t.op for t in tensors):
                    return role, scan
            if any(op is body for body in scan_op.body_ops):
                return "body", scan
        return None

    def time_axis(self, stage: Stage):
        """The axis of ``stage`` that runs over a scan's time steps, in order: the scan
        axis of a scan, the first axis of a scan's update; else None."""
        role = self.scan_role(stage)
        if role is None:
            return None
        if role[0] == "scan":
            return stage.op.scan_axis
        return stage.op.axis[0] if role[0] == "update" else None

    def _check_scans(self) -> None:
        """Refuse graphs where a scan's state or update is read outside the scan (they
        exist only while it runs), or where a tensor belongs to two scans."""
        owner: dict = {}
        for scan in (st for st in self.stages if st.is_scan):
            for role, tensors in (("init", scan.op.init), ("update", scan.op.update),
                                  ("state", scan.op.state_placeholder)):
                for t in tensors:
                    other = owner.setdefault(id(t.op), (role, scan))
                    if other[1] is not scan:
                        raise ScheduleError(
                            f"create_schedule: '{t.name}' is the {other[0]} of scan "
                            f"'{other[1].name}' and the {role} of scan '{scan.name}'; "
                            f"give each scan its own tensors")
        for stage in self.stages:
            mine = self.scan_role(stage)
            for t in getattr(stage.op, "input_tensors", ()):
                role = owner.get(id(t.op))
                if role is None or role[0] == "init" or stage.is_scan:
                    continue
                if mine is None or mine[1] is not role[1] or mine[0] not in ("update", "body"):
                    raise ScheduleError(
                        f"create_schedule: stage '{stage.name}' reads '{t.name}', the "
                        f"{role[0]} of scan '{role[1].name}', but is not computed in the "
                        f"scan's steps; it exists only while the scan runs: read the scan's "
                        f"output '{role[1].op.output(0).name}' instead")
        for op in self.outputs:
            role = owner.get(id(op))
            if role is not None:
                raise ScheduleError(
                    f"create_schedule: '{op.name}' is the {role[0]} of scan "
                    f"'{role[1].name}', held in the scan's output; create the schedule from "
                    f"the scan's output '{role[1].op.output(0).name}'")

    def _attach_scan_bodies(self) -> None:
        """Stages computed at each step of a scan start in the scan's innermost loop over
        time (TVM's scan-update attachment); compute_at may move them into its update."""
        for stage in self.stages:
            if stage.attach_type != ROOT:
                continue
            role = self.scan_role(stage)
            if role is not None and role[0] in ("update", "body"):
                stage.attach_type = SCOPE
                stage.attach_stage = role[1]
                stage.attach_ivar = role[1].leaf_iter_vars[-1]

    def follow_scan_loops(self, scan: Stage) -> None:
        """After a split or fuse of the loops of ``scan``, the stages computed at a loop
        that is no longer one move to its innermost loop: one step."""
        for stage in self.stages:
            if stage.attach_type == SCOPE and stage.attach_stage is scan and \
                    scan.leaf_index(stage.attach_ivar) < 0:
                stage.attach_ivar = scan.leaf_iter_vars[-1]

    # -- steps -------------------------------------------------------------------------
    @property
    def steps(self) -> tuple[Step, ...]:
        """The primitives applied so far, in order."""
        return tuple(self._steps)

    def record(self, step: Step) -> None:
        """Append ``step``, a primitive just performed on this schedule."""
        self._steps.append(step)
        self._lines.append(step.to_python(self))

    def to_python(self) -> str:
        """The schedule as the Python code that rebuilds it."""
        outputs = ", ".join(py_name(self.stage_map[op].name) for op in self.initial_outputs)
        # the hidden reduction stages (te.sum(...) inside a larger expression) a step
        # names, from the tensors whose expressions hold them
        hidden = [f"{py_name(c.name)} = {py_name(stage.name)}.op.hidden_reductions[{k}]"
                  for stage in self.stages for k, c in enumerate(stage.companions)
                  if any(re.search(rf"\b{py_name(c.name)}\b", line) for line in self._lines)]
        return "\n".join([f"s = tl.create_schedule([{outputs}])"] + hidden + self._lines)

    def __str__(self) -> str:
        return self.to_python()

    def __repr__(self) -> str:
        return f"Schedule({', '.join(s.name for s in self.stages)}; {len(self._steps)} steps)"

    def to_json(self) -> str:
        """The steps as a JSON string (see :meth:`from_json`)."""
        return steps_to_json(self._steps)

    @staticmethod
    def from_json(text: str, outputs) -> "Schedule":
        """Rebuild a schedule of the compute definition ``outputs`` from :meth:`to_json`."""
        return replay(steps_from_json(text), outputs)

    # -- primitives on several stages (cache.py, rfactor.py, installed) ------------------
    def cache_read(self, tensor, scope: str, readers, axes=None) -> Tensor:
        """A copy of ``tensor`` in memory ``scope`` that ``readers`` read instead:
        ``AA = s.cache_read(A, "shared", [C])``; ``axes`` orders its dimensions
        (``axes=(0, 2, 1)``: the last two transposed)."""
        return installed("cache_read")(self, tensor, scope, readers, axes)

    def cache_write(self, tensor, scope: str) -> Tensor:
        """Compute ``tensor`` into a buffer in ``scope`` first, then copy it out:
        ``CC = s.cache_write(C, "local")``."""
        return installed("cache_write")(self, tensor, scope)

    def rfactor(self, tensor, axis, factor_axis: int = 0) -> Tensor:
        """Factor the reduction of ``tensor`` over the leaf ``axis`` into a new stage that
        keeps ``axis`` as a data-parallel dimension: ``CF = s.rfactor(C, ki)``."""
        return installed("rfactor")(self, tensor, axis, factor_axis)


def replay(steps, outputs) -> Schedule:
    """A new schedule of ``outputs`` with ``steps`` applied: Step objects (``s.steps``,
    :func:`steps_from_json`) or their JSON dicts (the ``"steps"`` of tuning records)."""
    steps = [as_step(step) for step in steps]
    schedule = create_schedule(outputs)
    for step in steps:
        step.apply(schedule)
    return schedule
