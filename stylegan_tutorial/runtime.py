"""Where the code runs: the device chosen automatically, and seeds set everywhere at once."""

from __future__ import annotations

import random
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
