"""The names of the intrinsics: tensorlang's math functions and those users declare
(:func:`tensorlang.tir.register_intrin`; their lowering rules are in ``intrin_rules``)."""
from __future__ import annotations

from ..errors import TensorLangTypeError, TensorLangValueError

#: tensorlang's math intrinsics and their number of arguments
INTRINSICS = {"exp": 1, "log": 1, "sqrt": 1, "rsqrt": 1, "tanh": 1, "sigmoid": 1,
              "erf": 1, "fabs": 1, "floor": 1, "ceil": 1, "round": 1, "pow": 2,
              "exp2": 1, "log2": 1, "log10": 1, "sin": 1, "cos": 1, "trunc": 1}

_DECLARED: dict[str, int | None] = {}   # name -> number of arguments (None: any)


def register_intrin(name: str, num_args: int | None = None) -> str:
    """Declare the intrinsic ``name`` (a pure function of its scalar arguments), to be
    called with ``tir.call_intrin(name, *args, dtype=...)`` and lowered for each target
    by a rule (``tir.register_intrin_lowering``)."""
    if not isinstance(name, str) or not name:
        raise TensorLangTypeError(f"register_intrin: the name must be a string, got "
                                  f"{name!r}")
    if name in INTRINSICS or name.startswith("tl."):
        raise TensorLangValueError(f"register_intrin('{name}'): '{name}' is one of "
                                   f"tensorlang's own operations; choose another name")
    _DECLARED[name] = num_args
    return name


def is_declared(name: str) -> bool:
    """Whether ``name`` was declared with :func:`register_intrin`."""
    return name in _DECLARED


def check_declared_call(name: str, num_args: int, dtype) -> None:
    """TensorLangTypeError where a call of declared intrinsic ``name`` is malformed."""
    arity = _DECLARED[name]
    if arity is not None and num_args != arity:
        raise TensorLangTypeError(f"{name} takes {arity} argument(s), got {num_args}")
    if dtype is None and not num_args:
        raise TensorLangTypeError(f"call_intrin('{name}'): give the result type (dtype=)")
