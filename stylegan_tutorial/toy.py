"""The adversarial game in one and two dimensions, small enough to watch.

Chapter 3 studies GANs where every quantity can be drawn:

- a **mixture of Gaussians in 2-D** (a ring or a grid of modes) with a small MLP generator and
  discriminator, and the *mode coverage* metric of the unrolled-GAN / VEEGAN / PacGAN papers,
  which counts the modes a generator finds and the share of its samples that land on one;
- the **Dirac-GAN** of Mescheder, Geiger and Nowozin (2018), a two-parameter game whose
  trajectory shows why plain gradient descent circles the equilibrium and R1 converges to it;
- a **1-D discriminator** fitted to two sample sets, to compare with the optimal discriminator
  ``D*(x) = p_data(x) / (p_data(x) + p_g(x))`` of Goodfellow et al. (2014).

All training here uses the losses of :mod:`stylegan_tutorial.losses`, and runs in seconds on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from stylegan_tutorial.losses import (
    d_logistic_loss,
    d_wgan_loss,
    g_nonsaturating_loss,
    g_saturating_loss,
    g_wgan_loss,
    r1_penalty,
)
from stylegan_tutorial.progress import tqdm
from stylegan_tutorial.runtime import one_thread

Tensor = torch.Tensor

G_LOSSES = ("nonsaturating", "saturating")
DIRAC_LOSSES = ("nonsaturating", "saturating", "wgan")


# ---------------------------------------------------------------------------------------------
# Data: mixtures of Gaussians in the plane
# ---------------------------------------------------------------------------------------------


def _check_positive(name: str, value, kind=int) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a positive ``kind``."""
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int) \
            or value <= 0:
        what = "a positive integer" if kind is int else "a positive number"
        raise ValueError(f"{name} must be {what}, got {value!r}")


def ring_centres(modes: int = 8, radius: float = 2.0) -> Tensor:
    """``modes`` points ``[modes, 2]`` evenly spaced on a circle of ``radius`` (chapter 3).

    The defaults are the classic 8-Gaussian ring.
    """
    _check_positive("modes", modes)
    _check_positive("radius", radius, float)
    angle = torch.arange(modes, dtype=torch.float32) * (2 * math.pi / modes)  # [modes]
    return radius * torch.stack([angle.cos(), angle.sin()], dim=1)  # [modes, 2]


def grid_centres(side: int = 5, spacing: float = 2.0) -> Tensor:
    """A ``side`` x ``side`` grid of points ``spacing`` apart, centred on the origin (chapter 3).

    Returns ``[side*side, 2]``: 25 modes with the defaults.
    """
    _check_positive("side", side)
    _check_positive("spacing", spacing, float)
    ticks = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing  # [side]
    gx, gy = torch.meshgrid(ticks, ticks, indexing="xy")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)  # [side*side, 2]


def mixture_of_gaussians(n: int, centres: Tensor, std: float,
                         generator: torch.Generator | None = None) -> Tensor:
    """``n`` samples ``[n, 2]`` from an equal-weight mixture of isotropic Gaussians (chapter 3).

    Args:
        n:         how many samples.
        centres:   the means of the Gaussians, ``[modes, 2]``.
        std:       the standard deviation of every Gaussian, > 0.
        generator: the torch random generator to draw from (None: torch's global one).

    Each sample picks a centre uniformly at random and adds ``std``-scaled normal noise.
    """
    _check_positive("n", n)
    _check_positive("std", std, float)
    if centres.dim() != 2 or centres.shape[1] != 2:
        raise ValueError(f"centres must have shape [modes, 2], got {tuple(centres.shape)}")
    which = torch.randint(len(centres), (n,), generator=generator)  # [n]
    noise = torch.randn(n, 2, generator=generator)  # [n, 2]
    return centres[which] + std * noise  # [n, 2]


def ring_of_gaussians(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.02,
                      generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``n`` samples from ``modes`` Gaussians on a ring, and the ring's centres (chapter 3).

    Args:
        n:         how many samples.
        modes:     how many Gaussians on the ring.
        radius:    the ring's radius.
        std:       the standard deviation of every Gaussian.
        generator: the torch random generator to draw from (None: torch's global one).

    The defaults (8 modes, radius 2, std 0.02) are the unrolled-GAN paper's toy problem.
    Returns ``(samples [n, 2], centres [modes, 2])``.
    """
    centres = ring_centres(modes, radius)
    return mixture_of_gaussians(n, centres, std, generator), centres


def grid_of_gaussians(n: int, side: int = 5, spacing: float = 2.0, std: float = 0.05,
                      generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``n`` samples from a ``side`` x ``side`` grid of Gaussians: VEEGAN's 25 modes (chapter 3).

    Args:
        n:         how many samples.
        side:      Gaussians per row and column.
        spacing:   the distance between neighbouring means.
        std:       the standard deviation of every Gaussian.
        generator: the torch random generator to draw from (None: torch's global one).

    Returns ``(samples [n, 2], centres [side*side, 2])``.
    """
    centres = grid_centres(side, spacing)
    return mixture_of_gaussians(n, centres, std, generator), centres


def mode_coverage(samples: Tensor, centres: Tensor, std: float,
                  min_count: int = 20) -> tuple[int, float]:
    """How many modes a generator covers, and how many of its samples are good (chapter 3).

    Args:
        samples:   the generator's points ``[n, 2]``, n > 0.
        centres:   the modes' means ``[modes, 2]``.
        std:       the modes' standard deviation: "near" means within 3 ``std``.
        min_count: high-quality samples a mode needs to count as covered.

    A sample is *high quality* when it lies within 3 ``std`` of its nearest centre; a mode is
    *covered* when at least ``min_count`` high-quality samples are nearest to it. These are the
    VEEGAN / PacGAN definitions, whose papers draw 2,500 samples and use ``min_count = 20``.
    Returns ``(modes_covered, high_quality_fraction)``.
    """
    _check_positive("std", std, float)
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be a positive integer, got {min_count!r}")
    if samples.dim() != 2 or samples.shape[1] != centres.shape[-1] or len(samples) == 0:
        raise ValueError(f"samples must have shape [n, {centres.shape[-1]}] with n > 0, "
                         f"got {tuple(samples.shape)}")
    dist = torch.cdist(samples.float(), centres.float())  # [n, modes]
    nearest_dist, nearest = dist.min(dim=1)  # [n], [n]
    good = nearest_dist <= 3 * std  # [n]
    counts = torch.bincount(nearest[good], minlength=len(centres))  # [modes]
    return int((counts >= min_count).sum()), float(good.float().mean())


# ---------------------------------------------------------------------------------------------
# Small MLPs for 2-D data
# ---------------------------------------------------------------------------------------------


def mlp(in_features: int, out_features: int, hidden: int = 128, depth: int = 3) -> nn.Sequential:
    """``depth`` hidden layers of ``hidden`` units with ReLU, then a linear output layer (chapter 3).

    Args:
        in_features:  width of the input ``[N, in_features]``.
        out_features: width of the output ``[N, out_features]``.
        hidden:       units per hidden layer.
        depth:        hidden layers, at least 1.
    """
    _check_positive("in_features", in_features)
    _check_positive("out_features", out_features)
    _check_positive("hidden", hidden)
    _check_positive("depth", depth)
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def toy_generator(latent_dim: int = 2, hidden: int = 128, depth: int = 3) -> nn.Sequential:
    """The 2-D generator: z ``[N, latent_dim]`` -> a point ``[N, 2]`` (chapter 3).

    Args:
        latent_dim: width of the latent ``z``.
        hidden:     units per hidden layer of the MLP.
        depth:      its hidden layers.
    """
    return mlp(latent_dim, 2, hidden, depth)


def toy_discriminator(hidden: int = 128, depth: int = 3) -> nn.Sequential:
    """The 2-D discriminator: a point ``[N, 2]`` -> a logit ``[N, 1]``, positive: real (chapter 3).

    ``hidden`` units in each of ``depth`` hidden layers.
    """
    return mlp(2, 1, hidden, depth)


# ---------------------------------------------------------------------------------------------
# Training a GAN on a 2-D mixture
# ---------------------------------------------------------------------------------------------


@dataclass
class ToyGANRun:
    """What :func:`train_toy_gan` returns: the networks and the history of the game (chapter 3).

    Args:
        generator:      the trained G: z ``[N, latent_dim]`` -> points ``[N, 2]``.
        discriminator:  the trained D: points ``[N, 2]`` -> logits ``[N, 1]``.
        centres:        the modes of the data, ``[modes, 2]``.
        std:            their standard deviation.
        snapshot_steps: the steps at which snapshots were taken, ``[S]`` (0 first).
        snapshots:      G's points for the fixed latents at those steps, ``[S, n_snapshot, 2]``.
        coverage:       :func:`mode_coverage` of each snapshot, ``(modes, fraction)``.
        d_losses:       D's loss at every step.
        g_losses:       G's loss at every step.

    ``snapshots[i]`` holds the generator's points for a fixed set of latents after
    ``snapshot_steps[i]`` training steps (step 0 is the untrained generator); ``coverage[i]`` is
    :func:`mode_coverage` of that snapshot. Losses are recorded at every step.
    """

    generator: nn.Module
    discriminator: nn.Module
    centres: Tensor  # [modes, 2]
    std: float
    snapshot_steps: list[int]
    snapshots: Tensor  # [S, n_snapshot, 2]
    coverage: list[tuple[int, float]]
    d_losses: list[float] = field(default_factory=list)
    g_losses: list[float] = field(default_factory=list)


def train_toy_gan(
    steps: int = 1500,
    g_loss: str = "nonsaturating",
    r1_gamma: float = 0.0,
    seed: int = 0,
    centres: Tensor | None = None,
    std: float = 0.02,
    batch_size: int = 128,
    lr: float = 1e-3,
    latent_dim: int = 2,
    hidden: int = 128,
    snapshot_every: int = 100,
    n_snapshot: int = 2500,
    progress: bool = True,
) -> ToyGANRun:
    """Train a GAN on a 2-D mixture of Gaussians and record where its samples go (chapter 3).

    Args:
        steps:          training steps (each one D step, then one G step).
        g_loss:         ``"nonsaturating"`` or ``"saturating"``.
        r1_gamma:       the R1 weight on D (0: no R1).
        seed:           seeds the networks, the latents and the data.
        centres:        the modes ``[modes, 2]`` (None: the 8-mode ring of radius 2).
        std:            the modes' standard deviation.
        batch_size:     real and fake points per step.
        lr:             Adam's learning rate for both networks.
        latent_dim:     width of G's latent ``z``.
        hidden:         units per hidden layer of both MLPs.
        snapshot_every: steps between snapshots.
        n_snapshot:     fixed latents each snapshot maps (2,500: the coverage papers').
        progress:       show a progress bar.

    Each step trains D once with the logistic loss (plus ``r1_gamma``/2 * E||grad D(x)||^2 on
    the reals when ``r1_gamma > 0``), then G once with ``g_loss`` ('nonsaturating' or
    'saturating'). Both use Adam with ``betas=(0.5, 0.999)``. ``centres`` defaults to the
    8-mode ring of radius 2; real batches are drawn fresh each step. Every ``snapshot_every``
    steps the generator maps the same ``n_snapshot`` latents, so the snapshots show the modes
    it finds and misses over training. ``torch.manual_seed(seed)`` makes a run repeat exactly.
    """
    _check_positive("steps", steps)
    _check_positive("batch_size", batch_size)
    _check_positive("snapshot_every", snapshot_every)
    _check_positive("n_snapshot", n_snapshot)
    _check_positive("lr", lr, float)
    if g_loss not in G_LOSSES:
        raise ValueError(f"g_loss must be one of {G_LOSSES}, got {g_loss!r}")
    if not isinstance(r1_gamma, (int, float)) or r1_gamma < 0:
        raise ValueError(f"r1_gamma must be a number >= 0, got {r1_gamma!r}")
    centres = ring_centres() if centres is None else centres.float()

    torch.manual_seed(seed)
    data_rng = torch.Generator().manual_seed(seed)
    G, D = toy_generator(latent_dim, hidden), toy_discriminator(hidden)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    z_fixed = torch.randn(n_snapshot, latent_dim)  # [n_snapshot, latent_dim]

    run = ToyGANRun(G, D, centres, std, [], torch.empty(0), [])
    snapshots = []

    def snapshot(step: int) -> None:
        with torch.no_grad():
            points = G(z_fixed)  # [n_snapshot, 2]
        run.snapshot_steps.append(step)
        snapshots.append(points)
        run.coverage.append(mode_coverage(points, centres, std))

    snapshot(0)
    with one_thread():
        for step in tqdm(range(1, steps + 1), desc="toy GAN", disable=not progress):
            real = mixture_of_gaussians(batch_size, centres, std, data_rng)  # [B, 2]
            loss_d = toy_d_step(G, D, opt_d, real, torch.randn(batch_size, latent_dim), r1_gamma)
            loss_g = toy_g_step(G, D, opt_g, torch.randn(batch_size, latent_dim), g_loss)
            run.d_losses.append(loss_d)
            run.g_losses.append(loss_g)
            if step % snapshot_every == 0 or step == steps:
                snapshot(step)
    run.snapshots = torch.stack(snapshots)  # [S, n_snapshot, 2]
    return run


def toy_d_step(G: nn.Module, D: nn.Module, opt_d: torch.optim.Optimizer, real: Tensor,
               z: Tensor, r1_gamma: float = 0.0) -> float:
    """One D update: logistic loss, plus R1 on the reals when ``r1_gamma > 0`` (chapter 3).

    Args:
        G:        the generator (only evaluated, without gradients).
        D:        the discriminator, points ``[B, 2]`` -> logits ``[B, 1]``.
        opt_d:    D's optimizer.
        real:     real points ``[B, 2]``.
        z:        latents ``[B, latent_dim]`` for the fake points.
        r1_gamma: the R1 weight (0: no R1).

    Returns the loss before the update, a float.

    D learns to score real points up and generated points down; R1 also asks it to be flat on
    the data, which takes away the overshoot that makes the game circle.
    """
    with torch.no_grad():
        fake = G(z)  # [B, 2]
    real = real.detach().requires_grad_(r1_gamma > 0)  # [B, 2]
    real_logits = D(real)  # [B, 1]
    loss = d_logistic_loss(real_logits, D(fake))
    if r1_gamma > 0:
        loss = loss + r1_penalty(real_logits, real, r1_gamma)
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    return loss.item()


def toy_g_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, z: Tensor,
               g_loss: str = "nonsaturating") -> float:
    """One G update with ``g_loss``: move generated points to where D says "real" (chapter 3).

    Args:
        G:      the generator, latents ``[B, latent_dim]`` -> points ``[B, 2]``.
        D:      the discriminator (its gradients are computed but not stepped).
        opt_g:  G's optimizer.
        z:      latents ``[B, latent_dim]``.
        g_loss: ``"nonsaturating"``, or anything else for the saturating loss.

    Returns the loss before the update, a float.
    """
    fake_logits = D(G(z))  # [B, 1]
    loss = g_nonsaturating_loss(fake_logits) if g_loss == "nonsaturating" \
        else g_saturating_loss(fake_logits)
    opt_g.zero_grad(set_to_none=True)
    loss.backward()
    opt_g.step()
    return loss.item()


# ---------------------------------------------------------------------------------------------
# The Dirac-GAN
# ---------------------------------------------------------------------------------------------


def dirac_gan_trajectory(
    steps: int = 500,
    lr: float = 0.1,
    gamma: float = 0.0,
    loss: str = "nonsaturating",
    theta0: float = 1.0,
    psi0: float = 1.0,
    simultaneous: bool = True,
) -> Tensor:
    """The path ``[steps + 1, 2]`` of ``(theta, psi)`` in the Dirac-GAN, by gradient descent (chapter 3).

    Args:
        steps:        gradient steps.
        lr:           the step size of both players.
        gamma:        the R1 weight (0: no R1).
        loss:         ``"nonsaturating"``, ``"saturating"`` or ``"wgan"``.
        theta0:       the generator's starting point.
        psi0:         the discriminator's starting slope.
        simultaneous: both gradients at the current point (False: D first, then G).

    The real data is a point mass at 0; the generator is a point mass at ``theta``; the
    discriminator is the linear logit ``D(x) = psi * x``. The unique equilibrium is
    ``(0, 0)``. Each step takes one gradient step of size ``lr`` on D's loss (logistic, or
    WGAN for ``loss='wgan'``, plus R1 = ``gamma``/2 * psi^2 when ``gamma > 0``) and one on G's
    loss. ``simultaneous=True`` computes both gradients at the current point; ``False`` updates
    D first and lets G respond to the new ``psi``. Mescheder et al. (2018) show that without
    R1 simultaneous steps spiral outwards (the game's Jacobian at the equilibrium has purely
    imaginary eigenvalues) and that any ``gamma > 0`` makes the equilibrium attractive.
    The gradients come from :mod:`stylegan_tutorial.losses` by autograd.
    """
    _check_positive("steps", steps)
    _check_positive("lr", lr, float)
    if loss not in DIRAC_LOSSES:
        raise ValueError(f"loss must be one of {DIRAC_LOSSES}, got {loss!r}")
    if not isinstance(gamma, (int, float)) or gamma < 0:
        raise ValueError(f"gamma must be a number >= 0, got {gamma!r}")

    theta = torch.tensor([float(theta0)], dtype=torch.float64, requires_grad=True)
    psi = torch.tensor([float(psi0)], dtype=torch.float64, requires_grad=True)
    real = torch.zeros(1, 1, dtype=torch.float64)  # the data: a point mass at 0

    def d_grad() -> Tensor:
        x = real.clone().requires_grad_(gamma > 0)
        real_logit, fake_logit = psi * x, psi * theta.detach()  # [1, 1], [1]
        if loss == "wgan":
            loss_d = d_wgan_loss(real_logit, fake_logit)
        else:
            loss_d = d_logistic_loss(real_logit, fake_logit)
        if gamma > 0:
            loss_d = loss_d + r1_penalty(real_logit, x, gamma)
        return torch.autograd.grad(loss_d, psi)[0]

    def g_grad() -> Tensor:
        fake_logit = psi.detach() * theta
        loss_g = {"nonsaturating": g_nonsaturating_loss, "saturating": g_saturating_loss,
                  "wgan": g_wgan_loss}[loss](fake_logit)
        return torch.autograd.grad(loss_g, theta)[0]

    path = torch.empty(steps + 1, 2, dtype=torch.float64)
    path[0] = torch.cat([theta.detach(), psi.detach()])
    with one_thread():
        for step in range(1, steps + 1):
            grad_psi = d_grad()
            if not simultaneous:
                with torch.no_grad():
                    psi -= lr * grad_psi
            grad_theta = g_grad()
            with torch.no_grad():
                if simultaneous:
                    psi -= lr * grad_psi
                theta -= lr * grad_theta
            path[step] = torch.cat([theta.detach(), psi.detach()])
    return path


# ---------------------------------------------------------------------------------------------
# The optimal discriminator, in 1-D
# ---------------------------------------------------------------------------------------------


def gaussian_optimal_discriminator(x: Tensor, data_mean: float, data_std: float,
                                   g_mean: float, g_std: float) -> Tensor:
    """The optimal discriminator's probability ``σ(D*(x)) = p_data(x) / (p_data(x) + p_g(x))`` for
    two 1-D Gaussians (chapter 3).

    Args:
        x:         where to evaluate it, any shape (a tensor or an array).
        data_mean: the data's mean.
        data_std:  the data's standard deviation, > 0.
        g_mean:    the generator's mean.
        g_std:     the generator's standard deviation, > 0.

    Returns that probability (not a logit), the same shape as ``x``.

    Computed as ``sigmoid(log p_data(x) - log p_g(x))``, which stays exact far in the tails.
    """
    _check_positive("data_std", data_std, float)
    _check_positive("g_std", g_std, float)
    p_data = torch.distributions.Normal(float(data_mean), float(data_std))
    p_g = torch.distributions.Normal(float(g_mean), float(g_std))
    x = torch.as_tensor(x, dtype=torch.float32)
    return torch.sigmoid(p_data.log_prob(x) - p_g.log_prob(x))


def fit_discriminator_1d(
    real_samples: Tensor,
    fake_samples: Tensor,
    steps: int = 300,
    hidden: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    progress: bool = False,
) -> nn.Module:
    """Train a small D on 1-D real and fake samples (full batch, Adam) and return it (chapter 3).

    Args:
        real_samples: real values ``[N]`` (any shape; flattened).
        fake_samples: generated values ``[M]``.
        steps:        Adam steps.
        hidden:       units per hidden layer (two hidden layers).
        lr:           Adam's learning rate.
        seed:         seeds D's initialisation.
        progress:     show a progress bar.

    D is an MLP from ``[N, 1]`` to a logit ``[N, 1]``, trained with the logistic loss alone;
    ``torch.sigmoid(D(x))`` then approaches ``p_data / (p_data + p_g)`` where both sample
    sets are dense. The real and fake sets should be the same size, so that the two classes
    weigh equally, as in the value function.
    """
    _check_positive("steps", steps)
    real, fake = (torch.as_tensor(s, dtype=torch.float32).reshape(-1, 1)
                  for s in (real_samples, fake_samples))  # [N, 1], [M, 1]
    if len(real) == 0 or len(fake) == 0:
        raise ValueError(f"real_samples and fake_samples must be non-empty, got {len(real)} "
                         f"and {len(fake)} samples")
    torch.manual_seed(seed)
    D = mlp(1, 1, hidden, depth=2)
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    with one_thread():
        for _ in tqdm(range(steps), desc="fit D", disable=not progress):
            loss = d_logistic_loss(D(real), D(fake))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return D.eval()
