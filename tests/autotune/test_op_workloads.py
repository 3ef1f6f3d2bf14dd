"""Each named workload of ``tensorlang tune`` and numpy's computation of it, the reference
its tuned speed is printed against, compute the same thing."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang.autotune.op_workloads import WORKLOADS, make_workload, numpy_equivalent
from tensorlang.autotune.workload_space import make_space
from tensorlang.te.graph import PlaceholderOp

#: sizes small enough for the unscheduled build, odd where the workload allows
SIZES = {"matmul": 17, "batch_matmul": 9, "conv2d": 7, "softmax": 13, "layer_norm": 11,
         "pool2d": 9, "relu": 5, "gemv": 13, "conv1d": 11,
         "attention": 9}


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_numpy_equivalent_computes_the_workload(name):
    outputs = make_workload(name, SIZES[name])
    tensors = make_space(outputs, "llvm", None, (), None).args  # as tuning orders them
    module = tl.build(tl.create_schedule([t.op for t in outputs]), tensors, name=f"w_{name}")
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal([int(d.value) for d in t.shape]).astype(str(t.dtype))
              for t in tensors]
    module(*arrays)
    inputs = [a for a, t in zip(arrays, tensors) if isinstance(t.op, PlaceholderOp)]
    expected = np.full_like(arrays[-1], np.nan)
    numpy_equivalent(name)(*inputs, out=expected)
    # float32 sums in another order (numpy's BLAS kernel differs between CPUs): an
    # absolute error on the scale of the largest output, not of each one
    np.testing.assert_allclose(expected, arrays[-1], rtol=1e-4,
                               atol=1e-5 * max(1.0, float(np.abs(expected).max())))


def test_a_workload_without_a_numpy_equivalent_has_none():
    assert numpy_equivalent("no_such_workload") is None
    assert numpy_equivalent("layer-norm") is numpy_equivalent("layer_norm")
