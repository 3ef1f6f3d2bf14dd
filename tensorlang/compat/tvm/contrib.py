"""``tvm.contrib``: ``utils.tempdir()`` and the contrib libraries tensorlang has
(``cblas``: ``cblas.matmul(A, B)``, ``cblas.batch_matmul``)."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import types

from ...contrib import cblas


class TempDirectory:
    """``tvm.contrib.utils.tempdir()``: a directory removed when the program exits."""

    def __init__(self, custom_path=None):
        if custom_path is not None:
            os.makedirs(custom_path, exist_ok=True)
            self.temp_dir, self._owned = os.fspath(custom_path), False
        else:
            self.temp_dir, self._owned = tempfile.mkdtemp(prefix="tensorlang-tvm-"), True
            atexit.register(self.remove)

    def relpath(self, name: str) -> str:
        return os.path.join(self.temp_dir, name)

    def listdir(self) -> list:
        return os.listdir(self.temp_dir)

    def remove(self) -> None:
        if self._owned:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    @property
    def path(self) -> str:
        return self.temp_dir

    def __repr__(self) -> str:
        return f"TempDirectory({self.temp_dir!r})"


def tempdir(custom_path=None) -> TempDirectory:
    return TempDirectory(custom_path)


utils = types.ModuleType("tvm.contrib.utils", "tvm.contrib.utils: temporary directories")
utils.tempdir = tempdir
utils.TempDirectory = TempDirectory


__all__ = ["TempDirectory", "cblas", "tempdir", "utils"]
