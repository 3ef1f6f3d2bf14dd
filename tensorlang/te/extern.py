"""Stages computed by calls of registered functions: ``te.extern`` (TVM's ExternOp).

>>> @tl.register_func("my.addone")
... def addone(x, y):
...     y[...] = x + 1
>>> B = te.extern(A.shape, [A], lambda ins, outs: tir.call_packed("my.addone", ins[0],
...                                                               outs[0]), name="B")

``fcompute(ins, outs)`` receives one buffer per input and per output and returns the
statement that computes the outputs: a ``tir.call_packed`` (or a list of them, run in
order).  The function runs once over whole tensors: it reads all of every input and
writes all of every output, so the stage has no loops to schedule.  The numpy reference
(:mod:`.reference`) evaluates the stage by calling the same registered function.
"""
from __future__ import annotations

import numpy as np

from ..errors import TensorLangTypeError, TensorLangValueError
from ..tir import expr as E
from ..tir import stmt as S
from ..tir.buffer import Buffer, decl_buffer
from ..tir.datatype import dtype as to_dtype
from ..tir.datatype import int32
from ..tir.functor import Mutator
from ..tir.op import mul as op_mul
from ..tir.packed import find_packed_calls, packed_call
from ..tir.registry import call_registered
from ..tir.structural import structural_equal
from .declare import _shape, current_tag
from .graph import Operation, Tensor


class ExternOp(Operation):
    """Outputs computed by ``body``, a statement of packed calls over the placeholder
    buffers ``input_placeholders`` (one per tensor of ``inputs``) and
    ``output_placeholders`` (one per output)."""

    def __init__(self, name: str, tag: str, attrs, inputs, input_placeholders,
                 output_placeholders, body: S.Stmt):
        super().__init__()
        self.name = name
        self.tag = tag
        self.attrs = dict(attrs or {})
        self.inputs: tuple[Tensor, ...] = tuple(inputs)
        self.input_placeholders: tuple[Buffer, ...] = tuple(input_placeholders)
        self.output_placeholders: tuple[Buffer, ...] = tuple(output_placeholders)
        self.body = body
        self.axis: tuple = ()
        self.reduce_axis: tuple = ()
        names = [name] if len(self.output_placeholders) == 1 else \
            [f"{name}.v{k}" for k in range(len(self.output_placeholders))]
        self._outputs = tuple(Tensor(self, k, buf.shape, buf.dtype, names[k])
                              for k, buf in enumerate(self.output_placeholders))

    @property
    def input_tensors(self) -> tuple[Tensor, ...]:
        return self.inputs

    @property
    def is_reduction(self) -> bool:
        return False

    @property
    def called_names(self) -> list[str]:
        """The registered functions the stage calls, in order."""
        return list(dict.fromkeys(packed_call(c)[0] for c in find_packed_calls(self.body)))

    def with_inputs(self, inputs) -> "ExternOp":
        """The same stage reading ``inputs`` instead (tensors of the same shapes and types:
        a schedule's cache_read, cache_write rebuild the tensors a stage reads)."""
        return ExternOp(self.name, self.tag, self.attrs, inputs, self.input_placeholders,
                        self.output_placeholders, self.body)


def is_extern(op) -> bool:
    """Whether ``op`` is a ``te.extern`` operation."""
    return isinstance(op, ExternOp)


# ---------------------------------------------------------------------------------------
# declaring

def extern(shape, inputs, fcompute, name: str = "extern", dtype=None, in_buffers=None,
           out_buffers=None, tag: str = "", attrs=None):
    """Tensors computed by registered functions: ``te.extern((n, m), [A, B], lambda ins,
    outs: tir.call_packed("tvm.contrib.cblas.matmul", ins[0], ins[1], outs[0], False,
    False), name="C")``.

    ``shape`` is one shape or a list of shapes (one output each); ``dtype`` one type or a
    list, by default the inputs' common type.  ``in_buffers`` / ``out_buffers``
    (``tir.decl_buffer``) name the buffers ``fcompute`` receives; they must have the
    tensors' shapes and types.  Returns a tensor, or a list for several outputs."""
    what = f"extern '{name}'"
    if not isinstance(name, str):
        raise TensorLangTypeError(f"te.extern: name must be a string, got {name!r}")
    if not callable(fcompute):
        raise TensorLangTypeError(f"{what}: fcompute must be a function of (ins, outs) "
                                  f"returning tir.call_packed(...); got "
                                  f"{type(fcompute).__name__}")
    shapes = _output_shapes(shape, what)
    inputs = _input_tensors(inputs, what)
    dtypes = _output_dtypes(dtype, inputs, len(shapes), what)
    in_placeholders = _placeholders(in_buffers, [(t.shape, t.dtype, t.op.name) for t in inputs],
                                    "in_buffers", what)
    out_names = [name] if len(shapes) == 1 else [f"{name}.v{k}" for k in range(len(shapes))]
    out_placeholders = _placeholders(out_buffers, list(zip(shapes, dtypes, out_names)),
                                     "out_buffers", what)
    for buf in in_placeholders + out_placeholders:
        if buf.dtype.kind == "bfloat":
            raise TensorLangTypeError(
                f"{what}: buffer '{buf.name}' is bfloat16, which extern stages do not take "
                f"(compiled code holds bfloat16 as bit patterns, the numpy reference as "
                f"float32); cast to float32 around the stage")
    strides = _bind_strides(in_placeholders + out_placeholders, what)
    body = _statement(fcompute(list(in_placeholders), list(out_placeholders)), what)
    if strides:   # calls that pass a declared stride pass its value
        body = _StrideValues(strides).visit(body)
    body = _mark_access(body, in_placeholders, out_placeholders, what)
    op = ExternOp(name, tag or current_tag(), attrs, inputs, in_placeholders,
                  out_placeholders, body)
    return op.output(0) if op.num_outputs == 1 else list(op.outputs)


def _output_shapes(shape, what: str) -> list:
    if isinstance(shape, (int, E.ExprOp)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TensorLangTypeError(f"{what}: shape must be a tuple (or a list of tuples, one "
                                  f"per output), got {shape!r}")
    if not shape or not isinstance(shape[0], (tuple, list)):
        shape = [shape]
    return [_shape(s, what) for s in shape]


def _input_tensors(inputs, what: str) -> list[Tensor]:
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    if not isinstance(inputs, (list, tuple)):
        raise TensorLangTypeError(f"{what}: inputs must be a list of tensors, got {inputs!r}")
    for k, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TensorLangTypeError(f"{what}: inputs[{k}] is {type(t).__name__} {t!r}, "
                                      f"not a tensor")
    return list(inputs)


def _output_dtypes(dtype, inputs, count: int, what: str) -> list:
    if dtype is None:
        kinds = {str(t.dtype) for t in inputs}
        if len(kinds) != 1:
            found = f"inputs of types {sorted(kinds)}" if kinds else "no inputs"
            raise TensorLangTypeError(f"{what}: the output type cannot be inferred from "
                                      f"{found}; pass dtype=")
        return [inputs[0].dtype] * count
    if isinstance(dtype, (list, tuple)):
        if len(dtype) != count:
            raise TensorLangValueError(f"{what}: {len(dtype)} dtype(s) for {count} output(s)")
        return [to_dtype(d) for d in dtype]
    return [to_dtype(dtype)] * count


def _placeholders(given, expected: list, what_arg: str, what: str) -> list[Buffer]:
    if given is None:
        return [decl_buffer(shape, dtype, name) for shape, dtype, name in expected]
    if isinstance(given, Buffer):
        given = [given]
    if not isinstance(given, (list, tuple)) or len(given) != len(expected):
        raise TensorLangValueError(f"{what}: {what_arg} must list {len(expected)} buffer(s), "
                                   f"one per {'input' if what_arg == 'in_buffers' else 'output'}"
                                   f", got {given!r}")
    for k, (buf, (shape, dtype, _)) in enumerate(zip(given, expected)):
        if not isinstance(buf, Buffer):
            raise TensorLangTypeError(f"{what}: {what_arg}[{k}] is {type(buf).__name__}, not "
                                      f"a buffer (tir.decl_buffer)")
        if buf.dtype != dtype or len(buf.shape) != len(shape) or \
                not all(structural_equal(a, b) for a, b in zip(buf.shape, shape)):
            raise TensorLangValueError(
                f"{what}: {what_arg}[{k}] '{buf.name}' is {buf.dtype} of shape "
                f"{tuple(str(d) for d in buf.shape)}, but its tensor is {dtype} of shape "
                f"{tuple(str(d) for d in shape)}")
    return list(given)


class _StrideValues(Mutator):
    """Stride variables replaced by their values in the calls' scalar arguments (the
    buffers passed stay the declared ones: lowering swaps them for the real ones)."""

    def __init__(self, values):
        self.values = values

    def visit_Var(self, node):
        return self.values.get(node, node)

    def visit_BufferArg(self, node):
        return node


def _compact_strides(shape) -> list:
    strides, step = [], E.IntImm(shape[-1].dtype if shape else int32, 1)
    for extent in reversed(shape):
        strides.append(step)
        step = op_mul(step, extent)
    return list(reversed(strides))


def _bind_strides(buffers, what: str) -> dict:
    """The values of the stride variables of ``buffers``: the strides of the compact
    buffers the stage is given.  A constant stride must be the compact one."""
    from ..tir.arith.analyzer import Analyzer
    analyzer, bound = Analyzer(), {}
    for buf in buffers:
        if not buf.strides:
            continue
        for dim, (given, compact) in enumerate(zip(buf.strides, _compact_strides(buf.shape))):
            if isinstance(given, E.Var):
                if given in bound and not analyzer.can_prove_equal(bound[given], compact):
                    raise TensorLangValueError(
                        f"{what}: stride variable '{given.name}' stands for two different "
                        f"strides ('{bound[given]}' and '{compact}')")
                bound[given] = compact
            elif not analyzer.can_prove_equal(given, compact):
                raise TensorLangValueError(
                    f"{what}: buffer '{buf.name}' declares stride {dim} as '{given}', but "
                    f"the tensors given to an extern stage are compact (stride {dim} is "
                    f"'{compact}'); declare the stride as a variable (te.var) or as the "
                    f"compact one")
    return bound


def _statement(result, what: str) -> S.Stmt:
    """The statement of fcompute's result: packed calls, alone or in a list."""
    items = list(result) if isinstance(result, (list, tuple)) else [result]
    stmts = []
    for item in items:
        stmt = S.Evaluate(item) if isinstance(item, E.PrimExpr) else item
        for part in (stmt.seq if isinstance(stmt, S.SeqStmt) else (stmt,)):
            if not (isinstance(part, S.Evaluate) and packed_call(part.value) is not None):
                raise TensorLangTypeError(
                    f"{what}: fcompute must return tir.call_packed(name, ...) (or a list of "
                    f"them), got {type(part).__name__} '{part}'; tensorlang has no IR "
                    f"builder for hand-written loop bodies: compute such a stage with "
                    f"te.compute")
            stmts.append(part)
    if not stmts:
        raise TensorLangTypeError(f"{what}: fcompute returned no call")
    return S.seq(*stmts)


class _MarkAccess(Mutator):
    """Buffer arguments of inputs are read, those of outputs written."""

    def __init__(self, inputs, outputs, what: str):
        self.access = {**{b: "r" for b in inputs}, **{b: "w" for b in outputs}}
        self.passed: set = set()
        self.what = what

    def visit_BufferArg(self, node):
        access = self.access.get(node.buffer)
        if access is None:
            raise TensorLangValueError(
                f"{self.what}: a call is passed the buffer '{node.buffer.name}', which is "
                f"none of the buffers fcompute receives (ins, outs)")
        self.passed.add(node.buffer)
        return node.replace(access=access)


def _mark_access(body, inputs, outputs, what: str) -> S.Stmt:
    marker = _MarkAccess(inputs, outputs, what)
    body = marker.visit(body)
    for k, buf in enumerate(outputs):
        if buf not in marker.passed:
            raise TensorLangValueError(f"{what}: output {k} ('{buf.name}') is passed to no "
                                       f"call, so nothing would compute it")
    return body


# ---------------------------------------------------------------------------------------
# the numpy reference

def evaluate_extern(op: ExternOp, values: dict, scalar) -> list[np.ndarray]:
    """The outputs of ``op``: its registered functions called on numpy arrays, as compiled
    code calls them (read-only views of the inputs, new writable outputs).  ``values``
    maps tensors to arrays, ``scalar(expr)`` evaluates a scalar expression."""
    arrays: dict = {}
    for buf, tensor in zip(op.input_placeholders, op.inputs):
        view = np.asarray(values[tensor]).view()
        view.flags.writeable = False
        arrays[buf] = view
    outputs = []
    for buf in op.output_placeholders:
        shape = tuple(int(scalar(d)) for d in buf.shape)
        arrays[buf] = np.zeros(shape, dtype=buf.dtype.numpy_dtype)
        outputs.append(arrays[buf])
    for call in find_packed_calls(op.body):
        name, args = packed_call(call)
        call_registered(name, [_argument(arg, arrays, scalar) for arg in args])
    return outputs


def _argument(arg, arrays: dict, scalar):
    if isinstance(arg, E.BufferArg):
        return arrays[arg.buffer]
    if isinstance(arg, E.StringImm):
        return arg.value
    value = np.asarray(scalar(arg)).item()
    if arg.dtype.is_bool:
        return bool(value)
    return int(value) if arg.dtype.is_integer else float(value)


__all__ = ["ExternOp", "extern", "is_extern", "evaluate_extern"]
