"""Interactive controls for the notebooks, each with a static fallback for the HTML book.

A widget needs a live kernel. The book is static HTML, so every widget here also carries a PNG
that shows all of its states at once: Jupyter and Colab draw the live widget, the book (which
ranks the widget view below images, see ``_config.yml``) draws the PNG.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np

from stylegan_tutorial.viz import figure_png


def png_bytes(array: np.ndarray) -> bytes:
    """An ``[H, W, 3]`` uint8 array as PNG bytes (chapters 8 and 10)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def upscale(array: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling, so small images stay crisp in the browser (chapters 8 and 10)."""
    return array.repeat(factor, axis=0).repeat(factor, axis=1)


def snapshot_strip_png(frames: Sequence[np.ndarray], labels: Sequence[str], title: str,
                       max_frames: int = 6, columns: int = 3) -> bytes:
    """Snapshots and their labels in rows, as one PNG: the static view of a slider (every chapter).

    Args:
        frames:     the images, each ``[H, W, 3]`` uint8.
        labels:     one caption per frame.
        title:      the figure's title.
        max_frames: at most this many frames are drawn, evenly spaced, always the first and the
                    last, so each stays large enough to read at the book's width.
        columns:    frames per row (the book shows at most three panels in a row).

    The PNG is 6.4 inches wide at 200 dpi: the book shows it at about 640 pixels, sharp on
    high-DPI screens, with captions as large as the book's text.
    """
    import matplotlib.pyplot as plt

    if max_frames < 2 or columns < 1:
        raise ValueError(f"max_frames must be at least 2 and columns at least 1, got {max_frames}, {columns}")
    n = len(frames)
    if n > max_frames:
        keep = sorted({round(i * (n - 1) / (max_frames - 1)) for i in range(max_frames)})
    else:
        keep = list(range(n))
    cols = min(columns, len(keep))
    rows = -(-len(keep) // cols)
    width = 6.4
    fig, axes = plt.subplots(rows, cols, figsize=(width, rows * (0.95 * width / cols + 0.35) + 0.4),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, keep):
        ax.imshow(frames[i], interpolation="nearest")
        ax.set_title(labels[i], fontsize=12)
    fig.suptitle(title, fontsize=13)
    png = figure_png(fig, dpi=200)
    plt.close(fig)
    return png


def snapshot_slider(frames: Sequence[np.ndarray], labels: Sequence[str], title: str = "",
                    scale: int = 4):
    """A slider over image snapshots, e.g. samples during training, with a static fallback (every chapter).

    Args:
        frames: the snapshots, each ``[H, W, 3]`` uint8 (see
                :func:`stylegan_tutorial.images.image_grid`); at least one.
        labels: one name per frame (e.g. ``"step 200"``).
        title:  shown above the slider and on the static PNG (empty: none).
        scale:  nearest-neighbour enlargement of the live images, so small ones stay crisp.
    """
    import ipywidgets as widgets

    if len(frames) != len(labels) or not frames:
        raise ValueError(
            f"frames and labels must be non-empty and of equal length, got {len(frames)} and {len(labels)}"
        )
    pngs = [png_bytes(upscale(f, scale)) for f in frames]
    fallback = base64.b64encode(snapshot_strip_png(frames, labels, title)).decode("ascii")

    class SnapshotSlider(widgets.VBox):
        """A VBox whose display bundle also carries the static PNG of all snapshots."""

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs)
            bundle["image/png"] = fallback
            return bundle

    image = widgets.Image(value=pngs[-1], format="png")
    slider = widgets.IntSlider(value=len(frames) - 1, min=0, max=len(frames) - 1,
                               description="snapshot", continuous_update=True)
    caption = widgets.Label(value=labels[-1])

    def show(change) -> None:
        image.value = pngs[change["new"]]
        caption.value = labels[change["new"]]

    slider.observe(show, names="value")
    return SnapshotSlider([widgets.HTML(f"<b>{title}</b>"), slider, caption, image])
