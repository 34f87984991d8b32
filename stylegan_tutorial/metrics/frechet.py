"""Fréchet distance and KID between two feature sets, and real FID where Inception exists (chapter 11).

FID is the Fréchet distance between Gaussians fitted to Inception features of real and
generated images; KID is an unbiased kernel two-sample statistic on the same features. Here the
features are the oracle's (:meth:`stylegan_tutorial.oracle.Oracle.features`), so the numbers
need no download; :func:`inception_fid` computes the real FID for readers who have the weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from stylegan_tutorial.generate import check_positive_int

Tensor = torch.Tensor


def _check_features(feats, name: str, min_rows: int = 2) -> Tensor:
    """``feats`` as a float64 tensor ``[N, D]`` with at least ``min_rows`` rows, or ValueError."""
    feats = torch.as_tensor(feats)
    if feats.ndim != 2 or feats.shape[0] < min_rows:
        raise ValueError(f"{name} must be a 2-D array [N, D] with N >= {min_rows}, "
                         f"got shape {tuple(feats.shape)}")
    return feats.double()


# --------------------------------------------------------------------------------------------
# Fréchet distance
# --------------------------------------------------------------------------------------------

def _psd_sqrt(cov: Tensor) -> Tensor:
    """Symmetric square root of a symmetric PSD matrix via its eigendecomposition.

    Round-off can leave tiny negative eigenvalues; they are clamped to 0 so the root stays real.
    """
    vals, vecs = torch.linalg.eigh(cov)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance_from_stats(mu_a, cov_a, mu_b, cov_b) -> float:
    """FD between two Gaussians (chapter 11): ``|mu_a - mu_b|² + tr(C_a) + tr(C_b) - 2 tr((C_a C_b)^(1/2))``.

    Args:
        mu_a:  the first mean ``[D]``.
        cov_a: the first covariance ``[D, D]`` (symmetric positive semi-definite).
        mu_b:  the second mean ``[D]``.
        cov_b: the second covariance ``[D, D]``.

    The trace of the root is computed stably and really: ``C_a C_b`` is not symmetric, but it is
    similar to ``S C_b S`` with ``S = C_a^(1/2)``, which is symmetric PSD, so
    ``tr((C_a C_b)^(1/2)) = sum(sqrt(eigvalsh(S C_b S)))`` with the eigenvalues clamped at 0.
    No complex numbers, no iterative ``sqrtm`` that can fail on singular covariances.
    Everything runs in float64. Returns a float >= 0.
    """
    mu_a, mu_b = torch.as_tensor(mu_a).double(), torch.as_tensor(mu_b).double()
    cov_a, cov_b = torch.as_tensor(cov_a).double(), torch.as_tensor(cov_b).double()
    d = mu_a.shape[-1]
    for name, c in (("cov_a", cov_a), ("cov_b", cov_b)):
        if c.shape != (d, d):
            raise ValueError(f"{name} must have shape ({d}, {d}) to match the means, "
                             f"got {tuple(c.shape)}")
    if mu_b.shape != mu_a.shape:
        raise ValueError(f"mu_b must have shape {tuple(mu_a.shape)} like mu_a, got {tuple(mu_b.shape)}")
    s = _psd_sqrt((cov_a + cov_a.T) / 2)
    m = s @ cov_b @ s
    tr_root = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    fd = (mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * tr_root
    return float(fd.clamp(min=0))


def feature_stats(feats) -> tuple[Tensor, Tensor]:
    """The Gaussian fitted to a feature set (chapter 11).

    Args:
        feats: features ``[N, D]`` with N >= 2 (a tensor or an array).

    Returns the mean ``[D]`` and the unbiased covariance ``[D, D]`` (divided by N - 1), float64.
    """
    feats = _check_features(feats, "feats")
    mu = feats.mean(dim=0)
    centred = feats - mu  # [N, D]
    return mu, centred.T @ centred / (feats.shape[0] - 1)


def frechet_distance(feats_a, feats_b) -> float:
    """FD between the Gaussians fitted to two feature sets: FID's formula (chapter 11).

    Args:
        feats_a: features ``[N, D]`` of one image set (e.g. the real images), N >= 2.
        feats_b: features ``[M, D]`` of the other, the same width D.

    Returns a float >= 0; 0 for a set compared with itself.
    """
    feats_a = _check_features(feats_a, "feats_a")
    feats_b = _check_features(feats_b, "feats_b")
    if feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(f"feats_a and feats_b must have the same width, got {feats_a.shape[1]} "
                         f"and {feats_b.shape[1]}")
    return frechet_distance_from_stats(*feature_stats(feats_a), *feature_stats(feats_b))


# --------------------------------------------------------------------------------------------
# KID: unbiased MMD² with the cubic polynomial kernel
# --------------------------------------------------------------------------------------------

def polynomial_kernel(x: Tensor, y: Tensor) -> Tensor:
    """KID's kernel ``k(x, y) = (x·y / D + 1)³`` for all pairs (chapter 11).

    Args:
        x: points ``[N, D]``.
        y: points ``[M, D]``.

    Returns ``[N, M]``.
    """
    t = x @ y.T / x.shape[1] + 1.0  # [N, M]
    return t * t * t  # two products: much cheaper than a float ** 3


def mmd2_unbiased(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased MMD² of two equal-size samples: kernel means without the diagonals (chapter 11).

    Args:
        x: one sample ``[m, D]``.
        y: the other ``[m, D]``.

    ``E k(x, x') + E k(y, y') - 2 E k(x, y)``, where the first two averages skip ``i == j``
    (a point compared with itself would bias the estimate upwards); its expectation is exactly
    the squared MMD, so it can come out negative when the two distributions agree.
    Returns a scalar tensor.
    """
    m = x.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    off = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return off - 2 * k_xy.mean()


def kid(feats_a, feats_b, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance of two feature sets over random subsets (chapter 11).

    Args:
        feats_a:     features ``[N, D]`` of one image set.
        feats_b:     features ``[M, D]`` of the other.
        subsets:     how many rounds; each draws ``subset_size`` rows from each set without
                     replacement and computes :func:`mmd2_unbiased`, as Bińkowski et al. and
                     the usual implementations do.
        subset_size: rows per set and round, in ``[2, min(N, M)]``.
        seed:        the numpy seed of the draws.

    Returns ``(mean, std)`` of MMD² over the rounds.
    """
    feats_a = _check_features(feats_a, "feats_a")
    feats_b = _check_features(feats_b, "feats_b")
    subsets = check_positive_int(subsets, "subsets")
    subset_size = check_positive_int(subset_size, "subset_size")
    n = min(len(feats_a), len(feats_b))
    if not 2 <= subset_size <= n:
        raise ValueError(f"subset_size must be in [2, {n}] (the smaller set's size), got {subset_size}")
    rng = np.random.default_rng(seed)
    values = torch.stack([
        mmd2_unbiased(feats_a[rng.choice(len(feats_a), subset_size, replace=False)],
                      feats_b[rng.choice(len(feats_b), subset_size, replace=False)])
        for _ in range(subsets)
    ])
    return float(values.mean()), float(values.std(unbiased=False))


kernel_inception_distance = kid


# --------------------------------------------------------------------------------------------
# How the estimates depend on the sample size
# --------------------------------------------------------------------------------------------

def fd_kid_by_size(feats_a, feats_b, sizes, repeats: int = 5, seed: int = 0) -> dict[int, dict]:
    """FD and KID of ``n`` rows of each set, for each ``n`` in ``sizes``, over repeated draws (chapter 11).

    Args:
        feats_a: features ``[N, D]`` of one image set (e.g. real images).
        feats_b: features ``[M, D]`` of the other (e.g. more real images, to see the floor).
        sizes:   the sample sizes ``n``, each in ``[2, min(N, M)]``.
        repeats: draws per size; each takes ``n`` rows of each set without replacement.
        seed:    the numpy seed of the draws.

    Why: FD is a biased estimate, its expectation over draws of ``n`` images shrinks towards the
    true distance roughly like ``1/n`` (two sets of the same distribution never score 0), while
    KID's :func:`mmd2_unbiased` has the true value as its expectation at every ``n``. Plotting
    both against ``n`` shows it, and the spread over the draws says how many digits of either
    number mean something. KID here is the unbiased MMD² of the whole draw (one subset of
    ``n`` rows, as :func:`kid` with ``subsets=1, subset_size=n``).

    Returns ``{n: {"fd": mean, "fd_std": std, "kid": mean, "kid_std": std}}``, the standard
    deviations over the ``repeats`` draws (population std, 0 for one draw).
    """
    feats_a = _check_features(feats_a, "feats_a")
    feats_b = _check_features(feats_b, "feats_b")
    repeats = check_positive_int(repeats, "repeats")
    largest = min(len(feats_a), len(feats_b))
    rng = np.random.default_rng(seed)
    out = {}
    for n in sizes:
        n = check_positive_int(n, "each size")
        if not 2 <= n <= largest:
            raise ValueError(f"each size must be in [2, {largest}] (the smaller set's size), got {n}")
        fds, kids = [], []
        for _ in range(repeats):
            a = feats_a[rng.choice(len(feats_a), n, replace=False)]  # [n, D]
            b = feats_b[rng.choice(len(feats_b), n, replace=False)]
            fds.append(frechet_distance(a, b))
            kids.append(float(mmd2_unbiased(a, b)))
        out[n] = {"fd": float(np.mean(fds)), "fd_std": float(np.std(fds)),
                  "kid": float(np.mean(kids)), "kid_std": float(np.std(kids))}
    return out


# --------------------------------------------------------------------------------------------
# Real FID, where the Inception weights exist
# --------------------------------------------------------------------------------------------

INCEPTION_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"


def inception_fid(images_a: Tensor, images_b: Tensor, weights_path=None, batch_size: int = 64) -> float:
    """Real FID with Inception-v3 (torchmetrics + torch-fidelity), for readers with the weights (chapter 11).

    Args:
        images_a:     the real images ``[N, 3, H, W]`` in [-1, 1].
        images_b:     the generated images ``[M, 3, H, W]`` in [-1, 1].
        weights_path: the FID Inception weights file (None: ``pt_inception-2015-12-05-6726825d.pth``
                      in torch's hub cache, where torch-fidelity downloads it on a machine with
                      internet).
        batch_size:   images per Inception forward pass.

    Needs the optional packages ``torchmetrics`` and ``torch-fidelity``. Nothing here
    downloads: if a piece is missing this raises ModuleNotFoundError / FileNotFoundError saying
    what to install or fetch.
    """
    try:
        import torch_fidelity  # noqa: F401
        from torchmetrics.image.fid import FrechetInceptionDistance
    except ImportError as err:
        raise ModuleNotFoundError(
            "inception_fid needs the optional packages torchmetrics and torch-fidelity "
            "(pip install 'torchmetrics[image]'), plus the Inception weights; offline, use "
            "frechet_distance on oracle features instead") from err
    if weights_path is None:
        weights_path = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS
    weights_path = Path(weights_path)
    if not weights_path.exists():
        raise FileNotFoundError(
            f"inception_fid: Inception weights not found at {weights_path}; on a machine with "
            f"internet torch-fidelity downloads {INCEPTION_WEIGHTS} there on first use, or pass "
            "weights_path=... to a copy; offline, use frechet_distance on oracle features instead")
    metric = FrechetInceptionDistance(feature=2048, normalize=True,
                                      feature_extractor_weights_path=str(weights_path))
    for real, chunk in ((True, images_a), (False, images_b)):
        for part in chunk.split(batch_size):
            metric.update(((part.float().clamp(-1, 1) + 1) / 2), real=real)
    return float(metric.compute())
