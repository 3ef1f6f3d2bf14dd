"""The values the tuner's random inputs may take.

An integer input that indexes another tensor (a gather ``T[I[i]]``, an embedding lookup,
``T[I[i] + 1]``) must hold values that keep every such read in bounds, or the reference
and every candidate read past the end of ``T``.  :func:`input_ranges` finds, by bound
analysis, every read whose index contains a read of an integer input, and the values of
the input that keep that index inside the read tensor's extent whatever the loop
variables are; an input's range is the intersection over its uses (and its dtype).
Element-wise integer stages between the input and the read (``J = I + 1``, a cast) are
substituted into the index first.  Other integer inputs take the runner's default values
(1 to 9, no zero for division).

>>> T = te.placeholder((4, 8), name="T"); I = te.placeholder((16,), "int32", name="I")
>>> G = te.compute((16, 8), lambda i, j: T[I[i] + 1, j], name="G")
>>> input_ranges([T, I, G])             # {1: (-1, 2)}: I's values keep I + 1 in [0, 3]
"""
from __future__ import annotations

from ..errors import TuneError
from ..te.graph import ComputeOp, PlaceholderOp, Tensor, post_order_ops
from ..tir import expr as E
from ..tir.analysis import uses_var
from ..tir.arith.canonical import StructuralKeys, to_sum
from ..tir.arith.const_int_bound import BoundEvaluator, ConstIntBound, dtype_bound
from ..tir.functor import Mutator, Visitor
from ..tir.transform.substitute import substitute


class _Loads(Visitor):
    """The ProducerLoads of an expression, outermost first: all of them, or only those
    not inside another load's indices (``nested=False``)."""

    def __init__(self, nested: bool):
        self.nested = nested
        self.found: list = []

    def visit_ProducerLoad(self, node):
        self.found.append(node)
        if self.nested:
            self.generic_visit(node)


def _loads(expr, nested: bool = True) -> list:
    visitor = _Loads(nested)
    visitor.visit(expr)
    return visitor.found


class _InlineIndexStages(Mutator):
    """Substitutes the bodies of element-wise integer stages into an index (``J = I + 1``
    read as ``T[J[i]]`` is ``T[I[i] + 1]``), so that the inputs they read are solved for."""

    def visit_ProducerLoad(self, node):
        indices = self.visit_tuple(node.indices)
        op = node.producer.op
        if isinstance(op, ComputeOp) and not op.own_reduce_axis and node.dtype.is_integer:
            body = substitute(op.body[node.producer.value_index],
                              {iv.var: index for iv, index in zip(op.axis, indices)})
            return self.visit(body)
        return node if indices is node.indices else node.replace(indices=indices)


class _ReplaceReads(Mutator):
    """Replaces each read of ``tensor`` (and an integer cast of one) by a variable of its
    own: the values the read may take are what is being solved for."""

    def __init__(self, tensor: Tensor):
        self.tensor = tensor
        self.variables: list[E.Var] = []

    def _fresh(self, dtype) -> E.Var:
        var = E.Var(f"{self.tensor.name}_value{len(self.variables)}", dtype)
        self.variables.append(var)
        return var

    def visit_ProducerLoad(self, node):
        if node.producer is self.tensor:
            return self._fresh(node.dtype)
        return self.generic_visit(node)

    def visit_Cast(self, node):
        if isinstance(node.value, E.ProducerLoad) and node.value.producer is self.tensor \
                and node.dtype.is_integer:
            return self._fresh(node.dtype)
        return self.generic_visit(node)


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _allowed_values(index, tensor: Tensor, extent: int, var_bounds: dict,
                    limit: ConstIntBound) -> ConstIntBound | None:
    """The values of ``tensor``'s reads in ``index`` that keep it in ``[0, extent)``
    for every value of the loop variables (``var_bounds``), within ``limit``: an empty
    bound where no value does, None where the analysis cannot prove any value safe."""
    replace = _ReplaceReads(tensor)
    solved = replace.visit(index)
    variables = replace.variables

    def fits(low: int, high: int) -> bool:
        bound = BoundEvaluator({**var_bounds, **{v: ConstIntBound(low, high)
                                                 for v in variables}})(solved)
        return 0 <= bound.min_value and bound.max_value <= extent - 1

    if len(variables) == 1:
        # linear in the read (T[I[i] * 2 + j - 1]): solved exactly
        x = variables[0]
        keys = StructuralKeys()
        form = to_sum(solved, keys)
        coefficient = form.coefficient(keys(x))
        others = [atom for key, (atom, _) in form.terms.items() if key != keys(x)]
        if coefficient and not any(uses_var(atom, x) for atom in others):
            rest = BoundEvaluator({**var_bounds, x: ConstIntBound(0, 0)})(solved)
            if coefficient > 0:
                low = _ceil_div(-rest.min_value, coefficient)
                high = (extent - 1 - rest.max_value) // coefficient
            else:
                low = _ceil_div(extent - 1 - rest.max_value, coefficient)
                high = (-rest.min_value) // coefficient
            low, high = max(low, limit.min_value), min(high, limit.max_value)
            if low > high:
                return ConstIntBound(1, 0)   # proven: no value keeps it in bounds
            if fits(low, high):
                return ConstIntBound(low, high)
    # anything else (I[i] % 4, two reads in one index): the widest [0, high] that
    # interval analysis proves safe (safe ranges nest, so bisection finds it)
    low = max(0, limit.min_value)
    if not fits(low, low):
        return None
    good, bad = low, min(limit.max_value, low + extent) + 1
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits(low, middle) else (good, middle)
    return ConstIntBound(low, good)


class _VarsByName(Visitor):
    def __init__(self):
        self.found: dict = {}

    def visit_Var(self, node):
        self.found.setdefault(node.name, []).append(node)


def _concrete(expr, shape_bounds: dict, what: str) -> int:
    bound = BoundEvaluator(shape_bounds)(expr)
    if bound.min_value != bound.max_value:
        raise TuneError(f"{what} is '{expr}', which tuning needs as a concrete size; pass "
                        f"shape_vars={{var: size}}")
    return bound.min_value


def _shape_bounds(ops, shape_vars) -> dict:
    """Exact bounds of the symbolic dimensions named in ``shape_vars``."""
    if not shape_vars:
        return {}
    collect = _VarsByName()
    found = collect.found
    for op in ops:
        for dim in getattr(op, "shape", ()):
            collect.visit(dim)
        for iv in tuple(getattr(op, "axis", ())) + tuple(getattr(op, "own_reduce_axis", ())):
            collect.visit(iv.dom.min)
            collect.visit(iv.dom.extent)
    bounds = {}
    for key, value in shape_vars.items():
        for var in (found.get(key, []) if isinstance(key, str) else [key]):
            bounds[var] = ConstIntBound(int(value), int(value))
    return bounds


def input_ranges(params: list, shape_vars=None) -> tuple[dict, list]:
    """``(ranges, unbounded)``: ``ranges`` maps the position (in ``params``) of each
    integer input that indexes a tensor to the ``(low, high)`` values (inclusive) that
    keep every read it indexes in bounds; ``unbounded`` describes the reads for which
    bound analysis proved no value safe.  An empty intersection raises ``TuneError``."""
    outputs = [t for t in params if isinstance(t, Tensor) and
               not isinstance(t.op, PlaceholderOp)]
    ops = post_order_ops([t.op for t in outputs])
    shape_bounds = _shape_bounds(ops, shape_vars)
    var_bounds = dict(shape_bounds)
    evaluate = BoundEvaluator(shape_bounds)
    for op in ops:
        if isinstance(op, ComputeOp):
            for iv in op.axis + op.own_reduce_axis:
                start, extent = evaluate(iv.dom.min), evaluate(iv.dom.extent)
                var_bounds[iv.var] = ConstIntBound(
                    start.min_value, start.max_value + extent.max_value - 1)
    position = {id(t.op): k for k, t in enumerate(params) if isinstance(t, Tensor) and
                isinstance(t.op, PlaceholderOp) and t.dtype.is_integer}
    ranges: dict = {}
    uses: dict = {}
    unbounded: list = []
    for op in ops:
        if not isinstance(op, ComputeOp):
            continue
        for body in op.body:
            for load in _loads(body):
                target = load.producer
                for dim, index in enumerate(load.indices):
                    index = _InlineIndexStages().visit(index)
                    indexing = {id(inner.producer.op): inner.producer
                                for inner in _loads(index, nested=False)
                                if id(inner.producer.op) in position}
                    if not indexing:
                        continue
                    extent = _concrete(target.shape[dim], shape_bounds,
                                       f"dimension {dim} of '{target.name}'")
                    for tensor in indexing.values():
                        k = position[id(tensor.op)]
                        limit = ranges.get(k, dtype_bound(tensor.dtype))
                        allowed = _allowed_values(index, tensor, extent, var_bounds,
                                                  dtype_bound(tensor.dtype))
                        where = f"'{target.name}[{', '.join(map(str, load.indices))}]'"
                        if allowed is None:
                            unbounded.append(f"{where} (index {dim}: {index})")
                            continue
                        low = max(limit.min_value, allowed.min_value)
                        high = min(limit.max_value, allowed.max_value)
                        uses.setdefault(k, []).append(
                            f"{where} needs {allowed.min_value}..{allowed.max_value}"
                            if allowed.min_value <= allowed.max_value else
                            f"{where} is out of bounds for every value of "
                            f"'{tensor.name}'")
                        if low > high:
                            raise TuneError(
                                f"integer input '{tensor.name}': no value keeps every read "
                                f"it indexes in bounds ({'; '.join(uses[k])}); check the "
                                f"indices and the shapes in the definition")
                        ranges[k] = ConstIntBound(low, high)
    return {k: (b.min_value, b.max_value) for k, b in ranges.items()}, unbounded
