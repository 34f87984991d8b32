"""Measuring a generator offline: the paper's metrics with the oracle as the judge (chapter 11).

StyleGAN's claims are numbers. This package computes them without downloading anything, one
module per metric:

- :mod:`~stylegan_tutorial.metrics.baseline`: chapter 1's first measured baseline, FD, KID and
  the oracle's :func:`factor_confidence` of naive pixel-space generators (:func:`baseline_row`);
- :mod:`~stylegan_tutorial.metrics.digits`: chapter 2's judges of generated digits, a
  :class:`DigitReader` and a blur measure (:func:`sharpness`);
- :mod:`~stylegan_tutorial.metrics.frechet`: **Fréchet distance** (FD) and **KID** between
  feature sets, the math of FID and KID, applied to the oracle's features; real FID with
  Inception where its weights exist (:func:`inception_fid`);
- :mod:`~stylegan_tutorial.metrics.swd`: **sliced Wasserstein distance** on Laplacian-pyramid
  patches, as the ProGAN paper defines it: no network at all;
- :mod:`~stylegan_tutorial.metrics.path_length`: **perceptual path length** in Z and in W, full
  paths and end points;
- :mod:`~stylegan_tutorial.metrics.separability`: **linear separability** of the oracle's
  attributes in Z and in W;
- :mod:`~stylegan_tutorial.metrics.mixing`: the **style-mixing transfer table**: which source
  each factor follows when a range of layers comes from another face;
- :mod:`~stylegan_tutorial.metrics.report`: :func:`evaluate` runs any of them on a generator and
  a set of real images; :func:`format_table` and :func:`json_safe` report the result.

Feature-space numbers are only comparable with the same oracle; the shipped one is fixed and
hashed (see :mod:`stylegan_tutorial.oracle`). Every public name is importable from here::

    from stylegan_tutorial import metrics as M
    M.frechet_distance(feats_a, feats_b)
"""

from stylegan_tutorial.metrics.baseline import (
    baseline_row,
    baseline_table_markdown,
    factor_certainties,
    factor_confidence,
)
from stylegan_tutorial.metrics.digits import DigitReader, sharpness
from stylegan_tutorial.metrics.frechet import (
    INCEPTION_WEIGHTS,
    feature_stats,
    frechet_distance,
    frechet_distance_from_stats,
    inception_fid,
    kernel_inception_distance,
    kid,
    mmd2_unbiased,
    polynomial_kernel,
)
from stylegan_tutorial.metrics.mixing import mixing_transfer_table, transfer_table_markdown
from stylegan_tutorial.metrics.path_length import filtered_mean, path_distances, path_length, slerp
from stylegan_tutorial.metrics.report import METRICS, evaluate, flatten, format_table, json_safe
from stylegan_tutorial.metrics.separability import (
    conditional_entropy,
    linear_separability,
    oracle_attributes,
    separability,
)
from stylegan_tutorial.metrics.swd import (
    laplacian_pyramid,
    pyramid_down,
    pyramid_up,
    sliced_wasserstein,
    sliced_wasserstein_descriptors,
)

__all__ = [
    "DigitReader", "INCEPTION_WEIGHTS", "METRICS", "baseline_row", "baseline_table_markdown",
    "conditional_entropy", "evaluate", "factor_certainties", "factor_confidence", "feature_stats",
    "filtered_mean", "flatten", "format_table", "frechet_distance", "frechet_distance_from_stats",
    "inception_fid", "json_safe", "kernel_inception_distance", "kid", "laplacian_pyramid",
    "linear_separability", "mixing_transfer_table", "mmd2_unbiased", "oracle_attributes",
    "path_distances", "path_length", "polynomial_kernel", "pyramid_down", "pyramid_up",
    "separability", "sharpness", "slerp", "sliced_wasserstein", "sliced_wasserstein_descriptors",
    "transfer_table_markdown",
]
