"""A mode-collapse alarm for the training log: how much the fakes of a minibatch vary (instructor's guide).

A generator that collapses draws the same few images whatever ``z`` is. The cheapest signal
needs no judge and works on any dataset: the *spread* of a minibatch, the standard deviation of
each pixel across the images of the batch, averaged over the pixels. The ratio of the fakes'
spread to the reals' spread is about 1 for a generator that varies as much as the data and falls
towards 0 as the fakes become copies of each other.

``training.d_step`` records the ratio for every step (the reals and fakes it already holds);
the tick averages it into ``log.jsonl`` as ``spread``, and :func:`collapse_warning` says so
when it falls below :data:`SPREAD_WARNING`. The threshold is measured, not guessed
(``scripts/gamma_study.py``, the instructor's guide). On the faces at 32², a batch of 32 real
faces made of only 2 distinct faces, each repeated, has a ratio of 0.59, of 4 distinct faces
0.81, of one face 0: the ratio sees only a severe collapse. The five runs of the γ study
(γ from 0.01 to 100, 80 kimg) never went below 0.68 in any of their 40 snapshots, including the
run with the lowest γ, which had lost two thirds of the data's factor combinations by 80 kimg.
0.5 lies below every healthy value and above what a batch worth fewer than two distinct faces
gives. A partial collapse needs the coverage of :mod:`stylegan_tutorial.metrics.coverage`.
"""

from __future__ import annotations

import math

import torch

Tensor = torch.Tensor

SPREAD_WARNING = 0.5  # warn when the fakes vary less than this share of the reals' variation


def batch_spread(images: Tensor) -> Tensor:
    """The standard deviation of each pixel across a batch ``[B, C, R, R]``, averaged: a scalar (guide).

    ``B`` must be at least 2.
    """
    return images.detach().float().std(dim=0).mean()  # [C, R, R] -> []


def spread_ratio(fakes: Tensor, reals: Tensor) -> Tensor:
    """``batch_spread(fakes) / batch_spread(reals)``: about 1 when the fakes vary as the data does (guide)."""
    return batch_spread(fakes) / batch_spread(reals).clamp_min(1e-8)


def collapse_warning(tick: dict, threshold: float = SPREAD_WARNING) -> str | None:
    """A one-line warning when a tick's ``spread`` is below ``threshold``, else None (instructor's guide)."""
    spread = tick.get("spread")
    if spread is None or not math.isfinite(spread) or spread >= threshold:
        return None  # not recorded (a batch of one), or not finite (a skipped step's NaN fakes)
    return (f"possible mode collapse at kimg {tick['kimg']:.1f}: the fakes of a minibatch vary "
            f"{spread:.2f} times as much as the reals (below {threshold}); look at the sample grid, "
            f"and see the instructor's guide on choosing the R1 gamma")
