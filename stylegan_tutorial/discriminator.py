"""StyleGAN v1's discriminator: ProGAN's, with blurred downsampling (chapters 4 and 10).

It mirrors the synthesis network without styles or noise. An image enters through the
FromRGB layer of its resolution (1×1 conv + LeakyReLU); each block then halves the size:

    3×3 conv -> LeakyReLU -> blur -> 3×3 conv with 2× downsampling -> LeakyReLU

(the downsampling conv is fused into one stride-2 convolution from 128² up). At 4×4 the
minibatch standard deviation is appended as an extra feature map, followed by a 3×3 conv, a
dense layer and a final dense layer with gain 1 that outputs one logit per image. During a
fade-in the new block's features are blended with FromRGB of the 2×2-averaged image.
"""

from __future__ import annotations

import torch
from torch import nn

from stylegan_tutorial.configs import NetworkConfig
from stylegan_tutorial.images import downsample_2x
from stylegan_tutorial.layers import Blur, EqualizedConv2d, EqualizedLinear, MinibatchStddev
from stylegan_tutorial.lod import check_alpha, check_resolution

Tensor = torch.Tensor


class DiscriminatorBlock(nn.Module):
    """``[N, nf(res), res, res] -> [N, nf(res/2), res/2, res/2]``: conv, blur, conv down (chapter 4).

    ``resolution`` is the block's input size ``res``; ``config`` sets the channels, the blur
    and whether the downsampling convolution is fused.
    """

    def __init__(self, resolution: int, config: NetworkConfig):
        super().__init__()
        c, c_out = config.channels_at(resolution), config.channels_at(resolution // 2)
        self.conv0 = EqualizedConv2d(c, c, 3)
        self.blur = Blur(config.blur_filter) if config.blur_filter else nn.Identity()
        self.conv1 = EqualizedConv2d(c, c_out, 3, resample="down", fused=config.fused_at(resolution))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, H, W] -> [N, C', H/2, W/2]`` (chapter 4)."""
        x = self.act(self.conv0(x))  # [N, C, H, W]
        return self.act(self.conv1(self.blur(x)))  # [N, C', H/2, W/2]


class DiscriminatorEpilogue(nn.Module):
    """The 4×4 head: minibatch stddev -> 3×3 conv -> dense ``nf(0)`` -> dense 1, gain 1 (chapter 4).

    Without minibatch stddev when ``config.mbstd_group_size`` is 0 or 1.
    """

    def __init__(self, config: NetworkConfig):
        super().__init__()
        c = config.channels_at(4)
        extra = config.mbstd_num_features if config.mbstd_group_size > 1 else 0
        self.mbstd = MinibatchStddev(config.mbstd_group_size, config.mbstd_num_features) if extra else None
        self.conv = EqualizedConv2d(c + extra, c, 3)
        self.dense = EqualizedLinear(c * 16, config.nf(0))
        self.out = EqualizedLinear(config.nf(0), 1, gain=1.0)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, 4, 4] -> logits [N]`` (chapter 4)."""
        if self.mbstd is not None:
            x = self.mbstd(x)  # [N, C + 1, 4, 4]
        x = self.act(self.conv(x))  # [N, C, 4, 4]
        x = self.act(self.dense(x))  # [N, nf(0)]
        return self.out(x).squeeze(1)  # [N]


class Discriminator(nn.Module):
    """``D(img [N, img_channels, res, res], resolution, alpha) -> logits [N]`` (chapter 4).

    ``config`` is the :class:`~stylegan_tutorial.configs.NetworkConfig` that defines it.
    """

    def __init__(self, config: NetworkConfig):
        super().__init__()
        config.validate()
        self.config = config
        act = nn.LeakyReLU(0.2)
        self.from_rgb = nn.ModuleList(
            nn.Sequential(EqualizedConv2d(config.img_channels, config.channels_at(res), 1), act)
            for res in config.resolutions
        )
        # blocks[i] works at resolutions[i + 1] (8², 16², ...): there is none at 4²
        self.blocks = nn.ModuleList(DiscriminatorBlock(res, config) for res in config.resolutions[1:])
        self.epilogue = DiscriminatorEpilogue(config)

    def forward(self, img: Tensor, resolution: int | None = None, alpha: float = 1.0) -> Tensor:
        """Score images at ``resolution``, fading the newest block in by ``alpha`` (chapter 4).

        Args:
            img:        the images ``[N, img_channels, resolution, resolution]`` in [-1, 1].
            resolution: the level of detail being trained, up to the network's (None: the
                        images' size).
            alpha:      how far ``resolution`` has faded in, in [0, 1] (1: no fade).

        Returns logits ``[N]``: higher means "real". ``alpha = 1`` is the network at
        ``resolution``; ``alpha = 0`` is exactly the network at ``resolution / 2`` applied to the
        2×2-averaged images.
        """
        if img.ndim != 4:
            raise ValueError(f"img must have shape [N, C, H, W], got {tuple(img.shape)}")
        resolution = img.shape[-1] if resolution is None else resolution
        check_resolution(resolution, maximum=self.config.resolution)
        shape = (self.config.img_channels, resolution, resolution)
        if tuple(img.shape[1:]) != shape:
            raise ValueError(f"img must have shape [N, {', '.join(map(str, shape))}], got {tuple(img.shape)}")
        alpha = check_alpha(alpha)
        level = resolution.bit_length() - 3  # index of resolution in config.resolutions
        x = self.from_rgb[level](img)  # [N, C, res, res]
        if level > 0:
            x = self.blocks[level - 1](x)  # [N, C', res/2, res/2]
            if alpha < 1.0:
                old = self.from_rgb[level - 1](downsample_2x(img))  # [N, C', res/2, res/2]
                x = torch.lerp(old, x, alpha)
            for block in reversed(self.blocks[: level - 1]):
                x = block(x)
        return self.epilogue(x)  # [N]
