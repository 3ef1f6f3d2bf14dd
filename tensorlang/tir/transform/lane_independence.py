"""Whether the lanes of a vectorized loop body touch disjoint elements of every buffer it
writes (then running the body statement by statement for all lanes equals running it lane
by lane, and the vectorizer may replace the loop)."""
from __future__ import annotations

import numpy as np

from .. import op
from ..analysis import buffer_accesses, free_vars
from ..expr import Add, Broadcast, FloorDiv, FloorMod, IntImm, Max, Min, Mul, Ramp, Sub, Var
from ..structural import structural_equal

__all__ = ["lanes_are_independent"]

#: lane independence by evaluation is tried when the variables of an index take at most
#: this many combined values (see _distinct_per_lane)
_MAX_EVALUATED_POINTS = 4096



def lanes_are_independent(body, lanes: int, bound_inside: set, ranges) -> bool:
    """Whether each lane touches its own elements of every buffer the body writes.

    Then running the body statement by statement for all lanes equals running it lane by
    lane.  Two ways to know: some index position holds in every access to the buffer the
    same ramp with a non-zero constant stride and a base fixed over the whole body; or
    every access uses the same index tuple, fixed over the body, that names a different
    element in each lane (checked by evaluation: ``(f // 16, f % 16)`` of a fused axis)."""
    loads, stores = buffer_accesses(body)
    accesses: dict[object, list[tuple]] = {}
    for node in stores:
        accesses.setdefault(node.buffer, []).append(node.indices)
    written = set(accesses)
    for node in loads:
        if node.buffer in written:
            accesses[node.buffer].append(node.indices)
    for buffer in written:
        tuples = accesses[buffer]
        if not any(_same_lane_slice(tuples, dim, lanes, bound_inside)
                   for dim in range(len(buffer.shape))) and \
                not _distinct_per_lane(tuples, lanes, bound_inside, ranges):
            return False
    return True


def _distinct_per_lane(index_tuples, lanes: int, bound_inside: set, ranges) -> bool:
    first = index_tuples[0]
    if not all(structural_equal(other, first) for other in index_tuples[1:]):
        return False
    free = sorted(free_vars(first), key=lambda v: v.name)
    if set(free) & bound_inside or any(v not in ranges for v in free):
        return False
    sizes = [ranges[v][1] - ranges[v][0] + 1 for v in free]
    if int(np.prod(sizes, dtype=np.int64)) > _MAX_EVALUATED_POINTS:
        return False
    # one row per combination of the variables' values, one column per lane
    grids = np.meshgrid(*(np.arange(ranges[v][0], ranges[v][1] + 1) for v in free),
                        indexing="ij")
    env = {v: g.reshape(-1, 1).astype(np.int64) for v, g in zip(free, grids)}
    key = np.zeros((int(np.prod(sizes, dtype=np.int64)), lanes), dtype=np.int64)
    for index in first:
        values = _evaluate_index(index, env, lanes)
        if values is None:
            return False
        values = np.broadcast_to(values, key.shape)
        low, span = values.min(), int(values.max() - values.min()) + 1
        if span * (int(key.max()) + 1) >= 2**62:
            return False
        key = key * span + (values - low)  # mixed-radix: distinct tuples, distinct keys
    ordered = np.sort(key, axis=1)
    return not np.any(ordered[:, 1:] == ordered[:, :-1])


_INDEX_OPERATORS = {Add: np.add, Sub: np.subtract, Mul: np.multiply, Min: np.minimum,
                    Max: np.maximum, FloorDiv: np.floor_divide, FloorMod: np.mod}


def _evaluate_index(expr, env, lanes: int):
    """Integer values of ``expr`` (rows: variable values, columns: lanes), or None when
    it is not plain integer arithmetic that stays within 32 bits."""
    kind = type(expr)
    if kind is IntImm and not expr.dtype.is_bool:
        return np.int64(expr.value)
    if kind is Var:
        return env.get(expr)
    if kind is Broadcast:
        return _evaluate_index(expr.value, env, lanes)
    if kind is Ramp:
        base = _evaluate_index(expr.base, env, lanes)
        stride = _evaluate_index(expr.stride, env, lanes)
        if base is None or stride is None:
            return None
        values = base + stride * np.arange(lanes, dtype=np.int64)
    elif kind in _INDEX_OPERATORS:
        a = _evaluate_index(expr.a, env, lanes)
        b = _evaluate_index(expr.b, env, lanes)
        if a is None or b is None or (kind in (FloorDiv, FloorMod) and np.any(b == 0)):
            return None
        values = _INDEX_OPERATORS[kind](a, b)
    else:
        return None
    if np.any(np.abs(values) >= 2**31):
        return None
    return values


def _same_lane_slice(index_tuples, dim: int, lanes: int, bound_inside: set) -> bool:
    first = index_tuples[0][dim]
    if not isinstance(first, Ramp) or first.lanes != lanes:
        return False
    stride = op.as_const_int(first.stride)
    if not stride or set(free_vars(first.base)) & bound_inside:
        return False
    for indices in index_tuples[1:]:
        other = indices[dim]
        if not isinstance(other, Ramp) or not structural_equal(other.base, first.base) \
                or op.as_const_int(other.stride) != stride:
            return False
    return True
