"""Declaring computations: ``placeholder``, ``compute``, iteration axes."""
from __future__ import annotations

import inspect

from ..errors import TensorLangTypeError, TensorLangValueError
from ..tir import expr as E
from ..tir import datatype as dt
from ..tir.functor import Mutator, Visitor
from ..tir.op import const, convert
from .tensor import ComputeOp, PlaceholderOp, Tensor


def var(name: str = "n", dtype="int32") -> E.Var:
    """A symbolic scalar: a dynamic shape dimension or a scalar argument."""
    if not isinstance(name, str):
        raise TensorLangTypeError(f"te.var: name must be a string, got {name!r}")
    return E.Var(name, dt.dtype(dtype))


def _shape_entry(value, what: str, pos: int) -> E.PrimExpr:
    if isinstance(value, bool):
        raise TensorLangTypeError(f"{what}: shape entry {pos} is a bool; use an int")
    if isinstance(value, int):
        if value <= 0:
            raise TensorLangValueError(
                f"{what}: shape entry {pos} is {value}; dimensions must be positive")
        return const(value, "int32" if value < 2**31 else "int64")
    if isinstance(value, (E.ExprOp,)):
        value = convert(value)
        if not value.dtype.is_integer:
            raise TensorLangTypeError(
                f"{what}: shape entry {pos} '{value}' has type {value.dtype}; dimensions "
                f"must be integers")
        return value
    if hasattr(value, "__index__"):
        return _shape_entry(int(value), what, pos)
    raise TensorLangTypeError(
        f"{what}: shape entry {pos} is {value!r}; use an int or a te.var")


def _shape(shape, what: str) -> tuple[E.PrimExpr, ...]:
    if isinstance(shape, (int, E.ExprOp)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TensorLangTypeError(f"{what}: shape must be a tuple of ints or te.vars, "
                                  f"got {shape!r}")
    return tuple(_shape_entry(s, what, k) for k, s in enumerate(shape))


def placeholder(shape, dtype="float32", name: str = "placeholder") -> Tensor:
    """An input tensor: ``A = te.placeholder((n, 64), name="A")``."""
    shape = _shape(shape, f"placeholder '{name}'")
    return PlaceholderOp(name, shape, dt.dtype(dtype)).output(0)


def reduce_axis(dom, name: str = "rv") -> E.IterVar:
    """A reduction axis over ``range(lo, hi)``: ``k = te.reduce_axis((0, K), name="k")``."""
    if isinstance(dom, E.Range):
        rng = dom
    else:
        if not isinstance(dom, (tuple, list)) or len(dom) != 2:
            raise TensorLangTypeError(
                f"reduce_axis '{name}': dom must be a (lo, hi) pair, got {dom!r}")
        lo, hi = convert(dom[0]), convert(dom[1])
        if not lo.dtype.is_integer or not hi.dtype.is_integer:
            raise TensorLangTypeError(f"reduce_axis '{name}': bounds must be integers")
        from ..tir.op import sub
        extent = sub(hi, lo)
        if isinstance(extent, E.IntImm) and extent.value <= 0:
            raise TensorLangValueError(
                f"reduce_axis '{name}': empty range ({dom[0]}, {dom[1]})")
        rng = E.Range(lo, extent)
    return E.IterVar(E.Var(name, rng.extent.dtype), rng, E.REDUCE)


def thread_axis(dom=None, tag: str = "", name: str = "") -> E.IterVar:
    """A GPU thread index: ``te.thread_axis("threadIdx.x")``."""
    if isinstance(dom, str):
        dom, tag = None, dom
    valid = [f"{a}.{c}" for a in ("blockIdx", "threadIdx", "vthread") for c in "xyz"]
    if tag not in valid and tag != "vthread":
        raise TensorLangValueError(f"thread_axis: unknown tag {tag!r}; use one of {valid}")
    if dom is not None and not isinstance(dom, E.Range):
        lo, hi = dom
        dom = E.Range(convert(lo), convert(hi) - convert(lo))
    return E.IterVar(E.Var(name or tag, dt.int32), dom, E.THREAD, tag)


def _arg_names(fcompute, ndim: int, name: str) -> list[str]:
    try:
        params = list(inspect.signature(fcompute).parameters.values())
    except (TypeError, ValueError):
        return [f"i{k}" for k in range(ndim)]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return [f"i{k}" for k in range(ndim)]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
    if len(positional) != ndim:
        raise TensorLangTypeError(
            f"compute '{name}': the shape has {ndim} dimension(s) but fcompute takes "
            f"{len(positional)} argument(s) ({', '.join(p.name for p in positional)})")
    return [p.name for p in positional]


class _FindReduce(Visitor):
    def __init__(self):
        self.found: list[E.Reduce] = []

    def visit_Reduce(self, node):
        self.found.append(node)


def compute(shape, fcompute, name: str = "compute", tag: str = "", attrs=None):
    """``C = te.compute((n, m), lambda i, j: A[i, j] * 2, name="C")``.

    ``fcompute`` may return a tuple for a multi-output operation (a tuple of tensors is
    returned).  A reduction inside a larger expression gets a stage of its own named
    ``<name>_red``."""
    shape = _shape(shape, f"compute '{name}'")
    names = _arg_names(fcompute, len(shape), name)
    axis = tuple(E.IterVar(E.Var(n, s.dtype), E.Range(const(0, s.dtype), s), E.DATA_PAR)
                 for n, s in zip(names, shape))
    result = fcompute(*[iv.var for iv in axis])
    if isinstance(result, Tensor):
        raise TensorLangTypeError(
            f"compute '{name}': fcompute returned the tensor '{result.name}' itself; "
            f"return an element of it, e.g. {result.name}[i, j]")
    body = list(result) if isinstance(result, (tuple, list)) else [result]
    if not body:
        raise TensorLangTypeError(f"compute '{name}': fcompute returned nothing")
    body = [_to_expr(b, name) for b in body]
    body = _split_nested_reductions(body, shape, axis, name)
    _check_reductions(body, name)
    op = ComputeOp(name, tag, attrs, axis, body)
    return op.output(0) if op.num_outputs == 1 else op.outputs


def _to_expr(value, name) -> E.PrimExpr:
    try:
        return convert(value)
    except TensorLangTypeError:
        raise TensorLangTypeError(
            f"compute '{name}': fcompute must return an expression, got "
            f"{type(value).__name__} {value!r}") from None


def _check_reductions(body, name) -> None:
    reduces = [b for b in body if isinstance(b, E.Reduce)]
    if not reduces:
        return
    if len(reduces) != len(body):
        raise TensorLangTypeError(
            f"compute '{name}': a multi-output operation must reduce in every output or "
            f"in none")
    first = reduces[0]
    for r in reduces[1:]:
        if r.combiner is not first.combiner or tuple(r.axis) != tuple(first.axis):
            raise TensorLangTypeError(
                f"compute '{name}': the outputs of a multi-output reduction must come from "
                f"one tuple reducer call")


class _ReplaceReduce(Mutator):
    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Reduce(self, node):
        return self.mapping.get(node, node)


def _split_nested_reductions(body, shape, axis, name):
    """Give each reduction that sits inside a larger expression a stage of its own."""
    if all(isinstance(b, E.Reduce) for b in body):
        return body
    finder = _FindReduce()
    for b in body:
        if not isinstance(b, E.Reduce):
            finder.visit(b)
    if not finder.found:
        return body
    from ..tir.transform.substitute import substitute
    mapping = {}
    groups: dict[int, list[E.Reduce]] = {}
    for red in finder.found:
        groups.setdefault(id(red.combiner) if len(red.source) > 1 else id(red), []).append(red)
    for idx, reds in enumerate(groups.values()):
        stage_name = f"{name}_red" if len(groups) == 1 else f"{name}_red{idx}"
        first = reds[0]
        if len(first.source) > 1:
            reds = sorted(reds, key=lambda r: r.value_index)

        def fred(*indices, _first=first, _reds=reds):
            sub_map = {iv.var: v for iv, v in zip(axis, indices)}
            if len(_first.source) == 1:
                return substitute(_first, sub_map)
            return tuple(substitute(r, sub_map) for r in _reds)

        produced = compute(tuple(shape), fred, name=stage_name)
        produced = produced if isinstance(produced, tuple) else (produced,)
        for red in reds:
            t = produced[red.value_index if len(first.source) > 1 else 0]
            mapping[red] = t[tuple(iv.var for iv in axis)]
    replacer = _ReplaceReduce(mapping)
    return [replacer.visit(b) for b in body]
