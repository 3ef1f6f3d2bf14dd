"""The environment variables tensorlang reads, in one place.

``settings.dump_ir`` and the other attributes read the environment when asked (a few
dictionary look-ups), so a change of ``os.environ`` is seen at once; tests set values with
``with settings.override(verify_passes=True): ...``.  ``settings.snapshot()`` gives all of them
as one frozen :class:`Settings`.

==================  ===================================================================
TL_DUMP_IR          print the IR after each pass (``dump_ir``)
TL_TIME_PASSES      print how long each pass took (``time_passes``)
TL_VERIFY_IR        verify the IR after each pass (``verify_passes``)
TL_CUDA_EMULATE     run CUDA modules on the CPU emulator (``cuda_emulate``)
CUDA_HOME/CUDA_PATH where nvcc lives (``cuda_home``)
TL_CACHE_DIR        compile cache directory (``cache_dir``; else ``xdg_cache_home``,
XDG_CACHE_HOME,     ``home``)
HOME
TL_NUM_THREADS      threads of parallel loops (``num_threads``: the text, parsed by the
                    llvm runtime)
CC                  C compiler that links exported libraries (``cc``)
==================  ===================================================================
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "False")


def _emulate_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def _cuda_home(_name) -> str | None:
    return os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")


#: setting name -> (environment variable, reader)
_SOURCES = {
    "dump_ir": ("TL_DUMP_IR", _flag),
    "time_passes": ("TL_TIME_PASSES", _flag),
    "verify_passes": ("TL_VERIFY_IR", _flag),
    "cuda_emulate": ("TL_CUDA_EMULATE", _emulate_flag),
    "cuda_home": ("CUDA_HOME", _cuda_home),
    "cache_dir": ("TL_CACHE_DIR", os.environ.get),
    "xdg_cache_home": ("XDG_CACHE_HOME", os.environ.get),
    "home": ("HOME", os.environ.get),
    "num_threads": ("TL_NUM_THREADS", os.environ.get),
    "cc": ("CC", os.environ.get),
}


@dataclass(frozen=True)
class Settings:
    """Every setting at one moment (see the module's table)."""
    dump_ir: bool = False
    time_passes: bool = False
    verify_passes: bool = False
    cuda_emulate: bool = False
    cuda_home: str | None = None
    cache_dir: str | None = None
    xdg_cache_home: str | None = None
    home: str | None = None
    num_threads: str | None = None
    cc: str | None = None


class _Current:
    """Attribute access to the settings in force: an override, else the environment."""

    def __init__(self):
        self._overrides: list[dict] = []

    def __getattr__(self, name):
        try:
            variable, read = _SOURCES[name]
        except KeyError:
            raise AttributeError(f"no setting {name!r}; settings: {sorted(_SOURCES)}") from None
        if self._overrides:  # every call of a compiled module asks: keep this path short
            for values in reversed(self._overrides):
                if name in values:
                    return values[name]
        return read(variable)

    @contextlib.contextmanager
    def override(self, **values):
        """Use ``values`` instead of the environment inside the ``with`` block."""
        unknown = sorted(set(values) - set(_SOURCES))
        if unknown:
            raise TypeError(f"unknown setting(s) {unknown}; settings: {sorted(_SOURCES)}")
        self._overrides.append(values)
        try:
            yield self
        finally:
            self._overrides = [v for v in self._overrides if v is not values]

    def snapshot(self) -> Settings:
        """All settings now, frozen."""
        return Settings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Settings)})


settings = _Current()
