"""TVM's intrinsics API over tensorlang's (``tensorlang.tir.intrin_rules``):
``tvm.tir.call_intrin(dtype, "tir.exp", x)``, ``tvm.ir.register_op_attr(name,
"TCallEffectKind", ...)`` declaring a new intrinsic, and ``tvm.ir.register_intrin_lowering``
with rules written for TVM's ``Call`` (``op.op.name``, ``op.dtype``, ``op.args``).

TVM names tensorlang's math intrinsics ``tir.exp``, ``tir.log``...; a declared intrinsic
keeps the name it was declared with.
"""
from __future__ import annotations

import types

from ... import tir as _tir
from ...tir.intrin_table import INTRINSICS, is_declared

_PREFIX = "tir."


def tensorlang_name(name: str) -> str:
    """``tir.exp`` -> ``exp``; a declared intrinsic's name as it is."""
    if isinstance(name, str) and name.startswith(_PREFIX) and name[len(_PREFIX):] in INTRINSICS:
        return name[len(_PREFIX):]
    return name


def call_intrin(dtype, func_name: str, *args):
    """TVM's ``tvm.tir.call_intrin(dtype, "tir.exp", x)``."""
    name = tensorlang_name(func_name)
    if name in INTRINSICS:
        call = _tir.call_intrin(name, *args)
        return call if str(call.dtype) == str(dtype) else call.astype(dtype)
    if not is_declared(name):
        raise NotImplementedError(
            f"tvm.tir.call_intrin(..., '{func_name}'): no such intrinsic; declare it with "
            f"tvm.ir.register_op_attr('{func_name}', 'TCallEffectKind', "
            f"tvm.tir.CallEffectKind.Pure) and give it a lowering rule with "
            f"tvm.ir.register_intrin_lowering")
    return _tir.call_intrin(name, *args, dtype=dtype)


class CallEffectKind:
    """TVM's effect kinds; tensorlang's declared intrinsics are pure."""
    ExprAnnotation = 0
    Pure = 1
    ReadState = 2
    UpdateState = 3
    Opaque = 4


class _Op:
    def __init__(self, name: str):
        self.name = name


class _TVMCall:
    """A tensorlang call as TVM's lowering rules see it."""

    def __init__(self, call):
        self.call = call
        self.op = _Op(_PREFIX + call.op if call.op in INTRINSICS else call.op)
        self.dtype = call.dtype
        self.args = call.args

    def __repr__(self) -> str:
        return f"{self.op.name}({', '.join(map(str, self.args))})"


def register_op_attr(op_name: str, attr_key: str, value=None, level: int = 10):
    """``register_op_attr("tir.mylog", "TCallEffectKind", CallEffectKind.Pure)``
    declares the intrinsic ``tir.mylog``; other attributes are refused."""
    if attr_key != "TCallEffectKind":
        raise NotImplementedError(
            f"tvm.ir.register_op_attr('{op_name}', '{attr_key}'): tensorlang keeps no "
            f"attributes of operations; 'TCallEffectKind' declares an intrinsic")
    if value is not None and value != CallEffectKind.Pure:
        raise NotImplementedError(
            f"tvm.ir.register_op_attr('{op_name}', 'TCallEffectKind', {value!r}): "
            f"tensorlang's declared intrinsics are pure (CallEffectKind.Pure); call a "
            f"function with effects through te.extern and tir.call_packed")
    if not is_declared(op_name) and tensorlang_name(op_name) not in INTRINSICS:
        _tir.register_intrin(op_name)


def register_intrin_lowering(op_name: str, target: str = "default", *, f=None,
                             level: int = 10):
    """TVM's rule registration; the rule gets a call with ``.op.name``, ``.dtype`` and
    ``.args``, and returning the call given leaves it unchanged."""
    name = tensorlang_name(op_name)

    def register(rule):
        def tensorlang_rule(call):
            view = _TVMCall(call)
            result = rule(view)
            return None if result is view or result is None else result
        _tir.register_intrin_lowering(name, target, tensorlang_rule, level=level,
                                      override=True)
        return rule
    return register if f is None else register(f)


class _IRModule(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        hint = {"save_json": "a schedule is saved as its steps: "
                             "tensorlang.schedule.steps_to_json(s.steps), replayed with "
                             "tensorlang.schedule.replay"}.get(
            name, "tvm.ir gives register_op_attr, register_intrin_lowering and IRModule")
        raise NotImplementedError(f"tvm.ir.{name} is not part of tensorlang: {hint}")


ir = _IRModule("tvm.ir", "tvm.ir: register_op_attr and register_intrin_lowering")
ir.register_op_attr = register_op_attr
ir.register_intrin_lowering = register_intrin_lowering
