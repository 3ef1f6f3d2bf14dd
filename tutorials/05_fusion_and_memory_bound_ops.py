# %% [markdown]
# # 5. Fusion and memory-bound operators: softmax and layer norm
#
# A matrix multiplication does a thousand operations per number it loads.  Softmax and
# layer normalization do a handful: their speed is set by how many bytes they move
# between memory and the core, not by arithmetic.  For such operators the schedule's job
# is to **touch memory as little as possible**: compute the intermediate results of a
# row while the row is still in cache (*fusion*, with `compute_at` and
# `compute_inline`), and keep the loads and the arithmetic vectorized so that the core
# can keep up with memory.
#
# We measure the machine's memory bandwidth first (a STREAM-like triad), then a few
# schedules of each operator, and place them all on a **roofline** plot.

# %%
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
    """Fastest of REPEAT runs (each the mean of `number` calls): on a shared machine
    interference only ever adds time."""
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


# %% [markdown]
# ## The machine's bandwidth: a STREAM-like triad
#
# STREAM's *triad* `a[i] = b[i] + 3 * c[i]` moves 12 bytes per element (two loads, one
# store) for 2 operations.  We write it in tensorlang, vectorized and parallel over all
# cores, on arrays much larger than the caches, and take the best of several runs as the
# machine's sustainable bandwidth.  numpy's (single-threaded) copy is shown for
# comparison.

# %%
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


# %% [markdown]
# For the roofline we also need the compute peak; as in notebook 2 it is measured with
# a small FMA-bound tensorlang kernel (12 vector accumulators per thread, operands in
# L1).

# %%
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


# %% [markdown]
# ## Softmax
#
# Softmax of each row, written as four stages so that each can be scheduled:
#
#     row_max[i] = max_j x[i, j]
#     exp[i, j]  = exp(x[i, j] - row_max[i])
#     row_sum[i] = sum_j exp[i, j]
#     y[i, j]    = exp[i, j] / row_sum[i]
#
# At best it reads `x` once and writes `y` once: 8 bytes per element, for about 5
# operations (counting `exp` as one).  We report every schedule's *effective bandwidth*,
# those 8 bytes per element divided by the time.

# %%
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

# %% [markdown]
# ### Every stage at the root
#
# The default schedule runs the four stages one after the other over the whole matrix.
# `exp` is a full-size temporary: written once, read twice, 16 more bytes per element;
# and with rows of `COLS` floats the whole matrix passes through the cache four times.

# %%
x, row_max, exp, row_sum, y = softmax(ROWS, COLS)
s = tl.create_schedule(y)
print(tl.lower(s, [x, y]))
evaluate("softmax", "root", s, [x, y], softmax_expected, [x_np],
         SOFTMAX_BYTES, SOFTMAX_FLOPS)

# %% [markdown]
# ### compute_inline: no temporary, but exp twice
#
# Inlining `exp` into its two consumers removes the temporary, at the price of computing
# every exponential twice.  Whether that pays depends on how expensive `exp` is compared
# with a trip to memory.

# %%
x, row_max, exp, row_sum, y = softmax(ROWS, COLS)
s = tl.create_schedule(y)
s[exp].compute_inline()
print(tl.lower(s, [x, y]))
evaluate("softmax", "inline exp", s, [x, y], softmax_expected, [x_np],
         SOFTMAX_BYTES, SOFTMAX_FLOPS)


# %% [markdown]
# ### compute_at: one row at a time
#
# Fusion proper: `compute_at` moves `row_max`, `exp` and `row_sum` inside the row loop
# of the output.  The temporaries shrink to one row (4 KB), which never leaves L1, so
# `x` is read from memory once and `y` written once.  The rows are independent, so the
# row loop runs in parallel, and the element-wise loops are vectorized.

# %%
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


# %% [markdown]
# ### Vectorizing the reductions with rfactor
#
# The reductions are still scalar loops in which every addition waits for the previous
# one (about 4 cycles each): a row of 1024 takes thousands of cycles, far longer than
# loading it.  `rfactor` splits a reduction into `lanes` independent partial results,
# one per vector lane: `row_sum.rf[l] = sum over ko of exp[ko * lanes + l]`, a loop that
# vectorizes, followed by a short sum of the `lanes` partials.

# %%
def vector_reduce(s, reduction):
    """Compute a row reduction as `lanes` vector partial results (rfactor)."""
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


# %% [markdown]
# ## Layer normalization
#
# `y = (x - mean) / sqrt(var + eps) * gamma + beta` over each row: two row reductions
# (the sum, then the sum of squared deviations) and an element-wise stage, again about
# 8 bytes per element, for about 8 operations.  The same two steps apply: compute the
# reductions per row (`compute_at`) and vectorize them (`rfactor`).

# %%
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


# %%
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

# %% [markdown]
# ## Results and the roofline
#
# The roofline bounds what a kernel of a given *arithmetic intensity* (operations per
# byte of memory traffic) can reach: `min(peak, intensity x bandwidth)`.  Both operators
# sit far left of the ridge point, where only bandwidth matters; the vertical distance of
# a point below the sloped roof is what its schedule still leaves on the table.  A
# schedule can land *above* the roof when its data partly stay in the last-level cache
# between repeated runs, which the roof (main-memory bandwidth) does not account for.

# %%
rows = ["| operator | schedule | ms | effective GB/s | % of triad | GFLOPS |",
        "|---|---|---:|---:|---:|---:|"]
for op, name, seconds, nbytes, flops in results:
    rows.append(f"| {op} | {name} | {seconds * 1e3:.2f} | {nbytes / seconds / 1e9:.1f} | "
                f"{100 * nbytes / seconds / 1e9 / STREAM:.0f} | {flops / seconds / 1e9:.1f} |")
display(Markdown(f"**{ROWS} x {COLS} float32, {cores} cores; triad {STREAM:.1f} GB/s, "
                 f"peak {PEAK:.0f} GFLOPS**\n\n" + "\n".join(rows)))

# %%
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

# %% [markdown]
# ## What to take away
#
# * For memory-bound operators, count bytes, not operations: fusion (`compute_at`,
#   `compute_inline`) decides how many times the data cross the memory bus.
# * Inlining trades memory traffic for recomputation; `compute_at` keeps the
#   intermediate in cache without recomputing.
# * A fused kernel still has to be fast enough to keep up with memory: vectorized
#   element-wise loops, reductions split into vector lanes with `rfactor`, and all
#   cores busy.
