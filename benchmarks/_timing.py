"""Timing for the benchmark scripts: wall-clock runs of a callable, summarised by the median.

``timed_runs`` lives in the package (:func:`stylegan_tutorial.runtime.timed_runs`), where
``check-data``'s probe uses it too; it is imported from there.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from stylegan_tutorial.runtime import timed_runs  # noqa: E402

__all__ = ["median_seconds", "timed_runs"]


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median seconds of ``repeats`` timed runs of ``fn()`` after ``warmup`` untimed ones."""
    return statistics.median(timed_runs(fn, repeats, warmup))
