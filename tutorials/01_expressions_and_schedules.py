# %% [markdown]
# # 1. Expressions and schedules
#
# tensorlang keeps two things apart that a hand-written loop mixes together:
#
# * **what** to compute: a *tensor expression*, declared once with `te.compute`, saying
#   how each output element is obtained from the inputs;
# * **how** to compute it: a *schedule*, a list of loop transformations (split, reorder,
#   tile, vectorize, ...) applied to the loops that compute the expression.
#
# A schedule never changes the result, only the order in which the work is done and
# where intermediate values live.  This notebook applies the primitives one at a time;
# after each it prints the loop nest that `tl.lower` produces and checks the compiled
# function against numpy.

# %%
import os
import numpy as np
import matplotlib.pyplot as plt
import tensorlang as tl
from tensorlang import te

QUICK = os.environ.get("TL_TUTORIAL_QUICK") == "1"
N = 64 if QUICK else 256          # size of the arrays we compute on
rng = np.random.default_rng(0)

# %% [markdown]
# ## Declaring a computation
#
# `te.placeholder` declares an input, `te.compute` an output: a shape and a function
# from index variables to an expression.  Nothing is computed yet; `B` is a symbolic
# description.  The default schedule computes it with one loop per output dimension, in
# row-major order.

# %%
A = te.placeholder((N, N), name="A")
B = te.compute((N, N), lambda i, j: A[i, j] * 2.0 + 1.0, name="B")

s = tl.create_schedule(B)
print(tl.lower(s, [A, B]))

# %% [markdown]
# `tl.build` compiles the schedule to machine code through LLVM; the module takes numpy
# arrays and writes the outputs in place.  We check every schedule of this notebook the
# same way, with this helper:

# %%
a = rng.random((N, N), dtype=np.float32)

def check(s, args, inputs, expected):
    """Compile the schedule, run it on `inputs`, compare with numpy's `expected`."""
    mod = tl.build(s, args)
    out = np.zeros_like(expected)
    mod(*inputs, out)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    print("result matches numpy")

check(s, [A, B], [a], a * 2 + 1)

# %% [markdown]
# ## split
#
# `split(axis, factor)` turns one loop into two nested loops, `outer` and `inner`, with
# `axis = outer * factor + inner`.  The factor need not divide the extent: tensorlang
# then guards the last, partial iteration.

# %%
s = tl.create_schedule(B)
i, j = B.op.axis
jo, ji = s[B].split(j, factor=16)
print(tl.lower(s, [A, B]))
check(s, [A, B], [a], a * 2 + 1)

# %%
# a factor that does not divide N: the loop nest grows a guard (or a partitioned tail)
s = tl.create_schedule(B)
jo, ji = s[B].split(B.op.axis[1], factor=24)
print(tl.lower(s, [A, B]))
check(s, [A, B], [a], a * 2 + 1)

# %% [markdown]
# ## reorder
#
# `reorder` permutes loops.  Here the column loop becomes the outer one, so the inner
# loop walks down a column: consecutive iterations touch addresses `N * 4` bytes apart
# instead of neighbouring ones, which matters for caches (notebook 2).

# %%
s = tl.create_schedule(B)
i, j = B.op.axis
s[B].reorder(j, i)
print(tl.lower(s, [A, B]))
check(s, [A, B], [a], a * 2 + 1)

# %% [markdown]
# ## fuse
#
# `fuse` is the inverse of split: two adjacent loops become one whose extent is the
# product.  It is mostly used to make one big loop to hand out to threads or GPU blocks.

# %%
s = tl.create_schedule(B)
i, j = B.op.axis
ij = s[B].fuse(i, j)
print(tl.lower(s, [A, B]))
check(s, [A, B], [a], a * 2 + 1)

# %% [markdown]
# ## tile
#
# `tile(x, y, x_factor, y_factor)` splits two axes and orders the four loops
# `x_outer, y_outer, x_inner, y_inner`: the computation proceeds one rectangular tile
# at a time.  It is split + split + reorder in a single call.

# %%
s = tl.create_schedule(B)
xo, yo, xi, yi = s[B].tile(B.op.axis[0], B.op.axis[1], x_factor=8, y_factor=8)
print(tl.lower(s, [A, B]))
check(s, [A, B], [a], a * 2 + 1)


# %% [markdown]
# ### What tiling does to the visit order
#
# The picture colours each element of a small 16 x 16 output by the step at which the
# loop nest above visits it (dark first, bright last).  Without a schedule, rows are
# visited one after the other; with 4 x 4 tiles the nest finishes one small square before
# it moves to the next, so the data a tile touches is reused while it is still in cache.
# The visit order is replayed by walking the loops exactly as `tl.lower` printed them.

# %%
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

# %% [markdown]
# ## vectorize
#
# `vectorize(axis)` turns a loop of constant extent into vector instructions: the
# 16 iterations of `yi` below become one operation on a 16-lane vector (`Ramp` indices
# in the printed loop, one AVX-512 instruction on a CPU that has it).

# %%
s = tl.create_schedule(B)
xo, yo, xi, yi = s[B].tile(B.op.axis[0], B.op.axis[1], x_factor=8, y_factor=16)
s[B].vectorize(yi)
print(tl.lower(s, [A, B]))
check(s, [A, B], [a], a * 2 + 1)

# %% [markdown]
# ## parallel
#
# `parallel(axis)` runs the iterations of a loop on several CPU threads (the number is
# `TL_NUM_THREADS`, by default the number of cores).  Iterations must be independent,
# which is the case for any spatial axis of a `te.compute`.

# %%
s = tl.create_schedule(B)
xo, yo, xi, yi = s[B].tile(B.op.axis[0], B.op.axis[1], x_factor=8, y_factor=16)
s[B].vectorize(yi)
s[B].parallel(xo)
print(tl.lower(s, [A, B]))
check(s, [A, B], [a], a * 2 + 1)

# %% [markdown]
# ## Several stages: compute_inline and compute_at
#
# Real programs chain computations.  Halide's favourite example is a 3 x 3 box blur
# computed in two passes: first horizontally, then vertically.  By default each stage is
# computed in full ("at the root") into its own buffer before the next one starts.

# %%
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

# %% [markdown]
# ### compute_inline
#
# `compute_inline()` substitutes the producer's expression into its consumer: there is
# no `blur_x` buffer any more, and each horizontal sum is recomputed three times (once
# for each output row that needs it).  No memory traffic, more arithmetic.

# %%
s = tl.create_schedule(blur_y)
s[blur_x].compute_inline()
print(tl.lower(s, [inp, blur_y]))
check(s, [inp, blur_y], [image], expected_blur)

# %% [markdown]
# ### compute_at
#
# `compute_at(consumer_stage, axis)` is the middle ground: the producer is computed
# inside the consumer's loop `axis`, only over the region that one iteration needs.
# Below, `blur_y` is tiled and `blur_x` is computed per tile: the intermediate buffer
# shrinks to a (tile + 2) x tile strip, small enough to stay in L1 cache, and only the
# two halo rows are recomputed.  tensorlang infers the region (the bounds of the strip)
# from the consumer's index expressions.

# %%
s = tl.create_schedule(blur_y)
yo, xo, yi, xi = s[blur_y].tile(blur_y.op.axis[0], blur_y.op.axis[1], 8, 16)
s[blur_x].compute_at(s[blur_y], xo)
print(tl.lower(s, [inp, blur_y]))
check(s, [inp, blur_y], [image], expected_blur)

# %% [markdown]
# ## Reductions and cache_write
#
# A reduction axis (`te.reduce_axis`) is summed over.  Matrix multiplication is the
# canonical example.  `cache_write(C, "local")` computes the result into a small
# temporary first and copies it out afterwards; combined with `compute_at` the temporary
# holds one tile of accumulators, which the compiler can keep in registers while the
# reduction runs (notebook 2 builds its fastest GEMM this way).

# %%
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

# %%
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

# %% [markdown]
# ## Schedules are checked
#
# A primitive applied to the wrong thing raises `tl.ScheduleError` naming the stage,
# the axis and the rule, instead of producing wrong code.

# %%
s = tl.create_schedule(C)
try:
    s[C].vectorize(C.op.reduce_axis[0])
except tl.ScheduleError as error:
    print("ScheduleError:", error)

# %% [markdown]
# ## Summary
#
# | primitive | effect on the loop nest |
# | --- | --- |
# | `split(x, factor)` | one loop -> outer x inner |
# | `reorder(...)` | permute loops |
# | `fuse(x, y)` | two loops -> one |
# | `tile(x, y, fx, fy)` | split both, order outer loops first |
# | `vectorize(x)` | constant-extent inner loop -> vector instructions |
# | `parallel(x)` | iterations shared among threads |
# | `compute_inline()` | producer substituted into consumers |
# | `compute_at(stage, axis)` | producer computed per iteration of a consumer loop |
# | `cache_write(C, scope)` | accumulate into a temporary, then copy out |
#
# Notebook 2 combines them into a matrix multiplication that competes with OpenBLAS.
