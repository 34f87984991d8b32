"""Figures: image grids and labelled plots, without torchvision."""

from __future__ import annotations

import io

import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images ``[N, C, H, W]`` in [-1, 1] (C = 1 or 3) -> ``[N, H, W, 3]`` uint8 for display."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be [N, 1 or 3, H, W], got shape {tuple(images.shape)}")
    x = images.detach().float().cpu().clamp(-1, 1)
    x = ((x + 1) * 127.5).round().to(torch.uint8)  # [N, C, H, W]
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x.permute(0, 2, 3, 1).numpy()  # [N, H, W, 3]


def image_grid(images: torch.Tensor, nrow: int = 8, padding: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile ``[N, C, H, W]`` images in [-1, 1] into one ``[rows*H', nrow*W', 3]`` uint8 array."""
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


def show_grid(ax, images: torch.Tensor, nrow: int = 8, title: str | None = None) -> None:
    """Draw an image grid on a matplotlib axis, without ticks, with an optional title."""
    ax.imshow(image_grid(images, nrow=nrow), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)


def figure_png(fig, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes (for widgets and their static fallbacks)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def show_source(obj):
    """The package's own source of ``obj``, highlighted: chapters show code, never a copy of it."""
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
