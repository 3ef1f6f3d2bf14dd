"""``tvm.topi``: TVM's operator names over :mod:`tensorlang.ops`, and ``topi.testing``'s
numpy references.

Only the operators tensorlang's library has are mapped; any other raises
NotImplementedError naming it (write it with ``te.compute``).  ``topi.nn.dense`` and
``topi.nn.batch_matmul`` keep TVM's transposed second operand.
"""
from __future__ import annotations

import types

import numpy as np

from ... import ops as _ops
from ...schedule import create_schedule


def _missing(name: str):
    def refuse(*unused, **unused_kwargs):
        raise NotImplementedError(f"topi.{name}: tensorlang's operator library "
                                  f"(tensorlang.ops) has no such operator; write it with "
                                  f"te.compute")
    refuse.__name__ = name.rsplit(".", 1)[-1]
    return refuse


class _Namespace(types.ModuleType):
    """A topi namespace: missing operators refuse with what to write instead."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _missing(f"{self.__name__.removeprefix('tvm.topi.')}.{name}")


def pool2d(data, kernel, stride, dilation, padding, pool_type, ceil_mode=False,
           layout="NCHW", count_include_pad=True):
    """TVM's argument order; ``padding`` is ``(top, left, bottom, right)``."""
    if ceil_mode:
        raise NotImplementedError("topi.nn.pool2d(ceil_mode=True): tensorlang's pool2d "
                                  "rounds the output size down; pad the bottom/right by the "
                                  "missing rows instead")
    return _ops.pool2d(data, kernel, stride=stride, padding=padding, pool_type=pool_type,
                       layout=layout, count_include_pad=count_include_pad,
                       dilation=dilation)


def dense(data, weight, bias=None, out_dtype=None):
    """``data @ weight.T`` (+ ``bias``), as TVM's dense."""
    out = _ops.matmul(data, weight, transpose_b=True, out_dtype=out_dtype, name="T_dense")
    return out if bias is None else _ops.add(out, bias)


def batch_matmul(x, y, oshape=None, out_dtype=None, transpose_a=False, transpose_b=True):
    return _ops.batch_matmul(x, y, transpose_a=transpose_a, transpose_b=transpose_b,
                             out_dtype=out_dtype)


nn = _Namespace("tvm.topi.nn", "topi.nn over tensorlang.ops")
nn.__dict__.update(conv2d_nchw=_ops.conv2d_nchw,
                   depthwise_conv2d_nchw=_ops.depthwise_conv2d_nchw, pool2d=pool2d,
                   softmax=_ops.softmax, relu=_ops.relu, pad=_ops.pad, dense=dense,
                   batch_matmul=batch_matmul, layer_norm=_ops.layer_norm)

add, subtract, multiply, divide = _ops.add, _ops.subtract, _ops.multiply, _ops.divide
floor_divide, floor_mod = _ops.floor_divide, _ops.floor_mod
maximum, minimum, negative, cast = _ops.maximum, _ops.minimum, _ops.negative, _ops.cast
exp, log, sqrt, tanh, sigmoid = _ops.exp, _ops.log, _ops.sqrt, _ops.tanh, _ops.sigmoid
transpose, reshape, matmul = _ops.transpose, _ops.reshape, _ops.matmul


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    return _missing(name)


# -- topi.testing: numpy references ------------------------------------------------------
def _pairs(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def conv2d_nchw_python(a_np, w_np, stride, padding, groups: int = 1):
    """Reference NCHW convolution (``padding``: int, (h, w) or (top, left, bottom, right))."""
    if groups != 1:
        raise NotImplementedError("topi.testing.conv2d_nchw_python(groups>1)")
    sh, sw = _pairs(stride)
    if isinstance(padding, int) or len(padding) == 2:
        ph, pw = _pairs(padding)
        top, left, bottom, right = ph, pw, ph, pw
    else:
        top, left, bottom, right = padding
    padded = np.pad(a_np, ((0, 0), (0, 0), (top, bottom), (left, right)))
    batch, _, height, width = padded.shape
    out_c, in_c, kh, kw = w_np.shape
    out_h, out_w = (height - kh) // sh + 1, (width - kw) // sw + 1
    out = np.zeros((batch, out_c, out_h, out_w), dtype=np.result_type(a_np, w_np))
    for y in range(kh):
        for x in range(kw):
            window = padded[:, :, y:y + sh * out_h:sh, x:x + sw * out_w:sw]
            out += np.einsum("nchw,oc->nohw", window, w_np[:, :, y, x])
    return out


def softmax_python(a_np, axis: int = -1):
    shifted = a_np - a_np.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def dense_python(data, weight, bias=None):
    out = data @ weight.T
    return out if bias is None else out + bias


def _default_schedule(kind: str):
    def get(target):
        name = str(target).split()[0]
        if name != "llvm":
            raise NotImplementedError(
                f"topi.testing.get_{kind}_schedule({name!r}): tensorlang has no topi "
                f"schedules; for a GPU write one: split the fused axes and bind them to "
                f"blockIdx.x / threadIdx.x")

        def schedule(outs):
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            return create_schedule([t.op for t in outs])
        return schedule
    get.__name__ = f"get_{kind}_schedule"
    get.__doc__ = (f"TVM's ``topi.testing.get_{kind}_schedule(target)``: on llvm, the "
                   f"default schedule of the outputs (tensorlang's loops as declared)")
    return get


testing = types.ModuleType("tvm.topi.testing", "numpy references of topi operators")
testing.conv2d_nchw_python = conv2d_nchw_python
testing.softmax_python = softmax_python
testing.dense_python = dense_python
testing.get_elemwise_schedule = _default_schedule("elemwise")
testing.get_broadcast_schedule = _default_schedule("broadcast")
testing.get_injective_schedule = _default_schedule("injective")

#: the tags tensorlang's operators carry under TVM's names (``(A + B).op.tag``)
tag = types.ModuleType("tvm.topi.tag", "topi.tag: operator tags")
tag.ELEMWISE, tag.BROADCAST, tag.INJECTIVE = "elemwise", "broadcast", "injective"


def get_const_tuple(in_tuple) -> tuple:
    """TVM's ``topi.utils.get_const_tuple``: the ints of a shape of constants (a shape
    variable stays as it is)."""
    return tuple(int(x.value) if hasattr(x, "value") and isinstance(x.value, int) else
                 x if not isinstance(x, (int, float)) else int(x) for x in in_tuple)


def get_const_int(expr) -> int:
    """TVM's ``topi.utils.get_const_int``."""
    value = getattr(expr, "value", expr)
    if not isinstance(value, int):
        raise ValueError(f"topi.utils.get_const_int: '{expr}' is not a constant integer")
    return value


utils = types.ModuleType("tvm.topi.utils", "topi.utils: constant shapes")
utils.get_const_tuple, utils.get_const_int = get_const_tuple, get_const_int
nn.pooling = types.ModuleType("tvm.topi.nn.pooling", "topi.nn.pooling")
nn.pooling.pool2d = pool2d

#: the submodules a ``from tvm.topi.nn.pooling import pool2d`` finds in sys.modules
SUBMODULES = {"tvm.topi.nn": nn, "tvm.topi.nn.pooling": nn.pooling, "tvm.topi.utils": utils,
              "tvm.topi.testing": testing, "tvm.topi.tag": tag}

