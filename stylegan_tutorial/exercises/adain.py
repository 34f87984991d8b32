"""Chapter 6: AdaIN by hand."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch

from stylegan_tutorial import layers
from stylegan_tutorial.exercises._common import (
    ExerciseError,
    Tensor,
    _call,
    _show,
)

_ADAIN_EPS = 1e-8  # the package's ε, added to the variance


def _adain_variant(x: Tensor, ys: Tensor, yb: Tensor, dims=(2, 3), eps_on: str = "var",
                   plus_one: bool = True, swapped: bool = False, unbiased: bool = False) -> Tensor:
    """AdaIN written the way a reader might, right or wrong: each keyword is one possible mistake.

    ``dims`` are the axes the statistics are taken over ((2, 3): per image and channel, right);
    ``eps_on`` is where ε goes ("var", right; "std"; "none"); ``plus_one`` whether the scale is
    ``ys + 1``; ``swapped`` whether ``ys`` and ``yb`` trade places; ``unbiased`` whether the
    variance divides by n - 1.
    """
    if swapped:
        ys, yb = yb, ys
    centred = x - x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=unbiased)
    if eps_on == "var":
        normed = centred / torch.sqrt(var + _ADAIN_EPS)
    elif eps_on == "std":
        normed = centred / (torch.sqrt(var) + _ADAIN_EPS)
    else:
        normed = centred / torch.sqrt(var)
    scale = ys + 1 if plus_one else ys
    return normed * scale[:, :, None, None] + yb[:, :, None, None]


def _adain_mistakes(x: Tensor, ys: Tensor, yb: Tensor) -> list[tuple[Tensor, str]]:
    """Every combination of the common mistakes, each with a message naming all of its mistakes."""
    axes = {(2, 3): None,
            (0, 2, 3): "you normalised over the batch (dims 0, 2, 3: that is batch norm); instance "
                       "norm takes each image's own statistics, per channel, over its pixels: "
                       "dim=(2, 3)",
            (1, 2, 3): "you normalised over all channels at once (dims 1, 2, 3: that is layer "
                       "norm); instance norm gives every channel of every image its own mean "
                       "and standard deviation, over its pixels: dim=(2, 3)",
            (0, 1, 2, 3): "you normalised over the whole batch and all channels at once; instance "
                          "norm takes each image's and each channel's own statistics: dim=(2, 3)"}
    eps = {"var": None,
           "std": "ε is added to the standard deviation; add it to the variance, under the "
                  "square root: (x - mean) / sqrt(var + eps)",
           "none": "ε is missing: add it to the variance, (x - mean) / sqrt(var + eps)"}
    plus_one = {True: None, False: "the +1 is missing: the scale is (ys + 1), so that a zero "
                                   "style keeps the channel's scale"}
    swapped = {False: None, True: "scale and bias are swapped: ys scales the normalised "
                                  "channel and yb shifts it, x_norm * (ys + 1) + yb"}
    unbiased = {False: None, True: "you used the unbiased variance (dividing by n - 1, "
                                   "torch.var's and torch.std's default); instance norm divides "
                                   "by n, unbiased=False"}
    mistakes = [(layers.apply_style(x, ys, yb), "the instance norm is missing: normalise each channel "
                                                "of each image first, then apply the style"),
                (layers.instance_norm(x, _ADAIN_EPS), "the style is missing: after normalising, "
                                                      "multiply by (ys + 1) and add yb")]
    for d, e, p, s, u in itertools.product(axes, eps, plus_one, swapped, unbiased):
        hints = [h for h in (axes[d], eps[e], plus_one[p], swapped[s], unbiased[u]) if h]
        if hints:
            wrong = _adain_variant(x, ys, yb, dims=d, eps_on=e, plus_one=p, swapped=s, unbiased=u)
            mistakes.append((wrong, "; and ".join(hints)))
    return sorted(mistakes, key=lambda m: m[1].count("; and "))  # single mistakes first (stable)


def _adain_cases() -> list[tuple[str, Tensor, Tensor, Tensor, Tensor]]:
    """The fixed inputs ``(description, x, ys, yb, expected)`` of :func:`check_adain`."""
    gen = torch.Generator().manual_seed(6)
    n, c, h, w = 3, 4, 5, 5
    offset = torch.randn(n, c, 1, 1, generator=gen, dtype=torch.float64) * 3
    spread = torch.rand(n, c, 1, 1, generator=gen, dtype=torch.float64) * 4 + 0.5
    x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64) * spread + offset
    ys = torch.randn(n, c, generator=gen, dtype=torch.float64) * 0.7
    yb = torch.randn(n, c, generator=gen, dtype=torch.float64) * 0.7 + 0.3
    cases = [(f"activations x [{n}, {c}, {h}, {w}] (each image and channel with its own mean and "
              f"std) and styles ys, yb [{n}, {c}]", x, ys, yb, layers.adain(x, ys, yb, _ADAIN_EPS))]
    with torch.random.fork_rng(devices=[]):  # leave the reader's random state alone
        torch.manual_seed(6)
        affine = layers.StyleMod(8, c)  # the affine A: w [N, 8] -> (ys, yb) [N, C] each
    with torch.no_grad():
        affine.affine.bias.add_(0.5 * torch.randn(2 * c, generator=gen))
    latent = torch.randn(n, 8, generator=gen)  # w [N, 8]
    x32 = x.float()
    with torch.no_grad():
        ys_a, yb_a = affine.styles(latent)
        expected = affine(layers.instance_norm(x32, _ADAIN_EPS), latent)  # StyleMod after instance norm
    cases.append((f"the same x in float32 with ys, yb = A(w) from a StyleMod (the affine A) of "
                  f"w [{n}, 8]", x32, ys_a, yb_a, expected.double()))
    flat = x.clone()
    flat[0, 1] = 2.0  # a constant channel: variance 0
    flat[1, 2] = 1e-4 * torch.randn(h, w, generator=gen, dtype=torch.float64)  # variance ~ ε
    cases.append(("x with a constant channel (x[0, 1] = 2, variance 0) and a channel whose "
                  "variance is about ε (x[1, 2], std 1e-4)", flat, ys, yb,
                  layers.adain(flat, ys, yb, _ADAIN_EPS)))
    return cases


def check_adain(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> None:
    """Check a reader's AdaIN ``fn(x [N, C, H, W], ys [N, C], yb [N, C]) -> [N, C, H, W]`` (chapter 6).

    Args:
        fn: the reader's function, with ε = 1e-8 as its default; the references are
            :func:`stylegan_tutorial.layers.adain` (``instance_norm`` then ``apply_style``) and
            :class:`stylegan_tutorial.layers.StyleMod` applied after ``instance_norm``.

    Three fixed inputs: activations whose every image and channel has its own mean and spread;
    the same with the styles of a StyleMod (the affine A); and a constant channel beside one
    whose variance is about ε. Checks shape, finiteness, values (naming each common mistake
    and their combinations: the missing +1, statistics over the batch or over all channels,
    ε added to the standard deviation or left out, scale and bias swapped, the unbiased
    variance) and the gradients with respect to ``x``, ``ys`` and ``yb``. Prints a pass or
    raises :class:`ExerciseError`.
    """
    name = "adain"
    for data, x, ys, yb, expected in _adain_cases():
        value = _call(name, fn, x.clone(), ys.clone(), yb.clone())
        if not isinstance(value, Tensor):
            raise ExerciseError(f"{name} must return a torch.Tensor [N, C, H, W], got {type(value).__name__}")
        if tuple(value.shape) != tuple(x.shape):
            raise ExerciseError(f"{name} on {data}: expected shape {tuple(x.shape)}, the shape of x, got "
                                f"{tuple(value.shape)}; the styles [N, C] broadcast over the pixels "
                                "as ys[:, :, None, None]")
        got = value.detach().double()
        if not torch.isfinite(got).all():
            raise ExerciseError(
                f"{name} on {data}: the result is not finite (NaN or inf). A constant channel has "
                "variance 0, so ε must be added to the variance before the square root: "
                "(x - mean) / sqrt(var + eps), with eps = 1e-8")
        tol = dict(rtol=1e-4, atol=1e-5)
        if torch.allclose(got, expected, **tol):
            continue
        diff = (got - expected).abs()
        i, c, row, _ = (int(k) for k in torch.unravel_index(diff.argmax(), diff.shape))
        values = (f"at [{i}, {c}, {row}, :4] (image {i}, channel {c}, where they differ most) expected "
                  f"{_show(expected[i, c, row, :4])}, got {_show(got[i, c, row, :4])}")
        for wrong, hint in _adain_mistakes(x.double(), ys.double(), yb.double()):
            if torch.isfinite(wrong).all() and torch.allclose(got, wrong, **tol):
                raise ExerciseError(f"{name} on {data}: {values}: {hint}")
        raise ExerciseError(
            f"{name} on {data}: {values}; the largest difference is {diff.max().item():.4g}. AdaIN "
            "is (x - mean) / sqrt(var + eps) * (ys + 1) + yb, with mean and var over each image's "
            "and channel's pixels, dim=(2, 3), unbiased=False")
    _check_adain_gradients(name, fn)
    print(f"✅ {name}: matches stylegan_tutorial.layers.adain and StyleMod on values, gradients and "
          "a constant channel")


def _check_adain_gradients(name: str, fn: Callable) -> None:
    """The reader's AdaIN must pass gradients to x, ys and yb as the package's does."""
    _, x, ys, yb, _ = _adain_cases()[0]
    mine = [t.clone().requires_grad_(True) for t in (x, ys, yb)]
    ref = [t.clone().requires_grad_(True) for t in (x, ys, yb)]
    value = _call(name, fn, *mine)
    if not value.requires_grad:
        raise ExerciseError(f"{name}: the values match but the result is detached from x, ys and yb "
                            "(no gradient would reach the affine A or earlier layers); compute it "
                            "with torch operations on the inputs")
    weights = torch.linspace(-1, 1, value.numel(), dtype=value.dtype).view_as(value)
    got = torch.autograd.grad((value * weights).sum(), mine, allow_unused=True)
    want = torch.autograd.grad((layers.adain(*ref, _ADAIN_EPS) * weights.double()).sum(), ref)
    for label, a, b in zip(("x", "ys", "yb"), got, want):
        if a is None or not torch.allclose(a.double(), b, rtol=1e-4, atol=1e-6):
            raise ExerciseError(f"{name}: the values match but the gradient with respect to {label} "
                                "does not (is part of the computation detached, e.g. with .detach() "
                                "or .item()?)")
