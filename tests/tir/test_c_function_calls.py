"""C functions called by symbol (tir.call_pure_extern / call_extern) and intrinsics users
declare with lowering rules (tir.register_intrin / register_intrin_lowering): each engine
(llvm, the interpreter, the numpy reference) against numpy, and what is refused."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te, tir
from tensorlang.errors import BuildError, TensorLangTypeError, TensorLangValueError
from tensorlang.te.reference import evaluate
from tensorlang.tir import intrin_rules, intrin_table
from tensorlang.tir.interpreter import interpret

RNG = np.random.default_rng(11)


@pytest.fixture
def rules(monkeypatch):
    """Declarations and rules made by a test are forgotten after it."""
    monkeypatch.setattr(intrin_rules, "_RULES", dict(intrin_rules._RULES))
    monkeypatch.setattr(intrin_table, "_DECLARED", dict(intrin_table._DECLARED))
    return intrin_rules


def run_everywhere(s, args, inputs, out_shape, dtype):
    """The outputs of the llvm module, the interpreter and the reference."""
    mod = tl.build(s, args)
    outs = []
    for runner in (mod, lambda *a: interpret(tl.lower(s, args), *a)):
        out = np.zeros(out_shape, dtype)
        runner(*inputs, out)
        outs.append(out)
    outs.append(evaluate([args[-1]], dict(zip(args[:-1], inputs)))[0])
    return mod, outs


@pytest.mark.parametrize("schedule", ["plain", "vectorized", "parallel"])
def test_expf_by_symbol(schedule):
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: tir.call_pure_extern("float32", "expf", A[i]), name="B")
    s = te.create_schedule(B.op)
    if schedule != "plain":
        outer, inner = s[B].split(B.op.axis[0], factor=8)
        (s[B].vectorize if schedule == "vectorized" else s[B].parallel)(
            inner if schedule == "vectorized" else outer)
    a = RNG.standard_normal(37).astype("float32")
    mod, outs = run_everywhere(s, [A, B], [a], a.shape, "float32")
    assert "expf" in mod.get_source("ll")
    for out in outs:
        np.testing.assert_allclose(out, np.exp(a), rtol=1e-6)
    np.testing.assert_array_equal(outs[0], outs[2])  # the same C function


def test_integer_and_double_functions_of_two_arguments():
    A = te.placeholder((9,), name="A", dtype="int32")
    X = te.placeholder((9,), name="X", dtype="float64")
    B = te.compute((9,), lambda i: tir.call_extern("int32", "abs", A[i]), name="B")
    C = te.compute((9,), lambda i: tir.call_pure_extern("float64", "pow", X[i], 1.5)
                   + B[i].astype("float64"), name="C")
    s = te.create_schedule(C.op)
    a = RNG.integers(-50, 50, 9).astype("int32")
    x = RNG.random(9)
    _, outs = run_everywhere(s, [A, X, C], [a, x], (9,), "float64")
    for out in outs:
        np.testing.assert_allclose(out, np.power(x, 1.5) + np.abs(a), rtol=1e-12)


def test_refusals_say_what_to_do():
    A = te.placeholder((4,), name="A")
    buf = tir.decl_buffer((4,), "float32", name="buf")
    with pytest.raises(TensorLangTypeError, match="is a buffer.*tl.register_func"):
        tir.call_pure_extern("float32", "expf", buf)
    with pytest.raises(TensorLangTypeError, match="is the tensor 'A'.*'A\\[i\\]'"):
        tir.call_pure_extern("float32", "expf", A)
    with pytest.raises(TensorLangTypeError, match="C identifier"):
        tir.call_pure_extern("float32", "exp f", 1.0)
    with pytest.raises(TensorLangTypeError, match="not a C scalar type"):
        tir.call_pure_extern("float32x4", "expf", 1.0)
    B = te.compute((4,), lambda i: tir.call_pure_extern("float32", "tl_no_such_fn", A[i]),
                   name="B")
    with pytest.raises(BuildError, match="'tl_no_such_fn', which is not loaded.*ctypes.CDLL"):
        tl.build(te.create_schedule(B.op), [A, B])
    with pytest.raises(TensorLangValueError, match="no C function 'tl_no_such_fn'"):
        evaluate([B], {A: np.zeros(4, "float32")})


def test_a_declared_intrinsic_lowered_per_target(rules):
    tir.register_intrin("mylog", num_args=1)
    seen = []

    def to_logf(call):
        seen.append(call.op)
        return tir.call_pure_extern("float32", "logf", call.args[0])
    tir.register_intrin_lowering("mylog", "llvm", to_logf)
    A = te.placeholder((20,), name="A")
    B = te.compute((20,), lambda i: tir.call_intrin("mylog", A[i]) * 2.0, name="B")
    s = te.create_schedule(B.op)
    a = RNG.random(20).astype("float32") + 0.5
    out = np.zeros_like(a)
    tl.build(s, [A, B])(a, out)
    assert seen and set(seen) == {"mylog"}   # the rule saw the call
    np.testing.assert_allclose(out, 2 * np.log(a), rtol=1e-6)
    np.testing.assert_allclose(evaluate([B], {A: a})[0], out, rtol=1e-6)
    # a new rule of a higher level compiles anew (the compile cache sees the lowered IR)
    tir.register_intrin_lowering(
        "mylog", "llvm", lambda c: tir.call_pure_extern("float32", "log2f", c.args[0]),
        level=20)
    tl.build(s, [A, B])(a, out)
    np.testing.assert_allclose(out, 2 * np.log2(a), rtol=1e-6)
    # a lower level leaves the rule; the same level needs override=True
    tir.register_intrin_lowering("mylog", "llvm", to_logf, level=5)
    with pytest.raises(TensorLangValueError, match="override=True"):
        tir.register_intrin_lowering("mylog", "llvm", to_logf, level=20)
    tl.build(s, [A, B])(a, out)
    np.testing.assert_allclose(out, 2 * np.log2(a), rtol=1e-6)


def test_declared_intrinsics_refused_where_no_rule_applies(rules):
    tir.register_intrin("myfn")
    A = te.placeholder((4,), name="A")
    B = te.compute((4,), lambda i: tir.call_intrin("myfn", A[i]), name="B")
    s = te.create_schedule(B.op)
    with pytest.raises(BuildError, match=r"'myfn' has no lowering rule for llvm.*"
                                         r"register_intrin_lowering\('myfn', 'llvm'"):
        tl.build(s, [A, B])
    with pytest.raises(TensorLangValueError, match="'myfn' has no lowering rule"):
        evaluate([B], {A: np.ones(4, "float32")})
    tir.register_intrin_lowering("myfn", "default",
                                 lambda c: tir.call_pure_extern("float64", "exp", 1.0))
    with pytest.raises(TensorLangTypeError, match="must keep the type"):
        tl.build(s, [A, B])
    with pytest.raises(TensorLangValueError, match="unknown intrinsic"):
        tir.register_intrin_lowering("never_declared", "llvm", lambda c: c)
    with pytest.raises(TensorLangValueError, match="tensorlang's own"):
        tir.register_intrin("exp")
    with pytest.raises(TensorLangValueError, match="is not one of"):
        tir.register_intrin_lowering("myfn", "vulkan", lambda c: c)
    with pytest.raises(TensorLangTypeError, match="takes 1 argument"):
        tir.register_intrin("one", num_args=1)
        tir.call_intrin("one", 1.0, 2.0)


def test_rules_for_builtin_math_and_the_default_target(rules):
    """A rule for tensorlang's own exp replaces its code on that target only."""
    tir.register_intrin_lowering("exp", "llvm",
                                 lambda c: tir.call_pure_extern("float32", "expf", c.args[0]))
    A = te.placeholder((16,), name="A")
    B = te.compute((16,), lambda i: te.exp(A[i]), name="B")
    mod = tl.build(te.create_schedule(B.op), [A, B])
    assert "@expf" in mod.get_source("ll")
    a = RNG.standard_normal(16).astype("float32")
    out = np.zeros_like(a)
    mod(a, out)
    np.testing.assert_allclose(out, np.exp(a), rtol=1e-6)


def test_tuning_checks_extern_calls_against_the_reference(tmp_path):
    from tensorlang.autotune import MeasureOptions
    A = te.placeholder((64, 32), name="A")
    B = te.compute((64, 32), lambda i, j: tir.call_pure_extern("float32", "tanhf", A[i, j]),
                   name="B")
    res = tl.autotune(B, trials=4, batch_size=4, log_file=str(tmp_path / "log.jsonl"),
                      measure_options=MeasureOptions(timeout=5.0, min_timeout=1.0,
                                                     min_measure_seconds=0.005),
                      verbose=0, n_parallel=2, population_size=8, num_generations=1,
                      retime=0)
    a = RNG.standard_normal((64, 32)).astype("float32")
    out = np.zeros_like(a)
    res.build()(a, out)
    np.testing.assert_allclose(out, np.tanh(a), rtol=1e-6)
