# %% [markdown]
# # 3. GEMM on a GPU: binding, shared memory, register blocking
#
# A GPU runs a *grid* of *thread blocks*; the threads of one block run on the same
# streaming multiprocessor, share a small, fast **shared memory** (tens of KB, explicitly
# managed) and can wait for each other at a barrier (`__syncthreads()`).  Each thread
# also has its own **registers**.  Global memory is large but far: a good GPU kernel loads
# each number from it as few times as possible and does its arithmetic out of registers.
#
# In tensorlang the same `te.compute` is scheduled for the GPU by **binding** loops to
# `blockIdx.*` / `threadIdx.*`, and by placing copies of the inputs in `"shared"` and
# `"local"` (register) memory with `cache_read` / `cache_write`.  `tl.build(...,
# target="cuda")` produces CUDA C.  Without a GPU, `mod.emulate(...)` runs the very same
# kernel on the CPU, thread by thread and barrier by barrier, checking shared memory for
# data races: slow, so we use it at small sizes to check the schedules.  With a GPU (and
# pycuda) the notebook also runs every schedule at full size and times it.

# %%
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
    """Emulate at a small size against numpy; with a GPU, also time at full size."""
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


# %% [markdown]
# ## Step 1: binding loops to blocks and threads
#
# The simplest GPU schedule gives every output element its own thread: split both axes
# by 16, bind the outer loops to the block indices and the inner ones to the thread
# indices (16 x 16 = 256 threads per block).  The bound loops disappear from the CUDA C;
# each thread reads its coordinates from `blockIdx` / `threadIdx` and runs the `k` loop
# alone, loading `2 K` numbers from global memory for `K` multiply-adds.

# %%
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

# %%
source = mod.get_source("cuda")
print(source[source.index('extern "C"'):])

# %% [markdown]
# Forgetting to bind a loop is caught at build time, with the stage and the loop named:

# %%
A, B, C = matmul(EMULATED_N)
s = tl.create_schedule(C)
try:
    tl.build(s, [A, B, C], target="cuda")
except tl.BuildError as error:
    print("BuildError:", error)


# %% [markdown]
# ## Step 2: shared-memory tiling
#
# Neighbouring threads of a block read the same rows of `A` and columns of `B`.  Instead
# of each fetching them from global memory, the block loads a `tile x tile` square of
# each into shared memory once per step of `k` (`cache_read(A, "shared", [C])`, computed
# at the outer `k` loop), every thread copying one element; a barrier; then every thread
# does `tile` multiply-adds out of shared memory; a barrier before the next tiles
# overwrite these.  Global loads per multiply-add drop from 2 to `2 / tile`.
# tensorlang inserts the two `__syncthreads()` itself, where the data flow requires them.
# The accumulator lives in a register (`cache_write(C, "local")`).

# %%
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


# %% [markdown]
# ## Step 3: register blocking
#
# Shared memory is fast but not free: in step 2 every multiply-add still reads two
# numbers from it.  Let each thread compute a 4 x 4 block of `C` instead of one element:
# per step of `k` it reads 4 values of `A` and 4 of `B` from shared memory and does 16
# multiply-adds on 16 accumulators held in registers, a quarter of the shared traffic.
# A block of 8 x 8 threads now covers 32 x 32 outputs, so each global load also serves
# twice as many multiply-adds as before.  The 64 threads fill the 32 x 8 shared tiles
# cooperatively: the tile's two axes are fused into one and split over the threads.

# %%
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

# %% [markdown]
# ## Memory traffic per multiply-add
#
# The three schedules do the same arithmetic; what changes is where the operands come
# from.  Counting loads per multiply-add from the schedules' parameters (no GPU
# needed):
#
# * bound: 2 global loads (caches aside);
# * shared tiling with tile `T`: `2 / T` global loads, 2 shared loads;
# * register blocking with a block tile `BT = 32` and `4 x 4` per thread: `2 / BT`
#   global loads and `(4 + 4) / 16 = 0.5` shared loads.

# %%
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

# %% [markdown]
# ## On a GPU
#
# Where `gpu_available()` is true the cells above also built each schedule at
# 2048 x 2048 and timed it; the chart below then compares them.  On a machine without a
# GPU (as when this notebook's outputs were recorded, if the cell below says so) the
# emulated runs above are the check, and the generated CUDA C can be compiled with
# `nvcc` elsewhere.

# %%
if gpu_results:
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.bar(list(gpu_results), list(gpu_results.values()))
    ax.set_ylabel("GFLOPS"); ax.set_title(f"GEMM {GPU_N}^3 float32 on the GPU")
    plt.tight_layout(); plt.show()
else:
    print("no GPU here: the schedules were checked by emulation only")
