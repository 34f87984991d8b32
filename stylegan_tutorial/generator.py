"""The style-based generator: mapping network + synthesis network (chapters 5 to 9).

``G(z) = g(broadcast(f(z)))``: the mapping ``f`` turns ``z`` into ``w``, one copy of ``w`` per
synthesis layer forms ``ws [N, num_layers, w_dim]``, and the synthesis network ``g`` renders
it. Between the two, the generator can

- *mix* styles: layers before a crossover take ``w1``, the rest ``w2`` (chapter 8); during
  training this is the mixing regularisation, with probability 0.9 per minibatch;
- *truncate*: ``w' = w_avg + psi (w - w_avg)`` on the first ``cutoff`` layers, where ``w_avg``
  is a running mean of ``w`` kept during training with ``beta = 0.995`` (chapter 9).

Levels of detail: ``resolution`` picks the output size, and the official ``lod`` counts
halvings from the full size (``lod = 0`` is full resolution); see :func:`lod_to_resolution`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from stylegan_tutorial.configs import NetworkConfig, check_resolution
from stylegan_tutorial.mapping import MappingNetwork
from stylegan_tutorial.synthesis import SynthesisNetwork, num_layers_at

Tensor = torch.Tensor


def lod_to_resolution(lod: float, max_resolution: int) -> tuple[int, float]:
    """The release's level of detail as ``(resolution, alpha)``.

    ``lod`` counts halvings from ``max_resolution``; a fractional part means a fade-in:
    ``lod = 1.25`` at 1024² is 512² with alpha 0.75 (a quarter of the way still at 256²).
    """
    check_resolution(max_resolution, "max_resolution")
    top = int(math.log2(max_resolution)) - 2
    if not (isinstance(lod, (int, float)) and 0.0 <= lod <= top):
        raise ValueError(f"lod must be a number in [0, {top}] for {max_resolution}², got {lod!r}")
    level = math.floor(lod)
    frac = lod - level
    if frac == 0:
        return max_resolution >> level, 1.0
    return max_resolution >> level, 1.0 - frac


def resolution_to_lod(resolution: int, alpha: float, max_resolution: int) -> float:
    """Inverse of :func:`lod_to_resolution`: ``log2(max/res) + (1 - alpha)``."""
    check_resolution(resolution, maximum=max_resolution)
    return math.log2(max_resolution // resolution) + (1.0 - alpha)


class Generator(nn.Module):
    """StyleGAN v1's generator, built from a :class:`~stylegan_tutorial.configs.NetworkConfig`.

    Parameters are the mapping's and the synthesis network's (ToRGB layers included); the
    noise images and ``w_avg`` are buffers. ``G.num_layers`` is the number of ``ws`` entries.
    """

    def __init__(self, config: NetworkConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.mapping = MappingNetwork(config.z_dim, config.w_dim, config.mapping_layers,
                                      config.mapping_width, config.mapping_lrmul, config.normalize_z)
        self.synthesis = SynthesisNetwork(config)
        self.register_buffer("w_avg", torch.zeros(config.w_dim))

    @property
    def num_layers(self) -> int:
        """Entries of ``ws``: ``2 log2(resolution) - 2``."""
        return self.config.num_layers

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    @property
    def w_dim(self) -> int:
        return self.config.w_dim

    def num_layers_at(self, resolution: int | None = None) -> int:
        """Layers in use when rendering at ``resolution`` (default: the full one)."""
        res = self.config.resolution if resolution is None else resolution
        check_resolution(res, maximum=self.config.resolution)
        return num_layers_at(res)

    # ---- w space ------------------------------------------------------------------------

    def broadcast(self, w: Tensor) -> Tensor:
        """``w [N, w_dim] -> ws [N, num_layers, w_dim]`` (a copy per layer); ``ws`` passes through."""
        return self.synthesis.check_ws(w).clone()

    @torch.no_grad()
    def update_w_avg(self, w: Tensor, beta: float | None = None) -> None:
        """Move ``w_avg`` towards the batch mean of ``w [N, w_dim]``: ``w_avg <- lerp(mean, w_avg, beta)``."""
        beta = self.config.w_avg_beta if beta is None else beta
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta!r}")
        if w.ndim != 2 or w.shape[1] != self.w_dim:
            raise ValueError(f"w must have shape [N, {self.w_dim}] (mapping outputs), got {tuple(w.shape)}")
        self.w_avg.copy_(torch.lerp(w.detach().mean(dim=0).to(self.w_avg.dtype), self.w_avg, beta))

    def truncate(self, ws: Tensor, psi: float, cutoff: int | None = None) -> Tensor:
        """The truncation trick: ``w_avg + psi (w - w_avg)`` on layers ``< cutoff`` (None: all).

        ``psi = 1`` changes nothing; ``psi = 0`` collapses those layers onto ``w_avg``.
        Returns ``ws [N, num_layers, w_dim]``.
        """
        if not (isinstance(psi, (int, float)) and math.isfinite(psi)):
            raise ValueError(f"psi must be a finite number, got {psi!r}")
        if cutoff is not None and (not isinstance(cutoff, int) or cutoff < 0):
            raise ValueError(f"cutoff must be None or an integer >= 0, got {cutoff!r}")
        ws = self.synthesis.check_ws(ws)
        cutoff = self.num_layers if cutoff is None else cutoff
        coefs = torch.ones(self.num_layers, 1, device=ws.device, dtype=ws.dtype)  # [L, 1]
        coefs[:cutoff] = psi
        return torch.lerp(self.w_avg.to(ws.dtype), ws, coefs)  # [N, L, w_dim]

    def mix(self, w1: Tensor, w2: Tensor, crossover: int, resolution: int | None = None) -> Tensor:
        """Style mixing: ``ws`` taking ``w1`` on layers ``< crossover`` and ``w2`` from it on.

        ``crossover`` must lie in ``[1, layers in use at resolution)``, so that both sources
        reach the image. ``w1``, ``w2``: ``[N, w_dim]`` or ``[N, num_layers, w_dim]``.
        """
        n_use = self.num_layers_at(resolution)
        if not isinstance(crossover, int) or not 1 <= crossover < n_use:
            raise ValueError(
                f"crossover must be an integer in [1, {n_use}) (the layers in use at "
                f"{resolution or self.config.resolution}²), got {crossover!r}"
            )
        ws1, ws2 = self.synthesis.check_ws(w1), self.synthesis.check_ws(w2)
        first = torch.arange(self.num_layers, device=ws1.device).view(1, -1, 1) < crossover
        return torch.where(first, ws1, ws2)  # [N, L, w_dim]

    def mixing_regularization(self, w: Tensor, prob: float | None = None,
                              resolution: int | None = None) -> Tensor:
        """Training-time mixing: with probability ``prob`` map a second ``z`` and mix at a random crossover.

        One coin and one crossover (uniform in ``[1, layers in use)``; at 4² that is always 1)
        per minibatch, as in the release. Without mixing ``w`` is simply broadcast.
        Returns ``ws [N, num_layers, w_dim]``.
        """
        prob = self.config.style_mixing_prob if prob is None else prob
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob!r}")
        n_use = self.num_layers_at(resolution)
        if torch.rand(()) >= prob:
            return self.broadcast(w)
        z2 = torch.randn(w.shape[0], self.z_dim, device=w.device, dtype=w.dtype)
        crossover = int(torch.randint(1, n_use, ()))
        return self.mix(w, self.mapping(z2), crossover, resolution)

    # ---- the whole generator --------------------------------------------------------------

    def forward(
        self,
        z: Tensor,
        resolution: int | None = None,
        alpha: float = 1.0,
        psi: float = 1.0,
        cutoff: int | None = None,
        noise_mode: str | Sequence[str] = "random",
        noise_strength: float | Sequence[float] = 1.0,
        mixing_prob: float = 0.0,
    ) -> Tensor:
        """``z [N, z_dim] -> image [N, img_channels, res, res]`` in [-1, 1] (roughly: no clamp).

        Maps ``z``, applies the mixing regularisation if ``mixing_prob > 0`` (training), then
        truncation if ``psi != 1`` (figures), then renders. Pure: ``w_avg`` is updated only by
        :meth:`update_w_avg`, which the training loop calls with ``G.mapping(z)``.
        """
        w = self.mapping(z)  # [N, w_dim]
        ws = self.mixing_regularization(w, mixing_prob, resolution) if mixing_prob > 0 else self.broadcast(w)
        if psi != 1.0:
            ws = self.truncate(ws, psi, cutoff)
        return self.synthesis(ws, resolution, alpha, noise_mode, noise_strength)
