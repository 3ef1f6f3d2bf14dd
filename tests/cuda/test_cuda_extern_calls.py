"""CUDA device functions called by name (tir.call_pure_extern) and declared intrinsics
lowered by rules for cuda: the CUDA C they print, emulated on the CPU against numpy,
compiled with nvcc, and run on a GPU where there is one."""
import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te, tir
from tensorlang.target.cuda import compile_cuda
from tensorlang.tir import intrin_rules, intrin_table

RNG = np.random.default_rng(3)


@pytest.fixture
def rules(monkeypatch):
    monkeypatch.setattr(intrin_rules, "_RULES", dict(intrin_rules._RULES))
    monkeypatch.setattr(intrin_table, "_DECLARED", dict(intrin_table._DECLARED))


def bound(fcompute, name="B"):
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: fcompute(A[i]), name=name)
    s = te.create_schedule(B.op)
    bx, tx = s[B].split(B.op.axis[0], factor=64)
    s[B].bind(bx, te.thread_axis("blockIdx.x"))
    s[B].bind(tx, te.thread_axis("threadIdx.x"))
    return s, [A, B]


def declare_mylog():
    tir.register_intrin("mylog", num_args=1)
    for target, symbol in (("cuda", "__logf"), ("llvm", "logf")):
        tir.register_intrin_lowering(
            "mylog", target,
            lambda c, symbol=symbol: tir.call_pure_extern("float32", symbol, c.args[0]))


def test_device_functions_by_name_emulated():
    s, args = bound(lambda x: tir.call_pure_extern("float32", "__expf", x))
    mod = tl.build(s, args, target="cuda")
    assert "__expf(A[" in mod.get_source("cuda")
    a = RNG.standard_normal(200).astype("float32")
    out = np.zeros_like(a)
    mod.emulate(a, out)
    np.testing.assert_allclose(out, np.exp(a), rtol=1e-6)


def test_a_declared_intrinsic_lowered_for_cuda(rules):
    declare_mylog()
    s, args = bound(lambda x: tir.call_intrin("mylog", x))
    source = tl.build(s, args, target="cuda").get_source("cuda")
    assert "__logf(A[" in source and "mylog" not in source
    mod = tl.build(s, args, target="cuda")
    a = RNG.random(130).astype("float32") + 0.1
    out = np.zeros_like(a)
    mod.emulate(a, out)
    np.testing.assert_allclose(out, np.log(a), rtol=1e-6)
    # the llvm rule of the same intrinsic: the CPU computes the same numbers
    cpu = np.zeros_like(a)
    tl.build(te.create_schedule(args[1].op), args)(a, cpu)
    np.testing.assert_allclose(cpu, out, rtol=1e-6)


def test_extern_calls_compile_with_nvcc(nvcc_cached, rules):
    declare_mylog()
    for fcompute in (lambda x: tir.call_pure_extern("float32", "__expf", x),
                     lambda x: tir.call_pure_extern("float32", "powf", x, 2.0),
                     lambda x: tir.call_intrin("mylog", x)):
        s, args = bound(fcompute)
        ptx = compile_cuda(tl.build(s, args, target="cuda").get_source("cuda"), "sm_80",
                           "ptx").decode()
        assert ".target sm_80" in ptx


@pytest.mark.gpu
def test_extern_calls_on_the_gpu(gpu, monkeypatch, rules):
    monkeypatch.delenv("TL_CUDA_EMULATE", raising=False)
    declare_mylog()
    a = RNG.random(1000).astype("float32") + 0.1
    for fcompute, expected in ((lambda x: tir.call_pure_extern("float32", "__expf", x),
                                np.exp(a)),
                               (lambda x: tir.call_intrin("mylog", x), np.log(a))):
        s, args = bound(fcompute)
        out = np.zeros_like(a)
        tl.build(s, args, target="cuda")(a, out)
        np.testing.assert_allclose(out, expected, rtol=1e-5)
