"""The tensor-expression graph: tensors, the operations that produce them, and walks over
it (the inputs an expression reads, every operation outputs depend on)."""
from __future__ import annotations

import itertools

from ..errors import TensorLangTypeError
from ..tir import expr as E
from ..tir.datatype import DataType
from ..tir.functor import Visitor
from ..tir.op import const, convert


#: Python operator ("+", "r+", ..., "neg") -> the builder of a broadcast element-wise
#: tensor, set by :mod:`tensorlang.te.broadcast` (built on this module)
TENSOR_OPERATORS: dict = {}


class Tensor:
    """The ``value_index``-th output of operation ``op``: ``A[i, j]`` reads an element.

    ``A + B``, ``A - 1``, ``2 * A``, ``A / B`` and ``-A`` make new tensors, broadcasting
    shapes as numpy does (:mod:`tensorlang.te.broadcast`); ``==`` is identity, so tensors
    serve as dict keys."""

    __slots__ = ("op", "value_index", "shape", "dtype", "name")
    #: expressions leave their arithmetic with a tensor to the tensor (``n + A``)
    tensor_operand = True

    def __init__(self, op: "Operation", value_index: int, shape, dtype: DataType, name: str):
        self.op = op
        self.value_index = value_index
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, indices) -> E.PrimExpr:
        if not isinstance(indices, tuple):
            indices = (indices,)
        if 0 < len(indices) < len(self.shape) and \
                not any(isinstance(i, slice) for i in indices):
            return PartialIndex(self, indices)   # A[i][j], TVM's chained indexing
        if any(isinstance(i, slice) for i in indices):
            raise TensorLangTypeError(
                f"tensor '{self.name}' cannot be sliced in an expression; index every "
                f"dimension with an expression")
        if len(indices) != len(self.shape):
            raise TensorLangTypeError(
                f"tensor '{self.name}' has {len(self.shape)} dimension(s) "
                f"(shape {tuple(str(s) for s in self.shape)}) but is indexed with "
                f"{len(indices)} index(es)")
        converted = []
        for pos, idx in enumerate(indices):
            try:
                idx = convert(idx)
            except TensorLangTypeError:
                raise TensorLangTypeError(
                    f"tensor '{self.name}': index {pos} is {idx!r}, which is not an "
                    f"integer expression") from None
            if not idx.dtype.is_integer or idx.dtype.lanes != 1:
                raise TensorLangTypeError(
                    f"tensor '{self.name}' indexed with '{idx}' of type {idx.dtype} at "
                    f"position {pos}; indices must be integer expressions (cast with "
                    f".astype(\"int32\"))")
            converted.append(idx)
        return E.ProducerLoad(self, tuple(converted), self.dtype)

    def __call__(self, *indices) -> E.PrimExpr:
        """``A(i, j)`` is ``A[i, j]`` (the TVM spelling)."""
        return self[indices]

    def __repr__(self) -> str:
        shape = ", ".join(str(s) for s in self.shape)
        return f"Tensor(name={self.name}, shape=({shape}), dtype={self.dtype})"

    def __bool__(self) -> bool:
        return True

    def __add__(self, other): return TENSOR_OPERATORS["+"](self, other)
    def __radd__(self, other): return TENSOR_OPERATORS["r+"](self, other)
    def __sub__(self, other): return TENSOR_OPERATORS["-"](self, other)
    def __rsub__(self, other): return TENSOR_OPERATORS["r-"](self, other)
    def __mul__(self, other): return TENSOR_OPERATORS["*"](self, other)
    def __rmul__(self, other): return TENSOR_OPERATORS["r*"](self, other)
    def __truediv__(self, other): return TENSOR_OPERATORS["/"](self, other)
    def __rtruediv__(self, other): return TENSOR_OPERATORS["r/"](self, other)
    def __neg__(self): return TENSOR_OPERATORS["neg"](self)

    def __iter__(self):
        raise TensorLangTypeError(f"tensor '{self.name}' is not iterable; index it with "
                                  f"expressions")

    def __len__(self):
        raise TensorLangTypeError(f"tensor '{self.name}' has no len(); use .shape")



class PartialIndex:
    """``A[i]`` of a tensor with more dimensions: indexing it again (``A[i][j]``) adds
    indices until every dimension has one; it is not an expression itself."""

    def __init__(self, tensor: "Tensor", indices: tuple):
        self.tensor, self.indices = tensor, indices

    def __getitem__(self, indices):
        if not isinstance(indices, tuple):
            indices = (indices,)
        return self.tensor[self.indices + indices]

    def __repr__(self) -> str:
        return f"{self.tensor.name}[{', '.join(str(i) for i in self.indices)}]"

    def _as_expr(self):
        t = self.tensor
        raise TensorLangTypeError(
            f"tensor '{t.name}' has {len(t.shape)} dimension(s) (shape "
            f"{tuple(str(s) for s in t.shape)}) but is indexed with {len(self.indices)} "
            f"index(es); index every dimension: {t.name}[i, j] or {t.name}[i][j]")

    def _refuse(self, *unused):
        return self._as_expr()


for _name in ("add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv",
              "floordiv", "rfloordiv", "mod", "rmod", "pow", "rpow", "neg", "lt", "le", "gt",
              "ge", "and", "rand", "or", "ror", "invert", "bool"):
    setattr(PartialIndex, f"__{_name}__", PartialIndex._refuse)

class Operation:
    """Produces one or more tensors."""

    name: str
    tag: str = ""
    attrs: dict

    def __init__(self):
        self._outputs: tuple[Tensor, ...] = ()

    @property
    def num_outputs(self) -> int:
        return len(self._outputs)

    def output(self, index: int) -> Tensor:
        return self._outputs[index]

    @property
    def outputs(self) -> tuple[Tensor, ...]:
        return self._outputs

    @property
    def input_tensors(self) -> tuple[Tensor, ...]:
        return ()

    @property
    def own_reduce_axis(self) -> tuple:
        """The reduction axes this operation loops over itself (the compiler's view;
        ``reduce_axis`` is the user's, see :class:`ComputeOp`)."""
        return self.reduce_axis

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


#: numbers placeholders in the order they are created (see :func:`default_parameters`)
_PLACEHOLDER_SERIALS = itertools.count()


class PlaceholderOp(Operation):
    """An input tensor of the computation.  ``serial`` numbers placeholders in the order
    the user created them, which is the default parameter order of a module."""

    def __init__(self, name: str, shape, dtype: DataType):
        super().__init__()
        self.serial = next(_PLACEHOLDER_SERIALS)
        self.name = name
        self.tag = ""
        self.attrs = {}
        self.shape = tuple(shape)
        self.dtype = dtype
        self._outputs = (Tensor(self, 0, self.shape, dtype, name),)
        self.axis: tuple = ()
        self.reduce_axis: tuple = ()


class ComputeOp(Operation):
    """``out[axis] = body`` for every point of the spatial ``axis``; ``body`` holds one
    expression per output (Reduce nodes for reductions over ``reduce_axis``)."""

    def __init__(self, name: str, tag: str, attrs: dict, axis, body, output_names=None):
        super().__init__()
        self.name = name
        self.tag = tag
        self.attrs = dict(attrs or {})
        self.axis: tuple[E.IterVar, ...] = tuple(axis)
        self.body: tuple[E.PrimExpr, ...] = tuple(body)
        first = self.body[0]
        self._reduce_axis: tuple[E.IterVar, ...] = \
            tuple(first.axis) if isinstance(first, E.Reduce) else ()
        shape = tuple(iv.dom.extent for iv in self.axis)
        if output_names is None:
            output_names = [name] if len(self.body) == 1 else \
                [f"{name}.v{k}" for k in range(len(self.body))]
        self._outputs = tuple(Tensor(self, k, shape, b.dtype, output_names[k])
                              for k, b in enumerate(self.body))
        self._inputs: tuple[Tensor, ...] | None = None
        #: the operations of reductions written inside a larger expression of this one
        #: (``te.sum(...) / n``), each a stage ``<name>_red`` of its own
        self.hidden_reductions: tuple[Operation, ...] = ()

    @property
    def own_reduce_axis(self) -> tuple[E.IterVar, ...]:
        """The reduction axes of this operation's own loops (empty where its reductions
        sit inside a larger expression: their stages loop over them)."""
        return self._reduce_axis

    @property
    def reduce_axis(self) -> tuple[E.IterVar, ...]:
        """The reduction axes: ``S.op.reduce_axis[0]``.  For ``te.sum(...) / n`` they are
        the axes of the reduction's own stage ``S_red`` (:attr:`hidden_reductions`),
        scheduled there: ``s[S.op.hidden_reductions[0]].split(S.op.reduce_axis[0], 4)``
        (``s[S].split`` of one says so)."""
        if self._reduce_axis or not self.hidden_reductions:
            return self._reduce_axis
        found: list = []
        for op in self.hidden_reductions:
            found.extend(iv for iv in op.own_reduce_axis if not any(iv is f for f in found))
        return tuple(found)

    @property
    def is_reduction(self) -> bool:
        return bool(self._reduce_axis)

    @property
    def input_tensors(self) -> tuple[Tensor, ...]:
        if self._inputs is None:
            self._inputs = tuple(collect_input_tensors(self.body))
        return self._inputs


class ScanOp(Operation):
    """A recurrence over time (TVM's ``te.scan``, declared with :func:`te.scan
    <tensorlang.te.scan.scan>`).

    Output ``k`` has the shape of ``state_placeholder[k]``, whose first dimension is time.
    Its first ``init[k].shape[0]`` steps are ``init[k]``; every later step ``t`` (the
    ``scan_axis``) is ``update[k]`` at ``t``, which reads the steps before ``t`` through
    ``state_placeholder[k]``.  One buffer holds all of it: the init and the update write
    into the scan's output and the state placeholder reads from it.

    The *body* of the scan (:attr:`body_ops`) is what is computed at each step: the update
    operations and every operation between them and the states.  ``spatial_axis`` holds
    the non-time dimensions of each state (opaque: the scan stage has the scan axis as its
    only loop, as in TVM)."""

    def __init__(self, name: str, tag: str, attrs: dict, scan_axis: E.IterVar, init,
                 update, state_placeholder, inputs=(), spatial_axis=None):
        super().__init__()
        self.name = name
        self.tag = tag
        self.attrs = dict(attrs or {})
        self.scan_axis = scan_axis
        self.init: tuple[Tensor, ...] = tuple(init)
        self.update: tuple[Tensor, ...] = tuple(update)
        self.state_placeholder: tuple[Tensor, ...] = tuple(state_placeholder)
        self.inputs: tuple[Tensor, ...] = tuple(inputs)
        if spatial_axis is None:
            spatial_axis = tuple(
                E.IterVar(E.Var(f"{name}.out{k}.i{d}", dim.dtype),
                          E.Range(const(0, dim.dtype), dim), E.OPAQUE)
                for k, state in enumerate(self.state_placeholder)
                for d, dim in enumerate(state.shape) if d > 0)
        self.spatial_axis: tuple[E.IterVar, ...] = tuple(spatial_axis)
        #: no spatial loops of its own: the scan stage loops over ``scan_axis`` only
        self.axis: tuple = ()
        self.reduce_axis: tuple = ()
        names = [name] if len(self.update) == 1 else \
            [f"{name}.v{k}" for k in range(len(self.update))]
        self._outputs = tuple(Tensor(self, k, state.shape, upd.dtype, names[k])
                              for k, (state, upd) in
                              enumerate(zip(self.state_placeholder, self.update)))
        self._body: tuple[Operation, ...] | None = None

    @property
    def input_tensors(self) -> tuple[Tensor, ...]:
        """The init and update tensors (as TVM's): the states are read through them."""
        return self.init + self.update

    @property
    def init_steps(self) -> E.PrimExpr:
        """The number of time steps the init gives (``init[0].shape[0]``)."""
        return self.scan_axis.dom.min

    @property
    def time_extent(self) -> E.PrimExpr:
        """The number of time steps in all (``state_placeholder[0].shape[0]``)."""
        return self.state_placeholder[0].shape[0]

    @property
    def body_ops(self) -> tuple[Operation, ...]:
        """The operations computed at each step, producers first: those the updates
        depend on that read a state, directly or through others (the updates included)."""
        if self._body is None:
            states = {id(t.op) for t in self.state_placeholder}
            reads_state: dict[int, bool] = {}
            body = []
            for op in post_order_ops([t.op for t in self.update]):
                found = any(id(t.op) in states or reads_state.get(id(t.op), False)
                            for t in op.input_tensors)
                reads_state[id(op)] = found
                if found or any(op is t.op for t in self.update):
                    body.append(op)
            self._body = tuple(body)
        return self._body

    def output_of(self, tensor: Tensor) -> int | None:
        """``k`` when ``tensor`` is ``init[k]``, ``update[k]`` or ``state_placeholder[k]``
        (all held in output ``k``), else None."""
        for group in (self.init, self.update, self.state_placeholder):
            for k, t in enumerate(group):
                if t is tensor:
                    return k
        return None

    def replace_inputs(self, mapping: dict) -> "ScanOp":
        """This scan reading ``mapping[t]`` for each init or update tensor ``t`` in
        ``mapping`` (the same scan axis), or itself when none is."""
        if not any(t in mapping for t in self.input_tensors):
            return self
        return ScanOp(self.name, self.tag, self.attrs, self.scan_axis,
                      [mapping.get(t, t) for t in self.init],
                      [mapping.get(t, t) for t in self.update], self.state_placeholder,
                      self.inputs, self.spatial_axis)


def scan_states(ops) -> set[int]:
    """The ids of the state placeholders of the scans among ``ops``."""
    return {id(t.op) for op in ops if isinstance(op, ScanOp) for t in op.state_placeholder}


class _CollectProducers(Visitor):
    def __init__(self):
        self.found: dict[Tensor, None] = {}

    def visit_ProducerLoad(self, node):
        self.found.setdefault(node.producer, None)
        self.generic_visit(node)


def collect_input_tensors(exprs) -> list[Tensor]:
    """Tensors read by the expressions, in order of first appearance."""
    collector = _CollectProducers()
    for e in exprs:
        collector.visit(e)
    return list(collector.found)


def post_order_ops(outputs) -> list[Operation]:
    """Every operation the outputs depend on, producers before consumers."""
    order: list[Operation] = []
    seen: set[int] = set()

    def visit(op: Operation):
        stack = [(op, False)]
        while stack:
            node, done = stack.pop()
            if done:
                if id(node) not in seen:
                    seen.add(id(node))
                    order.append(node)
                continue
            if id(node) in seen:
                continue
            stack.append((node, True))
            for t in reversed(node.input_tensors):
                if id(t.op) not in seen:
                    stack.append((t.op, False))

    for op in outputs:
        visit(op)
    return order


def default_parameters(outputs) -> list[Tensor]:
    """The parameter order of a module built without an explicit list: the placeholders
    the ``outputs`` (tensors) read, in the order they were created, then the outputs as
    given.

    >>> A = te.placeholder((8,), name="A"); B = te.placeholder((8,), name="B")
    >>> C = te.compute((8,), lambda i: B[i] - A[i], name="C")
    >>> default_parameters([C])         # [A, B, C]: mod(a, b, c) computes b - a
    """
    outputs = list(outputs)
    ops = post_order_ops([t.op for t in outputs])
    states = scan_states(ops)   # a scan's state is its own output, not an argument
    placeholders = [op for op in ops
                    if isinstance(op, PlaceholderOp) and id(op) not in states]
    placeholders.sort(key=lambda op: op.serial)
    return [op.output(0) for op in placeholders] + outputs
