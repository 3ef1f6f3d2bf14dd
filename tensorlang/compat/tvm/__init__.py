"""TVM 0.19's classic tensor-expression API over tensorlang: a TVM program runs with its
``import tvm`` changed to ``from tensorlang.compat import tvm``.

>>> from tensorlang.compat import tvm
>>> from tvm import te                      # works: the import installs ``tvm`` (see below)
>>> A = te.placeholder((n,), name="A"); ...
>>> f = tvm.build(s, [A, B, C], "llvm"); f(tvm.nd.array(a), tvm.nd.array(b), c)

Importing this module makes it the module ``tvm`` of the process (``sys.modules``), with
``tvm.te``, ``tvm.tir``, ``tvm.testing``, ``tvm.contrib.utils``, ``tvm.autotvm``,
``tvm.topi`` and ``tvm.target``, so the program's other TVM imports find them; where a
real TVM is already imported, it is left alone and a warning says so.  Every name maps onto
tensorlang's own API; README's "Coming from TVM" lists what differs.
"""
from __future__ import annotations

import sys as _sys
import types as _types
import warnings as _warnings

from ...errors import TensorLangError as _TensorLangError
from . import contrib, target, testing  # noqa: F401
from .driver import IRModule, build, lower  # noqa: F401
from .intrin import ir  # noqa: F401
from .namespaces import make_te, make_tir
from .registry import (get_global_func, list_global_func_names,  # noqa: F401
                       register_func, remove_global_func)
from .runtime import (Device, Module, NDArray, cpu, cuda, device, gpu,  # noqa: F401
                      load_module, nd)
from .target import Target  # noqa: F401

__version__ = "0.19.0+tensorlang"

te = make_te()
tir = make_tir()
runtime = _types.ModuleType("tvm.runtime", "tvm.runtime over tensorlang's modules")
runtime.load_module = load_module
runtime.ndarray = nd
ir.IRModule = IRModule
runtime.Module = Module
runtime.convert = te.const
ndarray = nd


class PassContext:
    """``with tvm.transform.PassContext(opt_level=3):``: tensorlang runs its one pass
    pipeline (``tensorlang.pipeline``) at every opt_level; pass configs and lists of
    passes to require or disable are refused, naming them."""

    def __init__(self, opt_level: int = 2, required_pass=None, disabled_pass=None,
                 instruments=None, config=None):
        asked = {"required_pass": required_pass, "disabled_pass": disabled_pass,
                 "instruments": instruments, "config": config}
        given = sorted(name for name, value in asked.items() if value)
        if given:
            raise NotImplementedError(f"tvm.transform.PassContext({', '.join(given)}=...): "
                                      f"tensorlang's passes are fixed (see "
                                      f"tensorlang.pipeline); print them with TL_DUMP_IR=1")
        self.opt_level = opt_level

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


transform = _types.ModuleType("tvm.transform", "tvm.transform.PassContext")
transform.PassContext = PassContext

#: TVM's containers of older releases: ``tvm.container.Map`` / ``Array`` are Python's own
container = _types.ModuleType("tvm.container", "tvm.container: dict and list")
container.Map, container.Array = dict, list

#: ``except tvm.error.TVMError`` catches tensorlang's user errors (ScheduleError, ...)
error = _types.ModuleType("tvm.error", "tvm.error: TVMError is tensorlang's TensorLangError")
error.TVMError = _TensorLangError

from . import autotvm, topi  # noqa: E402,F401  (they use te and tir above)


def __getattr__(name: str):
    """What the layer does not map."""
    raise AttributeError(f"tvm has no '{name}' in tensorlang's compatibility layer; see "
                         f"README 'Coming from TVM' for what maps")


def _install() -> None:
    existing = _sys.modules.get("tvm")
    this = _sys.modules[__name__]
    if existing is not None and existing is not this:
        _warnings.warn("a real TVM is already imported as 'tvm': tensorlang.compat.tvm does "
                       "not replace it, so `from tvm import ...` refers to TVM",
                       stacklevel=3)
        return
    modules = {"tvm": this, "tvm.te": te, "tvm.tir": tir, "tvm.testing": testing,
               "tvm.contrib": contrib, "tvm.contrib.utils": contrib.utils,
               "tvm.contrib.cblas": contrib.cblas,
               "tvm.autotvm": autotvm, "tvm.topi": topi, **topi.SUBMODULES,
               "tvm.target": target, "tvm.runtime": runtime, "tvm.nd": nd,
               "tvm.transform": transform, "tvm.error": error, "tvm.ir": ir,
               "tvm.container": container,
               "tvm.te.schedule": te.schedule}
    _sys.modules.update(modules)


_install()
