"""Every metric of a generator at once, and its report: a table and JSON-safe numbers (chapter 11).

:func:`evaluate` is what ``stylegan-tutorial evaluate`` runs: it draws real and generated images
once, computes the chosen metrics with the oracle as the judge and returns a nested dict;
:func:`flatten` and :func:`format_table` turn it into lines of text, :func:`json_safe` into
something JSON can hold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from stylegan_tutorial.generate import check_positive_int, sample_images
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.images import downsample_to
from stylegan_tutorial.metrics.coverage import FRACTION, coverage
from stylegan_tutorial.metrics.frechet import frechet_distance, kid
from stylegan_tutorial.metrics.mixing import mixing_transfer_table, transfer_table_markdown
from stylegan_tutorial.metrics.path_length import path_length
from stylegan_tutorial.metrics.separability import separability
from stylegan_tutorial.metrics.swd import sliced_wasserstein
from stylegan_tutorial.oracle import load_oracle
from stylegan_tutorial.progress import tqdm

Tensor = torch.Tensor

METRICS = ("fd", "kid", "swd", "ppl", "sep", "mixing", "coverage")


def _real_images(data, n: int, resolution: int, seed: int) -> Tensor:
    """``n`` random real images at ``resolution`` from a tensor ``[N, 3, R, R]`` or an ImageDataset."""
    total = len(data)
    if total < n:
        raise ValueError(f"data has {total} images, fewer than n={n}")
    idx = np.sort(np.random.default_rng(seed).choice(total, n, replace=False))
    if isinstance(data, Tensor):
        images = data[torch.as_tensor(idx)].float()
        if images.shape[-1] != resolution:
            if images.shape[-1] < resolution:
                raise ValueError(f"data is {images.shape[-1]}², smaller than the generator's "
                                 f"{resolution}²")
            images = downsample_to(images, resolution)
        return images
    return data.batch(idx, resolution).float()


def evaluate(G: Generator, data, metrics: Sequence[str] = METRICS, n: int = 2000, oracle=None,
             progress: bool = True, seed: int = 0, batch_size: int = 64,
             kid_subset_size: int = 1000, n_ppl: int | None = None,
             n_mix: int | None = None) -> dict:
    """Run the chosen metrics on generator ``G`` against real images ``data`` (chapter 11).

    Args:
        G:               the generator (put in eval mode while measuring, then restored).
        data:            real images: a tensor ``[N, 3, R, R]`` in [-1, 1] (pooled down to
                         ``G``'s resolution if larger) or an ImageDataset.
        metrics:         a sequence drawn from :data:`METRICS`: ``fd``, ``kid``, ``swd``, ``ppl``,
                         ``sep``, ``mixing``, ``coverage``.
        n:               real and generated images compared by fd, kid, swd and coverage
                         (truncation off, random noise); also the samples of sep.
        oracle:          the judge (None: the shipped oracle).
        progress:        show a progress bar.
        seed:            seeds every draw (real images, samples, paths, pairs).
        batch_size:      images per forward pass.
        kid_subset_size: rows per KID subset (at most ``n``).
        n_ppl:           paths per path-length variant, two images each (None: ``n``).
        n_mix:           pairs of faces for the mixing table (None: ``n``).

    Returns a dict with the keys asked for: ``fd``; ``kid`` and ``kid_std``; ``swd`` (per level
    and mean; None below 16²); ``ppl`` with ``z_full``, ``z_end``, ``w_full``, ``w_end``; ``sep``
    with ``z`` and ``w``; ``mixing`` (the transfer table); ``coverage`` with ``share``,
    ``covered``, ``present`` and ``tv`` (:func:`~stylegan_tutorial.metrics.coverage.coverage`:
    how many of the data's hair × eyes × glasses combinations the generator draws), and the
    uncovered ones' names in ``missing_combinations``.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or isinstance(metrics, str):
        raise ValueError(f"metrics must be a sequence drawn from {METRICS}, got {metrics!r}")
    n = check_positive_int(n, "n")
    n_ppl = n if n_ppl is None else check_positive_int(n_ppl, "n_ppl")
    n_mix = n if n_mix is None else check_positive_int(n_mix, "n_mix")
    oracle = load_oracle() if oracle is None else oracle
    was_training = G.training
    G.eval()
    res = G.config.resolution
    result = {}
    steps = tqdm(list(metrics), desc="evaluate", disable=not progress)
    try:
        fakes = reals = None
        if any(m in ("fd", "kid", "swd", "coverage") for m in metrics):
            steps.set_postfix_str(f"drawing {n} real and {n} generated images")
            reals = _real_images(data, n, res, seed)
            fakes = sample_images(G, n, seed=seed + 1, batch_size=batch_size)
        if any(m in ("fd", "kid") for m in metrics):
            f_real, f_fake = oracle.features(reals), oracle.features(fakes)
        for m in steps:
            steps.set_postfix(metric=m)
            if m == "fd":
                result["fd"] = frechet_distance(f_real, f_fake)
            elif m == "kid":
                result["kid"], result["kid_std"] = kid(f_real, f_fake, subsets=100,
                                                       subset_size=min(kid_subset_size, n), seed=seed)
            elif m == "swd":
                result["swd"] = sliced_wasserstein(reals, fakes, seed=seed) if res >= 16 else None
            elif m == "ppl":
                result["ppl"] = {f"{s}_{p}": path_length(G, s, p, n_ppl, feature_fn=oracle.features,
                                                         batch_size=batch_size, seed=seed)
                                 for s in ("z", "w") for p in ("full", "end")}
            elif m == "sep":
                result["sep"] = separability(G, oracle, n, batch_size, seed)
            elif m == "mixing":
                result["mixing"] = mixing_transfer_table(G, oracle, n=n_mix, batch_size=batch_size,
                                                         seed=seed)
            elif m == "coverage":
                found = coverage(oracle.predict(fakes), oracle.predict(reals))
                result["coverage"] = {"share": found["coverage"], "covered": found["covered"],
                                      "present": found["present"], "tv": found["tv"]}
                result["missing_combinations"] = found["missing"]
    finally:
        G.train(was_training)
    return result


def flatten(result: dict, prefix: str = "") -> dict[str, float]:
    """Nested metric results as one level: ``{"ppl.w_full": 233.3, ...}`` (chapter 11).

    Args:
        result: :func:`evaluate`'s result without its ``mixing`` table (or any nested dict of
                numbers).
        prefix: put before every key (used by the recursion).
    """
    flat: dict[str, float] = {}
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = float(value)
    return flat


def format_table(result: dict) -> str:
    """One ``metric  value`` line per number, then the mixing transfer table when present (chapter 11).

    Args:
        result: :func:`evaluate`'s result.
    """
    numbers = flatten({k: v for k, v in result.items() if k not in ("mixing", "missing_combinations")})
    width = max((len(k) for k in numbers), default=6)
    lines = [f"{k:<{width}}  {v + 0.0:.4g}" for k, v in numbers.items()]  # + 0.0: no "-0"
    if "mixing" in result:
        lines += ["", "style-mixing transfer (fraction of each factor that follows source B):",
                  transfer_table_markdown(result["mixing"])]
    if "missing_combinations" in result:
        missing = result["missing_combinations"]
        lines += ["", f"combinations of the data drawn less than {FRACTION:.0%} as often as the data shows "
                      f"them: {'; '.join(missing) if missing else 'none'}"]
    return "\n".join(lines)


def json_safe(value):
    """``value`` with NaN written as None (JSON has no NaN) and tensors as numbers (chapter 11).

    Args:
        value: a number, a 0-d tensor or array, or a nested dict of them (keys become strings).
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return json_safe(value.item())
    return value
