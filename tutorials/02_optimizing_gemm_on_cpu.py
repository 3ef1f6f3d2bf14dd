# %% [markdown]
# # 2. Optimizing GEMM on the CPU
#
# Matrix multiplication `C = A @ B` (`C[x, y] = sum_k A[x, k] * B[k, y]`) does
# `2 * M * N * K` floating-point operations on `(M*K + K*N + M*N)` numbers: for 1024 x 1024
# matrices, 2 GFLOP on 12 MB.  Every number is used a thousand times, so a good schedule
# is limited by arithmetic, not by memory.  A naive loop nest is nowhere near that: it
# spends its time waiting for memory.
#
# This notebook follows the classic sequence of optimizations (blocking, vectorization,
# loop permutation, array packing, write cache, parallelism, register tiling), explains
# which part of the hardware each one serves, and measures every step on this machine
# against numpy (which calls an optimized BLAS) and against the machine's peak.

# %%
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


# %% [markdown]
# ## The machine's peak, measured
#
# A core with vector FMA units finishes, per cycle, `FMA units x lanes` fused multiply-adds,
# each worth 2 floating-point operations.  The peak is therefore
# `cores x FMA units x lanes x 2 x clock`.  The clock a core runs at under load (boost)
# is not something a program can read reliably in a virtual machine, so we **measure**
# the peak instead, with a tiny FMA-bound kernel written in tensorlang: each thread keeps
# 12 vector accumulators in registers and adds `X[i, :] * Y[k, :]` into them, with `Y`
# small enough to stay in L1 cache, with about a millisecond of work per call so that
# starting the threads does not count.  Twelve independent accumulators are needed because
# an FMA takes about 4 cycles to produce its result and two units can start one each
# per cycle: fewer accumulators and the units would wait on each other.  This kernel still
# reads one operand from L1 per FMA; `tensorlang.benchmarking.measure_fma_peak` times
# chains of FMAs on registers alone, which comes closer to the units' limit on some CPUs
# (AVX2 ones with their 16 registers among them).  The larger of the two is the peak
# below.

# %%
def measure(mod, *arrays, repeat=REPEAT, number=3):
    """Fastest of `repeat` runs, each the mean time of `number` calls (seconds): on
    a machine shared with other work, interference only ever adds time."""
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

from tensorlang.benchmarking import measure_fma_peak
OWN_PEAK, CHAIN_PEAK = fma_peak(), measure_fma_peak()
PEAK = max(OWN_PEAK, CHAIN_PEAK)
print(f"this kernel: {OWN_PEAK:.0f} GFLOPS; FMA chains in registers "
      f"(tensorlang.benchmarking.measure_fma_peak): {CHAIN_PEAK:.0f} GFLOPS")
print(f"measured peak: {PEAK:.0f} GFLOPS ({PEAK / cores:.0f} per core)")
print(f"with 2 FMA units per core this means {PEAK / (cores * 2 * lanes * 2):.2f} GHz, "
      f"with 1 unit {PEAK / (cores * lanes * 2):.2f} GHz")

# %% [markdown]
# ## numpy, and how we measure
#
# numpy's `a @ b` calls OpenBLAS, hand-written assembly tuned for each CPU family; it is
# the bar to reach.  Every tensorlang step below is compiled, checked against numpy's
# result, then timed (the fastest of several runs).  OpenBLAS picks its kernel for the
# CPU when numpy loads, unless `OPENBLAS_CORETYPE` pins another (some environments set
# it, or `OPENBLAS_L2_SIZE`): the first line below names the kernel that runs and says
# whether either is set.  `python tutorials/build_notebooks.py --execute` runs the
# notebooks without them.

# %%
from tensorlang.benchmarking import blas_report
print(blas_report())
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
    """Build, check against numpy, time; slow steps are timed by their single run."""
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


# %% [markdown]
# ## Step 0: the naive loop nest
#
# The innermost loop runs over `k`.  `A[x, k]` walks along a row (good), but `B[k, y]`
# walks down a column: every iteration touches a new **cache line** (64 bytes, the unit
# in which memory moves into cache) and uses 4 bytes of it.  With rows 4 KiB apart, each
# step also lands on a different memory page, more pages than the **TLB** (the cache of
# address translations) holds, so the column costs a page-table walk per element too.

# %%
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

# %% [markdown]
# ## Step 1: blocking
#
# Compute `C` in 32 x 32 blocks, splitting `k` by 4.  A 32 x 32 block of `C` and the
# panels of `A` and `B` it needs are reused while they are still in the L1/L2 caches,
# instead of being brought in from memory again for every row.

# %%
bn, kfactor = 32, 4
A, B, C = matmul(M, N, K)
s = tl.create_schedule(C)
xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
s[C].reorder(xo, yo, ko, ki, xi, yi)
print(tl.lower(s, [A, B, C]))
evaluate("blocking", s, [A, B, C]);

# %% [markdown]
# ## Step 2: vectorization
#
# The innermost loop `yi` now walks along a row of `B` and of `C` with unit stride.
# `vectorize` turns its 32 iterations into two AVX-512 instructions of 16 **lanes** each
# (or four of 8 lanes with AVX2): one instruction does the work of 16 scalar ones.

# %%
A, B, C = matmul(M, N, K)
s = tl.create_schedule(C)
xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
s[C].reorder(xo, yo, ko, ki, xi, yi)
s[C].vectorize(yi)
evaluate("vectorize", s, [A, B, C]);

# %% [markdown]
# ## Step 3: loop permutation
#
# With `ki` outside `xi`, the loop over rows `xi` re-reads the same 32-element row of `C`
# for each `ki`.  Moving `xi` out (`xo, yo, ko, xi, ki, yi`) lets the row of `C` stay in
# registers across the four `ki` iterations and reads `A[xi, ki]` consecutively.

# %%
A, B, C = matmul(M, N, K)
s = tl.create_schedule(C)
xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
s[C].reorder(xo, yo, ko, xi, ki, yi)
s[C].vectorize(yi)
print(tl.lower(s, [A, B, C]))
evaluate("permutation", s, [A, B, C]);


# %% [markdown]
# ## Step 4: array packing
#
# A 32-column panel of `B` is spread over `K` rows that are `N * 4` bytes apart: each row
# of the panel sits on its own page, so walking down the panel thrashes the TLB and the
# hardware prefetcher sees short, scattered streams.  When `N * 4` is a power of two
# (4 KiB for N = 1024) it is worse still: the rows all map to the same few sets of the
# L1 cache, which holds only 8 to 12 lines per set, so they keep evicting each other
# (the reason the steps above gain so little at this size).  Packing copies `B` once into
# `packedB[N / bn, K, bn]`, where each panel is one contiguous block.  This is a change of
# the *computation* (a new stage), not only of the schedule; the packing itself is
# vectorized and run in parallel.

# %%
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


# %% [markdown]
# ## Step 5: write cache
#
# The block of `C` is still read and written through memory on every `k` step.
# `cache_write` accumulates it in a 32 x 32 temporary, computed at the block loop `yo`
# (`compute_at`), and copies it out once when the reduction is done.  The temporary (4 KB)
# stays in L1; `ki` is unrolled so that the compiler can schedule the four updates
# together.

# %%
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

# %% [markdown]
# ## Step 6: parallel
#
# So far one core did all the work.  `parallel(xo)` hands the row blocks to
# `TL_NUM_THREADS` threads (one per core); blocks write disjoint parts of `C`, so no
# synchronisation is needed.

# %%
s, args = write_cache_schedule(parallel=True)
evaluate("parallel", s, args);


# %% [markdown]
# ## Step 7: register tiling
#
# The previous kernel still loads and stores its accumulators from L1 on every `k` step:
# per FMA it does about one load and one store, and the load/store units, not the FMA
# units, set the pace.  The fix is to size the tile for the **registers**: with AVX-512
# a 4 x 64 tile of `C` is 4 rows x 4 vectors of 16 lanes = 16 vector registers (of 32),
# held for the whole reduction (`cache_write(C, "local")`, loops `xc` and `ki`
# unrolled).  Per `k` step the kernel loads 4 vectors of the packed `B` panel and
# broadcasts 4 values of `A` for 16 FMAs, which the two FMA units can execute back to back:
# 16 independent accumulators comfortably cover the 4-cycle FMA latency.  The packed
# panel of 64 columns is what makes the 4 vector loads contiguous.  AVX2 has 16 registers
# of 8 lanes: the same tile would need 32 and spill to memory, so there the tile is 4
# rows x 2 vectors (4 x 16, 8 registers).

# %%
def register_tiled(M, N, K, bn=(64 if lanes == 16 else 2 * lanes), rows=4, kfactor=8):
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

# %% [markdown]
# The inner loop of the generated assembly shows what the schedule asked for: vector
# FMAs on `zmm` (512-bit AVX-512) or `ymm` (256-bit AVX2) registers, with broadcasts of
# `A` and loads of the packed panel.

# %%
asm = final.get_source("asm").splitlines()
fma_lines = [i for i, line in enumerate(asm) if "vfmadd" in line]
if fma_lines:
    first = fma_lines[0]
    print("\n".join(asm[max(0, first - 6):first + 12]))
print(f"... {len(fma_lines)} FMA instructions in the module")

# %% [markdown]
# ## Results
#
# Every figure is the fastest of several runs.  On a machine busy with other work all of
# them drop, numpy's included (OpenBLAS uses every core too), so compare the ratios.

# %%
NUMPY = min(NUMPY, numpy_seconds())   # numpy again, in the same machine state
rows = ["| step | ms | GFLOPS | x numpy | % of peak |", "|---|---:|---:|---:|---:|"]
rows.append(f"| numpy | {NUMPY * 1e3:.2f} | {FLOPS / NUMPY / 1e9:.1f} | 1.00 | "
            f"{100 * FLOPS / NUMPY / 1e9 / PEAK:.0f} |")
for step, seconds in results:
    gflops = FLOPS / seconds / 1e9
    rows.append(f"| {step} | {seconds * 1e3:.2f} | {gflops:.1f} | "
                f"{NUMPY / seconds:.2f} | {100 * gflops / PEAK:.1f} |")
display(Markdown(f"**GEMM {M} x {N} x {K}, float32, {cores} cores**\n\n"
                 + "\n".join(rows)))

# %%
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

# %% [markdown]
# ## What to take away
#
# * The biggest single jumps come from making the inner loop contiguous and vectorized,
#   and from keeping the accumulators in registers: a modern core is starved by memory
#   long before it runs out of arithmetic.
# * The schedule, not the computation, carries all of this.  The compute definition of
#   `C` changed once (packing, a layout change); everything else was loop rearrangement
#   that tensorlang checks and lowers for us.
# * One register tile written by hand comes close to OpenBLAS (the table above says how
#   close on this machine), whose kernels are assembly written for each CPU family.
#   Which tile, panel and unroll are best depends on the CPU and the shape: notebook 4
#   lets the autotuner search such schedules instead of writing them by hand.
