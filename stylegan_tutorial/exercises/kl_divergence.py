"""Chapter 2: the VAE's KL term."""

from __future__ import annotations

from collections.abc import Callable

import torch

from stylegan_tutorial import autoencoders
from stylegan_tutorial.exercises._common import (
    ExerciseError,
    Tensor,
    _call,
    _show,
)


def check_kl_divergence(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check a reader's ``KL(N(mu, exp(logvar)) || N(0, I))``, ``(mu, logvar) [N, K] -> [N]`` (chapter 2).

    Args:
        fn: the reader's function; the reference is
            :func:`stylegan_tutorial.autoencoders.kl_divergence`.

    Checks the shape (one value per image), the value (naming the usual mistakes: logvar read
    as sigma or as log sigma, the sign, a mean instead of a sum) and the gradients with
    respect to ``mu`` and ``logvar``. Prints a pass or raises :class:`ExerciseError`.
    """
    name = "kl_divergence"
    gen = torch.Generator().manual_seed(1)
    n, k = 4, 3
    mu = torch.randn(n, k, generator=gen)
    logvar = torch.randn(n, k, generator=gen) * 0.8 + 0.1
    data = f"mu and logvar of shape [{n}, {k}] ({n} images, {k} latent dimensions)"
    mine_mu, mine_lv = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    ref_mu, ref_lv = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    value = _call(name, fn, mine_mu, mine_lv)
    if not isinstance(value, Tensor):
        raise ExerciseError(f"{name} must return a torch.Tensor [N], got {type(value).__name__}")
    expected = autoencoders.kl_divergence(ref_mu, ref_lv)
    if value.dim() == 0:
        raise ExerciseError(
            f"{name} on {data}: expected one KL per image, shape ({n},), got a scalar "
            f"({value.item():.4f}): you averaged or summed over the batch. Sum over the latent "
            "dimensions only (dim=1); vae_loss takes the mean over the batch afterwards")
    if tuple(value.shape) == (n, k):
        raise ExerciseError(
            f"{name} on {data}: expected shape ({n},), got ({n}, {k}), the terms unsummed: sum "
            "them over the latent dimensions, .sum(dim=1)")
    if tuple(value.shape) != (n,):
        raise ExerciseError(f"{name} on {data}: expected shape ({n},), one KL per image, "
                            f"got {tuple(value.shape)}")
    got, want = value.detach().double(), expected.detach().double()
    if not torch.isfinite(got).all():
        raise ExerciseError(
            f"{name} on {data}: expected {_show(want)}, got {_show(got)}, not finite: logvar is "
            "already a logarithm (and can be negative); the variance is exp(logvar)")
    if not torch.allclose(got, want, rtol=1e-4, atol=1e-6):
        m, lv = mu.double(), logvar.double()
        sigma_sq_as_if_std = lv.square()  # logvar read as sigma: sigma² = logvar²
        mistakes = [
            (-want, "the sign is flipped: KL = -1/2 sum(1 + logvar - mu² - exp(logvar)) is never "
                    "negative; check the -1/2 in front"),
            (want / k, "you averaged over the latent dimensions: KL sums them, .sum(dim=1)"),
            (2 * want, "the factor 1/2 is missing: KL = -1/2 sum(1 + logvar - mu² - exp(logvar))"),
            (0.5 * (sigma_sq_as_if_std + m.square() - 1 - sigma_sq_as_if_std.log()).sum(1),
             "you treated logvar as the standard deviation sigma; it is log sigma², so "
             "sigma² = exp(logvar)"),
            (-0.5 * (1 + lv - m.square() - sigma_sq_as_if_std).sum(1),
             "you squared logvar as if it were the standard deviation sigma; it is log sigma², so "
             "sigma² = exp(logvar)"),
            (-0.5 * (1 + lv - m.square() - lv).sum(1),
             "you used logvar as the variance itself; it is log sigma², so sigma² = exp(logvar)"),
            (-0.5 * (1 + 2 * lv - m.square() - (2 * lv).exp()).sum(1),
             "you treated logvar as log sigma; it is log sigma², so log sigma² = logvar (not "
             "2·logvar) and sigma² = exp(logvar) (not exp(2·logvar))"),
            (-0.5 * (1 + lv - m.square() - (2 * lv).exp()).sum(1),
             "you computed the variance as exp(2·logvar), as if logvar were log sigma; it is "
             "log sigma², so sigma² = exp(logvar)"),
            (-0.5 * (1 + 2 * lv - m.square() - lv.exp()).sum(1),
             "you wrote log sigma² as 2·logvar, as if logvar were log sigma; it is log sigma² "
             "already"),
        ]
        for wrong, hint in mistakes:
            if torch.allclose(got, wrong, rtol=1e-4, atol=1e-6):
                raise ExerciseError(f"{name} on {data}: expected {_show(want)}, got {_show(got)}: {hint}")
        raise ExerciseError(
            f"{name} on {data}: expected {_show(want)}, got {_show(got)}. "
            "KL = -1/2 sum over the latent dimensions of (1 + logvar - mu² - exp(logvar)).")
    if not value.requires_grad:
        raise ExerciseError(f"{name}: the values match but the result is detached from mu and "
                            "logvar (no gradient reaches the encoder); compute it with torch "
                            "operations on the inputs")
    value.sum().backward()
    expected.sum().backward()
    for label, mine, ref in (("mu", mine_mu, ref_mu), ("logvar", mine_lv, ref_lv)):
        if mine.grad is None or not torch.allclose(mine.grad, ref.grad, rtol=1e-4, atol=1e-6):
            got_grad = "none" if mine.grad is None else _show(mine.grad)
            raise ExerciseError(
                f"{name} on {data}: the values match but the gradient with respect to {label} "
                f"does not: expected (first row) {_show(ref.grad)}, got {got_grad}. Is part of "
                "the result detached (.detach(), .item(), NumPy)?")
    print(f"✅ {name}: matches stylegan_tutorial.autoencoders on value and gradients")
