"""nvcc: CUDA C to PTX or cubin, the results kept in the compile cache."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

from ...errors import BuildError
from ...settings import settings
from ..disk_cache import CacheWarning, DamagedEntry, cache_root, pack_entry, read_entry, \
    unpack_entry, write_entry




def nvcc_path() -> str | None:
    """The nvcc executable (``$CUDA_HOME/bin/nvcc`` or on PATH), or None."""
    home = settings.cuda_home
    if home and (Path(home) / "bin" / "nvcc").exists():
        return str(Path(home) / "bin" / "nvcc")
    return shutil.which("nvcc")


def nvcc_cache_dir() -> Path | None:
    """Directory of nvcc results; None when the cache is off (see ``cache_root``)."""
    root = cache_root()
    return None if root is None else Path(root) / "cuda"


_MAGIC = b"TLCUDA01"


def _load_cached(path: Path, key: str) -> bytes | None:
    """The nvcc output in the entry ``path``, or None (no entry, or a damaged one: then
    with a warning)."""
    data = read_entry(str(path))
    if data is None:
        return None
    try:
        header, (output,) = unpack_entry(data, _MAGIC, 1)
        if header.get("key") != key:
            raise DamagedEntry("it was written for another source (its header's key "
                               "differs)")
    except DamagedEntry as damage:
        warnings.warn(f"the compile cache entry {path} is damaged ({damage}); it is ignored "
                      f"and the kernel compiled again", CacheWarning, stacklevel=3)
        return None
    return output


def compile_cuda(source: str, arch: str, output: str = "cubin") -> bytes:
    """Compile CUDA C with nvcc to ``cubin`` or ``ptx`` for ``arch`` (``sm_80``); results
    are cached on disk by source, architecture and compiler version, checksummed and
    written atomically (:mod:`tensorlang.target.disk_cache`)."""
    nvcc = nvcc_path()
    if nvcc is None:
        raise BuildError("nvcc was not found: install the CUDA toolkit and put nvcc on PATH "
                         "(or set CUDA_HOME)")
    if output not in ("cubin", "ptx"):
        raise BuildError(f"cannot compile CUDA to {output!r}; use 'cubin' or 'ptx'")
    flags = ["-O3", "-std=c++17", f"-arch={arch}"]
    # the entry format is part of the key, so entries of an older format are not read
    key = hashlib.sha256("\0".join([_MAGIC.decode(), source, output, nvcc,
                                    _nvcc_version(nvcc)] + flags).encode()).hexdigest()[:32]
    cache = nvcc_cache_dir()
    cached = None if cache is None else cache / f"{key}.{output}"
    if cached is not None:
        data = _load_cached(cached, key)
        if data is not None:
            return data
    with tempfile.TemporaryDirectory(prefix="tensorlang-cuda-") as work:
        src = Path(work) / "kernel.cu"
        out = Path(work) / f"kernel.{output}"
        src.write_text(source)
        result = subprocess.run([nvcc, f"-{output}", *flags, "-o", str(out), str(src)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError(f"nvcc failed to compile the generated CUDA code for {arch} "
                             f"(this is a bug in tensorlang's CUDA backend; please report "
                             f"it):\n{result.stderr.strip()}")
        data = out.read_bytes()
    if cached is not None:  # a failed write only costs a recompilation
        write_entry(str(cached), pack_entry(_MAGIC, {"key": key}, [data]))
    return data


_VERSIONS: dict[str, str] = {}


def _nvcc_version(nvcc: str) -> str:
    if nvcc not in _VERSIONS:
        result = subprocess.run([nvcc, "--version"], capture_output=True, text=True)
        _VERSIONS[nvcc] = result.stdout.strip().splitlines()[-1] if result.stdout else ""
    return _VERSIONS[nvcc]
