"""Measuring a generator offline: the paper's metrics with the oracle as the judge (chapter 10).

StyleGAN's claims are numbers. This module computes them without downloading anything:

- **Fréchet distance** (FD) and **KID** between feature sets, the math of FID and KID, applied to
  the oracle's features (:func:`frechet_distance`, :func:`kid`);
- **sliced Wasserstein distance** on Laplacian-pyramid patches, as the ProGAN paper defines it:
  no network at all (:func:`sliced_wasserstein`);
- **perceptual path length** in Z and in W, full paths and end points (:func:`path_length`);
- **linear separability** of the oracle's attributes in Z and in W (:func:`linear_separability`);
- the **style-mixing transfer table**: which source each factor follows when a range of layers
  comes from another face (:func:`mixing_transfer_table`);
- :func:`evaluate` runs any of them on a generator and a set of real images, and
  :func:`inception_fid` gives real FID where the Inception weights exist.

Feature-space numbers are only comparable with the same oracle; the shipped one is fixed and
hashed (see :mod:`stylegan_tutorial.oracle`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylegan_tutorial.data.faces import FACTORS

Tensor = torch.Tensor


def _check_features(feats, name: str, min_rows: int = 2) -> Tensor:
    """``feats`` as a float64 tensor ``[N, D]`` with at least ``min_rows`` rows, or ValueError."""
    feats = torch.as_tensor(feats)
    if feats.ndim != 2 or feats.shape[0] < min_rows:
        raise ValueError(f"{name} must be a 2-D array [N, D] with N >= {min_rows}, "
                         f"got shape {tuple(feats.shape)}")
    return feats.double()


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


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
    """``|mu_a - mu_b|² + tr(C_a) + tr(C_b) - 2 tr((C_a C_b)^(1/2))``: FD between two Gaussians.

    The trace of the root is computed stably and really: ``C_a C_b`` is not symmetric, but it is
    similar to ``S C_b S`` with ``S = C_a^(1/2)``, which is symmetric PSD, so
    ``tr((C_a C_b)^(1/2)) = sum(sqrt(eigvalsh(S C_b S)))`` with the eigenvalues clamped at 0.
    No complex numbers, no iterative ``sqrtm`` that can fail on singular covariances.
    Everything runs in float64.
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
    """Mean ``[D]`` and unbiased covariance ``[D, D]`` (divide by N - 1) of ``feats [N, D]``."""
    feats = _check_features(feats, "feats")
    mu = feats.mean(dim=0)
    centred = feats - mu  # [N, D]
    return mu, centred.T @ centred / (feats.shape[0] - 1)


def frechet_distance(feats_a, feats_b) -> float:
    """FD between the Gaussians fitted to two feature sets ``[N, D]`` and ``[M, D]`` (FID's formula)."""
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
    """KID's kernel ``k(x, y) = (x·y / D + 1)³`` for all pairs: ``[N, D], [M, D] -> [N, M]``."""
    t = x @ y.T / x.shape[1] + 1.0  # [N, M]
    return t * t * t  # two products: much cheaper than a float ** 3


def mmd2_unbiased(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased MMD² of two equal-size samples ``[m, D]``: kernel means without the diagonals.

    ``E k(x, x') + E k(y, y') - 2 E k(x, y)``, where the first two averages skip ``i == j``
    (a point compared with itself would bias the estimate upwards); its expectation is exactly
    the squared MMD, so it can come out negative when the two distributions agree.
    """
    m = x.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    off = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return off - 2 * k_xy.mean()


def kid(feats_a, feats_b, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance of two feature sets: ``(mean, std)`` of MMD² over random subsets.

    Each of ``subsets`` rounds draws ``subset_size`` rows from each set without replacement
    (numpy ``seed``) and computes :func:`mmd2_unbiased`, as Bińkowski et al. and the usual
    implementations do. ``subset_size`` must not exceed either set's size.
    """
    feats_a = _check_features(feats_a, "feats_a")
    feats_b = _check_features(feats_b, "feats_b")
    subsets = _check_positive_int(subsets, "subsets")
    subset_size = _check_positive_int(subset_size, "subset_size")
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
# Sliced Wasserstein distance (Karras et al. 2018, "Progressive growing of GANs", appendix D)
# --------------------------------------------------------------------------------------------

_BINOMIAL5 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _gauss5(x: Tensor) -> Tensor:
    """Separable 5x5 binomial blur per channel with mirrored borders; shape unchanged."""
    c = x.shape[1]
    k = _BINOMIAL5.to(x)
    across, down = k.view(1, 1, 1, 5).expand(c, 1, 1, 5), k.view(1, 1, 5, 1).expand(c, 1, 5, 1)
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="reflect"), across, groups=c)
    return F.conv2d(F.pad(x, (0, 0, 2, 2), mode="reflect"), down, groups=c)


def pyramid_down(x: Tensor) -> Tensor:
    """Blur then keep every second pixel: ``[N, C, H, W] -> [N, C, H/2, W/2]``."""
    return _gauss5(x)[:, :, ::2, ::2]


def pyramid_up(x: Tensor) -> Tensor:
    """Insert zeros between pixels, then blur with 4x the gain: ``[N, C, H, W] -> [N, C, 2H, 2W]``."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return _gauss5(up) * 4.0


def laplacian_pyramid(images: Tensor, min_resolution: int = 16) -> list[Tensor]:
    """Band-pass levels, finest first, down to ``min_resolution`` (that last level is low-pass).

    Each level is ``g - up(down(g))`` for the Gaussian level ``g``; summing the levels back up
    reconstructs the image exactly.
    """
    levels, g = [], images
    while g.shape[-1] > min_resolution:
        down = pyramid_down(g)
        levels.append(g - pyramid_up(down))  # [N, C, R, R]
        g = down
    levels.append(g)  # [N, C, min_resolution, min_resolution]
    return levels


def _patch_corners(n: int, per_image: int, resolution: int, size: int,
                   gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random top-left corners ``(ys, xs)``, each ``[n, per_image]``, of patches inside the image."""
    ys = torch.randint(0, resolution - size + 1, (n, per_image), generator=gen)
    xs = torch.randint(0, resolution - size + 1, (n, per_image), generator=gen)
    return ys, xs


def _random_patches(level: Tensor, ys: Tensor, xs: Tensor, size: int) -> Tensor:
    """The ``size x size`` patches at corners ``ys, xs [N, P]``: ``[N * P, C, size, size]``."""
    n, c, h, w = level.shape
    per_image = ys.shape[1]
    off = torch.arange(size)
    rows = (ys[:, :, None] + off).view(n, per_image, size, 1)  # [N, P, size, 1]
    cols = (xs[:, :, None] + off).view(n, per_image, 1, size)  # [N, P, 1, size]
    idx = torch.arange(n).view(n, 1, 1, 1)
    patches = level[idx, :, rows, cols]  # [N, P, size, size, C]
    return patches.permute(0, 1, 4, 2, 3).reshape(n * per_image, c, size, size)


def _normalise_descriptors(desc: Tensor) -> Tensor:
    """Zero mean, unit std per channel over all patches and pixels, then flatten: ``[K, C*s*s]``."""
    desc = desc - desc.mean(dim=(0, 2, 3), keepdim=True)
    desc = desc / desc.std(dim=(0, 2, 3), keepdim=True, unbiased=False).clamp(min=1e-8)
    return desc.flatten(1)


def sliced_wasserstein_descriptors(a: Tensor, b: Tensor, repeats: int = 4,
                                   directions: int = 128, gen: torch.Generator | None = None) -> float:
    """SWD of two equal-size point sets ``[K, D]``: project on random unit directions, sort, compare.

    In 1-D the Wasserstein-1 distance between equal-size samples is the mean absolute difference
    of the sorted values; averaging it over random directions approximates the distance in D-D.
    """
    if a.shape != b.shape:
        raise ValueError(f"both descriptor sets must have the same shape, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    dists = []
    for _ in range(repeats):
        dirs = torch.randn(a.shape[1], directions, generator=gen, dtype=a.dtype)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)  # [D, directions]
        # numpy sorts rows of floats with SIMD, several times faster than torch.sort here.
        pa = np.sort((dirs.T @ a.T).numpy(), axis=1)  # [directions, K]
        pb = np.sort((dirs.T @ b.T).numpy(), axis=1)
        dists.append(np.abs(pa - pb).mean(dtype=np.float64))
    return float(np.mean(dists))


def sliced_wasserstein(images_a: Tensor, images_b: Tensor, patches_per_image: int = 128,
                       patch_size: int = 7, repeats: int = 4, directions: int = 128,
                       min_resolution: int = 16, seed: int = 0) -> dict:
    """ProGAN's SWD between two image sets ``[N, C, R, R]`` (same N and R), per pyramid level.

    For each Laplacian level (``R``, ``R/2``, ... ``min_resolution``): ``patches_per_image``
    random 7x7 patches per image, normalised per channel *within each set*, then the sliced
    Wasserstein distance over ``repeats x directions`` random projections. Like the paper,
    distances are multiplied by 10³. Returns ``{resolution: distance, ..., "mean": average}``.
    Patch positions and directions come from a torch generator seeded with ``seed``. Both sets
    are cut at the same positions (the paper draws them independently): the same expected
    distribution of patches per set, less sampling noise, and a set compared with itself
    gives exactly 0.
    """
    for name, im in (("images_a", images_a), ("images_b", images_b)):
        if not isinstance(im, Tensor) or im.ndim != 4 or im.shape[-1] != im.shape[-2]:
            raise ValueError(f"{name} must be a tensor [N, C, R, R], got "
                             f"{tuple(im.shape) if isinstance(im, Tensor) else type(im).__name__}")
    if images_a.shape != images_b.shape:
        raise ValueError(f"images_a and images_b must have the same shape, got "
                         f"{tuple(images_a.shape)} and {tuple(images_b.shape)}")
    if images_a.shape[-1] < max(min_resolution, patch_size):
        raise ValueError(f"images must be at least {max(min_resolution, patch_size)}² "
                         f"(min_resolution, patch_size), got {images_a.shape[-1]}²")
    gen = torch.Generator().manual_seed(seed)
    pyr_a = laplacian_pyramid(images_a.float(), min_resolution)  # float32, as in ProGAN
    pyr_b = laplacian_pyramid(images_b.float(), min_resolution)
    result = {}
    for la, lb in zip(pyr_a, pyr_b):
        ys, xs = _patch_corners(len(la), patches_per_image, la.shape[-1], patch_size, gen)
        da = _normalise_descriptors(_random_patches(la, ys, xs, patch_size))
        db = _normalise_descriptors(_random_patches(lb, ys, xs, patch_size))
        result[la.shape[-1]] = 1e3 * sliced_wasserstein_descriptors(da, db, repeats, directions, gen)
    result["mean"] = float(np.mean(list(result.values())))
    return result


# --------------------------------------------------------------------------------------------
# Helpers on a generator
# --------------------------------------------------------------------------------------------

def _default_oracle():
    from stylegan_tutorial.oracle import load_oracle

    return load_oracle()


def _batches(n: int, batch_size: int):
    """Sizes of consecutive batches covering ``n`` items."""
    return [min(batch_size, n - s) for s in range(0, n, batch_size)]


@torch.no_grad()
def generate(G, n: int, seed: int = 0, batch_size: int = 64, resolution: int | None = None,
             psi: float = 1.0, noise_mode: str = "random") -> Tensor:
    """``n`` images ``[n, 3, R, R]`` from ``G`` for ``z ~ N(0, I)`` drawn with ``seed``.

    Random noise inputs come from torch's global generator, seeded with ``seed`` inside a fork
    so the caller's random state is left as it was: the same call gives the same images.
    """
    n = _check_positive_int(n, "n")
    gen = torch.Generator().manual_seed(seed)
    dev = next(G.parameters()).device
    out = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for b in _batches(n, batch_size):
            z = torch.randn(b, G.z_dim, generator=gen).to(dev)
            out.append(G(z, resolution=resolution, psi=psi, noise_mode=noise_mode).float().cpu())
    return torch.cat(out)


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between the directions of ``a`` and ``b`` ``[N, D]`` at ``t [N]``.

    Both ends are normalised first (the mapping normalises ``z`` anyway), so the path runs along
    the unit sphere at constant speed, as in the paper's path-length code.
    """
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    # The angle between them, accurate even when tiny (acos of a dot product near 1 is not).
    omega = 2 * torch.atan2((a - b).norm(dim=-1, keepdim=True), (a + b).norm(dim=-1, keepdim=True))
    t = t.view(-1, 1)
    so = torch.sin(omega)  # [N, 1]
    tiny = so < 1e-6  # (nearly) parallel ends: the arc is a straight line
    safe = torch.where(tiny, torch.ones_like(so), so)
    out = torch.where(tiny, torch.lerp(a, b, t),
                      (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / safe)
    return out / out.norm(dim=-1, keepdim=True)  # [N, D]


# --------------------------------------------------------------------------------------------
# Perceptual path length
# --------------------------------------------------------------------------------------------

@torch.no_grad()
def path_distances(G, space: str = "w", sampling: str = "full", n: int = 1000, eps: float = 1e-4,
                   feature_fn: Callable[[Tensor], Tensor] | None = None, batch_size: int = 64,
                   resolution: int | None = None, seed: int = 0) -> Tensor:
    """The ``n`` raw path-length samples ``d(t, t + eps) / eps²`` (see :func:`path_length`)."""
    if space not in ("w", "z"):
        raise ValueError(f"space must be 'w' or 'z', got {space!r}")
    if sampling not in ("full", "end"):
        raise ValueError(f"sampling must be 'full' or 'end', got {sampling!r}")
    if not (isinstance(eps, float) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1), got {eps!r}")
    n = _check_positive_int(n, "n")
    feature_fn = _default_oracle().features if feature_fn is None else feature_fn
    gen = torch.Generator().manual_seed(seed)
    dev = next(G.parameters()).device
    out = []
    for b in _batches(n, batch_size):
        z0 = torch.randn(b, G.z_dim, generator=gen).to(dev)
        z1 = torch.randn(b, G.z_dim, generator=gen).to(dev)
        t = torch.rand(b, generator=gen).to(dev) if sampling == "full" else torch.zeros(b, device=dev)
        if space == "z":
            w_t = G.mapping(torch.cat([slerp(z0, z1, t), slerp(z0, z1, t + eps)]))  # [2b, w_dim]
        else:
            w0, w1 = G.mapping(z0), G.mapping(z1)
            t0, t1 = t.view(-1, 1), (t + eps).view(-1, 1)
            w_t = torch.cat([torch.lerp(w0, w1, t0), torch.lerp(w0, w1, t1)])  # [2b, w_dim]
        # The same stored noise for both ends: only the latent moves.
        img = G.synthesis(w_t, resolution=resolution, noise_mode="fixed")  # [2b, 3, R, R]
        f = feature_fn(img.float()).double()  # [2b, F]
        out.append(((f[:b] - f[b:]) ** 2).sum(dim=1).cpu() / eps ** 2)  # [b]
    return torch.cat(out)


def filtered_mean(values: Tensor, low: float = 1.0, high: float = 99.0) -> float:
    """Mean of the values between the ``low`` and ``high`` percentiles (inclusive), as the paper's PPL.

    Like the paper's code the lower bound rounds down and the upper bound rounds up to sample values.
    """
    v = np.asarray(values, dtype=np.float64)
    lo = np.percentile(v, low, method="lower")
    hi = np.percentile(v, high, method="higher")
    return float(v[(v >= lo) & (v <= hi)].mean())


def path_length(G, space: str = "w", sampling: str = "full", n: int = 1000, eps: float = 1e-4,
                feature_fn: Callable[[Tensor], Tensor] | None = None, batch_size: int = 64,
                resolution: int | None = None, seed: int = 0) -> float:
    """Perceptual path length: how much the image changes per tiny step along latent paths.

    For ``n`` random pairs of latents, step from ``t`` to ``t + eps`` (``t ~ U(0, 1)`` for
    ``"full"`` paths, ``t = 0`` for ``"end"`` points): spherical interpolation in Z (``z`` is
    Gaussian, its mass is on a sphere), linear in W. The distance is the squared difference of
    ``feature_fn`` (default: the oracle's features) of the two images divided by ``eps²``; the
    result is the mean after dropping samples outside the 1st..99th percentiles.
    """
    return filtered_mean(path_distances(G, space, sampling, n, eps, feature_fn, batch_size,
                                        resolution, seed))


# --------------------------------------------------------------------------------------------
# Linear separability
# --------------------------------------------------------------------------------------------

def oracle_attributes(pred: dict[str, Tensor]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Binary or categorical attributes from oracle predictions, with a confidence for each.

    Categorical factors are their predicted class (confidence: its probability); a continuous
    factor is "above the middle of its range" (confidence: the distance to that middle, as a
    fraction of the half-range). The circular hue is split into halves at 0 and 0.5; its
    confidence is the distance to the nearer cut. Returns ``{name: (labels [N], confidence [N])}``.
    """
    from stylegan_tutorial.oracle import CIRCULAR

    attrs = {}
    for name, f in FACTORS.items():
        if f.kind == "categorical":
            prob = pred[f"{name}_prob"]
            conf, label = prob.max(dim=1)
        else:
            unit = (pred[name].double() - f.low) / (f.high - f.low)  # [N], ~[0, 1]
            if name in CIRCULAR:
                unit = unit % 1.0
                label = (unit >= 0.5).long()
                conf = torch.minimum((unit - 0.5).abs(), torch.minimum(unit, 1 - unit)) * 4
            else:
                label = (unit >= 0.5).long()
                conf = (unit - 0.5).abs() * 2
        attrs[name] = (label.cpu().numpy(), conf.double().cpu().numpy())
    return attrs


def conditional_entropy(y: np.ndarray, x: np.ndarray) -> float:
    """``H(Y | X)`` in nats from paired discrete samples: how uncertain Y stays once X is known."""
    y, x = np.asarray(y), np.asarray(x)
    _, yi = np.unique(y, return_inverse=True)
    _, xi = np.unique(x, return_inverse=True)
    joint = np.zeros((xi.max() + 1, yi.max() + 1))
    np.add.at(joint, (xi, yi), 1.0)
    joint /= joint.sum()  # p(x, y)
    px = joint.sum(axis=1, keepdims=True)  # p(x)
    nz = joint > 0
    return float(-(joint[nz] * np.log((joint / px)[nz])).sum())


def linear_separability(latents, attributes: dict, keep: float = 0.5, C: float = 1.0,
                        seed: int = 0) -> dict:
    """The paper's separability: how well a linear classifier on the latents predicts each attribute.

    ``attributes`` maps a name to ``labels [N]`` or ``(labels [N], confidence [N])``. With a
    confidence, only the most confident ``keep`` fraction is used (the paper keeps half).
    Per attribute: fit a linear SVM on the latents to the labels, then ``H(Y | X)`` of the
    labels ``Y`` given the SVM's predictions ``X`` (fit and scored on the same samples, as the
    paper does). Returns ``{"entropy": {name: H}, "score": exp(sum of H)}``; lower is more
    linear, 1.0 is perfect. An attribute with a single label in the kept set has ``H = 0``.
    """
    from sklearn.svm import LinearSVC

    latents = np.asarray(torch.as_tensor(latents).double().cpu())
    if latents.ndim != 2:
        raise ValueError(f"latents must be [N, D], got shape {latents.shape}")
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep!r}")
    entropy = {}
    for name, value in attributes.items():
        labels, conf = value if isinstance(value, tuple) else (value, None)
        labels = np.asarray(labels)
        if labels.shape != (len(latents),):
            raise ValueError(f"attributes[{name!r}] must have {len(latents)} labels, "
                             f"got shape {labels.shape}")
        idx = np.arange(len(labels))
        if conf is not None:
            idx = np.argsort(-np.asarray(conf), kind="stable")[:max(2, int(keep * len(labels)))]
        x, y = latents[idx], labels[idx]
        if len(np.unique(y)) < 2:
            entropy[name] = 0.0
            continue
        svm = LinearSVC(C=C, max_iter=5000, random_state=seed).fit(x, y)
        entropy[name] = conditional_entropy(y, svm.predict(x))
    return {"entropy": entropy, "score": float(math.exp(sum(entropy.values())))}


@torch.no_grad()
def separability(G, oracle=None, n: int = 2000, batch_size: int = 64, seed: int = 0,
                 keep: float = 0.5) -> dict:
    """Linear separability of the oracle's attributes in Z and in W for ``n`` samples of ``G``.

    Returns ``{"z": {...}, "w": {...}}`` as :func:`linear_separability` does for each space.
    """
    oracle = _default_oracle() if oracle is None else oracle
    n = _check_positive_int(n, "n")
    gen = torch.Generator().manual_seed(seed)
    dev = next(G.parameters()).device
    zs, ws, preds = [], [], []
    for b in _batches(n, batch_size):
        z = torch.randn(b, G.z_dim, generator=gen).to(dev)
        w = G.mapping(z)  # [b, w_dim]
        img = G.synthesis(w, noise_mode="fixed")  # the labels should not depend on the noise
        zs.append(z.cpu()), ws.append(w.cpu()), preds.append(oracle.predict(img.float()))
    pred = {k: torch.cat([p[k] for p in preds]) for k in preds[0]}
    attrs = oracle_attributes(pred)
    return {"z": linear_separability(torch.cat(zs), attrs, keep, seed=seed),
            "w": linear_separability(torch.cat(ws), attrs, keep, seed=seed)}


# --------------------------------------------------------------------------------------------
# Style-mixing transfer table
# --------------------------------------------------------------------------------------------

def default_crossovers(resolution: int) -> dict[str, tuple[int, int]]:
    """Layer ranges ``[start, stop)`` of the paper's coarse / middle / fine styles at ``resolution``.

    Two layers per resolution, ``4²`` first. Coarse is 4²–8², middle 16²–32², fine 64² and up,
    as in the paper at 1024². Smaller generators shrink the middle so every range is non-empty:
    at 32² middle is 16² and fine is 32²; at 16² coarse is 4², middle 8², fine 16².
    """
    levels = int(math.log2(resolution)) - 1  # resolutions 4 .. R
    if levels < 3:
        raise ValueError(f"resolution must be at least 16 for three style ranges, got {resolution}")
    if levels == 3:
        bounds = (1, 2)
    else:
        coarse = 2
        middle = min(4, levels - 1)
        bounds = (coarse, middle)
    return {"coarse": (0, 2 * bounds[0]), "middle": (2 * bounds[0], 2 * bounds[1]),
            "fine": (2 * bounds[1], 2 * levels)}


def mix_range(ws_a: Tensor, ws_b: Tensor, start: int, stop: int) -> Tensor:
    """``ws`` from source A except on layers ``[start, stop)``, which take B's: ``[N, L, w_dim]``."""
    layer = torch.arange(ws_a.shape[1], device=ws_a.device).view(1, -1, 1)
    return torch.where((layer >= start) & (layer < stop), ws_b, ws_a)


@torch.no_grad()
def mixing_transfer_table(G, oracle=None, crossovers: dict | None = None, n: int = 500,
                          batch_size: int = 64, seed: int = 0) -> dict:
    """For each layer range, how often each factor of the mixed face follows source B (or A).

    Faces A and B are drawn from ``G``; the mixed face takes B's styles on the range's layers and
    A's elsewhere (stored noise throughout). The oracle reads every factor of all three faces.
    Continuous factor: the mix *follows B* when its value is closer to B's than to A's (hue: the
    shorter way round; a tie counts half). Categorical factor: only pairs where A and B differ
    count; the mix follows whichever it equals (it may equal neither when there are more than two
    classes); NaN if no pair differs.
    Returns ``{range: {factor: {"A": fraction, "B": fraction}}}``.
    """
    from stylegan_tutorial.oracle import CIRCULAR, circular_difference

    oracle = _default_oracle() if oracle is None else oracle
    n = _check_positive_int(n, "n")
    crossovers = default_crossovers(G.config.resolution) if crossovers is None else crossovers
    for key, (start, stop) in crossovers.items():
        if not 0 <= start < stop <= G.num_layers:
            raise ValueError(f"crossovers[{key!r}] must be a layer range (start, stop) with "
                             f"0 <= start < stop <= {G.num_layers}, got {(start, stop)!r}")
    gen = torch.Generator().manual_seed(seed)
    dev = next(G.parameters()).device
    names = list(crossovers)
    preds = {k: [] for k in ["A", "B", *names]}
    for b in _batches(n, batch_size):
        ws_a = G.broadcast(G.mapping(torch.randn(b, G.z_dim, generator=gen).to(dev)))  # [b, L, w_dim]
        ws_b = G.broadcast(G.mapping(torch.randn(b, G.z_dim, generator=gen).to(dev)))
        mixes = [(k, mix_range(ws_a, ws_b, *crossovers[k])) for k in names]
        for key, ws in [("A", ws_a), ("B", ws_b), *mixes]:
            preds[key].append(oracle.predict(G.synthesis(ws, noise_mode="fixed").float()))
    pred = {k: {f: torch.cat([p[f] for p in v]).double() for f in FACTORS} for k, v in preds.items()}
    table = {}
    for key in names:
        row = {}
        for f, spec in FACTORS.items():
            a, b, m = pred["A"][f], pred["B"][f], pred[key][f]
            if spec.kind == "categorical":
                differ = a != b  # pairs where the factor can tell A from B; none: NaN
                count = int(differ.sum())
                row[f] = {src: float((m == v)[differ].sum()) / count if count else float("nan")
                          for src, v in (("A", a), ("B", b))}
                continue
            if f in CIRCULAR:
                period = spec.high - spec.low
                da = circular_difference(m, a, period).abs()
                db = circular_difference(m, b, period).abs()
            else:
                da, db = (m - a).abs(), (m - b).abs()
            follows_b = (db < da).double() + 0.5 * (db == da).double()
            row[f] = {"A": float(1 - follows_b.mean()), "B": float(follows_b.mean())}
        table[key] = row
    return table


def transfer_table_markdown(table: dict, source: str = "B") -> str:
    """The transfer table as Markdown: a row per factor, a column per range (share from ``source``)."""
    ranges = list(table)
    rows = [f"| factor | {' | '.join(ranges)} |", "|---|" + "---|" * len(ranges)]
    for f in FACTORS:
        rows.append(f"| `{f}` | " + " | ".join(f"{table[r][f][source]:.2f}" for r in ranges) + " |")
    return "\n".join(rows)


# --------------------------------------------------------------------------------------------
# Everything at once, and real FID where possible
# --------------------------------------------------------------------------------------------

METRICS = ("fd", "kid", "swd", "ppl", "sep", "mixing")


def _real_images(data, n: int, resolution: int, seed: int) -> Tensor:
    """``n`` random real images at ``resolution`` from a tensor ``[N, 3, R, R]`` or an ImageDataset."""
    total = len(data)
    if total < n:
        raise ValueError(f"data has {total} images, fewer than n={n}")
    idx = np.sort(np.random.default_rng(seed).choice(total, n, replace=False))
    if isinstance(data, Tensor):
        images = data[torch.as_tensor(idx)].float()
        if images.shape[-1] != resolution:
            from stylegan_tutorial.data.dataset import downsample

            if images.shape[-1] < resolution:
                raise ValueError(f"data is {images.shape[-1]}², smaller than the generator's "
                                 f"{resolution}²")
            images = downsample(images, resolution)
        return images
    return data.batch(idx, resolution).float()


def evaluate(G, data, metrics: Sequence[str] = METRICS, n: int = 2000, oracle=None,
             progress: bool = True, seed: int = 0, batch_size: int = 64,
             kid_subset_size: int = 1000, n_ppl: int | None = None,
             n_mix: int | None = None) -> dict:
    """Run the chosen ``metrics`` on generator ``G`` against real images ``data``; returns a dict.

    ``data`` is a tensor ``[N, 3, R, R]`` in [-1, 1] or an ImageDataset; ``n`` real and ``n``
    generated images (truncation off, random noise) are compared, and separability uses ``n``
    samples. Path length uses ``n_ppl`` paths per variant and the mixing table ``n_mix`` pairs
    (both default to ``n``; each path costs two images, so they are the slow ones). Keys: ``fd``; ``kid`` and
    ``kid_std``; ``swd`` (per level and mean); ``ppl`` with ``z_full``, ``z_end``, ``w_full``,
    ``w_end``; ``sep`` with ``z`` and ``w``; ``mixing`` (the transfer table).
    """
    from stylegan_tutorial.progress import tqdm

    unknown = [m for m in metrics if m not in METRICS]
    if unknown or isinstance(metrics, str):
        raise ValueError(f"metrics must be a sequence drawn from {METRICS}, got {metrics!r}")
    n = _check_positive_int(n, "n")
    n_ppl = n if n_ppl is None else _check_positive_int(n_ppl, "n_ppl")
    n_mix = n if n_mix is None else _check_positive_int(n_mix, "n_mix")
    oracle = _default_oracle() if oracle is None else oracle
    was_training = G.training
    G.eval()
    res = G.config.resolution
    result = {}
    steps = tqdm(list(metrics), desc="evaluate", disable=not progress)
    try:
        fakes = reals = None
        if any(m in ("fd", "kid", "swd") for m in metrics):
            steps.set_postfix_str(f"drawing {n} real and {n} generated images")
            reals = _real_images(data, n, res, seed)
            fakes = generate(G, n, seed=seed + 1, batch_size=batch_size)
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
    finally:
        G.train(was_training)
    return result


INCEPTION_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"


def inception_fid(images_a: Tensor, images_b: Tensor, weights_path=None, batch_size: int = 64) -> float:
    """Real FID with Inception-v3 (torchmetrics + torch-fidelity), for readers who have the weights.

    Needs the optional packages ``torchmetrics`` and ``torch-fidelity`` and the FID Inception
    weights file (``pt_inception-2015-12-05-6726825d.pth``, which torch-fidelity downloads into
    torch's hub cache on a machine with internet). Nothing here downloads: if a piece is missing
    this raises ModuleNotFoundError / FileNotFoundError saying what to install or fetch.
    Images are ``[N, 3, H, W]`` in [-1, 1].
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
