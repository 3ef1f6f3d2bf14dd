"""How buffers live in generated code: the context array the caller and the function
share, where allocations go (stack or heap) and how they are aligned, and the binding of a
buffer to its pointer, shape and strides in the function being generated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import llvmlite.ir as ir

from ...tir import expr as E
from ...tir.buffer import Buffer

#: status codes the generated function reports through its context array (a called
#: function that failed: STATUS_CALL_FAILED, with the index of the call in CTX_INDEX)
STATUS_OK, STATUS_OUT_OF_BOUNDS, STATUS_NO_MEMORY, STATUS_CALL_FAILED = 0, 1, 2, 3
#: slots of the context array shared by the caller and the generated code; CTX_CALLBACK
#: holds the address of the function packed calls go through (see packed_calls.py)
CTX_STATUS, CTX_BUFFER, CTX_DIM, CTX_INDEX, CTX_EXTENT, CTX_THREADS, CTX_CALLBACK = range(7)
CTX_SIZE = 8
#: largest constant-size allocation placed on the stack; larger ones use the heap
STACK_ALLOCATION_LIMIT = 64 * 1024
#: alignment of allocated buffers (one cache line, one AVX-512 register)
ALLOCATION_ALIGNMENT = 64


def constant_bytes(buf: Buffer) -> int | None:
    """Bytes a buffer of constant shape and strides spans (None where they are not
    constant)."""
    shape = [s.value if isinstance(s, E.IntImm) else None for s in buf.shape]
    strides = [s.value if isinstance(s, E.IntImm) else None for s in buf.strides]
    if None in shape or None in strides:
        return None
    if any(extent == 0 for extent in shape):
        return 0
    if not strides:
        return math.prod(shape) * buf.dtype.bytes
    return (1 + sum((extent - 1) * stride for extent, stride in zip(shape, strides))) * \
        buf.dtype.bytes


def on_heap(buf: Buffer) -> bool:
    """Whether an allocation of ``buf`` needs the heap: a symbolic size, or a constant one
    above the stack limit."""
    size = constant_bytes(buf)
    return size is None or size > STACK_ALLOCATION_LIMIT


@dataclass
class BufferBinding:
    """Where a buffer lives in the function being generated."""
    buffer: Buffer
    pointer: ir.Value
    shape: list            # i64 registers, for bounds checks
    strides: list          # i64 registers, in elements
    const_strides: list    # Python ints where known, else None
    alignment: int         # bytes the base pointer is known to be aligned to
    buffer_id: int         # index into the module's list of buffer names (error messages)


def known_multiple(expr, multiples: dict) -> int:
    """A positive integer that ``expr`` is known to be a multiple of (0: the value is 0)."""
    if isinstance(expr, E.IntImm):
        return abs(expr.value)
    if isinstance(expr, E.Var):
        return multiples.get(expr, 1)
    if isinstance(expr, E.Mul):
        return known_multiple(expr.a, multiples) * known_multiple(expr.b, multiples)
    if isinstance(expr, (E.Add, E.Sub)):
        return math.gcd(known_multiple(expr.a, multiples), known_multiple(expr.b, multiples))
    if isinstance(expr, E.Cast) and expr.dtype.is_integer:
        return known_multiple(expr.value, multiples)
    if isinstance(expr, E.Broadcast):
        return known_multiple(expr.value, multiples)
    return 1


__all__ = ["ALLOCATION_ALIGNMENT", "BufferBinding", "CTX_BUFFER", "CTX_CALLBACK", "CTX_DIM",
           "CTX_EXTENT", "CTX_INDEX", "CTX_SIZE", "CTX_STATUS", "CTX_THREADS",
           "STACK_ALLOCATION_LIMIT", "STATUS_CALL_FAILED", "STATUS_NO_MEMORY", "STATUS_OK",
           "STATUS_OUT_OF_BOUNDS", "constant_bytes",
           "known_multiple", "on_heap"]
