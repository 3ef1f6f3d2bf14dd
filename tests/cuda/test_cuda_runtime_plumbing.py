"""The GPU path of CudaModule (uploads, temporaries, launch configuration, scalar
arguments, copies back, device arrays, timing) against a stand-in for pycuda whose
"GPU" runs each launched kernel with the emulator on the bytes the runtime uploaded."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from tensorlang import tir
from tensorlang.tir import Allocate, BufferStore, IfThenElse, PrimFunc, decl_buffer
from tensorlang.target.cuda import build
from tensorlang.target.cuda.emulate import Emulator
from tensorlang.tir.transform.split_kernels import launch_dimensions
from tensorlang.target.cuda.runtime import scalar_argument

from cuda_tir_kernels import bound, elementwise, stage, tiled_matmul

RNG = np.random.default_rng(5)


class FakeGpu:
    """Device memory as byte arrays at fake addresses; kernels run by the emulator."""

    def __init__(self):
        self.memory: dict[int, np.ndarray] = {}
        self.next_address = 1 << 20
        self.program = None
        self.launches: list = []
        self.freed = 0

    def driver(self) -> types.ModuleType:
        gpu = self
        module = types.ModuleType("pycuda.driver")

        class Allocation:
            def __init__(self, address):
                self.address = address

            def __int__(self):
                return self.address

            def free(self):
                gpu.memory.pop(self.address)
                gpu.freed += 1

        def mem_alloc(nbytes):
            address = gpu.next_address
            gpu.next_address += (nbytes + 255) // 256 * 256 + 256
            gpu.memory[address] = np.zeros(nbytes, np.uint8)
            return Allocation(address)

        def memcpy_htod(dest, src):
            data = np.ascontiguousarray(src).reshape(-1).view(np.uint8)
            gpu.memory[int(dest)][:data.size] = data

        def memcpy_dtoh(dest, src):
            view = dest.reshape(-1).view(np.uint8)
            view[:] = gpu.memory[int(src)][:view.size]

        class Device:
            @staticmethod
            def compute_capability():
                return (9, 0)

        class Context:
            @staticmethod
            def synchronize():
                pass

            @staticmethod
            def get_device():
                return Device()

        class Function:
            def __init__(self, name):
                self.name = name

            def __call__(self, *values, grid, block):
                gpu.launch(self.name, values, grid, block)

        class Module:
            def get_function(self, name):
                return Function(name)

        class Event:
            def record(self):
                pass

            def synchronize(self):
                pass

            def time_till(self, other):
                return 0.5  # milliseconds

        module.mem_alloc = mem_alloc
        module.memcpy_htod = memcpy_htod
        module.memcpy_dtoh = memcpy_dtoh
        module.Context = Context
        module.Event = Event
        module.module_from_buffer = lambda data: Module() if data else None
        return module

    def array_at(self, address: int, buffer, env) -> np.ndarray:
        from tensorlang.tir.transform.split_kernels import evaluate_int
        shape = tuple(evaluate_int(d, env) for d in buffer.shape)
        data = self.memory[address]
        count = int(np.prod(shape))
        return data[:count * buffer.dtype.bytes].view(buffer.dtype.numpy_dtype).reshape(shape)

    def launch(self, name, values, grid, block):
        kernel = next(k for k in self.program.kernels if k.name == name)
        pointers, scalars = values[:len(kernel.buffers)], values[len(kernel.buffers):]
        assert all(isinstance(p, np.uintp) for p in pointers)
        env = dict(zip(kernel.scalars, (s.item() for s in scalars)))
        assert [type(s) for s in scalars] == [type(scalar_argument(v, 0)) for v in kernel.scalars]
        assert (tuple(grid), tuple(block)) == launch_dimensions(kernel, env)
        arrays = {b: self.array_at(int(p), b, env) for b, p in zip(kernel.buffers, pointers)}
        Emulator(self.program).run(kernel, env, arrays)
        self.launches.append((name, tuple(grid), tuple(block)))


@pytest.fixture
def fake_gpu(monkeypatch, nvcc_cached):
    gpu = FakeGpu()
    package = types.ModuleType("pycuda")
    driver = gpu.driver()
    package.driver = driver
    monkeypatch.setitem(sys.modules, "pycuda", package)
    monkeypatch.setitem(sys.modules, "pycuda.driver", driver)
    monkeypatch.setitem(sys.modules, "pycuda.autoprimaryctx", types.ModuleType("ctx"))
    monkeypatch.delenv("TL_CUDA_EMULATE", raising=False)
    return gpu


def test_numpy_arguments_are_uploaded_launched_and_copied_back(fake_gpu):
    mod = build(tiled_matmul(tile=8), "cuda")
    fake_gpu.program = mod.program
    a = RNG.standard_normal((20, 11)).astype("float32")
    b = RNG.standard_normal((11, 13)).astype("float32")
    c = np.zeros((20, 13), "float32")
    mod(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)
    assert fake_gpu.launches == [("matmul_kernel0", (2, 3, 1), (8, 8, 1))]
    assert not fake_gpu.memory and fake_gpu.freed == 3  # everything freed


def test_temporaries_and_several_kernels(fake_gpu):
    n = tir.var("n")
    A = decl_buffer((n,), "float32", "A")
    T = decl_buffer((n,), "float32", "T")
    B = decl_buffer((n,), "float32", "B")
    stages = []
    for name, dst, src in (("T", T, A), ("B", B, T)):
        bx, tx = tir.var("bx"), tir.var("tx")
        i = bx * 32 + tx
        stages.append(stage(name, bound(bx, (n + 31) // 32, "blockIdx.x", bound(
            tx, 32, "threadIdx.x", IfThenElse(i < n, BufferStore(dst, src[i] * 2.0, (i,)))))))
    mod = build(PrimFunc("twice", (A, B), Allocate(T, tir.seq(*stages))), "cuda")
    fake_gpu.program = mod.program
    a = RNG.standard_normal(70).astype("float32")
    b = np.zeros(70, "float32")
    mod(a, b)
    np.testing.assert_array_equal(b, a * np.float32(4))
    assert [name for name, _, _ in fake_gpu.launches] == ["twice_kernel0", "twice_kernel1"]
    assert fake_gpu.launches[0][1] == (3, 1, 1)


def test_inputs_are_not_copied_back_and_views_are_written(fake_gpu):
    mod = build(elementwise(), "cuda")
    fake_gpu.program = mod.program
    a = RNG.standard_normal(10).astype("float32")
    a_before = a.copy()
    storage = np.zeros(20, "float32")
    mod(a, storage[::2])
    np.testing.assert_array_equal(a, a_before)
    np.testing.assert_array_equal(storage[::2], a * np.float32(2) + np.float32(1))
    assert not storage[1::2].any()


class FakeDeviceArray:
    """An array in fake device memory exposing ``__cuda_array_interface__``."""

    def __init__(self, gpu: FakeGpu, host: np.ndarray, offset: int = 0):
        driver = gpu.driver()
        self.allocation = driver.mem_alloc(host.nbytes + offset)
        driver.memcpy_htod(self.allocation, host)
        self.gpu, self.shape, self.dtype = gpu, host.shape, host.dtype
        self.__cuda_array_interface__ = {"shape": host.shape, "typestr": host.dtype.str,
                                         "data": (int(self.allocation) + offset, False),
                                         "strides": None, "version": 3}

    def get(self) -> np.ndarray:
        data = self.gpu.memory[int(self.allocation)][:int(np.prod(self.shape)) *
                                                      self.dtype.itemsize]
        return data.view(self.dtype).reshape(self.shape).copy()


def test_device_arrays_are_used_in_place_and_timed(fake_gpu):
    mod = build(elementwise(), "cuda")
    fake_gpu.program = mod.program
    a = RNG.standard_normal(40).astype("float32")
    a_dev = FakeDeviceArray(fake_gpu, a)
    b_dev = FakeDeviceArray(fake_gpu, np.zeros(40, "float32"))
    mod(a_dev, b_dev)
    np.testing.assert_array_equal(b_dev.get(), a * np.float32(2) + np.float32(1))
    assert len(fake_gpu.memory) == 2  # nothing allocated for device arrays
    assert mod.time(a_dev, b_dev, number=4, repeat=2) == pytest.approx(0.5e-3 / 4)
    with pytest.raises(ValueError, match=r"argument 'A'.*16-byte aligned"):
        mod(FakeDeviceArray(fake_gpu, a, offset=4), b_dev)
    with pytest.raises(TypeError, match=r"argument 'B'.*float32"):
        mod(a_dev, FakeDeviceArray(fake_gpu, np.zeros(40, "float64")))
