# %% [markdown]
# # 4. Autotuning
#
# Notebook 2 reached a fast GEMM by reasoning about caches, registers and vector units,
# and by trying tile sizes.  The reasoning transfers; the tile sizes do not: they depend
# on the shape, on the CPU, and on each other.  `tl.autotune` searches schedules
# automatically:
#
# 1. it derives a **search space** from the compute definition (tilings of every loop,
#    loop order, packing, caching, vectorization, parallelism, unrolling);
# 2. an **evolutionary search** proposes candidates, ranked by a **cost model** (gradient
#    boosted trees, XGBoost) trained on features of the lowered loop nests;
# 3. the most promising are compiled and **measured** on the machine; the measurements
#    retrain the cost model, and every record is appended to a JSON-lines log, so a
#    tuning run can be resumed and its best schedule reused later.

# %%
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
CONV = dict(in_channels=8, out_channels=16, height=14, width=14) if QUICK else \
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


# %% [markdown]
# ## Tuning a matrix multiplication
#
# The workload is the plain definition of notebook 2, with no schedule at all.

# %%
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

# %% [markdown]
# The best schedule, printed as the tensorlang code that rebuilds it:

# %%
print(matmul_result.schedule_code)

# %% [markdown]
# ## Against numpy and the hand-written schedule
#
# We measure three things in the same way, one after the other: numpy (OpenBLAS, with
# the kernel named on the first line below; see notebook 2), the register-tiled schedule
# written by hand in notebook 2 (kept in `tensorlang.schedule.recipes`), and the tuned
# schedule, beside the machine's float32 FMA peak measured now.

# %%
from tensorlang.benchmarking import blas_report, measure_peaks
print(blas_report())
PEAKS = measure_peaks()
print(PEAKS)
a = rng.random((N, N), dtype=np.float32)
b = rng.random((N, N), dtype=np.float32)
flops = 2.0 * N ** 3

tuned = matmul_result.build()
c_tuned = np.zeros((N, N), np.float32)
tuned(a, b, c_tuned)
np.testing.assert_allclose(c_tuned, a @ b, rtol=1e-3)

LANES = tl.Target("llvm").float32_lanes    # the hand tile is blocked for this CPU's vectors
hand_schedule, hand_args = recipes.gemm_register_tiled(N, N, N, lanes=LANES)
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
    print(f"{name:>18}: {value:6.1f} GFLOPS, {value / matmul_gflops['numpy']:.2f} x numpy, "
          f"{100 * value / PEAKS.fma_gflops:.0f}% of the FMA peak")

# %% [markdown]
# The hand schedule, for comparison with the tuned one above: notebook 2 chose one
# register tile (4 x 64 with AVX-512, 4 x 16 with AVX2) and packed `B`; the tuner chose its own tile sizes for each
# level (the decisions below) and its own loop order.

# %%
print(inspect.getsource(recipes.gemm_register_tiled))
print("tuned decisions:")
for name, value in matmul_result.best_config["decisions"].items():
    print(f"  {name}: {value}")


# %% [markdown]
# ## The tuning curve
#
# Best GFLOPS found so far against the number of measured candidates.  The first batch
# starts from the space's seeds (register-blocked micro-kernels sized for this CPU's
# vectors) and the candidates that the pretrained cost model ranks best; later batches
# are ranked by the model as it learns from the run's own measurements.

# %%
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

# %% [markdown]
# ## How good is the cost model?
#
# The cost model does not predict seconds: it is trained to *rank* candidates (a
# pairwise ranking objective), which is all the search needs.  To judge it honestly we
# train a fresh model on the first half of the measured candidates and score the second
# half, which it has not seen.  A perfect ranker would put the points on a rising
# curve; *pairwise accuracy* is the fraction of pairs of candidates it orders correctly
# (0.5 is a coin toss).

# %%
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

# %% [markdown]
# ## Tuning a convolution
#
# The same call tunes a 3 x 3 convolution (NCHW, padding 1): the search space now
# includes the padding stage and seven loops.  The workload is the definition used by
# the hand-written convolution schedule in `recipes.conv2d_nchw_3x3`, so both run the
# same computation.

# %%
hand_schedule, (data, kernel, out) = recipes.conv2d_nchw_3x3(**CONV, lanes=LANES)
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
    print(f"{name:>15}: {value:6.1f} GFLOPS, {value / conv_gflops['numpy einsum']:.2f} x "
          f"numpy, {100 * value / PEAKS.fma_gflops:.0f}% of the FMA peak")

# %%
fig, ax = plt.subplots(figsize=(7.5, 4))
plot_curve(ax, conv_result, {"hand (recipes)": conv_gflops["hand (recipes)"],
                             "numpy einsum": conv_gflops["numpy einsum"]})
ax.set_title(f"tuning conv2d: {cin} -> {cout} channels, {h} x {w_}, 3 x 3")
plt.tight_layout(); plt.show()
print(conv_result.schedule_code)

# %% [markdown]
# ## Using the log later
#
# The log files are the tuning's result.  Calling `tl.autotune` again with the same
# `log_file` measures nothing that is already there, and under
# `tl.autotune.apply_history_best(log_file)` building the workload picks the best
# record.

# %%
again = tl.autotune(C, target="llvm", trials=MATMUL_TRIALS,
                    log_file=os.path.join(LOGS, "matmul.jsonl"), verbose=0)
print("measured on the second call:", again.measured_now)
print("same best time:", again.best_time == matmul_result.best_time)
