"""Before/after cases of the loop vectorizer."""
from tensorlang import tir
from tensorlang.tir import op
from tensorlang.tir import (Allocate, BufferStore, Evaluate, For, ForKind, IfThenElse,
                            LetStmt, PrimFunc, decl_buffer, structural_equal)
from tensorlang.tir.expr import Broadcast, BufferLoad, FloorMod, Ramp, Select
from tensorlang.tir.transform.vectorize import vectorize_loops
from tensorlang.tir.verify import verify


def loop(var, extent, body, kind=ForKind.SERIAL, start=0):
    return For(var, op.const(start, var.dtype), op.convert(extent), kind, body)


def vloop(var, extent, body, start=0):
    return loop(var, extent, body, ForKind.VECTORIZED, start)


def vectorized(func):
    result = vectorize_loops(func)
    verify(result)
    return result


def ramp(base, lanes, stride=1):
    return op.ramp(base, stride, lanes)


def bcast(value, lanes):
    return op.broadcast(value, lanes)


def only_loop_kinds(stmt):
    kinds = []
    tir.post_order_visit(stmt, lambda n: kinds.append(n.kind) if isinstance(n, For) else None)
    return kinds


A = decl_buffer((4, 16), "float32", "A")
B = decl_buffer((16, 16), "float32", "B")
C = decl_buffer((4, 16), "float32", "C")
i, j, k, x, xo = (tir.var(n) for n in ("i", "j", "k", "x", "xo"))


def test_reduction_update_becomes_contiguous_vector_code():
    body = BufferStore(C, C[i, j] + A[i, k] * B[k, j], (i, j))
    func = PrimFunc("mm", (A, B, C), loop(i, 4, loop(k, 16, vloop(j, 16, body))))
    r = ramp(0, 16)
    expected_store = BufferStore(
        C, BufferLoad(C, (i, r), C.dtype.with_lanes(16))
        + bcast(A[i, k], 16) * BufferLoad(B, (k, r), B.dtype.with_lanes(16)), (i, r))
    expected = func.replace(body=loop(i, 4, loop(k, 16, expected_store)))
    assert structural_equal(vectorized(func), expected)


def test_nonzero_loop_min_and_affine_index_fold_into_a_ramp():
    flat = decl_buffer((64,), "float32", "flat")
    body = BufferStore(flat, op.const(1.0), (i * 16 + x * 2 + 1,))
    func = PrimFunc("f", (flat,), loop(i, 4, vloop(x, 4, body, start=2)))
    result = vectorized(func)
    store = result.body.body
    assert isinstance(store.indices[0], Ramp)
    assert op.as_const_int(store.indices[0].stride) == 2
    assert structural_equal(store.indices[0].base, (i * 16 + 2 * 2) + 1)
    assert isinstance(store.value, Broadcast)


def test_nonlinear_lane_index_stays_a_vector_expression():
    body = BufferStore(C, A[i, x % 4 * 4 + x // 4], (i, x))
    func = PrimFunc("t", (A, C), loop(i, 4, vloop(x, 16, body)))
    store = vectorized(func).body.body
    index = store.value.indices[1]
    assert index.dtype.lanes == 16
    found = []
    tir.post_order_visit(index, lambda n: found.append(n) if isinstance(n, FloorMod) else None)
    assert found and found[0].dtype.lanes == 16


def test_lane_invariant_store_stays_a_serial_loop():
    # every lane would write the same element: vector code would lose updates
    body = BufferStore(C, C[i, 0] + A[i, x], (i, op.const(0)))
    func = PrimFunc("r", (A, C), loop(i, 4, vloop(x, 16, body)))
    assert only_loop_kinds(vectorized(func).body) == [ForKind.SERIAL, ForKind.SERIAL]


def test_cross_lane_dependence_stays_serial():
    flat = decl_buffer((17,), "float32", "flat")
    body = BufferStore(flat, flat[x] + 1.0, (x + 1,))
    func = PrimFunc("scan", (flat,), vloop(x, 16, body))
    assert vectorized(func).body.kind == ForKind.SERIAL


def test_symbolic_extent_stays_serial():
    n = tir.var("n")
    buf = decl_buffer((n,), "float32", "buf")
    func = PrimFunc("s", (buf,), For(x, op.const(0), n, ForKind.VECTORIZED,
                                     BufferStore(buf, op.const(0.0), (x,))))
    assert vectorized(func).body.kind == ForKind.SERIAL


def test_inner_loop_bound_on_the_lane_stays_serial():
    body = loop(k, x + 1, BufferStore(C, C[0, x] + A[0, k], (op.const(0), x)))
    func = PrimFunc("tri", (A, C), vloop(x, 8, body))
    assert vectorized(func).body.kind == ForKind.SERIAL


def test_inner_serial_loop_with_lane_independent_bounds_is_vectorized():
    body = loop(k, 16, BufferStore(C, C[i, x] + A[i, k] * B[k, x], (i, x)))
    func = PrimFunc("mm", (A, B, C), loop(i, 4, vloop(x, 16, body)))
    result = vectorized(func)
    assert only_loop_kinds(result.body) == [ForKind.SERIAL, ForKind.SERIAL]
    assert result.body.body.body.value.dtype.lanes == 16


def test_inner_loop_writing_a_shifting_location_stays_serial():
    # lane 0 at k=1 and lane 1 at k=0 touch the same element of C
    body = loop(k, 2, BufferStore(C, C[i, x + k] + 1.0, (i, x + k)))
    func = PrimFunc("shift", (C,), loop(i, 4, vloop(x, 8, body)))
    assert only_loop_kinds(vectorized(func).body)[-1] == ForKind.SERIAL


def test_nested_allocate_and_side_effect_calls_stay_serial():
    local = decl_buffer((1,), "float32", "local", scope="local")
    body = Allocate(local, BufferStore(C, A[0, x], (op.const(0), x)))
    func = PrimFunc("a", (A, C), vloop(x, 8, body))
    assert vectorized(func).body.kind == ForKind.SERIAL
    sync = Evaluate(op.call_builtin("tl.syncthreads", "int32"))
    func = PrimFunc("b", (A, C), vloop(x, 8, tir.seq(sync, BufferStore(C, A[0, x],
                                                                       (op.const(0), x)))))
    assert vectorized(func).body.kind == ForKind.SERIAL


def test_guard_with_in_bounds_store_becomes_a_masked_store():
    index = xo * 8 + x
    body = IfThenElse(index < 13, BufferStore(C, A[0, index] * 2.0, (op.const(0), index)))
    func = PrimFunc("g", (A, C), loop(xo, 2, vloop(x, 8, body)))
    store = vectorized(func).body.body
    assert isinstance(store, BufferStore)
    assert isinstance(store.value, Select) and store.value.dtype.lanes == 8
    old = store.value.false_value
    assert isinstance(old, BufferLoad) and old.buffer is C
    assert structural_equal(old.indices[1], ramp(xo * 8, 8))


def test_guard_whose_store_may_leave_the_buffer_stays_serial():
    short = decl_buffer((13,), "float32", "short")
    index = xo * 8 + x
    body = IfThenElse(index < 13, BufferStore(short, op.const(1.0), (index,)))
    func = PrimFunc("tail", (short,), loop(xo, 2, vloop(x, 8, body)))
    assert only_loop_kinds(vectorized(func).body) == [ForKind.SERIAL, ForKind.SERIAL]


def test_lane_invariant_guard_stays_a_branch():
    body = IfThenElse(i < 2, BufferStore(C, A[i, x], (i, x)))
    func = PrimFunc("g", (A, C), loop(i, 4, vloop(x, 16, body)))
    branch = vectorized(func).body.body
    assert isinstance(branch, IfThenElse) and branch.condition.dtype.lanes == 1
    assert branch.then_case.value.dtype.lanes == 16


def test_padding_select_clamps_loads_that_may_be_out_of_bounds():
    padded = decl_buffer((4, 18), "float32", "padded")
    value = op.select((x >= 1) & (x < 17), A[i, x - 1], op.const(0.0))
    func = PrimFunc("pad", (A, padded), loop(i, 4, vloop(x, 18, BufferStore(padded, value,
                                                                             (i, x)))))
    store = vectorized(func).body.body
    load = store.value.true_value
    assert isinstance(load, BufferLoad) and load.dtype.lanes == 18
    assert not isinstance(load.indices[1], Ramp)  # clamped into [0, 15]


def test_select_with_provably_safe_loads_is_not_clamped():
    value = op.select(x < 4, A[i, x], op.const(0.0))
    func = PrimFunc("s", (A, C), loop(i, 4, vloop(x, 16, BufferStore(C, value, (i, x)))))
    load = vectorized(func).body.body.value.true_value
    assert structural_equal(load.indices[1], ramp(0, 16))


def test_division_by_lane_value_in_speculated_branch_stays_serial():
    ints = decl_buffer((16,), "int32", "ints")
    value = op.select(x > 0, op.const(64) // x, op.const(0))
    func = PrimFunc("d", (ints,), vloop(x, 16, BufferStore(ints, value, (x,))))
    assert vectorized(func).body.kind == ForKind.SERIAL


def test_let_of_a_vector_value():
    t = tir.var("t")
    body = LetStmt(t, i * 16 + x, BufferStore(C, A[0, t % 16], (i, x)))
    func = PrimFunc("l", (A, C), loop(i, 4, vloop(x, 16, body)))
    let = vectorized(func).body.body
    assert isinstance(let, LetStmt) and let.var.dtype.lanes == 16 and let.var is not t


def test_vector_intrinsics_and_casts():
    ints = decl_buffer((16,), "int32", "ints")
    value = tir.op.call_intrin("exp", ints[x].astype("float32"))
    func = PrimFunc("e", (ints, C), vloop(x, 16, BufferStore(C, value, (op.const(0), x))))
    store = vectorized(func).body
    assert store.value.dtype.lanes == 16 and store.value.op == "exp"


def test_inner_vectorized_loop_makes_the_outer_one_serial():
    body = vloop(x, 16, BufferStore(C, A[i, x], (i, x)))
    func = PrimFunc("n", (A, C), vloop(i, 4, body))
    result = vectorized(func)
    assert result.body.kind == ForKind.SERIAL
    assert result.body.body.value.dtype.lanes == 16


def test_unchanged_function_is_returned_as_is():
    func = PrimFunc("id", (A, C), loop(i, 4, loop(x, 16, BufferStore(C, A[i, x], (i, x)))))
    assert vectorize_loops(func) is func


def _padded_read(masked_selects):
    """out[j] = select(likely(2j - 1 >= 0), P[2j - 1], 0), j vectorized by 8."""
    P = decl_buffer((16,), "float32", "P")
    O = decl_buffer((8,), "float32", "O")
    j = tir.var("j")
    index = j * 2 - 1
    value = op.select(op.likely(index >= 0), P[index], op.const(0.0, "float32"))
    func = PrimFunc("f", (P, O), vloop(j, 8, BufferStore(O, value, (j,))))
    result = vectorize_loops(func, masked_selects=masked_selects)
    verify(result)
    loads = []
    tir.post_order_visit(result.body, lambda n: loads.append(n)
                         if isinstance(n, BufferLoad) else None)
    return result, loads


def test_likely_is_dropped_inside_vector_code():
    result, _ = _padded_read(False)
    assert only_loop_kinds(result.body) == [], result.script()
    assert "likely" not in result.script()


def test_select_branches_are_clamped_unless_the_backend_masks_them():
    _, clamped = _padded_read(False)
    assert not isinstance(clamped[0].indices[0], Ramp)  # max(ramp, 0): a gather
    _, masked = _padded_read(True)
    index = masked[0].indices[0]
    assert isinstance(index, Ramp) and index.stride.value == 2
