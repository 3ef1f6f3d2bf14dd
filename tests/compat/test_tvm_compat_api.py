"""``tensorlang.compat.tvm``'s own surface: the module aliases, devices and arrays, targets,
lower/build, topi, and every refusal naming the TVM construct and what to write instead."""
from __future__ import annotations

import sys
import types
import warnings

import numpy as np
import pytest

from tensorlang.compat import tvm
from tvm import te, topi  # noqa: E402
from tensorlang.errors import TensorLangError  # noqa: E402
from tensorlang.tir.structural import structural_equal  # noqa: E402


def test_import_installs_the_tvm_modules():
    for name in ("tvm", "tvm.te", "tvm.tir", "tvm.testing", "tvm.contrib.utils",
                 "tvm.autotvm", "tvm.topi", "tvm.topi.testing", "tvm.target", "tvm.nd",
                 "tvm.transform"):
        assert name in sys.modules, name
    assert sys.modules["tvm"] is tvm
    import tvm.te as te_module
    assert te_module.compute is tvm.te.compute


def test_an_imported_real_tvm_is_left_alone(monkeypatch):
    other = types.ModuleType("tvm")
    monkeypatch.setitem(sys.modules, "tvm", other)
    with pytest.warns(UserWarning, match="real TVM is already imported"):
        tvm._install()
    assert sys.modules["tvm"] is other


def test_devices_and_arrays():
    assert tvm.cpu(0).exist and tvm.device("llvm", 0) == tvm.cpu(0)
    assert tvm.device(2) == tvm.cuda(0) and tvm.gpu(1).device_id == 1
    a = tvm.nd.array(np.arange(6, dtype="float32").reshape(2, 3))
    assert a.shape == (2, 3) and a.dtype == "float32" and a.device == tvm.cpu(0)
    copy = a.numpy()
    copy[0, 0] = 100
    assert a.asnumpy()[0, 0] == 0          # numpy() is a copy, as TVM's
    b = tvm.nd.empty((2, 3), "float32").copyfrom(a)
    np.testing.assert_array_equal(np.asarray(b), a.numpy())
    with pytest.raises(TensorLangError, match="'cpu' \\(or 'llvm'\\) and 'cuda'"):
        tvm.device("opencl")


def test_targets():
    t = tvm.target.Target("llvm -mcpu=x86-64", host="llvm")
    assert t.kind.name == "llvm" and t.host.kind.name == "llvm" and "mcpu" in str(t)
    assert tvm.target.Target.current() is None
    with tvm.target.Target("cuda") as scoped:
        assert tvm.target.Target.current() is scoped
    with pytest.raises(TensorLangError, match="no 'opencl' backend"):
        tvm.target.Target("opencl")


def test_lower_and_build_spellings():
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: A[i] * 3.0, name="B")
    s = te.create_schedule(B.op)
    mod = tvm.lower(s, [A, B], simple_mode=True)
    assert mod["main"] is mod.func and "B[i]" in str(mod)
    f = tvm.build(mod, target="llvm")
    assert f.entry_name == "main" and f["main"] is f
    a = np.arange(5, dtype="float32")
    out = tvm.nd.empty((5,), "float32")
    f(a, out)
    np.testing.assert_allclose(out.numpy(), a * 3)
    g = tvm.build(s, [A, B])
    assert g.entry_name == "default_function"
    with pytest.raises(TensorLangError, match="not 'other'"):
        g["other"]
    result = g.time_evaluator(g.entry_name, tvm.cpu(0), number=3, repeat=2)(a, out)
    assert len(result.results) == 2 and result.min <= result.mean <= result.max
    with pytest.raises(NotImplementedError, match="once per target"):
        tvm.build(s, [A, B], target={"llvm": None})
    with pytest.raises(NotImplementedError, match="drop binds="):
        tvm.lower(s, [A, B], binds={A: None})
    with tvm.transform.PassContext(opt_level=3):
        tvm.build(s, [A, B], "llvm")
    with pytest.raises(NotImplementedError, match="disabled_pass"):
        tvm.transform.PassContext(opt_level=3, disabled_pass=["FuseOps"])


def test_refusals_name_the_construct_and_the_replacement():
    with pytest.raises(NotImplementedError, match="te.hybrid.*te.compute"):
        te.hybrid
    with pytest.raises(NotImplementedError, match="create_prim_func.*create_schedule"):
        te.create_prim_func([])
    with pytest.raises(NotImplementedError, match="ir_builder.*te.compute"):
        tvm.tir.ir_builder
    with pytest.raises(NotImplementedError, match="topi.nn.conv3d_ncdhw.*te.compute"):
        topi.nn.conv3d_ncdhw(None, None, 1, 0, 1)
    with pytest.raises(AttributeError, match="Coming from TVM"):
        tvm.relay
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert te.size_var("m").name == "m"


def test_topi_operators_match_the_topi_testing_references():
    data = te.placeholder((1, 3, 9, 9), name="data")
    kernel = te.placeholder((4, 3, 3, 3), name="kernel")
    conv = topi.nn.conv2d_nchw(data, kernel, 2, 1, 1)
    s = te.create_schedule(conv.op)
    f = tvm.build(s, [data, kernel, conv], "llvm")
    rng = np.random.default_rng(1)
    d = rng.standard_normal((1, 3, 9, 9)).astype("float32")
    k = rng.standard_normal((4, 3, 3, 3)).astype("float32")
    out = tvm.nd.empty([int(x) for x in conv.shape], "float32")
    f(d, k, out)
    np.testing.assert_allclose(out.numpy(), topi.testing.conv2d_nchw_python(d, k, 2, 1),
                               rtol=1e-4, atol=1e-5)

    x = te.placeholder((5, 8), name="x")
    w = te.placeholder((6, 8), name="w")
    dense = topi.nn.dense(x, w)
    soft = topi.nn.softmax(dense)
    s = te.create_schedule(soft.op)
    f = tvm.build(s, [x, w, soft], "llvm")
    xv, wv = rng.standard_normal((5, 8)).astype("float32"), \
        rng.standard_normal((6, 8)).astype("float32")
    out = tvm.nd.empty((5, 6), "float32")
    f(xv, wv, out)
    np.testing.assert_allclose(
        out.numpy(), topi.testing.softmax_python(topi.testing.dense_python(xv, wv)),
        rtol=1e-5, atol=1e-6)


def test_integer_bitwise_operators_and_their_tir_spellings():
    n = te.var("n")
    assert structural_equal(tvm.tir.shift_right(n, 1), n >> 1)
    assert structural_equal(tvm.tir.shift_left(1, n), 1 << n)
    assert structural_equal(tvm.tir.bitwise_and(n, 7), n & 7)
    assert structural_equal(tvm.tir.bitwise_or(n, 7), n | 7)
    assert structural_equal(tvm.tir.bitwise_xor(n, 7), n ^ 7)
    assert structural_equal(tvm.tir.bitwise_not(n), ~n)
    with pytest.raises(TypeError, match=r"astype\("):
        te.placeholder((4,), name="F")[0] >> 1


def test_normalize_keeps_the_schedule():
    A = te.placeholder((10,), name="A")
    B = te.compute((10,), lambda i: A[i] + 1.0, name="B")
    s = te.create_schedule(B.op)
    s[B].split(B.op.axis[0], factor=3)
    before = str(tvm.lower(s, [A, B]))
    assert s.normalize() is s and str(tvm.lower(s, [A, B])) == before


def test_tvm_errors_and_schedule_classes():
    m = te.size_var("m")
    A = te.placeholder((m,), name="A")
    T = te.compute((m,), lambda i: A[i + 1], name="T")
    s = te.create_schedule(T.op)
    assert isinstance(s, tvm.te.schedule.Schedule)
    xo, xi = s[T].split(T.op.axis[0], factor=10)
    fused = s[T].fuse(xo, xi)
    assert any(isinstance(r, tvm.te.schedule.Fuse) for r in s[T].relations)
    assert tuple(s[T].leaf_iter_vars) == (fused,)
    with pytest.raises(tvm.error.TVMError, match="given twice"):
        s[T].reorder(fused, fused)


def test_infer_bound_truncdiv_topi_submodules_and_runtime_errors():
    """TVM's tvm.te.schedule.InferBound, tir.truncdiv / truncmod, ``from tvm.topi.nn.pooling
    import pool2d``, ``topi.utils.get_const_tuple``, one cache_read reader without a list,
    and ``except RuntimeError`` catching tensorlang's errors as it catches TVMError."""
    from tvm.topi.nn.pooling import pool2d  # noqa: F401
    from tvm.topi.utils import get_const_tuple
    m = te.var("m")
    A = te.placeholder((8 * m, 8), name="A")
    B = te.compute(A.shape, lambda i, j: A[i, j] * 2.0, name="B")
    s = te.create_schedule(B.op)
    xo, xi = s[B].split(B.op.axis[0], factor=8)
    yo, yi = s[B].split(B.op.axis[1], factor=32)
    bounds = tvm.te.schedule.InferBound(s)
    assert str(bounds[xo].extent) == "m" and bounds[xi].extent.value == 8
    assert bounds[yo].extent.value == 1 and bounds[yi].extent.value == 8   # not 32
    assert get_const_tuple(B.shape)[1] == 8
    from tvm.container import Map  # noqa: F401  (the module TVM programs import)
    assert tvm.container.Map(bounds) == bounds and tvm.container.Array is list
    C = te.placeholder((9,), name="C", dtype="int32")
    D = te.compute((9,), lambda i: tvm.tir.truncdiv(C[i], 4) * 100 + tvm.tir.truncmod(C[i], 4),
                   name="D")
    sd = te.create_schedule(D.op)
    f = tvm.build(sd, [C, D])
    c = np.array([-9, -8, -5, -1, 0, 1, 5, 8, 9], "int32")
    d = tvm.nd.array(np.zeros(9, "int32"))
    f(tvm.nd.array(c), d)
    np.testing.assert_array_equal(d.numpy(), np.trunc(c / 4).astype(int) * 100 + np.fmod(c, 4))
    E = te.compute((9,), lambda i: C[i] + 1, name="E")
    se = te.create_schedule(E.op)
    CC = se.cache_read(C, "local", E)
    assert CC.name == "C.local"
    with pytest.raises(RuntimeError):
        se[E].split(xo, factor=2)


def test_tensor_intrinsics_and_ir_serialisation_say_what_to_write():
    with pytest.raises(NotImplementedError, match="decl_tensor_intrin / tensorize"):
        te.decl_tensor_intrin
    with pytest.raises(NotImplementedError, match="steps_to_json"):
        tvm.ir.save_json
    A = te.placeholder((4,), name="A")
    B = te.compute((4,), lambda i: A[i] * 2.0, name="B")
    s = te.create_schedule(B.op)
    with pytest.raises(NotImplementedError, match="tensorize on stage 'B'.*'i'"):
        s[B].tensorize(B.op.axis[0], None)
