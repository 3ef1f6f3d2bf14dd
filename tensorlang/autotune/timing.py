"""How a function's speed is measured, one way for the tuner and for the figures printed
beside it: seconds per call are *samples* of ``number`` back-to-back calls each, where
``number`` makes a sample last at least ``min_sample_seconds`` (one call for anything
slower than that), and the figure of a run of samples is their median.

The tuner's re-timing round takes its samples this way in the runner process (in turns
with the other fastest candidates), and ``tensorlang demo`` / ``tensorlang tune`` time
numpy the same way (:func:`time_samples`), as many samples as the tuned figure has.

>>> samples = time_samples(lambda: np.matmul(a, b, out=c), count=24)
>>> median(samples)
"""
from __future__ import annotations

import math
import statistics
import time


def calls_per_sample(seconds_per_call: float, min_sample_seconds: float) -> int:
    """Back-to-back calls in one sample, so that it lasts ``min_sample_seconds``."""
    return max(1, math.ceil(min_sample_seconds / max(seconds_per_call, 1e-7)))


def sample(call, number: int, clock=time.perf_counter) -> float:
    """Seconds per call of ``call()`` over ``number`` calls."""
    start = clock()
    for _ in range(number):
        call()
    return (clock() - start) / number


def median(samples) -> float:
    """The figure of a run of samples: their median (the mean of the middle two for an
    even count); infinity for none."""
    samples = list(samples)
    return statistics.median(samples) if samples else math.inf


def time_samples(call, count: int, min_sample_seconds: float = 1e-3, idle: float = 0.3,
                 warm: float = 0.1, clock=time.perf_counter) -> list[float]:
    """``count`` samples of ``call`` taken as the tuner takes them (see the module
    docstring).  First the process idles ``idle`` seconds (OpenBLAS's threads spin on
    the cores for up to about 0.2 s after each numpy call on a 2-core virtual machine;
    this lets those of an earlier function sleep), then calls ``call`` untimed for ``warm`` seconds (threads
    woken from an idle pause run slower for a while), which also gives ``number``."""
    time.sleep(idle)
    start = clock()
    calls = 0
    while True:
        call()
        calls += 1
        elapsed = clock() - start
        if elapsed >= warm:
            break
    number = calls_per_sample(elapsed / calls, min_sample_seconds)
    return [sample(call, number, clock) for _ in range(count)]
