"""StyleGAN's building blocks, each small enough to check by hand (chapters 4, 6 and 7).

Every learned layer here uses the *equalized learning rate* of ProGAN: a weight is stored with
a unit-scale initialisation and multiplied at run time by the He constant
``gain / sqrt(fan_in)``. Adam divides each update by a running gradient scale, so storing the
weights at unit scale makes every layer learn at the same speed whatever its fan-in. A
*learning-rate multiplier* ``lrmul`` slows a layer down by the same trick: the weight is stored
``lrmul`` times larger than its effective value would suggest (``N(0, 1/lrmul)``) and scaled back
by ``lrmul`` at run time, so a step of Adam moves the effective weight ``lrmul`` times less.
The mapping network uses ``lrmul = 0.01``.

The rest are the operations the paper adds or keeps from ProGAN: pixel norm, instance norm,
the normalised ``[1, 2, 1]`` blur, up/down-sampling convolutions (fused into one strided
convolution at 128² and above), per-layer noise, the style step ``x * (ys + 1) + yb`` and the
discriminator's minibatch standard deviation.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from stylegan_tutorial.images import downsample_2x, upsample_2x

Tensor = torch.Tensor

NOISE_MODES = ("random", "fixed", "none")


# --------------------------------------------------------------------------------------------
# Equalized learning rate
# --------------------------------------------------------------------------------------------


def equalized_scale(fan_in: int, gain: float = math.sqrt(2), lrmul: float = 1.0) -> float:
    """The run-time weight multiplier ``gain / sqrt(fan_in) * lrmul`` of an equalized layer (chapter 4).

    Args:
        fan_in: inputs per output: ``in_features``, or ``in_channels * kernel²`` for a conv.
        gain:   the He gain (sqrt(2) before a LeakyReLU or ReLU, 1 for a linear output).
        lrmul:  the learning-rate multiplier (1: none; the mapping network uses 0.01).
    """
    if fan_in <= 0:
        raise ValueError(f"fan_in must be a positive integer, got {fan_in!r}")
    return gain / math.sqrt(fan_in) * lrmul


def _check_channels(name: str, value: int) -> None:
    """Raise a ValueError unless ``value`` is a positive integer number of channels/features."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class EqualizedLinear(nn.Module):
    """A dense layer ``y = x W^T * scale + b * lrmul`` with an equalized learning rate (chapter 4).

    Args:
        in_features:  width of the input ``[N, in_features]``.
        out_features: width of the output ``[N, out_features]``.
        gain:         the He gain of :func:`equalized_scale` (sqrt(2): before a LeakyReLU).
        lrmul:        the learning-rate multiplier, > 0 (1: none; the mapping network's 0.01).
        bias:         whether the layer has a bias (False: ``b`` is left out).
        bias_init:    the effective bias at initialisation.

    The weight ``[out_features, in_features]`` is initialised ``N(0, 1/lrmul)`` and the bias
    with ``bias_init / lrmul``, so that at initialisation the effective layer is He-initialised
    with gain ``gain`` and an effective bias of ``bias_init``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        gain: float = math.sqrt(2),
        lrmul: float = 1.0,
        bias: bool = True,
        bias_init: float = 0.0,
    ):
        super().__init__()
        _check_channels("in_features", in_features)
        _check_channels("out_features", out_features)
        if not lrmul > 0:
            raise ValueError(f"lrmul must be positive, got {lrmul!r}")
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lrmul)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lrmul)) if bias else None
        self.scale = equalized_scale(in_features, gain, lrmul)
        self.lrmul = lrmul

    def forward(self, x: Tensor) -> Tensor:
        """``[N, in_features] -> [N, out_features]`` (chapter 4).

        An input with more dimensions, ``[N, ...]``, is flattened to ``[N, in_features]`` first.
        """
        x = x.flatten(1)  # [N, in_features]
        bias = None if self.bias is None else self.bias * self.lrmul
        if x.shape[0] * self.weight.shape[0] < self.weight.numel():  # the output is smaller
            y = F.linear(x, self.weight) * self.scale  # [N, out_features]
            return y if bias is None else y + bias
        return F.linear(x, self.weight * self.scale, bias)

    def extra_repr(self) -> str:
        """Widths, scale and ``lrmul``, as ``print(layer)`` shows them (chapter 4)."""
        out_f, in_f = self.weight.shape
        return f"{in_f} -> {out_f}, scale={self.scale:.4g}, lrmul={self.lrmul}"


class EqualizedConv2d(nn.Module):
    """A ``kernel × kernel`` convolution with an equalized learning rate and resampling (chapter 4).

    Args:
        in_channels:  channels of the input ``[N, C_in, H, W]``.
        out_channels: channels of the output ``[N, C_out, H', W']``.
        kernel:       the kernel size, a positive odd integer (3: 3×3, 1: the 1×1 ToRGB).
        gain:         the He gain of :func:`equalized_scale` (sqrt(2): before a LeakyReLU).
        bias:         whether the layer has a bias (False: none).
        resample:     None (same size), ``"up"`` or ``"down"``.
        fused:        one strided convolution for the resampling and the convolution (ignored
                      when ``resample`` is None).

    ``resample`` is ``None`` (same size), ``"up"`` (nearest ×2, then the convolution) or
    ``"down"`` (the convolution, then a 2×2 average). With ``fused=True`` the two steps become
    one strided (transposed) convolution with a 4×4 kernel built from the same 3×3 weight: the
    result is identical, but the large upsampled activation is never materialised. The paper
    uses the fused form at 128² and above.
    The bias (if any) is added after the resampling.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int = 3,
        gain: float = math.sqrt(2),
        bias: bool = True,
        resample: str | None = None,
        fused: bool = False,
    ):
        super().__init__()
        _check_channels("in_channels", in_channels)
        _check_channels("out_channels", out_channels)
        if not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel must be a positive odd integer, got {kernel!r}")
        if resample not in (None, "up", "down"):
            raise ValueError(f"resample must be None, 'up' or 'down', got {resample!r}")
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = equalized_scale(in_channels * kernel * kernel, gain)
        self.resample = resample
        self.fused = fused and resample is not None

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C_in, H, W] -> [N, C_out, H', W']`` with ``H' = 2H``, ``H`` or ``H/2`` (chapter 4).

        The He constant multiplies whichever is smaller, the weight or the output (the same
        number either way; at low resolutions and the paper's widths the output is smaller).
        """
        w = self.weight  # [C_out, C_in, k, k]
        size = x.shape[0] * w.shape[0] * x.shape[2] * x.shape[3] * (4 if self.resample == "up" else 1)
        scale_output = size < w.numel()
        if not scale_output:
            w = w * self.scale
        if self.resample == "up" and self.fused:
            x = F.conv_transpose2d(x, _fused_up_kernel(w), stride=2, padding=1)  # [N, C_out, 2H, 2W]
        elif self.resample == "down" and self.fused:
            x = F.conv2d(x, _fused_down_kernel(w), stride=2, padding=1)  # [N, C_out, H/2, W/2]
        else:
            if self.resample == "up":
                x = upsample_2x(x)  # [N, C_in, 2H, 2W]
            x = conv2d_same(x, w)
            if self.resample == "down":
                x = downsample_2x(x)  # [N, C_out, H/2, W/2]
        if scale_output:
            x = x * self.scale
        if self.bias is not None:
            x = x + self.bias.view(1, -1, 1, 1)
        return x

    def extra_repr(self) -> str:
        """Channels, kernel, scale and resampling, as ``print(layer)`` shows them (chapter 4)."""
        c_out, c_in, k, _ = self.weight.shape
        return (f"{c_in} -> {c_out}, kernel={k}, scale={self.scale:.4g}, "
                f"resample={self.resample}, fused={self.fused}")


# R1 asks for d D(x) / d x with the graph kept, then differentiates that gradient again. PyTorch's
# own second derivative of a convolution computes its weight term as one convolution with batch
# and channels swapped, which runs about 2.3 times slower on the CPU than the same product inside
# convolution_backward (benchmarks/training.md). _Conv2d writes the input gradient as the
# transposed convolution it is, so the second derivative is that op's ordinary backward.
_input_gradients_only = contextvars.ContextVar("input_gradients_only", default=False)


@contextlib.contextmanager
def input_gradients_only():
    """Within this block, backward passes through :class:`EqualizedConv2d` skip weight gradients (chapter 10).

    For ``torch.autograd.grad(outputs, inputs, create_graph=True)`` when only the inputs'
    gradient is wanted (R1, the WGAN gradient penalty): the weights' gradient of that pass would
    be computed and thrown away.
    """
    token = _input_gradients_only.set(True)
    try:
        yield
    finally:
        _input_gradients_only.reset(token)


class _Conv2d(torch.autograd.Function):
    """``F.conv2d(x, w, padding)`` (stride 1) whose input gradient is a differentiable transposed conv."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, padding: int) -> Tensor:
        ctx.save_for_backward(x, w)
        ctx.padding = padding
        return F.conv2d(x, w, padding=padding)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, w = ctx.saved_tensors
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = F.conv_transpose2d(grad, w, padding=ctx.padding)  # the adjoint: same size as x
        if ctx.needs_input_grad[1] and not _input_gradients_only.get():
            grad_w = torch.nn.grad.conv2d_weight(x, w.shape, grad, padding=ctx.padding)
        return grad_x, grad_w, None


def _autocast_on(device_type: str) -> bool:
    """Whether ``torch.autocast`` is active for ``device_type`` (PyTorch before 2.4 asked per device)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # PyTorch < 2.4
        return torch.is_autocast_enabled() if device_type == "cuda" else torch.is_autocast_cpu_enabled()
    except RuntimeError:  # a device autocast does not know, such as "meta" (shapes, no data)
        return False


def conv2d_same(x: Tensor, w: Tensor) -> Tensor:
    """A stride-1 ``k × k`` convolution keeping the size: ``[N, C_in, H, W] -> [N, C_out, H, W]`` (ch. 10).

    The same numbers as ``F.conv2d(x, w, padding=k // 2)``; the gradient of its gradient (R1)
    costs one ``convolution_backward`` instead of PyTorch's slower generic formula. Under
    ``torch.autocast`` it is ``F.conv2d`` itself.
    """
    pad = w.shape[-1] // 2
    if _autocast_on(x.device.type) or not torch.is_grad_enabled():
        return F.conv2d(x, w, padding=pad)  # plain path
    return _Conv2d.apply(x, w, pad)


def _sum_of_shifts(w: Tensor) -> Tensor:
    """Pad a ``k × k`` kernel to ``k+2`` and add its four 1-pixel shifts: a ``(k+1)²`` kernel."""
    w = F.pad(w, [1, 1, 1, 1])
    return w[..., 1:, 1:] + w[..., :-1, 1:] + w[..., 1:, :-1] + w[..., :-1, :-1]


def _fused_up_kernel(w: Tensor) -> Tensor:
    """The transposed-conv kernel ``[C_in, C_out, 4, 4]`` equal to nearest ×2 then conv ``w``.

    A transposed convolution correlates with the flipped kernel, hence the flip. (The TF
    release skips the flip; for a learned weight that is only a relabelling.)
    """
    w = w.transpose(0, 1).flip([2, 3])  # [C_in, C_out, 3, 3]
    return _sum_of_shifts(w)


def _fused_down_kernel(w: Tensor) -> Tensor:
    """The stride-2 conv kernel ``[C_out, C_in, 4, 4]`` equal to conv ``w`` then a 2×2 average."""
    return _sum_of_shifts(w) * 0.25


# --------------------------------------------------------------------------------------------
# Blur (the 2×2 resampling itself is in :mod:`stylegan_tutorial.images`)
# --------------------------------------------------------------------------------------------


def blur_kernel(taps: Sequence[float] = (1, 2, 1)) -> Tensor:
    """The separable low-pass kernel ``f ⊗ f / sum`` of the 1-D ``taps`` f, ``[k, k]`` (chapter 4).

    For ``[1, 2, 1]`` it is ``[1, 2, 1] / 4`` outer itself; it sums to 1.
    """
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim != 1 or len(f) == 0:
        raise ValueError(f"taps must be a non-empty 1-D sequence, got {taps!r}")
    k = torch.outer(f, f)
    return k / k.sum()  # [k, k]


def _depthwise(x: Tensor, kernel: Tensor) -> Tensor:
    """Correlate every channel of ``x [N, C, H, W]`` with ``kernel [k, k]``, zero-padded to size."""
    c = x.shape[1]
    k = kernel.to(x.dtype).expand(c, 1, *kernel.shape)  # [C, 1, k, k]
    return F.conv2d(x, k, padding=kernel.shape[-1] // 2, groups=c)


class _BlurFunction(torch.autograd.Function):
    """A depthwise blur whose gradient is again a blur, with the flipped kernel, at every order.

    PyTorch differentiates a grouped convolution twice (R1's gradient of a gradient) by splitting
    it into one small convolution per channel; here the backward of a blur is the blur itself
    (with ``kernel`` flipped: the adjoint of a correlation), so the second derivative costs one
    depthwise convolution like the first. The kernel is a constant and gets no gradient.
    """

    @staticmethod
    def forward(ctx, x: Tensor, kernel: Tensor) -> Tensor:
        ctx.save_for_backward(kernel)
        return _depthwise(x, kernel)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (kernel,) = ctx.saved_tensors
        return _BlurFunction.apply(grad, kernel.flip([0, 1])), None


class Blur(nn.Module):
    """Low-pass filter every channel with :func:`blur_kernel`, one depthwise convolution (chapter 4).

    StyleGAN blurs right after each upsampling (and before each downsampling) to suppress the
    blocky, aliased pattern that nearest-neighbour resampling leaves behind. Its gradient, and
    the gradient of that (R1 differentiates the discriminator twice), are blurs too, each one
    depthwise convolution (``_BlurFunction``).
    """

    def __init__(self, taps: Sequence[float] = (1, 2, 1)):
        super().__init__()
        if len(taps) % 2 == 0:
            raise ValueError(f"taps must have an odd length, so that the blur keeps the size; got {taps!r}")
        self.register_buffer("kernel", blur_kernel(taps), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, H, W] -> [N, C, H, W]``, zero padding at the border (chapter 4)."""
        return _BlurFunction.apply(x, self.kernel)


# --------------------------------------------------------------------------------------------
# Normalisations and the style step
# --------------------------------------------------------------------------------------------


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Scale each feature vector (dim 1) to unit root-mean-square: ProGAN's pixel norm (chapter 4).

    ``x`` is ``[N, C]`` or ``[N, C, H, W]``; ``eps`` keeps a zero vector finite.

    Applied to ``z`` it puts every latent on the sphere of radius ``sqrt(dim)``.
    """
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def instance_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Normalise each channel of each image to zero mean and unit variance over its pixels (chapter 6).

    ``[N, C, H, W] -> [N, C, H, W]``; ``eps`` keeps a constant channel finite. It computes

        x = x - x.mean(dim=(2, 3), keepdim=True)
        x * rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + eps)

    with PyTorch's own kernel, about twice as fast on the CPU as those two lines
    (``benchmarks/training.md``).
    """
    return F.instance_norm(x, eps=eps)


def apply_style(x: Tensor, ys: Tensor, yb: Tensor) -> Tensor:
    """The style step ``x * (ys + 1) + yb`` with per-image, per-channel styles (chapter 6).

    Args:
        x:  the activations ``[N, C, H, W]``.
        ys: the style's scale ``[N, C]`` (0: keep the channel's scale).
        yb: the style's bias ``[N, C]`` (0: keep the channel's mean).

    Returns ``[N, C, H, W]``.
    The ``+ 1`` makes a zero style the identity, so a zero-initialised affine bias starts
    every layer unmodulated.
    """
    return x * (ys + 1).view(*ys.shape, 1, 1) + yb.view(*yb.shape, 1, 1)


def adain(x: Tensor, ys: Tensor, yb: Tensor, eps: float = 1e-8) -> Tensor:
    """Adaptive instance norm: :func:`instance_norm` then :func:`apply_style` (chapter 6).

    Args:
        x:   the activations ``[N, C, H, W]``.
        ys:  the style's scale ``[N, C]``.
        yb:  the style's bias ``[N, C]``.
        eps: added to the variance, so that a constant channel stays finite.

    Afterwards channel ``c`` of image ``n`` has mean ``yb[n, c]`` and standard deviation
    ``|ys[n, c] + 1|``: the style alone sets each channel's first two moments.
    """
    return apply_style(instance_norm(x, eps), ys, yb)


class StyleMod(nn.Module):
    """The learned affine map ``A``: ``w -> (ys, yb)``, then :func:`apply_style` (chapter 6).

    One equalized dense layer with gain 1 and ``2 * channels`` outputs per synthesis layer.
    """

    def __init__(self, w_dim: int, channels: int):
        super().__init__()
        _check_channels("channels", channels)
        self.channels = channels
        self.affine = EqualizedLinear(w_dim, 2 * channels, gain=1.0)

    def styles(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """``w [N, w_dim] -> (ys [N, C], yb [N, C])``: the style of every image (chapter 6)."""
        style = self.affine(w).view(-1, 2, self.channels)  # [N, 2, C]
        return style[:, 0], style[:, 1]

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """Modulate ``x [N, C, H, W]`` by the style computed from ``w [N, w_dim]`` (chapter 6)."""
        ys, yb = self.styles(w)
        return apply_style(x, ys, yb)


# --------------------------------------------------------------------------------------------
# Noise inputs
# --------------------------------------------------------------------------------------------


def check_noise_mode(noise_mode: str) -> str:
    """Return ``noise_mode`` if it is one of :data:`NOISE_MODES`, else raise a ValueError (chapter 7)."""
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
    return noise_mode


class NoiseInjection(nn.Module):
    """Add ``strength * scale[c] * noise``, where ``noise [N, 1, H, W]`` is one N(0, 1) image (chapter 7).

    ``channels`` is C, the number of learned scales; ``resolution`` the size of the stored
    noise image.

    The single-channel noise image is broadcast over all channels and weighted by a learned
    per-channel ``scale`` (initialised to 0, so a new network starts noise-free). Modes:
    ``"random"`` draws a fresh image per sample and call; ``"fixed"`` reuses the stored buffer
    ``noise [1, 1, res, res]`` (drawn once at construction); ``"none"`` adds nothing.
    ``strength`` scales the noise for figures (1 is the trained network).
    """

    def __init__(self, channels: int, resolution: int):
        super().__init__()
        _check_channels("channels", channels)
        self.scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("noise", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: Tensor, noise_mode: str = "random", strength: float = 1.0) -> Tensor:
        """``[N, C, H, W] -> [N, C, H, W]``: the activations plus the scaled noise (chapter 7).

        Args:
            x:          the activations ``[N, C, H, W]``.
            noise_mode: ``"random"`` (a fresh image per sample), ``"fixed"`` (the stored one)
                        or ``"none"`` (``x`` unchanged).
            strength:   multiplies the noise (1: the trained network; 0: none).
        """
        check_noise_mode(noise_mode)
        if noise_mode == "none" or strength == 0:
            return x
        if noise_mode == "random":
            n, _, h, w = x.shape
            noise = torch.randn(n, 1, h, w, device=x.device, dtype=x.dtype)  # [N, 1, H, W]
        else:
            noise = self.noise.to(x.dtype)  # [1, 1, H, W]
        return x + noise * (strength * self.scale.view(1, -1, 1, 1))


# --------------------------------------------------------------------------------------------
# Minibatch standard deviation
# --------------------------------------------------------------------------------------------


def minibatch_stddev(x: Tensor, group_size: int = 4, num_features: int = 1) -> Tensor:
    """Append ``num_features`` maps holding the average standard deviation across a group (chapter 4).

    Args:
        x:            the discriminator's activations ``[N, C, H, W]``; N must be divisible by
                      ``min(group_size, N)``.
        group_size:   images per group (fewer if the batch is smaller).
        num_features: channel groups, each with its own statistic; must divide C.

    The batch is split into groups of ``G = min(group_size, N)`` images: image ``i`` joins
    group ``i mod (N / G)``. For each group, the standard deviation of every feature over
    its ``G`` members is averaged over channels (in ``num_features`` channel groups) and
    pixels, and the resulting number is appended as a constant map to each member. A
    discriminator that sees this can tell a batch of near-identical fakes from real data.
    ``[N, C, H, W] -> [N, C + num_features, H, W]``.
    """
    n, c, h, w = x.shape
    g = min(group_size, n)
    if n % g != 0:
        raise ValueError(
            f"the batch size must be divisible by the minibatch-stddev group size: "
            f"got batch {n} and group_size {group_size}"
        )
    if c % num_features != 0:
        raise ValueError(f"num_features must divide the {c} channels, got {num_features!r}")
    y = x.reshape(g, -1, num_features, c // num_features, h, w)  # [G, M, F, C/F, H, W]
    y = y.float()
    y = (y - y.mean(dim=0)).square().mean(dim=0)  # [M, F, C/F, H, W] variance over the group
    y = (y + 1e-8).sqrt()
    y = y.mean(dim=(2, 3, 4))  # [M, F]
    y = y.to(x.dtype).view(-1, num_features, 1, 1).repeat(g, 1, h, w)  # [N, F, H, W]
    return torch.cat([x, y], dim=1)


class MinibatchStddev(nn.Module):
    """Module form of :func:`minibatch_stddev`, with its ``group_size`` and ``num_features`` (chapter 4)."""

    def __init__(self, group_size: int = 4, num_features: int = 1):
        super().__init__()
        self.group_size = group_size
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, H, W] -> [N, C + num_features, H, W]`` (chapter 4)."""
        return minibatch_stddev(x, self.group_size, self.num_features)

    def extra_repr(self) -> str:
        """The group size and feature count, as ``print(layer)`` shows them (chapter 4)."""
        return f"group_size={self.group_size}, num_features={self.num_features}"
