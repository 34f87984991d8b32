"""Chapter 3: the non-saturating G loss and the logistic D loss."""

from __future__ import annotations

from collections.abc import Callable

import torch

from stylegan_tutorial import losses
from stylegan_tutorial.exercises._common import (
    ExerciseError,
    Tensor,
    _as_scalar,
    _call,
    check_loss,
)


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
