"""On-disk cache of compiled functions.

An entry is the object code, the signature and the optimised IR of one build, keyed by a
hash of the function's IR, the target (triple, CPU name and features), the build options,
the versions of llvmlite and LLVM, and the source of every tensorlang module that shapes
compiled code.  Entries are checksummed (see :mod:`tensorlang.target.disk_cache`): one
whose bytes changed, or whose header lacks a field or holds one of the wrong type, is
ignored with a :class:`CacheWarning` naming its file, and the function is compiled again
(the new entry replaces it).  The directory is ``<cache root>/llvm``.
"""
from __future__ import annotations

import functools
import hashlib
import os
import warnings
import zlib

from ..disk_cache import CacheWarning, DamagedEntry, cache_root, pack_entry, read_entry, \
    unpack_entry, write_entry
from .signature import signature_json_problem

__all__ = ["CacheWarning", "cache_dir", "load", "make_key", "store"]

_MAGIC = b"TLOBJ002"

#: tensorlang's package directory, and the parts of it that never shape compiled code
_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_NOT_CODE_SHAPING = {"autotune", "cli.py", "__main__.py"}


def cache_dir() -> str | None:
    """Directory of compiled-code entries (created on first store); None when the
    cache is off (see :func:`tensorlang.target.disk_cache.cache_root`)."""
    root = cache_root()
    return None if root is None else os.path.join(root, "llvm")


def source_digest(package: str = _PACKAGE) -> str:
    """Hash of the source of every tensorlang module whose code can change what a build
    produces: all of the package but the autotuner and the command line."""
    digest = hashlib.sha256()
    for directory, subdirectories, files in os.walk(package):
        relative = os.path.relpath(directory, package)
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__" and
                                   not (relative == "." and d in _NOT_CODE_SHAPING))
        for name in sorted(files):
            if not name.endswith(".py") or (relative == "." and name in _NOT_CODE_SHAPING):
                continue
            with open(os.path.join(directory, name), "rb") as f:
                text = f.read()
            path = os.path.join(relative, name).encode()
            digest.update(b"%d:%s%d:" % (len(path), path, len(text)) + text)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _code_version() -> str:
    """Versions that change compiled code: llvmlite, LLVM, and tensorlang's own source
    (so editing any pass invalidates old entries) and version (for an installation
    without sources); computed once per process."""
    import llvmlite
    import llvmlite.binding as llvm
    try:
        from importlib.metadata import version
        tl_version = version("tensorlang")
    except Exception:  # noqa: BLE001 - not installed: the source hash still counts
        tl_version = "source"
    llvm_version = ".".join(str(v) for v in llvm.llvm_version_info)
    return f"tensorlang {tl_version}|llvmlite {llvmlite.__version__}|LLVM {llvm_version}|" \
           f"source {source_digest()}"


def make_key(ir_key: str, target_key: str, options_key: str) -> str:
    """Cache key of one build."""
    text = "\n".join([ir_key, target_key, options_key, _code_version()])
    return hashlib.sha256(text.encode()).hexdigest()


def _entry_path(directory: str, key: str) -> str:
    return os.path.join(directory, key[:2], key + ".tlo")


def _header_problem(header: dict, key: str) -> str | None:
    if "key" not in header:
        return "its header has no field 'key'"
    if header["key"] != key:
        return "it was written for another function (its header's key differs)"
    if "signature" not in header:
        return "its header has no field 'signature'"
    problem = signature_json_problem(header["signature"])
    return None if problem is None else f"its header's signature {problem}"


def load(key: str):
    """(object code, header dict, optimised IR text) of a cached build, or None
    (no entry, the cache is off, or the entry is damaged: then with a warning)."""
    directory = cache_dir()
    if directory is None:
        return None
    path = _entry_path(directory, key)
    data = read_entry(path)
    if data is None:
        return None
    try:
        header, (object_code, ir_blob) = unpack_entry(data, _MAGIC, 2)
        problem = _header_problem(header, key)
        if problem is not None:
            raise DamagedEntry(problem)
        try:  # cheap next to loading the object code (0.1 ms for 64 kB of IR)
            ir_text = zlib.decompress(ir_blob).decode()
        except (zlib.error, UnicodeDecodeError) as error:
            raise DamagedEntry(f"its LLVM IR does not decompress ({error})") from None
    except DamagedEntry as damage:
        warnings.warn(f"the compile cache entry {path} is damaged ({damage}); it is ignored "
                      f"and the function compiled again", CacheWarning, stacklevel=3)
        return None
    return object_code, header, ir_text


def store(key: str, object_code: bytes, header: dict, ir_text: str) -> None:
    """Write an entry atomically; failures (read-only disk, ...) only lose the entry."""
    directory = cache_dir()
    if directory is None:
        return
    payload = pack_entry(_MAGIC, {**header, "key": key},
                         [object_code, zlib.compress(ir_text.encode(), 1)])
    write_entry(_entry_path(directory, key), payload)
