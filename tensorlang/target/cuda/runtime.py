"""Run CUDA modules: launches through pycuda (nvcc compilation at the first launch),
timing with CUDA events, and CPU emulation where no GPU is present.

pycuda is an optional dependency (``pip install tensorlang[cuda]``): this module imports
without it, and only launching on a GPU needs it.  ``TL_CUDA_EMULATE=1`` makes every call
of a :class:`CudaModule` run the CPU emulation instead.

>>> mod(a, b, c)                 # numpy arrays (copied) or GPU arrays (used in place)
>>> print(mod.get_source("cuda"))
"""
from __future__ import annotations

import time as _time

import numpy as np

from ...errors import BuildError, TensorLangError
from ...settings import settings
from ...tir.buffer import Buffer
from ..target import Target
from .emulate import Emulator
from ...tir.transform.launch_arguments import bind_arguments
from ...tir.transform.split_kernels import DeviceProgram, evaluate_int, launch_dimensions
from .nvcc import compile_cuda

_NO_GPU_HINT = ("install tensorlang[cuda] and run on a machine with an NVIDIA GPU, or set "
                "TL_CUDA_EMULATE=1 to run the kernels on the CPU")


class CudaRuntimeError(TensorLangError, RuntimeError):
    """No GPU, driver or pycuda to run a CUDA module on."""



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
                 options):
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
        function_of = {kernel.name: f for kernel, f in zip(program.kernels, self.functions)}
        self.launches = []
        for kernel, env in program.launches(self.env):   # a scan: its kernels per step
            grid, block = launch_dimensions(kernel, env, module.options.limits)
            if 0 in grid or 0 in block:
                continue  # an empty launch does nothing (and CUDA rejects it)
            values = [np.uintp(self.pointers[b]) for b in kernel.buffers]
            values.extend(scalar_argument(var, env[var]) for var in kernel.scalars)
            self.launches.append((function_of[kernel.name], values, grid, block))

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
