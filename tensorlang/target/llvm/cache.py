"""On-disk cache of compiled functions.

An entry is the object code, the signature and the optimised IR of one build, keyed by a
hash of the function's IR, the target with its CPU features, the build options and the
versions of tensorlang, LLVM and this code generator.  Entries are written to a temporary
file and renamed into place, so concurrent processes never see half an entry (the worst
case is two processes compiling the same function and one rename winning).  The directory
is ``TL_CACHE_DIR``, default ``~/.cache/tensorlang``.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import struct
import tempfile
import zlib

_MAGIC = b"TLOBJ001"


def cache_dir() -> str:
    """Directory of compiled-code entries (created on first store)."""
    base = os.environ.get("TL_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "tensorlang")
    return os.path.join(base, "llvm")


@functools.lru_cache(maxsize=1)
def _code_version() -> str:
    """Versions that change compiled code: tensorlang, llvmlite/LLVM, and the code
    generator's own source (so editing it invalidates old entries)."""
    import llvmlite
    import llvmlite.binding as llvm
    try:
        from importlib.metadata import version
        tl_version = version("tensorlang")
    except Exception:  # noqa: BLE001 - not installed: the source hash below still counts
        tl_version = "source"
    digest = hashlib.sha256()
    here = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            with open(os.path.join(here, name), "rb") as f:
                digest.update(name.encode() + f.read())
    llvm_version = ".".join(str(v) for v in llvm.llvm_version_info)
    return f"{tl_version}|{llvmlite.__version__}|{llvm_version}|{digest.hexdigest()[:16]}"


def make_key(ir_key: str, target_key: str, options_key: str) -> str:
    """Cache key of one build."""
    text = "\n".join([ir_key, target_key, options_key, _code_version()])
    return hashlib.sha256(text.encode()).hexdigest()


def load(key: str):
    """(object code, header dict, optimised IR text) of a cached build, or None."""
    path = os.path.join(cache_dir(), key[:2], key + ".tlo")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        if data[:8] != _MAGIC:
            return None
        header_size, object_size = struct.unpack_from("<QQ", data, 8)
        start = 24
        header = json.loads(data[start:start + header_size])
        start += header_size
        object_code = data[start:start + object_size]
        ir_blob = data[start + object_size:]
        if len(object_code) != object_size:
            return None
        return object_code, header, ir_blob
    except (ValueError, struct.error):
        return None  # a damaged entry is a miss; the next store replaces it


def decompress_ir(blob: bytes) -> str:
    return zlib.decompress(blob).decode()


def store(key: str, object_code: bytes, header: dict, ir_text: str) -> None:
    """Write an entry atomically; failures (read-only disk, ...) only lose the entry."""
    directory = os.path.join(cache_dir(), key[:2])
    header_bytes = json.dumps(header).encode()
    payload = b"".join([_MAGIC, struct.pack("<QQ", len(header_bytes), len(object_code)),
                        header_bytes, object_code, zlib.compress(ir_text.encode(), 1)])
    try:
        os.makedirs(directory, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".tlo")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(temp, os.path.join(directory, key + ".tlo"))
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
    except OSError:
        pass
