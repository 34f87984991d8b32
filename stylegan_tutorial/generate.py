"""Images from a generator: seeds, samples and the style-mixing figure (chapters 7, 8 and 9).

A *seed* names a latent: ``z_from_seeds([7])`` always gives the same ``z``, so "seed 7 at
psi 0.7" is a reproducible picture (:func:`images_from_seeds`). The metrics draw many images
at once from one seed instead (:func:`sample_images`). The paper's Figure 3 is
:func:`style_mixing_figure`: each column is a source A, each row a source B, and a cell is A's
image with the styles of some layers (coarse, middle or fine: :func:`stylegan_tutorial.lod.style_ranges`)
copied from B. The ``generate`` and ``mix`` commands (:mod:`stylegan_tutorial.commands`) draw
these from a checkpoint::

    stylegan-tutorial generate --checkpoint pretrained:faces64 --seeds 0-15 --psi 0.7 --out grid.png
    stylegan-tutorial mix --checkpoint runs/tiny --rows 1,2,3 --cols 10-14 --styles coarse fine
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from stylegan_tutorial.generator import Generator
from stylegan_tutorial.images import image_grid
from stylegan_tutorial.lod import STYLE_RANGE_NAMES, parse_style_layers

Tensor = torch.Tensor


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int if it is a positive integer (a count), else ValueError (chapter 11).

    Args:
        value: a Python or NumPy integer (not a bool).
        name:  how the error message names it (an argument, an option).
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def batch_sizes(n: int, batch_size: int) -> list[int]:
    """Sizes of consecutive batches that cover ``n`` items: ``batch_sizes(5, 2) == [2, 2, 1]`` (chapter 11).

    Args:
        n:          how many items (images, latents, paths) in all.
        batch_size: the most items per batch.
    """
    n, batch_size = check_positive_int(n, "n"), check_positive_int(batch_size, "batch_size")
    return [min(batch_size, n - s) for s in range(0, n, batch_size)]


def z_from_seeds(seeds: Sequence[int], z_dim: int) -> Tensor:
    """One standard-normal latent per seed, each depending on its own seed only (chapter 7).

    Args:
        seeds: integers >= 0; the same seed always gives the same ``z``.
        z_dim: the latent's width (``G.z_dim``).

    Returns ``z [len(seeds), z_dim]`` on the CPU.
    """
    return torch.stack([torch.randn(z_dim, generator=torch.Generator().manual_seed(int(s)))
                        for s in seeds])  # a loop over seeds, done once per figure


@torch.no_grad()
def images_from_seeds(G: Generator, seeds: Sequence[int], psi: float = 1.0, cutoff: int | None = None,
                      noise_mode: str = "fixed", resolution: int | None = None,
                      alpha: float = 1.0) -> Tensor:
    """The images of ``seeds``, truncated by ``psi`` (chapters 7 and 9).

    Args:
        G:          the generator.
        seeds:      one image per seed (:func:`z_from_seeds`).
        psi:        truncation: 1 leaves ``w`` alone, 0 collapses it onto ``w_avg``, 0.7 is the
                    paper's figures.
        cutoff:     truncate only layers ``< cutoff`` (None: every layer).
        noise_mode: ``"fixed"`` (the stored noise images: the same seed, the same picture),
                    ``"random"`` or ``"none"``.
        resolution: the level of detail to render (None: the generator's full resolution).
        alpha:      how far that level has faded in, in [0, 1] (1: fully).

    Returns ``[len(seeds), C, R, R]`` on ``G``'s device, values roughly in [-1, 1].
    """
    device = next(G.parameters()).device
    z = z_from_seeds(seeds, G.z_dim).to(device)  # [N, z_dim]
    return G(z, resolution, alpha, psi=psi, cutoff=cutoff, noise_mode=noise_mode)


@torch.no_grad()
def sample_images(G: Generator, n: int, seed: int = 0, batch_size: int = 64,
                  resolution: int | None = None, psi: float = 1.0,
                  noise_mode: str = "random", mixing_prob: float = 0.0) -> Tensor:
    """``n`` images of ``G`` for ``z ~ N(0, I)`` drawn from one ``seed`` (chapter 11's samples).

    Args:
        G:          the generator.
        n:          how many images.
        seed:       seeds the latents and, inside a fork of torch's random state, the random
                    noise inputs: the same call gives the same images, and the caller's random
                    state is left as it was.
        batch_size: images per forward pass.
        resolution: the level of detail to render (None: the full resolution).
        psi:        truncation (1: none, as the metrics want).
        noise_mode: ``"random"`` (as in training), ``"fixed"`` or ``"none"``.
        mixing_prob: the share of images drawn from two latents with a random crossover, as
                    mixing regularisation draws them (1: every image, the paper's Table 2 test
                    with two latents; chapter 12).

    Returns ``[n, C, R, R]`` float32 on the CPU.
    """
    sizes = batch_sizes(n, batch_size)
    gen = torch.Generator().manual_seed(seed)
    dev = next(G.parameters()).device
    out = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for b in sizes:
            z = torch.randn(b, G.z_dim, generator=gen).to(dev)  # [b, z_dim]
            out.append(G(z, resolution=resolution, psi=psi, noise_mode=noise_mode,
                         mixing_prob=mixing_prob).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def style_mixing_grid(G: Generator, row_seeds: Sequence[int], col_seeds: Sequence[int],
                      layers: range, psi: float = 1.0, cutoff: int | None = None,
                      noise_mode: str = "fixed") -> Tensor:
    """Every pair of sources mixed (chapter 8): column source A with ``layers`` from row source B.

    Args:
        G:          the generator.
        row_seeds:  the sources B, one row each.
        col_seeds:  the sources A, one column each.
        layers:     the layers whose styles come from B (a range, e.g.
                    ``lod.style_ranges(64)["coarse"]``; see :meth:`Generator.mix`).
        psi:        truncation of both sources before mixing (1: none).
        cutoff:     truncate only layers ``< cutoff`` (None: every layer).
        noise_mode: ``"fixed"``, ``"random"`` or ``"none"``.

    Returns ``[len(row_seeds), len(col_seeds), C, R, R]``.
    """
    device = next(G.parameters()).device
    seeds = list(row_seeds) + list(col_seeds)
    rows, cols = len(row_seeds), len(col_seeds)
    ws = G.broadcast(G.mapping(z_from_seeds(seeds, G.z_dim).to(device)))  # [I + J, L, w_dim]
    if psi != 1.0:
        ws = G.truncate(ws, psi, cutoff)
    ws_b, ws_a = ws[:rows], ws[rows:]  # [I, L, w], [J, L, w]
    mixed = G.mix(ws_a[None].expand(rows, -1, -1, -1).flatten(0, 1),  # [I*J, L, w]
                  ws_b[:, None].expand(-1, cols, -1, -1).flatten(0, 1), layers)
    img = G.synthesis(mixed, noise_mode=noise_mode)  # [I*J, C, R, R]
    return img.view(rows, cols, *img.shape[1:])


@torch.no_grad()
def style_mixing_figure(G: Generator, row_seeds: Sequence[int], col_seeds: Sequence[int],
                        styles: Sequence[str] = STYLE_RANGE_NAMES, psi: float = 1.0,
                        noise_mode: str = "fixed") -> np.ndarray:
    """The paper's Figure 3 as one uint8 grid (chapter 8).

    Sources A across the top, sources B down the left (the top-left corner is blank), then one
    block of rows per entry of ``styles``: row ``i`` of a block is every A with those styles
    taken from B ``i``.

    Args:
        G:          the generator.
        row_seeds:  the sources B.
        col_seeds:  the sources A.
        styles:     which layers B gives, one block each: ``"coarse"``, ``"middle"``,
                    ``"fine"`` (:func:`stylegan_tutorial.lod.style_ranges` at ``G``'s resolution)
                    or a layer range like ``"0-3"`` (:func:`stylegan_tutorial.lod.parse_style_layers`).
        psi:        truncation (1: none).
        noise_mode: ``"fixed"``, ``"random"`` or ``"none"``.

    Returns ``[H, W, 3]`` uint8 with ``(1 + len(row_seeds) * len(styles))`` rows and
    ``(1 + len(col_seeds))`` columns of tiles.
    """
    layers = [parse_style_layers(spec, G.config.resolution) for spec in styles]  # errors first
    top = images_from_seeds(G, col_seeds, psi, noise_mode=noise_mode)  # [J, C, R, R]
    left = images_from_seeds(G, row_seeds, psi, noise_mode=noise_mode)  # [I, C, R, R]
    rows = [torch.cat([torch.ones_like(top[:1]), top])]  # blank (white) corner
    for block in layers:
        cells = style_mixing_grid(G, row_seeds, col_seeds, block, psi,
                                  noise_mode=noise_mode)  # [I, J, C, R, R]
        rows += [torch.cat([left[i:i + 1], cells[i]]) for i in range(len(row_seeds))]
    return image_grid(torch.cat(rows), nrow=len(col_seeds) + 1)
