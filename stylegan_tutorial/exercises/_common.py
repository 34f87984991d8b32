"""What every grader shares: the error, calling the reader's code, comparing numbers."""

from __future__ import annotations

from collections.abc import Callable

import torch

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


def _as_float64(name: str, what: str, value) -> Tensor:
    """One of the reader's results as a float64 tensor (a NumPy array is accepted too)."""
    try:
        return torch.as_tensor(value).detach().double()
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseError(f"{name}: {what} must be a tensor, got {type(value).__name__}") from None


def _show(t: Tensor, decimals: int = 4, limit: int | None = None) -> str:
    """A short printout of a tensor's values: a list, its first row if it is a matrix; at most
    ``limit`` values, then an ellipsis (None: all)."""
    t = t[0] if t.dim() == 2 else t
    more = limit is not None and t.numel() > limit
    values = t[:limit] if more else t
    return "[" + ", ".join(f"{v:.{decimals}f}" for v in values.tolist()) + (", …]" if more else "]")
