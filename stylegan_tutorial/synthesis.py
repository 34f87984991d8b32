"""The synthesis network ``g: ws -> image`` (chapters 4, 6 and 7).

It starts from a learned 4×4 constant (initialised to ones) and doubles the resolution once
per block, two layers per resolution, ``2 log2(res) - 2`` layers in all (18 at 1024²).
Each layer ``i`` ends with the same *epilogue*, in the release's order:

    (conv) -> add noise -> add bias -> LeakyReLU(0.2) -> instance norm -> style from ws[:, i]

The first 4×4 layer has no convolution: its input is the constant. The first layer of every
later block upsamples (nearest ×2, 3×3 conv, blur; fused into one transposed convolution at
128² and above). Each resolution has a ToRGB layer (1×1 conv, gain 1), so the network can
produce an image at any level of detail; while a new resolution fades in, the output is the
blend ``lerp(upsample(rgb_old), rgb_new, alpha)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from stylegan_tutorial.configs import NetworkConfig
from stylegan_tutorial.images import upsample_2x
from stylegan_tutorial.layers import (
    Blur,
    EqualizedConv2d,
    EqualizedLinear,
    NoiseInjection,
    StyleMod,
    check_noise_mode,
    instance_norm,
    pixel_norm,
)
from stylegan_tutorial.lod import check_alpha, check_resolution, num_layers_at

Tensor = torch.Tensor


def per_layer(value, num_layers: int, name: str) -> list:
    """Broadcast a single ``value`` to ``num_layers`` layers, or check a sequence's length (chapter 7).

    Args:
        value:      one value for every layer (a str, int or float), or a sequence of one per
                    layer.
        num_layers: how many layers there are.
        name:       how the error message names the value (``"noise_mode"``, ...).

    Returns a list of ``num_layers`` values; a sequence of another length is a ValueError.
    """
    if isinstance(value, (str, int, float)):
        return [value] * num_layers
    values = list(value)
    if len(values) != num_layers:
        raise ValueError(
            f"{name} must be a single value or one per layer ({num_layers}), got {len(values)} values"
        )
    return values


class SynthesisLayer(nn.Module):
    """One synthesis layer: an optional 3×3 conv (upsampling or not), then the epilogue (chapters 6, 7).

    Args:
        in_channels: channels of the input ``[N, C_in, H, W]`` (unused when ``conv`` is None).
        channels:    channels of the output ``[N, C, H', W']``.
        resolution:  the output's size ``H'``: sets the noise image's size and whether the
                     upsampling convolution is fused.
        conv:        None (the first 4×4 layer: no convolution), ``"same"`` or ``"up"``.
        config:      the network's configuration: which parts of the epilogue exist follows
                     its Table 1 switches.
    """

    def __init__(self, in_channels: int, channels: int, resolution: int, conv: str | None,
                 config: NetworkConfig):
        super().__init__()
        self.conv = None
        self.blur = None
        if conv is not None:
            up = conv == "up"
            self.conv = EqualizedConv2d(in_channels, channels, 3, bias=False,
                                        resample="up" if up else None,
                                        fused=up and config.fused_at(resolution))
            if up and config.blur_filter:
                self.blur = Blur(config.blur_filter)
        self.noise = NoiseInjection(channels, resolution) if config.use_noise else None
        self.bias = nn.Parameter(torch.zeros(channels))
        self.act = nn.LeakyReLU(0.2)
        self.use_pixel_norm = config.use_pixel_norm
        self.use_instance_norm = config.use_instance_norm
        self.style = StyleMod(config.w_dim, channels) if config.use_styles else None

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "random",
                noise_strength: float = 1.0) -> Tensor:
        """``x [N, C_in, H, W]``, ``w [N, w_dim]`` -> ``[N, C, H', W']`` (chapters 6 and 7).

        Args:
            x:              the previous layer's output ``[N, C_in, H, W]`` (the 4×4 input for
                            the first layer).
            w:              this layer's style input ``[N, w_dim]``.
            noise_mode:     ``"random"``, ``"fixed"`` or ``"none"`` (see
                            :class:`~stylegan_tutorial.layers.NoiseInjection`).
            noise_strength: multiplies the noise (1: the trained network).

        ``H' = 2H`` if the layer upsamples, else ``H``.
        """
        if self.conv is not None:
            x = self.conv(x)
        if self.blur is not None:
            x = self.blur(x)
        if self.noise is not None:
            x = self.noise(x, noise_mode, noise_strength)
        x = self.act(x + self.bias.view(1, -1, 1, 1))
        if self.use_pixel_norm:
            x = pixel_norm(x)
        if self.use_instance_norm:
            x = instance_norm(x)
        if self.style is not None:
            x = self.style(x, w)
        return x


class SynthesisInput(nn.Module):
    """The 4×4 starting tensor: the learned constant, or ProGAN's dense layer on ``w`` (chapter 7).

    ``channels`` is C of the output ``[N, C, 4, 4]``; ``config.const_input`` chooses the form.
    The constant is initialised to ones.
    The dense form (Table 1 rows A to C) maps ``ws[:, 0]`` to ``C × 4 × 4`` with gain
    ``sqrt(2)/4``, as the release does to match ProGAN.
    """

    def __init__(self, channels: int, config: NetworkConfig):
        super().__init__()
        self.channels = channels
        if config.const_input:
            self.const = nn.Parameter(torch.ones(1, channels, 4, 4))
            self.dense = None
        else:
            self.const = None
            self.dense = EqualizedLinear(config.w_dim, channels * 16, gain=math.sqrt(2) / 4,
                                         bias=False)

    def forward(self, w: Tensor) -> Tensor:
        """``w [N, w_dim] -> [N, C, 4, 4]``; the constant only uses ``w``'s batch size N (chapter 7)."""
        if self.const is not None:
            return self.const.repeat(w.shape[0], 1, 1, 1)
        return self.dense(w).view(-1, self.channels, 4, 4)


class SynthesisNetwork(nn.Module):
    """``ws [N, num_layers, w_dim] -> image [N, img_channels, res, res]`` (chapters 4 and 6).

    Renders at any level of detail ``res`` up to ``config.resolution``.
    """

    def __init__(self, config: NetworkConfig):
        super().__init__()
        self.config = config
        self.num_layers = config.num_layers
        self.w_dim = config.w_dim
        ch4 = config.channels_at(4)
        self.input = SynthesisInput(ch4, config)
        layers = [SynthesisLayer(ch4, ch4, 4, None, config), SynthesisLayer(ch4, ch4, 4, "same", config)]
        for res in config.resolutions[1:]:
            c_in, c = config.channels_at(res // 2), config.channels_at(res)
            layers.append(SynthesisLayer(c_in, c, res, "up", config))
            layers.append(SynthesisLayer(c, c, res, "same", config))
        self.layers = nn.ModuleList(layers)
        self.to_rgb = nn.ModuleList(
            EqualizedConv2d(config.channels_at(res), config.img_channels, 1, gain=1.0)
            for res in config.resolutions
        )

    def check_ws(self, ws: Tensor) -> Tensor:
        """Accept ``w [N, w_dim]`` (same w for every layer) or ``ws [N, num_layers, w_dim]`` (chapter 6).

        Returns ``ws [N, num_layers, w_dim]``; any other shape is a ValueError.
        """
        if ws.ndim == 2 and ws.shape[1] == self.w_dim:
            return ws.unsqueeze(1).expand(-1, self.num_layers, -1)  # [N, L, w_dim]
        if ws.ndim == 3 and ws.shape[1:] == (self.num_layers, self.w_dim):
            return ws
        raise ValueError(
            f"ws must have shape [N, {self.num_layers}, {self.w_dim}] (or w [N, {self.w_dim}]), "
            f"got {tuple(ws.shape)}"
        )

    def forward(
        self,
        ws: Tensor,
        resolution: int | None = None,
        alpha: float = 1.0,
        noise_mode: str | Sequence[str] = "random",
        noise_strength: float | Sequence[float] = 1.0,
    ) -> Tensor:
        """Render ``ws`` at ``resolution``, fading the newest block in by ``alpha`` (chapters 4 and 6).

        Args:
            ws:             the styles ``[N, num_layers, w_dim]``, or one ``w [N, w_dim]`` for
                            every layer; layers above ``resolution`` are ignored.
            resolution:     the level of detail to render, a power of two up to the network's
                            (None: the network's full resolution).
            alpha:          how far ``resolution`` has faded in, in [0, 1]: 1 is the network
                            at ``resolution``, 0 exactly the nearest-upsampled output at
                            ``resolution / 2``.
            noise_mode:     ``"random"``, ``"fixed"`` or ``"none"``, or a sequence of one per
                            layer (``num_layers`` of them).
            noise_strength: multiplies the noise, one value or a sequence of one per layer.

        Returns ``[N, img_channels, resolution, resolution]``.
        """
        ws = self.check_ws(ws)
        resolution = check_resolution(
            self.config.resolution if resolution is None else resolution, maximum=self.config.resolution
        )
        alpha = check_alpha(alpha)
        modes = [check_noise_mode(m) for m in per_layer(noise_mode, self.num_layers, "noise_mode")]
        strengths = per_layer(noise_strength, self.num_layers, "noise_strength")

        n_use = num_layers_at(resolution)
        fade = alpha < 1.0 and resolution > 4
        x = self.input(ws[:, 0])  # [N, C, 4, 4]
        x_prev = x
        for i in range(n_use):
            if i == n_use - 2:
                x_prev = x  # [N, C', res/2, res/2], the input of the newest block
            x = self.layers[i](x, ws[:, i], modes[i], strengths[i])
        level = n_use // 2 - 1  # index of the ToRGB at this resolution
        img = self.to_rgb[level](x)  # [N, 3, res, res]
        if fade:
            old = upsample_2x(self.to_rgb[level - 1](x_prev))  # [N, 3, res, res]
            img = torch.lerp(old, img, alpha)
        return img
