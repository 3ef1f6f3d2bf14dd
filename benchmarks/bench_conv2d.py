"""3x3 convolution, NCHW float32, batch 1, 64 -> 64 channels, 56x56, stride 1, padding 1
(a ResNet layer; ``recipes.conv2d_nchw_3x3``) against numpy's im2col + matmul (OpenBLAS),
numpy timed in turns with tensorlang (medians of repeats).

    python benchmarks/bench_conv2d.py [--channels 64] [--size 56]
"""
from __future__ import annotations

import argparse

# bench_common first: it runs the script again without OpenBLAS kernel pins, if set
from bench_common import interleaved_seconds, machine_description, print_table

import numpy as np

import tensorlang as tl
from tensorlang.schedule.recipes import conv2d_nchw_3x3


def numpy_im2col_conv(data: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """3x3, stride 1, padding 1 convolution as im2col (a strided view copied into
    ``(C*9, H*W)`` columns) times the ``(K, C*9)`` kernel matrix."""
    batch, channels, height, width = data.shape
    out_channels = kernel.shape[0]
    padded = np.pad(data, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
    # (batch, C, H, W, 3, 3) -> (batch, C, 3, 3, H, W) -> (batch, C*9, H*W)
    columns = np.ascontiguousarray(windows.transpose(0, 1, 4, 5, 2, 3)).reshape(
        batch, channels * 9, height * width)
    weights = kernel.reshape(out_channels, channels * 9)
    return np.matmul(weights, columns).reshape(batch, out_channels, height, width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--size", type=int, default=56)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    channels, size = args.channels, args.size
    print(machine_description())
    rng = np.random.default_rng(0)
    data = rng.standard_normal((1, channels, size, size), dtype=np.float32)
    kernel = rng.standard_normal((channels, channels, 3, 3), dtype=np.float32)
    out = np.empty((1, channels, size, size), np.float32)
    lanes = tl.Target("llvm").float32_lanes
    mod = tl.build(*conv2d_nchw_3x3(1, channels, channels, size, size, lanes=lanes),
                   name="conv2d")
    mod(data, kernel, out)
    np.testing.assert_allclose(out, numpy_im2col_conv(data, kernel), rtol=1e-3, atol=1e-3)
    seconds = interleaved_seconds({"tensorlang": lambda: mod(data, kernel, out),
                                   "numpy": lambda: numpy_im2col_conv(data, kernel)},
                                  repeat=args.repeat, number=5, settle=0.15)
    flops = 2.0 * channels * channels * 9 * size * size
    rows = [[label, f"{seconds[who] * 1e3:.3f}", f"{flops / seconds[who] / 1e9:.1f}",
             f"{seconds['numpy'] / seconds[who]:.2f}"]
            for label, who in (("numpy im2col + matmul", "numpy"), ("tensorlang", "tensorlang"))]
    print_table(f"conv2d NCHW 1x{channels}x{size}x{size}, {channels} filters 3x3, pad 1, "
                f"float32 (medians)", ["implementation", "ms", "GFLOPS", "x numpy"], rows)


if __name__ == "__main__":
    main()
