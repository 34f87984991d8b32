"""Truncation: trading diversity for quality around the average ``w`` (chapter 9).

The generator keeps ``w_avg``, a running mean of the mapping network's outputs tracked during
training (:meth:`~stylegan_tutorial.generator.Generator.update_w_avg`), and *truncates* a style by
pulling it towards that centre, ``w' = w_avg + psi (w - w_avg)``, on the first ``cutoff`` layers
(:meth:`~stylegan_tutorial.generator.Generator.truncate`). Smaller ``psi`` keeps the images in
the dense middle of W, where the generator was trained most, and gives up their variety.

This module measures that trade with the :mod:`oracle <stylegan_tutorial.oracle>` as the judge,
in its feature space ``[N, F]``:

- *quality* as the distance to the data: each image's distance to its nearest real face
  (:func:`nearest_distance`), divided by the same for held-out real faces, so 1 means "as close
  to the data as a real face is";
- *diversity* as the spread of the images: the mean distance between two of them
  (:func:`mean_pairwise_distance`), divided by the same for real faces, so 1 means "as varied
  as the data";
- the Fréchet distance of chapter 11 (:func:`~stylegan_tutorial.metrics.frechet.frechet_distance`),
  which rewards both at once.

For comparison it also draws the *truncated normal* in Z (:func:`truncated_normal`), the
truncation trick of BigGAN that some courses teach for StyleGAN too.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import NamedTuple

import torch

from stylegan_tutorial.generate import batch_sizes
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.metrics.frechet import frechet_distance
from stylegan_tutorial.runtime import one_thread

Tensor = torch.Tensor


def truncated_normal(n: int, dim: int, threshold: float, seed: int = 0) -> Tensor:
    """``z [n, dim]`` from N(0, I) with every coordinate inside ``[-threshold, threshold]`` (chapter 9).

    Args:
        n:         how many latents.
        dim:       their width (``G.z_dim``).
        threshold: the bound ``t > 0``; coordinates outside it are drawn again until none is
                   left, as BigGAN's truncation trick does (``inf``: plain N(0, I)).
        seed:      seeds the draws.
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold!r}")
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, dim, generator=gen)  # [n, dim]
    outside = z.abs() > threshold
    while outside.any():  # each redraw keeps a share P(|z| <= t) of the rest
        z[outside] = torch.randn(int(outside.sum()), generator=gen)
        outside = z.abs() > threshold
    return z


@torch.no_grad()
def images_from_z(G: Generator, z: Tensor, psi: float = 1.0, cutoff: int | None = None,
                  noise_mode: str = "random", seed: int = 0, batch_size: int = 64) -> Tensor:
    """The images of given latents ``z [N, z_dim]``, truncated in W by ``psi`` (chapter 9).

    Args:
        G:          the generator.
        z:          the latents; the same ``z`` at several ``psi`` compares like with like.
        psi:        truncation in W (1: none).
        cutoff:     truncate only the layers ``< cutoff`` (None: every layer).
        noise_mode: ``"random"`` (as the metrics draw them), ``"fixed"`` or ``"none"``.
        seed:       seeds the random noise inputs inside a fork of torch's random state, so
                    the same call gives the same images and the caller's state is left alone.
        batch_size: images per forward pass.

    On a CPU it runs torch on one thread (:func:`~stylegan_tutorial.runtime.one_thread`): on a
    busy 2-core machine a second thread slows these small convolutions down. Returns
    ``[N, C, R, R]`` float32 on the CPU.
    """
    device = next(G.parameters()).device
    out, start = [], 0
    threads = one_thread() if device.type == "cpu" else nullcontext()
    with torch.random.fork_rng(devices=[]), threads:
        torch.manual_seed(seed)
        for b in batch_sizes(len(z), batch_size):
            chunk = z[start:start + b].to(device)  # [b, z_dim]
            out.append(G(chunk, psi=psi, cutoff=cutoff, noise_mode=noise_mode).float().cpu())
            start += b
    return torch.cat(out)


def nearest_distance(feats: Tensor, reference: Tensor) -> Tensor:
    """Each row's Euclidean distance to its nearest row of ``reference`` (chapter 9).

    Args:
        feats:     features ``[N, F]`` (e.g. :meth:`Oracle.features` of generated images).
        reference: features ``[M, F]`` of the data.

    Returns ``[N]`` float64.
    """
    return torch.cdist(feats.double(), reference.double()).min(dim=1).values  # [N]


def mean_pairwise_distance(feats: Tensor) -> float:
    """The mean Euclidean distance between two different rows of ``feats [N, F]``, N >= 2 (chapter 9).

    0 when every row is the same: the images have no variety at all.
    """
    n = len(feats)
    if n < 2:
        raise ValueError(f"feats needs at least 2 rows, got {n}")
    d = torch.cdist(feats.double(), feats.double())  # [N, N], zero diagonal
    return float(d.sum() / (n * (n - 1)))


class RealBaseline(NamedTuple):
    """What real faces score, the unit of :func:`quality_diversity` (chapter 9).

    ``nearest``: mean distance of held-out real faces to the reference set's nearest;
    ``spread``: their :func:`mean_pairwise_distance`; ``fd`` and ``fd_std``: the Fréchet
    distance of ``n`` held-out real faces to the reference set, mean and standard deviation
    over disjoint draws: the floor a sample of that size cannot go below.
    """

    nearest: float
    spread: float
    fd: float
    fd_std: float


def real_baseline(held_out: Tensor, reference: Tensor, n: int) -> RealBaseline:
    """Score held-out real features ``[H, F]`` against the reference ``[M, F]`` (chapter 9).

    ``n`` is the size of the generated samples to be compared: the Fréchet floor is measured on
    ``H // n`` disjoint draws of ``n`` held-out faces (at least 2).
    """
    draws = len(held_out) // n
    if draws < 2:
        raise ValueError(f"held_out needs at least 2 * n = {2 * n} rows, got {len(held_out)}")
    with one_thread():  # small eigendecompositions: a second thread only waits
        fds = torch.tensor([frechet_distance(reference, part) for part in held_out[:draws * n].split(n)])
    return RealBaseline(nearest=float(nearest_distance(held_out, reference).mean()),
                        spread=mean_pairwise_distance(held_out),
                        fd=float(fds.mean()), fd_std=float(fds.std()))


class QualityDiversity(NamedTuple):
    """One point of the quality-diversity curve (chapter 9).

    ``distance``: mean distance to the nearest real face over ``baseline.nearest`` (1: as close
    as real faces; lower is better), with its standard error ``distance_se``; ``diversity``:
    mean pairwise distance over ``baseline.spread`` (1: as varied as real faces); ``fd``: the
    Fréchet distance to the reference set.
    """

    distance: float
    distance_se: float
    diversity: float
    fd: float


def quality_diversity(feats: Tensor, reference: Tensor, baseline: RealBaseline) -> QualityDiversity:
    """Distance to the data, diversity and Fréchet distance of features ``[N, F]`` (chapter 9).

    Args:
        feats:     oracle features of the generated images, N >= 2.
        reference: oracle features of the real faces ``[M, F]``.
        baseline:  :func:`real_baseline` of held-out real faces, which sets the units.
    """
    near = nearest_distance(feats, reference) / baseline.nearest  # [N]
    with one_thread():  # small eigendecompositions: a second thread only waits
        fd = frechet_distance(reference, feats)
    return QualityDiversity(distance=float(near.mean()),
                            distance_se=float(near.std() / len(near) ** 0.5),
                            diversity=mean_pairwise_distance(feats) / baseline.spread, fd=fd)
