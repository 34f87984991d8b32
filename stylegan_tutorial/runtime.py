"""Where the code runs: the device chosen automatically, seeds set everywhere at once, steps timed."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
import torch


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"`` gives CUDA when a GPU is visible, else Apple's MPS, else the CPU (every chapter).

    Any other ``name`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) is taken as it is; a
    CUDA device without a GPU, or a name torch does not know, is a ValueError.
    """
    if name != "auto":
        try:
            device = torch.device(name)
        except RuntimeError:
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {name!r} was asked for, but torch sees no CUDA GPU here")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA) at once (every chapter).

    Returns a CPU ``torch.Generator`` seeded with the same ``seed``.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@contextmanager
def one_thread():
    """Run torch on one CPU thread inside the block, then restore the previous setting (every chapter).

    Small networks and many small tensor ops only pay for extra threads' synchronisation; on a
    busy 2-core machine a second thread can make them several times slower.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def synchronizer(device: torch.device) -> Callable[[], None]:
    """A function that waits for ``device``'s queued work: CUDA's synchronize, else nothing (chapter 10).

    A CUDA call returns before the GPU has finished; a timer must wait for it.
    """
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def timed_runs(fn: Callable[[], object], repeats: int, warmup: int = 1, budget: float = math.inf,
               sync: Callable[[], None] = lambda: None) -> list[float]:
    """Seconds of up to ``repeats`` timed runs of ``fn()``, after ``warmup`` untimed ones (chapter 10).

    Args:
        fn:      what to time, called with no arguments.
        repeats: timed runs wanted.
        warmup:  untimed runs first (allocations, cuDNN's algorithm search, caches).
        budget:  seconds after which timing stops early, after at least one timed run, so a
                 slow CPU case does not take many minutes.
        sync:    waits for queued device work (:func:`synchronizer`), so each run is timed whole.

    The benchmarks and ``check-data``'s probe (:mod:`~stylegan_tutorial.capacity`) time with it.
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
