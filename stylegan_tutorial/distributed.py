"""Several processes, one training run: PyTorch's distributed data parallelism (chapter 10).

Under ``torchrun --nproc_per_node K``, K copies of the training script start, each told its
``RANK`` and ``WORLD_SIZE`` through environment variables. Every process builds the same
networks from the same seed and draws the same global minibatch indices; each takes its own
slice of that minibatch (``batch / K`` images), computes gradients on it, and the gradients are
averaged across processes before Adam steps. The weights therefore stay identical everywhere,
and only rank 0 writes files.

Why average gradients by hand instead of wrapping the networks in ``DistributedDataParallel``:
progressive growing leaves most layers unused at low resolutions, and R1 needs a double
backward (``autograd.grad(create_graph=True)``); DDP's bucketed hooks handle neither without
``find_unused_parameters`` and static-graph caveats. One flat ``all_reduce`` of every gradient
(zeros for unused parameters) after ``backward()`` is the same arithmetic as DDP's, simpler to
read, and correct in both cases. The backend is NCCL on GPUs and gloo on CPUs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the run: ``rank`` of ``world_size``, 1 when not distributed (chapter 10).

    Args:
        rank:       this process's number among all, 0 to ``world_size - 1``.
        world_size: how many processes train together (1: not distributed).
        local_rank: its number on this machine (which GPU it uses).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, which alone writes checkpoints, samples and logs (chapter 10)."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether more than one process trains, so gradients must be averaged (chapter 10)."""
        return self.world_size > 1


def env_info() -> DistInfo:
    """Read ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` as torchrun sets them (chapter 10).

    Unset variables mean one process: rank 0 of 1.
    """
    def read(name: str, default: int) -> int:
        value = os.environ.get(name, str(default))
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from None

    info = DistInfo(read("RANK", 0), read("WORLD_SIZE", 1), read("LOCAL_RANK", 0))
    if info.world_size < 1 or not 0 <= info.rank < info.world_size:
        raise ValueError(f"RANK must be in [0, WORLD_SIZE), got RANK={info.rank} "
                         f"WORLD_SIZE={info.world_size}")
    return info


def setup(device: torch.device) -> DistInfo:
    """Join the process group if torchrun started us; else a no-op (chapter 10).

    The backend follows ``device``: NCCL on CUDA, gloo otherwise. Returns this process's place.
    """
    info = env_info()
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=info.rank, world_size=info.world_size)
    return info


def current() -> DistInfo:
    """The running process group's rank and size, one process when there is none (chapter 10)."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), env_info().local_rank)
    return DistInfo()


def average_gradients(params: list[torch.nn.Parameter]) -> None:
    """Replace each ``p.grad`` by its mean over all processes (chapter 10).

    A missing gradient (a layer unused at this resolution) counts as zeros. No-op with one
    process.
    """
    info = current()
    if not info.enabled:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])  # [total parameters]
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= info.world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def all_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` (any shape) over processes; ``values`` itself with one (chapter 10)."""
    info = current()
    if not info.enabled:
        return values
    out = values.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / info.world_size


def any_true(flag: bool, device: torch.device | str = "cpu") -> bool:
    """Whether ``flag`` is set on any process, so that every rank stops at the same step (chapter 10).

    ``device`` must be the one the backend communicates on (a GPU for NCCL).
    """
    if not current().enabled:
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def broadcast_module(module: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every process, a safety net after seeding (chapter 10)."""
    if not current().enabled:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def barrier() -> None:
    """Wait for every process; no-op with one (chapter 10)."""
    if current().enabled:
        dist.barrier()


def cleanup() -> None:
    """Leave the process group, if we joined one (chapter 10)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
