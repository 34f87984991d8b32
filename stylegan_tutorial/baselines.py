"""Naive generators in pixel space: what a generative model has to beat (chapter 1).

An image ``[C, H, W]`` is a point in ``D = C·H·W`` dimensions (3,072 for a 32² RGB face), and a
data set is a cloud of such points. Chapter 1 tries the simplest ways to make new points of that
cloud, and shows why each fails:

- :class:`PixelGaussian`: fit a Gaussian ``N(mu, Sigma)`` to the pixels and sample it. The mean
  face is right and the colours vary the right way, but a sample is the mean plus a sum of
  *principal directions* (eigenvectors of ``Sigma``) with independent Gaussian weights, so the
  parts of a face do not agree with each other: ghostly, blurred faces.
- :func:`double_exposures`: average two real images, ``(1 - t) a + t b``. Pixel space is not
  the space of faces: the midpoint of two faces is two faces on top of each other.
- :func:`uniform_noise`: every pixel independent and uniform in [-1, 1], the floor any metric
  should put last.
- :func:`nearest_neighbours`: the training images closest (in Euclidean pixel distance) to a
  generated one, the check that a generator does not just copy its data.

The Gaussian is fitted by principal component analysis. With ``X`` the centred data ``[N, D]``
and its singular value decomposition ``X = U S V^T``, the covariance is
``Sigma = X^T X / (N - 1) = V diag(S² / (N - 1)) V^T``: the rows of ``V^T`` are the principal
directions and ``S² / (N - 1)`` their variances. Keeping the top ``k`` of them keeps the ``k``
directions along which the faces vary most.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor

# Below this many rows or columns the principal directions come from one exact SVD; above it a
# few passes of randomized subspace iteration find the top k. For 5,000 faces at 32² and k = 256
# on 2 CPU cores: the full SVD 8 s (37 s on a busy machine), the iteration 2.8 s; their variances
# agree to 3e-10 relative and their directions to 1e-11 (1 - |cos|).
EXACT_SVD_LIMIT = 1024
POWER_ITERATIONS = 6


def _check_images(images, name: str = "images", min_n: int = 1) -> Tensor:
    """``images`` as a tensor ``[N, C, H, W]`` with at least ``min_n`` images, or ValueError."""
    if not isinstance(images, Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{name} must be a tensor [N, C, H, W], got {shape}")
    if images.shape[0] < min_n:
        raise ValueError(f"{name} must hold at least {min_n} images, got {images.shape[0]}")
    return images


def flatten_images(images: Tensor) -> Tensor:
    """Each image as one row of pixels: ``[N, C, H, W] -> [N, C·H·W]`` (chapter 1).

    Args:
        images: ``[N, C, H, W]``.

    The order is channel, then row, then column (``images[n].reshape(-1)``), so
    ``flat.view(images.shape)`` undoes it.
    """
    return _check_images(images).reshape(images.shape[0], -1)


def fit_pixel_gaussian(x: Tensor) -> tuple[Tensor, Tensor]:
    """The Gaussian fitted to data points: their mean and unbiased covariance (chapter 1).

    Args:
        x: data ``[N, D]``, N >= 2 (e.g. :func:`flatten_images` of a set of images).

    Returns ``(mean [D], cov [D, D])`` in float64, where
    ``cov = (x - mean)^T (x - mean) / (N - 1)``. Dividing by ``N - 1`` instead of ``N`` makes the
    estimate unbiased: the mean was estimated from the same points, which sit closer to it than
    to the true mean. This is the reference of chapter 1's exercise.
    """
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] < 2:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be a tensor [N, D] with N >= 2, got {shape}")
    x = x.double()
    mean = x.mean(dim=0)  # [D]
    centred = x - mean  # [N, D]
    return mean, centred.T @ centred / (x.shape[0] - 1)


def _principal_directions(centred: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The top ``k`` right singular vectors ``[k, D]`` and singular values ``[k]`` of ``centred [N, D]``.

    Exact (one SVD) for small data; otherwise randomized subspace iteration (Halko, Martinsson
    and Tropp 2011, algorithm 4.4): a random ``q = 2k + 10``-dimensional subspace, multiplied
    by ``X`` and ``X^T`` a few times with re-orthonormalisation, converges to the top singular
    subspace; one SVD of the small ``[q, D]`` projection then gives the directions.
    """
    n, d = centred.shape
    q = 2 * k + 10
    if min(n, d) <= EXACT_SVD_LIMIT or q >= min(n, d):
        _, s, vh = torch.linalg.svd(centred, full_matrices=False)  # s [min(N, D)], vh [min, D]
        return vh[:k], s[:k]
    gen = torch.Generator().manual_seed(0)  # the result does not depend on it, up to round-off
    omega = torch.randn(d, q, generator=gen, dtype=centred.dtype)  # [D, q]
    basis = torch.linalg.qr(centred @ omega).Q  # [N, q]
    for _ in range(POWER_ITERATIONS):
        basis = torch.linalg.qr(centred @ torch.linalg.qr(centred.T @ basis).Q).Q  # [N, q]
    _, s, vh = torch.linalg.svd(basis.T @ centred, full_matrices=False)  # [q, D] -> [q], [q, D]
    return vh[:k], s[:k]


class PixelGaussian:
    """A Gaussian over pixels, kept as its mean and top principal directions (chapter 1).

    Attributes:
        mean:        the mean image, flattened, ``[D]`` (float64).
        directions:  the principal directions, orthonormal rows ``[k, D]``, largest variance
                     first (float64).
        variances:   the data's variance along each direction ``[k]``, decreasing (float64).
        image_shape: ``(C, H, W)`` of the images it was fitted to.

    The covariance it models is ``directions^T diag(variances) directions``: the data's own
    covariance when all directions are kept, its best rank-k approximation otherwise. Build it
    with :meth:`fit`.
    """

    def __init__(self, mean: Tensor, directions: Tensor, variances: Tensor,
                 image_shape: tuple[int, int, int], total_variance: float):
        self.mean = mean
        self.directions = directions
        self.variances = variances
        self.image_shape = tuple(image_shape)
        self.total_variance = float(total_variance)

    @classmethod
    def fit(cls, images: Tensor, components: int | None = 256) -> PixelGaussian:
        """Fit the mean image and the top principal directions of ``images`` (chapter 1).

        Args:
            images:     the data ``[N, C, H, W]``, N >= 2.
            components: how many principal directions to keep, k (None: all of them,
                        ``min(N, D)``, the full covariance). More than ``min(N, D)`` keeps
                        ``min(N, D)``: the data has no more directions.

        The directions and variances come from the SVD of the centred float64 data, as the
        module docstring derives; the total variance (the trace of the covariance) is kept for
        :meth:`explained_variance_ratio`. Large data (both N and D above
        :data:`EXACT_SVD_LIMIT`) uses randomized subspace iteration for the top k directions,
        which gives the same result to round-off in a tenth of the time; with ``components``
        None it is always the exact SVD.
        """
        images = _check_images(images, min_n=2)
        x = flatten_images(images).double()  # [N, D]
        n, d = x.shape
        if components is None:
            k = min(n, d)
        elif isinstance(components, bool) or not isinstance(components, int) or components < 1:
            raise ValueError(f"components must be a positive integer or None (all), got {components!r}")
        else:
            k = min(components, n, d)
        mean = x.mean(dim=0)  # [D]
        centred = x - mean  # [N, D]
        directions, s = _principal_directions(centred, k)  # [k, D], [k]
        variances = s.square() / (n - 1)  # [k]
        total = centred.square().sum() / (n - 1)  # trace of the covariance
        return cls(mean, directions, variances, tuple(images.shape[1:]), float(total))

    @property
    def components(self) -> int:
        """k, the number of principal directions kept (chapter 1)."""
        return self.directions.shape[0]

    def sample(self, n: int, seed: int = 0) -> Tensor:
        """``n`` new images ``[n, C, H, W]``, float32, clamped to [-1, 1] (chapter 1).

        Args:
            n:    how many images.
            seed: seeds the Gaussian weights.

        Each image is ``mean + sum_i sqrt(variance_i) eps_i direction_i`` with independent
        ``eps_i ~ N(0, 1)``: a draw from ``N(mean, directions^T diag(variances) directions)``.
        """
        gen = torch.Generator().manual_seed(seed)
        eps = torch.randn(n, self.components, generator=gen, dtype=torch.float64)  # [n, k]
        x = self.mean + (eps * self.variances.sqrt()) @ self.directions  # [n, D]
        return x.float().clamp(-1.0, 1.0).view(n, *self.image_shape)

    def mean_image(self) -> Tensor:
        """The mean image ``[C, H, W]``, float32 (chapter 1)."""
        return self.mean.float().view(self.image_shape)

    def direction_images(self) -> Tensor:
        """The principal directions as images ``[k, C, H, W]``, float32 (chapter 1).

        Each has unit length as a vector; scale it (e.g. by ``1 / max|.|``) to show it.
        """
        return self.directions.float().view(self.components, *self.image_shape)

    def covariance(self) -> Tensor:
        """The covariance the model samples from, ``[D, D]`` float64 (chapter 1).

        ``directions^T diag(variances) directions``: the data's covariance with all directions
        kept, its best rank-k approximation with k of them.
        """
        return (self.directions.T * self.variances) @ self.directions

    def explained_variance_ratio(self) -> Tensor:
        """The fraction of the data's total variance each kept direction explains, ``[k]`` (chapter 1).

        Decreasing, each in [0, 1], summing to at most 1 (exactly 1 with all directions kept).
        """
        return self.variances / self.total_variance

    def __repr__(self) -> str:
        return (f"PixelGaussian(image_shape={self.image_shape}, components={self.components}, "
                f"explained={float(self.explained_variance_ratio().sum()):.3f})")


def random_pairs(n_images: int, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``n`` random pairs of different indices into ``n_images`` items: ``(a [n], b [n])`` (chapter 1).

    Args:
        n_images: how many items there are to pick from, at least 2.
        n:        how many pairs.
        seed:     seeds the draw.

    ``a`` is uniform; ``b`` is uniform among the other ``n_images - 1`` indices.
    """
    if n_images < 2:
        raise ValueError(f"pairs of different images need at least 2 images, got {n_images}")
    gen = torch.Generator().manual_seed(seed)
    a = torch.randint(n_images, (n,), generator=gen)
    b = (a + torch.randint(1, n_images, (n,), generator=gen)) % n_images  # never equal to a
    return a, b


def double_exposures(images: Tensor, n: int, seed: int = 0, t: float = 0.5) -> Tensor:
    """``n`` pixel-space blends ``(1 - t) a + t b`` of random pairs of different images (chapter 1).

    Args:
        images: the images to blend ``[N, C, H, W]``, N >= 2.
        n:      how many blends.
        seed:   seeds the pairs (:func:`random_pairs`).
        t:      how much of the second image, in [0, 1] (0.5: the midpoint).

    Returns ``[n, C, H, W]``. Interpolating in pixel space superimposes two faces; chapter 2
    interpolates in a learned latent space instead.
    """
    images = _check_images(images, min_n=2)
    a, b = random_pairs(images.shape[0], n, seed)
    return (1.0 - t) * images[a] + t * images[b]


def uniform_noise(n: int, shape: tuple[int, ...] = (3, 32, 32), seed: int = 0) -> Tensor:
    """``n`` images of independent uniform pixels in [-1, 1], ``[n, *shape]`` (chapter 1).

    Args:
        n:     how many images.
        shape: each image's shape ``(C, H, W)``.
        seed:  seeds the pixels.
    """
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, *shape, generator=gen) * 2.0 - 1.0


def nearest_neighbours(query: Tensor, images: Tensor, k: int = 5,
                       batch_size: int = 256) -> tuple[Tensor, Tensor]:
    """The ``k`` images closest to each query in Euclidean pixel distance (chapter 1).

    Args:
        query:      the images to look up ``[M, C, H, W]`` (e.g. generated ones).
        images:     the images to search ``[N, C, H, W]`` (e.g. the training set), same C, H, W.
        k:          how many neighbours, at most N.
        batch_size: queries compared at a time.

    Returns ``(indices [M, k] int64, distances [M, k])``, nearest first. Distances are computed
    directly (not as ``|a|² + |b|² - 2 a·b``), so an image finds itself at distance exactly 0.
    """
    query, images = _check_images(query, "query"), _check_images(images)
    if query.shape[1:] != images.shape[1:]:
        raise ValueError(f"query images {tuple(query.shape[1:])} and images {tuple(images.shape[1:])} "
                         "must have the same shape")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= images.shape[0]:
        raise ValueError(f"k must be an integer in [1, {images.shape[0]}] (the number of images), got {k!r}")
    flat = images.reshape(images.shape[0], -1).float()  # [N, D]
    found = []
    for chunk in query.reshape(query.shape[0], -1).float().split(batch_size):
        dist = torch.cdist(chunk, flat, compute_mode="donot_use_mm_for_euclid_dist")  # [m, N]
        found.append(dist.topk(k, dim=1, largest=False))
    return torch.cat([f.indices for f in found]), torch.cat([f.values for f in found])
