"""Reads outside a tensor, proven from the compute definitions before lowering.

A definition such as ``B = te.compute((8,), lambda i: A[i + 1])`` over an ``A`` of 8
elements reads ``A[8]``: compiled code would read past the end of the buffer (whatever
the schedule, since a schedule may compute any point of ``B``'s domain).  Every read of
every computed operation is checked over the operation's whole domain, as the reference
evaluator (``te.reference``) evaluates it, and a read proven out of range is refused with
a :class:`LoweringError` naming the tensor, the index and its range.

Only what is proven is refused: an index must be affine in the iteration variables (with
constant coefficients) over constant extents, so that the interval computed is the exact
range it takes.  Reads that are masked are not checked: the branches of
``te.if_then_else`` (padding) and the source of a reduction with a ``where`` condition.
Anything else (a data-dependent index, a symbolic extent, a division) is accepted.
The stages a scan computes at each step are checked over the steps after the init (the
update of ``s[t] = s[t - 1] + X[t]`` never runs at ``t = 0``).
"""
from __future__ import annotations

from ..errors import LoweringError
from ..te.graph import ComputeOp
from ..tir import expr as E
from ..tir.arith import linear


def check_reads_in_bounds(schedule) -> None:
    """Raise :class:`LoweringError` for the first read of a computed stage of ``schedule``
    that its definition proves outside the tensor read."""
    seen: set = set()
    steps: dict = {}   # id of an operation computed at each step of a scan -> first step
    for stage in schedule.stages:
        if stage.is_scan:
            # te.scan checked that the stages of its body have time first; those that
            # primitives made from them (rfactor, caches) read what those read, with
            # time anywhere: they are not checked again
            declared = stage.origin_op.body_ops
            seen.update(id(op) for op in stage.op.body_ops if op not in declared)
            first = stage.op.init_steps
            for op in declared:
                steps[id(op)] = first.value if isinstance(first, E.IntImm) else None
    for stage in schedule.stages:
        for op in (stage.origin_op, stage.op):
            if isinstance(op, ComputeOp) and id(op) not in seen:
                seen.add(id(op))
                if id(op) in steps and steps[id(op)] is None:
                    continue  # the steps start at a symbolic time: nothing to prove
                check_operation(op, steps.get(id(op)))


def check_operation(op: ComputeOp, first_step: int | None = None) -> None:
    """Check every unmasked read of ``op``'s body over its whole domain (its first axis
    from ``first_step`` on, for an operation a scan computes at each step)."""
    domain = {}
    for d, iv in enumerate(op.axis):
        span = _constant_span(iv)
        if d == 0 and first_step is not None and span is not None:
            span = (max(span[0], first_step), span[1])
        if span is None:
            return  # a symbolic extent: nothing to prove against
        if span[1] < span[0]:
            return  # an empty domain reads nothing
        domain[iv.var] = span
    for body in op.body:
        _Reads(op, domain).visit(body)


def _constant_span(iv):
    """``(first, last)`` of ``iv``'s domain when both are constants."""
    lo, extent = iv.dom.min, iv.dom.extent
    if isinstance(lo, E.IntImm) and isinstance(extent, E.IntImm):
        return lo.value, lo.value + extent.value - 1
    return None


class _Reads:
    """Walks a definition's expression, checking the reads that always happen."""

    def __init__(self, op, domain: dict):
        self.op = op
        self.domain = domain

    def visit(self, node) -> None:
        if isinstance(node, E.Select):
            self.visit(node.condition)  # the branches are masked by it
            return
        if isinstance(node, E.Reduce):
            self.visit_reduce(node)
            return
        if isinstance(node, E.ProducerLoad):
            self.check_load(node)
        for name in getattr(node, "_children", ()):
            child = getattr(node, name)
            for item in child if isinstance(child, tuple) else (child,):
                if isinstance(item, E.PrimExpr):
                    self.visit(item)

    def visit_reduce(self, node: E.Reduce) -> None:
        spans = {iv.var: _constant_span(iv) for iv in node.axis}
        if any(span is None or span[1] < span[0] for span in spans.values()):
            return
        inner = _Reads(self.op, {**self.domain, **spans})
        inner.visit(node.condition)
        if isinstance(node.condition, E.IntImm) and node.condition.value:
            for source in node.source:
                inner.visit(source)

    def check_load(self, node: E.ProducerLoad) -> None:
        tensor = node.producer
        for axis, (index, dim) in enumerate(zip(node.indices, tensor.shape)):
            if not isinstance(dim, E.IntImm):
                continue
            span = self.exact_range(index)
            if span is None or (span[0] >= 0 and span[1] < dim.value):
                continue
            indices = ", ".join(str(i) for i in node.indices)
            ranges = ", ".join(f"{var.name} in [{lo}, {hi}]" for var, (lo, hi) in
                               self.variables_of(index))
            raise LoweringError(
                f"compute '{self.op.name}' reads {tensor.name}[{indices}] with {index} in "
                f"[{span[0]}, {span[1]}] (for {ranges}), outside {tensor.name}'s axis "
                f"{axis} of extent {dim.value}; shrink the domain of '{self.op.name}', "
                f"change the index, or guard the read with te.if_then_else (padding)")

    def exact_range(self, index):
        """``(min, max)`` that ``index`` takes over the domain, when it is affine in the
        domain's variables (so that both ends are reached), else None."""
        if not index.dtype.is_integer:
            return None
        form = linear(index)
        lo = hi = form.const
        for atom, coefficient in form.terms.values():
            span = self.domain.get(atom) if type(atom) is E.Var else None
            if span is None:
                return None
            low, high = span[0] * coefficient, span[1] * coefficient
            lo += min(low, high)
            hi += max(low, high)
        return lo, hi

    def variables_of(self, index):
        return [(atom, self.domain[atom]) for atom, _ in linear(index).terms.values()]
