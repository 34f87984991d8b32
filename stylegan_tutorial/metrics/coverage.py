"""Coverage: how many of the data's combinations of categorical factors a generator draws (the guide).

Mode collapse on the faces has a precise meaning, because every face has known factors: the
generator stops drawing some of the combinations of hair style (4), eyes (open or closed) and
glasses (on or off) that the data holds, 16 combinations in all. The oracle reads the factors of
``n`` generated faces and of ``n`` real ones (reading both with the same judge, so its errors
count on both sides), and:

- a combination is *in the data* when at least ``min_share`` (1 %) of the real faces show it;
- it is *covered* when the generator draws it at least ``fraction`` (a quarter) as often as the
  data does: with n = 2000 faces, a combination at 2 % of the data (40 faces) is covered from 10
  generated faces on, far above what the oracle's misreadings alone put there;
- ``coverage`` is the share of the data's combinations that are covered (1: none missing), and
  ``tv`` the total variation distance between the two distributions of combinations (0: the
  same shares, 1: disjoint).

Fréchet distance mixes quality and variety into one number; coverage counts the variety alone.
"""

from __future__ import annotations

import torch

from stylegan_tutorial.data.faces import FACTORS
from stylegan_tutorial.generate import sample_images
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.oracle import Oracle

Tensor = torch.Tensor

CATEGORICAL = tuple(k for k, f in FACTORS.items() if f.kind == "categorical")  # hair, eyes, glasses
MIN_SHARE = 0.01  # a combination shown by fewer real faces than this does not count
FRACTION = 0.25  # covered: drawn at least this fraction as often as the data shows it


def combination_names() -> list[str]:
    """The names of the combinations in index order, e.g. ``"short, open, off"`` (instructor's guide)."""
    names = [""]
    for name in CATEGORICAL:
        names = [f"{n}, {v}" if n else v for n in names for v in FACTORS[name].values]
    return names


def combination_index(pred: dict[str, Tensor]) -> Tensor:
    """Each face's combination of categorical factors as one index ``[N]`` (mixed radix) (the guide)."""
    index = torch.zeros_like(pred[CATEGORICAL[0]])
    for name in CATEGORICAL:
        index = index * len(FACTORS[name].values) + pred[name]
    return index


def combination_shares(pred: dict[str, Tensor]) -> Tensor:
    """The share of the faces showing each combination, ``[K]`` summing to 1 (instructor's guide)."""
    k = len(combination_names())
    counts = torch.bincount(combination_index(pred).long().cpu(), minlength=k).double()  # [K]
    return counts / counts.sum()


def coverage(fake_pred: dict[str, Tensor], real_pred: dict[str, Tensor], min_share: float = MIN_SHARE,
             fraction: float = FRACTION) -> dict:
    """Coverage of the data's combinations by the fakes, from the oracle's readings (instructor's guide).

    Returns ``coverage`` (share of the data's combinations covered), ``covered`` and ``present``
    (their counts), ``missing`` (the names of the uncovered ones) and ``tv`` (total variation
    distance between the two distributions of combinations).
    """
    fake, real = combination_shares(fake_pred), combination_shares(real_pred)  # [K], [K]
    present = real >= min_share
    covered = present & (fake >= fraction * real)
    names = combination_names()
    return {"coverage": float(covered.sum() / present.sum()), "covered": int(covered.sum()),
            "present": int(present.sum()),
            "missing": [names[i] for i in torch.nonzero(present & ~covered).flatten().tolist()],
            "tv": float(0.5 * (fake - real).abs().sum())}


def generator_coverage(G: Generator, reals: Tensor, oracle: Oracle, n: int = 2000, seed: int = 0,
                       batch_size: int = 64) -> dict:
    """:func:`coverage` of ``n`` faces of ``G`` against real images ``reals [M, 3, R, R]`` (the guide).

    The fakes are drawn as :func:`~stylegan_tutorial.generate.sample_images` draws them (no
    truncation, random noise); the oracle reads both sets.
    """
    fakes = sample_images(G, n, seed=seed, batch_size=batch_size)  # [n, 3, R, R]
    return coverage(oracle.predict(fakes), oracle.predict(reals.float()))
