"""Figures: image grids on matplotlib axes, figures as PNG bytes, the package's own source (all chapters).

The grids themselves are :func:`stylegan_tutorial.images.image_grid`.
"""

from __future__ import annotations

import inspect
import io

import torch

from stylegan_tutorial.images import image_grid


def show_grid(ax, images: torch.Tensor, nrow: int = 8, title: str | None = None) -> None:
    """Draw an image grid on a matplotlib axis, without ticks, with an optional title (every chapter).

    Args:
        ax:     the matplotlib axis.
        images: the images ``[N, C, H, W]`` in [-1, 1], C = 1 or 3.
        nrow:   images per row.
        title:  the axis title (None or empty: none).
    """
    ax.imshow(image_grid(images, nrow=nrow), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)


def figure_png(fig, dpi: int = 100) -> bytes:
    """A matplotlib figure ``fig`` as PNG bytes at ``dpi``, for widgets' static fallbacks (every chapter)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def show_source(obj):
    """The package's own source of ``obj``, highlighted (every chapter).

    Chapters show the package's code this way, never a copy of it.
    """
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
