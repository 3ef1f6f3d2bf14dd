"""TVM's "Intrinsics and Math Functions" tutorial through ``tensorlang.compat.tvm``: exp on
CUDA, a device function called by name (``call_pure_extern``), a lowering rule replacing
``tir.exp`` for cuda, and a new intrinsic ``tir.mylog`` declared and lowered; the CUDA
sections emulated, every result checked against numpy."""
from __future__ import annotations

import numpy as np
import pytest

from tensorlang.compat import tvm
import tvm.testing  # noqa: E402,F811
from tvm import te  # noqa: E402
from tvm.ir import register_intrin_lowering, register_op_attr  # noqa: E402
from tensorlang.settings import settings  # noqa: E402
from tensorlang.tir import intrin_rules, intrin_table  # noqa: E402


@pytest.fixture(autouse=True)
def forget_rules(monkeypatch):
    monkeypatch.setattr(intrin_rules, "_RULES", dict(intrin_rules._RULES))
    monkeypatch.setattr(intrin_table, "_DECLARED", dict(intrin_table._DECLARED))


def exp_schedule(fcompute):
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute(A.shape, lambda i: fcompute(A[i]), name="B")
    s = te.create_schedule(B.op)
    num_thread = 64
    bx, tx = s[B].split(B.op.axis[0], factor=num_thread)
    s[B].bind(bx, te.thread_axis("blockIdx.x"))
    s[B].bind(tx, te.thread_axis("threadIdx.x"))
    return s, A, B


def run_emulated(f, a_np):
    with settings.override(cuda_emulate=True):
        dev = tvm.cuda(0)
        a = tvm.nd.array(a_np, dev)
        b = tvm.nd.array(np.zeros_like(a_np), dev)
        f(a, b)
    return b.numpy()


def test_exp_and_a_device_function_by_name():
    a_np = np.random.uniform(-2, 2, size=333).astype("float32")
    s, A, B = exp_schedule(te.exp)
    f = tvm.build(s, [A, B], "cuda", name="myexp")
    assert "expf(" in f.imported_modules[0].get_source()
    tvm.testing.assert_allclose(run_emulated(f, a_np), np.exp(a_np), rtol=1e-5)

    s, A, B = exp_schedule(lambda x: tvm.tir.call_pure_extern("float32", "__expf", x))
    f = tvm.build(s, [A, B], "cuda", name="myexp")
    assert "__expf(" in f.imported_modules[0].get_source()
    tvm.testing.assert_allclose(run_emulated(f, a_np), np.exp(a_np), rtol=1e-5)


def test_a_lowering_rule_for_exp_on_cuda():
    seen = []

    def my_cuda_math_rule(op):
        """TVM's rule: call the float or double function of the same name."""
        assert isinstance(op.args, tuple)
        name = op.op.name
        assert name.startswith("tir.")
        seen.append(name)
        dispatch_name = name[4:]
        if op.dtype == "float32":
            return tvm.tir.call_pure_extern("float32", "%sf" % dispatch_name, op.args[0])
        elif op.dtype == "float64":
            return tvm.tir.call_pure_extern("float64", dispatch_name, op.args[0])
        return op

    register_intrin_lowering("tir.exp", target="cuda", f=my_cuda_math_rule, level=99)
    s, A, B = exp_schedule(te.exp)
    fcuda = tvm.build(s, [A, B], "cuda", name="myexp")
    assert seen and seen[0] == "tir.exp"
    assert "expf(" in fcuda.imported_modules[0].get_source()
    a_np = np.random.uniform(-2, 2, size=100).astype("float32")
    tvm.testing.assert_allclose(run_emulated(fcuda, a_np), np.exp(a_np), rtol=1e-5)
    # the rule is for cuda only: llvm keeps its own exp
    f = tvm.build(te.create_schedule(B.op), [A, B], "llvm")
    b = tvm.nd.array(np.zeros_like(a_np))
    f(tvm.nd.array(a_np), b)
    assert "expf" not in f.get_source("ll")
    tvm.testing.assert_allclose(b.numpy(), np.exp(a_np), rtol=1e-5)


def test_a_new_intrinsic_mylog():
    def mylog(x):
        """customized log intrinsic function"""
        return tvm.tir.call_intrin(x.dtype, "tir.mylog", x)

    def my_cuda_mylog_rule(op):
        """CUDA lowering rule for log"""
        if op.dtype == "float32":
            return tvm.tir.call_pure_extern("float32", "logf", op.args[0])
        elif op.dtype == "float64":
            return tvm.tir.call_pure_extern("float64", "log", op.args[0])
        return op

    register_op_attr("tir.mylog", "TCallEffectKind", tvm.tir.CallEffectKind.Pure)
    register_intrin_lowering("tir.mylog", target="cuda", f=my_cuda_mylog_rule, level=99)
    s, A, B = exp_schedule(mylog)
    fcuda = tvm.build(s, [A, B], "cuda", name="mylog")
    assert "logf(" in fcuda.imported_modules[0].get_source()
    a_np = np.random.uniform(0.1, 4, size=257).astype("float32")
    tvm.testing.assert_allclose(run_emulated(fcuda, a_np), np.log(a_np), rtol=1e-5)
    # no rule for llvm: building for the CPU says which rule to register
    with pytest.raises(tvm.error.TVMError, match="no lowering rule for llvm"):
        tvm.build(te.create_schedule(B.op), [A, B], "llvm")
    with pytest.raises(NotImplementedError, match="effects"):
        register_op_attr("tir.other", "TCallEffectKind", tvm.tir.CallEffectKind.Opaque)
