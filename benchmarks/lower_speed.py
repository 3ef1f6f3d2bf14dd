"""How long ``tl.lower`` takes on schedules an autotuner produces by the thousand.

Prints the median time of lowering (the whole pass pipeline) of a 3-level tiled matmul
and of a tiled conv2d with a padding stage.  Targets: <= 20 ms and <= 40 ms.

    python benchmarks/lower_speed.py [repeats]
"""
from __future__ import annotations

import statistics
import sys
import time

import tensorlang as tl
from tensorlang import te


def tiled_matmul(n: int = 1024):
    """Three levels of tiling (64 / 8 / vector of 8), cache_write, k split in two."""
    A = te.placeholder((n, n), name="A")
    B = te.placeholder((n, n), name="B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    s = tl.create_schedule(C)
    CC = s.cache_write(C, "local")
    i, j = s[C].op.axis
    io, jo, ii, ji = s[C].tile(i, j, 64, 64)
    iio, jio, iii, jii = s[C].tile(ii, ji, 8, 8)
    s[C].parallel(io)
    s[C].vectorize(jii)
    s[CC].compute_at(s[C], jio)
    ic, jc = s[CC].op.axis
    ko, ki = s[CC].split(s[CC].op.reduce_axis[0], factor=16)
    kio, kii = s[CC].split(ki, factor=4)
    s[CC].reorder(ko, kio, ic, kii, jc)
    s[CC].unroll(kii)
    s[CC].vectorize(jc)
    return s, [A, B, C]


def tiled_conv2d(batch=1, cin=64, size=56, cout=64, ksize=3):
    """NCHW conv2d with zero padding, output tiled and vectorized, padding inlined."""
    data = te.placeholder((batch, cin, size, size), name="data")
    kernel = te.placeholder((cout, cin, ksize, ksize), name="kernel")
    pad = ksize // 2
    padded = te.compute(
        (batch, cin, size + 2 * pad, size + 2 * pad),
        lambda b, c, y, x: te.if_then_else(
            te.all(y >= pad, y < size + pad, x >= pad, x < size + pad),
            data[b, c, y - pad, x - pad], 0.0), name="padded")
    rc = te.reduce_axis((0, cin), name="rc")
    ry = te.reduce_axis((0, ksize), name="ry")
    rx = te.reduce_axis((0, ksize), name="rx")
    out = te.compute((batch, cout, size, size), lambda b, f, y, x: te.sum(
        padded[b, rc, y + ry, x + rx] * kernel[f, rc, ry, rx], axis=[rc, ry, rx]), name="conv")
    s = tl.create_schedule(out)
    s[padded].compute_inline()
    b, f, y, x = s[out].op.axis
    rc, ry, rx = s[out].op.reduce_axis
    fo, fi = s[out].split(f, factor=16)
    yo, yi = s[out].split(y, factor=8)
    xo, xi = s[out].split(x, factor=8)
    rco, rci = s[out].split(rc, factor=8)
    s[out].reorder(b, fo, yo, xo, rco, ry, rx, rci, fi, yi, xi)
    s[out].vectorize(xi)
    s[out].unroll(rx)
    s[out].parallel(fo)
    return s, [data, kernel, out]


def median_ms(build, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        s, args = build()  # a fresh schedule each time, as a tuner lowers new candidates
        start = time.perf_counter()
        tl.lower(s, args)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    median_ms(tiled_matmul, 2)  # warm imports and caches
    for name, build, target in (("3-level tiled matmul", tiled_matmul, 20.0),
                                ("tiled conv2d", tiled_conv2d, 40.0)):
        ms = median_ms(build, repeats)
        verdict = "ok" if ms <= target else "SLOWER than target"
        print(f"{name:24s} median {ms:7.2f} ms  (target <= {target:.0f} ms: {verdict})")


if __name__ == "__main__":
    main()
