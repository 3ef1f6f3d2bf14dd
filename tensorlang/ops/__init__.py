"""The operator library: common tensor operators written with ``te.compute``, so each
result can be scheduled, lowered and tuned like any hand-written computation.

>>> from tensorlang import te, ops
>>> A = te.placeholder((128, 64), name="A")
>>> B = te.placeholder((64, 32), name="B")
>>> C = ops.relu(ops.matmul(A, B))

Every function returns a ``te.Tensor`` whose operation carries a ``tag`` ("injective",
"matmul", "conv2d_nchw", "pool_max", ...) and validates its arguments, naming the tensors
involved when shapes or dtypes do not fit.
"""
from .elementwise import (add, subtract, multiply, divide, floor_divide, floor_mod,  # noqa: F401
                          maximum, minimum, relu, negative, cast, exp, log, sqrt, tanh,
                          sigmoid)
from ..te.broadcast import broadcast_shape  # noqa: F401
from .transform import pad, transpose, reshape  # noqa: F401
from .linalg import matmul, batch_matmul  # noqa: F401
from .nn import (conv2d_nchw, depthwise_conv2d_nchw, pool2d, softmax,  # noqa: F401
                 layer_norm)

__all__ = ["add", "subtract", "multiply", "divide", "floor_divide", "floor_mod", "maximum",
           "minimum", "relu", "negative", "cast", "exp", "log", "sqrt", "tanh", "sigmoid",
           "broadcast_shape", "pad", "transpose", "reshape", "matmul", "batch_matmul",
           "conv2d_nchw", "depthwise_conv2d_nchw", "pool2d", "softmax", "layer_norm"]
