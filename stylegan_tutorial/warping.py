"""The paper's Figure 6 in two dimensions: why ``Z`` must warp and ``W`` need not (chapter 5).

The data live in a *factor space* of two factors, the square ``[-1, 1]²`` with one corner missing:
no sample has both factors above 0 (the *withheld combination*, like the paper's long-haired
men). A generator fed ``z ~ N(0, I)`` has to map the whole plane, which has no hole, onto that
L-shaped region; a continuous map can only do it by bending, so straight lines of ``Z`` come out
curved in factor space. With a mapping network ``f``, the rest of the generator reads
``w = f(z)`` instead, and the distribution of ``w`` is learned: it can have the hole itself, and
the map from ``W`` to the factors can stay straight.

This module draws the data (:func:`missing_corner`), builds the generator with a mapping
(:class:`MappedGenerator`; chapter 3's :func:`~stylegan_tutorial.toy.toy_generator` is the one
without), trains either with chapter 3's two steps (:func:`train_corner_gan`) and measures the
warping of a latent space two ways:

- :func:`line_bending`: map straight latent segments and measure how far the curves they become
  stray from their chords, as a fraction of the chord's length (0: straight);
- :func:`probe_r2`: how much of each factor an affine function of the latent explains,
  cross-validated (1: the factor is linear in the latent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from stylegan_tutorial.layers import EqualizedLinear
from stylegan_tutorial.mapping import MappingNetwork
from stylegan_tutorial.progress import tqdm
from stylegan_tutorial.runtime import one_thread
from stylegan_tutorial.toy import toy_d_step, toy_discriminator, toy_g_step

Tensor = torch.Tensor


# ---------------------------------------------------------------------------------------------
# The data: a square of factors with one corner withheld
# ---------------------------------------------------------------------------------------------


def in_corner(points: Tensor) -> Tensor:
    """Which points ``[N, 2]`` show the withheld combination, both factors > 0: ``[N]`` bool (chapter 5)."""
    return (points[:, 0] > 0) & (points[:, 1] > 0)


def missing_corner(n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` points ``[n, 2]`` uniform on ``[-1, 1]²`` without the corner ``(0, 1]²`` (chapter 5).

    Args:
        n:         how many points, > 0.
        generator: the torch random generator to draw from (None: torch's global one).

    Points are drawn on the whole square and those in the corner rejected, so the three
    remaining quarters are equally likely.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    kept: list[Tensor] = []
    have = 0
    while have < n:
        x = torch.rand(2 * n, 2, generator=generator) * 2 - 1  # [2n, 2], uniform on the square
        x = x[~in_corner(x)]  # [~1.5n, 2]
        kept.append(x)
        have += len(x)
    return torch.cat(kept)[:n]  # [n, 2]


# ---------------------------------------------------------------------------------------------
# A generator with a mapping network, and training
# ---------------------------------------------------------------------------------------------


class MappedGenerator(nn.Module):
    """``z [N, 2] -> w = mapping(z) [N, 2] -> x = synthesis(w) [N, 2]`` (chapter 5).

    Args:
        depth: the mapping network's dense layers (the paper's 8).
        width: their width.
        lrmul: the mapping's learning-rate multiplier (1: none; a toy trained for a thousand
               steps cannot afford the paper's 0.01, which is meant for millions of images).

    The mapping is the package's :class:`~stylegan_tutorial.mapping.MappingNetwork` without the
    pixel norm: normalising a 2-D ``z`` would put every latent on a circle, a line instead of a
    plane. The synthesis is a single affine map, the extreme form of the paper's premise that
    drawing is easiest from an input whose directions are the factors: a straight line of ``W``
    stays straight in factor space, so every bend the data need must happen in the mapping.
    """

    def __init__(self, depth: int = 3, width: int = 64, lrmul: float = 1.0):
        super().__init__()
        self.mapping = nn.Sequential(
            MappingNetwork(2, width, depth, width, lrmul=lrmul, normalize_z=False),  # [N, 2] -> [N, width]
            EqualizedLinear(width, 2, gain=1.0, lrmul=lrmul),  # [N, width] -> w [N, 2], no activation
        )
        self.synthesis = nn.Linear(2, 2)

    def forward(self, z: Tensor) -> Tensor:
        """``z [N, 2] -> x [N, 2]``, the point in factor space (chapter 5)."""
        return self.synthesis(self.mapping(z))


@dataclass
class CornerRun:
    """What :func:`train_corner_gan` returns (chapter 5).

    Args:
        generator:     the trained G, ``z [N, 2] -> x [N, 2]``.
        discriminator: the trained D, ``x [N, 2] -> logits [N, 1]``.
        d_losses:      D's loss at every step.
        g_losses:      G's loss at every step.
    """

    generator: nn.Module
    discriminator: nn.Module
    d_losses: list[float] = field(default_factory=list)
    g_losses: list[float] = field(default_factory=list)


def train_corner_gan(G: nn.Module, steps: int = 1000, batch_size: int = 128, lr: float = 2e-3,
                     r1_gamma: float = 0.1, seed: int = 0, desc: str = "corner GAN",
                     progress: bool = True) -> CornerRun:
    """Train ``G`` (``z [N, 2] -> x [N, 2]``) on :func:`missing_corner` with chapter 3's steps (chapter 5).

    Args:
        G:          the generator, trained in place.
        steps:      training steps, each one D step then one G step.
        batch_size: real and fake points per step.
        lr:         Adam's learning rate for both networks (``betas=(0.5, 0.999)``, as chapter 3).
        r1_gamma:   the R1 weight on D (0: none).
        seed:       seeds D's initialisation, the latents and the data.
        desc:       the progress bar's label.
        progress:   show a progress bar.

    D is chapter 3's :func:`~stylegan_tutorial.toy.toy_discriminator` (two hidden layers of 64);
    the losses are the logistic D loss with R1 and the non-saturating G loss.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    torch.manual_seed(seed)
    data_rng = torch.Generator().manual_seed(seed)
    D = toy_discriminator(hidden=64, depth=2)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    run = CornerRun(G, D)
    with one_thread():
        for _ in tqdm(range(steps), desc=desc, disable=not progress):
            real = missing_corner(batch_size, data_rng)  # [B, 2]
            run.d_losses.append(toy_d_step(G, D, opt_d, real, torch.randn(batch_size, 2), r1_gamma))
            run.g_losses.append(toy_g_step(G, D, opt_g, torch.randn(batch_size, 2)))
    G.eval()
    return run


# ---------------------------------------------------------------------------------------------
# Measuring the warping
# ---------------------------------------------------------------------------------------------


def straight_lines(a: Tensor, b: Tensor, points: int = 33) -> Tensor:
    """Points evenly spaced on the segments from ``a [K, D]`` to ``b [K, D]`` (chapter 5).

    ``points`` (>= 3) per segment, both ends included: ``[K, points, D]``.
    """
    if isinstance(points, bool) or not isinstance(points, int) or points < 3:
        raise ValueError(f"points must be an integer >= 3, got {points!r}")
    t = torch.linspace(0, 1, points, dtype=a.dtype, device=a.device).view(1, -1, 1)  # [1, T, 1]
    return torch.lerp(a[:, None], b[:, None], t)  # [K, T, D]


def chord_deviation(paths: Tensor) -> Tensor:
    """How far each path strays from the straight chord between its ends, per chord length (chapter 5).

    ``paths [K, T, F]`` are K polylines of T points in an F-dimensional space. Returns ``[K]``:
    the largest distance of a point from the line through the path's two ends, divided by the
    distance between the ends. 0 for a straight path; 0.5 for a path that goes out half as far
    as it gets, e.g. a semicircle.
    """
    if paths.ndim != 3 or paths.shape[1] < 3:
        raise ValueError(f"paths must be [K, T, F] with T >= 3, got {tuple(paths.shape)}")
    rel = paths - paths[:, :1]  # [K, T, F], from the start
    chord = rel[:, -1]  # [K, F]
    length = chord.norm(dim=1)  # [K]
    unit = chord / length.clamp_min(1e-12)[:, None]  # [K, F]
    along = (rel * unit[:, None]).sum(-1, keepdim=True)  # [K, T, 1]
    off = (rel - along * unit[:, None]).norm(dim=-1)  # [K, T], distance from the line
    return off.max(dim=1).values / length.clamp_min(1e-12)  # [K]


@torch.no_grad()
def line_bending(fn, a: Tensor, b: Tensor, points: int = 33) -> Tensor:
    """:func:`chord_deviation` of the images under ``fn`` of the straight segments ``a -> b`` (chapter 5).

    Args:
        fn:     maps latents ``[M, D]`` to points ``[M, F]`` (a generator, or part of one).
        a:      the segments' starts ``[K, D]``.
        b:      their ends ``[K, D]``.
        points: points per segment.

    Returns ``[K]``: 0 where ``fn`` keeps the segment straight.
    """
    lines = straight_lines(a, b, points)  # [K, T, D]
    k, t, d = lines.shape
    return chord_deviation(fn(lines.reshape(k * t, d)).reshape(k, t, -1))  # [K]


def grid_lines(low: float, high: float, lines: int = 9, points: int = 65) -> Tensor:
    """A square grid as polylines, ``lines`` across and ``lines`` up: ``[2*lines, points, 2]`` (chapter 5).

    Args:
        low:    the grid's lower edge on both axes.
        high:   its upper edge.
        lines:  lines in each direction.
        points: points per line, so that a bent image of it looks smooth.
    """
    ticks = torch.linspace(low, high, lines)  # [L]
    t = torch.linspace(low, high, points)  # [P]
    horizontal = torch.stack([t.expand(lines, -1), ticks[:, None].expand(-1, points)], -1)  # [L, P, 2]
    vertical = torch.stack([ticks[:, None].expand(-1, points), t.expand(lines, -1)], -1)  # [L, P, 2]
    return torch.cat([horizontal, vertical])  # [2L, P, 2]


def probe_r2(latents: Tensor, factors: Tensor, ridge: float = 100.0, folds: int = 4) -> Tensor:
    """Cross-validated R² of an affine (ridge) probe from latents to each factor (chapter 5).

    Args:
        latents: ``[N, D]``, e.g. the ``z`` or ``w`` of N generated samples.
        factors: ``[N, F]``, the factors of the same samples.
        ridge:   the ridge penalty, in units of the latents' mean variance per dimension, so that
                 it shrinks ``Z`` and ``W`` alike whatever their scales (0: least squares).
        folds:   each sample is predicted by a probe fitted on the other folds (sample ``i`` is
                 in fold ``i % folds``).

    Returns ``[F]`` float64: ``1 - SSE / SST`` of the held-out predictions. 1: the factor is an
    affine function of the latent; 0: a constant guess does as well; below 0: worse. With fewer
    samples than dimensions a probe without a penalty fits anything and predicts nothing, hence
    the ridge and the held-out folds.
    """
    x, y = latents.double(), factors.double()  # [N, D], [N, F]
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ValueError(f"latents [N, D] and factors [N, F] must have the same N, got "
                         f"{tuple(latents.shape)} and {tuple(factors.shape)}")
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= len(x):
        raise ValueError(f"folds must be an integer in [2, N], got {folds!r}")
    fold = torch.arange(len(x)) % folds  # [N]
    penalty = ridge * x.var(dim=0).mean() * torch.eye(x.shape[1], dtype=x.dtype)  # [D, D]
    pred = torch.empty_like(y)  # [N, F]
    for k in range(folds):
        train, test = fold != k, fold == k
        x_mean, y_mean = x[train].mean(0), y[train].mean(0)  # [D], [F]
        xc = x[train] - x_mean  # [n, D]
        coef = torch.linalg.solve(xc.T @ xc + penalty, xc.T @ (y[train] - y_mean))  # [D, F]
        pred[test] = (x[test] - x_mean) @ coef + y_mean
    sse = (y - pred).square().sum(0)  # [F]
    sst = (y - y.mean(0)).square().sum(0)  # [F]
    return 1 - sse / sst
