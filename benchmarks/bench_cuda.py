"""CUDA benchmarks: float32 matmul against cuBLAS (``cupy.matmul``) and an element-wise
kernel against the device's copy bandwidth (``cupy.copyto``).

The matmul runs a hand schedule: 128 x 128 block tiles staged through shared memory 8
reduction steps at a time, fetched cooperatively with float4 loads (the A tile stored
transposed, so that every shared-memory read of the inner loop is a float4), 16 x 16
threads each accumulating an 8 x 8 register tile in unrolled straight-line code and
writing it back with float4 stores.  The same schedule with the A tile as it is in
memory, and with ``--trials N`` the best of N configs drawn from the GPU search space,
are measured too.  Timings are CUDA events, best of 5 rounds; GPU arrays are passed to
the kernels in place.  Needs an NVIDIA GPU, pycuda and cupy; without a GPU it says so
and stops.  One command on a GPU machine:

    pip install pycuda cupy-cuda12x   # once
    python benchmarks/bench_cuda.py [--size 4096] [--trials 0] [--json figures.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

# bench_common first: it runs the script again without OpenBLAS kernel pins, if set
from bench_common import print_table

import numpy as np

import tensorlang as tl
from tensorlang import te
from tensorlang.target.cuda import build, gpu_available


def matmul_definition(M: int, N: int, K: int, transposed_a_tile: bool = False):
    """``A, B, C`` of ``C = A @ B``; with ``transposed_a_tile`` C reads A through a
    stage ``A_t[k, i] = A[i, k]`` that a schedule can keep in shared memory, so that a
    thread's rows of the A tile are contiguous (vector loads from shared memory)."""
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    k = te.reduce_axis((0, K), name="k")
    if transposed_a_tile:
        AT = te.compute((K, M), lambda kk, i: A[i, kk], name="A_t")
        C = te.compute((M, N), lambda i, j: te.sum(AT[k, i] * B[k, j], axis=k), name="C")
    else:
        C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return A, B, C


def hand_matmul_schedule(M: int, N: int, K: int, threads=(16, 16), per_thread=(8, 8),
                         k_tile: int = 8, vector: int = 4, transposed_a_tile: bool = True):
    """``(schedule, [A, B, C])``: block tiles of ``threads * per_thread`` outputs, each
    thread a ``per_thread`` register tile (``cache_write`` local) accumulated over shared
    A and B tiles of ``k_tile`` reduction steps, fetched by all threads with ``vector``-wide
    loads; the register loops unrolled.  ``transposed_a_tile`` stores the A tile as
    ``[k, i]`` (see :func:`matmul_definition`)."""
    A, B, C = matmul_definition(M, N, K, transposed_a_tile)
    s = te.create_schedule(C)
    CL = s.cache_write(C, "local")
    if transposed_a_tile:
        AS = C.op.input_tensors[0] if C.op.input_tensors[0].name == "A_t" \
            else C.op.input_tensors[1]
        s[AS].set_scope("shared")
    else:
        AS = s.cache_read(A, "shared", [CL])
    BS = s.cache_read(B, "shared", [CL])
    ty_count, tx_count = threads
    y_inner, x_inner = per_thread
    i, j = s[C].op.axis
    by, i = s[C].split(i, factor=ty_count * y_inner)
    bx, j = s[C].split(j, factor=tx_count * x_inner)
    ty, yi = s[C].split(i, factor=y_inner)
    tx, xi = s[C].split(j, factor=x_inner)
    s[C].reorder(by, bx, ty, tx, yi, xi)
    s[C].bind(by, te.thread_axis("blockIdx.y"))
    s[C].bind(bx, te.thread_axis("blockIdx.x"))
    s[C].bind(ty, te.thread_axis("threadIdx.y"))
    s[C].bind(tx, te.thread_axis("threadIdx.x"))
    # the register tile is written back with float4 stores
    xo, xv = s[C].split(xi, factor=min(vector, x_inner))
    s[C].unroll(yi)
    s[C].unroll(xo)
    s[C].vectorize(xv)

    local = s[CL]
    local.compute_at(s[C], tx)
    yl, xl = local.op.axis
    ko, ki = local.split(local.op.reduce_axis[0], factor=k_tile)
    local.reorder(ko, ki, yl, xl)
    local.unroll(ki)
    local.unroll(yl)
    local.unroll(xl)
    for cached in (AS, BS):
        fetch = s[cached]
        fetch.compute_at(local, ko)
        rows, columns = fetch.op.axis
        if cached is AS and transposed_a_tile:
            # read A along its contiguous k axis (float4), store the lanes transposed
            rows, columns = columns, rows
            fetch.reorder(rows, columns)
        # the lanes split off the contiguous axis first, so each is one aligned float4
        columns, lanes = fetch.split(columns, factor=vector)
        fused = fetch.fuse(rows, columns)
        fused, fx = fetch.split(fused, factor=tx_count)
        _, fy = fetch.split(fused, factor=ty_count)
        fetch.bind(fy, te.thread_axis("threadIdx.y"))
        fetch.bind(fx, te.thread_axis("threadIdx.x"))
        fetch.vectorize(lanes)
    return s, [A, B, C]


def elementwise_schedule(n: int, threads: int = 256, vector: int = 4):
    """``B = A * 2 + 1`` over ``n`` elements, ``vector`` per thread (float4 accesses)."""
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: A[i] * 2.0 + 1.0, name="B")
    s = te.create_schedule(B)
    outer, lanes = s[B].split(B.op.axis[0], factor=vector)
    block, thread = s[B].split(outer, factor=threads)
    s[B].bind(block, te.thread_axis("blockIdx.x"))
    s[B].bind(thread, te.thread_axis("threadIdx.x"))
    s[B].vectorize(lanes)
    return s, [A, B]


def _cupy_seconds(cupy, fn, number: int = 10, repeat: int = 5) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        for _ in range(number):
            fn()
        end.record()
        end.synchronize()
        best = min(best, cupy.cuda.get_elapsed_time(start, end) / 1e3 / number)
    return best


def _check(c, expected, what: str) -> None:
    error = float(np.abs(c - expected).max() / max(1.0, np.abs(expected).max()))
    if error > 1e-3:
        raise SystemExit(f"{what}: wrong result (relative error {error:.2e})")


def bench_matmul(cupy, size: int, trials: int, rows: list, figures: dict) -> None:
    M = N = K = size
    flops = 2.0 * M * N * K
    a = cupy.random.random((M, K), dtype=cupy.float32)
    b = cupy.random.random((K, N), dtype=cupy.float32)
    c = cupy.zeros((M, N), dtype=cupy.float32)
    expected = cupy.matmul(a, b)
    cublas = _cupy_seconds(cupy, lambda: cupy.matmul(a, b, out=c))
    rows.append(["cuBLAS sgemm (cupy.matmul)", f"{cublas * 1e3:.3f}",
                 f"{flops / cublas / 1e12:.2f} TFLOPS", "1.00"])
    figures["cublas_s"] = cublas
    candidates = [("hand schedule", *hand_matmul_schedule(M, N, K)),
                  ("hand schedule, A tile not transposed",
                   *hand_matmul_schedule(M, N, K, transposed_a_tile=False))]
    if trials:
        from tensorlang.autotune.sketch_gpu import gpu_sketch_space
        space = gpu_sketch_space(matmul_definition(M, N, K)[2])
        rng = np.random.default_rng(0)
        best = None
        for trial in range(trials):
            config = space.sample(rng)
            s, args = space.apply(config)
            try:
                mod = build(tl.lower(s, args), "cuda")
                seconds = mod.time(a, b, c, number=3, repeat=1)
            except Exception as error:  # noqa: BLE001 - a failed candidate is skipped
                print(f"  trial {trial}: failed ({error})", flush=True)
                continue
            print(f"  trial {trial}: {flops / seconds / 1e12:.2f} TFLOPS {config}", flush=True)
            if best is None or seconds < best[0]:
                best = (seconds, config)
        if best is not None:
            candidates.append((f"best of {trials} sampled", *space.apply(best[1])))
    for name, s, args in candidates:
        start = time.perf_counter()
        mod = build(tl.lower(s, args, name="matmul"), "cuda")
        c.fill(0)
        mod(a, b, c)  # GPU arrays: used in place, no copies
        build_s = time.perf_counter() - start
        _check(cupy.asnumpy(c), cupy.asnumpy(expected), name)
        seconds = mod.time(a, b, c, number=10, repeat=5)
        rows.append([f"tensorlang {name}", f"{seconds * 1e3:.3f}",
                     f"{flops / seconds / 1e12:.2f} TFLOPS", f"{cublas / seconds:.2f}"])
        figures[f"tensorlang {name}"] = {"seconds": seconds, "x_cublas": cublas / seconds,
                                         "build_and_first_run_s": build_s}


def bench_elementwise(cupy, elements: int, rows: list, figures: dict) -> None:
    a = cupy.random.random(elements, dtype=cupy.float32)
    b = cupy.empty_like(a)
    nbytes = 2.0 * a.nbytes  # read once, written once
    copy = _cupy_seconds(cupy, lambda: cupy.copyto(b, a))
    rows.append(["device copy (cupy.copyto)", f"{copy * 1e3:.3f}",
                 f"{nbytes / copy / 1e9:.0f} GB/s", "1.00"])
    s, args = elementwise_schedule(elements)
    mod = build(tl.lower(s, args, name="scale"), "cuda")
    mod(a, b)
    _check(cupy.asnumpy(b[:1 << 20]), cupy.asnumpy(a[:1 << 20]) * 2 + 1, "element-wise")
    seconds = mod.time(a, b, number=20, repeat=5)
    rows.append(["tensorlang A*2+1 (float4)", f"{seconds * 1e3:.3f}",
                 f"{nbytes / seconds / 1e9:.0f} GB/s", f"{copy / seconds:.2f}"])
    figures["copy_s"] = copy
    figures["elementwise"] = {"seconds": seconds, "x_copy": copy / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="matmul M = N = K")
    parser.add_argument("--trials", type=int, default=0,
                        help="also measure this many sampled configs of the GPU space")
    parser.add_argument("--elements", type=int, default=1 << 26,
                        help="float32 elements of the element-wise kernel")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    if not gpu_available():
        raise SystemExit("bench_cuda: no usable NVIDIA GPU (needs a GPU, its driver and "
                         "pycuda: pip install pycuda); nothing was measured")
    try:
        import cupy
    except ImportError:
        raise SystemExit("bench_cuda: cupy is needed for the cuBLAS and copy baselines "
                         "(pip install cupy-cuda12x)") from None
    device = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = device["name"].decode() if isinstance(device["name"], bytes) else device["name"]
    print(f"device: {name}", flush=True)
    rows: list = []
    figures: dict = {"device": name, "size": args.size, "elements": args.elements}
    bench_matmul(cupy, args.size, args.trials, rows, figures)
    bench_elementwise(cupy, args.elements, rows, figures)
    print_table(f"{name}: float32 matmul {args.size}^3 and element-wise over "
                f"{args.elements} elements (best of 5 rounds, CUDA events)",
                ["kernel", "ms", "rate", "x baseline"], rows)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    sys.exit(main())
