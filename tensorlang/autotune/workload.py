"""Workload keys: a stable name for "this computation, with these shapes and dtypes".

:func:`canonical_te_text` prints the tensor-expression graph behind some output tensors
with every tensor, axis and variable renamed by position (``op0``, ``i0``, ``r0``, ``n0``),
so two separately built identical computations print alike, whatever their names, in any
process.  :func:`workload_key` is a hash of that text: tuning records are filed under it.

>>> A = te.placeholder((64, 64), name="A")
>>> B = te.compute((64, 64), lambda i, j: A[i, j] * 2.0, name="B")
>>> workload_key(B)            # the same for every identical definition
'3f1c...'
"""
from __future__ import annotations

import dataclasses
import hashlib
import json

from ..errors import TensorLangTypeError, TuneError
from ..te.declare import is_reduce_var
from ..te.extern import ExternOp
from ..te.graph import (ComputeOp, Operation, PlaceholderOp, ScanOp, Tensor, default_parameters,
                         post_order_ops)
from ..tir import expr as E
from ..tir.buffer import Buffer
from ..tir.datatype import DataType

#: hex digits of the sha256 digest kept in a workload key
KEY_LENGTH = 32


def extern_stages(outputs) -> list[ExternOp]:
    """The ``te.extern`` stages the output tensors (or operations) depend on, producers
    first."""
    tensors = [t for t in (outputs if isinstance(outputs, (list, tuple)) else [outputs])
               if isinstance(t, (Tensor, Operation))]
    ops = [t.op if isinstance(t, Tensor) else t for t in tensors]
    return [op for op in post_order_ops(ops) if isinstance(op, ExternOp)]


def has_extern_stage(outputs) -> bool:
    """Whether the output tensors depend on a ``te.extern`` stage."""
    return bool(extern_stages(outputs))


def refuse_extern_stages_on_gpu(outputs, caller: str) -> None:
    """TuneError naming the first ``te.extern`` stage the output tensors depend on: extern
    stages call Python functions on host buffers, so they run on the CPU only."""
    for op in extern_stages(outputs):
        called = ", ".join(f"'{n}'" for n in op.called_names)
        raise TuneError(
            f"{caller}: stage '{op.name}' is an extern stage (te.extern calling {called}), "
            f"which runs on the CPU only: tune it for target='llvm', or tune the stages "
            f"around '{op.name}' for 'cuda' as workloads of their own (with a "
            f"te.placeholder in place of '{op.name}')")


def output_tensors(outputs, caller: str = "workload_key",
                   error: type = TensorLangTypeError) -> list[Tensor]:
    """The output tensors named by a tensor, an operation or a list of them; anything
    else raises ``error`` naming ``caller``."""
    items = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    tensors: list[Tensor] = []
    for item in items:
        if isinstance(item, Tensor):
            tensors.append(item)
        elif isinstance(item, Operation):
            tensors.extend(item.outputs)
        else:
            raise error(
                f"{caller}: expected output tensors (te.compute results), got "
                f"{type(item).__name__} {item!r}")
    if not tensors:
        raise error(f"{caller}: give at least one output tensor")
    return tensors


def refuse_scans(ops, caller: str) -> None:
    """TuneError naming the first ``te.scan`` among ``ops``: the GPU search space derives
    its rules from te.compute stages, and has none that keeps a scan's time loop serial
    with the stages of its steps inside it (a template may schedule a scan by hand; the
    CPU space keeps a scan as written and schedules the stages around it)."""
    for op in ops:
        if isinstance(op, ScanOp):
            updates = ", ".join(f"'{t.name}'" for t in op.update)
            raise TuneError(
                f"{caller}: stage '{op.name}' is a te.scan (a recurrence over time), which "
                f"the GPU search space does not schedule: schedule it by hand (split, "
                f"vectorize, parallelize or bind the axes of its update {updates} after "
                f"the time axis), or tune it with a template (@tl.autotune.template)")


class _CanonicalPrinter:
    """Prints te expressions with positional names instead of the user's."""

    def __init__(self, shape_vars: dict | None):
        self.op_names: dict[int, str] = {}
        self.var_names: dict[int, str] = {}
        self.free_vars = 0
        self.buffer_names: dict[int, str] = {}
        self.shape_values: dict[int, int] = {}
        self.shape_names: dict[str, int] = {}
        for var, value in (shape_vars or {}).items():
            if isinstance(var, str):
                self.shape_names[var] = int(value)
            elif isinstance(var, E.Var):
                self.shape_values[id(var)] = int(value)
            else:
                raise TensorLangTypeError(
                    f"workload_key: shape_vars keys must be te.var objects or their names, "
                    f"got {var!r}")

    def var(self, v: E.Var) -> str:
        name = self.var_names.get(id(v))
        if name is not None:
            return name
        value = self.shape_values.get(id(v), self.shape_names.get(v.name))
        if value is not None:
            return f"{value}:{v.dtype}"
        # A variable nobody bound: a symbolic dimension or scalar parameter, named by the
        # order in which the printout meets it.
        name = f"u{len(self.var_names)}" if is_reduce_var(v) else f"n{self.free_vars}"
        self.free_vars += not is_reduce_var(v)
        self.var_names[id(v)] = name
        return name

    def tensor(self, t: Tensor) -> str:
        return f"{self.op_names[id(t.op)]}.{t.value_index}"

    def fmt(self, node) -> str:  # noqa: C901 - one case per kind of value
        if isinstance(node, E.Var):
            return self.var(node)
        if isinstance(node, E.IntImm):
            return f"{node.value}:{node.dtype}"
        if isinstance(node, E.FloatImm):
            return f"{float(node.value)!r}:{node.dtype}"
        if isinstance(node, E.StringImm):
            return json.dumps(node.value)
        if isinstance(node, E.ProducerLoad):
            return f"{self.tensor(node.producer)}[{', '.join(self.fmt(i) for i in node.indices)}]"
        if isinstance(node, E.IterVar):
            dom = "" if node.dom is None else \
                f"[{self.fmt(node.dom.min)}, +{self.fmt(node.dom.extent)})"
            return f"{self.var(node.var)}{dom}:{node.iter_type}{node.thread_tag}"
        if isinstance(node, E.CommReducer):
            for k, (x, y) in enumerate(zip(node.lhs, node.rhs)):
                self.var_names[id(x)] = f"x{k}"
                self.var_names[id(y)] = f"y{k}"
            return (f"reducer(({self.fmt(node.lhs)}), ({self.fmt(node.rhs)}) -> "
                    f"{self.fmt(node.result)}, identity {self.fmt(node.identity)})")
        if isinstance(node, tuple):
            return "(" + ", ".join(self.fmt(item) for item in node) + ")"
        if isinstance(node, Buffer):  # an extern stage's: by position, not by name
            return f"{self.buffer_names.get(id(node), 'buffer')}({self.fmt(node.shape)}, " \
                   f"{node.dtype}, strides={self.fmt(node.strides)})"
        if isinstance(node, DataType):
            return str(node)
        if isinstance(node, E.Node) and dataclasses.is_dataclass(node):
            fields = [self.fmt(getattr(node, f.name)) for f in dataclasses.fields(node)]
            return f"{type(node).__name__}({', '.join(fields)})"
        if node is None or isinstance(node, (bool, int, float, str)):
            return repr(node)
        raise TensorLangTypeError(
            f"workload_key: cannot describe {type(node).__name__} {node!r} in a workload")

    def op(self, op: Operation, index: int) -> str:
        name = f"op{index}"
        self.op_names[id(op)] = name
        if isinstance(op, PlaceholderOp):
            return f"{name} = placeholder({self.fmt(op.shape)}, {op.dtype})"
        if isinstance(op, ScanOp):
            self.var_names[id(op.scan_axis.var)] = "t"
            groups = [", ".join(self.tensor(t) for t in tensors)
                      for tensors in (op.init, op.update, op.state_placeholder)]
            return f"{name} = scan(axis={self.fmt(op.scan_axis)}, init=({groups[0]}), " \
                   f"update=({groups[1]}), state=({groups[2]}))"
        if isinstance(op, ExternOp):
            # the functions called are named by the names they are registered under
            for prefix, buffers in (("in", op.input_placeholders),
                                    ("out", op.output_placeholders)):
                for k, buf in enumerate(buffers):
                    self.buffer_names[id(buf)] = f"{prefix}{k}"
            inputs = ", ".join(self.tensor(t) for t in op.inputs)
            outputs = ", ".join(self.fmt(buf) for buf in op.output_placeholders)
            return f"{name} = extern(inputs=({inputs}), outputs=({outputs}), " \
                   f"body={self.fmt(op.body)})"
        if not isinstance(op, ComputeOp):
            raise TensorLangTypeError(
                f"workload_key: operation '{op.name}' is a {type(op).__name__}; only "
                f"placeholders, te.compute, te.scan and te.extern operations make "
                f"workloads")
        for k, iv in enumerate(op.axis):
            self.var_names[id(iv.var)] = f"i{k}"
        for k, iv in enumerate(op.own_reduce_axis):
            self.var_names[id(iv.var)] = f"r{k}"
        axis = self.fmt(op.axis)
        reduce_axis = self.fmt(op.own_reduce_axis)
        body = self.fmt(op.body)
        return f"{name} = compute(axis={axis}, reduce_axis={reduce_axis}, tag={op.tag!r}, " \
               f"body={body})"


def canonical_te_text(outputs, shape_vars: dict | None = None) -> str:
    """The computation behind ``outputs`` as text with positional names.

    ``shape_vars`` maps symbolic dimensions (``te.var`` objects or their names) to the
    sizes they stand for, which then print as constants."""
    tensors = output_tensors(outputs)
    printer = _CanonicalPrinter(shape_vars)
    ops = post_order_ops([t.op for t in tensors])
    lines = [printer.op(op, k) for k, op in enumerate(ops)]
    lines.append("outputs " + ", ".join(printer.tensor(t) for t in tensors))
    return "\n".join(lines)


def workload_key(outputs, shape_vars: dict | None = None) -> str:
    """Structural hash (hex) of the computation, shapes and dtypes behind ``outputs``:
    equal for identical definitions in any process, different when a shape, a dtype or
    the arithmetic differs.  Names of tensors and axes do not matter."""
    text = canonical_te_text(outputs, shape_vars)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def workload_description(outputs, shape_vars: dict | None = None) -> dict:
    """A readable, JSON-serialisable summary of a workload for tuning records."""
    tensors = output_tensors(outputs)
    printer = _CanonicalPrinter(shape_vars)

    def dims(shape):
        out = []
        for s in shape:
            if isinstance(s, E.IntImm):
                out.append(s.value)
            else:
                text = printer.fmt(s)
                head = text.split(":")[0]
                out.append(int(head) if head.lstrip("-").isdigit() else str(s))
        return out

    ops = post_order_ops([t.op for t in tensors])
    return {
        "name": "+".join(t.op.name for t in tensors),
        "inputs": [{"name": op.name, "shape": dims(op.shape), "dtype": str(op.dtype)}
                   for op in ops if isinstance(op, PlaceholderOp)],
        "outputs": [{"name": t.name, "shape": dims(t.shape), "dtype": str(t.dtype)}
                    for t in tensors],
    }


# -- parameter order --------------------------------------------------------------------------

def parameter_list(outputs, params=None, caller: str = "autotune",
                   error: type = TensorLangTypeError) -> list[Tensor]:
    """The parameters of a module computing ``outputs``, in order: ``params`` when given
    (checked to be every placeholder the outputs read and every output, each once),
    else the default order (:func:`~tensorlang.te.graph.default_parameters`: the
    placeholders in the order they were created, then the outputs)."""
    outputs = output_tensors(outputs, caller, error)
    default = default_parameters(outputs)
    if params is None:
        return default
    if isinstance(params, Tensor) or not isinstance(params, (list, tuple)):
        raise error(f"{caller}: params must be a list of tensors, e.g. params=[A, B, C], "
                    f"got {params!r}")
    given: list[Tensor] = []
    for item in params:
        if not isinstance(item, Tensor):
            raise error(f"{caller}: params lists the tensors of the module in order; "
                        f"{item!r} is a {type(item).__name__}, not a tensor")
        if not any(item is t for t in default):
            raise error(f"{caller}: params names tensor '{item.name}', which is neither a "
                        f"placeholder read by {', '.join(t.name for t in outputs)} nor an "
                        f"output; list exactly {[t.name for t in default]} in any order")
        if any(item is t for t in given):
            raise error(f"{caller}: params names tensor '{item.name}' twice")
        given.append(item)
    missing = [t.name for t in default if not any(t is g for g in given)]
    if missing:
        raise error(f"{caller}: params lacks the tensor(s) {missing}; list exactly "
                    f"{[t.name for t in default]} in any order")
    return given


def _positions(outputs) -> dict:
    ops = post_order_ops([t.op for t in output_tensors(outputs)])
    return {id(op): k for k, op in enumerate(ops)}, ops


def parameter_refs(outputs, params) -> list[str]:
    """``params`` as positional names (``"op1.0"``, as :func:`canonical_te_text` names
    tensors): the parameter order a tuning record keeps, valid in any process that
    declares the same computation."""
    positions, _ = _positions(outputs)
    return [f"op{positions[id(t.op)]}.{t.value_index}" for t in params]


def resolve_parameter_refs(outputs, refs) -> list[Tensor]:
    """The tensors of ``outputs``' computation named by :func:`parameter_refs`;
    ``ValueError`` where ``refs`` does not name a parameter list of it."""
    _, ops = _positions(outputs)
    if not isinstance(refs, list):
        raise ValueError(f"parameter order {refs!r} is not a list")
    tensors = []
    for ref in refs:
        head, _, index = str(ref).partition(".")
        if not (head.startswith("op") and head[2:].isdigit() and index.isdigit()) or \
                int(head[2:]) >= len(ops) or int(index) >= ops[int(head[2:])].num_outputs:
            raise ValueError(f"parameter {ref!r} names no tensor of the workload")
        tensors.append(ops[int(head[2:])].output(int(index)))
    parameter_list(outputs, tensors, error=ValueError)
    return tensors
