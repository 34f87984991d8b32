"""Images as tensors: the [-1, 1] convention, 2×2 resampling and uint8 grids (chapter 1).

Every image in the package is a float tensor ``[N, C, H, W]`` with values in [-1, 1]
(``0`` is mid-grey), as in the paper's code. This module holds the few operations on such
images that the data, the networks, training and the figures all share:

- :func:`downsample_2x` and :func:`upsample_2x`: the 2×2 box average and nearest-neighbour
  doubling that progressive growing uses to blend one level of detail into the next;
- :func:`downsample_to`: repeated 2×2 averaging down to a lower level of detail, which is how
  the training data is served at 4², 8², ... while the networks grow;
- :func:`to_uint8` and :func:`image_grid`: display and PNG files.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def downsample_2x(x: Tensor) -> Tensor:
    """2×2 box average: ``[N, C, H, W] -> [N, C, H/2, W/2]`` (chapter 1)."""
    return F.avg_pool2d(x, 2)


def upsample_2x(x: Tensor) -> Tensor:
    """Nearest-neighbour ×2, every pixel a 2×2 block: ``[N, C, H, W] -> [N, C, 2H, 2W]`` (chapter 1)."""
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def downsample_to(images: Tensor, resolution: int) -> Tensor:
    """Average 2×2 blocks until ``images [N, C, S, S]`` are ``[N, C, r, r]`` (chapter 1).

    ``r`` is ``resolution``.
    ``S / r`` must be a power of two. This is how the release makes the lower levels of detail
    of its training data.
    """
    size = images.shape[-1]
    ratio = size // resolution if isinstance(resolution, int) and 0 < resolution <= size else 0
    if ratio == 0 or ratio * resolution != size or ratio & (ratio - 1):
        raise ValueError(f"resolution must be the image size {size} divided by a power of two, "
                         f"got {resolution!r}")
    while images.shape[-1] > resolution:
        images = downsample_2x(images)  # [N, C, S, S] -> [N, C, S/2, S/2]
    return images


def to_uint8(images: Tensor) -> np.ndarray:
    """Images ``[N, C, H, W]`` in [-1, 1] (C = 1 or 3) -> ``[N, H, W, 3]`` uint8 (chapter 1).

    Grey images (C = 1) are repeated into three channels; values outside [-1, 1] are clamped.
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be [N, 1 or 3, H, W], got shape {tuple(images.shape)}")
    x = images.detach().float().cpu().clamp(-1, 1)
    x = ((x + 1) * 127.5).round().to(torch.uint8)  # [N, C, H, W]
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x.permute(0, 2, 3, 1).numpy()  # [N, H, W, 3]


def image_grid(images: Tensor, nrow: int = 8, padding: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile ``[N, C, H, W]`` images in [-1, 1] into one ``[rows*H', nrow*W', 3]`` uint8 array (chapter 1).

    Args:
        images:    the images ``[N, C, H, W]`` in [-1, 1], C = 1 or 3.
        nrow:      images per row of the grid; ``rows = ceil(N / nrow)``.
        padding:   pixels between tiles and around the border (``H' = H + padding``).
        pad_value: the uint8 grey level of the padding (255: white).
    """
    if nrow < 1:
        raise ValueError(f"nrow must be at least 1, got {nrow}")
    tiles = to_uint8(images)  # [N, H, W, 3]
    n, h, w, _ = tiles.shape
    rows = -(-n // nrow)
    grid = np.full((rows * (h + padding) + padding, nrow * (w + padding) + padding, 3), pad_value, np.uint8)
    for i in range(n):  # a loop over tiles (not pixels): at most a few hundred
        r, c = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + c * (w + padding)
        grid[top:top + h, left:left + w] = tiles[i]
    return grid
