"""TVM's "Working with operators using tensor expression" tutorial, run through
``tensorlang.compat.tvm`` as a TVM user writes it (vector add: the naive schedule,
parallel, split + vectorize; time_evaluator; export and load), checked against numpy."""
from __future__ import annotations

import numpy as np

from tensorlang.compat import tvm
import tvm.testing  # noqa: E402,F811  (the TVM spellings, installed by the import above)
from tvm import te  # noqa: E402
from tvm.contrib import utils  # noqa: E402


def _vector_add():
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.placeholder((n,), name="B")
    C = te.compute(A.shape, lambda i: A[i] + B[i], name="C")
    return A, B, C


def _arrays(A, B, C, dev, n=1024):
    rng = np.random.default_rng(0)
    a = tvm.nd.array(rng.uniform(size=n).astype(A.dtype), dev)
    b = tvm.nd.array(rng.uniform(size=n).astype(B.dtype), dev)
    c = tvm.nd.array(np.zeros(n, dtype=C.dtype), dev)
    return a, b, c


def test_naive_build_runs_and_times():
    tgt = tvm.target.Target(target="llvm", host="llvm")
    A, B, C = _vector_add()
    s = te.create_schedule(C.op)
    fadd = tvm.build(s, [A, B, C], tgt, name="myadd")
    dev = tvm.device(tgt.kind.name, 0)
    a, b, c = _arrays(A, B, C, dev)
    fadd(a, b, c)
    tvm.testing.assert_allclose(c.numpy(), a.numpy() + b.numpy())
    evaluator = fadd.time_evaluator(fadd.entry_name, dev, number=10)
    result = evaluator(a, b, c)
    assert result.mean > 0 and len(result.results) == 1


def test_parallel_and_vectorized_schedules():
    A, B, C = _vector_add()
    dev = tvm.device("llvm", 0)
    s = te.create_schedule(C.op)
    s[C].parallel(C.op.axis[0])
    assert "parallel" in str(tvm.lower(s, [A, B, C], simple_mode=True))
    fadd_parallel = tvm.build(s, [A, B, C], "llvm", name="myadd_parallel")
    a, b, c = _arrays(A, B, C, dev)
    fadd_parallel(a, b, c)
    tvm.testing.assert_allclose(c.numpy(), a.numpy() + b.numpy())

    s = te.create_schedule(C.op)
    factor = 4
    outer, inner = s[C].split(C.op.axis[0], factor=factor)
    s[C].parallel(outer)
    s[C].vectorize(inner)
    fadd_vector = tvm.build(s, [A, B, C], "llvm", name="myadd_vector")
    a, b, c = _arrays(A, B, C, dev, n=1023)   # a tail the vector split does not divide
    fadd_vector(a, b, c)
    tvm.testing.assert_allclose(c.numpy(), a.numpy() + b.numpy())


def test_export_and_load_module():
    A, B, C = _vector_add()
    s = te.create_schedule(C.op)
    fadd = tvm.build(s, [A, B, C], "llvm", name="myadd")
    temp = utils.tempdir()
    fadd.export_library(temp.relpath("myadd.so"))
    assert "myadd.so" in temp.listdir()
    fadd1 = tvm.runtime.load_module(temp.relpath("myadd.so"))
    a, b, c = _arrays(A, B, C, tvm.cpu(0))
    fadd1(a, b, c)
    tvm.testing.assert_allclose(c.numpy(), a.numpy() + b.numpy())


def test_cuda_section_runs_emulated(monkeypatch):
    """The tutorial's GPU section: split, bind to blocks and threads, build for cuda."""
    from tensorlang.settings import settings
    A, B, C = _vector_add()
    s = te.create_schedule(C.op)
    bx, tx = s[C].split(C.op.axis[0], factor=64)
    s[C].bind(bx, te.thread_axis("blockIdx.x"))
    s[C].bind(tx, te.thread_axis("threadIdx.x"))
    fadd = tvm.build(s, [A, B, C], tvm.target.Target(target="cuda", host="llvm"),
                     name="myadd")
    assert "__global__" in fadd.imported_modules[0].get_source()
    with settings.override(cuda_emulate=True):
        dev = tvm.device("cuda", 0)
        assert dev.exist
        a, b, c = _arrays(A, B, C, dev, n=300)
        fadd(a, b, c)
    tvm.testing.assert_allclose(c.numpy(), a.numpy() + b.numpy())
