"""Sliced Wasserstein distance on Laplacian-pyramid patches, as the ProGAN paper defines it (chapter 11).

Karras et al. 2018 ("Progressive growing of GANs", appendix D) compare the statistics of small
patches at every level of a Laplacian pyramid: fine levels catch texture, coarse levels
layout. No network is involved, so the number means the same on any data set.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

Tensor = torch.Tensor


_BINOMIAL5 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _gauss5(x: Tensor) -> Tensor:
    """Separable 5x5 binomial blur per channel with mirrored borders; shape unchanged."""
    c = x.shape[1]
    k = _BINOMIAL5.to(x)
    across, down = k.view(1, 1, 1, 5).expand(c, 1, 1, 5), k.view(1, 1, 5, 1).expand(c, 1, 5, 1)
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="reflect"), across, groups=c)
    return F.conv2d(F.pad(x, (0, 0, 2, 2), mode="reflect"), down, groups=c)


def pyramid_down(x: Tensor) -> Tensor:
    """One level down the Gaussian pyramid (chapter 11): blur, then keep every second pixel.

    Args:
        x: images ``[N, C, H, W]`` (H, W even).

    Returns ``[N, C, H/2, W/2]``.
    """
    return _gauss5(x)[:, :, ::2, ::2]


def pyramid_up(x: Tensor) -> Tensor:
    """One level up (chapter 11): insert zeros between pixels, then blur with 4x the gain.

    Args:
        x: images ``[N, C, H, W]``.

    Returns ``[N, C, 2H, 2W]``.
    """
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return _gauss5(up) * 4.0


def laplacian_pyramid(images: Tensor, min_resolution: int = 16) -> list[Tensor]:
    """The Laplacian pyramid of ``images`` (chapter 11): band-pass levels, finest first.

    Args:
        images:         ``[N, C, R, R]``.
        min_resolution: the size of the last level, which is the low-pass remainder.

    Each level is ``g - up(down(g))`` for the Gaussian level ``g``; summing the levels back up
    reconstructs the image exactly. Returns ``[[N, C, R, R], [N, C, R/2, R/2], ...,
    [N, C, min_resolution, min_resolution]]``.
    """
    levels, g = [], images
    while g.shape[-1] > min_resolution:
        down = pyramid_down(g)
        levels.append(g - pyramid_up(down))  # [N, C, R, R]
        g = down
    levels.append(g)  # [N, C, min_resolution, min_resolution]
    return levels


def _patch_corners(n: int, per_image: int, resolution: int, size: int,
                   gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random top-left corners ``(ys, xs)``, each ``[n, per_image]``, of patches inside the image."""
    ys = torch.randint(0, resolution - size + 1, (n, per_image), generator=gen)
    xs = torch.randint(0, resolution - size + 1, (n, per_image), generator=gen)
    return ys, xs


def _random_patches(level: Tensor, ys: Tensor, xs: Tensor, size: int) -> Tensor:
    """The ``size x size`` patches at corners ``ys, xs [N, P]``: ``[N * P, C, size, size]``."""
    n, c, h, w = level.shape
    per_image = ys.shape[1]
    off = torch.arange(size)
    rows = (ys[:, :, None] + off).view(n, per_image, size, 1)  # [N, P, size, 1]
    cols = (xs[:, :, None] + off).view(n, per_image, 1, size)  # [N, P, 1, size]
    idx = torch.arange(n).view(n, 1, 1, 1)
    patches = level[idx, :, rows, cols]  # [N, P, size, size, C]
    return patches.permute(0, 1, 4, 2, 3).reshape(n * per_image, c, size, size)


def _normalise_descriptors(desc: Tensor) -> Tensor:
    """Zero mean, unit std per channel over all patches and pixels, then flatten: ``[K, C*s*s]``."""
    desc = desc - desc.mean(dim=(0, 2, 3), keepdim=True)
    desc = desc / desc.std(dim=(0, 2, 3), keepdim=True, unbiased=False).clamp(min=1e-8)
    return desc.flatten(1)


def sliced_wasserstein_descriptors(a: Tensor, b: Tensor, repeats: int = 4,
                                   directions: int = 128, gen: torch.Generator | None = None) -> float:
    """SWD of two equal-size point sets (chapter 11): project on random unit directions, sort, compare.

    Args:
        a:          points ``[K, D]``.
        b:          points ``[K, D]``.
        repeats:    rounds of random directions.
        directions: unit directions per round.
        gen:        the torch generator of the directions (None: torch's global one).

    In 1-D the Wasserstein-1 distance between equal-size samples is the mean absolute difference
    of the sorted values; averaging it over random directions approximates the distance in D-D.
    Returns a float.
    """
    if a.shape != b.shape:
        raise ValueError(f"both descriptor sets must have the same shape, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    dists = []
    for _ in range(repeats):
        dirs = torch.randn(a.shape[1], directions, generator=gen, dtype=a.dtype)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)  # [D, directions]
        # numpy sorts rows of floats with SIMD, several times faster than torch.sort here.
        pa = np.sort((dirs.T @ a.T).numpy(), axis=1)  # [directions, K]
        pb = np.sort((dirs.T @ b.T).numpy(), axis=1)
        dists.append(np.abs(pa - pb).mean(dtype=np.float64))
    return float(np.mean(dists))


def sliced_wasserstein(images_a: Tensor, images_b: Tensor, patches_per_image: int = 128,
                       patch_size: int = 7, repeats: int = 4, directions: int = 128,
                       min_resolution: int = 16, seed: int = 0) -> dict:
    """ProGAN's SWD between two image sets, per pyramid level (chapter 11).

    Args:
        images_a:          one set ``[N, C, R, R]`` in [-1, 1] (e.g. the real images).
        images_b:          the other, the same shape.
        patches_per_image: random patches cut from each image at each level.
        patch_size:        their side (7 in the paper).
        repeats:           rounds of random directions.
        directions:        unit directions per round.
        min_resolution:    the coarsest level (16 in the paper); R must be at least this.
        seed:              seeds the torch generator of patch positions and directions.

    For each Laplacian level (``R``, ``R/2``, ... ``min_resolution``) the patches are
    normalised per channel *within each set*, then compared by the sliced Wasserstein distance
    over ``repeats x directions`` random projections. Like the paper, distances are multiplied
    by 10³. Both sets are cut at the same positions (the paper draws them independently): the
    same expected distribution of patches per set, less sampling noise, and a set compared with
    itself gives exactly 0. Returns ``{resolution: distance, ..., "mean": average}``.
    """
    for name, im in (("images_a", images_a), ("images_b", images_b)):
        if not isinstance(im, Tensor) or im.ndim != 4 or im.shape[-1] != im.shape[-2]:
            raise ValueError(f"{name} must be a tensor [N, C, R, R], got "
                             f"{tuple(im.shape) if isinstance(im, Tensor) else type(im).__name__}")
    if images_a.shape != images_b.shape:
        raise ValueError(f"images_a and images_b must have the same shape, got "
                         f"{tuple(images_a.shape)} and {tuple(images_b.shape)}")
    if images_a.shape[-1] < max(min_resolution, patch_size):
        raise ValueError(f"images must be at least {max(min_resolution, patch_size)}² "
                         f"(min_resolution, patch_size), got {images_a.shape[-1]}²")
    gen = torch.Generator().manual_seed(seed)
    pyr_a = laplacian_pyramid(images_a.float(), min_resolution)  # float32, as in ProGAN
    pyr_b = laplacian_pyramid(images_b.float(), min_resolution)
    result = {}
    for la, lb in zip(pyr_a, pyr_b):
        ys, xs = _patch_corners(len(la), patches_per_image, la.shape[-1], patch_size, gen)
        da = _normalise_descriptors(_random_patches(la, ys, xs, patch_size))
        db = _normalise_descriptors(_random_patches(lb, ys, xs, patch_size))
        result[la.shape[-1]] = 1e3 * sliced_wasserstein_descriptors(da, db, repeats, directions, gen)
    result["mean"] = float(np.mean(list(result.values())))
    return result
