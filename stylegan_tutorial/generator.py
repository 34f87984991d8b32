"""The style-based generator: mapping network + synthesis network (chapters 5 to 9).

``G(z) = g(broadcast(f(z)))``: the mapping ``f`` turns ``z`` into ``w``, one copy of ``w`` per
synthesis layer forms ``ws [N, num_layers, w_dim]``, and the synthesis network ``g`` renders
it. Between the two, the generator can

- *mix* styles: some layers take their style from a second latent (:meth:`Generator.mix`,
  chapter 8); during training this is the mixing regularisation, with probability 0.9 per
  minibatch: layers before a random crossover take ``w1``, the rest ``w2``;
- *truncate*: ``w' = w_avg + psi (w - w_avg)`` on the first ``cutoff`` layers, where ``w_avg``
  is a running mean of ``w`` kept during training with ``beta = 0.995`` (chapter 9).

Levels of detail: ``resolution`` picks the output size; the release's ``lod`` (halvings from
the full size) converts to and from ``(resolution, alpha)`` in :mod:`stylegan_tutorial.lod`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from stylegan_tutorial.configs import NetworkConfig
from stylegan_tutorial.lod import check_resolution, num_layers_at
from stylegan_tutorial.mapping import MappingNetwork
from stylegan_tutorial.synthesis import SynthesisNetwork

Tensor = torch.Tensor


class Generator(nn.Module):
    """StyleGAN v1's generator: mapping + synthesis, built from a ``config`` (chapters 5 to 9).

    ``config`` is the :class:`~stylegan_tutorial.configs.NetworkConfig` that defines it.
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
        """Entries of ``ws``: ``2 log2(resolution) - 2``, two per level of detail (chapter 6)."""
        return self.config.num_layers

    @property
    def z_dim(self) -> int:
        """Width of the input latent ``z [N, z_dim]`` (chapter 5)."""
        return self.config.z_dim

    @property
    def w_dim(self) -> int:
        """Width of the intermediate latent ``w [N, w_dim]`` (chapter 5)."""
        return self.config.w_dim

    def num_layers_at(self, resolution: int | None = None) -> int:
        """Layers in use when rendering at ``resolution``, None: the full one (chapter 4)."""
        res = self.config.resolution if resolution is None else resolution
        check_resolution(res, maximum=self.config.resolution)
        return num_layers_at(res)

    # ---- w space ------------------------------------------------------------------------

    def broadcast(self, w: Tensor) -> Tensor:
        """``w [N, w_dim] -> ws [N, num_layers, w_dim]``, a copy per layer (chapter 6).

        ``ws [N, num_layers, w_dim]`` passes through (copied).
        """
        return self.synthesis.check_ws(w).clone()

    @torch.no_grad()
    def update_w_avg(self, w: Tensor, beta: float | None = None) -> None:
        """Move ``w_avg`` towards the batch mean of ``w [N, w_dim]`` (chapter 9).

        ``w_avg <- lerp(mean, w_avg, beta)``; ``beta`` None means the config's ``w_avg_beta``
        (0.995), 1 leaves ``w_avg`` as it is.
        """
        beta = self.config.w_avg_beta if beta is None else beta
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta!r}")
        if w.ndim != 2 or w.shape[1] != self.w_dim:
            raise ValueError(f"w must have shape [N, {self.w_dim}] (mapping outputs), got {tuple(w.shape)}")
        self.w_avg.copy_(torch.lerp(w.detach().mean(dim=0).to(self.w_avg.dtype), self.w_avg, beta))

    def truncate(self, ws: Tensor, psi: float, cutoff: int | None = None) -> Tensor:
        """The truncation trick: ``w_avg + psi (w - w_avg)`` on layers ``< cutoff`` (chapter 9).

        Args:
            ws:     the styles ``[N, num_layers, w_dim]``, or one ``w [N, w_dim]`` for every
                    layer.
            psi:    the truncation factor, a finite number (1: no change).
            cutoff: the first layer left untruncated, an integer >= 0 (None: truncate all).

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

    def mixing_layers(self, layers: range | int, resolution: int | None = None) -> range:
        """The layers that take their style from the second source in :meth:`mix` (chapter 8).

        Args:
            layers:     a ``range`` of layer indices within the layers in use, or an int
                        crossover ``c`` meaning ``range(c, num_layers)``, the training-time
                        mixing; ``c`` must lie in ``[1, layers in use)`` so both sources
                        reach the image.
            resolution: the resolution rendered, which sets the layers in use (None: the full
                        resolution, all ``num_layers``).

        Returns the checked ``range``; raises a ValueError that says what is allowed.
        """
        n_use = self.num_layers_at(resolution)
        if isinstance(layers, int):
            if not 1 <= layers < n_use:
                raise ValueError(
                    f"crossover must be an integer in [1, {n_use}) (the layers in use at "
                    f"{resolution or self.config.resolution}²), got {layers!r}"
                )
            return range(layers, self.num_layers)
        if not isinstance(layers, range) or len(layers) == 0 or min(layers) < 0 or max(layers) >= n_use:
            raise ValueError(f"layers must be an integer crossover or a non-empty range of layer "
                             f"indices within 0-{n_use - 1}, got {layers!r}")
        return layers

    def mix(self, ws_a: Tensor, ws_b: Tensor, layers: range | int,
            resolution: int | None = None) -> Tensor:
        """Style mixing (chapter 8): ``ws`` taking ``ws_b`` on ``layers`` and ``ws_a`` elsewhere.

        Args:
            ws_a:       the first source, ``w [N, w_dim]`` (one w for every layer) or
                        ``ws [N, num_layers, w_dim]``.
            ws_b:       the second source, the same shapes; it gives the styles of ``layers``.
            layers:     a ``range`` of layer indices (e.g. ``lod.style_ranges(64)["coarse"]``),
                        or an int crossover ``c``: ``range(c, num_layers)``, so layers before
                        ``c`` keep ``ws_a`` (see :meth:`mixing_layers` for the checks).
            resolution: the resolution rendered, which bounds ``layers`` (None: the full one).

        Returns ``ws [N, num_layers, w_dim]``.
        """
        layers = self.mixing_layers(layers, resolution)
        ws_a, ws_b = self.synthesis.check_ws(ws_a), self.synthesis.check_ws(ws_b)
        from_b = torch.zeros(self.num_layers, dtype=torch.bool, device=ws_a.device)
        from_b[list(layers)] = True
        return torch.where(from_b.view(1, -1, 1), ws_b, ws_a)  # [N, L, w_dim]

    def mixing_regularization(self, w: Tensor, prob: float | None = None,
                              resolution: int | None = None) -> Tensor:
        """Training-time mixing (chapter 8): with probability ``prob``, a second ``z`` and a crossover.

        One coin and one crossover (uniform in ``[1, layers in use)``; at 4² that is always 1)
        per minibatch, as in the release; the layers from the crossover on take the second
        latent's ``w`` (:meth:`mix` with an int). Without mixing ``w`` is simply broadcast.

        Args:
            w:          mapped latents ``[N, w_dim]``.
            prob:       the chance of mixing this minibatch (None: the config's
                        ``style_mixing_prob``, 0.9 in the paper).
            resolution: the resolution being trained, which sets the layers in use (None: the
                        full one).

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
        """``z [N, z_dim] -> image [N, img_channels, res, res]`` in [-1, 1], roughly (chapters 5 to 9).

        Args:
            z:              the latents ``[N, z_dim]``.
            resolution:     the level of detail to render (None: the full resolution).
            alpha:          how far ``resolution`` has faded in, in [0, 1] (1: no fade).
            psi:            the truncation factor (1: no truncation, :meth:`truncate`).
            cutoff:         the first layer left untruncated (None: truncate every layer).
            noise_mode:     ``"random"``, ``"fixed"`` or ``"none"``, or one per layer.
            noise_strength: multiplies the noise, one value or one per layer (1: as trained).
            mixing_prob:    the chance of mixing regularisation in this call (0: none; the
                            training loop passes the config's ``style_mixing_prob``).

        The output is not clamped. Maps ``z``, applies the mixing regularisation if
        ``mixing_prob > 0`` (training), then truncation if ``psi != 1`` (figures), then
        renders. Pure: ``w_avg`` is updated only by :meth:`update_w_avg`, which the training
        loop calls with ``G.mapping(z)``.
        """
        w = self.mapping(z)  # [N, w_dim]
        ws = self.mixing_regularization(w, mixing_prob, resolution) if mixing_prob > 0 else self.broadcast(w)
        if psi != 1.0:
            ws = self.truncate(ws, psi, cutoff)
        return self.synthesis(ws, resolution, alpha, noise_mode, noise_strength)
