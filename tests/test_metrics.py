"""Metrics on known distributions: closed forms, properties and cross-checks with torchmetrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import nn

from stylegan_tutorial import metrics as M
from stylegan_tutorial.data.faces import FACTORS, make_faces
from stylegan_tutorial.lod import style_ranges

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def gaussian(n, mean, std, seed):
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.normal(mean, std, size=(n, len(mean))))


# ---- Fréchet distance ---------------------------------------------------------------------

def test_fd_of_a_set_with_itself_is_zero():
    x = gaussian(500, [0.0] * 8, [1.0] * 8, 0)
    assert M.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)


def test_fd_of_diagonal_gaussians_has_the_closed_form():
    # For diagonal covariances tr((C_a C_b)^1/2) = sum s_a s_b, so FD = |dmu|^2 + sum (s_a - s_b)^2.
    mu_a, mu_b = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    s_a, s_b = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([3.0, 1.0, 0.5])
    expected = 1.0 + 0.0 + 4.0 + (4.0 + 1.0 + 0.0)
    got = M.frechet_distance_from_stats(mu_a, torch.diag(s_a ** 2), mu_b, torch.diag(s_b ** 2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_fd_of_shifted_gaussian_samples_approaches_the_shift():
    shift = np.array([1.0, -2.0, 0.5, 0.0])
    a = gaussian(20000, [0.0] * 4, [1.0] * 4, 1)
    b = gaussian(20000, shift, [1.0] * 4, 2)
    assert M.frechet_distance(a, b) == pytest.approx(float((shift ** 2).sum()), abs=0.05)


def test_fd_matches_scipy_sqrtm_and_torchmetrics_on_correlated_covariances():
    from torchmetrics.image.fid import _compute_fid

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    cov_a, cov_b = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)  # do not commute
    mu_a, mu_b = rng.normal(size=6), rng.normal(size=6)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root)
    got = M.frechet_distance_from_stats(mu_a, cov_a, mu_b, cov_b)
    assert got == pytest.approx(expected, rel=1e-9)
    t = [torch.as_tensor(v) for v in (mu_a, cov_a, mu_b, cov_b)]
    assert got == pytest.approx(float(_compute_fid(*t)), rel=1e-8)


def test_fd_feature_path_matches_torchmetrics_on_the_same_features():
    from torchmetrics.image.fid import _compute_fid

    a = gaussian(300, [0.0] * 5, [1.0] * 5, 4)
    b = gaussian(300, [0.3] * 5, [1.5] * 5, 5)
    mu_a, cov_a = M.feature_stats(a)
    assert torch.allclose(cov_a, torch.cov(a.T))
    tm = _compute_fid(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T))
    assert M.frechet_distance(a, b) == pytest.approx(float(tm), rel=1e-8)


def test_fd_stays_real_and_finite_for_singular_covariances():
    # 10 samples in 32 dimensions: rank-9 covariances, where complex sqrtm results are common.
    a = gaussian(10, [0.0] * 32, [1.0] * 32, 6)
    b = a + 1e-3 * gaussian(10, [0.0] * 32, [1.0] * 32, 7)
    fd = M.frechet_distance(a, b)
    assert math.isfinite(fd) and 0.0 <= fd < 1e-3
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_fd_rejects_bad_input():
    with pytest.raises(ValueError, match="feats_a"):
        M.frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="same width"):
        M.frechet_distance(torch.zeros(4, 3), torch.zeros(5, 2))


# ---- KID ------------------------------------------------------------------------------------

def test_mmd_matches_torchmetrics_poly_mmd():
    from torchmetrics.image.kid import poly_mmd

    a = gaussian(200, [0.0] * 6, [1.0] * 6, 8)
    b = gaussian(200, [0.5] * 6, [1.0] * 6, 9)
    assert float(M.mmd2_unbiased(a, b)) == pytest.approx(float(poly_mmd(a, b)), rel=1e-10)


def test_kid_with_one_full_subset_is_the_mmd_of_the_whole_sets():
    from torchmetrics.image.kid import poly_mmd

    a = gaussian(150, [0.0] * 4, [1.0] * 4, 10)
    b = gaussian(150, [1.0] * 4, [1.0] * 4, 11)
    mean, std = M.kid(a, b, subsets=1, subset_size=150)  # a permutation of each set
    assert mean == pytest.approx(float(poly_mmd(a, b)), rel=1e-10) and std == 0.0


def test_kid_of_shifted_1d_gaussians_has_the_closed_form():
    # With D = 1 the kernel is (xy + 1)^3, so MMD^2 = (m3x-m3y)^2 + 3 (m2x-m2y)^2 + 3 (m1x-m1y)^2
    # in raw moments. N(0,1) vs N(mu,1): m1 = mu, m2 = 1 + mu^2, m3 = mu^3 + 3 mu.
    mu = 0.5
    expected = (mu ** 3 + 3 * mu) ** 2 + 3 * mu ** 4 + 3 * mu ** 2
    a, b = gaussian(40000, [0.0], [1.0], 12), gaussian(40000, [mu], [1.0], 13)
    mean, _ = M.kid(a, b, subsets=50, subset_size=1000)
    assert mean == pytest.approx(expected, rel=0.1)


def test_kid_is_unbiased_where_the_biased_estimate_is_not():
    values, biased = [], []
    for seed in range(200):
        x = gaussian(50, [0.0] * 3, [1.0] * 3, 1000 + seed)
        y = gaussian(50, [0.0] * 3, [1.0] * 3, 2000 + seed)
        values.append(float(M.mmd2_unbiased(x, y)))
        kxx, kyy = M.polynomial_kernel(x, x), M.polynomial_kernel(y, y)
        biased.append(float(kxx.mean() + kyy.mean() - 2 * M.polynomial_kernel(x, y).mean()))
    values, biased = np.array(values), np.array(biased)
    stderr = values.std() / math.sqrt(len(values))
    assert abs(values.mean()) < 4 * stderr  # expectation 0: same distribution
    assert biased.mean() > 10 * biased.std() / math.sqrt(len(biased))  # clearly positive


def test_kid_rejects_bad_subset_sizes():
    a = torch.zeros(10, 2)
    with pytest.raises(ValueError, match="subset_size"):
        M.kid(a, a, subset_size=11)
    with pytest.raises(ValueError, match="subsets"):
        M.kid(a, a, subsets=0, subset_size=5)


# ---- Sliced Wasserstein -----------------------------------------------------------------------

def test_laplacian_pyramid_sums_back_to_the_image():
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    levels = M.laplacian_pyramid(x, min_resolution=8)
    assert [lv.shape[-1] for lv in levels] == [32, 16, 8]
    rebuilt = levels[-1]
    for band in reversed(levels[:-1]):
        rebuilt = band + M.pyramid_up(rebuilt)
    assert torch.allclose(rebuilt, x, atol=1e-12)


def test_pyramid_keeps_constants_and_bands_of_constants_vanish():
    x = torch.full((1, 3, 16, 16), 0.7, dtype=torch.float64)
    assert torch.allclose(M.pyramid_down(x), torch.full((1, 3, 8, 8), 0.7, dtype=torch.float64))
    assert M.laplacian_pyramid(x, 8)[0].abs().max() < 1e-12


def test_swd_of_one_dimensional_shifted_points_is_the_shift():
    # In one dimension every unit direction is +-1, so SWD is the 1-D Wasserstein distance.
    a = torch.randn(500, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(0)
    assert M.sliced_wasserstein_descriptors(a, a + 3.0, gen=gen) == pytest.approx(3.0, rel=1e-12)


@pytest.mark.slow
def test_swd_of_a_set_with_itself_is_zero_and_a_blurred_copy_is_farther_than_new_faces():
    x, _ = make_faces(96, 32, seed=0)
    other, _ = make_faces(96, 32, seed=1)  # the same distribution: sampling noise only
    blurred = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    same = M.sliced_wasserstein(x, x, patches_per_image=32)
    noise = M.sliced_wasserstein(x, other, patches_per_image=32)
    far = M.sliced_wasserstein(x, blurred, patches_per_image=32)
    assert same == {32: 0.0, 16: 0.0, "mean": 0.0}
    assert far[32] > 2 * noise[32]  # the finest band loses most to a blur
    assert far["mean"] > noise["mean"] > 0


def test_swd_rejects_mismatched_sets():
    with pytest.raises(ValueError, match="same shape"):
        M.sliced_wasserstein(torch.zeros(4, 3, 32, 32), torch.zeros(5, 3, 32, 32))
    with pytest.raises(ValueError, match="at least 16"):
        M.sliced_wasserstein(torch.zeros(4, 3, 8, 8), torch.zeros(4, 3, 8, 8))


# ---- Path length --------------------------------------------------------------------------------

class LinearToyG(nn.Module):
    """A 'generator' with identity mapping that writes ``c * w`` into pixels: PPL has closed forms."""

    def __init__(self, dim: int, c: float):
        super().__init__()
        self.z_dim, self.c = dim, c
        self.dummy = nn.Parameter(torch.zeros(()))

    def mapping(self, z):
        return z

    def synthesis(self, w, resolution=None, noise_mode="random"):
        img = torch.zeros(w.shape[0], 3 * 4 * 4, dtype=w.dtype)
        img[:, : w.shape[1]] = self.c * w
        return img.view(-1, 3, 4, 4)


def flat(img):
    return img.flatten(1)


def test_path_length_in_w_of_a_linear_generator_is_its_squared_chord():
    # lerp in W: d = c^2 |w1 - w0|^2 for every t, and |z1 - z0|^2 ~ 2 chi^2_D, mean 2 D c^2.
    g = LinearToyG(dim=8, c=0.5)
    d = M.path_distances(g, "w", "full", n=4000, feature_fn=flat, batch_size=1000)
    assert d.mean().item() == pytest.approx(2 * 8 * 0.25, rel=0.05)


def test_path_length_in_z_follows_the_sphere():
    # slerp moves along the unit circle at speed omega (the angle between z0 and z1), and in 2-D
    # that angle is uniform on [0, pi]: E[c^2 omega^2] = c^2 pi^2 / 3, at every t.
    g = LinearToyG(dim=2, c=2.0)
    for sampling in ("full", "end"):
        d = M.path_distances(g, "z", sampling, n=4000, feature_fn=flat, batch_size=1000)
        assert d.mean().item() == pytest.approx(4.0 * math.pi ** 2 / 3, rel=0.05)


def test_filtered_mean_drops_the_outer_percentiles():
    values = torch.arange(1, 101, dtype=torch.float64)  # 1..100
    values[-1] = 1e9  # an outlier beyond the 99th percentile
    # The 1st percentile rounds down to 1 and the 99th up to 100 (numpy's lower/higher):
    # np.percentile(1..100, 99) = 99.01 -> next sample value is the outlier itself.
    assert M.filtered_mean(values, 0, 98) == pytest.approx(np.mean(np.arange(1, 100)))
    assert M.filtered_mean(torch.full((50,), 3.0)) == 3.0


def test_path_length_rejects_bad_arguments():
    g = LinearToyG(2, 1.0)
    with pytest.raises(ValueError, match="space"):
        M.path_length(g, space="x", feature_fn=flat)
    with pytest.raises(ValueError, match="sampling"):
        M.path_length(g, sampling="middle", feature_fn=flat)
    with pytest.raises(ValueError, match="eps"):
        M.path_length(g, eps=0, feature_fn=flat)


def test_slerp_of_parallel_ends_stays_finite():
    a = torch.tensor([[1.0, 2.0]])
    assert torch.allclose(M.slerp(a, 2 * a, torch.tensor([0.3])), a / a.norm())


def test_slerp_ends_and_middle():
    a, b = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 0.5]])
    assert torch.allclose(M.slerp(a, b, torch.tensor([0.0])), torch.tensor([[1.0, 0.0]]))
    assert torch.allclose(M.slerp(a, b, torch.tensor([1.0])), torch.tensor([[0.0, 1.0]]), atol=1e-7)
    mid = torch.tensor([[1.0, 1.0]]) / math.sqrt(2)
    assert torch.allclose(M.slerp(a, b, torch.tensor([0.5])), mid)


# ---- Separability ---------------------------------------------------------------------------------

def test_conditional_entropy_by_hand():
    y = np.array([0, 0, 1, 1])
    assert M.conditional_entropy(y, y) == 0.0
    assert M.conditional_entropy(y, np.array([0, 1, 0, 1])) == pytest.approx(math.log(2))
    # X = 0 -> Y in {0, 0, 1}; X = 1 -> Y = 1: H = 3/4 * H(1/3).
    h = -(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3))
    assert M.conditional_entropy(y, np.array([0, 0, 0, 1])) == pytest.approx(0.75 * h)


def test_linear_separability_of_linear_random_and_radial_labels():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 4))
    attrs = {"linear": (x[:, 0] + x[:, 1] > 0).astype(int),
             "coin": rng.integers(0, 2, 1000),
             "radial": (np.linalg.norm(x, axis=1) > 2.0).astype(int)}
    out = M.linear_separability(x, attrs)
    assert out["entropy"]["linear"] < 0.05
    assert out["entropy"]["coin"] == pytest.approx(math.log(2), abs=0.02)
    assert out["entropy"]["radial"] > 0.3
    assert out["score"] == pytest.approx(math.exp(sum(out["entropy"].values())))


def test_separability_keeps_the_confident_half():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 3))
    labels = (x[:, 0] > 0).astype(int)
    flipped = labels.copy()
    flipped[:500] = rng.integers(0, 2, 500)  # noisy labels, marked unconfident
    conf = np.r_[np.zeros(500), np.ones(500)]
    noisy = M.linear_separability(x, {"a": flipped})["entropy"]["a"]
    clean = M.linear_separability(x, {"a": (flipped, conf)})["entropy"]["a"]
    assert clean < 0.05 < noisy


# ---- Mixing table and generator-level helpers ---------------------------------------------------

def test_the_default_ranges_of_the_mixing_table_follow_the_paper():
    # the table's default is lod.style_ranges at the generator's resolution
    assert style_ranges(1024) == {"coarse": range(0, 4), "middle": range(4, 8), "fine": range(8, 18)}
    assert style_ranges(32) == {"coarse": range(0, 4), "middle": range(4, 6), "fine": range(6, 8)}
    assert style_ranges(16) == {"coarse": range(0, 2), "middle": range(2, 4), "fine": range(4, 6)}
    with pytest.raises(ValueError, match="resolution"):
        style_ranges(4)


class PixelOracle:
    """Reads 'factors' straight off pixels, so they vary from face to face even for an untrained G."""

    def predict(self, images):
        flat = images.flatten(1)  # [N, 3 R R]
        out = {}
        for i, (name, spec) in enumerate(FACTORS.items()):
            v = flat[:, 37 * i]
            if spec.kind == "categorical":
                out[name] = (v * 50).floor().long() % len(spec.values)  # bands of a pixel
            else:
                out[name] = v
        return out


def test_mixing_table_where_b_supplies_every_layer_follows_b(tiny_g):
    ranges = {"all": range(0, tiny_g.num_layers), "coarse": range(0, 4)}
    table = M.mixing_transfer_table(tiny_g, PixelOracle(), ranges, n=24, batch_size=24)
    assert set(table) == {"all", "coarse"} and set(table["all"]) == set(FACTORS)
    for f, spec in FACTORS.items():
        assert table["all"][f]["B"] == 1.0
        for frac in table["coarse"][f].values():
            assert 0.0 <= frac <= 1.0
        if spec.kind == "continuous":
            assert table["coarse"][f]["A"] + table["coarse"][f]["B"] == pytest.approx(1.0)
    md = M.transfer_table_markdown(table)
    assert "| `glasses` | 1.00 |" in md
    with pytest.raises(ValueError, match=r"layer_ranges\['bad'\]"):
        M.mixing_transfer_table(tiny_g, PixelOracle(), {"bad": range(3, 3)}, n=2)


def test_path_length_on_a_real_generator_is_positive_and_w_ends_need_no_t(tiny_g, random_oracle):
    ppl = M.path_length(tiny_g, "w", "end", n=8, feature_fn=random_oracle.features, batch_size=8)
    assert math.isfinite(ppl) and ppl > 0


@pytest.mark.slow
def test_evaluate_runs_every_metric(tiny_g, random_oracle):
    reals, _ = make_faces(64, 32, seed=0)
    out = M.evaluate(tiny_g, reals, n=64, oracle=random_oracle, progress=False,
                     kid_subset_size=32)
    assert set(out) >= {"fd", "kid", "kid_std", "swd", "ppl", "sep", "mixing", "coverage",
                        "missing_combinations"}
    assert out["fd"] > 0 and set(out["ppl"]) == {"z_full", "z_end", "w_full", "w_end"}
    assert set(out["sep"]) == {"z", "w"} and set(out["mixing"]) == {"coarse", "middle", "fine"}
    assert tiny_g.training is False
    with pytest.raises(ValueError, match="metrics"):
        M.evaluate(tiny_g, reals, metrics=("fid",), oracle=random_oracle)


def test_evaluate_reads_a_dataset_like_a_tensor(tiny_g, random_oracle):
    from stylegan_tutorial.data.dataset import ImageDataset

    reals, _ = make_faces(40, 64, seed=0)  # served at the generator's 32² by pooling
    kwargs = dict(metrics=("fd",), n=32, oracle=random_oracle, progress=False)
    from_tensor = M.evaluate(tiny_g, reals, **kwargs)["fd"]
    from_dataset = M.evaluate(tiny_g, ImageDataset(reals), **kwargs)["fd"]
    assert from_tensor == pytest.approx(from_dataset, rel=1e-5)
    with pytest.raises(ValueError, match="fewer than n"):
        M.evaluate(tiny_g, reals, **dict(kwargs, n=41))


def test_inception_fid_explains_what_is_missing(tmp_path):
    x = torch.zeros(2, 3, 32, 32)
    with pytest.raises((ModuleNotFoundError, FileNotFoundError),
                       match="torch-fidelity|Inception weights not found"):
        M.inception_fid(x, x, weights_path=tmp_path / "missing.pth")
