"""Timing for the benchmark scripts: wall-clock runs of a callable, summarised by the median."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable


def timed_runs(fn: Callable[[], object], repeats: int, warmup: int = 1, budget: float = math.inf,
               sync: Callable[[], None] = lambda: None) -> list[float]:
    """Seconds of up to ``repeats`` timed runs of ``fn()``, after ``warmup`` untimed ones.

    Timing stops early (after at least one timed run) once ``budget`` seconds have passed since
    the first warm-up, so a slow CPU case does not take many minutes. ``sync`` waits for queued
    device work (``torch.cuda.synchronize``) so that each run is timed whole.
    """
    start = time.perf_counter()
    for _ in range(warmup):
        fn()
    sync()
    times: list[float] = []
    while len(times) < repeats and (not times or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median seconds of ``repeats`` timed runs of ``fn()`` after ``warmup`` untimed ones."""
    return statistics.median(timed_runs(fn, repeats, warmup))
