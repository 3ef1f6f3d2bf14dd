"""Calls from compiled code into registered Python functions (``tir.call_packed``).

Generated code reaches Python through one C-callable trampoline, whose address the caller
puts in the context array (``CTX_CALLBACK``)::

    int32 callback(int64* context, int64 call_index, int64* values)

``values`` holds the call's arguments as int64 words: per buffer its address, then its
shape and its strides (in elements); per number its value (a float as the bits of a
double).  The module's signature lists, per call index, the name called and how to read
each word (:class:`PackedCall`).  The trampoline (a ctypes callback, which takes the GIL)
wraps each buffer as a numpy array over the same memory, without copying -- outputs
writable, inputs read-only -- and calls the function registered under the name, looked up
at each call.  A failure (a name not registered, an exception) is recorded in the
context with status ``STATUS_CALL_FAILED`` and the exception kept for the caller of the
module, who raises it; calls after a failure are skipped.

The arrays are views of the compiled function's memory: valid during the call only.
"""
from __future__ import annotations

import contextlib
import ctypes
import struct

import numpy as np

from ...tir.registry import call_registered
from .buffers import CTX_CALLBACK, CTX_INDEX, CTX_SIZE, CTX_STATUS, STATUS_CALL_FAILED

#: the C type of the trampoline
CALLBACK_TYPE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64,
                                 ctypes.c_void_p)


class PackedCall:
    """One call site: the name called and the readers of its argument words."""

    def __init__(self, spec: dict):
        self.name = spec["name"]
        self.args = spec["args"]
        self.width = sum(1 + 2 * arg["ndim"] if arg["kind"] == "buffer" else
                         0 if arg["kind"] == "str" else 1 for arg in self.args)

    def arguments(self, address: int) -> list:
        """The Python arguments from the words at ``address``."""
        words = (ctypes.c_int64 * max(self.width, 1)).from_address(address)
        values, position = [], 0
        for arg in self.args:
            kind = arg["kind"]
            if kind == "buffer":
                ndim = arg["ndim"]
                shape = tuple(words[position + 1:position + 1 + ndim])
                strides = tuple(words[position + 1 + ndim:position + 1 + 2 * ndim])
                values.append(array_at(words[position], shape, strides,
                                       np.dtype(arg["numpy_dtype"]), arg["writes"]))
                position += 1 + 2 * ndim
            elif kind == "str":
                values.append(arg["value"])
            else:
                values.append(_scalar(words[position], kind, arg["dtype"]))
                position += 1
        return values


def _scalar(word: int, kind: str, dtype: str):
    if kind == "bool":
        return bool(word)
    if kind == "float":
        return struct.unpack("<d", struct.pack("<q", word))[0]
    if dtype == "uint64":
        return word & 0xFFFF_FFFF_FFFF_FFFF
    return int(word)


def array_at(address: int, shape: tuple, strides: tuple, dtype: np.dtype,
             writable: bool) -> np.ndarray:
    """A numpy array over the memory at ``address`` (strides in elements, none negative),
    without copying it."""
    if any(extent == 0 for extent in shape) or not address:
        return np.empty(shape, dtype)
    span = 1 + sum((extent - 1) * stride for extent, stride in zip(shape, strides))
    memory = (ctypes.c_char * (span * dtype.itemsize)).from_address(address)
    flat = np.frombuffer(memory, dtype=dtype, count=span)
    array = np.lib.stride_tricks.as_strided(
        flat, shape, tuple(stride * dtype.itemsize for stride in strides), writeable=writable)
    if not writable:
        array.flags.writeable = False
    return array


class CallState:
    """The packed calls of one call of a module: the call sites, and the exception of
    the call that failed."""

    def __init__(self, calls: list[PackedCall]):
        self.calls = calls
        self.error: BaseException | None = None


#: context address -> the state of the module call that owns it (calls in progress)
_ACTIVE: dict[int, CallState] = {}


def _trampoline(context_address, index, values_address) -> int:
    context = (ctypes.c_int64 * CTX_SIZE).from_address(context_address)
    state = _ACTIVE.get(context_address)
    if state is None or context[CTX_STATUS]:
        return 1   # an earlier call failed: the rest are skipped
    try:
        call = state.calls[index]
        call_registered(call.name, call.arguments(values_address))
    except BaseException as error:  # noqa: BLE001 - raised again by the module's caller
        state.error = error
        context[CTX_STATUS] = STATUS_CALL_FAILED
        context[CTX_INDEX] = index
        return 1
    return 0


_CALLBACK = CALLBACK_TYPE(_trampoline)
_CALLBACK_ADDRESS = ctypes.cast(_CALLBACK, ctypes.c_void_p).value


def prepare(specs: list[dict]) -> list[PackedCall]:
    """The call sites of a signature's ``packed_calls``."""
    return [PackedCall(spec) for spec in specs]


@contextlib.contextmanager
def calls_enabled(context, calls: list[PackedCall]):
    """Let the compiled function called with ``context`` (a ctypes int64 array) make its
    packed calls; yields the :class:`CallState` that keeps a failed call's exception."""
    address = ctypes.addressof(context)
    state = CallState(calls)
    context[CTX_CALLBACK] = _CALLBACK_ADDRESS
    _ACTIVE[address] = state
    try:
        yield state
    finally:
        del _ACTIVE[address]


__all__ = ["CALLBACK_TYPE", "CallState", "PackedCall", "array_at", "calls_enabled", "prepare"]
