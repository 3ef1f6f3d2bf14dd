"""Lanes of vector expressions: the CUDA code generator prints a vector statement lane by
lane, each lane a scalar expression built here."""
from __future__ import annotations

from ...errors import InternalError
from ...tir import expr as E
from ...tir import op
from ...tir.functor import ExprFunctor
from ...tir.transform.substitute import substitute


class LaneOf(ExprFunctor):
    """Lane ``k`` of a vector expression as a scalar expression; vector variables and
    hoisted vector loads resolve to the per-lane names ``codegen`` holds."""

    def __init__(self, codegen, k: int):
        self.codegen, self.k = codegen, k

    def lane(self, e):
        return self.codegen.lane(e, self.k)

    def unsupported(self, node):
        raise InternalError(f"CUDA codegen cannot take a lane of {type(node).__name__} "
                            f"'{node}'")

    def visit_Ramp(self, e: E.Ramp):
        return op.add(e.base, op.mul(e.stride, self.k))

    def visit_Broadcast(self, e: E.Broadcast):
        return e.value

    def visit_Var(self, e: E.Var):
        return self.codegen.vector_lanes[e][self.k]

    def visit_BufferLoad(self, e: E.BufferLoad):
        temp = self.codegen.load_temps.get(e)
        if temp is not None:
            return temp[self.k]
        return E.BufferLoad(e.buffer, tuple(self.lane(i) for i in e.indices),
                            e.dtype.element_of())

    def visit_BinaryOp(self, e):
        return type(e)(self.lane(e.a), self.lane(e.b), e.dtype.element_of())

    def visit_Not(self, e: E.Not):
        return E.Not(self.lane(e.a), e.dtype.element_of())

    def visit_Select(self, e: E.Select):
        return E.Select(self.lane(e.condition), self.lane(e.true_value),
                        self.lane(e.false_value), e.dtype.element_of())

    def visit_Cast(self, e: E.Cast):
        return E.Cast(e.dtype.element_of(), self.lane(e.value))

    def visit_Call(self, e: E.Call):
        return E.Call(e.dtype.element_of(), e.op, tuple(self.lane(a) for a in e.args))

    def visit_Let(self, e: E.Let):
        return self.lane(substitute(e.body, {e.var: e.value}))
