"""Chapter 7: noise injection by hand."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from stylegan_tutorial import layers
from stylegan_tutorial.exercises._common import (
    ExerciseError,
    Tensor,
    _call,
    _show,
)

_NOISE_NAME = "layer_epilogue"
_NOISE_ORDER = ("the epilogue is: add noise * noise_scale (right after the convolution), add the "
                "bias, LeakyReLU(0.2), instance norm, style")


def noise_epilogue_reference(x: Tensor, noise_scale: Tensor, bias: Tensor, ys: Tensor, yb: Tensor,
                             generator: torch.Generator) -> Tensor:
    """One synthesis layer's epilogue with its noise drawn from ``generator`` (chapter 7).

    Args:
        x:           the convolution's output ``[N, C, H, W]``.
        noise_scale: the learned per-channel noise factor ``[C]``.
        bias:        the layer's bias ``[C]``.
        ys, yb:      the style ``[N, C]`` each (chapter 6).
        generator:   the random stream of the noise: one N(0, 1) image ``[N, 1, H, W]``, drawn by
                     ``torch.randn(N, 1, H, W, generator=generator)``.

    The same computation as :class:`~stylegan_tutorial.synthesis.SynthesisLayer` after its
    convolution, with the noise passed in instead of drawn from torch's global stream.
    Returns ``[N, C, H, W]``.
    """
    n, _, h, w = x.shape
    noise = torch.randn(n, 1, h, w, generator=generator, dtype=x.dtype)  # [N, 1, H, W]
    x = x + noise * noise_scale.view(1, -1, 1, 1)  # one image per sample, a factor per channel
    x = F.leaky_relu(x + bias.view(1, -1, 1, 1), 0.2)
    return layers.adain(x, ys, yb)  # instance norm, then the style


def _noise_call(fn: Callable, x: Tensor, noise_scale: Tensor, bias: Tensor, ys: Tensor, yb: Tensor,
                seed: int | torch.Generator) -> Tensor:
    """The reader's epilogue on copies of the inputs; shape errors explained."""
    gen = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(seed)
    try:
        out = _call(_NOISE_NAME, fn, x.clone(), noise_scale.clone(), bias.clone(), ys.clone(),
                    yb.clone(), gen)
    except RuntimeError as err:
        raise ExerciseError(
            f"{_NOISE_NAME} raised {err.__class__.__name__}: {str(err).splitlines()[0]}. With x "
            f"[N, C, H, W] = {list(x.shape)}, the noise is [N, 1, H, W] and noise_scale [C] must "
            "be viewed as [1, C, 1, 1] (noise_scale.view(1, -1, 1, 1)) to broadcast over the "
            "channels; bias likewise") from None
    if not isinstance(out, Tensor):
        raise ExerciseError(f"{_NOISE_NAME} must return a torch.Tensor [N, C, H, W], got "
                            f"{type(out).__name__}")
    if tuple(out.shape) != tuple(x.shape):
        raise ExerciseError(f"{_NOISE_NAME} on x of shape {list(x.shape)}: expected an output of the "
                            f"same shape, got {list(out.shape)}. The noise [N, 1, H, W] broadcasts "
                            "over the channels; it does not add any")
    if not torch.isfinite(out).all():
        raise ExerciseError(f"{_NOISE_NAME} on x of shape {list(x.shape)}: the output is not finite. "
                            "A constant channel has variance 0: the instance norm needs its eps "
                            "(layers.adain has it)")
    return out


def _noise_case(constant_channel: bool = True) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The fixed input ``(x, noise_scale, bias, ys, yb)`` of :func:`check_noise_injection`.

    With ``constant_channel``, ``x[0, 2]`` is constant (variance 0: its gradients are rounding
    error times 1/sqrt(eps), so the gradient check leaves it out).
    """
    gen = torch.Generator().manual_seed(7)
    n, c, h, w = 4, 6, 8, 8  # W != C: an unreshaped scale fails loudly
    spread = torch.rand(n, c, 1, 1, generator=gen) * 2 + 0.5
    x = torch.randn(n, c, h, w, generator=gen) * spread + torch.randn(n, c, 1, 1, generator=gen)
    if constant_channel:
        x[0, 2] = 1.5  # a constant channel, with noise_scale 0 below: variance 0 after the noise
    noise_scale = torch.tensor([0.3, -0.8, 0.0, 1.2, 0.05, 0.6])
    bias = torch.randn(c, generator=gen) * 0.5
    ys = torch.randn(n, c, generator=gen) * 0.5
    yb = torch.randn(n, c, generator=gen) * 0.5
    return x, noise_scale, bias, ys, yb


def _noise_mistakes(fn: Callable) -> list[str]:
    """The named mistakes the reader's epilogue shows on a probe input where each leaves a trace.

    Every image and channel gets the same input ``20 + P`` (a fixed pattern P, so LeakyReLU is
    the identity), no bias and the identity style; channels 0 and 1 share the scale 0.5, 3 and 4
    share 1.0, channel 2 has none. Right, the output minus the noise-free ``instance_norm(P)``
    is zero on channel 2, equal on channels 0 and 1, different from image to image and from
    0.5 to 1.0, and every channel keeps mean 0 and standard deviation 1 (the identity style).
    """
    n, c, h, w = 4, 6, 8, 8
    pattern = torch.randn(h, w, generator=torch.Generator().manual_seed(3))
    x = (20.0 + pattern).expand(n, c, h, w).contiguous()
    scale = torch.tensor([0.5, 0.5, 0.0, 1.0, 1.0, -0.5])
    zeros = torch.zeros(n, c)
    out = _noise_call(fn, x, scale, torch.zeros(c), zeros, zeros, 11).detach().double()
    r = out - layers.instance_norm(x).double()  # [N, C, H, W]: what the noise did
    same = lambda a, b: torch.allclose(a, b, atol=1e-4)
    if same(r, torch.zeros_like(r)):
        return ["no noise reaches the output: add noise * noise_scale.view(1, -1, 1, 1) to x"]
    found = []
    if (out.std(dim=(2, 3), unbiased=False) - 1).abs().max() > 1e-3:
        found.append("the noise is added after the style instead of before: it must enter right "
                     "after the convolution, before the bias, the LeakyReLU and the instance norm, "
                     "so that the style alone sets each channel's mean and standard deviation")
    if not (same(r[:, 0], r[:, 1]) and same(r[:, 3], r[:, 4])):
        found.append("one noise image per channel instead of one broadcast over the channels: "
                     "draw a single-channel image [N, 1, H, W] and let it broadcast, so that every "
                     "channel sees the same noise, weighted by its own noise_scale")
    if same(r[0], r[1]):
        found.append("the noise is shared across the batch: every image needs its own noise, "
                     "torch.randn(N, 1, H, W), not one [1, 1, H, W] image for the whole batch")
    if not same(r[:, 2], torch.zeros_like(r[:, 2])) or same(r[:, 0], r[:, 3]):
        found.append("the scale is applied per layer instead of per channel: multiply the noise by "
                     "noise_scale.view(1, -1, 1, 1), one factor per channel (a channel whose "
                     "factor is 0 must get no noise)")
    return found


def check_noise_injection(fn: Callable) -> None:
    """Check a reader's layer epilogue ``fn(x, noise_scale, bias, ys, yb, generator)`` (chapter 7).

    Args:
        fn: the reader's function: ``x [N, C, H, W]`` (the convolution's output), ``noise_scale
            [C]``, ``bias [C]``, ``ys, yb [N, C]`` (the style) and a ``torch.Generator`` to draw
            the noise with; returns ``[N, C, H, W]``. The reference is
            :func:`noise_epilogue_reference`.

    Compares values with the reference on a fixed input, the noise drawn from identically seeded
    generators. When they differ, a probe input finds the named mistakes: one noise image per
    channel instead of broadcast, noise shared across the batch, the scale applied per layer
    instead of per channel, noise added after the style instead of before. Then checks that the
    noise comes from ``generator``, fresh on every call, and the gradients (``noise_scale`` is
    learned). Prints a pass or raises :class:`ExerciseError`.
    """
    name = _NOISE_NAME
    x, noise_scale, bias, ys, yb = _noise_case()
    data = (f"x {list(x.shape)}, noise_scale {[round(v, 2) for v in noise_scale.tolist()]}, "
            "bias [6], ys and yb [4, 6], a generator seeded with 0")
    quiet = _noise_call(fn, x, torch.zeros_like(noise_scale), bias, ys, yb, 0).detach()
    plain = layers.adain(F.leaky_relu(x + bias.view(1, -1, 1, 1), 0.2), ys, yb)
    if not torch.allclose(quiet, plain, rtol=1e-4, atol=1e-4):
        raise ExerciseError(
            f"{name} on {data} but noise_scale all 0: expected chapter 6's epilogue without noise, "
            f"starting {_show(plain[0, 0, 0, :4])}, got {_show(quiet[0, 0, 0, :4])}; {_NOISE_ORDER}")
    got = _noise_call(fn, x, noise_scale, bias, ys, yb, 0)
    expected = noise_epilogue_reference(x, noise_scale, bias, ys, yb, torch.Generator().manual_seed(0))
    if not torch.allclose(got.detach(), expected, rtol=1e-4, atol=1e-4):
        values = (f"expected (image 1, channel 1, first row) {_show(expected[1, 1, 0, :4])}, got "
                  f"{_show(got.detach()[1, 1, 0, :4])}")
        found = _noise_mistakes(fn)
        if found:
            raise ExerciseError(f"{name} on {data}: {values}: " + "; and ".join(found))
        _noise_raise_unnamed(fn, name, data, values, (x, noise_scale, bias, ys, yb))
    again = _noise_call(fn, x, noise_scale, bias, ys, yb, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(0)
    first, second = (_noise_call(fn, x, noise_scale, bias, ys, yb, gen).detach() for _ in range(2))
    if not torch.allclose(again.detach(), got.detach()) or torch.allclose(first, second):
        raise ExerciseError(f"{name}: draw the noise from the generator passed in, fresh on every "
                            "call: torch.randn(N, 1, H, W, generator=generator)")
    _check_noise_gradients(name, fn, _noise_case(constant_channel=False))
    print(f"✅ {name}: one noise image per sample, broadcast over the channels and scaled per "
          "channel before the bias, the LeakyReLU, the instance norm and the style, as in "
          "stylegan_tutorial.synthesis.SynthesisLayer")


def _noise_raise_unnamed(fn: Callable, name: str, data: str, values: str, case: tuple) -> None:
    """No named mistake showed: the noise's place, its source or its values are off."""
    x, noise_scale, bias, ys, yb = case
    noise = torch.randn(x.shape[0], 1, *x.shape[2:], generator=torch.Generator().manual_seed(0))
    late = layers.adain(F.leaky_relu(x + bias.view(1, -1, 1, 1), 0.2)
                         + noise * noise_scale.view(1, -1, 1, 1), ys, yb)
    got = _noise_call(fn, x, noise_scale, bias, ys, yb, 0).detach()
    if torch.allclose(got, late, rtol=1e-4, atol=1e-4):
        raise ExerciseError(f"{name} on {data}: {values}: the noise is added after the bias and the "
                            f"LeakyReLU; {_NOISE_ORDER}")
    twin = _noise_call(fn, x, noise_scale, bias, ys, yb, 0).detach()
    if not torch.allclose(got, twin):
        raise ExerciseError(f"{name} on {data}: {values}: two calls with identically seeded "
                            "generators differ, so the noise does not come from the generator "
                            "passed in: torch.randn(N, 1, H, W, generator=generator)")
    raise ExerciseError(
        f"{name} on {data}: {values}; the largest difference is "
        f"{(got - noise_epilogue_reference(*case, torch.Generator().manual_seed(0))).abs().max():.4g}. "
        "The noise is one N(0, 1) image per sample, torch.randn(N, 1, H, W, generator=generator), "
        f"times noise_scale.view(1, -1, 1, 1); {_NOISE_ORDER}")


def _check_noise_gradients(name: str, fn: Callable, case: tuple) -> None:
    """The reader's epilogue must pass gradients to x, noise_scale, bias, ys and yb."""
    mine = [t.clone().requires_grad_(True) for t in case]
    ref = [t.clone().requires_grad_(True) for t in case]
    value = _noise_call(fn, *mine, 0)
    if not value.requires_grad:
        raise ExerciseError(f"{name}: the values match but the result is detached from the inputs; "
                            "compute it with torch operations (no .detach(), .item() or NumPy)")
    weights = torch.linspace(-1, 1, value.numel()).view_as(value)
    got = torch.autograd.grad((value * weights).sum(), mine, allow_unused=True)
    expected = noise_epilogue_reference(*ref, torch.Generator().manual_seed(0))
    want = torch.autograd.grad((expected * weights).sum(), ref)
    for label, a, b in zip(("x", "noise_scale", "bias", "ys", "yb"), got, want):
        if a is None or not torch.allclose(a, b, rtol=1e-3, atol=1e-4):
            learned = (" (it is a learned parameter: the noise's strength is trained)"
                       if label == "noise_scale" else "")
            raise ExerciseError(f"{name}: the values match but the gradient with respect to {label} "
                                f"does not{learned}; is part of the computation detached?")
