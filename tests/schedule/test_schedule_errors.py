"""Every schedule rule: breaking it raises ScheduleError / LoweringError naming the stage,
the axis and the rule."""
from __future__ import annotations

import pytest

import tensorlang as tl
from tensorlang import te


def setup():
    A = te.placeholder((16, 16), name="A")
    B = te.compute((16, 16), lambda i, j: A[i, j] + 1.0, name="B")
    k = te.reduce_axis((0, 16), name="k")
    C = te.compute((16,), lambda i: te.sum(B[i, k], axis=k), name="C")
    s = tl.create_schedule(C)
    return A, B, C, s


def raises(match):
    return pytest.raises(tl.ScheduleError, match=match)


def test_errors_are_tensorlang_errors():
    assert issubclass(tl.ScheduleError, tl.TensorLangError)
    assert issubclass(tl.LoweringError, tl.TensorLangError)


def test_internal_error_is_not_a_user_error():
    """A compiler bug is not the user's mistake: ``except tl.TensorLangError`` (a caller
    reporting bad input) must not catch it."""
    assert not issubclass(tl.InternalError, tl.TensorLangError)
    with pytest.raises(tl.InternalError, match="please report"):
        try:
            raise tl.InternalError("broken invariant")
        except tl.TensorLangError:
            pytest.fail("an InternalError was caught as a user error")


def test_reorder_axis_given_twice():
    A, B, C, s = setup()
    x, y = s[B].op.axis
    with raises(r"reorder\(i, j, i\) on stage 'B': axis 'i' given twice"):
        s[B].reorder(x, y, x)


def test_axis_already_split():
    A, B, C, s = setup()
    x = s[B].op.axis[0]
    s[B].split(x, factor=4)
    with raises(r"split\(i\) on stage 'B': axis 'i' is not a leaf of this stage: it was "
                r"already split"):
        s[B].split(x, factor=2)


def test_axis_of_another_stage():
    A, B, C, s = setup()
    with raises(r"vectorize\(i\) on stage 'C': axis 'i' is not a leaf of this stage"):
        s[C].vectorize(B.op.axis[0])


@pytest.mark.parametrize("factor", [0, -3, 2.5, "4", True])
def test_split_factor_must_be_positive_int(factor):
    A, B, C, s = setup()
    with raises(r"split\(i\) on stage 'B': factor must be a positive int"):
        s[B].split(B.op.axis[0], factor=factor)


def test_split_needs_exactly_one_of_factor_nparts():
    A, B, C, s = setup()
    with raises("give exactly one of factor= or nparts="):
        s[B].split(B.op.axis[0])
    with raises("give exactly one of factor= or nparts="):
        s[B].split(B.op.axis[0], factor=2, nparts=2)
    with raises("nparts must be a positive int"):
        s[B].split(B.op.axis[0], nparts=0)


def test_fuse_non_adjacent():
    A = te.placeholder((4, 4, 4), name="A")
    B = te.compute((4, 4, 4), lambda x, y, z: A[x, y, z] * 2.0, name="B")
    s = tl.create_schedule(B)
    x, y, z = B.op.axis
    with raises(r"fuse\(x, z\) on stage 'B': axes 'x' and 'z' are not adjacent"):
        s[B].fuse(x, z)
    with raises(r"fuse\(y, x\) on stage 'B': axes 'y' and 'x' are not adjacent"):
        s[B].fuse(y, x)


def test_fuse_reduce_with_data_parallel():
    A, B, C, s = setup()
    with raises("cannot fuse a reduction axis with a data-parallel axis"):
        s[C].fuse(C.op.axis[0], C.op.reduce_axis[0])


def test_vectorize_and_parallel_of_reduce_axis():
    A, B, C, s = setup()
    k = C.op.reduce_axis[0]
    with raises(r"vectorize\(k\) on stage 'C': axis 'k' is a reduction axis"):
        s[C].vectorize(k)
    with raises(r"parallel\(k\) on stage 'C': axis 'k' is a reduction axis"):
        s[C].parallel(k)
    with raises(r"bind\(k, threadIdx.x\) on stage 'C': axis 'k' is a reduction axis"):
        s[C].bind(k, te.thread_axis("threadIdx.x"))


def test_vectorize_symbolic_extent_of_output_at_schedule_time():
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: A[i] * 2.0, name="B")
    s = tl.create_schedule(B)
    with raises(r"vectorize\(i\) on stage 'B': axis 'i' has a non-constant extent"):
        s[B].vectorize(B.op.axis[0])
    xo, xi = s[B].split(B.op.axis[0], factor=4)
    s[B].vectorize(xi)  # fine: constant inner extent


def test_vectorize_symbolic_extent_found_at_lowering():
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((n,), lambda i: B[i] * 2.0, name="C")
    s = tl.create_schedule(C)
    s[B].vectorize(B.op.axis[0])  # B might have been attached somewhere constant
    with pytest.raises(tl.LoweringError, match=r"vectorize\(i\) on stage 'B'.*not a constant"):
        tl.lower(s, [A, C])


def test_bind_same_thread_tag_twice():
    A, B, C, s = setup()
    x, y = B.op.axis
    s[B].bind(x, te.thread_axis("threadIdx.x"))
    with raises(r"thread tag 'threadIdx.x' is already bound to axis 'i' of this stage"):
        s[B].bind(y, te.thread_axis("threadIdx.x"))


def test_bind_needs_thread_axis():
    A, B, C, s = setup()
    with raises("bind needs a thread axis"):
        s[B].bind(B.op.axis[0], B.op.axis[1])


def test_compute_at_of_output():
    A, B, C, s = setup()
    with raises(r"compute_at\(s\[B\], i\) on stage 'C': 'C' is an output"):
        s[C].compute_at(s[B], B.op.axis[0])


def test_compute_at_to_non_consumer():
    A = te.placeholder((8,), name="A")
    B = te.compute((8,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((8,), lambda i: A[i] * 2.0, name="C")
    D = te.compute((8,), lambda i: B[i] + C[i], name="D")
    s = tl.create_schedule(D)
    with raises(r"compute_at\(s\[C\], i\) on stage 'B': stage 'C' does not read 'B'"):
        s[B].compute_at(s[C], C.op.axis[0])


def test_compute_at_axis_not_of_target():
    A, B, C, s = setup()
    with raises(r"compute_at\(s\[C\], j\) on stage 'B': axis 'j' is not a leaf"):
        s[B].compute_at(s[C], B.op.axis[1])


def test_compute_at_placeholder():
    A, B, C, s = setup()
    with raises("'A' is a placeholder"):
        s[A].compute_at(s[B], B.op.axis[0])


def test_inline_reduction_output_and_multi_output():
    A, B, C, s = setup()
    with raises(r"compute_inline\(\) on stage 'C': 'C' is an output"):
        s[C].compute_inline()
    D = te.compute((16,), lambda i: C[i] * 2.0, name="D")
    s2 = tl.create_schedule(D)
    with raises(r"compute_inline\(\) on stage 'C': 'C' is a reduction"):
        s2[C].compute_inline()
    P, Q = te.compute((16,), lambda i: (A[i, 0] + 1.0, A[i, 1] * 2.0), name="PQ")
    R = te.compute((16,), lambda i: P[i] + Q[i], name="R")
    s3 = tl.create_schedule(R)
    with raises(r"compute_inline\(\) on stage 'PQ': 'PQ' has 2 outputs"):
        s3[P].compute_inline()


def test_cache_read_reader_does_not_read():
    A, B, C, s = setup()
    with raises(r"cache_read\(A, 'shared'\): stage 'C' does not read 'A'"):
        s.cache_read(A, "shared", [C])


def test_cache_read_empty_readers():
    A, B, C, s = setup()
    with raises("readers must be a non-empty list"):
        s.cache_read(A, "shared", [])


def test_unknown_scope():
    A, B, C, s = setup()
    with raises(r"cache_read\(A, 'texture'\) on stage 'A': unknown memory scope 'texture'"):
        s.cache_read(A, "texture", [B])
    with raises(r"cache_write\(C, 'register'\) on stage 'C': unknown memory scope"):
        s.cache_write(C, "register")
    with raises("unknown memory scope"):
        s[B].set_scope("nowhere")


def test_cache_write_after_a_split_of_the_reduction():
    A, B, C, s = setup()
    s[C].split(C.op.reduce_axis[0], factor=4)
    with raises(r"cache_write\(C, 'local'\) on stage 'C': the reduction axis 'k.outer' "
                r"was already split, reordered or annotated"):
        s.cache_write(C, "local")


def test_rfactor_rules():
    A, B, C, s = setup()
    with raises(r"rfactor\(C, i\) on stage 'C': axis 'i' is not a reduction axis"):
        s.rfactor(C, C.op.axis[0])
    with raises(r"rfactor\(B, i\) on stage 'B': 'B' is not a reduction"):
        s.rfactor(B, B.op.axis[0])
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=4)
    with raises(r"rfactor\(C, k\) on stage 'C': axis 'k' is not a leaf"):
        s.rfactor(C, C.op.reduce_axis[0])
    with raises("factor_axis must be an int in"):
        s.rfactor(C, ki, factor_axis=5)


def test_storage_align_rules():
    A, B, C, s = setup()
    with raises(r"storage_align\(k, 8, 1\) on stage 'C': axis 'k' is not a data-parallel"):
        s[C].storage_align(C.op.reduce_axis[0], 8, 1)
    with raises("offset must be an int in"):
        s[B].storage_align(B.op.axis[0], 8, 8)


def test_pragma_rules():
    A, B, C, s = setup()
    with raises("the pragma name must be an identifier"):
        s[B].pragma(B.op.axis[0], "not a name", 1)
    with raises("the pragma value must be"):
        s[B].pragma(B.op.axis[0], "unroll", [1])


def test_stage_of_foreign_tensor():
    A, B, C, s = setup()
    X = te.placeholder((3,), name="X")
    with raises(r"s\[X\]: 'X' is not part of this schedule"):
        s[X]


def test_create_schedule_rejects_non_tensors():
    with raises("create_schedule: expected"):
        tl.create_schedule(3)


def test_lower_rules():
    A, B, C, s = setup()
    with pytest.raises(tl.LoweringError, match="tensor 'A' is read but is not in args"):
        tl.lower(s, [C])
    s[B].compute_inline()
    # an inlined tensor among the arguments is stored too (test_tvm_schedule_rules.py)
    assert "stage B" in str(tl.lower(s, [A, B, C]))
    with pytest.raises(tl.LoweringError, match="appears twice"):
        tl.lower(s, [A, A, C])


def test_a_shape_variable_only_inside_a_dimension_must_be_an_argument():
    m = te.var("m")
    A = te.placeholder((8, 8 * m), name="A")
    C = te.compute((8,), lambda i: A[i, 0] * 2.0, name="C")
    s = tl.create_schedule(C)
    with pytest.raises(tl.LoweringError, match=r"shape of 'A' uses 'm' in '8 \* m'.*add m "
                                               r"to args"):
        tl.lower(s, [A, C])
    assert tl.lower(s, [A, C, m]).params[-1] is m
