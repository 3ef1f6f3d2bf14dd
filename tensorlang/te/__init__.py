"""Tensor expressions: declare *what* to compute.

>>> n = te.var("n")
>>> A = te.placeholder((n, 64), name="A")
>>> k = te.reduce_axis((0, 64), name="k")
>>> B = te.compute((n,), lambda i: te.sum(A[i, k], axis=k), name="B")
"""
from .graph import Tensor, Operation, PlaceholderOp, ComputeOp, ScanOp  # noqa: F401
from .declare import (var, placeholder, compute, reduce_axis, thread_axis,  # noqa: F401
                      tag_scope)
from .reduction import comm_reducer, sum, prod, max, min  # noqa: F401,A004
from .math import (exp, log, sqrt, rsqrt, tanh, sigmoid, erf, fabs, floor, ceil,  # noqa: F401
                   round, power, abs, maximum, minimum, if_then_else, select, all, any, likely,
                   const, exp2, log2, log10, sin, cos, trunc, floordiv, floormod,
                   min_value, max_value)
from ..tir.bitwise import (shift_right, shift_left, bitwise_and, bitwise_or,  # noqa: F401
                           bitwise_xor, bitwise_not)
from .scan import scan  # noqa: F401
from . import broadcast  # noqa: F401  (A + B, A * 2, ... on tensors)
from .extern import extern, ExternOp  # noqa: F401
from . import reference  # noqa: F401  (te.reference.evaluate: the numpy oracle)
# te.create_schedule is tensorlang.create_schedule, set by tensorlang/__init__.py: the
# schedule layer is built on te, so te never imports it
