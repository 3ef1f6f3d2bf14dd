"""The registered functions a workload's ``te.extern`` stages call, shipped to the runner.

The runner process that checks and times every candidate is a fresh interpreter
(:mod:`.workers`): it imports tensorlang, whose built-in functions
(:mod:`tensorlang.contrib.cblas`) register themselves on import, and nothing of the
user's.  :func:`pack_functions` pickles each function the workload calls *by reference*
(its module and qualified name, as pickle does for module-level functions); the runner
imports it from there and registers it under the name the stage calls
(:func:`.measure_worker.install_functions`) before it computes the reference outputs.

A function the runner could not import stops tuning with :class:`TuneError` naming it
and saying what to write instead, rather than being measured some weaker way: a lambda,
a function defined inside another, or one defined in the main script (which the worker
processes never run).  Define it at module level in an importable module and register
that function.

>>> functions = pack_functions(space.args, "autotune")   # {name: bytes}, {} if none
"""
from __future__ import annotations

import io
import pickle
import types

from ..errors import TuneError
from ..te.graph import PlaceholderOp
from ..tir.registry import get_global_func
from .workload import extern_stages


def called_functions(tensors) -> dict:
    """``{function name: stage name}`` for every registered function the ``te.extern``
    stages behind ``tensors`` (a workload's arguments or outputs) call, in order."""
    outputs = [t for t in tensors if not isinstance(t.op, PlaceholderOp)]
    called: dict = {}
    for op in extern_stages(outputs):
        for name in op.called_names:
            called.setdefault(name, op.name)
    return called


class _ReferencePickler(pickle.Pickler):
    """Notes the functions and classes of the main script that pickling meets."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.main_names: list[str] = []

    def reducer_override(self, obj):
        if isinstance(obj, (type, types.FunctionType)) and obj.__module__ == "__main__":
            self.main_names.append(obj.__qualname__)
        return NotImplemented


def _describe(function) -> str:
    inner = getattr(function, "__wrapped__", function)
    module = getattr(inner, "__module__", None) or "?"
    qualname = getattr(inner, "__qualname__", None) or type(inner).__qualname__
    return f"{module}.{qualname}"


def _problem(function) -> str | None:
    """Why the runner process could not import ``function`` (None: it can)."""
    inner = getattr(function, "__wrapped__", function)
    if isinstance(inner, types.FunctionType):
        if inner.__module__ == "__main__":
            return "it is defined in the main script, which the worker processes do not run"
        if inner.__name__ == "<lambda>":
            return "it is a lambda, which has no name to import it by"
        if "<locals>" in inner.__qualname__:
            outer = inner.__qualname__.split(".<locals>")[0]
            return f"it is defined inside the function '{outer}', so it has no name to " \
                   f"import it by"
    buffer = io.BytesIO()
    pickler = _ReferencePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        pickler.dump(function)
        pickle.loads(buffer.getvalue())
    except Exception as error:  # noqa: BLE001 - open handles, local classes, ...
        return f"it cannot be pickled ({type(error).__name__}: {error})"
    if pickler.main_names:
        names = ", ".join(sorted(set(pickler.main_names)))
        return f"it uses {names} of the main script, which the worker processes do not run"
    return None


def pack_functions(tensors, caller: str = "autotune") -> dict:
    """``{name: pickled function}`` for every registered function the extern stages
    behind ``tensors`` call ({} for a workload without extern stages).

    Raises :class:`TuneError` naming the stage and the function where one is not
    registered, or where the runner process could not import it."""
    packed = {}
    for name, stage in called_functions(tensors).items():
        function = get_global_func(name, allow_missing=True)
        if function is None:
            raise TuneError(
                f"{caller}: stage '{stage}' calls '{name}', which is not registered; "
                f"register it with tl.register_func(\"{name}\", f) before tuning")
        problem = _problem(function)
        if problem is not None:
            raise TuneError(
                f"{caller}: stage '{stage}' calls '{name}', registered as "
                f"{_describe(function)}; {problem}, so the runner process (a fresh "
                f"interpreter that checks and times every candidate) cannot call it. "
                f"Define the function at module level in an importable module (a file "
                f"next to your script, say) and register that function: "
                f"`from mymodule import f; tl.register_func(\"{name}\", f)`")
        packed[name] = pickle.dumps(function, protocol=pickle.HIGHEST_PROTOCOL)
    return packed


__all__ = ["called_functions", "pack_functions"]
