"""Bitwise operators compiled for the CPU (scalar, vectorized to ``<N x iK>`` operations,
parallel) and run by the loop-IR interpreter: every integer type against numpy, negative
values shifted arithmetically, unsigned ones logically, ``<<`` wrapping."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.tir.interpreter import interpret

INT_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
N = 64


def bitwise_workload(dtype):
    A = te.placeholder((N,), dtype, "A")
    S = te.placeholder((N,), dtype, "S")
    B = te.compute((N,), lambda i: ((A[i] >> S[i]) ^ (A[i] << S[i])) | (~A[i] & 0x35)
                   | ((A[i] & S[i]) >> 1), name="B")
    return A, S, B


def inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    info, bits = np.iinfo(dtype), np.dtype(dtype).itemsize * 8
    a = rng.integers(info.min, info.max, N, dtype=dtype, endpoint=True)
    a[:4] = [info.min, info.max, 0, info.max // 2 + 1]  # edges: sign bit, all ones
    s = rng.integers(0, bits, N).astype(dtype)
    s[:4] = [1, bits - 1, 0, bits - 1]
    return a, s


def expected(a, s):
    dtype = a.dtype
    return (np.right_shift(a, s) ^ np.left_shift(a, s)) | (np.invert(a) & dtype.type(0x35)) \
        | np.right_shift(np.bitwise_and(a, s), dtype.type(1))


def schedules(B):
    plain = te.create_schedule(B)
    vector = te.create_schedule(B)
    outer, inner = vector[B].split(B.op.axis[0], factor=8)
    vector[B].vectorize(inner)
    vector[B].parallel(outer)
    return {"scalar": plain, "vector": vector}


@pytest.mark.parametrize("dtype", INT_TYPES)
def test_interpreter_and_compiled_code_equal_numpy(dtype):
    A, S, B = bitwise_workload(dtype)
    a, s = inputs(dtype)
    want = expected(a, s)
    for name, sch in schedules(B).items():
        func = tl.lower(sch, [A, S, B])
        out = np.zeros(N, dtype)
        interpret(func, a, s, out)
        np.testing.assert_array_equal(out, want, err_msg=f"interpreter, {name}")
        mod = tl.build(sch, [A, S, B], target="llvm")
        out = np.zeros(N, dtype)
        mod(a, s, out)
        np.testing.assert_array_equal(out, want, err_msg=f"llvm, {name}")
        if name == "vector":
            bits = np.dtype(dtype).itemsize * 8
            ir = mod.get_source("ll")
            for instruction in ("ashr" if dtype.startswith("int") else "lshr", "shl", "and",
                                "or", "xor"):
                assert f"{instruction} <8 x i{bits}>" in ir, instruction


def test_signed_and_unsigned_right_shifts_differ():
    n = 4
    for dtype, want in [("int8", [-64, -1, 63, 0]), ("uint8", [64, 127, 63, 0])]:
        A = te.placeholder((n,), dtype, "A")
        B = te.compute((n,), lambda i: A[i] >> 1, name="B")
        mod = tl.build(te.create_schedule(B), [A, B])
        a = np.array([-128, -1, 127, 1], "int8").astype(dtype)
        out = np.zeros(n, dtype)
        mod(a, out)
        np.testing.assert_array_equal(out, np.array(want).astype(dtype))


def test_tvm_style_program_through_the_compat_layer():
    from tensorlang.compat import tvm
    from tensorlang.compat.tvm import te as tvm_te
    n = tvm_te.var("n")
    A = tvm_te.placeholder((n,), name="A", dtype="int32")
    B = tvm_te.compute((n,), lambda i: (A[i] >> 2) & 3, name="B")
    C = tvm_te.compute((n,), lambda i: tvm.tir.bitwise_xor(
        tvm.tir.shift_left(B[i], 4), tvm.tir.bitwise_not(A[i])), name="C")
    s = tvm_te.create_schedule(C.op)
    f = tvm.build(s, [A, C], "llvm")
    a = np.arange(-20, 20, dtype="int32") * 37
    c = tvm.nd.empty((40,), "int32")
    f(a, c)
    np.testing.assert_array_equal(c.numpy(), (((a >> 2) & 3) << 4) ^ ~a)
