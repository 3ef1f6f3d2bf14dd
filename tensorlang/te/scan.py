"""``te.scan``: recurrences over time, as TVM's.

A scan computes a sequence of states: the first steps come from ``init``, each later
step ``t`` from ``update``, which reads earlier steps (``t - 1``, ``t - 2``...) through a
placeholder standing for the state.  :class:`~tensorlang.te.graph.ScanOp` holds the
declaration; this module checks it.
"""
from __future__ import annotations

from ..errors import TensorLangTypeError, TensorLangValueError
from ..tir import expr as E
from ..tir import op as O
from ..tir.arith import Analyzer, linear
from ..tir.functor import Visitor
from .graph import ComputeOp, PlaceholderOp, ScanOp, Tensor, post_order_ops


def scan(init, update, state_placeholder, inputs=None, name: str = "scan", tag: str = "",
         attrs=None):
    """The recurrence ``state[t] = update(state[t - 1], ...)`` over the first dimension
    (time) of ``state_placeholder``, starting from ``init``.

    ``init`` gives the first ``init.shape[0]`` steps; ``update`` (of the state's shape)
    computes every later step ``t`` from earlier ones, read through ``state_placeholder``.
    Lists of tensors make a scan of several states (a list of outputs is returned).
    ``inputs`` (TVM's hint of the tensors the update reads) is accepted and checked.

    >>> m, n = te.var("m"), te.var("n")
    >>> X = te.placeholder((m, n), name="X")
    >>> s_state = te.placeholder((m, n), name="s_state")
    >>> s_init = te.compute((1, n), lambda _, i: X[0, i], name="s_init")
    >>> s_update = te.compute((m, n), lambda t, i: s_state[t - 1, i] + X[t, i])
    >>> s_scan = te.scan(s_init, s_update, s_state, inputs=[X])  # cumulative sum over t
    """
    if not isinstance(name, str):
        raise TensorLangTypeError(f"te.scan: name must be a string, got {name!r}")
    what = f"te.scan '{name}'"
    inits = _tensor_list(init, "init", what)
    updates = _tensor_list(update, "update", what)
    states = _tensor_list(state_placeholder, "state_placeholder", what)
    if inputs is not None:
        _tensor_list(inputs, "inputs", what, allow_empty=True)
    if not len(inits) == len(updates) == len(states):
        raise TensorLangValueError(
            f"{what}: give one init and one update per state: got {len(inits)} init, "
            f"{len(updates)} update and {len(states)} state_placeholder tensor(s)")
    analyzer = Analyzer()
    for k, (i, u, s) in enumerate(zip(inits, updates, states)):
        _check_state(what, k, i, u, s, states, analyzer)
    time, steps = states[0].shape[0], inits[0].shape[0]
    for k, (i, s) in enumerate(zip(inits, states)):
        if not analyzer.can_prove_equal(s.shape[0], time):
            raise TensorLangValueError(
                f"{what}: the states have different numbers of time steps: "
                f"'{states[0].name}' has {time}, '{s.name}' has {s.shape[0]}")
        if not analyzer.can_prove_equal(i.shape[0], steps):
            raise TensorLangValueError(
                f"{what}: the inits give different numbers of first steps: "
                f"'{inits[0].name}' gives {steps}, '{i.name}' gives {i.shape[0]}")
    if isinstance(steps, E.IntImm) and isinstance(time, E.IntImm) and steps.value > time.value:
        raise TensorLangValueError(
            f"{what}: init '{inits[0].name}' gives {steps.value} steps, more than the "
            f"{time.value} of state '{states[0].name}'")
    scan_axis = E.IterVar(E.Var(f"{name}.idx", time.dtype),
                          E.Range(O.cast(steps, time.dtype) if steps.dtype != time.dtype
                                  else steps, O.sub(time, steps)), E.ORDERED)
    op = ScanOp(name, tag, attrs, scan_axis, inits, updates, states, inputs or ())
    _check_body(what, op, analyzer)
    return op.output(0) if op.num_outputs == 1 else list(op.outputs)


def _tensor_list(value, arg: str, what: str, allow_empty: bool = False) -> list[Tensor]:
    items = [value] if isinstance(value, Tensor) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(t, Tensor) for t in items):
        raise TensorLangTypeError(f"{what}: {arg} must be a tensor or a list of tensors, "
                                  f"got {value!r}")
    if not items and not allow_empty:
        raise TensorLangValueError(f"{what}: {arg} is an empty list")
    return list(items)


def _check_state(what, k, init, update, state, states, analyzer) -> None:
    if not isinstance(state.op, PlaceholderOp):
        raise TensorLangTypeError(
            f"{what}: state_placeholder '{state.name}' must be a te.placeholder (it stands "
            f"for the scan's own output), not a computed tensor")
    if any(s is state for s in states[:k]):
        raise TensorLangValueError(f"{what}: state_placeholder '{state.name}' given twice")
    for tensor, arg in ((init, "init"), (update, "update")):
        if not isinstance(tensor.op, ComputeOp):
            raise TensorLangTypeError(
                f"{what}: {arg} '{tensor.name}' must be a te.compute tensor; to start from "
                f"an input X0, write te.compute(X0.shape, lambda *i: X0[i])")
        if tensor.dtype != state.dtype:
            raise TensorLangTypeError(
                f"{what}: {arg} '{tensor.name}' is {tensor.dtype} but state "
                f"'{state.name}' is {state.dtype}; they must have one dtype")
        if tensor.ndim != state.ndim:
            raise TensorLangValueError(
                f"{what}: {arg} '{tensor.name}' has {tensor.ndim} dimension(s) but state "
                f"'{state.name}' has {state.ndim}; both have time first, then the state's "
                f"dimensions")
    if state.ndim < 1:
        raise TensorLangValueError(f"{what}: state '{state.name}' needs a time dimension")
    for d, (dim, u, i) in enumerate(zip(state.shape, update.shape, init.shape)):
        pairs = [(update, u)] + ([(init, i)] if d > 0 else [])
        for tensor, got in pairs:
            if not analyzer.can_prove_equal(got, dim):
                role = "update" if tensor is update else "init"
                raise TensorLangValueError(
                    f"{what}: dimension {d} of {role} '{tensor.name}' is {got} but that of "
                    f"state '{state.name}' is {dim}; the {role} has the state's shape"
                    + (" (except the number of time steps)" if role == "init" else ""))
    reads = post_order_ops([init.op])
    for op in reads:
        if any(op is s.op for s in states):
            raise TensorLangValueError(
                f"{what}: init '{init.name}' reads the state '{op.name}'; the init gives "
                f"the first steps, before any state exists")


class _StateReads(Visitor):
    """The reads of state placeholders in an expression."""

    def __init__(self, states):
        self.states = states
        self.found: list[E.ProducerLoad] = []

    def visit_ProducerLoad(self, node):
        if any(node.producer is s for s in self.states):
            self.found.append(node)
        self.generic_visit(node)


def _check_body(what, op: ScanOp, analyzer) -> None:
    """The operations computed at each step are te.compute operations with time first,
    and read the state only at earlier steps (where the index shows it)."""
    for body_op in op.body_ops:
        if not isinstance(body_op, ComputeOp):
            raise TensorLangTypeError(
                f"{what}: the update reads the state through '{body_op.name}', a "
                f"{type(body_op).__name__}; only te.compute stages can be computed at each "
                f"step (a scan inside a scan, or an extern stage reading the state, is not "
                f"supported)")
        if not body_op.axis or not analyzer.can_prove_equal(body_op.axis[0].dom.extent,
                                                            op.time_extent) \
                or not analyzer.can_prove_equal(body_op.axis[0].dom.min, 0):
            raise TensorLangValueError(
                f"{what}: '{body_op.name}' is computed at each step (it reads the state) so "
                f"its first axis must be time, of extent {op.time_extent} like the state's; "
                f"give it the shape ({op.time_extent}, ...) and index it with the step")
        reads = _StateReads(op.state_placeholder)
        for body in body_op.body:
            reads.visit(body)
        time = body_op.axis[0].var
        for load in reads.found:
            ahead = linear(O.sub(load.indices[0], time))
            if ahead.is_const() and ahead.const >= 0:
                step = "t" if ahead.const == 0 else f"t + {ahead.const}"
                raise TensorLangValueError(
                    f"{what}: '{body_op.name}' reads the state '{load.producer.name}' at step "
                    f"{step}, which is not computed yet at step t; read an earlier step "
                    f"({load.producer.name}[{time.name} - 1, ...])")
