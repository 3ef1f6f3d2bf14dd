"""CUDA C generation: the structure of the source, and nvcc compiling it for sm_80 and
sm_90."""
from __future__ import annotations

import re

import pytest

from tensorlang import tir
from tensorlang.tir import op
from tensorlang.tir import (Allocate, BufferStore, ForKind, IfThenElse, LetStmt, PrimFunc,
                            decl_buffer)
from tensorlang.target.cuda import (CudaCodegen, FastMathCudaCodegen, build, compile_cuda,
                                    generate_cuda, split_kernels)
from tensorlang.tir.transform.split_kernels import launch_dimensions

from cuda_tir_kernels import (bound, elementwise, row_sum, serial, stage, tiled_matmul,
                              vector_copy)


def math_kernel(dtype="float32"):
    """Every math intrinsic, a select, casts, min/max and a float16 round trip."""
    n = 256
    A = decl_buffer((n,), dtype, "A")
    B = decl_buffer((n,), dtype, "B")
    bx, tx = tir.var("bx"), tir.var("tx")
    i = bx * 64 + tx
    x = A[i]
    terms = [op.call_intrin(name, x) for name in sorted(op.INTRINSICS) if op.INTRINSICS[name] == 1]
    value = terms[0]
    for term in terms[1:]:
        value = value + term
    value = value + op.call_intrin("pow", x, x) + op.maximum(x, op.minimum(x, 1.0))
    value = op.select(x > 0.5, value, op.cast(op.cast(x, "float16"), dtype))
    value = value + op.cast(op.floordiv(op.cast(x * 100.0, "int32") - 50, 7), dtype) \
        + op.cast(op.floormod(tx - 30, 8), dtype)
    nest = bound(bx, n // 64, "blockIdx.x", bound(tx, 64, "threadIdx.x",
                                                 BufferStore(B, value, (i,))))
    return PrimFunc("math", (A, B), stage("B", nest))


def local_unrolled():
    """A register array filled by an unrolled loop and a vectorized let."""
    A = decl_buffer((128, 4), "float32", "A")
    B = decl_buffer((128,), "float32", "B")
    regs = decl_buffer((4,), "float32", "regs", scope="local")
    bx, tx, k = tir.var("bx"), tir.var("tx"), tir.var("k")
    row = bx * 32 + tx
    v = tir.var("v", "float32x4")
    fill = LetStmt(v, A[row, op.ramp(0, 1, 4)],
                   BufferStore(regs, v * op.broadcast(op.const(2.0), 4), (op.ramp(0, 1, 4),)))
    total = BufferStore(B, op.const(0.0), (row,))
    add = serial(k, 4, BufferStore(B, B[row] + regs[k], (row,)), ForKind.UNROLLED)
    body = Allocate(regs, tir.seq(fill, total, add))
    nest = bound(bx, 4, "blockIdx.x", bound(tx, 32, "threadIdx.x", body))
    return PrimFunc("local_unrolled", (A, B), stage("B", nest))


KERNELS = {
    "elementwise": elementwise,
    "vector": vector_copy,
    "row_sum": row_sum,
    "matmul": tiled_matmul,
    "matmul_fp16": lambda: tiled_matmul(dtype="float16"),
    "matmul_bf16": lambda: tiled_matmul(dtype="bfloat16"),
    "math": math_kernel,
    "math_fp64": lambda: math_kernel("float64"),
    "local_unrolled": local_unrolled,
}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_generated_source_compiles_with_nvcc(name, nvcc):
    source = build(KERNELS[name](), "cuda").get_source("cuda")
    for arch in ("sm_80", "sm_90"):
        ptx = compile_cuda(source, arch, "ptx").decode()
        assert f".target {arch}" in ptx
        assert re.search(r"\.entry\s+\w+_kernel0", ptx)


def test_ptx_source_of_a_module(nvcc):
    mod = build(elementwise(), "cuda -arch=sm_90")
    ptx = mod.get_source("ptx")
    assert ".target sm_90" in ptx and "scale_kernel0" in ptx


def test_signature_and_launch_dimensions_of_symbolic_sizes():
    func = elementwise(block=128)
    program = split_kernels(func)
    (kernel,) = program.kernels
    source = generate_cuda(program)
    assert re.search(r"__global__ void __launch_bounds__\(128\) scale_kernel0\("
                     r"float\* __restrict__ A, float\* __restrict__ B, int n\)", source)
    grid, block = kernel.grid(), kernel.block()
    n = func.params[0].shape[0]
    for size in (1, 127, 128, 129, 1000):
        assert launch_dimensions(kernel, {n: size}) == ((-(-size // 128), 1, 1), (128, 1, 1))
    assert grid[1:] == (1, 1) and op.as_const_int(block[0]) == 128 and block[1:] == (1, 1)
    assert "threadIdx.x" in source and "blockIdx.x" in source


def test_shared_and_local_memory_declarations():
    source = build(tiled_matmul(tile=16), "cuda").get_source()
    assert "__shared__ __align__(16) float A_shared[256];" in source
    assert "__shared__ __align__(16) float B_shared[256];" in source
    assert re.search(r"float C_local\[1\];", source)
    # barriers around the tile loads, from inject_syncthreads
    assert source.count("__syncthreads();") == 2
    assert "__launch_bounds__(256)" in source


def test_contiguous_aligned_vectors_use_float4():
    source = build(vector_copy(lanes=4), "cuda").get_source()
    assert "const float4" in source and "*(float4*)(B +" in source
    assert "make_float4(" in source
    source2 = build(vector_copy(lanes=2), "cuda").get_source()
    assert "float2" in source2


def test_misaligned_vectors_are_scalarized():
    source = build(vector_copy(lanes=4, offset=1), "cuda").get_source()
    # the load may start at any element: four scalar loads, then an aligned float4 store
    assert "const float4" not in source
    assert "*(float4*)(B +" in source


def test_unrolled_loops_and_vector_lets():
    source = build(local_unrolled(), "cuda").get_source()
    # the unrolled loop is straight-line code, one statement per register
    assert "for (" not in source
    assert all(f"+ regs[{k}])" in source for k in range(4))
    assert "float regs[4];" in source
    assert "float4" in source  # the let's row load is aligned and contiguous


def test_half_types_are_stored_16_bit_and_computed_in_float():
    source = build(tiled_matmul(dtype="float16"), "cuda").get_source()
    assert "#include <cuda_fp16.h>" in source
    assert "__half* __restrict__ A" in source and "__shared__ __align__(16) __half" in source
    assert "tl_round_f16(" in source and "__half2float(" in source
    source = build(tiled_matmul(dtype="bfloat16"), "cuda").get_source()
    assert "#include <cuda_bf16.h>" in source and "__nv_bfloat16* __restrict__" in source
    assert "tl_round_bf16(" in source


def test_math_functions_come_from_the_table():
    source = build(math_kernel(), "cuda").get_source()
    for fn in ("expf(", "logf(", "tanhf(", "erff(", "sqrtf(", "rsqrtf(", "powf(",
               "tl_sigmoidf(", "rintf("):
        assert fn in source
    fast = generate_cuda(split_kernels(math_kernel()), FastMathCudaCodegen)
    assert "__expf(" in fast and "__logf(" in fast
    assert FastMathCudaCodegen.MATH_FLOAT["tanh"] == CudaCodegen.MATH_FLOAT["tanh"]


def test_floor_division_uses_helpers_only_when_signs_are_unknown():
    source = generate_cuda(split_kernels(math_kernel()))  # unsimplified: signs unknown
    assert "tl_floordiv(" in source.split("__global__")[1]
    assert "tl_floormod(" in source.split("__global__")[1]
    # (cols + 63) // 64 with cols a non-negative size: plain C division
    source = build(row_sum(), "cuda").get_source()
    body = source.split("__global__")[1]
    assert "tl_floordiv" not in body and "/ 64)" in body


def test_guarded_tail_and_select_keep_the_condition():
    source = build(tiled_matmul(), "cuda").get_source()
    assert " ? " in source  # zero padding of the tiles reads only in bounds
    assert re.search(r"if \(\(\(\(.*< M\) && \(.*< N\)\)\)", source)


def test_several_stages_become_several_kernels():
    n = tir.var("n")
    A = decl_buffer((n,), "float32", "A")
    T = decl_buffer((n,), "float32", "T")
    B = decl_buffer((n,), "float32", "B")
    loops = []
    for name, dst, src in (("T", T, A), ("B", B, T)):
        bx, tx = tir.var("bx"), tir.var("tx")
        i = bx * 32 + tx
        loops.append(stage(name, bound(bx, (n + 31) // 32, "blockIdx.x", bound(
            tx, 32, "threadIdx.x", IfThenElse(i < n, BufferStore(dst, src[i] + 1.0, (i,)))))))
    func = PrimFunc("two", (A, B), Allocate(T, tir.seq(*loops)))
    program = split_kernels(func)
    assert [k.name for k in program.kernels] == ["two_kernel0", "two_kernel1"]
    assert program.temporaries == [T]
    assert [b.name for b in program.kernels[1].buffers] == ["B", "T"]
