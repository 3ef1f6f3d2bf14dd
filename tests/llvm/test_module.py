"""The Module: argument checks (and a fuzz test of bad arguments), time(), sources,
bounds checks, targets and build errors."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tensorlang.target as target_pkg
from tensorlang import tir
from tensorlang.errors import BuildError, TensorLangValueError
from tensorlang.target import Target
from tensorlang.target.llvm import build
from tensorlang.tir import stmt as S

from llvm_testing import buffer, func, loop, store


@pytest.fixture(scope="module")
def matvec():
    """Out[i] = sum_j M[i, j] * V[j] + bias, with symbolic n, m."""
    n, m = tir.var("n"), tir.var("m")
    bias = tir.var("bias", "float32")
    M, V, Out = buffer("M", (n, m)), buffer("V", (m,)), buffer("Out", (n,))
    i, j = tir.var("i"), tir.var("j")
    body = loop(i, n, S.seq(store(Out, bias, i),
                            loop(j, m, store(Out, Out[i] + M[i, j] * V[j], i))))
    return build(func("matvec", [M, V, Out, bias], body), "llvm", use_cache=False)


def _good_args(n=4, m=3):
    rng = np.random.default_rng(0)
    return [rng.random((n, m)).astype("float32"), rng.random(m).astype("float32"),
            np.zeros(n, "float32"), 0.5]


def test_good_call(matvec):
    M, V, Out, bias = _good_args()
    matvec(M, V, Out, bias)
    np.testing.assert_allclose(Out, M @ V + bias, rtol=1e-6)


@pytest.mark.parametrize("mutate,error,pattern", [
    (lambda a: a[:3], TypeError, r"takes 4 argument\(s\) \(M, V, Out, bias\), but 3"),
    (lambda a: a + [1], TypeError, "takes 4 argument"),
    (lambda a: [None] + a[1:], TypeError, "argument 'M' must be a numpy.ndarray.*None"),
    (lambda a: [a[0].tolist()] + a[1:], TypeError, "argument 'M' .* list.*numpy.asarray"),
    (lambda a: [a[0].astype("float64")] + a[1:], TypeError, "'M' must have dtype float32"),
    (lambda a: [a[0][None]] + a[1:], ValueError, "'M' must have 2 dimension"),
    (lambda a: [a[0], a[1][:2]] + a[2:], ValueError, "argument 'V' .* m = 3 was set by "
                                                     "argument 'M' dimension 1"),
    (lambda a: [a[0], a[1], _read_only(a[2]), a[3]], ValueError, "'Out' .* read-only"),
    (lambda a: a[:3] + ["x"], TypeError, "'bias' must be a number"),
    (lambda a: a[:3] + [None], TypeError, "'bias' must be a number"),
    (lambda a: [a[0], a[1], a[0][:, 0].copy()[:3], a[3]], ValueError, "'Out' .* n = 4"),
])
def test_bad_arguments_raise_errors_naming_the_parameter(matvec, mutate, error, pattern):
    with pytest.raises(error, match=pattern):
        matvec(*mutate(_good_args()))


def _read_only(array):
    array = array.copy()
    array.flags.writeable = False
    return array


def test_output_sharing_memory_with_an_input_is_rejected(matvec):
    M, V, _, bias = _good_args(3, 3)
    with pytest.raises(ValueError, match="'Out' is written .* shares memory with .*'V'"):
        matvec(M, V, V, bias)


def test_misaligned_arrays_are_handled():
    A, Out = buffer("A", (5,), "float64"), buffer("Out", (5,), "float64")
    i = tir.var("i")
    mod = build(func("copy2", [A, Out], loop(i, 5, store(Out, A[i] * 2.0, i))), "llvm",
                use_cache=False)
    raw = np.zeros(5 * 8 + 1, dtype="uint8")
    a = raw[1:].view("float64")  # one byte off: not aligned to 8
    a[:] = np.arange(5)
    assert not a.flags.aligned
    raw_out = np.zeros(5 * 8 + 1, dtype="uint8")
    out = raw_out[1:].view("float64")
    mod(a, out)
    np.testing.assert_array_equal(out, np.arange(5) * 2)


def test_views_of_any_layout_are_computed_on_and_written_back(matvec):
    """Transposed, strided and offset views: inputs are read, outputs written through."""
    M, V, Out, bias = _good_args()
    fortran = np.asfortranarray(M)
    strided_v = np.repeat(V, 2)[::2]
    storage = np.full(12, -7.0, "float32")
    strided_out = storage[1::3]
    matvec(fortran, strided_v, strided_out, bias)
    np.testing.assert_allclose(strided_out, M @ V + bias, rtol=1e-6)
    np.testing.assert_array_equal(np.delete(storage, np.s_[1::3]), -7.0)


_FREED_INPUT_SCRIPT = """
import numpy as np
import tensorlang as tl
from tensorlang import te
n = 1 << 24  # 64 MiB: allocated with mmap, so unmapped again when freed
A = te.placeholder((n,), name="A")
B = te.compute((n,), lambda i: A[i] * 2.0, name="B")
mod = tl.build(tl.create_schedule(B), [A, B], target="llvm", use_cache=False)
raw = np.zeros(n * 4 + 1, "uint8")
a = raw[1:].view("float32")  # one byte off: copied to an aligned buffer for the call
a[:] = np.arange(n, dtype="float32")
b = np.zeros(n, "float32")
mod(a, b)
mod.time(a, b, number=1, repeat=1)
print(np.array_equal(b, a * 2))
"""


def test_misaligned_input_copies_live_until_the_call_returns():
    """A misaligned input is copied to an aligned buffer; the copy must outlive the
    call (it was freed before the kernel ran, which read unmapped memory)."""
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    result = subprocess.run([sys.executable, "-c", _FREED_INPUT_SCRIPT], env=env,
                            cwd=os.getcwd(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.split() == ["True"], result.stdout


def _random_bad_argument(rng, good):
    """A random corruption of one good argument."""
    choice = rng.integers(0, 10)
    if choice == 0:
        return None
    if choice == 1:
        return good.tolist() if isinstance(good, np.ndarray) else [good]
    if choice == 2 and isinstance(good, np.ndarray):
        return good.astype(rng.choice(["float64", "int32", "float16", "uint8", "bool"]))
    if choice == 3 and isinstance(good, np.ndarray):
        return np.zeros(tuple(int(d) for d in rng.integers(0, 6, size=rng.integers(0, 4))),
                        good.dtype)
    if choice == 4 and isinstance(good, np.ndarray) and good.ndim:
        return np.repeat(good, 2, axis=-1)[..., ::2]  # same shape, strided view
    if choice == 5 and isinstance(good, np.ndarray):
        return _read_only(good)
    if choice == 6:
        return "text"
    if choice == 7:
        return object()
    if choice == 8:
        return np.float32(rng.random()) if rng.random() < 0.5 else rng.integers(-5, 5)
    return good


def test_fuzz_bad_arguments_never_crash(matvec):
    rng = np.random.default_rng(1234)
    for _ in range(400):
        args = _good_args(int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        for position in rng.choice(len(args), size=rng.integers(1, 3), replace=False):
            args[position] = _random_bad_argument(rng, args[position])
        if rng.random() < 0.1:
            args = args[:int(rng.integers(0, len(args)))]
        try:
            matvec(*args)
        except (TypeError, ValueError) as error:
            assert str(error)
        else:  # the corruption kept the arguments valid: the result must be right
            M, V, Out, bias = args
            np.testing.assert_allclose(Out, M @ V + bias, rtol=1e-5, atol=1e-6)


def test_time_returns_seconds_per_call(matvec):
    seconds = matvec.time(*_good_args(), number=5, repeat=2)
    assert 0 < seconds < 0.1
    with pytest.raises(TensorLangValueError):
        matvec.time(*_good_args(), number=0)


def test_sources(matvec):
    ll = matvec.get_source("ll")
    assert "define i32 @matvec(" in ll and "noalias" in ll
    asm = matvec.get_source("asm")
    assert "matvec:" in asm
    with pytest.raises(TensorLangValueError, match="sources"):
        matvec.get_source("cuda")


def test_bounds_check_raises_index_error_naming_buffer_and_index():
    A, Out = buffer("A", (8, 4)), buffer("Out", (8,))
    i = tir.var("i")
    f = func("oob", [A, Out], loop(i, 8, store(Out, A[i, i], i)))
    mod = build(f, "llvm", bounds_check=True, use_cache=False)
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 of "
                                         "buffer 'A' with extent 4"):
        mod(np.zeros((8, 4), "float32"), np.zeros(8, "float32"))
    # negative indices are caught too, on stores
    g = func("oob_store", [A, Out], loop(i, 8, store(Out, A[i, 0], i - 1)))
    mod = build(g, "llvm", bounds_check=True, use_cache=False)
    with pytest.raises(IndexError, match="index -1 .* buffer 'Out'"):
        mod(np.zeros((8, 4), "float32"), np.zeros(8, "float32"))


def test_thread_binding_is_a_build_error():
    A = buffer("A", (64,))
    i = tir.var("i")
    body = S.For(i, tir.const(0), tir.const(64), S.ForKind.THREAD_BINDING,
                 store(A, 1.0, i), thread_tag="threadIdx.x")
    with pytest.raises(BuildError, match="loop 'i' is bound to the GPU thread index "
                                         "'threadIdx.x'.*cuda.*remove the bind"):
        build(func("gpu", [A], body), "llvm", use_cache=False)


def test_unbound_variable_is_a_build_error():
    A = buffer("A", (4,))
    x = tir.var("x")
    with pytest.raises(BuildError, match="'x'"):
        build(func("free", [A], store(A, x.astype("float32"), 0)), "llvm", use_cache=False)


def test_target_parsing():
    t = Target("llvm -mcpu=skylake-avx512 -mattr=+avx512f,+fma")
    assert (t.kind, t.mcpu, t.mattr) == ("llvm", "skylake-avx512", ("+avx512f", "+fma"))
    assert str(t) == "llvm -mcpu=skylake-avx512 -mattr=+avx512f,+fma"
    assert Target(str(t)) == t
    cuda = Target("cuda -arch=sm_90")
    assert (cuda.kind, cuda.arch, str(cuda)) == ("cuda", "sm_90", "cuda -arch=sm_90")
    host = Target("llvm")
    import llvmlite.binding as llvm
    assert host.mcpu == llvm.get_host_cpu_name()
    assert Target.current_host().mcpu == host.mcpu
    for bad in ["", "vulkan", "llvm -mcpu", "llvm -foo=1"]:
        with pytest.raises(TensorLangValueError):
            Target(bad)


def test_target_package_build_dispatches_on_kind():
    A = buffer("A", (4,))
    i = tir.var("i")
    mod = target_pkg.build(func("fill", [A], loop(i, 4, store(A, 2.0, i))), "llvm",
                           use_cache=False)
    a = np.zeros(4, "float32")
    mod(a)
    np.testing.assert_array_equal(a, 2)
    with pytest.raises(TensorLangValueError, match="unknown llvm build option"):
        target_pkg.build(func("fill", [A], loop(i, 4, store(A, 2.0, i))), "llvm", fast=True)
