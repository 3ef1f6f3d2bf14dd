"""A reference evaluator: runs a tensor-expression graph straight from its compute
definitions with vectorized numpy, with no schedule and no lowering.

It is the oracle that scheduled and compiled code is checked against, so it shares no code
with the lowering: each ``ComputeOp`` is evaluated on numpy index grids (one broadcast
dimension per spatial axis, then one per reduce axis) and reductions fold the extra
dimensions.

>>> A = te.placeholder((4, 3), name="A")
>>> k = te.reduce_axis((0, 3), name="k")
>>> B = te.compute((4,), lambda i: te.sum(A[i, k] * 2.0, axis=k), name="B")
>>> [b] = evaluate([B], {A: np.ones((4, 3), "float32")})     # b == [6, 6, 6, 6]

Value semantics follow the IR types: integer arithmetic wraps around, ``//`` and ``%`` are
floor division and modulo, float32 stays float32, float16 rounds after every operation,
and bfloat16 travels as uint16 bit patterns (inputs may also be ml_dtypes.bfloat16
arrays) with float32 arithmetic rounded to bfloat16 after every operation.  Math
intrinsics are computed in float64 and rounded to the result type, so the oracle is at
least as accurate as any backend.
``if_then_else`` is lazy: a branch is only checked for out-of-bounds reads where it is
taken, so padding works; a read out of bounds where it *is* taken raises
:class:`OutOfBoundsError`.
"""
from __future__ import annotations

import numpy as np

from ..errors import TensorLangTypeError, TensorLangValueError
from ..tir import expr as E
from ..tir.datatype import BFLOAT16_ARRAYS, bfloat16_bits
from .extern import ExternOp, evaluate_extern
from .graph import ComputeOp, PlaceholderOp, ScanOp, Tensor, post_order_ops, scan_states
from .reference_ops import (Context, Evaluator, OpEvaluator, OutOfBoundsError,  # noqa: F401
                            bfloat16_to_float32, finish, float32_to_bfloat16,
                            round_to_bfloat16, storage_dtype)


# ---------------------------------------------------------------------------------------
# entry point

def _as_tensor_list(outputs) -> list[Tensor]:
    if isinstance(outputs, Tensor):
        return [outputs]
    if isinstance(outputs, (list, tuple)) and all(isinstance(t, Tensor) for t in outputs):
        return list(outputs)
    raise TensorLangTypeError(
        f"reference.evaluate: outputs must be a tensor or a list of tensors, got "
        f"{outputs!r}")


def _bind_scalars(shape_vars, free_vars: dict[str, E.Var]) -> dict:
    scalars: dict = {}
    for key, value in (shape_vars or {}).items():
        if isinstance(key, str):
            if key not in free_vars:
                raise TensorLangValueError(
                    f"reference.evaluate: shape_vars names '{key}', which no tensor of "
                    f"the graph uses")
            key = free_vars[key]
        if not isinstance(key, E.Var):
            raise TensorLangTypeError(
                f"reference.evaluate: shape_vars keys must be te.var variables or their "
                f"names, got {key!r}")
        scalars[key] = finish(np.asarray(value), key.dtype)
    return scalars


def _collect_vars(ops) -> dict[str, E.Var]:
    from ..tir.functor import post_order_visit
    found: dict[str, E.Var] = {}

    def note(node):
        if isinstance(node, E.Var):
            found.setdefault(node.name, node)

    # Extents first: a shape variable's name wins over a loop variable of the same name.
    for op in ops:
        for extent in getattr(op, "shape", ()):
            post_order_visit(extent, note)
        for iv in (*getattr(op, "axis", ()), *getattr(op, "own_reduce_axis", ())):
            post_order_visit(iv.dom.min, note)
            post_order_visit(iv.dom.extent, note)
    for op in ops:
        if isinstance(op, ExternOp):
            post_order_visit(op.body, note)
            for tensor in op.outputs:
                for extent in tensor.shape:
                    post_order_visit(extent, note)
            continue
        for body in getattr(op, "body", ()):
            post_order_visit(body, note)
    return found


def evaluate(outputs, inputs, shape_vars=None) -> list[np.ndarray]:
    """Evaluate ``outputs`` (a tensor or list of tensors) with numpy.

    ``inputs`` maps each placeholder (the Tensor, or its name) to a numpy array of its
    dtype (for bfloat16: an ml_dtypes.bfloat16 array, or its uint16 bit patterns;
    bfloat16 outputs come back as uint16 bit patterns).  ``shape_vars`` maps te.var
    variables (or their names) to values; variables used as placeholder dimensions are
    also inferred from the arrays' shapes.  Returns one new array per output, in order.
    """
    tensors = _as_tensor_list(outputs)
    ops = post_order_ops([t.op for t in tensors])
    states = scan_states(ops)   # the scans' own outputs, read step by step
    placeholders = [op for op in ops if isinstance(op, PlaceholderOp) and id(op) not in states]
    in_scans = {id(body) for op in ops if isinstance(op, ScanOp) for body in op.body_ops}
    by_name = {op.name: op for op in placeholders}
    arrays: dict[int, np.ndarray] = {}
    for key, array in inputs.items():
        if isinstance(key, str):
            if key not in by_name:
                raise TensorLangValueError(
                    f"reference.evaluate: no placeholder named '{key}' feeds the outputs")
            key = by_name[key].output(0)
        if not isinstance(key, Tensor):
            raise TensorLangTypeError(
                f"reference.evaluate: inputs keys must be placeholder tensors or their "
                f"names, got {key!r}")
        arrays[id(key.op)] = array

    scalars = _bind_scalars(shape_vars, _collect_vars(ops))
    # Infer shape variables from the arrays before checking any shape.
    for op in placeholders:
        if id(op) not in arrays:
            raise TensorLangValueError(
                f"reference.evaluate: no array given for the placeholder '{op.name}'")
        array = np.asarray(arrays[id(op)])
        if array.ndim != len(op.shape):
            raise TensorLangValueError(
                f"reference.evaluate: placeholder '{op.name}' has {len(op.shape)} "
                f"dimension(s) but its array has shape {array.shape}")
        for extent, size in zip(op.shape, array.shape):
            if isinstance(extent, E.Var) and extent not in scalars:
                scalars[extent] = np.asarray(size, dtype=storage_dtype(extent.dtype))

    evaluator = Evaluator({})
    values = evaluator.values
    with np.errstate(all="ignore"):
        for op in ops:
            if id(op) in states or id(op) in in_scans:
                continue  # evaluated by their scan, step by step
            if isinstance(op, PlaceholderOp):
                values[op.output(0)] = _input_value(op, np.asarray(arrays[id(op)]),
                                                    evaluator, scalars)
            elif isinstance(op, ScanOp):
                _evaluate_scan(op, evaluator, scalars)
            elif isinstance(op, ComputeOp):
                for tensor, value in zip(op.outputs, OpEvaluator(op, evaluator,
                                                                  scalars).run()):
                    values[tensor] = value
            elif isinstance(op, ExternOp):
                def scalar(expr, _name=op.name):
                    return evaluator.expr(expr, Context(scalars, consumer=_name))
                for tensor, value in zip(op.outputs, evaluate_extern(op, values, scalar)):
                    values[tensor] = value
            else:
                raise TensorLangTypeError(
                    f"reference.evaluate: cannot evaluate the operation '{op.name}' "
                    f"({type(op).__name__}); only placeholders, te.compute, te.scan and "
                    f"te.extern are known")
    results = []
    for tensor in tensors:
        value = values[tensor]
        if tensor.dtype.kind == "bfloat":
            value = float32_to_bfloat16(value)
        elif isinstance(tensor.op, PlaceholderOp):
            value = np.array(value, copy=True)   # never hand back the caller's own array
        results.append(value)
    return results


def _input_value(op: PlaceholderOp, array: np.ndarray, evaluator, scalars) -> np.ndarray:
    expected = op.dtype.numpy_dtype
    if op.dtype.kind == "bfloat":
        array = bfloat16_bits(array)
        if array.dtype != expected:
            raise TensorLangTypeError(
                f"reference.evaluate: placeholder '{op.name}' is bfloat16, got an array of "
                f"{array.dtype}; pass {BFLOAT16_ARRAYS}")
    if array.dtype != expected:
        raise TensorLangTypeError(
            f"reference.evaluate: placeholder '{op.name}' has dtype {op.dtype}, so its "
            f"array must be {expected}, got {array.dtype}")
    ctx = Context(scalars, consumer=op.name)
    for axis, extent in enumerate(op.shape):
        size = int(evaluator.expr(extent, ctx))
        if size != array.shape[axis]:
            raise TensorLangValueError(
                f"reference.evaluate: placeholder '{op.name}' dimension {axis} ('{extent}') "
                f"is {size} but its array has shape {array.shape}")
    if op.dtype.kind == "bfloat":
        return bfloat16_to_float32(array)
    return array


def _evaluate_scan(op: ScanOp, evaluator: Evaluator, scalars: dict) -> None:
    """The outputs of a scan, step by step: the init's steps, then at each later step
    ``t`` every operation of the scan's body at ``t`` only (each reads earlier steps of
    the states, which hold the outputs as they are computed)."""
    values = evaluator.values
    ctx = Context(scalars, consumer=op.name)

    def size(expr) -> int:
        return int(evaluator.expr(expr, ctx))

    time, steps = size(op.time_extent), size(op.init_steps)
    for state, init in zip(op.state_placeholder, op.init):
        shape = tuple(size(d) for d in state.shape)
        array = np.zeros(shape, storage_dtype(state.dtype))
        array[:steps] = values[init]
        values[state] = array
    for body in op.body_ops:
        for tensor in body.outputs:
            if tensor not in values:
                values[tensor] = np.zeros(tuple(size(d) for d in tensor.shape),
                                          storage_dtype(tensor.dtype))
    for t in range(steps, time):
        for body in op.body_ops:
            for tensor, value in zip(body.outputs, OpEvaluator(body, evaluator,
                                                               scalars).run(time_step=t)):
                values[tensor][t] = value[0]
        for state, update in zip(op.state_placeholder, op.update):
            values[state][t] = values[update][t]
    for state, output in zip(op.state_placeholder, op.outputs):
        values[output] = values[state]


__all__ = ["evaluate", "OutOfBoundsError", "round_to_bfloat16", "bfloat16_to_float32",
           "float32_to_bfloat16"]
