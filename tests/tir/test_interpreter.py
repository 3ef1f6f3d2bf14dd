"""The interpreter runs hand-built loop IR with the exact semantics of the backends."""
import numpy as np
import pytest

from tensorlang import tir
from tensorlang.errors import InternalError
from tensorlang.tir import (Allocate, AttrStmt, BufferStore, Evaluate, For, ForKind,
                            IfThenElse, Let, LetStmt, PrimFunc, Select, call_builtin,
                            call_intrin, cast, const, decl_buffer, seq, var)
from tensorlang.tir import expr as E
from tensorlang.tir.datatype import float32, int32
from tensorlang.tir.interpreter import compile_function, interpret

SERIAL = ForKind.SERIAL
rng = np.random.default_rng(0)


def loop(v, extent, body, kind=SERIAL, tag="", start=0):
    extent = const(extent, v.dtype) if isinstance(extent, int) else extent
    return For(v, const(start, v.dtype), extent, kind, body, thread_tag=tag)


def elementwise(n, dtype, fn, out_dtype=None, nin=2):
    """C[i] = fn(A[i], B[i]) over n elements."""
    ins = [decl_buffer((n,), dtype, name) for name in "AB"[:nin]]
    C = decl_buffer((n,), out_dtype or dtype, "C")
    i = var("i")
    body = loop(i, n, BufferStore(C, fn(*[b[i] for b in ins]), (i,)))
    return PrimFunc("elementwise", (*ins, C), body)


# -- basic programs ------------------------------------------------------------------

def test_matmul_matches_numpy():
    n = 32
    A, B, C = (decl_buffer((n, n), "float32", name) for name in "ABC")
    i, j, k = var("i"), var("j"), var("k")
    body = loop(i, n, loop(j, n, seq(
        BufferStore(C, const(0.0), (i, j)),
        loop(k, n, BufferStore(C, C[i, j] + A[i, k] * B[k, j], (i, j))))))
    func = PrimFunc("matmul", (A, B, C), body)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    c = np.zeros((n, n), np.float32)
    interpret(func, a, b, c)
    # float32 accumulation in order k = 0..n-1, as numpy does element by element
    expected = np.zeros((n, n), np.float32)
    for kk in range(n):
        expected = expected + np.outer(a[:, kk], b[kk, :])
    np.testing.assert_array_equal(c, expected)


def test_symbolic_shape_and_scalar_params():
    n = var("n")
    A, B = decl_buffer((n, 3), "float32", "A"), decl_buffer((n, 3), "float32", "B")
    alpha = var("alpha", "float32")
    i, j = var("i"), var("j")
    func = PrimFunc("scale", (A, B, alpha),
                    loop(i, n, loop(j, 3, BufferStore(B, A[i, j] * alpha, (i, j)))))
    a = rng.random((5, 3), dtype=np.float32)
    b = np.zeros_like(a)
    interpret(func, a, b, 0.1)
    np.testing.assert_array_equal(b, a * np.float32(0.1))


def test_allocate_if_let_and_attr():
    n = 8
    A, B = decl_buffer((n,), "int32", "A"), decl_buffer((n,), "int32", "B")
    tmp = decl_buffer((n,), "int32", "tmp", scope="shared")
    i, j, x = var("i"), var("j"), var("x")
    body = AttrStmt("B", "stage", const(0), Allocate(tmp, seq(
        loop(i, n, LetStmt(x, A[i] * 3, BufferStore(tmp, x + 1, (i,)))),
        loop(j, n, IfThenElse(j % 2 == 0, BufferStore(B, tmp[j], (j,)),
                              BufferStore(B, Let(x, tmp[j], x - x * 2, int32), (j,)))))))
    func = PrimFunc("f", (A, B), body)
    a = rng.integers(-100, 100, n, dtype=np.int32)
    b = np.zeros(n, np.int32)
    interpret(func, a, b)
    t = a * 3 + 1
    np.testing.assert_array_equal(b, np.where(np.arange(n) % 2 == 0, t, -t))


def test_thread_bound_loops_and_syncthreads_run_serially():
    A, B = decl_buffer((4, 8), "float32", "A"), decl_buffer((4, 8), "float32", "B")
    shared = decl_buffer((8,), "float32", "shared_tile", scope="shared")
    bx, tx, ty = var("blockIdx_x"), var("threadIdx_x"), var("threadIdx_x2")
    body = loop(bx, 4, Allocate(shared, seq(
        loop(tx, 8, BufferStore(shared, A[bx, tx], (tx,)), ForKind.THREAD_BINDING,
             "threadIdx.x"),
        Evaluate(call_builtin("tl.syncthreads", "int32")),
        loop(ty, 8, BufferStore(B, shared[7 - ty], (bx, ty)), ForKind.THREAD_BINDING,
             "threadIdx.x"))), ForKind.THREAD_BINDING, "blockIdx.x")
    func = PrimFunc("reverse_rows", (A, B), body)
    a = rng.random((4, 8), dtype=np.float32)
    b = np.zeros_like(a)
    interpret(func, a, b)
    np.testing.assert_array_equal(b, a[:, ::-1])


def test_loops_with_nonzero_min_and_all_kinds():
    A = decl_buffer((10,), "int32", "A")
    i, j = var("i"), var("j")
    body = seq(loop(i, 4, BufferStore(A, i * 10, (i,)), ForKind.PARALLEL, start=3),
               loop(j, 2, BufferStore(A, j, (j,)), ForKind.UNROLLED, start=0))
    a = np.full(10, -1, np.int32)
    interpret(PrimFunc("f", (A,), body), a)
    np.testing.assert_array_equal(a, [0, 1, -1, 30, 40, 50, 60, -1, -1, -1])


def test_deep_loop_nest_beyond_python_block_limit():
    depth = 26
    A = decl_buffer((2,), "int32", "A")
    loop_vars = [var(f"i{d}") for d in range(depth)]
    index = loop_vars[-1]
    body = BufferStore(A, A[index] + 1, (index,))
    for v in reversed(loop_vars):
        body = loop(v, 2 if v is loop_vars[0] or v is index else 1, body)
    a = np.zeros(2, np.int32)
    interpret(PrimFunc("deep", (A,), body), a)
    np.testing.assert_array_equal(a, [2, 2])


def test_zero_dimensional_buffer_and_empty_body():
    S = decl_buffer((), "float32", "S")
    A = decl_buffer((5,), "float32", "A")
    i = var("i")
    body = seq(BufferStore(S, const(0.0), ()),
               loop(i, 5, BufferStore(S, S[()] + A[i], ())),
               loop(var("unused"), 3, Evaluate(const(0))))
    a = rng.random(5, dtype=np.float32)
    s = np.zeros((), np.float32)
    interpret(PrimFunc("total", (A, S), body), a, s)
    expected = np.float32(0)
    for x in a:
        expected = expected + x
    assert s[()] == expected


def test_strided_allocation():
    A, B = decl_buffer((4, 4), "float32", "A"), decl_buffer((4, 4), "float32", "B")
    padded = tir.Buffer("padded", (const(4), const(4)), float32, "local", (const(5), const(1)))
    i, j, i2, j2 = var("i"), var("j"), var("i2"), var("j2")
    body = Allocate(padded, seq(
        loop(i, 4, loop(j, 4, BufferStore(padded, A[i, j], (i, j)))),
        loop(i2, 4, loop(j2, 4, BufferStore(B, padded[j2, i2], (i2, j2))))))
    a = rng.random((4, 4), dtype=np.float32)
    b = np.zeros_like(a)
    interpret(PrimFunc("transpose", (A, B), body), a, b)
    np.testing.assert_array_equal(b, a.T)


def test_compiled_code_is_cached_per_function():
    func = elementwise(4, "float32", lambda a, b: a + b)
    assert compile_function(func) is compile_function(func)
    assert "def _kernel" in compile_function(func).source


# -- out of bounds -------------------------------------------------------------------

def test_negative_index_raises_instead_of_wrapping():
    A, B = decl_buffer((4,), "float32", "A"), decl_buffer((4,), "float32", "B")
    i = var("i")
    func = PrimFunc("shift", (A, B), loop(i, 4, BufferStore(B, A[i - 1], (i,))))
    with pytest.raises(IndexError, match=r"index -1 .*dimension 0 of buffer 'A'"):
        interpret(func, np.zeros(4, np.float32), np.zeros(4, np.float32))


def test_index_past_the_end_raises_naming_the_buffer():
    n = var("n")
    A = decl_buffer((n,), "float32", "A")
    i = var("i")
    func = PrimFunc("overrun", (A,), loop(i, n + 1, BufferStore(A, const(1.0), (i,))))
    with pytest.raises(IndexError, match=r"index 3 .*buffer 'A' \(extent 3\)"):
        interpret(func, np.zeros(3, np.float32))


def test_select_evaluates_only_the_taken_branch():
    n = 6
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    i = var("i")
    padded = Select(i >= 1, A[i - 1], const(0.0), float32)
    func = PrimFunc("pad", (A, B), loop(i, n, BufferStore(B, padded, (i,))))
    a = rng.random(n, dtype=np.float32)
    b = np.zeros_like(a)
    interpret(func, a, b)
    np.testing.assert_array_equal(b, np.concatenate([[0], a[:-1]]))


# -- argument checks -----------------------------------------------------------------

def test_argument_checks_name_the_parameter():
    n = var("n")
    A, B = decl_buffer((n, 4), "float32", "A"), decl_buffer((n, 4), "float32", "B")
    k = var("k")
    i = var("i")
    func = PrimFunc("f", (A, B, k), loop(i, n, BufferStore(B, A[i, 0], (i, const(0)))))
    good = np.zeros((3, 4), np.float32)
    with pytest.raises(TypeError, match=r"takes 3 argument\(s\) \(A, B, k\), got 2"):
        interpret(func, good, good)
    with pytest.raises(TypeError, match="argument 'A' .*dtype float32, got float64"):
        interpret(func, np.zeros((3, 4)), good, 1)
    with pytest.raises(TypeError, match="argument 'B' .*numpy array"):
        interpret(func, good, [[0.0] * 4] * 3, 1)
    with pytest.raises(ValueError, match="argument 'B' .*dimension 0 is 2, but 'n' is "
                                         "already 3"):
        interpret(func, good, np.zeros((2, 4), np.float32), 1)
    with pytest.raises(ValueError, match="argument 'A' .*dimension 1 must be 4"):
        interpret(func, np.zeros((3, 5), np.float32), good, 1)
    with pytest.raises(ValueError, match="argument 'A' .*2 dimension"):
        interpret(func, np.zeros(3, np.float32), good, 1)
    with pytest.raises(TypeError, match="argument 'k' .*int"):
        interpret(func, good, good, 1.5)
    with pytest.raises(ValueError, match="argument 'k' .*does not fit in int32"):
        interpret(func, good, good, 2**40)


def test_scalar_param_that_is_also_a_shape_variable_must_agree():
    n = var("n")
    A = decl_buffer((n,), "float32", "A")
    i = var("i")
    func = PrimFunc("f", (A, n), loop(i, n, BufferStore(A, const(2.0), (i,))))
    a = np.zeros(3, np.float32)
    interpret(func, a, 3)
    assert (a == 2).all()
    with pytest.raises(ValueError, match="argument 'n' .* 4, but buffer 'A'"):
        interpret(func, a, 4)


def test_derived_shape_expression_is_checked():
    n = var("n")
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n + 1,), "float32", "B")
    i = var("i")
    func = PrimFunc("f", (A, B), loop(i, n, BufferStore(B, A[i], (i + 1,))))
    a = rng.random(3, dtype=np.float32)
    b = np.zeros(4, np.float32)
    interpret(func, a, b)
    np.testing.assert_array_equal(b[1:], a)
    with pytest.raises(ValueError, match="argument 'B': dimension 0 has size 5"):
        interpret(func, a, np.zeros(5, np.float32))


def test_ill_formed_ir_is_refused():
    A = decl_buffer((4,), "float32", "A")
    func = PrimFunc("f", (A,), BufferStore(A, const(0.0), (var("ghost"),)))
    with pytest.raises(InternalError, match="ghost"):
        interpret(func, np.zeros(4, np.float32))


def test_intrinsics_match_float64_reference_rounded():
    x = np.array([-2.5, -1.5, -0.5, 0.25, 0.5, 1.5, 2.5, 3.75], np.float32)
    positive = np.abs(x) + np.float32(0.5)
    cases = {"exp": np.exp, "tanh": np.tanh, "sin": np.sin, "cos": np.cos,
             "fabs": np.fabs, "floor": np.floor, "ceil": np.ceil, "round": np.round,
             "trunc": np.trunc, "exp2": np.exp2, "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
             "erf": np.vectorize(__import__("math").erf)}
    for name, reference in cases.items():
        func = elementwise(8, "float32", lambda a: call_intrin(name, a), nin=1)
        out = np.zeros(8, np.float32)
        interpret(func, x, out)
        np.testing.assert_array_equal(out, reference(x.astype(np.float64)).astype(np.float32),
                                      err_msg=name)
    for name, reference in {"log": np.log, "log2": np.log2, "log10": np.log10,
                            "sqrt": np.sqrt, "rsqrt": lambda v: 1 / np.sqrt(v)}.items():
        func = elementwise(8, "float32", lambda a: call_intrin(name, a), nin=1)
        out = np.zeros(8, np.float32)
        interpret(func, positive, out)
        np.testing.assert_allclose(out, reference(positive.astype(np.float64)), rtol=1e-7,
                                   err_msg=name)
    func = elementwise(8, "float32", lambda a, b: call_intrin("pow", a, b))
    out = np.zeros(8, np.float32)
    interpret(func, positive, x, out)
    np.testing.assert_allclose(out, np.power(positive.astype(np.float64), x), rtol=1e-7)


def test_intrinsics_follow_ieee_instead_of_raising():
    x = np.array([1000.0, 0.0, -1.0, np.inf], np.float32)
    for name, expected in {"exp": [np.inf, 1, np.exp(-1), np.inf],
                           "log": [np.log(1000), -np.inf, np.nan, np.inf],
                           "sqrt": [np.sqrt(1000), 0, np.nan, np.inf],
                           "round": [1000, 0, -1, np.inf]}.items():
        func = elementwise(4, "float32", lambda a: call_intrin(name, a), nin=1)
        out = np.zeros(4, np.float32)
        interpret(func, x, out)
        np.testing.assert_allclose(out, np.array(expected, np.float32), rtol=1e-7,
                                   err_msg=name)


def test_unknown_builtin_is_an_internal_error():
    A = decl_buffer((4,), "float32", "A")
    func = PrimFunc("f", (A,), Evaluate(call_builtin("tl.mystery", "int32", 1)))
    with pytest.raises(InternalError, match="tl.mystery"):
        interpret(func, np.zeros(4, np.float32))


def test_float_to_int_cast_truncates_and_bool_casts():
    func = elementwise(6, "float32", lambda a: cast(a, "int32"), out_dtype="int32", nin=1)
    x = np.array([-2.7, -0.5, 0.0, 0.9, 3.5, 1e3], np.float32)
    out = np.zeros(6, np.int32)
    interpret(func, x, out)
    np.testing.assert_array_equal(out, np.trunc(x).astype(np.int32))
    func = elementwise(6, "float32", lambda a: cast(a, "bool"), out_dtype="bool", nin=1)
    flags = np.zeros(6, bool)
    interpret(func, x, flags)
    np.testing.assert_array_equal(flags, x != 0)


def test_bool_buffers_and_logic():
    func = elementwise(4, "bool", lambda a, b: (a & ~b) | (b & ~a))
    a = np.array([False, False, True, True])
    b = np.array([False, True, False, True])
    out = np.zeros(4, bool)
    interpret(func, a, b, out)
    np.testing.assert_array_equal(out, a ^ b)


def test_source_of_simple_loops_has_no_bounds_checks():
    func = elementwise(16, "float32", lambda a, b: a * b)
    assert "_oob" not in compile_function(func).source


def test_let_expression_binding_vector_lanes_through_select():
    A, B = decl_buffer((4,), "int32", "A"), decl_buffer((4,), "int32", "B")
    i, x = var("i"), var("x")
    value = Let(x, A[i], Select(x > 0, x, E.Sub(const(0), x, int32), int32), int32)
    func = PrimFunc("absolute", (A, B), loop(i, 4, BufferStore(B, value, (i,))))
    a = np.array([-3, 5, 0, -7], np.int32)
    b = np.zeros(4, np.int32)
    interpret(func, a, b)
    np.testing.assert_array_equal(b, np.abs(a))


def test_strided_buffer_with_compound_index():
    # a storage_align-ed buffer indexed by i_outer * 4 + i_inner: the index must be
    # scaled by the stride as a whole
    import tensorlang as tl
    from tensorlang import te
    A = te.placeholder((16, 16), name="A")
    B = te.compute((16, 16), lambda i, j: A[i, j] * 2.0, name="B")
    s = tl.create_schedule(B)
    AA = s.cache_read(A, "global", [B])
    s[AA].storage_align(AA.op.axis[0], 32, 1)
    s[B].split(B.op.axis[0], factor=4)
    func = tl.lower(s, [A, B])
    a = np.random.default_rng(0).random((16, 16), dtype=np.float32)
    b = np.zeros_like(a)
    interpret(func, a, b)
    np.testing.assert_array_equal(b, a * 2.0)
