"""A small DCGAN that learns 16x16 handwritten digits on a laptop CPU in well under a minute.

DCGAN (Radford, Metz and Chintala, 2016) fixed the recipe that made convolutional GANs train:
no pooling or fully connected hidden layers, strided (transposed) convolutions to change
resolution, BatchNorm in the generator, ReLU in G and LeakyReLU(0.2) in D, tanh on the output,
and Adam with ``lr = 2e-4, betas = (0.5, 0.999)``. This module is that recipe at 16x16:

    G: z [N, z_dim, 1, 1] -> 4x4 -> 8x8 -> 16x16 image in [-1, 1]
    D: 16x16 image -> 8x8 -> 4x4 -> one logit (positive means "real")

trained with the logistic losses of :mod:`stylegan_tutorial.losses`. StyleGAN keeps the game and
the losses and replaces the generator's architecture, which the later chapters build.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn

from stylegan_tutorial.losses import d_logistic_loss, g_nonsaturating_loss
from stylegan_tutorial.progress import tqdm
from stylegan_tutorial.runtime import one_thread

Tensor = torch.Tensor

RESOLUTION = 16


def _check_positive_int(name: str, value) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class Generator(nn.Module):
    """z ``[N, z_dim]`` -> image ``[N, channels, 16, 16]`` in [-1, 1] (chapter 3).

    Args:
        z_dim:    width of the latent ``z``.
        width:    feature maps at 8x8 (twice as many at 4x4).
        channels: channels of the image (1: grey digits).

    A 4x4 transposed convolution turns the latent (seen as a 1x1 image) into a 4x4 map; two
    stride-2 transposed convolutions double it to 8x8 and 16x16. BatchNorm and ReLU follow every
    layer but the last, which ends in tanh to match data scaled to [-1, 1].
    """

    def __init__(self, z_dim: int = 64, width: int = 64, channels: int = 1):
        super().__init__()
        for name, value in (("z_dim", z_dim), ("width", width), ("channels", channels)):
            _check_positive_int(name, value)
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 2 * width, 4, 1, 0, bias=False),  # [N, 2w, 4, 4]
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),  # [N, w, 8, 8]
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1),  # [N, channels, 16, 16]
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        """``z [N, z_dim] -> images [N, channels, 16, 16]`` in [-1, 1] (chapter 3)."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape [N, {self.z_dim}], got {tuple(z.shape)}")
        return self.net(z[:, :, None, None])  # [N, z_dim, 1, 1] -> [N, channels, 16, 16]


class Discriminator(nn.Module):
    """image ``[N, channels, 16, 16]`` -> logit ``[N]`` (chapter 3).

    ``width`` is the feature maps at 8x8 (twice as many at 4x4), ``channels`` the image's.

    Two stride-2 convolutions halve 16x16 to 8x8 and 4x4 (LeakyReLU(0.2) after each, BatchNorm
    on the second, as in DCGAN); a 4x4 convolution reads the 4x4 map as one logit.
    """

    def __init__(self, width: int = 64, channels: int = 1):
        super().__init__()
        for name, value in (("width", width), ("channels", channels)):
            _check_positive_int(name, value)
        self.channels = channels
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1),  # [N, w, 8, 8]
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False),  # [N, 2w, 4, 4]
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, 4, 1, 0),  # [N, 1, 1, 1]
        )

    def forward(self, images: Tensor) -> Tensor:
        """``images [N, channels, 16, 16] -> logits [N]``, positive meaning "real" (chapter 3)."""
        expected = (self.channels, RESOLUTION, RESOLUTION)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"images must have shape [N, {', '.join(map(str, expected))}], "
                             f"got {tuple(images.shape)}")
        return self.net(images).flatten()  # [N]


def init_weights(module: nn.Module) -> None:
    """DCGAN's initialisation: conv weights ~ N(0, 0.02), BatchNorm scales ~ N(1, 0.02) (chapter 3).

    Biases become 0. Apply it to every submodule with ``net.apply(init_weights)``.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def d_step(G: Generator, D: Discriminator, opt_d: torch.optim.Optimizer, reals: Tensor,
           z: Tensor) -> float:
    """One discriminator update with the logistic loss; returns the loss before the update (chapter 3).

    Args:
        G:     the generator (only evaluated, without gradients).
        D:     the discriminator.
        opt_d: D's optimizer.
        reals: real images ``[B, 1, 16, 16]`` in [-1, 1].
        z:     latents ``[B, z_dim]`` for the fakes.
    """
    with torch.no_grad():
        fakes = G(z)  # [B, 1, 16, 16]
    loss = d_logistic_loss(D(reals), D(fakes))
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    return loss.item()


def g_step(G: Generator, D: Discriminator, opt_g: torch.optim.Optimizer, z: Tensor) -> float:
    """One generator update with the non-saturating loss; returns the loss before the update (chapter 3).

    Args:
        G:     the generator.
        D:     the discriminator.
        opt_g: G's optimizer.
        z:     latents ``[B, z_dim]``.

    Only G's optimiser steps; the gradients that reach D's parameters are cleared by the next
    :func:`d_step`.
    """
    loss = g_nonsaturating_loss(D(G(z)))
    opt_g.zero_grad(set_to_none=True)
    loss.backward()
    opt_g.step()
    return loss.item()


@dataclass
class DCGANRun:
    """What :func:`train_dcgan` returns (chapter 3).

    Args:
        generator:      the trained G, in eval mode.
        discriminator:  the trained D.
        z_fixed:        the latents every snapshot renders, ``[n_snapshot, z_dim]``.
        snapshot_steps: the steps of the snapshots, ``[S]`` (step 0 is the untrained G).
        snapshots:      ``snapshots[i]`` is G's output for ``z_fixed`` after
                        ``snapshot_steps[i]`` steps, in [-1, 1]: ``[S, n_snapshot, 1, 16, 16]``.
        d_losses:       D's loss, one value per step.
        g_losses:       G's loss, one value per step.
    """

    generator: Generator
    discriminator: Discriminator
    z_fixed: Tensor  # [n_snapshot, z_dim]
    snapshot_steps: list[int] = field(default_factory=list)
    snapshots: Tensor = field(default_factory=lambda: torch.empty(0))  # [S, n, 1, 16, 16]
    d_losses: list[float] = field(default_factory=list)
    g_losses: list[float] = field(default_factory=list)


def train_dcgan(
    images: Tensor,
    steps: int = 600,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
    snapshot_every: int = 100,
    n_snapshot: int = 64,
    z_dim: int = 64,
    width: int = 32,
    lr: float = 5e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    device: str | torch.device = "cpu",
) -> DCGANRun:
    """Train the DCGAN on ``images [N, 1, 16, 16]`` in [-1, 1] and record its progress (chapter 3).

    Args:
        images:         the training images ``[N, 1, 16, 16]`` in [-1, 1], N >= ``batch_size``.
        steps:          training steps (one D and one G update each).
        batch_size:     images and latents per step.
        seed:           seeds the weights, the minibatches and the latents.
        progress:       show a progress bar.
        snapshot_every: steps between snapshots.
        n_snapshot:     latents each snapshot renders.
        z_dim:          width of the latent ``z``.
        width:          feature maps of both networks at 8x8.
        lr:             Adam's learning rate for both networks.
        betas:          Adam's betas.
        device:         where to train (``"cpu"``, ``"cuda"``, a ``torch.device``).

    Each step draws a random minibatch of reals, updates D once (:func:`d_step`) and G once
    (:func:`g_step`). Every ``snapshot_every`` steps G (in eval mode, so BatchNorm uses its
    running statistics) renders the same ``n_snapshot`` latents. ``torch.manual_seed(seed)``
    fixes the initial weights, the minibatches and the latents, so a run repeats exactly on
    the same machine. The generator is returned in eval mode, ready to sample.

    On a CPU it runs on one thread: at this size a second thread gains little on an idle
    machine and, on a busy 2-core one, made training three times slower in our measurements.

    DCGAN's ``lr = 2e-4`` is tuned for tens of thousands of steps; with the few hundred a CPU
    can afford in under a minute, ``lr = 5e-4`` (same betas) gives clearer digits sooner.
    """
    for name, value in (("steps", steps), ("batch_size", batch_size),
                        ("snapshot_every", snapshot_every), ("n_snapshot", n_snapshot)):
        _check_positive_int(name, value)
    if images.dim() != 4 or images.shape[1:] != (1, RESOLUTION, RESOLUTION):
        raise ValueError(f"images must have shape [N, 1, {RESOLUTION}, {RESOLUTION}], "
                         f"got {tuple(images.shape)}")
    if len(images) < batch_size:
        raise ValueError(f"batch_size must be at most the number of images ({len(images)}), "
                         f"got {batch_size}")
    device = torch.device(device)
    torch.manual_seed(seed)
    G = Generator(z_dim, width).to(device)
    D = Discriminator(width).to(device)
    G.apply(init_weights)
    D.apply(init_weights)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    images = images.to(device)
    run = DCGANRun(G, D, torch.randn(n_snapshot, z_dim, device=device))
    snapshots = []

    def snapshot(step: int) -> None:
        G.eval()
        with torch.no_grad():
            snapshots.append(G(run.z_fixed).cpu())  # [n_snapshot, 1, 16, 16]
        G.train()
        run.snapshot_steps.append(step)

    snapshot(0)
    with one_thread() if device.type == "cpu" else nullcontext():
        for step in tqdm(range(1, steps + 1), desc="DCGAN", disable=not progress):
            index = torch.randint(len(images), (batch_size,), device=device)  # [B]
            reals = images[index]  # [B, 1, 16, 16]
            z_d = torch.randn(batch_size, z_dim, device=device)  # [B, z_dim]
            z_g = torch.randn(batch_size, z_dim, device=device)  # [B, z_dim]
            run.d_losses.append(d_step(G, D, opt_d, reals, z_d))
            run.g_losses.append(g_step(G, D, opt_g, z_g))
            if step % snapshot_every == 0 or step == steps:
                snapshot(step)
    run.snapshots = torch.stack(snapshots)  # [S, n_snapshot, 1, 16, 16]
    G.eval()
    return run
