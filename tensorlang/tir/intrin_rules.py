"""Intrinsics users add, and the rules that lower intrinsics for a target.

An intrinsic is a call ``Call(dtype, name, args)`` that code generation knows how to
emit: the math functions of :data:`tensorlang.tir.op.INTRINSICS` (``exp``, ``log``...)
and the ones declared with :func:`register_intrin`.  A lowering rule
(:func:`register_intrin_lowering`) rewrites a call of an intrinsic for one target, before
its code generation (the first pass of ``llvm_passes`` and ``cuda_passes``), typically
into a call of a C or CUDA function::

    tir.register_intrin("mylog")
    tir.register_intrin_lowering(
        "mylog", "cuda",
        lambda call: tir.call_pure_extern("float32", "logf", call.args[0]))
    B = te.compute((n,), lambda i: tir.call_intrin("mylog", A[i], dtype="float32"))

A rule returns the new expression, or ``None`` (or the call itself) to leave the call as
it is.  Rules registered for ``"default"`` apply to every target without a rule of its
own.  The numpy reference evaluates a declared intrinsic through the rule of the llvm
target (else the default's, else the cuda one's): rules must compute the same function on
every target.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import TensorLangTypeError, TensorLangValueError
from . import expr as E
from .functor import Mutator
from .intrin_table import INTRINSICS, is_declared, register_intrin  # noqa: F401
from .stmt import PrimFunc

#: the targets a rule may name
RULE_TARGETS = ("llvm", "cuda", "default")


@dataclass(frozen=True)
class _Rule:
    function: Callable
    level: int


_RULES: dict[tuple[str, str], _Rule] = {}       # (name, target) -> rule


def register_intrin_lowering(name: str, target: str = "default", f: Callable | None = None,
                             level: int = 10, override: bool = False):
    """Lower calls of intrinsic ``name`` for ``target`` (``"llvm"``, ``"cuda"`` or
    ``"default"``) with ``f(call) -> expression | None``.  Of two rules for one intrinsic
    and target the higher ``level`` wins (an equal level needs ``override=True``).  Used
    as a decorator when ``f`` is omitted."""
    if name not in INTRINSICS and not is_declared(name):
        raise TensorLangValueError(
            f"register_intrin_lowering('{name}'): unknown intrinsic; declare it first with "
            f"tir.register_intrin('{name}') (known: the math intrinsics "
            f"{sorted(INTRINSICS)})")
    kind = str(target).split()[0]
    if kind not in RULE_TARGETS:
        raise TensorLangValueError(f"register_intrin_lowering('{name}'): target "
                                   f"{target!r} is not one of {list(RULE_TARGETS)}")

    def register(function):
        if not callable(function):
            raise TensorLangTypeError(f"register_intrin_lowering('{name}'): the rule must "
                                      f"be callable, got {function!r}")
        current = _RULES.get((name, kind))
        if current is not None and current.level > level:
            return function
        if current is not None and current.level == level and not override:
            raise TensorLangValueError(
                f"register_intrin_lowering('{name}', '{kind}'): a rule of level {level} is "
                f"already registered; pass override=True or a higher level")
        _RULES[(name, kind)] = _Rule(function, level)
        return function
    return register if f is None else register(f)


def lowering_rule(name: str, target: str) -> Callable | None:
    """The rule lowering ``name`` on ``target``, else the default rule, else None."""
    rule = _RULES.get((name, target)) or _RULES.get((name, "default"))
    return rule.function if rule is not None else None


def reference_rule(name: str) -> Callable | None:
    """The rule the numpy reference evaluates a declared intrinsic with."""
    for target in ("llvm", "default", "cuda"):
        rule = _RULES.get((name, target))
        if rule is not None:
            return rule.function
    return None


def apply_rule(call: E.Call, target: str, rule: Callable | None = None):
    """``call`` lowered by its rule for ``target`` (itself where no rule changes it)."""
    rule = rule if rule is not None else lowering_rule(call.op, target)
    if rule is None:
        return call
    result = rule(call)
    if result is None or result is call:
        return call
    if not isinstance(result, E.PrimExpr):
        raise TensorLangTypeError(f"the lowering rule of '{call.op}' for {target} returned "
                                  f"{result!r}, not an expression")
    if result.dtype != call.dtype:
        raise TensorLangTypeError(f"the lowering rule of '{call.op}' for {target} turned "
                                  f"'{call}' ({call.dtype}) into '{result}' of type "
                                  f"{result.dtype}; it must keep the type")
    return result


class _LowerIntrinsics(Mutator):
    def __init__(self, target: str):
        super().__init__()
        self.target = target

    def visit_Call(self, node: E.Call):
        node = self.generic_visit(node)
        if (node.op, self.target) in _RULES or (node.op, "default") in _RULES:
            return apply_rule(node, self.target)
        return node


def lower_intrinsics(func: PrimFunc, target: str) -> PrimFunc:
    """``func`` with every intrinsic call that has a rule for ``target`` lowered."""
    if not _RULES:
        return func
    body = _LowerIntrinsics(target).visit(func.body)
    return func if body is func.body else func.replace(body=body)


def unlowered(name: str, target: str) -> str:
    """What to say where a declared intrinsic reached ``target``'s code generation."""
    return (f"the intrinsic '{name}' has no lowering rule for {target}: register one with "
            f"tir.register_intrin_lowering('{name}', '{target}', f)")


__all__ = ["register_intrin", "register_intrin_lowering", "lowering_rule",
           "lower_intrinsics", "reference_rule", "apply_rule", "unlowered", "RULE_TARGETS"]
