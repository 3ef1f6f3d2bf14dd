"""``tvm.lower`` and ``tvm.build`` over ``tl.lower`` and ``tl.build``."""
from __future__ import annotations

from ... import driver as _driver
from ...errors import TensorLangValueError
from ...schedule import Schedule
from ...tir.stmt import PrimFunc
from .runtime import Module
from .target import Target, as_target

#: TVM's name of a function built without one
DEFAULT_NAME = "default_function"


class IRModule:
    """What ``tvm.lower`` returns: one PrimFunc, printed as tensorlang's loop IR
    (``mod["main"]`` or ``mod[name]`` is the function)."""

    def __init__(self, func: PrimFunc):
        self.func = func

    def __getitem__(self, name: str) -> PrimFunc:
        if name not in ("main", self.func.name):
            raise TensorLangValueError(f"the module holds '{self.func.name}', not '{name}'")
        return self.func

    @property
    def functions(self) -> dict:
        return {self.func.name: self.func}

    def get_global_vars(self) -> list:
        return [self.func.name]

    def script(self) -> str:
        return self.func.script()

    def astext(self) -> str:
        return str(self.func)

    def __str__(self) -> str:
        return str(self.func)

    __repr__ = __str__


def _check_binds(binds) -> None:
    if binds:
        raise NotImplementedError("tvm.lower/build(binds=...): tensorlang declares a "
                                  "tensor's buffer with te.placeholder's shape (and strides "
                                  "through tir.decl_buffer in te.extern); drop binds=")


def lower(inputs, args=None, name: str = "main", binds=None, simple_mode: bool = False):
    """``tvm.lower(s, [A, B, C], simple_mode=True)``: the loop IR, as an IRModule."""
    _check_binds(binds)
    if isinstance(inputs, IRModule):
        return inputs
    func = _driver.lower(inputs, args, name=name, simple_mode=simple_mode)
    return IRModule(func)


def build(inputs, args=None, target=None, target_host=None, runtime=None,
          name: str = DEFAULT_NAME, binds=None) -> Module:
    """``tvm.build(s, [A, B, C], "llvm", name="add")``: a callable module; the target
    defaults to the ``with tvm.target.Target(...)`` scope, else ``llvm``."""
    _check_binds(binds)
    if isinstance(target, dict):
        raise NotImplementedError("tvm.build with a dict of targets: tensorlang builds one "
                                  "target at a time; call tvm.build once per target")
    compat_target = as_target(target)
    if target_host is not None and Target(target_host).kind.name != "llvm":
        raise TensorLangValueError(f"tvm.build(target_host={target_host!r}): the host is "
                                   f"this CPU ('llvm')")
    if isinstance(inputs, IRModule):
        inputs = inputs.func
    if isinstance(inputs, PrimFunc):
        if args is not None:
            raise TensorLangValueError("tvm.build of a lowered function takes no args: its "
                                       "parameters are fixed")
        return Module(_driver.build(inputs, target=compat_target.tl), compat_target)
    if not isinstance(inputs, Schedule):
        raise TensorLangValueError(f"tvm.build: expected a schedule (te.create_schedule) or "
                                   f"the result of tvm.lower, got {type(inputs).__name__}")
    return Module(_driver.build(inputs, args, target=compat_target.tl, name=name),
                  compat_target)
