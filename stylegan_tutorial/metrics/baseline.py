"""The course's first measured baseline: how far naive generators land from the faces (chapter 1).

Chapter 1 makes "fake faces" without learning anything (:mod:`stylegan_tutorial.baselines`: a
Gaussian over pixels, double exposures, uniform noise) and measures them with the numbers the
whole course uses, in the oracle's feature space (:mod:`stylegan_tutorial.oracle`):

- **FD**, the Fréchet distance between Gaussians fitted to the real and the fake features
  (FID's formula), and **KID**, the unbiased kernel distance (:mod:`~.frechet`): 0 when the two
  sets come from the same distribution, larger the further apart;
- **confidence**, :func:`factor_confidence`: how definitely the oracle reads each fake as a face
  with definite factors, 1 for real faces.

The confidence needs care. The oracle's class probabilities alone are no measure of realism: a
network trained only on faces is sure of *something* on anything, and on uniform noise it gives
its most likely hair style, eye state and glasses 0.997 to 0.999 probability on average, as sure
as on real faces (measured on 1,000 images of each; Nguyen, Yosinski and Clune 2015 built whole
images that fool classifiers this way). The oracle has one reading that is not squashed into a
probability: the background hue, regressed as a point ``(cos 2 pi h, sin 2 pi h)`` on the unit
circle. A face with a definite background colour lands on the circle (length 0.99 on average);
an image without one lands inside it (noise 0.15, a mid-grey image 0.26, the mean face 0.50).
So each factor's *certainty* is its largest class probability (categorical factors) or the
length of its point, at most 1 (the circular hue), and an image's confidence is the certainty of
its least certain factor. Measured on 1,000 images each: real faces 0.984, samples of the
256-direction pixel Gaussian fitted to 5,000 faces 0.70, double exposures at ``t = 0.5`` 0.69,
the mean face 0.50, uniform noise 0.15.
"""

from __future__ import annotations

import torch

from stylegan_tutorial.data.faces import FACTORS
from stylegan_tutorial.metrics.frechet import frechet_distance, kid
from stylegan_tutorial.oracle import CIRCULAR, Oracle, decode, load_oracle

Tensor = torch.Tensor

# The factors whose certainty the confidence reads: the categorical ones and the circular hue.
CERTAIN_FACTORS = tuple(n for n, f in FACTORS.items() if f.kind == "categorical" or n in CIRCULAR)


@torch.no_grad()
def _read(oracle: Oracle, images: Tensor, batch_size: int = 512) -> tuple[Tensor, Tensor]:
    """The oracle's features ``[N, F]`` and raw head outputs ``[N, n_out]``, in one pass."""
    feats, outs = zip(*(oracle(chunk) for chunk in images.split(batch_size)))
    return torch.cat(feats), torch.cat(outs)


def _certainties(oracle: Oracle, out: Tensor) -> dict[str, Tensor]:
    """Raw head outputs ``[N, n_out]`` -> ``{factor: certainty [N]}`` for :data:`CERTAIN_FACTORS`."""
    pred = decode(out, oracle.layout)
    certainty = {}
    for name in CERTAIN_FACTORS:
        if FACTORS[name].kind == "categorical":
            certainty[name] = pred[f"{name}_prob"].max(dim=1).values  # [N]
        else:
            certainty[name] = out[:, oracle.layout[name]].norm(dim=1).clamp(max=1.0)  # [N]
    return certainty


def _confidence(certainty: dict[str, Tensor]) -> float:
    """Mean over images of the least certain factor's certainty."""
    return float(torch.stack(list(certainty.values()), dim=1).min(dim=1).values.mean())


def factor_certainties(images: Tensor, oracle: Oracle | None = None) -> dict[str, Tensor]:
    """How definitely the oracle reads each factor of each image, ``{factor: [N]}`` in [0, 1] (chapter 1).

    Args:
        images: ``[N, 3, H, W]`` in [-1, 1] (brought to 32² by the oracle).
        oracle: the judge (None: the shipped one, :func:`~stylegan_tutorial.oracle.load_oracle`).

    Categorical factors: the largest class probability. The circular background hue: the
    length of its predicted ``(cos, sin)`` point, at most 1. The module docstring says why the
    probabilities alone are not enough.
    """
    oracle = load_oracle() if oracle is None else oracle
    return _certainties(oracle, _read(oracle, images)[1])


def factor_confidence(images: Tensor, oracle: Oracle | None = None) -> float:
    """How sure the oracle is that it sees faces with definite factors, in [0, 1] (chapter 1).

    Args:
        images: ``[N, 3, H, W]`` in [-1, 1] (brought to 32² by the oracle).
        oracle: the judge (None: the shipped one).

    The mean over images of the certainty of each image's least certain factor
    (:func:`factor_certainties`). Real faces read about 0.98, uniform noise about 0.15.
    """
    return _confidence(factor_certainties(images, oracle))


def baseline_row(name: str, fakes: Tensor, reals: Tensor, oracle: Oracle | None = None,
                 seed: int = 0) -> dict:
    """One generator's row of chapter 1's table: FD, KID and confidence against real faces (chapter 1).

    Args:
        name:   the generator's name in the table.
        fakes:  its images ``[N, 3, H, W]`` in [-1, 1].
        reals:  as many real images ``[N, 3, H, W]``, N >= 2.
        oracle: the judge whose features FD and KID compare (None: the shipped one).
        seed:   seeds KID's subsets.

    Returns ``{"name", "n", "fd", "kid", "confidence"}``: ``fd`` is
    :func:`~.frechet.frechet_distance` of the oracle's features, ``kid`` the mean of
    :func:`~.frechet.kid` over 100 subsets of ``min(1000, N)`` images, ``confidence``
    :func:`factor_confidence` of the fakes.
    """
    for label, images in (("fakes", fakes), ("reals", reals)):
        if not isinstance(images, Tensor) or images.dim() != 4:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"{label} must be a tensor [N, 3, H, W], got {shape}")
    if fakes.shape[0] != reals.shape[0] or fakes.shape[0] < 2:
        raise ValueError(f"fakes and reals must hold the same number of images, at least 2, "
                         f"got {fakes.shape[0]} fakes and {reals.shape[0]} reals")
    oracle = load_oracle() if oracle is None else oracle
    n = fakes.shape[0]
    fake_feats, fake_out = _read(oracle, fakes)
    real_feats, _ = _read(oracle, reals)
    kid_mean, _ = kid(real_feats, fake_feats, subset_size=min(1000, n), seed=seed)
    return {
        "name": name,
        "n": n,
        "fd": frechet_distance(real_feats, fake_feats),
        "kid": kid_mean,
        "confidence": _confidence(_certainties(oracle, fake_out)),
    }


def baseline_table_markdown(rows: list[dict]) -> str:
    """:func:`baseline_row` results as a Markdown table, one row per generator (chapter 1).

    Args:
        rows: the rows, in the order to print them.

    FD with two decimals, KID with four (it can dip just below 0 for equal distributions: it is
    unbiased), confidence with three. Arrows say which way is better.
    """
    def fixed(value: float, decimals: int) -> str:
        return f"{round(float(value), decimals) + 0.0:.{decimals}f}"  # + 0.0: no "-0.0000"

    lines = ["| generator | images | FD ↓ | KID ↓ | confidence ↑ |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['name']} | {row['n']:,} | {fixed(row['fd'], 2)} | {fixed(row['kid'], 4)} "
                     f"| {fixed(row['confidence'], 3)} |")
    return "\n".join(lines)
