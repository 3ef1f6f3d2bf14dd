"""Declaring computations: ``placeholder``, ``compute``, iteration axes."""
from __future__ import annotations

import contextlib
import inspect
import threading
import weakref

from ..errors import TensorLangTypeError, TensorLangValueError
from ..tir import expr as E
from ..tir import datatype as dt
from ..tir.functor import Mutator, Visitor
from ..tir.op import const, convert
from .graph import ComputeOp, PartialIndex, PlaceholderOp, Tensor


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
    if isinstance(value, float):
        # TVM programs write N / bn for a dimension that divides evenly
        if value.is_integer():
            return _shape_entry(int(value), what, pos)
        raise TensorLangTypeError(
            f"{what}: shape entry {pos} is {value}, not a whole number; dimensions are "
            f"integers: use // for an exact division (N // bn)")
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
    iv = E.IterVar(E.Var(name, rng.extent.dtype), rng, E.REDUCE)
    _REDUCE_VARS[id(iv.var)] = iv.var
    return iv


# Variables of reduce axes, so that te.compute can tell a reduce axis used outside its
# reduction from a free scalar parameter.  Held weakly: workloads declared again and again
# (as a tuner does) leave nothing behind.
_REDUCE_VARS: "weakref.WeakValueDictionary[int, E.Var]" = weakref.WeakValueDictionary()


def is_reduce_var(var: E.Var) -> bool:
    """Whether ``var`` is the variable of an axis made by :func:`reduce_axis`."""
    return _REDUCE_VARS.get(id(var)) is var


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


def compute(shape, fcompute, name: str = "compute", tag: str = "", attrs=None,
            _axis_names=None):
    """``C = te.compute((n, m), lambda i, j: A[i, j] * 2, name="C")``.

    ``fcompute`` may return a tuple for a multi-output operation (a tuple of tensors is
    returned).  A reduction inside a larger expression gets a stage of its own named
    ``<name>_red`` (``C.op.hidden_reductions`` holds its operation), which follows ``C``
    where ``C`` is computed (``compute_at``) unless it is scheduled itself."""
    if not isinstance(name, str):
        raise TensorLangTypeError(f"te.compute: name must be a string, got {name!r}")
    if not callable(fcompute):
        raise TensorLangTypeError(
            f"compute '{name}': fcompute must be a function of the index variables, "
            f"e.g. lambda i, j: A[i, j] * 2; got {type(fcompute).__name__}")
    shape = _shape(shape, f"compute '{name}'")
    names = _axis_names or _arg_names(fcompute, len(shape), name)
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
    _check_reduce_axis_use(body, name)
    body, hidden = _split_nested_reductions(body, shape, axis, name)
    _check_reductions(body, name)
    op = ComputeOp(name, tag or current_tag(), attrs, axis, body)
    op.hidden_reductions = hidden
    return op.output(0) if op.num_outputs == 1 else op.outputs


_TAGS = threading.local()


def current_tag() -> str:
    """The tag of the innermost :func:`tag_scope` (empty outside one)."""
    stack = getattr(_TAGS, "stack", None)
    return stack[-1] if stack else ""


@contextlib.contextmanager
def tag_scope(tag: str):
    """``with te.tag_scope("conv2d"):`` computes declared inside without a ``tag=`` of
    their own get ``tag`` (TVM's spelling; also usable as a decorator)."""
    if not isinstance(tag, str):
        raise TensorLangTypeError(f"te.tag_scope: the tag must be a string, got {tag!r}")
    if not hasattr(_TAGS, "stack"):
        _TAGS.stack = []
    _TAGS.stack.append(tag)
    try:
        yield tag
    finally:
        _TAGS.stack.pop()


def _to_expr(value, name) -> E.PrimExpr:
    if isinstance(value, PartialIndex):
        try:
            value._as_expr()
        except TensorLangTypeError as error:
            raise TensorLangTypeError(f"compute '{name}': {error}") from None
    try:
        return convert(value)
    except TensorLangTypeError:
        raise TensorLangTypeError(
            f"compute '{name}': fcompute must return an expression, got "
            f"{type(value).__name__} {value!r}") from None


class _ReduceAxisUse(Visitor):
    """Finds reduce-axis variables used outside a reduction over them."""

    def __init__(self):
        self.bound: list[E.Var] = []
        self.misused: E.Var | None = None

    def visit_Var(self, node):
        if self.misused is None and is_reduce_var(node) \
                and not any(node is v for v in self.bound):
            self.misused = node

    def visit_Reduce(self, node):
        self.bound.extend(iv.var for iv in node.axis)
        self.generic_visit(node)
        del self.bound[len(self.bound) - len(node.axis):]


def _check_reduce_axis_use(body, name) -> None:
    finder = _ReduceAxisUse()
    for b in body:
        finder.visit(b)
    if finder.misused is not None:
        k = finder.misused.name
        raise TensorLangTypeError(
            f"compute '{name}': the reduce axis '{k}' is used outside a reduction over it; "
            f"wrap the expression in a reducer, e.g. te.sum(..., axis={k}), or list '{k}' "
            f"in that reducer's axis")


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
        return body, ()
    finder = _FindReduce()
    for b in body:
        if not isinstance(b, E.Reduce):
            finder.visit(b)
    if not finder.found:
        return body, ()
    from ..tir.transform.substitute import substitute
    mapping = {}
    # One stage per reducer call: the outputs of one tuple-reducer call share their
    # `source` tuple, while separate calls of the same reducer do not.
    groups: dict[int, list[E.Reduce]] = {}
    for red in finder.found:
        groups.setdefault(id(red.source) if len(red.source) > 1 else id(red), []).append(red)
    for idx, reds in enumerate(groups.values()):
        stage_name = f"{name}_red" if len(groups) == 1 else f"{name}_red{idx}"
        first = reds[0]

        def fred(*indices, _first=first):
            sub_map = {iv.var: v for iv, v in zip(axis, indices)}
            if len(_first.source) == 1:
                return substitute(_first, sub_map)
            # a tuple reduction produces every one of its values, used or not
            return tuple(substitute(_first.replace(value_index=k, dtype=src.dtype), sub_map)
                         for k, src in enumerate(_first.source))

        # The reduction stage iterates the consumer's domain, so it borrows the
        # consumer's axis names: printed IR then reads `B_red[i, j]`, not `i0, i1`.
        produced = compute(tuple(shape), fred, name=stage_name,
                           _axis_names=[iv.var.name for iv in axis])
        produced = produced if isinstance(produced, tuple) else (produced,)
        for red in reds:
            t = produced[red.value_index if len(first.source) > 1 else 0]
            mapping[red] = t[tuple(iv.var for iv in axis)]
    replacer = _ReplaceReduce(mapping)
    hidden = tuple(dict.fromkeys(load.producer.op for load in mapping.values()))
    return [replacer.visit(b) for b in body], hidden
