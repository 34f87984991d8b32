"""Perceptual path length: how much the image changes per tiny step of the latent (chapter 11).

The paper's measure of how *smooth* a latent space is: walk a tiny step ``eps`` along random
paths between two latents (spherical in Z, linear in W), and measure the distance between the
two images in a perceptual feature space (VGG in the paper, the oracle's features here) divided
by ``eps²``. A space whose paths pass through strange in-between images has long paths.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from stylegan_tutorial.generate import batch_sizes
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.oracle import load_oracle

Tensor = torch.Tensor


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between the directions of ``a`` and ``b`` (chapter 11).

    Args:
        a: start points ``[N, D]``.
        b: end points ``[N, D]``.
        t: where along each path, ``[N]`` (0: at ``a``, 1: at ``b``).

    Both ends are normalised first (the mapping normalises ``z`` anyway), so the path runs along
    the unit sphere at constant speed, as in the paper's path-length code. Returns unit
    vectors ``[N, D]``.
    """
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    # The angle between them, accurate even when tiny (acos of a dot product near 1 is not).
    omega = 2 * torch.atan2((a - b).norm(dim=-1, keepdim=True), (a + b).norm(dim=-1, keepdim=True))
    t = t.view(-1, 1)
    so = torch.sin(omega)  # [N, 1]
    tiny = so < 1e-6  # (nearly) parallel ends: the arc is a straight line
    safe = torch.where(tiny, torch.ones_like(so), so)
    out = torch.where(tiny, torch.lerp(a, b, t),
                      (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / safe)
    return out / out.norm(dim=-1, keepdim=True)  # [N, D]


@torch.no_grad()
def path_distances(G: Generator, space: str = "w", sampling: str = "full", n: int = 1000, eps: float = 1e-4,
                   feature_fn: Callable[[Tensor], Tensor] | None = None, batch_size: int = 64,
                   resolution: int | None = None, seed: int = 0) -> Tensor:
    """The ``n`` raw path-length samples ``d(t, t + eps) / eps²`` (chapter 11).

    Args:
        G:          the generator.
        space:      ``"z"`` (spherical interpolation) or ``"w"`` (linear interpolation).
        sampling:   ``"full"`` (``t ~ U(0, 1)`` along each path) or ``"end"`` (``t = 0``).
        n:          how many random pairs of latents.
        eps:        the step, a float in (0, 1).
        feature_fn: images ``[B, C, R, R]`` -> features ``[B, F]`` (None: the shipped oracle's
                    :meth:`~stylegan_tutorial.oracle.Oracle.features`).
        batch_size: paths per forward pass.
        resolution: the level of detail rendered (None: the full resolution).
        seed:       seeds the latents and ``t``.

    As :func:`path_length`, without the filtering. Returns ``[n]`` float64 on the CPU.
    """
    if space not in ("w", "z"):
        raise ValueError(f"space must be 'w' or 'z', got {space!r}")
    if sampling not in ("full", "end"):
        raise ValueError(f"sampling must be 'full' or 'end', got {sampling!r}")
    if not (isinstance(eps, float) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1), got {eps!r}")
    sizes = batch_sizes(n, batch_size)
    feature_fn = load_oracle().features if feature_fn is None else feature_fn
    gen = torch.Generator().manual_seed(seed)
    dev = next(G.parameters()).device
    out = []
    for b in sizes:
        z0 = torch.randn(b, G.z_dim, generator=gen).to(dev)
        z1 = torch.randn(b, G.z_dim, generator=gen).to(dev)
        t = torch.rand(b, generator=gen).to(dev) if sampling == "full" else torch.zeros(b, device=dev)
        if space == "z":
            w_t = G.mapping(torch.cat([slerp(z0, z1, t), slerp(z0, z1, t + eps)]))  # [2b, w_dim]
        else:
            w0, w1 = G.mapping(z0), G.mapping(z1)
            t0, t1 = t.view(-1, 1), (t + eps).view(-1, 1)
            w_t = torch.cat([torch.lerp(w0, w1, t0), torch.lerp(w0, w1, t1)])  # [2b, w_dim]
        # The same stored noise for both ends: only the latent moves.
        img = G.synthesis(w_t, resolution=resolution, noise_mode="fixed")  # [2b, 3, R, R]
        f = feature_fn(img.float()).double()  # [2b, F]
        out.append(((f[:b] - f[b:]) ** 2).sum(dim=1).cpu() / eps ** 2)  # [b]
    return torch.cat(out)


def filtered_mean(values: Tensor, low: float = 1.0, high: float = 99.0) -> float:
    """Mean of the values between two percentiles (inclusive), as the paper's PPL (chapter 11).

    Args:
        values: the samples ``[n]`` (a tensor or an array).
        low:    the lower percentile (1 in the paper); it rounds down to a sample value.
        high:   the upper percentile (99 in the paper); it rounds up to a sample value.
    """
    v = np.asarray(values, dtype=np.float64)
    lo = np.percentile(v, low, method="lower")
    hi = np.percentile(v, high, method="higher")
    return float(v[(v >= lo) & (v <= hi)].mean())


def path_length(G: Generator, space: str = "w", sampling: str = "full", n: int = 1000, eps: float = 1e-4,
                feature_fn: Callable[[Tensor], Tensor] | None = None, batch_size: int = 64,
                resolution: int | None = None, seed: int = 0) -> float:
    """Perceptual path length: how much the image changes per tiny step along latent paths (chapter 11).

    Args:
        G:          the generator.
        space:      ``"z"`` (spherical interpolation: ``z`` is Gaussian, its mass is on a
                    sphere) or ``"w"`` (linear interpolation).
        sampling:   ``"full"`` (``t ~ U(0, 1)`` along each path) or ``"end"`` (``t = 0``).
        n:          how many random pairs of latents (two images each).
        eps:        the step, a float in (0, 1).
        feature_fn: images ``[B, C, R, R]`` -> features ``[B, F]`` (None: the shipped oracle's
                    :meth:`~stylegan_tutorial.oracle.Oracle.features`).
        batch_size: paths per forward pass.
        resolution: the level of detail rendered (None: the full resolution).
        seed:       seeds the latents and ``t``.

    Both ends of a step use the same stored noise. The distance is the squared difference of
    the two images' features divided by ``eps²``; the result is the mean after dropping samples
    outside the 1st..99th percentiles (:func:`filtered_mean`).
    """
    return filtered_mean(path_distances(G, space, sampling, n, eps, feature_fn, batch_size,
                                        resolution, seed))
