"""Code generation of packed calls (``tir.call_packed``): the arguments as int64 words in
a stack array, then a call of the trampoline whose address the context holds (see
:mod:`.packed_calls` for the convention and the Python side).  Each call site gets an
index into the signature's ``packed_calls``, which says how to read its words."""
from __future__ import annotations

import llvmlite.ir as ir

from ...errors import BuildError, InternalError
from ...tir import expr as E
from ...tir.datatype import DataType
from ...tir.packed import packed_call
from .buffers import CTX_CALLBACK
from .types import I32, I64, PTR

#: ``int32 callback(int64* context, int64 call_index, int64* values)``
CALLBACK_FUNCTION = ir.FunctionType(I32, [PTR, I64, PTR])
_FLOAT64 = DataType("float", 64)


class PackedCallCodeGen:
    """Mixin of the llvm code generator: ``Evaluate(call_packed(...))`` statements."""

    def emit_packed_call(self, call: E.Call) -> None:
        name, args = packed_call(call)
        if self.in_parallel:
            raise BuildError(
                f"the call of '{name}' (tir.call_packed) is inside a parallel loop; compiled "
                f"code calls Python functions from one thread only: run that loop serially "
                f"or move the call out of it")
        b_ = self.builder
        specs, words = [], []
        for arg in args:
            if isinstance(arg, E.BufferArg):
                binding = self.buffers.get(arg.buffer)
                if binding is None:
                    raise InternalError(f"buffer '{arg.buffer.name}' is passed to '{name}' "
                                        f"outside its allocation")
                buf = arg.buffer
                specs.append({"kind": "buffer", "name": buf.name,
                              "numpy_dtype": buf.dtype.numpy_dtype.name,
                              "ndim": len(buf.shape), "writes": arg.writes})
                words.append(b_.ptrtoint(binding.pointer, I64))
                words.extend(binding.shape)
                words.extend(binding.strides)
            elif isinstance(arg, E.StringImm):
                specs.append({"kind": "str", "value": arg.value})
            else:
                kind, word = self._packed_scalar(arg)
                specs.append({"kind": kind, "dtype": str(arg.dtype)})
                words.append(word)
        index = len(self.signature.packed_calls)
        self.signature.packed_calls.append({"name": name, "args": specs})
        values = self.entry_alloca(ir.ArrayType(I64, max(len(words), 1)), 8)
        for k, word in enumerate(words):
            b_.store(word, b_.gep(values, [ir.Constant(I64, k)], source_etype=I64))
        slot = b_.gep(self.ctx_pointer, [ir.Constant(I64, CTX_CALLBACK)], source_etype=I64)
        callback = b_.inttoptr(b_.load(slot, typ=I64), CALLBACK_FUNCTION.as_pointer())
        b_.call(callback, [self.ctx_pointer, ir.Constant(I64, index), values])

    def _packed_scalar(self, arg) -> tuple[str, ir.Value]:
        """The kind of a scalar argument and its int64 word."""
        if arg.dtype.lanes != 1:
            raise BuildError(f"a packed call is passed the vector '{arg}'; pass scalars")
        value = self.visit(arg)
        b_ = self.builder
        if arg.dtype.is_bool:
            return "bool", b_.zext(self.truth(value, arg.dtype), I64)
        if arg.dtype.is_integer:
            return "int", self.convert_index(value, arg.dtype, I64)
        return "float", b_.bitcast(self.convert(value, arg.dtype, _FLOAT64), I64)


__all__ = ["CALLBACK_FUNCTION", "PackedCallCodeGen"]
