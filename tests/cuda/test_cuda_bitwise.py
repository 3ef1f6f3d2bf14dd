"""Bitwise operators in CUDA C: the spelling of each (a narrow or signed ``<<`` shifts the
unsigned bits and converts back), the emulator against numpy on every integer type,
vector lanes, and nvcc compiling the kernels."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.target.cuda import build
from tensorlang.target.cuda.nvcc import compile_cuda

INT_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
N = 64


def bitwise_kernel(dtype, lanes: int = 1):
    A = te.placeholder((N,), dtype, "A")
    S = te.placeholder((N,), dtype, "S")
    B = te.compute((N,), lambda i: ((A[i] >> S[i]) ^ (A[i] << S[i])) | (~A[i] & 0x35),
                   name="B")
    s = te.create_schedule(B)
    block, thread = s[B].split(B.op.axis[0], factor=16 * lanes)
    if lanes > 1:
        thread, lane = s[B].split(thread, factor=lanes)
        s[B].vectorize(lane)
    s[B].bind(block, te.thread_axis("blockIdx.x"))
    s[B].bind(thread, te.thread_axis("threadIdx.x"))
    return build(tl.lower(s, [A, S, B], name=f"bits_{dtype}"), "cuda")


def inputs(dtype):
    rng = np.random.default_rng(3)
    info, bits = np.iinfo(dtype), np.dtype(dtype).itemsize * 8
    a = rng.integers(info.min, info.max, N, dtype=dtype, endpoint=True)
    a[:2] = [info.min, info.max]
    s = rng.integers(0, bits, N).astype(dtype)
    s[:2] = [bits - 1, bits - 1]
    return a, s


def expected(a, s):
    return (np.right_shift(a, s) ^ np.left_shift(a, s)) | (np.invert(a) & a.dtype.type(0x35))


@pytest.mark.parametrize("dtype", INT_TYPES)
@pytest.mark.parametrize("lanes", [1, 4])
def test_emulated_kernels_equal_numpy(dtype, lanes):
    mod = bitwise_kernel(dtype, lanes)
    a, s = inputs(dtype)
    out = np.zeros(N, dtype)
    mod.emulate(a, s, out)
    np.testing.assert_array_equal(out, expected(a, s))


def test_source_spells_c_operators():
    source = bitwise_kernel("int8").get_source("cuda")
    assert "((signed char)((unsigned int)A[" in source  # << wraps to int8, never overflows
    assert re.search(r"\(A\[[^]]+\] >> S\[", source)
    assert "^ (-1)" in source and "& 53" in source
    source = bitwise_kernel("uint32").get_source("cuda")
    assert re.search(r"\(A\[[^]]+\] << S\[", source)  # unsigned int: C's << wraps already
    assert "^ 4294967295U" in source


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int32", "uint64"])
def test_generated_source_compiles_with_nvcc(dtype, nvcc):
    source = bitwise_kernel(dtype, lanes=4).get_source("cuda")
    ptx = compile_cuda(source, "sm_80", "ptx").decode()
    assert re.search(rf"\.entry\s+bits_{dtype}_kernel0", ptx)
    assert re.search(r"\b(shr|shl)\.b?[su]?\d+", ptx)


@pytest.mark.gpu
def test_kernels_on_the_gpu_equal_numpy(gpu, monkeypatch):
    monkeypatch.delenv("TL_CUDA_EMULATE", raising=False)
    for dtype in INT_TYPES:
        mod = bitwise_kernel(dtype, lanes=4)
        a, s = inputs(dtype)
        out = np.zeros(N, dtype)
        mod(a, s, out)
        np.testing.assert_array_equal(out, expected(a, s), err_msg=dtype)
