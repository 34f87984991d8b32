"""Graders of the readers' "build it yourself" exercises (every chapter with exercises, from chapter 3).

Each ``check_*`` function calls the reader's implementation on fixed inputs, compares it with the
package's reference, and either prints a one-line pass or raises :class:`ExerciseError` with the
reason: which input, what was expected, what came back, and a hint. A stub that still raises
``NotImplementedError`` fails with the stub's own hint.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from stylegan_tutorial import losses

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
