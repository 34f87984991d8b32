"""What the noise inputs change in an image, measured (chapter 7).

Fix a face's ``w`` and draw the noise again: whatever changes is the noise's doing. Three
measurements, each on draws ``images [N, K, C, R, R]``, ``K`` noise draws of ``N`` latents
(:func:`noise_draws`):

- :func:`pixel_std` is the paper's Figure 4(c): the standard deviation of every pixel over the
  draws of one latent, a map of where the noise acts;
- :func:`factor_spread` asks the :mod:`oracle <stylegan_tutorial.oracle>` how far each known
  factor moves under new noise, against how far it moves under a new ``w``;
- :func:`noise_only_in` switches the noise on in some layers and off in the others, the paper's
  Figure 5 (noise in the coarse or the fine layers only).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from stylegan_tutorial.data.faces import FACTORS
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.oracle import CIRCULAR, Oracle, circular_difference
from stylegan_tutorial.progress import tqdm

Tensor = torch.Tensor


def noise_only_in(layers: Iterable[int], num_layers: int) -> list[str]:
    """Per-layer noise modes: ``"random"`` on ``layers``, ``"none"`` on the rest (chapter 7).

    Args:
        layers:     the layer indices that get fresh noise (e.g. ``lod.style_ranges(64)["fine"]``).
        num_layers: the generator's ``G.num_layers``.

    Returns a list of ``num_layers`` modes, for ``G.synthesis(ws, noise_mode=...)``.
    """
    on = set(layers)
    if not on <= set(range(num_layers)):
        raise ValueError(f"layers must lie within 0-{num_layers - 1}, got {sorted(on)}")
    return ["random" if i in on else "none" for i in range(num_layers)]


@torch.no_grad()
def noise_draws(G: Generator, ws: Tensor, draws: int, seed: int = 0,
                noise_mode: str | list[str] = "random", progress: bool = False) -> Tensor:
    """Render every latent ``draws`` times, each time with fresh noise (chapter 7).

    Args:
        G:          the generator.
        ws:         the latents, ``w [N, w_dim]`` or ``ws [N, num_layers, w_dim]``.
        draws:      K, the noise draws per latent.
        seed:       seeds the noise inside a fork of torch's random state: the same call gives
                    the same images and the caller's random state is left alone.
        noise_mode: ``"random"`` (every layer) or one mode per layer (:func:`noise_only_in`).
        progress:   show a progress bar over the draws.

    Returns ``[N, K, C, R, R]`` on ``ws``'s device.
    """
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    devices = [ws.device] if ws.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        images = [G.synthesis(ws, noise_mode=noise_mode)  # K × [N, C, R, R]
                  for _ in tqdm(range(draws), desc="noise draws", disable=not progress)]
    return torch.stack(images, dim=1)


def pixel_std(images: Tensor) -> Tensor:
    """Each pixel's standard deviation over the noise draws, ``[N, K, C, R, R] -> [N, R, R]`` (chapter 7).

    The standard deviation over the K draws (unbiased) is taken per colour channel, then the
    channels are combined by their root mean square: one number per pixel, in the images' units
    (pixel values in [-1, 1]).
    """
    if images.ndim != 5 or images.shape[1] < 2:
        raise ValueError(f"images must be [N, K, C, R, R] with K >= 2 draws, got {tuple(images.shape)}")
    return images.float().std(dim=1).square().mean(dim=1).sqrt()


def _deviations(values: Tensor, name: str, dim: int) -> Tensor:
    """``values`` minus their mean along ``dim``; for the circular hue, the short way round."""
    if name not in CIRCULAR:
        return values - values.mean(dim=dim, keepdim=True)
    spec = FACTORS[name]
    angle = (values - spec.low) / (spec.high - spec.low) * 2 * torch.pi
    centre = torch.atan2(angle.sin().mean(dim, keepdim=True), angle.cos().mean(dim, keepdim=True))
    centre = spec.low + centre / (2 * torch.pi) % 1.0 * (spec.high - spec.low)
    return circular_difference(values, centre, spec.high - spec.low)


def _disagreement(labels: Tensor) -> float:
    """How often two different entries of ``labels [M]`` differ: 1 - Σ p_k² over the classes."""
    p = torch.bincount(labels).double() / len(labels)
    return float(1.0 - p.square().sum()) * len(labels) / (len(labels) - 1)  # without self-pairs


@torch.no_grad()
def factor_spread(oracle: Oracle, images: Tensor) -> dict[str, tuple[float, float]]:
    """How far each known factor moves under new noise, and under a new ``w`` (chapter 7).

    Args:
        oracle: the judge (:func:`stylegan_tutorial.oracle.load_oracle`).
        images: K noise draws of N different latents, ``[N, K, C, R, R]`` (:func:`noise_draws`),
                N >= 2 and K >= 2.

    Returns ``{factor: (under_noise, under_new_w)}``. A continuous factor gives standard
    deviations in its own units: over the K draws of one latent (pooled over the N latents),
    and over the N latents (one draw each); the hue the short way round its circle. A
    categorical factor gives how often two images disagree on its class: two draws of the same
    latent, and two different latents.
    """
    n, k = images.shape[:2]
    if n < 2 or k < 2:
        raise ValueError(f"images must hold K >= 2 draws of N >= 2 latents, got {tuple(images.shape)}")
    pred = oracle.predict(images.flatten(0, 1).float())
    spread = {}
    for name, spec in FACTORS.items():
        values = pred[name].view(n, k)  # [N, K]
        if spec.kind == "categorical":
            noise = sum(_disagreement(row) for row in values) / n
            spread[name] = (noise, _disagreement(values[:, 0]))
            continue
        values = values.double()
        within = _deviations(values, name, dim=1).square().sum() / (n * (k - 1))
        across = _deviations(values[:, 0], name, dim=0).square().sum() / (n - 1)
        spread[name] = (float(within.sqrt()), float(across.sqrt()))
    return spread
