"""Matrix products by BLAS as extern stages, as TVM's ``tvm.contrib.cblas``.

>>> C = cblas.matmul(A, B)                       # a te.extern stage
>>> D = te.compute(C.shape, lambda i, j: C[i, j] + bias, name="D")

The stages call the registered functions ``tl.contrib.cblas.matmul`` and
``tl.contrib.cblas.batch_matmul`` (also registered under TVM's names,
``tvm.contrib.cblas.matmul``, ``tvm.contrib.cblas.batch_matmul`` and
``tvm.contrib.cblas.batch_matmul_iterative``, so TVM programs that call them with
``tir.call_packed`` run), which compute with ``numpy.matmul``: the BLAS numpy is linked
to for float32 / float64, numpy's own loops for other types.
"""
from __future__ import annotations

import numpy as np

from .. import te
from ..te.math import maximum
from ..tir.packed import call_packed
from ..tir.registry import register_func

MATMUL = "tl.contrib.cblas.matmul"
BATCH_MATMUL = "tl.contrib.cblas.batch_matmul"


def matmul_function(a, b, c, transa=False, transb=False) -> None:
    """``c = op(a) @ op(b)``, ``op`` transposing where asked (numpy arrays)."""
    np.matmul(a.T if transa else a, b.T if transb else b, out=c)


def batch_matmul_function(a, b, c, transa=False, transb=False) -> None:
    """``c[k] = op(a[k]) @ op(b[k])``; a batch of 1 is broadcast over the other's."""
    np.matmul(np.swapaxes(a, 1, 2) if transa else a, np.swapaxes(b, 1, 2) if transb else b,
              out=c)


for _name, _function in ((MATMUL, matmul_function), ("tvm.contrib.cblas.matmul",
                                                      matmul_function),
                         (BATCH_MATMUL, batch_matmul_function),
                         ("tvm.contrib.cblas.batch_matmul", batch_matmul_function),
                         ("tvm.contrib.cblas.batch_matmul_iterative", batch_matmul_function)):
    register_func(_name, _function, override=True)  # override: reloading the module


def matmul(lhs, rhs, transa: bool = False, transb: bool = False, **kwargs):
    """The extern stage ``C = op(lhs) @ op(rhs)`` of shape (n, m) (``name="C"`` unless
    given; other keyword arguments go to ``te.extern``)."""
    n = lhs.shape[1] if transa else lhs.shape[0]
    m = rhs.shape[0] if transb else rhs.shape[1]
    kwargs.setdefault("name", "C")
    return te.extern((n, m), [lhs, rhs],
                     lambda ins, outs: call_packed(MATMUL, ins[0], ins[1], outs[0], transa,
                                                   transb), **kwargs)


def batch_matmul(lhs, rhs, transa: bool = False, transb: bool = False,
                 iterative: bool = False, **kwargs):
    """The extern stage of shape (batch, n, m) computing ``op(lhs[k]) @ op(rhs[k])``
    (``iterative`` is accepted for TVM's sake: the computation is the same)."""
    batch = maximum(lhs.shape[0], rhs.shape[0])
    n = lhs.shape[2] if transa else lhs.shape[1]
    m = rhs.shape[1] if transb else rhs.shape[2]
    kwargs.setdefault("name", "C")
    return te.extern((batch, n, m), [lhs, rhs],
                     lambda ins, outs: call_packed(BATCH_MATMUL, ins[0], ins[1], outs[0],
                                                   transa, transb), **kwargs)


__all__ = ["MATMUL", "BATCH_MATMUL", "matmul", "batch_matmul", "matmul_function",
           "batch_matmul_function"]
