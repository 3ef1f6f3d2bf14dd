"""Counting the floating-point work of a compute definition, for GFLOPS figures.

Every floating-point add, subtract, multiply, divide, min, max and math call counts one,
per output element and, inside a reduction, per reduction step (with the combiner's own
operation): a float32 matmul of ``M x N x K`` is ``2 * M * N * K``.  Index arithmetic and
integer work do not count.

>>> count_flops([C])          # 2 * 1024**3 for a 1024^3 matmul
"""
from __future__ import annotations

import math

from ..te.graph import ComputeOp, post_order_ops
from ..tir import expr as E
from ..tir.functor import Visitor

_FLOAT_OPS = (E.Add, E.Sub, E.Mul, E.Div, E.Min, E.Max, E.Call)


class _CountFloatOps(Visitor):
    def __init__(self):
        self.count = 0

    def generic_visit(self, node):
        if isinstance(node, _FLOAT_OPS) and node.dtype.is_float:
            self.count += 1
        super().generic_visit(node)


def _float_ops(expressions) -> int:
    counter = _CountFloatOps()
    for expr in expressions:
        counter.visit(expr)
    return counter.count


def _extent(value, shape_vars) -> int | None:
    if isinstance(value, E.IntImm):
        return int(value.value)
    if isinstance(value, E.Var):
        for var, bound in (shape_vars or {}).items():
            if var is value or getattr(var, "name", var) == value.name:
                return int(bound)
    return None


def count_flops(outputs, shape_vars=None) -> float | None:
    """Floating-point operations of computing ``outputs`` once; None where a shape is
    not known, 0 for purely integer or copying work."""
    total = 0
    for op in post_order_ops([t.op for t in outputs]):
        if not isinstance(op, ComputeOp):
            continue
        points = [_extent(iv.dom.extent, shape_vars) for iv in op.axis]
        if any(p is None for p in points):
            return None
        spatial = math.prod(points)
        for body in op.body[:1] if isinstance(op.body[0], E.Reduce) else op.body:
            if isinstance(body, E.Reduce):
                steps = [_extent(iv.dom.extent, shape_vars) for iv in body.axis]
                if any(s is None for s in steps):
                    return None
                per_step = _float_ops(body.source) + \
                    (_float_ops(body.combiner.result) if body.dtype.is_float else 0)
                total += spatial * math.prod(steps) * per_step
            else:
                total += spatial * _float_ops([body])
    return float(total)
