"""Graders of the readers' "build it yourself" exercises (every chapter with exercises, from chapter 1).

Each ``check_*`` function calls the reader's implementation on fixed inputs, compares it with the
package's reference, and either prints a one-line pass or raises :class:`ExerciseError` with the
reason: which input, what was expected, what came back, and a hint. A stub that still raises
``NotImplementedError`` fails with the stub's own hint.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from stylegan_tutorial import autoencoders, baselines, losses

Tensor = torch.Tensor


class ExerciseError(AssertionError):
    """The reader's implementation does not match the reference yet; the message says why (every chapter)."""


def _call(name: str, fn: Callable, *args):
    """Call the reader's function, turning a stub's NotImplementedError into a clear failure."""
    try:
        return fn(*args)
    except NotImplementedError as err:
        raise ExerciseError(f"{name} is not implemented yet. {err}".strip()) from None


def _as_scalar(name: str, value) -> Tensor:
    """The reader's loss must be a scalar tensor (a mean over the batch)."""
    if not isinstance(value, Tensor):
        raise ExerciseError(f"{name} must return a torch.Tensor, got {type(value).__name__}")
    if value.dim() != 0:
        raise ExerciseError(
            f"{name} must return a scalar (the mean over the batch), got shape {tuple(value.shape)}: "
            "did you forget .mean()?"
        )
    return value


def check_loss(name: str, fn: Callable[[Tensor], Tensor], reference: Callable[[Tensor], Tensor],
               hint: str = "") -> None:
    """Compare a reader's loss of one logit tensor with ``reference`` (chapter 3).

    Args:
        name:      the loss's name in the messages (the reader's function).
        fn:        the reader's loss: logits ``[N]`` -> a scalar tensor.
        reference: the package's loss with the same signature.
        hint:      appended to the message when the values differ (empty: no hint).

    Checks the value, the gradient, and that extreme logits stay finite; prints a pass or
    raises :class:`ExerciseError`.
    """
    cases = {
        "moderate logits": torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0]),
        "extreme logits": torch.tensor([-80.0, -30.0, 30.0, 80.0]),
    }
    for label, logits in cases.items():
        mine = logits.clone().requires_grad_(True)
        ref = logits.clone().requires_grad_(True)
        value = _as_scalar(name, _call(name, fn, mine))
        expected = reference(ref)
        if not torch.isfinite(value):
            raise ExerciseError(
                f"{name} is not finite for {label} {logits.tolist()}: log(sigmoid(l)) overflows; "
                "write it with torch.nn.functional.softplus, which is stable for any logit"
            )
        if not torch.allclose(value, expected, rtol=1e-4, atol=1e-5):
            sign = " (the sign is flipped)" if torch.allclose(-value, expected, rtol=1e-4, atol=1e-5) else ""
            raise ExerciseError(
                f"{name} for {label} {logits.tolist()}: expected {expected.item():.5f}, "
                f"got {value.item():.5f}{sign}. {hint}".strip()
            )
        value.backward()
        expected.backward()
        if mine.grad is None or not torch.allclose(mine.grad, ref.grad, rtol=1e-4, atol=1e-6):
            raise ExerciseError(
                f"{name}: the value matches but the gradient does not (is the result detached "
                f"from the graph?) expected {ref.grad.tolist()}, got "
                f"{None if mine.grad is None else mine.grad.tolist()}"
            )
    print(f"✅ {name}: matches stylegan_tutorial.losses on value, gradient and extreme logits")


def check_nonsaturating_loss(fn: Callable[[Tensor], Tensor]) -> None:
    """Check a reader's non-saturating generator loss ``E[-log D(G(z))]`` (chapter 3).

    ``fn`` maps fake logits ``[N]`` to a scalar tensor.
    """
    check_loss(
        "nonsaturating_loss", fn, losses.g_nonsaturating_loss,
        hint="The non-saturating loss is -log(sigmoid(l)) = softplus(-l), averaged over the batch.",
    )


def check_d_logistic_loss(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check a reader's discriminator loss ``softplus(l_fake) + softplus(-l_real)`` (chapter 3).

    ``fn(real_logits [N], fake_logits [N])`` returns a scalar tensor.
    """
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(16, generator=gen) + 1.0
    fake = torch.randn(16, generator=gen) - 1.0
    value = _as_scalar("d_logistic_loss", _call("d_logistic_loss", fn, real, fake))
    expected = losses.d_logistic_loss(real, fake)
    if not torch.allclose(value, expected, rtol=1e-4, atol=1e-5):
        swapped = losses.d_logistic_loss(fake, real)
        why = " (real and fake are swapped)" if torch.allclose(value, swapped, rtol=1e-4) else ""
        raise ExerciseError(
            f"d_logistic_loss: expected {expected.item():.5f}, got {value.item():.5f}{why}. "
            "The discriminator wants real logits high and fake logits low."
        )
    print("✅ d_logistic_loss: matches stylegan_tutorial.losses")


def _as_float64(name: str, what: str, value) -> Tensor:
    """One of the reader's results as a float64 tensor (a NumPy array is accepted too)."""
    try:
        return torch.as_tensor(value).detach().double()
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseError(f"{name}: {what} must be a tensor, got {type(value).__name__}") from None


def _show(t: Tensor, decimals: int = 4) -> str:
    """A short printout of a tensor's values: a list, its first row if it is a matrix."""
    t = t[0] if t.dim() == 2 else t
    return "[" + ", ".join(f"{v:.{decimals}f}" for v in t.tolist()) + "]"


def check_pixel_gaussian(fn: Callable[[Tensor], tuple[Tensor, Tensor]]) -> None:
    """Check a reader's Gaussian fit ``x [N, D] -> (mean [D], cov [D, D])`` (chapter 1).

    Args:
        fn: the reader's function; the reference is
            :func:`stylegan_tutorial.baselines.fit_pixel_gaussian` (the unbiased covariance).

    The data are 40 correlated points in 6 dimensions with a mean far from 0, so that each
    common mistake (no centring, the wrong axis, dividing by N) gives a different answer with
    its own message. Prints a pass or raises :class:`ExerciseError`.
    """
    name = "fit_pixel_gaussian"
    gen = torch.Generator().manual_seed(0)
    n, d = 40, 6
    x = torch.randn(n, d, generator=gen) @ torch.randn(d, d, generator=gen)
    x = x + torch.tensor([2.0, -1.0, 0.5, 3.0, -2.5, 1.0])  # [40, 6], far from 0
    data = f"x of shape [{n}, {d}] ({n} points in {d} dimensions)"
    result = _call(name, fn, x.clone())
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        got = (f"a tensor of shape {tuple(result.shape)}" if isinstance(result, Tensor)
               else type(result).__name__)
        raise ExerciseError(f"{name} must return a tuple (mean, cov), got {got}; "
                            "end the function with `return mean, cov`")
    mean, cov = _as_float64(name, "mean", result[0]), _as_float64(name, "cov", result[1])
    expected_mean, expected_cov = baselines.fit_pixel_gaussian(x)
    if tuple(mean.shape) != (d,):
        why = (f"the mean over the wrong axis: that is each point's average over its {d} "
               f"coordinates. Average over the points instead: x.mean(dim=0) has shape [{d}]"
               if tuple(mean.shape) == (n,) else f"the mean has one value per dimension, [{d}]")
        raise ExerciseError(f"{name} on {data}: expected mean of shape ({d},), "
                            f"got {tuple(mean.shape)}: {why}")
    if tuple(cov.shape) != (d, d):
        why = (f"that is the covariance of the wrong axis, between the {n} points; the "
               f"covariance between the {d} dimensions is centred.T @ centred / (N - 1), [{d}, {d}]"
               if tuple(cov.shape) == (n, n) else f"the covariance is [D, D] = [{d}, {d}]")
        raise ExerciseError(f"{name} on {data}: expected cov of shape ({d}, {d}), "
                            f"got {tuple(cov.shape)}: {why}")
    if not torch.allclose(mean, expected_mean, rtol=1e-4, atol=1e-5):
        raise ExerciseError(f"{name} on {data}: expected mean {_show(expected_mean)}, got {_show(mean)}. "
                            "The mean is x.mean(dim=0), the average of the points.")
    if torch.allclose(cov, expected_cov, rtol=1e-4, atol=1e-5):
        print(f"✅ {name}: mean and covariance match stylegan_tutorial.baselines")
        return
    xd = x.double()
    own = xd - xd.mean(dim=1, keepdim=True)  # each point centred by its own mean: the wrong axis
    centred = xd - expected_mean
    mistakes = [
        (xd.T @ xd / (n - 1), "you forgot to centre the data: subtract the mean first, "
                              "centred = x - mean, then centred.T @ centred / (N - 1)"),
        (xd.T @ xd / n, "you forgot to centre the data (and divided by N): subtract the mean "
                        "first, centred = x - mean, then centred.T @ centred / (N - 1)"),
        (centred.T @ centred / n, "you divided by N instead of N - 1: the unbiased estimate divides "
                                  "by N - 1, because the mean was estimated from the same points"),
        (own.T @ own / (n - 1), "you centred each point by its own mean (over dim=1); subtract "
                                "the mean over the points, x.mean(dim=0)"),
    ]
    for wrong, hint in mistakes:
        if torch.allclose(cov, wrong, rtol=1e-4, atol=1e-5):
            raise ExerciseError(f"{name} on {data}: expected cov[0] = {_show(expected_cov)}, "
                                f"got {_show(cov)}: {hint}")
    i, j = divmod(int((cov - expected_cov).abs().argmax()), d)
    raise ExerciseError(
        f"{name} on {data}: expected cov[0] = {_show(expected_cov)}, got {_show(cov)}; the largest "
        f"difference is at cov[{i}, {j}]: expected {expected_cov[i, j].item():.4f}, got "
        f"{cov[i, j].item():.4f}. The covariance is (x - mean).T @ (x - mean) / (N - 1).")


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
