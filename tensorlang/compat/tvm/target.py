"""``tvm.target``: TVM's Target over tensorlang's, with ``kind.name``, ``host`` and the
``with Target(...):`` scope that ``tvm.build`` and AutoTVM templates read."""
from __future__ import annotations

import threading
import types

from ...errors import TensorLangValueError
from ...target import Target as _Target

_SCOPE = threading.local()

#: the target kinds tensorlang compiles for
_KINDS = ("llvm", "cuda")


class Target:
    """``tvm.target.Target("llvm -mcpu=skylake-avx512", host="llvm")``."""

    def __init__(self, target="llvm", host=None):
        if isinstance(target, Target):
            target, host = target.tl, host or target.host
        if isinstance(target, dict):
            raise TensorLangValueError("tvm.target.Target: give the target as a string, e.g. "
                                       "Target('llvm') or Target('cuda')")
        text = str(target).strip()
        words = text.split()
        if not words:
            raise TensorLangValueError("tvm.target.Target(''): name a target, e.g. 'llvm'")
        kind = words[0]
        if kind not in _KINDS:
            raise TensorLangValueError(f"tvm.target.Target({text!r}): tensorlang compiles for "
                                       f"'llvm' (this CPU) and 'cuda'; it has no '{kind}' "
                                       f"backend")
        options = [w for w in words[1:] if not w.startswith("-keys=")
                   and not w.startswith("-libs=") and w != "-model=unknown"]
        self.tl = _Target(" ".join([kind] + options))
        self.kind = types.SimpleNamespace(name=kind)
        self.host = Target(host) if host is not None and not isinstance(host, Target) \
            else host
        self.keys = ("cpu",) if kind == "llvm" else ("cuda", "gpu")

    @staticmethod
    def current(allow_none: bool = True):
        """The innermost ``with Target(...):`` scope's target (None outside one)."""
        stack = getattr(_SCOPE, "stack", [])
        if stack:
            return stack[-1]
        if not allow_none:
            raise TensorLangValueError("no target scope: use `with tvm.target.Target('llvm'):`")
        return None

    def __enter__(self):
        if not hasattr(_SCOPE, "stack"):
            _SCOPE.stack = []
        _SCOPE.stack.append(self)
        return self

    def __exit__(self, *exc):
        _SCOPE.stack.pop()

    def __str__(self) -> str:
        return str(self.tl)

    def __repr__(self) -> str:
        return f"Target({str(self.tl)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Target) and self.tl == other.tl

    def __hash__(self) -> int:
        return hash(self.tl)


def as_target(target) -> Target:
    """A compat Target from a string, a compat or tensorlang Target, or the scope."""
    if target is None:
        current = Target.current()
        return current if current is not None else Target("llvm")
    if isinstance(target, _Target):
        return Target(str(target))
    return target if isinstance(target, Target) else Target(target)


def create(text) -> Target:
    return Target(text)


def arm_cpu(*args, **kwargs):
    raise NotImplementedError("tvm.target.arm_cpu: tensorlang compiles for this CPU "
                              "('llvm') and 'cuda' only")
