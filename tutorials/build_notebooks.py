"""Generate the tutorial notebooks from the Python cells below, and execute them.

This script is the single source of truth for ``tutorials/*.ipynb``: edit a cell here, then
regenerate.  Each notebook is a list of markdown and code cells; executing it in full mode
stores the outputs (figures measured on the machine that runs it) in the notebook.

    python tutorials/build_notebooks.py                # write and execute all, full mode
    python tutorials/build_notebooks.py --only 02      # one notebook
    python tutorials/build_notebooks.py --quick        # small sizes (TL_TUTORIAL_QUICK=1)
    python tutorials/build_notebooks.py --no-execute   # write the cells only, no outputs
"""
from __future__ import annotations

import argparse
import os
import textwrap
import time

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))


def make_notebook(cells) -> nbformat.NotebookNode:
    """A notebook of ``(kind, source)`` cells, kind ``"md"`` or ``"code"``."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for index, (kind, source) in enumerate(cells):
        source = textwrap.dedent(source).strip("\n")
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        cell.id = f"cell-{index:02d}"   # stable ids keep regenerated notebooks diffable
        nb.cells.append(cell)
    return nb


def execute(nb, quick: bool, timeout: int = 1800, cwd: str = HERE) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel (quick or full mode); raises on an error."""
    from nbclient import NotebookClient
    previous = os.environ.get("TL_TUTORIAL_QUICK")
    os.environ["TL_TUTORIAL_QUICK"] = "1" if quick else "0"
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": cwd}}).execute()
    finally:
        if previous is None:
            os.environ.pop("TL_TUTORIAL_QUICK", None)
        else:
            os.environ["TL_TUTORIAL_QUICK"] = previous
    return nb


# ---------------------------------------------------------------------------------------
# the notebooks: (kind, source) cells

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}

NOTEBOOKS["01_expressions_and_schedules"] = [
    ("md", """
    # 1. Expressions and schedules

    tensorlang keeps two things apart that a hand-written loop mixes together:

    * **what** to compute: a *tensor expression*, declared once with `te.compute`, saying
      how each output element is obtained from the inputs;
    * **how** to compute it: a *schedule*, a list of loop transformations (split, reorder,
      tile, vectorize, ...) applied to the loops that compute the expression.

    A schedule never changes the result, only the order in which the work is done and
    where intermediate values live.  This notebook applies the primitives one at a time;
    after each it prints the loop nest that `tl.lower` produces and checks the compiled
    function against numpy.
    """),
    ("code", """
    import os
    import numpy as np
    import matplotlib.pyplot as plt
    import tensorlang as tl
    from tensorlang import te

    QUICK = os.environ.get("TL_TUTORIAL_QUICK") == "1"
    N = 64 if QUICK else 256          # size of the arrays we compute on
    rng = np.random.default_rng(0)
    """),
    ("md", """
    ## Declaring a computation

    `te.placeholder` declares an input, `te.compute` an output: a shape and a function
    from index variables to an expression.  Nothing is computed yet; `B` is a symbolic
    description.  The default schedule computes it with one loop per output dimension, in
    row-major order.
    """),
    ("code", """
    A = te.placeholder((N, N), name="A")
    B = te.compute((N, N), lambda i, j: A[i, j] * 2.0 + 1.0, name="B")

    s = tl.create_schedule(B)
    print(tl.lower(s, [A, B]))
    """),
    ("md", """
    `tl.build` compiles the schedule to machine code through LLVM; the module takes numpy
    arrays and writes the outputs in place.  We check every schedule of this notebook the
    same way, with this helper:
    """),
    ("code", """
    a = rng.random((N, N), dtype=np.float32)

    def check(s, args, inputs, expected):
        \"\"\"Compile the schedule, run it on `inputs`, compare with numpy's `expected`.\"\"\"
        mod = tl.build(s, args)
        out = np.zeros_like(expected)
        mod(*inputs, out)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
        print("result matches numpy")

    check(s, [A, B], [a], a * 2 + 1)
    """),
    ("md", """
    ## split

    `split(axis, factor)` turns one loop into two nested loops, `outer` and `inner`, with
    `axis = outer * factor + inner`.  The factor need not divide the extent: tensorlang
    then guards the last, partial iteration.
    """),
    ("code", """
    s = tl.create_schedule(B)
    i, j = B.op.axis
    jo, ji = s[B].split(j, factor=16)
    print(tl.lower(s, [A, B]))
    check(s, [A, B], [a], a * 2 + 1)
    """),
    ("code", """
    # a factor that does not divide N: the loop nest grows a guard (or a partitioned tail)
    s = tl.create_schedule(B)
    jo, ji = s[B].split(B.op.axis[1], factor=24)
    print(tl.lower(s, [A, B]))
    check(s, [A, B], [a], a * 2 + 1)
    """),
    ("md", """
    ## reorder

    `reorder` permutes loops.  Here the column loop becomes the outer one, so the inner
    loop walks down a column: consecutive iterations touch addresses `N * 4` bytes apart
    instead of neighbouring ones, which matters for caches (notebook 2).
    """),
    ("code", """
    s = tl.create_schedule(B)
    i, j = B.op.axis
    s[B].reorder(j, i)
    print(tl.lower(s, [A, B]))
    check(s, [A, B], [a], a * 2 + 1)
    """),
    ("md", """
    ## fuse

    `fuse` is the inverse of split: two adjacent loops become one whose extent is the
    product.  It is mostly used to make one big loop to hand out to threads or GPU blocks.
    """),
    ("code", """
    s = tl.create_schedule(B)
    i, j = B.op.axis
    ij = s[B].fuse(i, j)
    print(tl.lower(s, [A, B]))
    check(s, [A, B], [a], a * 2 + 1)
    """),
    ("md", """
    ## tile

    `tile(x, y, x_factor, y_factor)` splits two axes and orders the four loops
    `x_outer, y_outer, x_inner, y_inner`: the computation proceeds one rectangular tile
    at a time.  It is split + split + reorder in a single call.
    """),
    ("code", """
    s = tl.create_schedule(B)
    xo, yo, xi, yi = s[B].tile(B.op.axis[0], B.op.axis[1], x_factor=8, y_factor=8)
    print(tl.lower(s, [A, B]))
    check(s, [A, B], [a], a * 2 + 1)
    """),
    ("md", """
    ### What tiling does to the visit order

    The picture colours each element of a small 16 x 16 output by the step at which the
    loop nest above visits it (dark first, bright last).  Without a schedule, rows are
    visited one after the other; with 4 x 4 tiles the nest finishes one small square before
    it moves to the next, so the data a tile touches is reused while it is still in cache.
    The visit order is replayed by walking the loops exactly as `tl.lower` printed them.
    """),
    ("code", """
    def visit_order(n, tile=None):
        order = np.zeros((n, n), dtype=int)
        step = 0
        if tile is None:
            for i in range(n):
                for j in range(n):
                    order[i, j] = step; step += 1
            return order
        for i_outer in range(n // tile):
            for j_outer in range(n // tile):
                for i_inner in range(tile):
                    for j_inner in range(tile):
                        order[i_outer * tile + i_inner, j_outer * tile + j_inner] = step
                        step += 1
        return order

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, (title, order) in zip(axes, [("default: row by row", visit_order(16)),
                                         ("tile(x, y, 4, 4)", visit_order(16, 4))]):
        ax.imshow(order, cmap="viridis")
        for (r, c), value in np.ndenumerate(order):
            if value % 4 == 0:
                ax.text(c, r, str(value), ha="center", va="center", fontsize=5,
                        color="white" if value < 128 else "black")
        ax.set_title(title); ax.set_xlabel("j (column)"); ax.set_ylabel("i (row)")
    plt.tight_layout(); plt.show()
    """),
    ("md", """
    ## vectorize

    `vectorize(axis)` turns a loop of constant extent into vector instructions: the
    16 iterations of `yi` below become one operation on a 16-lane vector (`Ramp` indices
    in the printed loop, one AVX-512 instruction on a CPU that has it).
    """),
    ("code", """
    s = tl.create_schedule(B)
    xo, yo, xi, yi = s[B].tile(B.op.axis[0], B.op.axis[1], x_factor=8, y_factor=16)
    s[B].vectorize(yi)
    print(tl.lower(s, [A, B]))
    check(s, [A, B], [a], a * 2 + 1)
    """),
    ("md", """
    ## parallel

    `parallel(axis)` runs the iterations of a loop on several CPU threads (the number is
    `TL_NUM_THREADS`, by default the number of cores).  Iterations must be independent,
    which is the case for any spatial axis of a `te.compute`.
    """),
    ("code", """
    s = tl.create_schedule(B)
    xo, yo, xi, yi = s[B].tile(B.op.axis[0], B.op.axis[1], x_factor=8, y_factor=16)
    s[B].vectorize(yi)
    s[B].parallel(xo)
    print(tl.lower(s, [A, B]))
    check(s, [A, B], [a], a * 2 + 1)
    """),
    ("md", """
    ## Several stages: compute_inline and compute_at

    Real programs chain computations.  Halide's favourite example is a 3 x 3 box blur
    computed in two passes: first horizontally, then vertically.  By default each stage is
    computed in full ("at the root") into its own buffer before the next one starts.
    """),
    ("code", """
    H = N - 2
    inp = te.placeholder((N, N), name="inp")
    blur_x = te.compute((N, H), lambda y, x: (inp[y, x] + inp[y, x + 1] + inp[y, x + 2]) / 3.0,
                        name="blur_x")
    blur_y = te.compute((H, H), lambda y, x: (blur_x[y, x] + blur_x[y + 1, x]
                                              + blur_x[y + 2, x]) / 3.0, name="blur_y")
    image = rng.random((N, N), dtype=np.float32)
    bx = (image[:, :-2] + image[:, 1:-1] + image[:, 2:]) / 3
    expected_blur = (bx[:-2] + bx[1:-1] + bx[2:]) / 3

    s = tl.create_schedule(blur_y)
    print(tl.lower(s, [inp, blur_y]))
    check(s, [inp, blur_y], [image], expected_blur)
    """),
    ("md", """
    ### compute_inline

    `compute_inline()` substitutes the producer's expression into its consumer: there is
    no `blur_x` buffer any more, and each horizontal sum is recomputed three times (once
    for each output row that needs it).  No memory traffic, more arithmetic.
    """),
    ("code", """
    s = tl.create_schedule(blur_y)
    s[blur_x].compute_inline()
    print(tl.lower(s, [inp, blur_y]))
    check(s, [inp, blur_y], [image], expected_blur)
    """),
    ("md", """
    ### compute_at

    `compute_at(consumer_stage, axis)` is the middle ground: the producer is computed
    inside the consumer's loop `axis`, only over the region that one iteration needs.
    Below, `blur_y` is tiled and `blur_x` is computed per tile: the intermediate buffer
    shrinks to a (tile + 2) x tile strip, small enough to stay in L1 cache, and only the
    two halo rows are recomputed.  tensorlang infers the region (the bounds of the strip)
    from the consumer's index expressions.
    """),
    ("code", """
    s = tl.create_schedule(blur_y)
    yo, xo, yi, xi = s[blur_y].tile(blur_y.op.axis[0], blur_y.op.axis[1], 8, 16)
    s[blur_x].compute_at(s[blur_y], xo)
    print(tl.lower(s, [inp, blur_y]))
    check(s, [inp, blur_y], [image], expected_blur)
    """),
    ("md", """
    ## Reductions and cache_write

    A reduction axis (`te.reduce_axis`) is summed over.  Matrix multiplication is the
    canonical example.  `cache_write(C, "local")` computes the result into a small
    temporary first and copies it out afterwards; combined with `compute_at` the temporary
    holds one tile of accumulators, which the compiler can keep in registers while the
    reduction runs (notebook 2 builds its fastest GEMM this way).
    """),
    ("code", """
    M = 32 if QUICK else 128
    Am = te.placeholder((M, M), name="A")
    Bm = te.placeholder((M, M), name="B")
    k = te.reduce_axis((0, M), name="k")
    C = te.compute((M, M), lambda i, j: te.sum(Am[i, k] * Bm[k, j], axis=k), name="C")
    am = rng.random((M, M), dtype=np.float32)
    bm = rng.random((M, M), dtype=np.float32)

    s = tl.create_schedule(C)
    print(tl.lower(s, [Am, Bm, C]))
    check(s, [Am, Bm, C], [am, bm], am @ bm)
    """),
    ("code", """
    s = tl.create_schedule(C)
    CL = s.cache_write(C, "local")
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], 4, 16)
    s[CL].compute_at(s[C], yo)
    xc, yc = s[CL].op.axis          # after cache_write, the new stage's own axes
    (kc,) = s[CL].op.reduce_axis
    s[CL].reorder(kc, xc, yc)
    s[CL].vectorize(yc)
    s[C].vectorize(yi)
    print(tl.lower(s, [Am, Bm, C]))
    check(s, [Am, Bm, C], [am, bm], am @ bm)
    """),
    ("md", """
    ## Schedules are checked

    A primitive applied to the wrong thing raises `tl.ScheduleError` naming the stage,
    the axis and the rule, instead of producing wrong code.
    """),
    ("code", """
    s = tl.create_schedule(C)
    try:
        s[C].vectorize(C.op.reduce_axis[0])
    except tl.ScheduleError as error:
        print("ScheduleError:", error)
    """),
    ("md", """
    ## Summary

    | primitive | effect on the loop nest |
    | --- | --- |
    | `split(x, factor)` | one loop -> outer x inner |
    | `reorder(...)` | permute loops |
    | `fuse(x, y)` | two loops -> one |
    | `tile(x, y, fx, fy)` | split both, order outer loops first |
    | `vectorize(x)` | constant-extent inner loop -> vector instructions |
    | `parallel(x)` | iterations shared among threads |
    | `compute_inline()` | producer substituted into consumers |
    | `compute_at(stage, axis)` | producer computed per iteration of a consumer loop |
    | `cache_write(C, scope)` | accumulate into a temporary, then copy out |

    Notebook 2 combines them into a matrix multiplication that competes with OpenBLAS.
    """),
]

NOTEBOOKS["02_optimizing_gemm_on_cpu"] = [
    ("md", """
    # 2. Optimizing GEMM on the CPU

    Matrix multiplication `C = A @ B` (`C[x, y] = sum_k A[x, k] * B[k, y]`) does
    `2 * M * N * K` floating-point operations on `(M*K + K*N + M*N)` numbers: for 1024 x 1024
    matrices, 2 GFLOP on 12 MB.  Every number is used a thousand times, so a good schedule
    is limited by arithmetic, not by memory.  A naive loop nest is nowhere near that: it
    spends its time waiting for memory.

    This notebook follows the classic sequence of optimizations (blocking, vectorization,
    loop permutation, array packing, write cache, parallelism, register tiling), explains
    which part of the hardware each one serves, and measures every step on this machine
    against numpy (which calls an optimized BLAS) and against the machine's peak.
    """),
    ("code", """
    import os, time
    # Parallel loops run on libgomp threads.  On a machine shared with other work, let a
    # thread that waits for the others sleep instead of spinning: a spinning thread can
    # keep a descheduled one off the core and stall every parallel loop.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numpy as np
    import matplotlib.pyplot as plt
    import llvmlite.binding as llvm
    from IPython.display import Markdown, display
    import tensorlang as tl
    from tensorlang import te

    QUICK = os.environ.get("TL_TUTORIAL_QUICK") == "1"
    N = 256 if QUICK else 1024          # M = N = K
    REPEAT = 2 if QUICK else 7
    M = K = N
    FLOPS = 2.0 * M * N * K

    cores = len(os.sched_getaffinity(0))
    features = llvm.get_host_cpu_features()
    lanes = 16 if features.get("avx512f") else 8 if features.get("avx2") else 4
    print(f"CPU {llvm.get_host_cpu_name()}, {cores} cores, "
          f"{lanes} float32 lanes per vector register, FMA: {bool(features.get('fma'))}")
    """),
    ("md", """
    ## The machine's peak, measured

    A core with vector FMA units finishes, per cycle, `FMA units x lanes` fused multiply-adds,
    each worth 2 floating-point operations.  The peak is therefore
    `cores x FMA units x lanes x 2 x clock`.  The clock a core runs at under load (boost)
    is not something a program can read reliably in a virtual machine, so we **measure**
    the peak instead, with a tiny FMA-bound kernel written in tensorlang: each thread keeps
    12 vector accumulators in registers and adds `X[i, :] * Y[k, :]` into them, with `Y`
    small enough to stay in L1 cache, with about a millisecond of work per call so that
    starting the threads does not count.  Twelve independent accumulators are needed because
    an FMA takes about 4 cycles to produce its result and two units can start one each
    per cycle: fewer accumulators and the units would wait on each other.
    """),
    ("code", """
    def measure(mod, *arrays, repeat=REPEAT, number=3):
        \"\"\"Fastest of `repeat` runs, each the mean time of `number` calls (seconds): on
        a machine shared with other work, interference only ever adds time.\"\"\"
        return min(mod.time(*arrays, number=number, repeat=1) for _ in range(repeat))

    def fma_peak(rows=12, depth=512, blocks=4096):
        X = te.placeholder((blocks * rows, lanes), name="X")
        Y = te.placeholder((depth, lanes), name="Y")
        k = te.reduce_axis((0, depth), name="k")
        P = te.compute((blocks * rows, lanes),
                       lambda i, v: te.sum(X[i, v] * Y[k, v], axis=k), name="P")
        s = tl.create_schedule(P)
        PL = s.cache_write(P, "local")
        io, ii = s[P].split(P.op.axis[0], factor=rows)
        s[PL].compute_at(s[P], io)
        xc, vc = s[PL].op.axis
        ko, ki = s[PL].split(s[PL].op.reduce_axis[0], factor=4)
        s[PL].reorder(ko, ki, xc, vc)
        s[PL].unroll(ki); s[PL].unroll(xc); s[PL].vectorize(vc)
        s[P].parallel(io)
        mod = tl.build(s, [X, Y, P])
        x = np.random.rand(blocks * rows, lanes).astype("float32")
        y = np.random.rand(depth, lanes).astype("float32")
        p = np.zeros_like(x)
        mod(x, y, p)
        np.testing.assert_allclose(p, x * y.sum(axis=0), rtol=1e-4)
        seconds = min(measure(mod, x, y, p, repeat=3, number=5) for _ in range(3))
        return 2.0 * blocks * rows * lanes * depth / seconds / 1e9

    PEAK = fma_peak()
    print(f"measured peak: {PEAK:.0f} GFLOPS ({PEAK / cores:.0f} per core)")
    print(f"with 2 FMA units per core this means {PEAK / (cores * 2 * lanes * 2):.2f} GHz, "
          f"with 1 unit {PEAK / (cores * lanes * 2):.2f} GHz")
    """),
    ("md", """
    ## numpy, and how we measure

    numpy's `a @ b` calls OpenBLAS, hand-written assembly tuned for each CPU family; it is
    the bar to reach.  Every tensorlang step below is compiled, checked against numpy's
    result, then timed (the fastest of several runs).
    """),
    ("code", """
    rng = np.random.default_rng(0)
    a = rng.random((M, K), dtype=np.float32)
    b = rng.random((K, N), dtype=np.float32)
    expected = a @ b

    def numpy_seconds():
        samples = []
        for _ in range(REPEAT):
            start = time.perf_counter()
            for _ in range(3):
                np.matmul(a, b)
            samples.append((time.perf_counter() - start) / 3)
        return min(samples)

    NUMPY = numpy_seconds()
    results = []     # (step, seconds)

    def evaluate(step, s, args):
        \"\"\"Build, check against numpy, time; slow steps are timed by their single run.\"\"\"
        mod = tl.build(s, args, name="gemm_" + step.replace(" ", "_"))
        c = np.zeros((M, N), dtype=np.float32)
        start = time.perf_counter()
        mod(a, b, c)
        first = time.perf_counter() - start
        np.testing.assert_allclose(c, expected, rtol=1e-3)
        seconds = first if first > 1.0 else measure(mod, a, b, c)
        results.append((step, seconds))
        print(f"{step}: {seconds * 1e3:.1f} ms, {FLOPS / seconds / 1e9:.1f} GFLOPS "
              f"(numpy {FLOPS / NUMPY / 1e9:.1f})")
        return mod

    print(f"numpy: {NUMPY * 1e3:.2f} ms, {FLOPS / NUMPY / 1e9:.1f} GFLOPS")
    """),
    ("md", """
    ## Step 0: the naive loop nest

    The innermost loop runs over `k`.  `A[x, k]` walks along a row (good), but `B[k, y]`
    walks down a column: every iteration touches a new **cache line** (64 bytes, the unit
    in which memory moves into cache) and uses 4 bytes of it.  With rows 4 KiB apart, each
    step also lands on a different memory page, more pages than the **TLB** (the cache of
    address translations) holds, so the column costs a page-table walk per element too.
    """),
    ("code", """
    def matmul(M, N, K):
        A = te.placeholder((M, K), name="A")
        B = te.placeholder((K, N), name="B")
        k = te.reduce_axis((0, K), name="k")
        C = te.compute((M, N), lambda x, y: te.sum(A[x, k] * B[k, y], axis=k), name="C")
        return A, B, C

    A, B, C = matmul(M, N, K)
    s = tl.create_schedule(C)
    print(tl.lower(s, [A, B, C]))
    evaluate("naive", s, [A, B, C]);
    """),
    ("md", """
    ## Step 1: blocking

    Compute `C` in 32 x 32 blocks, splitting `k` by 4.  A 32 x 32 block of `C` and the
    panels of `A` and `B` it needs are reused while they are still in the L1/L2 caches,
    instead of being brought in from memory again for every row.
    """),
    ("code", """
    bn, kfactor = 32, 4
    A, B, C = matmul(M, N, K)
    s = tl.create_schedule(C)
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
    s[C].reorder(xo, yo, ko, ki, xi, yi)
    print(tl.lower(s, [A, B, C]))
    evaluate("blocking", s, [A, B, C]);
    """),
    ("md", """
    ## Step 2: vectorization

    The innermost loop `yi` now walks along a row of `B` and of `C` with unit stride.
    `vectorize` turns its 32 iterations into two AVX-512 instructions of 16 **lanes** each
    (or four of 8 lanes with AVX2): one instruction does the work of 16 scalar ones.
    """),
    ("code", """
    A, B, C = matmul(M, N, K)
    s = tl.create_schedule(C)
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
    s[C].reorder(xo, yo, ko, ki, xi, yi)
    s[C].vectorize(yi)
    evaluate("vectorize", s, [A, B, C]);
    """),
    ("md", """
    ## Step 3: loop permutation

    With `ki` outside `xi`, the loop over rows `xi` re-reads the same 32-element row of `C`
    for each `ki`.  Moving `xi` out (`xo, yo, ko, xi, ki, yi`) lets the row of `C` stay in
    registers across the four `ki` iterations and reads `A[xi, ki]` consecutively.
    """),
    ("code", """
    A, B, C = matmul(M, N, K)
    s = tl.create_schedule(C)
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
    s[C].reorder(xo, yo, ko, xi, ki, yi)
    s[C].vectorize(yi)
    print(tl.lower(s, [A, B, C]))
    evaluate("permutation", s, [A, B, C]);
    """),
    ("md", """
    ## Step 4: array packing

    A 32-column panel of `B` is spread over `K` rows that are `N * 4` bytes apart: each row
    of the panel sits on its own page, so walking down the panel thrashes the TLB and the
    hardware prefetcher sees short, scattered streams.  When `N * 4` is a power of two
    (4 KiB for N = 1024) it is worse still: the rows all map to the same few sets of the
    L1 cache, which holds only 8 to 12 lines per set, so they keep evicting each other
    (the reason the steps above gain so little at this size).  Packing copies `B` once into
    `packedB[N / bn, K, bn]`, where each panel is one contiguous block.  This is a change of
    the *computation* (a new stage), not only of the schedule; the packing itself is
    vectorized and run in parallel.
    """),
    ("code", """
    def packed_matmul(M, N, K, bn):
        A = te.placeholder((M, K), name="A")
        B = te.placeholder((K, N), name="B")
        packedB = te.compute((N // bn, K, bn), lambda p, k, j: B[k, p * bn + j],
                             name="packedB")
        k = te.reduce_axis((0, K), name="k")
        C = te.compute((M, N),
                       lambda x, y: te.sum(A[x, k] * packedB[y // bn, k, y % bn], axis=k),
                       name="C")
        return A, B, C, packedB

    def pack_schedule(s, packedB):
        p, _, j = s[packedB].op.axis
        s[packedB].vectorize(j)
        s[packedB].parallel(p)

    A, B, C, packedB = packed_matmul(M, N, K, bn)
    s = tl.create_schedule(C)
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
    s[C].reorder(xo, yo, ko, xi, ki, yi)
    s[C].vectorize(yi)
    pack_schedule(s, packedB)
    print(tl.lower(s, [A, B, C]))
    evaluate("packing", s, [A, B, C]);
    """),
    ("md", """
    ## Step 5: write cache

    The block of `C` is still read and written through memory on every `k` step.
    `cache_write` accumulates it in a 32 x 32 temporary, computed at the block loop `yo`
    (`compute_at`), and copies it out once when the reduction is done.  The temporary (4 KB)
    stays in L1; `ki` is unrolled so that the compiler can schedule the four updates
    together.
    """),
    ("code", """
    def write_cache_schedule(parallel):
        A, B, C, packedB = packed_matmul(M, N, K, bn)
        s = tl.create_schedule(C)
        CC = s.cache_write(C, "global")
        xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
        s[CC].compute_at(s[C], yo)
        xc, yc = s[CC].op.axis
        ko, ki = s[CC].split(s[CC].op.reduce_axis[0], factor=kfactor)
        s[CC].reorder(ko, xc, ki, yc)
        s[CC].unroll(ki)
        s[CC].vectorize(yc)
        if parallel:
            s[C].parallel(xo)
        pack_schedule(s, packedB)
        return s, [A, B, C]

    s, args = write_cache_schedule(parallel=False)
    print(tl.lower(s, args))
    evaluate("write cache", s, args);
    """),
    ("md", """
    ## Step 6: parallel

    So far one core did all the work.  `parallel(xo)` hands the row blocks to
    `TL_NUM_THREADS` threads (one per core); blocks write disjoint parts of `C`, so no
    synchronisation is needed.
    """),
    ("code", """
    s, args = write_cache_schedule(parallel=True)
    evaluate("parallel", s, args);
    """),
    ("md", """
    ## Step 7: register tiling

    The previous kernel still loads and stores its accumulators from L1 on every `k` step:
    per FMA it does about one load and one store, and the load/store units, not the FMA
    units, set the pace.  The fix is to size the tile for the **registers**: a 4 x 64 tile
    of `C` is 4 rows x 4 vectors of 16 lanes = 16 vector registers (of 32 on AVX-512),
    held for the whole reduction (`cache_write(C, "local")`, loops `xc` and `ki`
    unrolled).  Per `k` step the kernel loads 4 vectors of the packed `B` panel and
    broadcasts 4 values of `A` for 16 FMAs, which the two FMA units can execute back to back:
    16 independent accumulators comfortably cover the 4-cycle FMA latency.  The packed
    panel of 64 columns is what makes the 4 vector loads contiguous.
    """),
    ("code", """
    def register_tiled(M, N, K, bn=64, rows=4, kfactor=8):
        A, B, C, packedB = packed_matmul(M, N, K, bn)
        s = tl.create_schedule(C)
        CC = s.cache_write(C, "local")
        xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], rows, bn)
        s[C].reorder(yo, xo, xi, yi)       # walk down a B panel: it stays in L2
        fused = s[C].fuse(yo, xo)
        s[CC].compute_at(s[C], fused)
        xc, yc = s[CC].op.axis
        ko, ki = s[CC].split(s[CC].op.reduce_axis[0], factor=kfactor)
        s[CC].reorder(ko, ki, xc, yc)
        s[CC].unroll(ki)
        s[CC].unroll(xc)
        s[CC].vectorize(yc)
        s[C].vectorize(yi)
        s[C].parallel(fused)
        pack_schedule(s, packedB)
        return s, [A, B, C]

    s, args = register_tiled(M, N, K)
    print(tl.lower(s, args))
    final = evaluate("register tiling", s, args)
    """),
    ("md", """
    The inner loop of the generated assembly shows what the schedule asked for: vector
    FMAs on `zmm` (512-bit) registers, with broadcasts of `A` and loads of the packed panel.
    """),
    ("code", """
    asm = final.get_source("asm").splitlines()
    fma_lines = [i for i, line in enumerate(asm) if "vfmadd" in line]
    if fma_lines:
        first = fma_lines[0]
        print("\\n".join(asm[max(0, first - 6):first + 12]))
    print(f"... {len(fma_lines)} FMA instructions in the module")
    """),
    ("md", """
    ## Results

    Every figure is the fastest of several runs.  On a machine busy with other work all of
    them drop, numpy's included (OpenBLAS uses every core too), so compare the ratios.
    """),
    ("code", """
    NUMPY = min(NUMPY, numpy_seconds())   # numpy again, in the same machine state
    rows = ["| step | ms | GFLOPS | x numpy | % of peak |", "|---|---:|---:|---:|---:|"]
    rows.append(f"| numpy | {NUMPY * 1e3:.2f} | {FLOPS / NUMPY / 1e9:.1f} | 1.00 | "
                f"{100 * FLOPS / NUMPY / 1e9 / PEAK:.0f} |")
    for step, seconds in results:
        gflops = FLOPS / seconds / 1e9
        rows.append(f"| {step} | {seconds * 1e3:.2f} | {gflops:.1f} | "
                    f"{NUMPY / seconds:.2f} | {100 * gflops / PEAK:.1f} |")
    display(Markdown(f"**GEMM {M} x {N} x {K}, float32, {cores} cores**\\n\\n"
                     + "\\n".join(rows)))
    """),
    ("code", """
    names = [step for step, _ in results]
    gflops = [FLOPS / seconds / 1e9 for _, seconds in results]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bars = ax.bar(names, gflops, color="tab:blue")
    ax.axhline(FLOPS / NUMPY / 1e9, color="tab:orange", linestyle="--",
               label=f"numpy ({FLOPS / NUMPY / 1e9:.0f} GFLOPS)")
    ax.axhline(PEAK, color="tab:red", linestyle=":", label=f"measured peak ({PEAK:.0f} GFLOPS)")
    ax.set_yscale("log")
    ax.set_ylim(top=max(PEAK, max(gflops)) * 4)   # room for the legend
    ax.set_ylabel("GFLOPS (log scale)")
    ax.set_title(f"GEMM {N}^3 float32 on {cores} cores, step by step")
    ax.bar_label(bars, labels=[f"{g:.1f}" for g in gflops], fontsize=8)
    plt.xticks(rotation=25, ha="right")
    ax.legend(loc="upper left")
    plt.tight_layout(); plt.show()
    print(f"final schedule: {NUMPY / results[-1][1]:.2f} x numpy, "
          f"{100 * FLOPS / results[-1][1] / 1e9 / PEAK:.0f}% of the measured peak")
    """),
    ("md", """
    ## What to take away

    * The biggest single jumps come from making the inner loop contiguous and vectorized,
      and from keeping the accumulators in registers: a modern core is starved by memory
      long before it runs out of arithmetic.
    * The schedule, not the computation, carries all of this.  The compute definition of
      `C` changed once (packing, a layout change); everything else was loop rearrangement
      that tensorlang checks and lowers for us.
    * On this machine the register-tiled kernel can outrun OpenBLAS, which is tuned for
      many CPUs at once and chooses its blocking at run time.  Notebook 4 lets the
      autotuner search such schedules instead of writing them by hand.
    """),
]

NOTEBOOKS["03_gpu_gemm_with_shared_memory"] = [
    ("md", """
    # 3. GEMM on a GPU: binding, shared memory, register blocking

    A GPU runs a *grid* of *thread blocks*; the threads of one block run on the same
    streaming multiprocessor, share a small, fast **shared memory** (tens of KB, explicitly
    managed) and can wait for each other at a barrier (`__syncthreads()`).  Each thread
    also has its own **registers**.  Global memory is large but far: a good GPU kernel loads
    each number from it as few times as possible and does its arithmetic out of registers.

    In tensorlang the same `te.compute` is scheduled for the GPU by **binding** loops to
    `blockIdx.*` / `threadIdx.*`, and by placing copies of the inputs in `"shared"` and
    `"local"` (register) memory with `cache_read` / `cache_write`.  `tl.build(...,
    target="cuda")` produces CUDA C.  Without a GPU, `mod.emulate(...)` runs the very same
    kernel on the CPU, thread by thread and barrier by barrier, checking shared memory for
    data races: slow, so we use it at small sizes to check the schedules.  With a GPU (and
    pycuda) the notebook also runs every schedule at full size and times it.
    """),
    ("code", """
    import os
    import numpy as np
    import matplotlib.pyplot as plt
    import tensorlang as tl
    from tensorlang import te
    from tensorlang.target.cuda import gpu_available

    QUICK = os.environ.get("TL_TUTORIAL_QUICK") == "1"
    EMULATED_N = 32 if QUICK else 64        # emulation runs every thread in Python
    GPU = gpu_available()
    GPU_N = 2048
    print("GPU available:", GPU)
    rng = np.random.default_rng(0)

    def matmul(N):
        A = te.placeholder((N, N), name="A")
        B = te.placeholder((N, N), name="B")
        k = te.reduce_axis((0, N), name="k")
        C = te.compute((N, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
        return A, B, C

    gpu_results = {}

    def check_and_time(name, make_schedule):
        \"\"\"Emulate at a small size against numpy; with a GPU, also time at full size.\"\"\"
        s, args = make_schedule(EMULATED_N)
        mod = tl.build(s, args, target="cuda", name=name.replace(" ", "_"))
        a = rng.standard_normal((EMULATED_N, EMULATED_N)).astype("float32")
        b = rng.standard_normal((EMULATED_N, EMULATED_N)).astype("float32")
        c = np.zeros((EMULATED_N, EMULATED_N), "float32")
        mod.emulate(a, b, c)
        np.testing.assert_allclose(c, a.astype("float64") @ b, rtol=1e-4, atol=1e-4)
        print(f"{name}: emulated {EMULATED_N}^3 matches numpy")
        if GPU:
            s, args = make_schedule(GPU_N)
            mod = tl.build(s, args, target="cuda", name=name.replace(" ", "_"))
            a = rng.standard_normal((GPU_N, GPU_N)).astype("float32")
            b = rng.standard_normal((GPU_N, GPU_N)).astype("float32")
            c = np.zeros((GPU_N, GPU_N), "float32")
            mod(a, b, c)
            np.testing.assert_allclose(c, a.astype("float64") @ b, rtol=1e-3, atol=1e-2)
            seconds = mod.time(a, b, c, number=10, repeat=3)
            gpu_results[name] = 2.0 * GPU_N ** 3 / seconds / 1e9
            print(f"{name}: {GPU_N}^3 on the GPU, {gpu_results[name]:.0f} GFLOPS")
        return mod
    """),
    ("md", """
    ## Step 1: binding loops to blocks and threads

    The simplest GPU schedule gives every output element its own thread: split both axes
    by 16, bind the outer loops to the block indices and the inner ones to the thread
    indices (16 x 16 = 256 threads per block).  The bound loops disappear from the CUDA C;
    each thread reads its coordinates from `blockIdx` / `threadIdx` and runs the `k` loop
    alone, loading `2 K` numbers from global memory for `K` multiply-adds.
    """),
    ("code", """
    def bound(N, tile=16):
        A, B, C = matmul(N)
        s = tl.create_schedule(C)
        bi, ti = s[C].split(C.op.axis[0], factor=tile)
        bj, tj = s[C].split(C.op.axis[1], factor=tile)
        s[C].reorder(bi, bj, ti, tj)
        s[C].bind(bi, te.thread_axis("blockIdx.y"))
        s[C].bind(bj, te.thread_axis("blockIdx.x"))
        s[C].bind(ti, te.thread_axis("threadIdx.y"))
        s[C].bind(tj, te.thread_axis("threadIdx.x"))
        return s, [A, B, C]

    s, args = bound(EMULATED_N)
    print(tl.lower(s, args))
    mod = check_and_time("bound", bound)
    """),
    ("code", """
    source = mod.get_source("cuda")
    print(source[source.index('extern "C"'):])
    """),
    ("md", """
    Forgetting to bind a loop is caught at build time, with the stage and the loop named:
    """),
    ("code", """
    A, B, C = matmul(EMULATED_N)
    s = tl.create_schedule(C)
    try:
        tl.build(s, [A, B, C], target="cuda")
    except tl.BuildError as error:
        print("BuildError:", error)
    """),
    ("md", """
    ## Step 2: shared-memory tiling

    Neighbouring threads of a block read the same rows of `A` and columns of `B`.  Instead
    of each fetching them from global memory, the block loads a `tile x tile` square of
    each into shared memory once per step of `k` (`cache_read(A, "shared", [C])`, computed
    at the outer `k` loop), every thread copying one element; a barrier; then every thread
    does `tile` multiply-adds out of shared memory; a barrier before the next tiles
    overwrite these.  Global loads per multiply-add drop from 2 to `2 / tile`.
    tensorlang inserts the two `__syncthreads()` itself, where the data flow requires them.
    The accumulator lives in a register (`cache_write(C, "local")`).
    """),
    ("code", """
    def shared_tiled(N, tile=16):
        A, B, C = matmul(N)
        s = tl.create_schedule(C)
        AA = s.cache_read(A, "shared", [C])
        BB = s.cache_read(B, "shared", [C])
        CL = s.cache_write(C, "local")
        bi, ti = s[C].split(C.op.axis[0], factor=tile)
        bj, tj = s[C].split(C.op.axis[1], factor=tile)
        s[C].reorder(bi, bj, ti, tj)
        s[C].bind(bi, te.thread_axis("blockIdx.y"))
        s[C].bind(bj, te.thread_axis("blockIdx.x"))
        s[C].bind(ti, te.thread_axis("threadIdx.y"))
        s[C].bind(tj, te.thread_axis("threadIdx.x"))
        s[CL].compute_at(s[C], tj)
        ko, ki = s[CL].split(s[CL].op.reduce_axis[0], factor=tile)
        for cached in (AA, BB):       # each thread copies one element of each tile
            s[cached].compute_at(s[CL], ko)
            row, col = s[cached].op.axis
            s[cached].bind(row, te.thread_axis("threadIdx.y"))
            s[cached].bind(col, te.thread_axis("threadIdx.x"))
        return s, [A, B, C]

    s, args = shared_tiled(EMULATED_N)
    print(tl.lower(s, args))
    mod = check_and_time("shared memory", shared_tiled)
    source = mod.get_source("cuda")
    print(source[source.index('extern "C"'):])
    """),
    ("md", """
    ## Step 3: register blocking

    Shared memory is fast but not free: in step 2 every multiply-add still reads two
    numbers from it.  Let each thread compute a 4 x 4 block of `C` instead of one element:
    per step of `k` it reads 4 values of `A` and 4 of `B` from shared memory and does 16
    multiply-adds on 16 accumulators held in registers, a quarter of the shared traffic.
    A block of 8 x 8 threads now covers 32 x 32 outputs, so each global load also serves
    twice as many multiply-adds as before.  The 64 threads fill the 32 x 8 shared tiles
    cooperatively: the tile's two axes are fused into one and split over the threads.
    """),
    ("code", """
    def register_blocked(N, threads=8, micro=4, k_tile=8):
        A, B, C = matmul(N)
        s = tl.create_schedule(C)
        AA = s.cache_read(A, "shared", [C])
        BB = s.cache_read(B, "shared", [C])
        CL = s.cache_write(C, "local")
        block = threads * micro
        by, yi = s[C].split(C.op.axis[0], factor=block)
        bx, xi = s[C].split(C.op.axis[1], factor=block)
        ty, yi = s[C].split(yi, nparts=threads)     # thread (ty, tx) owns a micro x micro block
        tx, xi = s[C].split(xi, nparts=threads)
        s[C].reorder(by, bx, ty, tx, yi, xi)
        s[C].bind(by, te.thread_axis("blockIdx.y"))
        s[C].bind(bx, te.thread_axis("blockIdx.x"))
        s[C].bind(ty, te.thread_axis("threadIdx.y"))
        s[C].bind(tx, te.thread_axis("threadIdx.x"))
        s[CL].compute_at(s[C], tx)
        yc, xc = s[CL].op.axis
        ko, ki = s[CL].split(s[CL].op.reduce_axis[0], factor=k_tile)
        s[CL].reorder(ko, ki, yc, xc)
        s[CL].unroll(yc)                             # 16 accumulators, all in registers
        s[CL].unroll(xc)
        for cached in (AA, BB):
            s[cached].compute_at(s[CL], ko)
            fused = s[cached].fuse(*s[cached].op.axis)
            rest, t_x = s[cached].split(fused, factor=threads)
            _, t_y = s[cached].split(rest, factor=threads)
            s[cached].bind(t_y, te.thread_axis("threadIdx.y"))
            s[cached].bind(t_x, te.thread_axis("threadIdx.x"))
        return s, [A, B, C]

    s, args = register_blocked(EMULATED_N)
    print(tl.lower(s, args))
    mod = check_and_time("register blocking", register_blocked)
    source = mod.get_source("cuda")
    print(source[source.index('extern "C"'):])
    """),
    ("md", """
    ## Memory traffic per multiply-add

    The three schedules do the same arithmetic; what changes is where the operands come
    from.  Counting loads per multiply-add from the schedules' parameters (no GPU
    needed):

    * bound: 2 global loads (caches aside);
    * shared tiling with tile `T`: `2 / T` global loads, 2 shared loads;
    * register blocking with a block tile `BT = 32` and `4 x 4` per thread: `2 / BT`
      global loads and `(4 + 4) / 16 = 0.5` shared loads.
    """),
    ("code", """
    schedules = ["bound", "shared memory", "register blocking"]
    global_loads = [2.0, 2.0 / 16, 2.0 / 32]
    shared_loads = [0.0, 2.0, (4 + 4) / 16]
    x = np.arange(len(schedules))
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.bar(x - 0.2, global_loads, 0.4, label="global memory")
    ax.bar(x + 0.2, shared_loads, 0.4, label="shared memory")
    ax.set_xticks(x, schedules)
    ax.set_ylabel("loads per multiply-add")
    ax.set_title("Where each multiply-add gets its operands")
    for xi, (g, sh) in enumerate(zip(global_loads, shared_loads)):
        ax.text(xi - 0.2, g, f"{g:.3g}", ha="center", va="bottom", fontsize=8)
        ax.text(xi + 0.2, sh, f"{sh:.3g}", ha="center", va="bottom", fontsize=8)
    ax.legend(); plt.tight_layout(); plt.show()
    """),
    ("md", """
    ## On a GPU

    Where `gpu_available()` is true the cells above also built each schedule at
    2048 x 2048 and timed it; the chart below then compares them.  On a machine without a
    GPU (as when this notebook's outputs were recorded, if the cell below says so) the
    emulated runs above are the check, and the generated CUDA C can be compiled with
    `nvcc` elsewhere.
    """),
    ("code", """
    if gpu_results:
        fig, ax = plt.subplots(figsize=(6.5, 3.5))
        ax.bar(list(gpu_results), list(gpu_results.values()))
        ax.set_ylabel("GFLOPS"); ax.set_title(f"GEMM {GPU_N}^3 float32 on the GPU")
        plt.tight_layout(); plt.show()
    else:
        print("no GPU here: the schedules were checked by emulation only")
    """),
]

NOTEBOOKS["04_autotuning"] = [
    ("md", """
    # 4. Autotuning

    Notebook 2 reached a fast GEMM by reasoning about caches, registers and vector units,
    and by trying tile sizes.  The reasoning transfers; the tile sizes do not: they depend
    on the shape, on the CPU, and on each other.  `tl.autotune` searches schedules
    automatically:

    1. it derives a **search space** from the compute definition (tilings of every loop,
       loop order, packing, caching, vectorization, parallelism, unrolling);
    2. an **evolutionary search** proposes candidates, ranked by a **cost model** (gradient
       boosted trees, XGBoost) trained on features of the lowered loop nests;
    3. the most promising are compiled and **measured** on the machine; the measurements
       retrain the cost model, and every record is appended to a JSON-lines log, so a
       tuning run can be resumed and its best schedule reused later.
    """),
    ("code", """
    import os, inspect, tempfile, time
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # see notebook 2
    import numpy as np
    import matplotlib.pyplot as plt
    import tensorlang as tl
    from tensorlang import te
    from tensorlang.autotune import XGBoostCostModel, pairwise_accuracy
    from tensorlang.schedule import recipes

    QUICK = os.environ.get("TL_TUTORIAL_QUICK") == "1"
    N = 128 if QUICK else 1024
    MATMUL_TRIALS = 12 if QUICK else 256
    CONV = dict(in_channels=8, out_channels=16, height=14, width=14) if QUICK else \\
        dict(in_channels=64, out_channels=64, height=56, width=56)
    CONV_TRIALS = 8 if QUICK else 64
    REPEAT = 2 if QUICK else 7
    LOGS = tempfile.mkdtemp(prefix="tensorlang-tuning-")
    rng = np.random.default_rng(0)

    def best_time(fn, number=3):
        fn()
        samples = []
        for _ in range(REPEAT):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples.append((time.perf_counter() - start) / number)
        return min(samples)
    """),
    ("md", """
    ## Tuning a matrix multiplication

    The workload is the plain definition of notebook 2, with no schedule at all.
    """),
    ("code", """
    A = te.placeholder((N, N), name="A")
    B = te.placeholder((N, N), name="B")
    k = te.reduce_axis((0, N), name="k")
    C = te.compute((N, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")

    start = time.perf_counter()
    matmul_result = tl.autotune(C, target="llvm", trials=MATMUL_TRIALS,
                                log_file=os.path.join(LOGS, "matmul.jsonl"), verbose=0)
    print(f"{len(matmul_result.history)} candidates measured in "
          f"{time.perf_counter() - start:.0f} s")
    print(matmul_result.summary())
    """),
    ("md", """
    The best schedule, printed as the tensorlang code that rebuilds it:
    """),
    ("code", """
    print(matmul_result.schedule_code)
    """),
    ("md", """
    ## Against numpy and the hand-written schedule

    We measure three things in the same way, one after the other: numpy (OpenBLAS), the
    register-tiled schedule written by hand in notebook 2 (kept in
    `tensorlang.schedule.recipes`), and the tuned schedule.
    """),
    ("code", """
    a = rng.random((N, N), dtype=np.float32)
    b = rng.random((N, N), dtype=np.float32)
    flops = 2.0 * N ** 3

    tuned = matmul_result.build()
    c_tuned = np.zeros((N, N), np.float32)
    tuned(a, b, c_tuned)
    np.testing.assert_allclose(c_tuned, a @ b, rtol=1e-3)

    hand_schedule, hand_args = recipes.gemm_register_tiled(N, N, N)
    hand = tl.build(hand_schedule, hand_args)
    c_hand = np.zeros((N, N), np.float32)
    hand(a, b, c_hand)
    np.testing.assert_allclose(c_hand, a @ b, rtol=1e-3)

    matmul_gflops = {
        "numpy": flops / best_time(lambda: np.matmul(a, b)) / 1e9,
        "hand (notebook 2)": flops / best_time(lambda: hand(a, b, c_hand)) / 1e9,
        "autotuned": flops / best_time(lambda: tuned(a, b, c_tuned)) / 1e9,
    }
    for name, value in matmul_gflops.items():
        print(f"{name:>18}: {value:6.1f} GFLOPS, {value / matmul_gflops['numpy']:.2f} x numpy")
    """),
    ("md", """
    The hand schedule, for comparison with the tuned one above: notebook 2 chose one
    4 x 64 register tile and packed `B`; the tuner chose its own tile sizes for each
    level (the decisions below) and its own loop order.
    """),
    ("code", """
    print(inspect.getsource(recipes.gemm_register_tiled))
    print("tuned decisions:")
    for name, value in matmul_result.best_config["decisions"].items():
        print(f"  {name}: {value}")
    """),
    ("md", """
    ## The tuning curve

    Best GFLOPS found so far against the number of measured candidates.  The first batch
    is chosen almost at random; later batches are ranked by the cost model, which has
    learnt from the measurements so far.
    """),
    ("code", """
    def plot_curve(ax, result, references):
        trials, best = result.curve()
        ax.plot(trials, result.flops / best / 1e9, drawstyle="steps-post", label="autotuned")
        measured = [result.flops / r.mean_cost / 1e9 for r in result.history]
        ax.scatter(np.arange(1, len(measured) + 1), measured, s=6, alpha=0.4,
                   color="gray", label="each candidate")
        for (name, value), style in zip(references.items(), ["--", ":"]):
            ax.axhline(value, ls=style, color="black", label=name)
        top = max([v for v in measured if np.isfinite(v)] + list(references.values()))
        ax.set_ylim(0, top * 1.12)
        ax.set_xlabel("trials"); ax.set_ylabel("GFLOPS")
        ax.legend(fontsize=8)

    fig, ax = plt.subplots(figsize=(7.5, 4))
    plot_curve(ax, matmul_result, {"numpy": matmul_gflops["numpy"],
                                   "hand (notebook 2)": matmul_gflops["hand (notebook 2)"]})
    ax.set_title(f"tuning matmul {N}^3")
    plt.tight_layout(); plt.show()
    """),
    ("md", """
    ## How good is the cost model?

    The cost model does not predict seconds: it is trained to *rank* candidates (a
    pairwise ranking objective), which is all the search needs.  To judge it honestly we
    train a fresh model on the first half of the measured candidates and score the second
    half, which it has not seen.  A perfect ranker would put the points on a rising
    curve; *pairwise accuracy* is the fraction of pairs of candidates it orders correctly
    (0.5 is a coin toss).
    """),
    ("code", """
    valid = [r for r in matmul_result.history
             if r.error_kind is None and np.isfinite(r.mean_cost) and r.features is not None]
    features = np.array([r.features for r in valid], dtype=np.float32)
    costs = np.array([r.mean_cost for r in valid])
    half = len(valid) // 2
    model = XGBoostCostModel(seed=0)
    model.fit(features[:half], costs[:half])
    scores = model.predict(features[half:])
    accuracy = pairwise_accuracy(scores, costs[half:])

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(scores, flops / costs[half:] / 1e9, s=12)
    ax.set_xlabel("cost model score (higher = predicted faster)")
    ax.set_ylabel("measured GFLOPS")
    ax.set_title(f"held-out candidates: pairwise accuracy {accuracy:.2f}")
    plt.tight_layout(); plt.show()
    print(f"trained on {half} candidates, scored {len(valid) - half}; "
          f"pairwise accuracy {accuracy:.2f}")
    """),
    ("md", """
    ## Tuning a convolution

    The same call tunes a 3 x 3 convolution (NCHW, padding 1): the search space now
    includes the padding stage and seven loops.  The workload is the definition used by
    the hand-written convolution schedule in `recipes.conv2d_nchw_3x3`, so both run the
    same computation.
    """),
    ("code", """
    hand_schedule, (data, kernel, out) = recipes.conv2d_nchw_3x3(**CONV)
    conv_result = tl.autotune(out, target="llvm", trials=CONV_TRIALS,
                              log_file=os.path.join(LOGS, "conv2d.jsonl"), verbose=0)
    print(conv_result.summary())

    cin, cout, h, w_ = (CONV[k] for k in ("in_channels", "out_channels", "height", "width"))
    d = rng.standard_normal((1, cin, h, w_)).astype("float32")
    w = rng.standard_normal((cout, cin, 3, 3)).astype("float32")
    o = np.zeros((1, cout, h, w_), "float32")
    padded = np.pad(d, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
    expected = np.einsum("ncyxij,fcij->nfyx", windows, w, optimize=True)

    tuned_conv = conv_result.build()
    tuned_conv(d, w, o)
    np.testing.assert_allclose(o, expected, rtol=1e-3, atol=1e-3)
    hand_conv = tl.build(hand_schedule, [data, kernel, out])
    o_hand = np.zeros_like(o)
    hand_conv(d, w, o_hand)
    np.testing.assert_allclose(o_hand, expected, rtol=1e-3, atol=1e-3)

    conv_flops = conv_result.flops
    conv_gflops = {
        "numpy einsum": conv_flops / best_time(lambda: np.einsum(
            "ncyxij,fcij->nfyx", windows, w, optimize=True), number=1) / 1e9,
        "hand (recipes)": conv_flops / best_time(lambda: hand_conv(d, w, o_hand)) / 1e9,
        "autotuned": conv_flops / best_time(lambda: tuned_conv(d, w, o)) / 1e9,
    }
    for name, value in conv_gflops.items():
        print(f"{name:>15}: {value:6.1f} GFLOPS")
    """),
    ("code", """
    fig, ax = plt.subplots(figsize=(7.5, 4))
    plot_curve(ax, conv_result, {"hand (recipes)": conv_gflops["hand (recipes)"],
                                 "numpy einsum": conv_gflops["numpy einsum"]})
    ax.set_title(f"tuning conv2d: {cin} -> {cout} channels, {h} x {w_}, 3 x 3")
    plt.tight_layout(); plt.show()
    print(conv_result.schedule_code)
    """),
    ("md", """
    ## Using the log later

    The log files are the tuning's result.  Calling `tl.autotune` again with the same
    `log_file` measures nothing that is already there, and under
    `tl.autotune.apply_history_best(log_file)` building the workload picks the best
    record.
    """),
    ("code", """
    again = tl.autotune(C, target="llvm", trials=MATMUL_TRIALS,
                        log_file=os.path.join(LOGS, "matmul.jsonl"), verbose=0)
    print("measured on the second call:", again.measured_now)
    print("same best time:", again.best_time == matmul_result.best_time)
    """),
]

NOTEBOOKS["05_fusion_and_memory_bound_ops"] = [
    ("md", """
    # 5. Fusion and memory-bound operators: softmax and layer norm

    A matrix multiplication does a thousand operations per number it loads.  Softmax and
    layer normalization do a handful: their speed is set by how many bytes they move
    between memory and the core, not by arithmetic.  For such operators the schedule's job
    is to **touch memory as little as possible**: compute the intermediate results of a
    row while the row is still in cache (*fusion*, with `compute_at` and
    `compute_inline`), and keep the loads and the arithmetic vectorized so that the core
    can keep up with memory.

    We measure the machine's memory bandwidth first (a STREAM-like triad), then a few
    schedules of each operator, and place them all on a **roofline** plot.
    """),
    ("code", """
    import os, time
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # see notebook 2
    import numpy as np
    import matplotlib.pyplot as plt
    import llvmlite.binding as llvm
    from IPython.display import Markdown, display
    import tensorlang as tl
    from tensorlang import te

    QUICK = os.environ.get("TL_TUTORIAL_QUICK") == "1"
    ROWS, COLS = (512, 256) if QUICK else (8192, 1024)
    STREAM_N = 2 ** 20 if QUICK else 2 ** 25       # 4 MB / 128 MB per array
    REPEAT = 2 if QUICK else 7
    cores = len(os.sched_getaffinity(0))
    lanes = 16 if llvm.get_host_cpu_features().get("avx512f") else 8
    rng = np.random.default_rng(0)

    def best_time(mod, *arrays, number=3):
        \"\"\"Fastest of REPEAT runs (each the mean of `number` calls): on a shared machine
        interference only ever adds time.\"\"\"
        return min(mod.time(*arrays, number=number, repeat=1) for _ in range(REPEAT))

    def best_time_of(fn, number=3):
        fn()
        samples = []
        for _ in range(REPEAT):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples.append((time.perf_counter() - start) / number)
        return min(samples)
    """),
    ("md", """
    ## The machine's bandwidth: a STREAM-like triad

    STREAM's *triad* `a[i] = b[i] + 3 * c[i]` moves 12 bytes per element (two loads, one
    store) for 2 operations.  We write it in tensorlang, vectorized and parallel over all
    cores, on arrays much larger than the caches, and take the best of several runs as the
    machine's sustainable bandwidth.  numpy's (single-threaded) copy is shown for
    comparison.
    """),
    ("code", """
    b_in = te.placeholder((STREAM_N,), name="b")
    c_in = te.placeholder((STREAM_N,), name="c")
    triad = te.compute((STREAM_N,), lambda i: b_in[i] + 3.0 * c_in[i], name="a")
    s = tl.create_schedule(triad)
    outer, inner = s[triad].split(triad.op.axis[0], factor=4 * lanes)
    s[triad].parallel(outer)
    vo, vi = s[triad].split(inner, factor=lanes)
    s[triad].vectorize(vi)
    triad_mod = tl.build(s, [b_in, c_in, triad])

    b = rng.random(STREAM_N, dtype=np.float32)
    c = rng.random(STREAM_N, dtype=np.float32)
    a = np.zeros_like(b)
    triad_mod(b, c, a)
    np.testing.assert_allclose(a, b + 3 * c, rtol=1e-6)
    triad_seconds = best_time(triad_mod, b, c, a)
    STREAM = 12 * STREAM_N / triad_seconds / 1e9
    copy_seconds = best_time_of(lambda: np.copyto(a, b))
    print(f"tensorlang triad: {STREAM:.1f} GB/s;  numpy copy: "
          f"{8 * STREAM_N / copy_seconds / 1e9:.1f} GB/s")
    """),
    ("md", """
    For the roofline we also need the compute peak; as in notebook 2 it is measured with
    a small FMA-bound tensorlang kernel (12 vector accumulators per thread, operands in
    L1).
    """),
    ("code", """
    def fma_peak(rows=12, depth=512, blocks=4096):
        X = te.placeholder((blocks * rows, lanes), name="X")
        Y = te.placeholder((depth, lanes), name="Y")
        k = te.reduce_axis((0, depth), name="k")
        P = te.compute((blocks * rows, lanes),
                       lambda i, v: te.sum(X[i, v] * Y[k, v], axis=k), name="P")
        s = tl.create_schedule(P)
        PL = s.cache_write(P, "local")
        io, ii = s[P].split(P.op.axis[0], factor=rows)
        s[PL].compute_at(s[P], io)
        xc, vc = s[PL].op.axis
        ko, ki = s[PL].split(s[PL].op.reduce_axis[0], factor=4)
        s[PL].reorder(ko, ki, xc, vc)
        s[PL].unroll(ki); s[PL].unroll(xc); s[PL].vectorize(vc)
        s[P].parallel(io)
        mod = tl.build(s, [X, Y, P])
        x = np.random.rand(blocks * rows, lanes).astype("float32")
        y = np.random.rand(depth, lanes).astype("float32")
        p = np.zeros_like(x)
        mod(x, y, p)
        return 2.0 * blocks * rows * lanes * depth / best_time(mod, x, y, p, number=5) / 1e9

    PEAK = fma_peak()
    print(f"compute peak: {PEAK:.0f} GFLOPS; ridge point: {PEAK / STREAM:.1f} flop/byte")
    """),
    ("md", """
    ## Softmax

    Softmax of each row, written as four stages so that each can be scheduled:

        row_max[i] = max_j x[i, j]
        exp[i, j]  = exp(x[i, j] - row_max[i])
        row_sum[i] = sum_j exp[i, j]
        y[i, j]    = exp[i, j] / row_sum[i]

    At best it reads `x` once and writes `y` once: 8 bytes per element, for about 5
    operations (counting `exp` as one).  We report every schedule's *effective bandwidth*,
    those 8 bytes per element divided by the time.
    """),
    ("code", """
    def softmax(rows, cols):
        x = te.placeholder((rows, cols), name="x")
        k1 = te.reduce_axis((0, cols), name="k1")
        row_max = te.compute((rows,), lambda i: te.max(x[i, k1], axis=k1), name="row_max")
        exp = te.compute((rows, cols), lambda i, j: te.exp(x[i, j] - row_max[i]), name="exp")
        k2 = te.reduce_axis((0, cols), name="k2")
        row_sum = te.compute((rows,), lambda i: te.sum(exp[i, k2], axis=k2), name="row_sum")
        y = te.compute((rows, cols), lambda i, j: exp[i, j] / row_sum[i], name="softmax")
        return x, row_max, exp, row_sum, y

    x_np = rng.standard_normal((ROWS, COLS)).astype("float32")
    e_np = np.exp(x_np - x_np.max(axis=1, keepdims=True))
    softmax_expected = e_np / e_np.sum(axis=1, keepdims=True)
    results = []   # (operator, schedule, seconds, bytes, flops)

    def evaluate(op, name, s, args, expected, inputs, bytes_moved, flops, atol=1e-6):
        mod = tl.build(s, args)
        out = np.zeros_like(expected)
        mod(*inputs, out)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=atol)
        seconds = best_time(mod, *inputs, out)
        results.append((op, name, seconds, bytes_moved, flops))
        print(f"{op} / {name}: {seconds * 1e3:.2f} ms, "
              f"{bytes_moved / seconds / 1e9:.1f} GB/s effective "
              f"({100 * bytes_moved / seconds / 1e9 / STREAM:.0f}% of the triad)")

    SOFTMAX_BYTES, SOFTMAX_FLOPS = 8 * ROWS * COLS, 5 * ROWS * COLS
    numpy_softmax = best_time_of(lambda: (lambda e: e / e.sum(axis=1, keepdims=True))(
        np.exp(x_np - x_np.max(axis=1, keepdims=True))), number=1)
    results.append(("softmax", "numpy", numpy_softmax, SOFTMAX_BYTES, SOFTMAX_FLOPS))
    print(f"numpy: {numpy_softmax * 1e3:.2f} ms")
    """),
    ("md", """
    ### Every stage at the root

    The default schedule runs the four stages one after the other over the whole matrix.
    `exp` is a full-size temporary: written once, read twice, 16 more bytes per element;
    and with rows of `COLS` floats the whole matrix passes through the cache four times.
    """),
    ("code", """
    x, row_max, exp, row_sum, y = softmax(ROWS, COLS)
    s = tl.create_schedule(y)
    print(tl.lower(s, [x, y]))
    evaluate("softmax", "root", s, [x, y], softmax_expected, [x_np],
             SOFTMAX_BYTES, SOFTMAX_FLOPS)
    """),
    ("md", """
    ### compute_inline: no temporary, but exp twice

    Inlining `exp` into its two consumers removes the temporary, at the price of computing
    every exponential twice.  Whether that pays depends on how expensive `exp` is compared
    with a trip to memory.
    """),
    ("code", """
    x, row_max, exp, row_sum, y = softmax(ROWS, COLS)
    s = tl.create_schedule(y)
    s[exp].compute_inline()
    print(tl.lower(s, [x, y]))
    evaluate("softmax", "inline exp", s, [x, y], softmax_expected, [x_np],
             SOFTMAX_BYTES, SOFTMAX_FLOPS)
    """),
    ("md", """
    ### compute_at: one row at a time

    Fusion proper: `compute_at` moves `row_max`, `exp` and `row_sum` inside the row loop
    of the output.  The temporaries shrink to one row (4 KB), which never leaves L1, so
    `x` is read from memory once and `y` written once.  The rows are independent, so the
    row loop runs in parallel, and the element-wise loops are vectorized.
    """),
    ("code", """
    def fused_softmax(vector_reductions):
        x, row_max, exp, row_sum, y = softmax(ROWS, COLS)
        s = tl.create_schedule(y)
        i, j = y.op.axis
        s[y].parallel(i)
        _, j_vector = s[y].split(j, factor=lanes)
        s[y].vectorize(j_vector)
        s[exp].compute_at(s[y], i)
        _, e_vector = s[exp].split(s[exp].op.axis[1], factor=lanes)
        s[exp].vectorize(e_vector)
        s[row_max].compute_at(s[exp], s[exp].op.axis[0])
        s[row_sum].compute_at(s[y], i)
        if vector_reductions:
            vector_reduce(s, row_max)
            vector_reduce(s, row_sum)
        return s, [x, y]

    s, args = fused_softmax(vector_reductions=False)
    print(tl.lower(s, args))
    evaluate("softmax", "fused", s, args, softmax_expected, [x_np],
             SOFTMAX_BYTES, SOFTMAX_FLOPS)
    """),
    ("md", """
    ### Vectorizing the reductions with rfactor

    The reductions are still scalar loops in which every addition waits for the previous
    one (about 4 cycles each): a row of 1024 takes thousands of cycles, far longer than
    loading it.  `rfactor` splits a reduction into `lanes` independent partial results,
    one per vector lane: `row_sum.rf[l] = sum over ko of exp[ko * lanes + l]`, a loop that
    vectorizes, followed by a short sum of the `lanes` partials.
    """),
    ("code", """
    def vector_reduce(s, reduction):
        \"\"\"Compute a row reduction as `lanes` vector partial results (rfactor).\"\"\"
        ko, ki = s[reduction].split(s[reduction].op.reduce_axis[0], factor=lanes)
        partial = s.rfactor(reduction, ki)
        s[partial].compute_at(s[reduction], s[reduction].op.axis[0])
        lane, row = s[partial].op.axis
        (k_outer,) = s[partial].op.reduce_axis
        s[partial].reorder(row, k_outer, lane)
        s[partial].vectorize(lane)
        return partial

    s, args = fused_softmax(vector_reductions=True)
    print(tl.lower(s, args))
    evaluate("softmax", "fused + rfactor", s, args, softmax_expected, [x_np],
             SOFTMAX_BYTES, SOFTMAX_FLOPS)
    """),
    ("md", """
    ## Layer normalization

    `y = (x - mean) / sqrt(var + eps) * gamma + beta` over each row: two row reductions
    (the sum, then the sum of squared deviations) and an element-wise stage, again about
    8 bytes per element, for about 8 operations.  The same two steps apply: compute the
    reductions per row (`compute_at`) and vectorize them (`rfactor`).
    """),
    ("code", """
    def layer_norm(rows, cols, eps=1e-5):
        x = te.placeholder((rows, cols), name="x")
        gamma = te.placeholder((cols,), name="gamma")
        beta = te.placeholder((cols,), name="beta")
        inv = 1.0 / cols
        k1 = te.reduce_axis((0, cols), name="k1")
        row_sum = te.compute((rows,), lambda i: te.sum(x[i, k1], axis=k1), name="row_sum")
        k2 = te.reduce_axis((0, cols), name="k2")
        sq_sum = te.compute((rows,), lambda i: te.sum(
            (x[i, k2] - row_sum[i] * inv) * (x[i, k2] - row_sum[i] * inv), axis=k2),
            name="sq_sum")
        y = te.compute((rows, cols), lambda i, j: (x[i, j] - row_sum[i] * inv)
                       * te.rsqrt(sq_sum[i] * inv + eps) * gamma[j] + beta[j], name="layer_norm")
        return x, gamma, beta, row_sum, sq_sum, y

    gamma_np = rng.standard_normal(COLS).astype("float32")
    beta_np = rng.standard_normal(COLS).astype("float32")
    mean = x_np.mean(axis=1, keepdims=True)
    var = ((x_np - mean) ** 2).mean(axis=1, keepdims=True)
    ln_expected = ((x_np - mean) / np.sqrt(var + 1e-5) * gamma_np + beta_np).astype("float32")
    LN_BYTES, LN_FLOPS = 8 * ROWS * COLS, 8 * ROWS * COLS
    ln_inputs = [x_np, gamma_np, beta_np]

    def numpy_layer_norm():
        m = x_np.mean(axis=1, keepdims=True)
        v = ((x_np - m) ** 2).mean(axis=1, keepdims=True)
        return (x_np - m) / np.sqrt(v + 1e-5) * gamma_np + beta_np

    results.append(("layer norm", "numpy", best_time_of(numpy_layer_norm, number=1),
                    LN_BYTES, LN_FLOPS))

    x, gamma, beta, row_sum, sq_sum, y = layer_norm(ROWS, COLS)
    s = tl.create_schedule(y)
    evaluate("layer norm", "root", s, [x, gamma, beta, y], ln_expected, ln_inputs,
             LN_BYTES, LN_FLOPS, atol=1e-5)   # float32 rounding of (x - mean) near zero
    """),
    ("code", """
    def fused_layer_norm(vector_reductions):
        x, gamma, beta, row_sum, sq_sum, y = layer_norm(ROWS, COLS)
        s = tl.create_schedule(y)
        i, j = y.op.axis
        s[y].parallel(i)
        _, j_vector = s[y].split(j, factor=lanes)
        s[y].vectorize(j_vector)
        s[row_sum].compute_at(s[y], i)
        s[sq_sum].compute_at(s[y], i)
        if vector_reductions:
            vector_reduce(s, row_sum)
            vector_reduce(s, sq_sum)
        return s, [x, gamma, beta, y]

    s, args = fused_layer_norm(vector_reductions=False)
    evaluate("layer norm", "fused", s, args, ln_expected, ln_inputs, LN_BYTES, LN_FLOPS,
             atol=1e-5)
    s, args = fused_layer_norm(vector_reductions=True)
    print(tl.lower(s, args))
    evaluate("layer norm", "fused + rfactor", s, args, ln_expected, ln_inputs,
             LN_BYTES, LN_FLOPS, atol=1e-5)
    """),
    ("md", """
    ## Results and the roofline

    The roofline bounds what a kernel of a given *arithmetic intensity* (operations per
    byte of memory traffic) can reach: `min(peak, intensity x bandwidth)`.  Both operators
    sit far left of the ridge point, where only bandwidth matters; the vertical distance of
    a point below the sloped roof is what its schedule still leaves on the table.  A
    schedule can land *above* the roof when its data partly stay in the last-level cache
    between repeated runs, which the roof (main-memory bandwidth) does not account for.
    """),
    ("code", """
    rows = ["| operator | schedule | ms | effective GB/s | % of triad | GFLOPS |",
            "|---|---|---:|---:|---:|---:|"]
    for op, name, seconds, nbytes, flops in results:
        rows.append(f"| {op} | {name} | {seconds * 1e3:.2f} | {nbytes / seconds / 1e9:.1f} | "
                    f"{100 * nbytes / seconds / 1e9 / STREAM:.0f} | {flops / seconds / 1e9:.1f} |")
    display(Markdown(f"**{ROWS} x {COLS} float32, {cores} cores; triad {STREAM:.1f} GB/s, "
                     f"peak {PEAK:.0f} GFLOPS**\\n\\n" + "\\n".join(rows)))
    """),
    ("code", """
    fig, ax = plt.subplots(figsize=(8, 5))
    intensity = np.logspace(-2, 3, 200)
    ax.loglog(intensity, np.minimum(PEAK, intensity * STREAM), color="black", lw=2,
              label=f"roof: {STREAM:.0f} GB/s, {PEAK:.0f} GFLOPS")
    markers = {"numpy": "s", "root": "o", "inline exp": "v", "fused": "^",
               "fused + rfactor": "*"}
    colors = {"softmax": "tab:blue", "layer norm": "tab:green"}
    for op, name, seconds, nbytes, flops in results:
        offset = 1.0 if op == "softmax" else 1.15     # keep the two operators apart
        ax.scatter(flops / nbytes * offset, flops / seconds / 1e9, marker=markers[name],
                   color=colors[op], s=90 if name == "fused + rfactor" else 45,
                   label=f"{op}: {name}")
    ax.scatter(2 / 12, STREAM * 2 / 12, marker="x", color="black", label="triad")
    ax.set_xlabel("arithmetic intensity (operations per byte)")
    ax.set_ylabel("GFLOPS")
    ax.set_title("Roofline of this machine")
    ax.axvline(PEAK / STREAM, color="gray", ls=":", lw=1)
    ax.text(PEAK / STREAM * 1.1, PEAK / 50, "ridge point", color="gray")
    ax.legend(fontsize=7, loc="lower right")
    plt.tight_layout(); plt.show()
    """),
    ("md", """
    ## What to take away

    * For memory-bound operators, count bytes, not operations: fusion (`compute_at`,
      `compute_inline`) decides how many times the data cross the memory bus.
    * Inlining trades memory traffic for recomputation; `compute_at` keeps the
      intermediate in cache without recomputing.
    * A fused kernel still has to be fast enough to keep up with memory: vectorized
      element-wise loops, reductions split into vector lanes with `rfactor`, and all
      cores busy.
    """),
]

#@@CELLS@@


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated name prefixes (01,02,...)")
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--no-execute", action="store_true", help="write cells without outputs")
    parser.add_argument("--output-dir", default=HERE)
    args = parser.parse_args()
    os.makedirs(args.output_dir, exist_ok=True)
    wanted = [p for p in args.only.split(",") if p]
    for name, cells in NOTEBOOKS.items():
        if wanted and not any(name.startswith(p) for p in wanted):
            continue
        nb = make_notebook(cells)
        if not args.no_execute:
            start = time.perf_counter()
            execute(nb, args.quick, cwd=args.output_dir)
            print(f"{name}: executed in {time.perf_counter() - start:.0f} s "
                  f"({'quick' if args.quick else 'full'} mode)", flush=True)
        nbformat.write(nb, os.path.join(args.output_dir, name + ".ipynb"))


if __name__ == "__main__":
    main()
