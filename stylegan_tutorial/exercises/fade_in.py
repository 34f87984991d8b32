"""Chapter 4: the fade-in of a new resolution."""

from __future__ import annotations

from collections.abc import Callable

import torch

from stylegan_tutorial import discriminator, generator
from stylegan_tutorial.configs import NetworkConfig
from stylegan_tutorial.exercises._common import (
    ExerciseError,
    Tensor,
    _call,
    _show,
)
from stylegan_tutorial.images import downsample_to, upsample_2x
from stylegan_tutorial.training import fade_reals


def _fade_networks() -> tuple[generator.Generator, discriminator.Discriminator]:
    """A small G and D for :func:`check_fade_in`: 8 channels at every level up to 16², random weights.

    Equal channel counts let a blend *before* ToRGB run (and be recognised); every parameter,
    the biases and ToRGB/FromRGB layers included, is moved off its initial value so that no
    term of the fade is zero by accident. No noise inputs, so G is deterministic.
    """
    config = NetworkConfig(name="check-fade-in", resolution=16, z_dim=16, w_dim=16,
                           mapping_layers=1, mapping_width=16, fmap_base=128, fmap_max=8,
                           use_noise=False, style_mixing_prob=0.0)
    gen = torch.Generator().manual_seed(4)
    with torch.random.fork_rng(devices=[]):  # leave the reader's random state alone
        torch.manual_seed(4)
        G, D = generator.Generator(config), discriminator.Discriminator(config)
    with torch.no_grad():
        for p in [*G.parameters(), *D.parameters()]:
            p.add_(0.3 * torch.randn(p.shape, generator=gen))
    return G, D


def check_fade_in(fn: Callable) -> None:
    """Check a reader's fade-in, ``fn(G, D, ws, reals, resolution, alpha)``, on both networks (chapter 4).

    Args:
        fn: the reader's function. Given a :class:`~stylegan_tutorial.generator.Generator`
            ``G``, a :class:`~stylegan_tutorial.discriminator.Discriminator` ``D``, styles
            ``ws [N, num_layers, w_dim]``, real images ``reals [N, C, R, R]``, the resolution
            ``R`` being faded in and ``alpha``, it returns ``(fakes [N, C, R, R],
            real_logits [N], fake_logits [N])``: G's blended image, and D's logits for the
            blended reals and for those fakes.

    The references are the package's own fade: ``G.synthesis(ws, R, alpha)``,
    ``D(img, R, alpha)`` and :func:`stylegan_tutorial.training.fade_reals`, on a small G and D
    built for the check (8 channels at every level, random weights) at 16² and 8², with alpha
    from 0 to 1. Each classic mistake has its own message: alpha the wrong way round, the
    blend made before ToRGB instead of after it, a discriminator that does not fade, and real
    images not blended with their 2×2 averages. Prints a pass or raises :class:`ExerciseError`.
    """
    name = "fade_in"
    G, D = _fade_networks()
    gen = torch.Generator().manual_seed(5)
    n = 4
    ws = torch.randn(n, G.num_layers, G.w_dim, generator=gen)
    reals = torch.rand(n, G.config.img_channels, 16, 16, generator=gen) * 2 - 1
    cases = [(16, 0.25), (8, 0.7), (16, 0.0), (16, 1.0)]
    for res, alpha in cases:
        reals_r = downsample_to(reals, res)
        where = f"at {res}² with alpha = {alpha}"
        result = _call(name, fn, G, D, ws.clone(), reals_r.clone(), res, alpha)
        fakes, real_logits, fake_logits = _fade_outputs(name, result, n, G.config.img_channels, res)
        _check_fade_fakes(name, where, G, ws, res, alpha, fakes)
        _check_fade_logits(name, where, D, reals_r, res, alpha, fakes.detach(), real_logits, fake_logits)
    print(f"✅ {name}: matches G.synthesis, D and fade_reals at 8² and 16², alpha from 0 to 1")


def _fade_outputs(name: str, result, n: int, c: int, res: int) -> tuple[Tensor, Tensor, Tensor]:
    """The reader's ``(fakes, real_logits, fake_logits)``, with their shapes checked."""
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        got = (f"a tensor of shape {tuple(result.shape)}" if isinstance(result, Tensor)
               else type(result).__name__)
        raise ExerciseError(
            f"{name} must return a tuple (fakes, real_logits, fake_logits), got {got}: the fade "
            "happens in both networks, so the function returns G's image and D's logits for the "
            "reals and for the fakes")
    shapes = {"fakes": (n, c, res, res), "real_logits": (n,), "fake_logits": (n,)}
    for (label, shape), value in zip(shapes.items(), result):
        if not isinstance(value, Tensor):
            raise ExerciseError(f"{name}: {label} must be a torch.Tensor, got {type(value).__name__}")
        if tuple(value.shape) != shape:
            raise ExerciseError(f"{name} at {res}²: {label} must have shape {shape}, got "
                                f"{tuple(value.shape)}")
    return tuple(result)


def _fade_close(a: Tensor, b: Tensor) -> bool:
    return torch.allclose(a.detach().double(), b.detach().double(), rtol=1e-4, atol=1e-5)


def _check_fade_fakes(name: str, where: str, G: generator.Generator, ws: Tensor, res: int, alpha: float,
                      fakes: Tensor) -> None:
    """Compare the reader's fakes with ``G.synthesis(ws, res, alpha)``; name the classic mistakes."""
    syn = G.synthesis
    with torch.no_grad():
        expected = syn(ws, res, alpha, noise_mode="none")
    if _fade_close(fakes, expected):
        if not fakes.requires_grad:
            raise ExerciseError(
                f"{name} {where}: the fakes are right but detached from G's weights (no gradient "
                "would train G); compute them with torch operations, without torch.no_grad()")
        return
    level = res.bit_length() - 3  # index of the ToRGB at res
    with torch.no_grad():
        x = syn.input(ws[:, 0])
        for i in range(2 * level):
            x = syn.layers[i](x, ws[:, i], "none")
        x_old = x  # [N, C, res/2, res/2], the input of the newest block
        for i in range(2 * level, 2 * level + 2):
            x = syn.layers[i](x, ws[:, i], "none")
        features = torch.lerp(upsample_2x(x_old), x, alpha)  # the blend made on features
        mistakes = [
            (syn(ws, res, 1.0 - alpha, noise_mode="none"),
             "alpha is applied the wrong way round: alpha = 0 must give the old network's image "
             "(the upsampled ToRGB of the previous resolution) and alpha = 1 the new block's, "
             "(1 - alpha) * old + alpha * new"),
            (syn.to_rgb[level](features),
             "you blended the features before ToRGB; blend the two images after it: each "
             "resolution has its own ToRGB, so the old path is upsample(to_rgb[old](x_old)) and "
             "the new one to_rgb[new](x_new)"),
            (syn.to_rgb[level - 1](features),
             "you blended the features before ToRGB; blend the two images after it: each "
             "resolution has its own ToRGB, so the old path is upsample(to_rgb[old](x_old)) and "
             "the new one to_rgb[new](x_new)"),
            (syn(ws, res, 1.0, noise_mode="none"),
             "alpha is ignored: that is the new block alone. Blend it with the upsampled image "
             "of the previous resolution, (1 - alpha) * old + alpha * new"),
        ]
    _fade_raise(name, where, "fakes", fakes, expected, mistakes)


def _check_fade_logits(name: str, where: str, D: discriminator.Discriminator, reals: Tensor, res: int,
                       alpha: float, fakes: Tensor, real_logits: Tensor, fake_logits: Tensor) -> None:
    """Compare the reader's logits with ``D(img, res, alpha)`` on faded reals and on the fakes."""
    no_d_fade = ("the discriminator side is missing: D must fade in its new block too, by the "
                 "same alpha, blending FromRGB of the 2×2-averaged image with the new block's "
                 "output, (1 - alpha) * from_rgb[old](downsample(img)) + alpha * block(from_rgb[new](img))")
    d_wrong_way = ("alpha is applied the wrong way round in the discriminator: alpha = 0 must give "
                   "the old path, FromRGB of the 2×2-averaged image, and alpha = 1 the new block")
    no_real_blend = ("the real images' 2×2 blend is missing: during a fade the reals must look "
                     "like the fakes do, lerp(upsample(downsample(reals)), reals, alpha), or D "
                     "can tell them apart by their sharpness alone")
    with torch.no_grad():
        expected_fake, faded = D(fakes, res, alpha), fade_reals(reals, alpha)
        expected_real = D(faded, res, alpha)
        neither = D(reals, res, 1.0)  # no real blend and no fade in D
    if not _fade_close(fake_logits, expected_fake) and _fade_close(real_logits, neither):
        _fade_raise(name, where, "real_logits", real_logits, expected_real,
                    [(neither, f"{no_real_blend}; and {no_d_fade}")])
    with torch.no_grad():
        mistakes = [(D(fakes, res, 1.0), no_d_fade), (D(fakes, res, 1.0 - alpha), d_wrong_way)]
    _fade_raise(name, where, "fake_logits", fake_logits, expected_fake, mistakes)
    with torch.no_grad():
        mistakes = [
            (D(reals, res, alpha), no_real_blend),
            (D(faded, res, 1.0), no_d_fade),
            (D(fade_reals(reals, 1.0 - alpha), res, alpha),
             "alpha is applied the wrong way round to the real images: alpha = 0 must give their "
             "2×2-averaged copies and alpha = 1 the images as they are"),
            (D(faded, res, 1.0 - alpha), d_wrong_way),
        ]
    _fade_raise(name, where, "real_logits", real_logits, expected_real, mistakes)


def _fade_raise(name: str, where: str, label: str, got: Tensor, expected: Tensor,
                mistakes: list[tuple[Tensor, str]]) -> None:
    """Return if ``got`` matches ``expected``; else raise naming the first mistake it matches."""
    if _fade_close(got, expected):
        return
    first = [_show(t.detach().double().flatten()[:4]) for t in (expected, got)]
    values = f"expected {label} starting {first[0]}, got {first[1]}"
    for wrong, hint in mistakes:
        if _fade_close(got, wrong):
            raise ExerciseError(f"{name} {where}: {values}: {hint}")
    diff = (got.detach().double() - expected.double()).abs()
    raise ExerciseError(
        f"{name} {where}: {values} (first values); the largest difference is "
        f"{diff.max().item():.4g}. The fade is (1 - alpha) * old + alpha * new, after ToRGB in G, "
        "after the new block in D, and on the reals with their 2×2 averages.")
