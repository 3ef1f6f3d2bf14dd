"""Build and run CUDA modules: nvcc compilation (cached), launches through pycuda, timing
with CUDA events, and CPU emulation where no GPU is present.

pycuda is an optional dependency (``pip install tensorlang[cuda]``): this module imports
without it, and only launching on a GPU needs it.  ``TL_CUDA_EMULATE=1`` makes every call
of a :class:`CudaModule` run the CPU emulation instead.

>>> mod = build(func, "cuda")
>>> mod(a, b, c)                 # numpy arrays (copied) or GPU arrays (used in place)
>>> print(mod.get_source("cuda"))
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time as _time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import pipeline
from ...errors import BuildError, TensorLangError
from ...settings import settings
from ...tir.buffer import Buffer
from ...tir.stmt import PrimFunc
from ..disk_cache import CacheWarning, DamagedEntry, cache_root, pack_entry, read_entry, \
    unpack_entry, write_entry
from ..target import Target, as_target
from .codegen import CudaCodegen, FastMathCudaCodegen, generate_cuda
from .emulate import Emulator
from .kernels import (DEFAULT_MAX_SHARED_BYTES, DEFAULT_MAX_THREADS, DeviceProgram, Limits,
                      bind_arguments, evaluate_int, launch_dimensions)

_NO_GPU_HINT = ("install tensorlang[cuda] and run on a machine with an NVIDIA GPU, or set "
                "TL_CUDA_EMULATE=1 to run the kernels on the CPU")


class CudaRuntimeError(TensorLangError, RuntimeError):
    """No GPU, driver or pycuda to run a CUDA module on."""


@dataclass(frozen=True)
class CudaBuildOptions:
    """Options of a CUDA build (from the target string and keyword arguments)."""
    #: ``sm_80``...; empty means the architecture of the GPU the module runs on
    arch: str = ""
    max_threads_per_block: int = DEFAULT_MAX_THREADS
    max_shared_memory: int = DEFAULT_MAX_SHARED_BYTES
    #: hardware approximations of exp/log/sin/cos (``__expf``...)
    fast_math: bool = False
    #: run :func:`inject_syncthreads` before code generation
    inject_sync: bool = True

    @property
    def limits(self) -> Limits:
        return Limits(self.max_threads_per_block, self.max_shared_memory)

    @staticmethod
    def from_target(target: Target, **overrides) -> "CudaBuildOptions":
        known = CudaBuildOptions.__dataclass_fields__
        for key in overrides:
            if key not in known:
                raise BuildError(f"unknown CUDA build option '{key}'; known options: "
                                 f"{', '.join(sorted(known))}")
        fields = {}
        if target.arch:
            fields["arch"] = target.arch
        for option, name in (("max-threads-per-block", "max_threads_per_block"),
                             ("max-shared-memory", "max_shared_memory")):
            if option in target.options:
                try:
                    fields[name] = int(target.options[option])
                except ValueError:
                    raise BuildError(f"target '{target}': -{option} must be an integer, got "
                                     f"{target.options[option]!r}") from None
        fields.update(overrides)
        return CudaBuildOptions(**fields)


def build(func: PrimFunc, target="cuda", **options) -> "CudaModule":
    """Compile a lowered, thread-bound PrimFunc for the GPU.

    Before code generation, accumulations across threadIdx become shared-memory tree
    reductions (:mod:`.reduction`), vectorized loops become (float2/float4 where aligned)
    vector accesses, unrolled loops straight-line code, and barriers are inserted
    (:mod:`.sync`).  Validation errors (unbound loops, too many threads, too much shared
    memory, one thread tag bound with different extents) raise BuildError naming stage
    and loop.
    Code generation needs no GPU; the nvcc compilation happens at the first launch.

    >>> mod = build(func, "cuda -arch=sm_80")
    """
    if not isinstance(func, PrimFunc):
        raise BuildError(f"the CUDA backend builds a lowered PrimFunc (from tl.lower), got "
                         f"{type(func).__name__}")
    target = as_target(target)
    if target.kind != "cuda":
        raise BuildError(f"the CUDA backend cannot build for target '{target}'; use "
                         f"target=\"cuda\"")
    build_options = CudaBuildOptions.from_target(target, **options)
    passes = pipeline.cuda_passes(build_options.inject_sync, build_options.limits)
    program = pipeline.PassRunner(label="tl.build cuda").run_all(passes, func)
    codegen = FastMathCudaCodegen if build_options.fast_math else CudaCodegen
    source = generate_cuda(program, codegen)
    return CudaModule(program, source, target, build_options)


# ---------------------------------------------------------------------------------------
# nvcc


def nvcc_path() -> str | None:
    """The nvcc executable (``$CUDA_HOME/bin/nvcc`` or on PATH), or None."""
    home = settings.cuda_home
    if home and (Path(home) / "bin" / "nvcc").exists():
        return str(Path(home) / "bin" / "nvcc")
    return shutil.which("nvcc")


def _cache_dir() -> Path | None:
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
    cache = _cache_dir()
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


# ---------------------------------------------------------------------------------------
# the GPU


def _pycuda():
    """pycuda's driver module with a context on the current device."""
    try:
        import pycuda.driver as driver
    except ImportError:
        raise CudaRuntimeError(f"running a CUDA module needs pycuda and a GPU: "
                               f"{_NO_GPU_HINT}") from None
    try:
        try:
            import pycuda.autoprimaryctx  # noqa: F401 - shares the primary context
        except ImportError:
            import pycuda.autoinit  # noqa: F401
    except Exception as error:  # noqa: BLE001 - any driver failure means no usable GPU
        raise CudaRuntimeError(f"no usable NVIDIA GPU or driver ({error}): "
                               f"{_NO_GPU_HINT}") from None
    return driver


def _is_device_array(value) -> bool:
    return hasattr(value, "__cuda_array_interface__")


def _device_pointer(value) -> int:
    interface = value.__cuda_array_interface__
    return int(interface["data"][0])


class CudaModule:
    """A built CUDA function: call it, time it, read its source, or emulate it."""

    def __init__(self, program: DeviceProgram, source: str, target: Target,
                 options: CudaBuildOptions):
        self.program = program
        self.func = program.func
        self.name = program.func.name
        self.source = source
        self.target = target
        self.options = options
        self._emulator = Emulator(program, options.limits)
        self._functions = None

    def __repr__(self) -> str:
        return f"CudaModule({self.name!r}, {len(self.program.kernels)} kernel(s))"

    # -- source --------------------------------------------------------------------
    def get_source(self, fmt: str = "cuda") -> str:
        """``"cuda"``: the CUDA C; ``"ptx"``: PTX from nvcc (for the target's -arch, or
        sm_80)."""
        if fmt in ("cuda", "cu", "c"):
            return self.source
        if fmt == "ptx":
            return compile_cuda(self.source, self.options.arch or "sm_80", "ptx").decode()
        raise BuildError(f"module '{self.name}' has no '{fmt}' source; use \"cuda\" or "
                         f"\"ptx\"")

    # -- running -------------------------------------------------------------------
    def emulate(self, *args) -> None:
        """Run the kernels on the CPU (numpy arrays, outputs written in place)."""
        self._emulator(*args)

    def __call__(self, *args) -> None:
        if settings.cuda_emulate:
            self.emulate(*args)
            return
        with _Launch(self, args) as launch:
            launch.run()

    def time(self, *args, number: int = 10, repeat: int = 3) -> float:
        """Seconds per call: the minimum over ``repeat`` rounds of the mean of ``number``
        calls, measured with CUDA events (wall clock under TL_CUDA_EMULATE=1)."""
        if number < 1 or repeat < 1:
            raise ValueError("time(): number and repeat must be at least 1")
        if settings.cuda_emulate:
            best = float("inf")
            for _ in range(repeat):
                start = _time.perf_counter()
                for _ in range(number):
                    self.emulate(*args)
                best = min(best, (_time.perf_counter() - start) / number)
            return best
        with _Launch(self, args, copy_back=False) as launch:
            driver = launch.driver
            launch.run()  # warm up (module load, first-touch)
            best = float("inf")
            for _ in range(repeat):
                start, end = driver.Event(), driver.Event()
                start.record()
                for _ in range(number):
                    launch.run(synchronize=False)
                end.record()
                end.synchronize()
                best = min(best, start.time_till(end) / 1e3 / number)
            return best

    def kernel_functions(self, driver):
        """The loaded ``__global__`` functions (compiled for the current GPU on first
        use)."""
        if self._functions is None:
            arch = self.options.arch
            if not arch:
                major, minor = driver.Context.get_device().compute_capability()
                arch = f"sm_{major}{minor}"
            module = driver.module_from_buffer(compile_cuda(self.source, arch, "cubin"))
            self._functions = [module.get_function(k.name) for k in self.program.kernels]
            self._module = module
        return self._functions


class _Launch:
    """Arguments placed on the GPU for one call (or a timing loop)."""

    def __init__(self, module: CudaModule, args, copy_back: bool = True):
        self.module = module
        self.args = args
        self.copy_back = copy_back

    def __enter__(self) -> "_Launch":
        self.driver = _pycuda()
        self.allocations = []
        try:
            self._prepare()
        except BaseException:
            self._free()
            raise
        return self

    def _prepare(self) -> None:
        module = self.module
        program = module.program
        driver = self.driver
        self.env = bind_arguments(module.func, self.args,
                                  lambda a: isinstance(a, np.ndarray) or _is_device_array(a))
        self.pointers: dict = {}
        self.uploads = []
        for param, arg in zip(module.func.params, self.args):
            if not isinstance(param, Buffer):
                continue
            if _is_device_array(arg):
                pointer = _device_pointer(arg)
                strides = arg.__cuda_array_interface__.get("strides")
                if strides is not None and strides != _c_strides(arg.shape, arg.dtype):
                    raise ValueError(f"argument '{param.name}' of '{module.name}' must be a "
                                     f"C-contiguous GPU array")
                if pointer % 16:
                    raise ValueError(f"argument '{param.name}' of '{module.name}' must be "
                                     f"16-byte aligned on the GPU (pass a whole array, not "
                                     f"an offset view)")
                self.pointers[param] = pointer
            else:
                host = np.ascontiguousarray(arg)
                memory = driver.mem_alloc(max(host.nbytes, 1))
                driver.memcpy_htod(memory, host)
                self.allocations.append(memory)
                self.pointers[param] = int(memory)
                self.uploads.append((param, arg, host, memory))
        for buffer in program.temporaries:
            nbytes = buffer.dtype.bytes * int(np.prod(
                [evaluate_int(d, self.env) for d in buffer.shape]))
            memory = driver.mem_alloc(max(nbytes, 1))
            self.allocations.append(memory)
            self.pointers[buffer] = int(memory)
        self.functions = module.kernel_functions(driver)
        self.launches = []
        for kernel, function in zip(program.kernels, self.functions):
            grid, block = launch_dimensions(kernel, self.env, module.options.limits)
            if 0 in grid or 0 in block:
                continue  # an empty launch does nothing (and CUDA rejects it)
            values = [np.uintp(self.pointers[b]) for b in kernel.buffers]
            values.extend(scalar_argument(var, self.env[var]) for var in kernel.scalars)
            self.launches.append((function, values, grid, block))

    def run(self, synchronize: bool = True) -> None:
        for function, values, grid, block in self.launches:
            function(*values, grid=grid, block=block)
        if synchronize:
            self.driver.Context.synchronize()

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None and self.copy_back:
                written = self.module.program.written
                for param, original, host, memory in self.uploads:
                    if param in written:
                        self.driver.memcpy_dtoh(host, memory)
                        if host is not original:
                            original[...] = host
        finally:
            self._free()

    def _free(self) -> None:
        for memory in self.allocations:
            memory.free()
        self.allocations = []


def scalar_argument(var, value):
    """A scalar kernel argument packed as the kernel declares it (16-bit floats travel as
    float, in which the kernel computes them)."""
    if var.dtype.is_float and var.dtype.bits == 16:
        return np.float32(value)
    return var.dtype.numpy_dtype.type(value)


def _c_strides(shape, dtype) -> tuple:
    strides, running = [], np.dtype(dtype).itemsize
    for dim in reversed(tuple(shape)):
        strides.append(running)
        running *= dim
    return tuple(reversed(strides))


def gpu_available() -> bool:
    """Whether pycuda can reach a GPU here (used to skip GPU tests)."""
    try:
        _pycuda()
    except CudaRuntimeError:
        return False
    return True
