"""Chapter 1: the pixel Gaussian fitted by hand."""

from __future__ import annotations

from collections.abc import Callable

import torch

from stylegan_tutorial import baselines
from stylegan_tutorial.exercises._common import (
    ExerciseError,
    Tensor,
    _as_float64,
    _call,
    _show,
)


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
