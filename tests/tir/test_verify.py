"""The IR verifier accepts well-formed functions and names each broken invariant."""
import pytest

from tensorlang.errors import InternalError
from tensorlang.tir import (Allocate, BufferLoad, BufferStore, Cast, Evaluate, FloatImm, For,
                            ForKind, IfThenElse, IntImm, Let, LetStmt, PrimFunc, Ramp,
                            Broadcast, Select, AttrStmt, const, decl_buffer, seq, var)
from tensorlang.tir import expr as E
from tensorlang.tir.datatype import float16, float32, int32, int64, bool_
from tensorlang.tir.verify import verify, verify_well_formed

SERIAL = ForKind.SERIAL


def loop(v, extent, body, kind=SERIAL, tag=""):
    return For(v, const(0, v.dtype), const(extent, v.dtype) if isinstance(extent, int)
               else extent, kind, body, thread_tag=tag)


def matmul(n=16):
    A = decl_buffer((n, n), "float32", "A")
    B = decl_buffer((n, n), "float32", "B")
    C = decl_buffer((n, n), "float32", "C")
    i, j, k = var("i"), var("j"), var("k")
    body = loop(i, n, loop(j, n, seq(
        BufferStore(C, const(0.0), (i, j)),
        loop(k, n, BufferStore(C, C[i, j] + A[i, k] * B[k, j], (i, j))))))
    return PrimFunc("matmul", (A, B, C), body)


def problems_of(body, params):
    return verify_well_formed(PrimFunc("f", tuple(params), body))


def assert_problem(body, params, *fragments):
    problems = problems_of(body, params)
    text = "\n".join(problems)
    assert problems, "expected the verifier to report a problem"
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"


# -- well-formed functions -------------------------------------------------------------

def test_matmul_is_well_formed():
    func = matmul()
    assert verify_well_formed(func) == []
    verify(func)


def test_symbolic_shapes_lets_allocate_and_vectors_are_well_formed():
    n = var("n")
    A = decl_buffer((n, 8), "float32", "A")
    B = decl_buffer((n, 8), "float32", "B")
    scale = var("scale", "float32")
    i, t = var("i"), var("t", "float32")
    tmp = decl_buffer((8,), "float32", "tmp", scope="local")
    ramp = Ramp(const(0), const(1), 8, int32.with_lanes(8))
    body = loop(i, n, Allocate(tmp, seq(
        BufferStore(tmp, BufferLoad(A, (i, ramp), float32.with_lanes(8))
                    * Broadcast(scale, 8, float32.with_lanes(8)), (ramp,)),
        LetStmt(t, tmp[3], BufferStore(B, Let(var("u", "float32"), t, t * 2.0, float32),
                                       (i, const(0)))),
        IfThenElse(i < 3, BufferStore(B, tmp[1], (i, const(1)))))))
    assert verify_well_formed(PrimFunc("f", (A, B, scale), body)) == []


def test_sibling_loops_may_reuse_a_variable():
    A = decl_buffer((4,), "float32", "A")
    i = var("i")
    body = seq(loop(i, 4, BufferStore(A, const(0.0), (i,))),
               loop(i, 4, BufferStore(A, const(1.0), (i,))))
    assert problems_of(body, [A]) == []


# -- must-fail cases ------------------------------------------------------------------

def test_undefined_variable():
    A = decl_buffer((4,), "float32", "A")
    i, j = var("i"), var("j")
    assert_problem(loop(i, 4, BufferStore(A, const(0.0), (j,))), [A],
                   "Var 'j'", "used but not defined")


def test_loop_variable_is_not_visible_after_its_loop():
    A = decl_buffer((4,), "float32", "A")
    i = var("i")
    body = seq(loop(i, 4, BufferStore(A, const(0.0), (i,))), BufferStore(A, const(1.0), (i,)))
    assert_problem(body, [A], "Var 'i'", "not defined")


def test_let_variable_scope():
    A = decl_buffer((4,), "int32", "A")
    x = var("x")
    value = Let(x, const(1), x + 1, int32)
    body = BufferStore(A, value + x, (const(0),))
    assert_problem(body, [A], "Var 'x'", "not defined")


def test_nested_loops_over_the_same_var():
    A = decl_buffer((4,), "float32", "A")
    i = var("i")
    assert_problem(loop(i, 4, loop(i, 4, BufferStore(A, const(0.0), (i,)))), [A],
                   "For", "'i' is defined again")


def test_buffer_neither_param_nor_allocated():
    A = decl_buffer((4,), "float32", "A")
    stray = decl_buffer((4,), "float32", "stray")
    assert_problem(BufferStore(A, stray[0], (const(0),)), [A],
                   "buffer 'stray' is neither a parameter nor allocated")


def test_allocated_buffer_used_outside_its_allocation():
    A = decl_buffer((4,), "float32", "A")
    tmp = decl_buffer((4,), "float32", "tmp")
    body = seq(Allocate(tmp, BufferStore(tmp, const(0.0), (const(0),))),
               BufferStore(A, tmp[0], (const(0),)))
    assert_problem(body, [A], "buffer 'tmp' is neither")


def test_index_count_differs_from_ndim():
    A = decl_buffer((4, 4), "float32", "A")
    store = BufferStore(A, const(0.0), (const(1),))
    assert_problem(store, [A], "BufferStore", "2 dimension(s)", "1 index(es)")


def test_float_index():
    A = decl_buffer((4,), "float32", "A")
    load = BufferLoad(A, (const(1.0),), float32)
    assert_problem(BufferStore(A, load, (const(0),)), [A], "BufferLoad", "not an integer")


def test_store_value_of_wrong_dtype_and_lanes():
    A = decl_buffer((8,), "float32", "A")
    assert_problem(BufferStore(A, const(1.0, "float16"), (const(0),)), [A],
                   "stored value has type float16", "needs float32")
    ramp = Ramp(const(0), const(1), 4, int32.with_lanes(4))
    assert_problem(BufferStore(A, const(1.0), (ramp,)), [A], "needs float32x4")


def test_binary_operands_of_different_dtypes():
    A = decl_buffer((4,), "float32", "A")
    bad = E.Add(A[0], FloatImm(float16, 1.0), float32)
    assert_problem(BufferStore(A, bad, (const(0),)), [A],
                   "Add", "different types float32 and float16")


def test_comparison_must_be_bool_and_conditions_must_be_bool():
    A = decl_buffer((4,), "int32", "A")
    bad_cmp = E.LT(A[0], const(1), int32)
    assert_problem(BufferStore(A, Select(bad_cmp, const(1), const(2), int32), (const(0),)),
                   [A], "LT", "bool")
    assert_problem(IfThenElse(A[0], BufferStore(A, const(1), (const(0),))), [A],
                   "IfThenElse", "condition", "must be bool")


def test_loop_extent_must_be_integer():
    A = decl_buffer((4,), "float32", "A")
    i = var("i")
    body = For(i, const(0), const(4.0), SERIAL, BufferStore(A, const(0.0), (i,)))
    assert_problem(body, [A], "loop extent", "float32")


def test_loop_bounds_must_match_the_loop_variable_type():
    A = decl_buffer((4,), "float32", "A")
    i = var("i", "int64")
    body = For(i, const(0), const(4), SERIAL, BufferStore(A, const(0.0), (i,)))
    assert_problem(body, [A], "loop min", "int64")


def test_constant_index_out_of_bounds():
    A = decl_buffer((4,), "float32", "A")
    assert_problem(BufferStore(A, A[4], (const(0),)), [A],
                   "BufferLoad 'A[4]'", "out of bounds for dimension 0", "extent 4")
    assert_problem(BufferStore(A, BufferLoad(A, (const(-1),), float32), (const(0),)), [A],
                   "out of bounds")
    ramp = Ramp(const(2), const(1), 4, int32.with_lanes(4))
    assert_problem(BufferStore(A, BufferLoad(A, (ramp,), float32.with_lanes(4)),
                               (Ramp(const(0), const(1), 4, int32.with_lanes(4)),)), [A],
                   "out of bounds")


def test_constant_index_out_of_bounds_in_code_that_never_runs():
    """Unrolling a guarded or peeled loop leaves ``if 1 + j < 1: A[4] = ...`` and
    ``for j in range(1 - 1): A[4] = ...`` for simplify to remove: dead code, not an
    out-of-bounds store.  Where the guard or the loop may run, it still is one."""
    A = decl_buffer((4,), "float32", "A")
    j = var("j")
    store = BufferStore(A, const(0.0), (const(4),))
    fine = BufferStore(A, const(1.0), (const(0),))
    never = E.And(E.LT(E.Add(const(1), j, int32), const(1), bool_), E.LT(j, const(1), bool_),
                  bool_)
    maybe = E.LT(E.Add(const(1), j, int32), const(2), bool_)
    assert problems_of(loop(j, 2, IfThenElse(never, store)), [A]) == []
    assert problems_of(loop(j, 2, IfThenElse(E.Not(never, bool_), fine, store)), [A]) == []
    assert problems_of(loop(j, E.Sub(const(1), const(1), int32), store), [A]) == []
    assert problems_of(IfThenElse(E.LT(const(4), const(4), bool_), store), [A]) == []
    assert_problem(loop(j, 2, IfThenElse(maybe, store)), [A], "out of bounds for dimension 0")
    assert_problem(loop(j, 2, IfThenElse(never, fine, store)), [A], "out of bounds")
    assert_problem(loop(j, E.Sub(const(2), const(1), int32), store), [A], "out of bounds")


def test_ramp_and_broadcast_lanes():
    A = decl_buffer((8,), "float32", "A")
    bad_ramp = Ramp(const(0), const(1), 4, int32.with_lanes(8))
    assert_problem(BufferStore(A, BufferLoad(A, (bad_ramp,), float32.with_lanes(8)),
                               (bad_ramp,)), [A], "Ramp", "must have type int32x4")
    ramp = Ramp(const(0), const(1), 4, int32.with_lanes(4))
    bad_broadcast = Broadcast(const(1.0), 4, float32.with_lanes(2))
    assert_problem(BufferStore(A, bad_broadcast, (ramp,)), [A], "Broadcast", "float32x4")


def test_cast_must_keep_lanes_and_let_types_must_agree():
    A = decl_buffer((4,), "float32", "A")
    bad_cast = Cast(float32, Ramp(const(0), const(1), 4, int32.with_lanes(4)))
    assert_problem(Evaluate(bad_cast), [A], "Cast", "lane count")
    x = var("x", "int64")
    assert_problem(LetStmt(x, const(1), Evaluate(x)), [A], "LetStmt", "int64", "int32")


def test_reduce_left_in_loop_ir():
    A = decl_buffer((4,), "float32", "A")
    k = var("k")
    x, y = var("x", "float32"), var("y", "float32")
    reducer = E.CommReducer((x,), (y,), (x + y,), (const(0.0),), "sum")
    axis = E.IterVar(k, E.Range(const(0), const(4)), E.REDUCE)
    red = E.Reduce(reducer, (A[k],), (axis,), const(True), 0, float32)
    assert_problem(BufferStore(A, red, (const(0),)), [A], "reduction left in loop IR")


def test_thread_extent_and_thread_binding():
    A = decl_buffer((4,), "float32", "A")
    i = var("i")
    body = AttrStmt("threadIdx.x", "thread_extent", const(4.0),
                    For(i, const(0), const(4), ForKind.THREAD_BINDING,
                        BufferStore(A, const(0.0), (i,))))
    assert_problem(body, [A], "thread extent", "thread-bound loop without a thread tag")


def test_verify_raises_internal_error_naming_the_function():
    A = decl_buffer((4,), "float32", "A")
    func = PrimFunc("broken", (A,), BufferStore(A, const(0.0), (var("q"),)))
    with pytest.raises(InternalError, match=r"function 'broken'.*\n.*Var 'q'"):
        verify(func)


def test_many_problems_are_summarised():
    A = decl_buffer((4,), "float32", "A")
    stores = [BufferStore(A, const(0.0), (var(f"q{n}"),)) for n in range(15)]
    func = PrimFunc("broken", (A,), seq(*stores))
    assert len(verify_well_formed(func)) == 15
    with pytest.raises(InternalError, match="and 5 more"):
        verify(func)


def test_int_constant_must_fit_its_type():
    A = decl_buffer((4,), "int32", "A")
    assert_problem(BufferStore(A, IntImm(int32, 2**40), (const(0),)), [A], "does not fit")


def test_undefined_variable_in_allocation_shape():
    A = decl_buffer((4,), "float32", "A")
    m = var("m")
    tmp = decl_buffer((m,), "float32", "tmp")
    assert_problem(Allocate(tmp, BufferStore(A, const(0.0), (const(0),))), [A], "Var 'm'")


def test_shape_variable_of_a_parameter_buffer_is_defined():
    n = var("n", "int64")
    A = decl_buffer((n,), "float32", "A")
    i = var("i", "int64")
    body = For(i, IntImm(int64, 0), n, SERIAL, BufferStore(A, const(0.0), (i,)))
    assert problems_of(body, [A]) == []


def test_select_branches_and_bool_logic():
    A = decl_buffer((4,), "int32", "A")
    c = E.And(A[0] < 1, A[1], bool_)
    assert_problem(BufferStore(A, Select(c, const(1), const(2), int32), (const(0),)), [A],
                   "different types")
