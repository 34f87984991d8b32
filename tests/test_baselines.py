"""Chapter 1: pixel-space baselines, checked against NumPy and hand computations; the first metric."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from stylegan_tutorial import baselines as B
from stylegan_tutorial.data.faces import make_faces
from stylegan_tutorial.metrics import (
    baseline_row,
    baseline_table_markdown,
    factor_certainties,
    factor_confidence,
)
from stylegan_tutorial.oracle import load_oracle

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def correlated_images(n: int, shape=(1, 2, 3), scale: float = 0.1, seed: int = 0) -> torch.Tensor:
    """``n`` images whose pixels are correlated Gaussians of std ~``scale`` around a non-zero mean."""
    rng = np.random.default_rng(seed)
    d = int(np.prod(shape))
    mix = rng.normal(size=(d, d)) * scale / np.sqrt(d)
    x = rng.normal(size=(n, d)) @ mix + rng.uniform(-0.3, 0.3, size=d)
    return torch.as_tensor(x, dtype=torch.float32).view(n, *shape)


# ---- flattening and the Gaussian fit -------------------------------------------------------

def test_flatten_images_is_channel_then_row_then_column():
    images = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    flat = B.flatten_images(images)
    assert flat.shape == (2, 12)
    assert flat[1].tolist() == list(range(12, 24))
    assert torch.equal(flat.view(images.shape), images)


def test_fit_pixel_gaussian_matches_numpy():
    x = B.flatten_images(correlated_images(50)).double()
    mean, cov = B.fit_pixel_gaussian(x)
    assert mean.dtype == cov.dtype == torch.float64
    np.testing.assert_allclose(mean.numpy(), x.numpy().mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cov.numpy(), np.cov(x.numpy(), rowvar=False), rtol=1e-10, atol=1e-14)


def test_fit_pixel_gaussian_rejects_a_single_point():
    with pytest.raises(ValueError, match="N >= 2"):
        B.fit_pixel_gaussian(torch.zeros(1, 4))


def test_full_pixel_gaussian_has_the_data_covariance_and_explains_everything():
    images = correlated_images(40)  # D = 6
    g = B.PixelGaussian.fit(images, components=None)
    x = images.reshape(40, -1).double().numpy()
    assert g.components == 6 and g.image_shape == (1, 2, 3)
    np.testing.assert_allclose(g.covariance().numpy(), np.cov(x, rowvar=False), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(g.mean_image().numpy(), images.mean(dim=0).numpy(), atol=1e-6)
    np.testing.assert_allclose(g.explained_variance_ratio().sum().item(), 1.0, rtol=1e-12)
    # The directions are orthonormal.
    np.testing.assert_allclose((g.directions @ g.directions.T).numpy(), np.eye(6), atol=1e-12)


def test_explained_variance_is_sorted_and_matches_the_top_eigenvalues():
    images = correlated_images(60, shape=(2, 3, 3), seed=1)  # D = 18
    g = B.PixelGaussian.fit(images, components=5)
    ratio = g.explained_variance_ratio()
    eig = np.linalg.eigvalsh(np.cov(images.reshape(60, -1).double().numpy(), rowvar=False))[::-1]
    assert ratio.shape == (5,)
    assert torch.all(ratio[:-1] >= ratio[1:])
    assert 0 < ratio.sum().item() < 1
    np.testing.assert_allclose(ratio.numpy(), eig[:5] / eig.sum(), rtol=1e-9)


def test_more_components_than_the_data_has_keeps_what_there_is():
    g = B.PixelGaussian.fit(correlated_images(4), components=256)  # 4 images in D = 6
    assert g.components == 4
    with pytest.raises(ValueError, match="components"):
        B.PixelGaussian.fit(correlated_images(4), components=0)


def test_randomized_directions_equal_the_exact_svd(monkeypatch):
    rng = np.random.default_rng(2)
    n, d, k = 300, 200, 10
    scales = 0.8 ** np.arange(d)  # a decaying spectrum, like images
    x = torch.as_tensor(rng.normal(size=(n, d)) * scales @ np.linalg.qr(rng.normal(size=(d, d)))[0])
    monkeypatch.setattr(B, "EXACT_SVD_LIMIT", 10)  # force the randomized path
    g = B.PixelGaussian.fit(x.view(n, 1, 10, 20), components=k)
    eigval, eigvec = np.linalg.eigh(np.cov(x.numpy(), rowvar=False))
    np.testing.assert_allclose(g.variances.numpy(), eigval[::-1][:k], rtol=1e-8)
    cos = np.abs((g.directions.numpy() * eigvec[:, ::-1][:, :k].T).sum(axis=1))
    np.testing.assert_allclose(cos, 1.0, atol=1e-8)


def test_samples_have_the_fitted_mean_and_covariance():
    images = correlated_images(30)  # std ~0.1 around |mean| <= 0.3: the clamp never acts
    g = B.PixelGaussian.fit(images, components=None)
    samples = g.sample(200_000, seed=3).reshape(200_000, -1).double()
    cov = g.covariance()
    assert torch.allclose(samples.mean(dim=0), g.mean, atol=4 * cov.diagonal().max().sqrt().item() / 447)
    err = torch.linalg.matrix_norm(torch.cov(samples.T) - cov) / torch.linalg.matrix_norm(cov)
    assert err < 0.02


def test_samples_of_a_truncated_gaussian_have_its_low_rank_covariance():
    images = correlated_images(50, shape=(2, 2, 2), seed=4)
    g = B.PixelGaussian.fit(images, components=3)
    samples = g.sample(200_000, seed=1).reshape(200_000, -1).double()
    cov = g.covariance()
    assert torch.linalg.matrix_rank(cov, atol=1e-12) == 3
    err = torch.linalg.matrix_norm(torch.cov(samples.T) - cov) / torch.linalg.matrix_norm(cov)
    assert err < 0.02


def test_samples_are_seeded_float32_images_in_range():
    g = B.PixelGaussian.fit(correlated_images(20, scale=3.0), components=4)  # wide: the clamp acts
    a, b, c = g.sample(8, seed=0), g.sample(8, seed=0), g.sample(8, seed=1)
    assert a.shape == (8, 1, 2, 3) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= -1 and a.max() <= 1 and (a.abs() == 1).any()


# ---- double exposures, noise, nearest neighbours -------------------------------------------

@pytest.mark.parametrize("t", [0.5, 0.3])
def test_double_exposures_are_blends_of_two_different_images(t):
    images = torch.randn(6, 3, 4, 4)
    blends = B.double_exposures(images, 20, seed=1, t=t)
    assert blends.shape == (20, 3, 4, 4)
    for blend in blends:
        pairs = {frozenset((a, b)) for a, b in itertools.permutations(range(6), 2)
                 if torch.allclose(blend, (1 - t) * images[a] + t * images[b], atol=1e-6)}
        assert len(pairs) == 1  # made of exactly one pair of different images (either order at 0.5)


def test_random_pairs_never_pair_an_image_with_itself():
    a, b = B.random_pairs(3, 1000, seed=0)
    assert (a != b).all() and set(a.tolist()) == set(b.tolist()) == {0, 1, 2}
    with pytest.raises(ValueError, match="at least 2"):
        B.double_exposures(torch.zeros(1, 1, 2, 2), 3)


def test_uniform_noise_is_uniform_in_the_range():
    noise = B.uniform_noise(500, (3, 8, 8), seed=0)
    assert noise.shape == (500, 3, 8, 8)
    assert noise.min() >= -1 and noise.max() <= 1
    assert noise.mean().item() == pytest.approx(0.0, abs=0.01)
    assert noise.var().item() == pytest.approx(1 / 3, abs=0.01)  # the variance of U(-1, 1)
    assert torch.equal(noise, B.uniform_noise(500, (3, 8, 8), seed=0))


def test_nearest_neighbours_find_an_image_itself_first():
    images = torch.randn(50, 3, 8, 8)
    query = images[[3, 17, 42]]
    index, dist = B.nearest_neighbours(query, images, k=4)
    assert index.shape == dist.shape == (3, 4)
    assert index[:, 0].tolist() == [3, 17, 42]
    assert torch.all(dist[:, 0] == 0)
    # The rest agree with a brute-force NumPy search.
    flat, q = images.reshape(50, -1).double().numpy(), query.reshape(3, -1).double().numpy()
    full = np.sqrt(((q[:, None, :] - flat[None, :, :]) ** 2).sum(-1))  # [3, 50]
    np.testing.assert_array_equal(index.numpy(), np.argsort(full, axis=1)[:, :4])
    np.testing.assert_allclose(dist.numpy(), np.sort(full, axis=1)[:, :4], rtol=1e-5)


def test_nearest_neighbours_check_their_arguments():
    images = torch.randn(5, 1, 4, 4)
    with pytest.raises(ValueError, match="k must be"):
        B.nearest_neighbours(images, images, k=6)
    with pytest.raises(ValueError, match="same shape"):
        B.nearest_neighbours(torch.randn(2, 1, 4, 5), images)


# ---- the oracle's reading and the baseline table -------------------------------------------

@pytest.fixture(scope="module")
def oracle():
    return load_oracle()


@pytest.fixture(scope="module")
def faces():
    return make_faces(200, 32, seed=11)[0], make_faces(200, 32, seed=12)[0]


def test_real_faces_read_confident_and_noise_does_not(oracle, faces):
    real = factor_confidence(faces[0], oracle)
    noise = factor_confidence(B.uniform_noise(200, seed=0), oracle)
    assert real > 0.9 and noise < 0.5 and real > noise


def test_class_probabilities_alone_would_not_tell_noise_from_faces(oracle):
    # The reason factor_confidence also reads the hue's certainty (metrics/baseline.py).
    certainty = factor_certainties(B.uniform_noise(200, seed=0), oracle)
    assert set(certainty) == {"hair_style", "eyes_open", "glasses", "background_hue"}
    assert all(v.shape == (200,) and v.min() >= 0 and v.max() <= 1 for v in certainty.values())
    assert certainty["hair_style"].mean() > 0.9 > certainty["background_hue"].mean()


def test_baseline_row_puts_real_faces_near_zero_and_noise_far(oracle, faces):
    real, other = faces
    same = baseline_row("real", other, real, oracle)
    noise = baseline_row("noise", B.uniform_noise(200, seed=1), real, oracle)
    assert set(same) == {"name", "n", "fd", "kid", "confidence"}
    assert same["n"] == 200 and same["name"] == "real"
    assert same["fd"] < 0.05 * noise["fd"]
    assert abs(same["kid"]) < 0.05 * noise["kid"]
    assert same["confidence"] > noise["confidence"]
    with pytest.raises(ValueError, match="got 200 fakes and 100 reals"):
        baseline_row("x", other, real[:100], oracle)


def test_baseline_table_is_markdown_with_a_row_per_generator():
    rows = [{"name": "real", "n": 2000, "fd": 0.4123, "kid": -0.00001, "confidence": 0.9841},
            {"name": "noise", "n": 2000, "fd": 86.1, "kid": 5.38971, "confidence": 0.15}]
    lines = baseline_table_markdown(rows).splitlines()
    assert len(lines) == 4 and lines[0].startswith("| generator |") and lines[1].startswith("|---")
    assert lines[2] == "| real | 2,000 | 0.41 | 0.0000 | 0.984 |"  # no "-0.0000"
    assert lines[3] == "| noise | 2,000 | 86.10 | 5.3897 | 0.150 |"
