"""Draw the figures of the book's page on measuring a GAN (book/measuring.md) into book/images.

    python scripts/make_book_figures.py

- ``faces64-samples.png``: 16 generated faces (seeds 0-15) of the shipped generator at psi 1
  and at psi 0.7, above 16 real faces (the training set's first 16);
- ``faces64-mixing.png``: the style-mixing figure (sources A: seeds 10-14, B: seeds 1-3),
  the same as ``stylegan-tutorial mix --checkpoint pretrained:faces64``, with labels.

Deterministic: the seeds fix the latents and the stored noise images are used.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "book" / "images"


def samples_figure(G, path: Path) -> None:
    """Generated faces at psi 1 and 0.7 beside real ones, each panel titled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from stylegan_tutorial.data.dataset import open_dataset
    from stylegan_tutorial.generate import images_from_seeds
    from stylegan_tutorial.viz import show_grid

    seeds = range(16)
    reals = open_dataset("faces", resolution=64).batch(np.arange(16), 64)  # [16, 3, 64, 64]
    panels = [(images_from_seeds(G, seeds, psi=1.0), "pretrained:faces64, psi = 1 (seeds 0-15)"),
              (images_from_seeds(G, seeds, psi=0.7), "the same seeds, psi = 0.7"),
              (reals, "real: the first 16 training faces")]
    fig, axes = plt.subplots(3, 1, figsize=(8, 6.6))
    for ax, (images, title) in zip(axes, panels):
        show_grid(ax, images, nrow=8, title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def mixing_figure(G, path: Path) -> None:
    """The paper's Figure 3 layout for the shipped generator, with the three row blocks named."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stylegan_tutorial.generate import style_mixing_figure

    grid = style_mixing_figure(G, [1, 2, 3], [10, 11, 12, 13, 14])  # uint8 [H, W, 3]
    fig, ax = plt.subplots(figsize=(6, 8))
    ax.imshow(grid, interpolation="nearest")
    cell = grid.shape[0] / 10  # a header row and three blocks of three rows
    ax.set_xticks([])
    ax.set_yticks([cell * (1.5 + 3 * i + 1) for i in range(3)],
                  ["coarse from B\n(4²-8²)", "middle from B\n(16²-32²)", "fine from B\n(64²)"])
    ax.set_title("Style mixing: top row sources A, left column sources B")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    from stylegan_tutorial.shipped import load_pretrained

    OUT.mkdir(parents=True, exist_ok=True)
    G = load_pretrained("faces64")
    samples_figure(G, OUT / "faces64-samples.png")
    mixing_figure(G, OUT / "faces64-mixing.png")
    print(f"wrote {OUT / 'faces64-samples.png'} and {OUT / 'faces64-mixing.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
