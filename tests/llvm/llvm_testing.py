"""Small builders of hand-written TIR for the llvm backend tests."""
from __future__ import annotations

import numpy as np

from tensorlang import tir
from tensorlang.tir import stmt as S
from tensorlang.tir.buffer import decl_buffer
from tensorlang.target.llvm import build

SERIAL, PARALLEL = S.ForKind.SERIAL, S.ForKind.PARALLEL
VECTORIZED, UNROLLED = S.ForKind.VECTORIZED, S.ForKind.UNROLLED


def buffer(name, shape, dtype="float32", scope="global"):
    return decl_buffer(shape, dtype, name, scope)


def loop(var, extent, body, kind=SERIAL, start=0):
    return S.For(var, tir.const(start) if isinstance(start, int) else start,
                 tir.const(extent) if isinstance(extent, int) else extent, kind, body)


def store(buf, value, *indices):
    return S.BufferStore(buf, tir.convert(value), tuple(tir.convert(i) for i in indices))


def func(name, params, body):
    return S.PrimFunc(name, tuple(params), body)


def saxpy():
    """``Out[i] = alpha * X[i] + Y[i]`` over a symbolic ``n``, as a parallel loop."""
    n = tir.var("n")
    alpha = tir.var("alpha", "float32")
    X, Y, Out = buffer("X", (n,)), buffer("Y", (n,)), buffer("Out", (n,))
    i = tir.var("i")
    return func("saxpy", [X, Y, Out, alpha],
                loop(i, n, store(Out, alpha * X[i] + Y[i], i), PARALLEL))


def compile_and_run(f, *args, **options):
    """Build ``f`` (no cache unless asked) and call it on ``args``; returns the module."""
    options.setdefault("use_cache", False)
    mod = build(f, "llvm", **options)
    mod(*args)
    return mod


def elementwise(name, dtype_in, dtype_out, fn, n=37, inputs=1, kind=SERIAL):
    """``Out[i] = fn(In0[i], In1[i], ...)`` over n elements."""
    ins = [buffer(f"In{k}", (n,), dtype_in) for k in range(inputs)]
    out = buffer("Out", (n,), dtype_out)
    i = tir.var("i")
    body = loop(i, n, store(out, fn(*[b[i] for b in ins]), i), kind)
    return func(name, ins + [out], body)


def random_array(shape, dtype, rng, low=-100, high=100):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, low), min(info.max, high) + 1, size=shape,
                            dtype=dtype)
    return (rng.random(shape) * (high - low) + low).astype(dtype)


def to_bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """Round to bfloat16 (nearest, ties to even) as 16-bit patterns, computed with
    integer arithmetic on the float32 bits."""
    bits = values.astype("float32").view("uint32").astype("uint64")
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("uint16")


def from_bfloat16_bits(bits: np.ndarray) -> np.ndarray:
    return (bits.astype("uint32") << 16).view("float32")
