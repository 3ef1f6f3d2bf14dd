"""Where compiled code is kept between runs, and the checksummed format of its entries.

The directory is ``TL_CACHE_DIR``, else ``$XDG_CACHE_HOME/tensorlang``, else
``$HOME/.cache/tensorlang``.  When none of these names a usable directory (``HOME`` empty
or unset, a path that is a file or lies under one, a directory that cannot be written)
code is compiled without a cache, after one :class:`CacheWarning` per reason and process;
the root directory ``/`` is never used.

An entry is ``magic | blake2b digest | sizes | JSON header | blobs``, the digest covering
everything after it, so a reader detects any changed, missing or extra byte before it
trusts the entry.  Entries are written to a temporary file in their directory and renamed
into place: a concurrent reader sees the old entry or the new one, never half of one.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import tempfile
import warnings

from ..errors import internal_assert
from ..settings import settings

_DIGEST_SIZE = 32
_MAGIC_SIZE = 8


class CacheWarning(UserWarning):
    """The compile cache cannot be used as configured, or one of its entries was damaged
    (and is compiled again)."""


#: reasons already warned about in this process (each is said once)
_warned: set = set()


def warn_once(reason: str, message: str) -> None:
    """Issue ``message`` as a :class:`CacheWarning` unless ``reason`` was already given."""
    if reason in _warned:
        return
    _warned.add(reason)
    warnings.warn(message, CacheWarning, stacklevel=3)


_HINT = "compiled code is not cached; set TL_CACHE_DIR to a writable directory to cache it"


def cache_root() -> str | None:
    """The cache directory, or None (after a warning) when there is no usable one."""
    explicit = settings.cache_dir
    if explicit:
        root, origin = os.path.abspath(explicit), f"TL_CACHE_DIR={explicit!r}"
    else:
        xdg = settings.xdg_cache_home
        if xdg and os.path.isabs(xdg):  # the XDG spec ignores relative paths
            root, origin = os.path.join(xdg, "tensorlang"), f"XDG_CACHE_HOME={xdg!r}"
        else:
            home = settings.home
            problem = None
            if home is None:
                problem = "HOME is not set"
            elif not home:
                problem = "HOME is empty"
            elif not os.path.isabs(home):
                problem = f"HOME={home!r} is not an absolute path"
            elif _is_filesystem_root(home):
                problem = f"HOME={home!r} is the root directory"
            if problem:
                warn_once(f"home:{problem}", f"{problem}, so tensorlang has no default cache "
                                             f"directory: {_HINT}")
                return None
            root, origin = os.path.join(home, ".cache", "tensorlang"), f"HOME={home!r}"
    if _is_filesystem_root(root):
        warn_once(f"root:{root}", f"the cache directory {root} ({origin}) is the root "
                                  f"directory, which tensorlang does not write to: {_HINT}")
        return None
    problem = _unusable(root)
    if problem:
        warn_once(f"dir:{root}:{problem}", f"the cache directory {root} ({origin}) {problem}: "
                                           f"{_HINT}")
        return None
    return root


def _is_filesystem_root(path: str) -> bool:
    real = os.path.realpath(path)
    return os.path.dirname(real) == real


def _unusable(root: str) -> str | None:
    """Why ``root`` cannot hold the cache (None: it can, or can be created)."""
    path = root
    while True:
        try:
            info = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            parent = os.path.dirname(path)
            if parent == path:
                return "cannot be created"
            path = parent
            continue
        except OSError as error:
            return f"cannot be used ({error.strerror or error})"
        if not stat.S_ISDIR(info.st_mode):
            return "is not a directory" if path == root else \
                f"cannot be created: {path} is not a directory"
        if not os.access(path, os.W_OK | os.X_OK):
            return "is not writable" if path == root else \
                f"cannot be created: {path} is not writable"
        return None


# -- entries ---------------------------------------------------------------------------

class DamagedEntry(Exception):
    """An entry whose bytes are not what a writer wrote; the message says how."""


def pack_entry(magic: bytes, header: dict, blobs: list[bytes]) -> bytes:
    """The bytes of an entry holding ``header`` (JSON) and ``blobs``."""
    internal_assert(len(magic) == _MAGIC_SIZE, f"cache entry magic {magic!r} is not 8 bytes")
    header_bytes = json.dumps(header, sort_keys=True).encode()
    sizes = struct.pack(f"<{1 + len(blobs)}Q", len(header_bytes), *(len(b) for b in blobs))
    body = b"".join([sizes, header_bytes, *blobs])
    return magic + hashlib.blake2b(body, digest_size=_DIGEST_SIZE).digest() + body


def unpack_entry(data: bytes, magic: bytes, num_blobs: int) -> tuple[dict, list[bytes]]:
    """(header, blobs) of an entry; raises :class:`DamagedEntry` unless every byte is as
    written and the header is a JSON object."""
    sizes_format = f"<{1 + num_blobs}Q"
    start = _MAGIC_SIZE + _DIGEST_SIZE
    if len(data) < start + struct.calcsize(sizes_format):
        raise DamagedEntry(f"truncated to {len(data)} bytes")
    if data[:_MAGIC_SIZE] != magic:
        raise DamagedEntry(f"it does not start with {magic!r}")
    body = data[start:]
    if hashlib.blake2b(body, digest_size=_DIGEST_SIZE).digest() != data[_MAGIC_SIZE:start]:
        raise DamagedEntry("checksum mismatch")
    sizes = struct.unpack_from(sizes_format, body)
    offset = struct.calcsize(sizes_format)
    if offset + sum(sizes) != len(body):
        raise DamagedEntry(f"its parts add up to {offset + sum(sizes)} bytes, not "
                           f"{len(body)}")
    parts = []
    for size in sizes:
        parts.append(body[offset:offset + size])
        offset += size
    try:
        header = json.loads(parts[0])
    except (ValueError, UnicodeDecodeError) as error:
        raise DamagedEntry(f"its header is not JSON ({error})") from None
    if not isinstance(header, dict):
        raise DamagedEntry(f"its header is a {type(header).__name__}, not an object")
    return header, parts[1:]


def read_entry(path: str) -> bytes | None:
    """The bytes of the entry file ``path``, or None when there is none (or it cannot be
    read, which is said once)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        warn_once(f"read:{path}:{error.errno}", f"cannot read the cache entry {path} "
                                                f"({error.strerror or error}); it is ignored")
        return None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's process counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: directories whose temporary files of dead processes were removed by this process
_SWEPT: set = set()


def remove_stale_temporaries(directory: str) -> list[str]:
    """Remove the temporary files (``.tmp-<pid>-*``) that a writer killed between writing
    and renaming left in ``directory``; done once per directory and process.  Returns
    the paths removed."""
    if directory in _SWEPT:
        return []
    _SWEPT.add(directory)
    removed = []
    for path in paths_of_dead_processes(directory, ".tmp-"):
        try:
            os.unlink(path)
            removed.append(path)
        except OSError:
            pass
    return removed


def paths_of_dead_processes(directory: str, prefix: str) -> list[str]:
    """The paths in ``directory`` named ``<prefix><pid>-...`` whose process is gone: what
    a process killed with ``kill -9`` left behind."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    paths = []
    for entry in entries:
        pid = entry[len(prefix):].split("-", 1)[0]
        if entry.startswith(prefix) and pid.isdigit() and not pid_alive(int(pid)):
            paths.append(os.path.join(directory, entry))
    return paths


def write_entry(path: str, payload: bytes) -> bool:
    """Write ``payload`` to ``path`` atomically (temporary file named with this process's
    pid, then rename).  A failure (full disk, read-only directory, ...) loses only the
    entry and is said once per kind of error; returns whether the entry was written."""
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        remove_stale_temporaries(directory)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".tmp-{os.getpid()}-",
                                    suffix=os.path.splitext(path)[1])
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
    except OSError as error:
        warn_once(f"write:{error.errno}",
                  f"cannot write compiled code to the cache directory {directory} "
                  f"({error.strerror or error}); it is compiled again in the next process")
        return False
    return True
