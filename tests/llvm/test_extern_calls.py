"""Compiled code calling registered Python functions: te.extern stages and
tir.call_packed on the llvm target (the interpreter too where the case is shared), each
result checked against numpy; failures, the compile cache, and what is refused."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import tensorlang as tl
from registry_helpers import registered
from tensorlang import te, tir
from tensorlang.contrib import cblas
from tensorlang.errors import BuildError, ExternCallError
from tensorlang.target.llvm import build as llvm_build
from tensorlang.target.llvm import cache, load_artifact
from tensorlang.target.llvm.build import _ir_key
from tensorlang.te.reference import evaluate
from tensorlang.tir import stmt as S
from tensorlang.tir.interpreter import interpret


def add_one(x, y):
    y[...] = x + 1


def unary_extern(A, name, *extra):
    return te.extern(A.shape, [A], lambda ins, outs: tir.call_packed(name, ins[0], outs[0],
                                                                      *extra), name="B")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def test_one_dimensional_callback_against_the_reference():
    A = te.placeholder((33,), name="A")
    B = unary_extern(A, "test.llvm.add_one")
    s = tl.create_schedule(B.op)
    mod = tl.build(s, [A, B])
    a, b = rand(33), np.zeros(33, "float32")
    with registered("test.llvm.add_one", add_one):
        mod(a, b)
        [expected] = evaluate([B], {A: a})
    np.testing.assert_array_equal(b, expected)
    np.testing.assert_array_equal(b, a + 1)


@pytest.mark.parametrize("runner", ["llvm", "interpreter"])
@pytest.mark.parametrize("spelling", ["call_packed", "contrib"])
def test_the_cblas_tutorial_with_a_fused_bias(runner, spelling):
    n, l, m = 64, 24, 35
    bias = te.var("bias", dtype="float32")
    A, B = te.placeholder((n, l), name="A"), te.placeholder((l, m), name="B")
    if spelling == "call_packed":
        C = te.extern((n, m), [A, B], lambda ins, outs: tir.call_packed(
            "tvm.contrib.cblas.matmul", ins[0], ins[1], outs[0], False, False), name="C")
    else:
        C = cblas.matmul(A, B)
    D = te.compute(C.shape, lambda i, j: C[i, j] + bias, name="D")
    s = tl.create_schedule(D.op)
    io, ii = s[D].split(D.op.axis[0], 8)
    jo, ji = s[D].split(D.op.axis[1], 8)
    s[D].reorder(io, jo, ii, ji)
    s[D].parallel(io)
    s[D].vectorize(ji)
    a, b = rand(n, l, seed=1), rand(l, m, seed=2)
    d = np.zeros((n, m), "float32")
    if runner == "llvm":
        tl.build(s, [A, B, D, bias])(a, b, d, 10.0)
    else:
        interpret(tl.lower(s, [A, B, D, bias]), a, b, d, 10.0)
    np.testing.assert_allclose(d, a @ b + 10.0, rtol=1e-5, atol=1e-5)
    [expected] = evaluate([D], {A: a, B: b}, shape_vars={bias: 10.0})
    np.testing.assert_allclose(d, expected, rtol=1e-5, atol=1e-5)


def test_transposed_and_batched_cblas_stages():
    A, B = te.placeholder((6, 4), name="A"), te.placeholder((5, 6), name="B")
    C = cblas.matmul(A, B, transa=True, transb=True)
    X, Y = te.placeholder((3, 4, 6), name="X"), te.placeholder((1, 6, 2), name="Y")
    Z = cblas.batch_matmul(X, Y, name="Z")
    assert [int(d) for d in C.shape] == [4, 5] and [int(d) for d in Z.shape] == [3, 4, 2]
    a, b, x, y = rand(6, 4), rand(5, 6), rand(3, 4, 6), rand(1, 6, 2)
    c, z = np.zeros((4, 5), "float32"), np.zeros((3, 4, 2), "float32")
    tl.build(tl.create_schedule(C.op), [A, B, C])(a, b, c)
    tl.build(tl.create_schedule(Z.op), [X, Y, Z])(x, y, z)
    np.testing.assert_allclose(c, a.T @ b.T, rtol=1e-5)
    np.testing.assert_allclose(z, x @ y, rtol=1e-5)


def test_an_extern_read_by_a_stage_computed_at_its_consumer():
    A = te.placeholder((16, 12), name="A")
    B = unary_extern(A, "test.llvm.scale", 3.0)
    C = te.compute(A.shape, lambda i, j: B[i, j] * B[i, j], name="C")
    D = te.compute(A.shape, lambda i, j: C[i, j] - A[i, j], name="D")
    s = tl.create_schedule(D.op)
    xo, xi = s[D].split(D.op.axis[0], 4)
    s[C].compute_at(s[D], xo)
    s[D].parallel(xo)
    a, d = rand(16, 12), np.zeros((16, 12), "float32")
    with registered("test.llvm.scale", lambda x, y, f: np.multiply(x, f, out=y)):
        tl.build(s, [A, D])(a, d)
        [expected] = evaluate([D], {A: a})
    np.testing.assert_allclose(d, (a * 3) ** 2 - a, rtol=1e-5)
    np.testing.assert_allclose(d, expected, rtol=1e-6)


def test_strided_inputs_and_non_contiguous_outputs():
    seen = []

    def record(x, y):
        seen.append((x.strides, x.flags.writeable, y.flags.writeable))
        y[...] = x * 2

    A = te.placeholder((6, 5), name="A")
    P = te.compute(A.shape, lambda i, j: A[i, j] + 1.0, name="P")
    B = te.extern(P.shape, [P], lambda ins, outs: tir.call_packed("test.llvm.record", ins[0],
                                                                  outs[0]), name="B")
    s = tl.create_schedule(B.op)
    s[P].storage_align(P.op.axis[0], 8, 1)         # rows of P padded to 9 elements
    mod = tl.build(s, [A, B])
    a = rand(6, 5)
    wide = np.zeros((6, 10), "float32")
    with registered("test.llvm.record", record):
        mod(a, wide[:, ::2])                        # the module copies and writes back
    np.testing.assert_allclose(wide[:, ::2], (a + 1) * 2, rtol=1e-6)
    np.testing.assert_array_equal(wide[:, 1::2], 0)
    assert seen == [((9 * 4, 4), False, True)]


def test_several_outputs_and_scalar_arguments():
    received = []

    def split(x, low, high, n, threshold, flag, label, count):
        received.append((n, threshold, flag, label, count))
        np.minimum(x, threshold, out=low)
        np.maximum(x, threshold, out=high)

    n = te.var("n")
    k = te.var("k", dtype="int64")
    A = te.placeholder((n,), name="A")
    low, high = te.extern([(n,), (n,)], [A], lambda ins, outs: tir.call_packed(
        "test.llvm.split", ins[0], outs[0], outs[1], n, 0.25, True, "split", k), name="S")
    R = te.compute((n,), lambda i: low[i] + high[i] * 2.0, name="R")
    mod = tl.build(tl.create_schedule(R.op), [A, R, k])
    a, r = rand(9), np.zeros(9, "float32")
    with registered("test.llvm.split", split):
        mod(a, r, -(2 ** 40))
        [expected] = evaluate([R], {A: a}, shape_vars={k: -(2 ** 40)})
    np.testing.assert_allclose(r, np.minimum(a, 0.25) + 2 * np.maximum(a, 0.25), rtol=1e-6)
    np.testing.assert_allclose(r, expected, rtol=1e-6)
    assert received == [(9, 0.25, True, "split", -(2 ** 40))] * 2
    assert [type(v) for v in received[0]] == [int, float, bool, str, int]


def test_a_failing_function_is_named_and_later_calls_are_skipped():
    calls = []

    def fail(x, y):
        calls.append("fail")
        raise ValueError("bad input")

    A = te.placeholder((4,), name="A")
    B = te.extern(A.shape, [A], lambda ins, outs: [
        tir.call_packed("test.llvm.fail", ins[0], outs[0]),
        tir.call_packed("test.llvm.after", outs[0], outs[0])], name="B")
    mod = tl.build(tl.create_schedule(B.op), [A, B])
    a, b = np.ones(4, "float32"), np.zeros(4, "float32")
    with registered("test.llvm.fail", fail), \
            registered("test.llvm.after", lambda x, y: calls.append("after")):
        with pytest.raises(ExternCallError, match="function 'test.llvm.fail' raised "
                                                  "ValueError: bad input") as info:
            mod(a, b)
        assert isinstance(info.value.__cause__, ValueError)
        assert calls == ["fail"]
        with pytest.raises(ExternCallError, match="test.llvm.fail"):
            mod.time(a, b, number=2, repeat=1)
        calls.clear()
        tl.register_func("test.llvm.fail", add_one, override=True)
        mod(a, b)                                   # the new function, looked up per call
        assert calls == ["after"]
    np.testing.assert_array_equal(b, a + 1)


def test_names_are_looked_up_at_call_time_also_from_the_compile_cache():
    A = te.placeholder((8,), name="A")
    B = unary_extern(A, "test.llvm.late")
    func = tl.lower(tl.create_schedule(B.op), [A, B])
    mod = llvm_build(func)                          # nothing registered yet: builds
    a, b = rand(8), np.zeros(8, "float32")
    with pytest.raises(ExternCallError, match="function 'test.llvm.late' is not registered"):
        mod(a, b)
    with registered("test.llvm.late", add_one):
        mod(a, b)
        np.testing.assert_array_equal(b, a + 1)
    from_cache = llvm_build(func)                   # the cached object code and signature
    key = cache.make_key(_ir_key(func), tl.Target("llvm").cache_key(), "bounds_check=False "
                         "opt_level=3")
    assert cache.load(key) is not None
    with pytest.raises(ExternCallError, match="function 'test.llvm.late' is not registered"):
        from_cache(a, b)
    # another name is another cache entry, calling its own function
    B2 = unary_extern(A, "test.llvm.other")
    other = tl.lower(tl.create_schedule(B2.op), [A, B2])
    assert _ir_key(other) != _ir_key(func)
    with registered("test.llvm.other", lambda x, y: np.multiply(x, 5, out=y)), \
            registered("test.llvm.late", add_one):
        llvm_build(other)(a, b)
        np.testing.assert_array_equal(b, a * 5)
        load_artifact(llvm_build(func).artifact())(a, b)
        np.testing.assert_array_equal(b, a + 1)


def test_modules_called_from_several_threads():
    A = te.placeholder((256,), name="A")
    B = unary_extern(A, "test.llvm.threads")
    mod = tl.build(tl.create_schedule(B.op), [A, B])
    results, errors = {}, []

    def run(k):
        try:
            a, b = np.full(256, k, "float32"), np.zeros(256, "float32")
            for _ in range(20):
                mod(a, b)
            results[k] = b
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    with registered("test.llvm.threads", add_one):
        threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    for k, b in results.items():
        np.testing.assert_array_equal(b, np.full(256, k + 1, "float32"))


def test_a_call_inside_a_parallel_loop_is_refused():
    X = tir.decl_buffer((4, 8), "float32", "X")
    i = tir.var("i")
    body = S.For(i, tir.const(0), tir.const(4), S.ForKind.PARALLEL,
                 S.Evaluate(tir.call_packed("test.llvm.row", X, i)))
    with pytest.raises(BuildError, match="the call of 'test.llvm.row' .* is inside a parallel "
                                         "loop"):
        llvm_build(S.PrimFunc("rows", (X,), body), use_cache=False)


def test_export_and_cuda_are_refused(tmp_path):
    A = te.placeholder((8,), name="A")
    B = unary_extern(A, "test.llvm.add_one")
    s = tl.create_schedule(B.op)
    with pytest.raises(BuildError, match="calls the registered Python function\\(s\\) "
                                         "'test.llvm.add_one' .*shared library cannot"):
        tl.build(s, [A, B]).export_library(str(tmp_path / "f.so"))
    with pytest.raises(BuildError, match="'test.llvm.add_one' .*CUDA kernels cannot call"):
        tl.build(s, [A, B], target="cuda")
