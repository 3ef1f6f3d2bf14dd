"""A schedule as data: its steps printed as Python, serialised as JSON, and replayed on a
fresh compute definition.

A step is a dict of JSON values: ``{"primitive": "split", "stage": "C", "axis": "i",
"factor": 32, "outputs": ["i.outer", "i.inner"]}``.  Axes and stages are named; names
are deterministic, so replaying the steps on a new copy of the same computation yields
the same schedule (this is what tuning records store).
"""
from __future__ import annotations

import json
import re

from ..errors import ScheduleError


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
    for k, iv in enumerate(getattr(stage.op, "reduce_axis", ())):
        if iv.var.name == name:
            return f"s[{tensor}].op.reduce_axis[{k}]"
    return py_name(name)


def format_step(schedule, step: dict) -> str:  # noqa: C901 - one case per primitive
    """One step as the line of Python that performs it."""
    prim = step["primitive"]
    stage = schedule.stage_by_name(step["stage"])
    st = f"s[{py_name(stage.name)}]"

    def ax(name):
        return axis_ref(stage, name)

    outs = ", ".join(py_name(o) for o in step.get("outputs", ()))
    if prim == "split":
        arg = f"factor={step['factor']}" if "factor" in step else f"nparts={step['nparts']}"
        return f"{outs} = {st}.split({ax(step['axis'])}, {arg})"
    if prim == "fuse":
        return f"{outs} = {st}.fuse({', '.join(ax(a) for a in step['axes'])})"
    if prim == "reorder":
        return f"{st}.reorder({', '.join(ax(a) for a in step['axes'])})"
    if prim == "tile":
        return (f"{outs} = {st}.tile({ax(step['x'])}, {ax(step['y'])}, "
                f"x_factor={step['x_factor']}, y_factor={step['y_factor']})")
    if prim in ("vectorize", "unroll", "parallel"):
        return f"{st}.{prim}({ax(step['axis'])})"
    if prim == "bind":
        return f"{st}.bind({ax(step['axis'])}, te.thread_axis({step['thread']!r}))"
    if prim == "pragma":
        return f"{st}.pragma({ax(step['axis'])}, {step['name']!r}, {step['value']!r})"
    if prim == "storage_align":
        return f"{st}.storage_align({ax(step['axis'])}, {step['factor']}, {step['offset']})"
    if prim == "set_scope":
        return f"{st}.set_scope({step['scope']!r})"
    if prim == "compute_at":
        target = schedule.stage_by_name(step["target"])
        return (f"{st}.compute_at(s[{py_name(target.name)}], "
                f"{axis_ref(target, step['axis'])})")
    if prim in ("compute_inline", "compute_root"):
        return f"{st}.{prim}()"
    if prim == "cache_read":
        readers = ", ".join(py_name(r) for r in step["readers"])
        return f"{outs} = s.cache_read({py_name(stage.name)}, {step['scope']!r}, [{readers}])"
    if prim == "cache_write":
        return f"{outs} = s.cache_write({py_name(stage.name)}, {step['scope']!r})"
    if prim == "rfactor":
        return (f"{outs} = s.rfactor({py_name(stage.name)}, {py_name(step['axis'])}, "
                f"factor_axis={step['factor_axis']})")
    return f"# {prim}: {step}"


def steps_to_python(schedule) -> str:
    """The schedule as the Python code that rebuilds it."""
    outputs = ", ".join(py_name(schedule.stage_map[op].name)
                        for op in schedule._initial_outputs)
    lines = [f"s = tl.create_schedule([{outputs}])"]
    lines += schedule._lines
    return "\n".join(lines)


def steps_to_json(steps) -> str:
    """The steps as a JSON string."""
    return json.dumps(list(steps), sort_keys=True)


def steps_from_json(text: str) -> list[dict]:
    """Steps from :func:`steps_to_json` text."""
    try:
        steps = json.loads(text)
    except (TypeError, ValueError) as err:
        raise ScheduleError(f"schedule steps: invalid JSON ({err})") from None
    if not isinstance(steps, list) or not all(
            isinstance(s, dict) and "primitive" in s and "stage" in s for s in steps):
        raise ScheduleError("schedule steps: expected a JSON list of step objects with "
                            "'primitive' and 'stage'")
    return steps


def _find_axis(stage, name: str):
    for iv in reversed(stage.all_iter_vars):
        if iv.var.name == name:
            return iv
    raise ScheduleError(f"replay: stage '{stage.name}' has no axis named '{name}'; the steps "
                        f"do not match this compute definition")


def apply_step(schedule, step: dict):  # noqa: C901 - one case per primitive
    """Perform one step on ``schedule``."""
    from ..te.operation import thread_axis
    prim = step["primitive"]
    stage = schedule.stage_by_name(step["stage"])

    def ax(name):
        return _find_axis(stage, name)

    if prim == "split":
        return stage.split(ax(step["axis"]), factor=step.get("factor"),
                           nparts=step.get("nparts"))
    if prim == "fuse":
        return stage.fuse(*[ax(a) for a in step["axes"]])
    if prim == "reorder":
        return stage.reorder(*[ax(a) for a in step["axes"]])
    if prim == "tile":
        return stage.tile(ax(step["x"]), ax(step["y"]), step["x_factor"], step["y_factor"])
    if prim in ("vectorize", "unroll", "parallel"):
        return getattr(stage, prim)(ax(step["axis"]))
    if prim == "bind":
        return stage.bind(ax(step["axis"]), thread_axis(step["thread"]))
    if prim == "pragma":
        return stage.pragma(ax(step["axis"]), step["name"], step["value"])
    if prim == "storage_align":
        return stage.storage_align(ax(step["axis"]), step["factor"], step["offset"])
    if prim == "set_scope":
        return stage.set_scope(step["scope"])
    if prim == "compute_at":
        target = schedule.stage_by_name(step["target"])
        return stage.compute_at(target, _find_axis(target, step["axis"]))
    if prim == "compute_inline":
        return stage.compute_inline()
    if prim == "compute_root":
        return stage.compute_root()
    tensor = stage.op.output(step.get("value_index", 0))
    if prim == "cache_read":
        readers = [schedule.stage_by_name(r) for r in step["readers"]]
        return schedule.cache_read(tensor, step["scope"], readers)
    if prim == "cache_write":
        return schedule.cache_write(tensor, step["scope"])
    if prim == "rfactor":
        return schedule.rfactor(tensor, ax(step["axis"]), step.get("factor_axis", 0))
    raise ScheduleError(f"replay: unknown primitive {prim!r} in step {step}")


def replay(steps, outputs):
    """A new schedule of ``outputs`` with ``steps`` applied (steps from ``s.steps`` or
    :func:`steps_from_json`)."""
    from .schedule import create_schedule
    schedule = create_schedule(outputs)
    for step in steps:
        apply_step(schedule, step)
    return schedule
