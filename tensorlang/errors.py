"""Error hierarchy of tensorlang.

User mistakes raise a subclass of :class:`TensorLangError` whose message names the user's
object (tensor, stage, axis, argument) and says what to change.  Compiler bugs raise
:class:`InternalError`, which asks to be reported: the two are never mixed, in the spirit of
Halide's ``user_assert`` / ``internal_assert``.
"""


class TensorLangError(RuntimeError):
    """Base class of the errors that report a user's mistake (every tensorlang error but
    :class:`InternalError`).  A ``RuntimeError``, as TVM's ``TVMError`` is, so code that
    catches those catches these."""


class TensorLangTypeError(TensorLangError, TypeError):
    """An expression combines values of incompatible types, or is used where a value of
    another type is needed (a float index, a wrong number of indices, ...)."""


class TensorLangValueError(TensorLangError, ValueError):
    """An argument has the right type but a value that cannot be used."""


class ScheduleError(TensorLangError):
    """A schedule primitive was given arguments that break one of its rules."""


class LoweringError(TensorLangError):
    """A schedule could not be lowered to loop IR."""


class BuildError(TensorLangError):
    """A lowered function could not be compiled for the requested target."""


class TuneError(TensorLangError):
    """The autotuner was asked for something it cannot do."""


class ExternCallError(TensorLangError, RuntimeError):
    """A function that compiled or interpreted code calls by name (``tir.call_packed``,
    the calls of ``te.extern`` stages) is not registered, or raised: the message names
    the function, and the exception it raised is the ``__cause__``."""


class InternalError(Exception):
    """A bug in tensorlang itself (an IR invariant broken by a pass, ...).

    Deliberately not a :class:`TensorLangError`: code that catches the user errors
    (``except tl.TensorLangError``) to report a mistake of its caller must not swallow a
    compiler bug as if it were one."""

    def __init__(self, message: str):
        super().__init__(f"{message}\n(this is a bug in tensorlang: please report it with the "
                         f"code that triggered it)")


def internal_assert(condition: bool, message: str) -> None:
    """Raise :class:`InternalError` when ``condition`` is false."""
    if not condition:
        raise InternalError(message)
