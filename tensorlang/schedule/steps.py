"""Schedule steps: one record per primitive applied, which prints itself as the line of
Python that performs it, serialises to a JSON dict and replays on a fresh schedule of the
same computation.

The JSON form of a step is the dict tuning records store in their ``"steps"``:
``{"primitive": "split", "axis": "i", "factor": 32, "outputs": ["i.outer", "i.inner"],
"stage": "C"}``.  Axes and stages are named; names are deterministic, so replaying the
steps on a new copy of the same computation yields the same schedule.  A step reaches the
schedule it is applied to only through the schedule's public methods.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import ClassVar

from ..errors import ScheduleError
from ..te.declare import thread_axis


def py_name(name: str) -> str:
    """A Python identifier for a stage or axis name (``i.outer`` -> ``i_outer``)."""
    ident = re.sub(r"\W", "_", name)
    return ident if ident and not ident[0].isdigit() else f"_{ident}"


def axis_ref(stage, name: str) -> str:
    """Python text naming axis ``name`` of ``stage`` at this point of the schedule."""
    tensor = py_name(stage.name)
    for k, iv in enumerate(getattr(stage.op, "axis", ())):
        if iv.var.name == name:
            return f"s[{tensor}].op.axis[{k}]"
    for k, iv in enumerate(getattr(stage.op, "own_reduce_axis", ())):
        if iv.var.name == name:
            return f"s[{tensor}].op.reduce_axis[{k}]"
    scan_axis = getattr(stage.op, "scan_axis", None)
    if scan_axis is not None and scan_axis.var.name == name:
        return f"s[{tensor}].op.scan_axis"
    return py_name(name)


def find_axis(stage, name: str):
    """The newest axis of ``stage`` named ``name`` (what a replayed step refers to)."""
    for iv in reversed(stage.all_iter_vars):
        if iv.var.name == name:
            return iv
    raise ScheduleError(f"replay: stage '{stage.name}' has no axis named '{name}'; the steps "
                        f"do not match this compute definition")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: whether a JSON value fits a field, by the field's annotation
_CHECKS = {
    "str": lambda v: isinstance(v, str),
    "int": _is_int,
    "int | None": lambda v: v is None or _is_int(v),
    "tuple[str, ...]": lambda v: isinstance(v, (list, tuple))
    and all(isinstance(x, str) for x in v),
    "int | float | str": lambda v: isinstance(v, (int, float, str)),
    "tuple[int, ...] | None": lambda v: v is None or isinstance(v, (list, tuple))
    and all(_is_int(x) for x in v),
}

#: values a step written without them means (as replay always read them)
_DEFAULTS = {"value_index": 0, "factor_axis": 0, "outputs": (), "factor": None,
             "nparts": None, "axes": None}


@dataclass(frozen=True)
class Step:
    """A primitive applied to stage ``stage`` (its name).  Subclasses name their
    ``primitive`` and hold its arguments as JSON values (names, ints, tuples of names)."""

    stage: str
    #: the primitive's name, the ``"primitive"`` of the JSON form
    primitive: ClassVar[str] = ""
    #: whether ``"stage"`` comes last in the JSON form (first for the dataflow primitives)
    stage_last: ClassVar[bool] = True

    def apply(self, schedule):
        """Perform the step on ``schedule``; returns what the primitive returns."""
        raise NotImplementedError

    def to_python(self, schedule) -> str:
        """The line of Python that performs the step on ``schedule`` (as it is now)."""
        raise NotImplementedError

    def to_json(self) -> dict:
        """The step as the dict of JSON values tuning records store."""
        names = [f.name for f in fields(self) if f.name != "stage"]
        names = names + ["stage"] if self.stage_last else ["stage"] + names
        data = {"primitive": self.primitive}
        for name in names:
            value = getattr(self, name)
            if value is not None:
                data[name] = list(value) if isinstance(value, tuple) else value
        return data

    @staticmethod
    def from_json(data) -> "Step":
        """The step of a dict made by :meth:`to_json`; raises :class:`ScheduleError`
        naming the step where it is not one."""
        if not isinstance(data, dict):
            raise ScheduleError(f"schedule step {data!r}: expected a dict with "
                                f"'primitive' and 'stage'")
        primitive = data.get("primitive")
        cls = PRIMITIVES.get(primitive) if isinstance(primitive, str) else None
        if cls is None:
            raise ScheduleError(f"schedule step {data!r}: unknown primitive "
                                f"{primitive!r}; known: {', '.join(PRIMITIVES)}")
        return cls.parse(data)

    @classmethod
    def parse(cls, data: dict) -> "Step":
        known = {f.name: f for f in fields(cls)}
        extra = [k for k in data if k != "primitive" and k not in known]
        if extra:
            raise ScheduleError(f"schedule step {data!r}: unexpected key(s) "
                                f"{', '.join(map(repr, extra))}")
        values = {}
        for name, f in known.items():
            if name not in data and name not in _DEFAULTS:
                raise ScheduleError(f"schedule step {data!r}: missing {name!r}")
            value = data.get(name, _DEFAULTS.get(name))
            if not _CHECKS[f.type](value):
                raise ScheduleError(f"schedule step {data!r}: {name!r} must be "
                                    f"{f.type}, got {value!r}")
            values[name] = tuple(value) if isinstance(value, list) else value
        step = cls(**values)
        step.check(data)
        return step

    def check(self, data: dict) -> None:
        """Raise where the values read from ``data`` cannot go together."""


def _stage_text(step: Step) -> str:
    return f"s[{py_name(step.stage)}]"


def _outputs_text(step) -> str:
    return ", ".join(py_name(o) for o in step.outputs)


@dataclass(frozen=True)
class Split(Step):
    primitive: ClassVar[str] = "split"
    axis: str
    factor: int | None
    nparts: int | None
    outputs: tuple[str, ...]

    def check(self, data):
        if (self.factor is None) == (self.nparts is None):
            raise ScheduleError(f"schedule step {data!r}: give exactly one of 'factor' "
                                f"or 'nparts'")

    def apply(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return stage.split(find_axis(stage, self.axis), factor=self.factor,
                           nparts=self.nparts)

    def to_python(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        arg = f"factor={self.factor}" if self.factor is not None else f"nparts={self.nparts}"
        return f"{_outputs_text(self)} = {_stage_text(self)}.split(" \
               f"{axis_ref(stage, self.axis)}, {arg})"


@dataclass(frozen=True)
class Fuse(Step):
    primitive: ClassVar[str] = "fuse"
    axes: tuple[str, ...]
    outputs: tuple[str, ...]

    def apply(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return stage.fuse(*[find_axis(stage, a) for a in self.axes])

    def to_python(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        axes = ", ".join(axis_ref(stage, a) for a in self.axes)
        return f"{_outputs_text(self)} = {_stage_text(self)}.fuse({axes})"


@dataclass(frozen=True)
class Reorder(Step):
    primitive: ClassVar[str] = "reorder"
    axes: tuple[str, ...]

    def apply(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return stage.reorder(*[find_axis(stage, a) for a in self.axes])

    def to_python(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return f"{_stage_text(self)}.reorder({', '.join(axis_ref(stage, a) for a in self.axes)})"


@dataclass(frozen=True)
class Tile(Step):
    primitive: ClassVar[str] = "tile"
    x: str
    y: str
    x_factor: int
    y_factor: int
    outputs: tuple[str, ...]

    def apply(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return stage.tile(find_axis(stage, self.x), find_axis(stage, self.y),
                          self.x_factor, self.y_factor)

    def to_python(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return (f"{_outputs_text(self)} = {_stage_text(self)}.tile({axis_ref(stage, self.x)}, "
                f"{axis_ref(stage, self.y)}, x_factor={self.x_factor}, "
                f"y_factor={self.y_factor})")


@dataclass(frozen=True)
class LoopAnnotation(Step):
    """A loop kind given to one leaf: the stage method named ``primitive``."""
    axis: str

    def apply(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return getattr(stage, self.primitive)(find_axis(stage, self.axis))

    def to_python(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return f"{_stage_text(self)}.{self.primitive}({axis_ref(stage, self.axis)})"


@dataclass(frozen=True)
class Vectorize(LoopAnnotation):
    primitive: ClassVar[str] = "vectorize"


@dataclass(frozen=True)
class Unroll(LoopAnnotation):
    primitive: ClassVar[str] = "unroll"


@dataclass(frozen=True)
class Parallel(LoopAnnotation):
    primitive: ClassVar[str] = "parallel"


@dataclass(frozen=True)
class Bind(Step):
    primitive: ClassVar[str] = "bind"
    axis: str
    thread: str

    def apply(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return stage.bind(find_axis(stage, self.axis), thread_axis(self.thread))

    def to_python(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return f"{_stage_text(self)}.bind({axis_ref(stage, self.axis)}, " \
               f"te.thread_axis({self.thread!r}))"


@dataclass(frozen=True)
class Pragma(Step):
    primitive: ClassVar[str] = "pragma"
    axis: str
    name: str
    value: int | float | str

    def apply(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return stage.pragma(find_axis(stage, self.axis), self.name, self.value)

    def to_python(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return f"{_stage_text(self)}.pragma({axis_ref(stage, self.axis)}, {self.name!r}, " \
               f"{self.value!r})"


@dataclass(frozen=True)
class StorageAlign(Step):
    primitive: ClassVar[str] = "storage_align"
    axis: str
    factor: int
    offset: int

    def apply(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return stage.storage_align(find_axis(stage, self.axis), self.factor, self.offset)

    def to_python(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return f"{_stage_text(self)}.storage_align({axis_ref(stage, self.axis)}, " \
               f"{self.factor}, {self.offset})"


@dataclass(frozen=True)
class SetScope(Step):
    primitive: ClassVar[str] = "set_scope"
    scope: str

    def apply(self, schedule):
        return schedule.stage_by_name(self.stage).set_scope(self.scope)

    def to_python(self, schedule):
        return f"{_stage_text(self)}.set_scope({self.scope!r})"


@dataclass(frozen=True)
class ComputeAt(Step):
    primitive: ClassVar[str] = "compute_at"
    target: str
    axis: str

    def apply(self, schedule):
        target = schedule.stage_by_name(self.target)
        return schedule.stage_by_name(self.stage).compute_at(
            target, find_axis(target, self.axis))

    def to_python(self, schedule):
        target = schedule.stage_by_name(self.target)
        return f"{_stage_text(self)}.compute_at(s[{py_name(target.name)}], " \
               f"{axis_ref(target, self.axis)})"


@dataclass(frozen=True)
class Placement(Step):
    """Where a stage is computed, without arguments: the stage method ``primitive``."""

    def apply(self, schedule):
        return getattr(schedule.stage_by_name(self.stage), self.primitive)()

    def to_python(self, schedule):
        return f"{_stage_text(self)}.{self.primitive}()"


@dataclass(frozen=True)
class ComputeInline(Placement):
    primitive: ClassVar[str] = "compute_inline"


@dataclass(frozen=True)
class ComputeRoot(Placement):
    primitive: ClassVar[str] = "compute_root"


@dataclass(frozen=True)
class CacheRead(Step):
    """``cache_read`` of output ``value_index`` of stage ``stage``."""
    primitive: ClassVar[str] = "cache_read"
    stage_last: ClassVar[bool] = False
    value_index: int
    scope: str
    readers: tuple[str, ...]
    outputs: tuple[str, ...]
    #: the copy's order of the tensor's dimensions (None: the tensor's own)
    axes: tuple[int, ...] | None = None

    def apply(self, schedule):
        tensor = schedule.stage_by_name(self.stage).op.output(self.value_index)
        readers = [schedule.stage_by_name(r) for r in self.readers]
        return schedule.cache_read(tensor, self.scope, readers, axes=self.axes)

    def to_python(self, schedule):
        readers = ", ".join(py_name(r) for r in self.readers)
        axes = "" if self.axes is None else f", axes={tuple(self.axes)!r}"
        return f"{_outputs_text(self)} = s.cache_read({py_name(self.stage)}, " \
               f"{self.scope!r}, [{readers}]{axes})"


@dataclass(frozen=True)
class CacheWrite(Step):
    primitive: ClassVar[str] = "cache_write"
    stage_last: ClassVar[bool] = False
    value_index: int
    scope: str
    outputs: tuple[str, ...]

    def apply(self, schedule):
        tensor = schedule.stage_by_name(self.stage).op.output(self.value_index)
        return schedule.cache_write(tensor, self.scope)

    def to_python(self, schedule):
        return f"{_outputs_text(self)} = s.cache_write({py_name(self.stage)}, {self.scope!r})"


@dataclass(frozen=True)
class Rfactor(Step):
    primitive: ClassVar[str] = "rfactor"
    stage_last: ClassVar[bool] = False
    value_index: int
    axis: str
    factor_axis: int
    outputs: tuple[str, ...]

    def apply(self, schedule):
        stage = schedule.stage_by_name(self.stage)
        return schedule.rfactor(stage.op.output(self.value_index),
                                find_axis(stage, self.axis), self.factor_axis)

    def to_python(self, schedule):
        return f"{_outputs_text(self)} = s.rfactor({py_name(self.stage)}, " \
               f"{py_name(self.axis)}, factor_axis={self.factor_axis})"


#: every kind of step, by the ``"primitive"`` of its JSON form
@dataclass(frozen=True)
class CreateGroup(Step):
    """``g = s.create_group(outputs=[...], inputs=[...])``; ``stage`` names the group."""
    primitive: ClassVar[str] = "create_group"
    stage_last: ClassVar[bool] = False
    group_outputs: tuple[str, ...]
    group_inputs: tuple[str, ...]
    include_inputs: int

    def apply(self, schedule):
        def tensors(names):
            return [t for n in names for t in schedule.stage_by_name(n).op.outputs]
        group = schedule.create_group(tensors(self.group_outputs), tensors(self.group_inputs),
                                      bool(self.include_inputs))
        if group.name != self.stage:
            raise ScheduleError(f"replay: the group made is '{group.name}', the steps name "
                                f"'{self.stage}'; the steps do not match this schedule")
        return group

    def to_python(self, schedule):
        outs = ", ".join(py_name(n) for n in self.group_outputs)
        ins = ", ".join(py_name(n) for n in self.group_inputs)
        return (f"{py_name(self.stage)} = s.create_group(outputs=[{outs}], inputs=[{ins}], "
                f"include_inputs={bool(self.include_inputs)})")


PRIMITIVES: dict[str, type[Step]] = {cls.primitive: cls for cls in (
    Split, Fuse, Reorder, Tile, Vectorize, Unroll, Parallel, Bind, Pragma, StorageAlign,
    SetScope, ComputeAt, ComputeInline, ComputeRoot, CacheRead, CacheWrite, Rfactor,
    CreateGroup)}


def as_step(step) -> Step:
    """``step`` itself, or the step of its JSON dict."""
    return step if isinstance(step, Step) else Step.from_json(step)


def steps_to_json(steps) -> str:
    """The steps (Step objects or their dicts) as a JSON string."""
    return json.dumps([as_step(s).to_json() for s in steps], sort_keys=True)


def steps_from_json(text: str) -> tuple[Step, ...]:
    """Steps from :func:`steps_to_json` text."""
    try:
        steps = json.loads(text)
    except (TypeError, ValueError) as err:
        raise ScheduleError(f"schedule steps: invalid JSON ({err})") from None
    if not isinstance(steps, list):
        raise ScheduleError("schedule steps: expected a JSON list of step objects with "
                            "'primitive' and 'stage'")
    return tuple(Step.from_json(s) for s in steps)
