"""Chapter 11's helper: FD and KID against the sample size (metrics.frechet.fd_kid_by_size)."""

from __future__ import annotations

import pytest
import torch

from stylegan_tutorial.metrics.frechet import fd_kid_by_size, frechet_distance, mmd2_unbiased


def gaussian(n, d=8, shift=0.0, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def test_fd_of_one_distribution_shrinks_with_n_and_kid_stays_near_zero():
    a, b = gaussian(2000, seed=1), gaussian(2000, seed=2)
    out = fd_kid_by_size(a, b, [20, 100, 1000], repeats=4, seed=0)
    assert list(out) == [20, 100, 1000]
    fd = [out[n]["fd"] for n in out]
    assert fd[0] > fd[1] > fd[2] > 0  # biased: never 0, smaller with more samples
    # FD's bias for two samples of N(0, I_d) is about d(d + 1) / (2n) (the covariance term).
    assert out[1000]["fd"] == pytest.approx(8 * 9 / 2000, rel=0.5)
    for n in out:  # unbiased: within a few standard deviations of 0 at every n
        assert abs(out[n]["kid"]) < 4 * out[n]["kid_std"] + 1e-3


def test_a_real_difference_is_seen_at_every_size():
    a, b = gaussian(600, seed=1), gaussian(600, shift=1.0, seed=2)
    out = fd_kid_by_size(a, b, [50, 500], repeats=3)
    for n in out:
        assert out[n]["fd"] == pytest.approx(8.0, rel=0.5)  # |shift|² x d = 8
        assert out[n]["kid"] > 3 * out[n]["kid_std"]


def test_one_draw_of_every_row_is_frechet_distance_and_mmd2_themselves():
    a, b = gaussian(50, seed=3), gaussian(50, shift=0.3, seed=4)
    out = fd_kid_by_size(a, b, [50], repeats=2, seed=7)[50]
    assert out["fd"] == pytest.approx(frechet_distance(a, b))  # every row, in another order
    assert out["kid"] == pytest.approx(float(mmd2_unbiased(a, b)))
    assert out["fd_std"] == pytest.approx(0.0, abs=1e-9)


def test_the_draws_are_seeded():
    a, b = gaussian(300, seed=5), gaussian(300, seed=6)
    assert fd_kid_by_size(a, b, [30], seed=1) == fd_kid_by_size(a, b, [30], seed=1)
    assert fd_kid_by_size(a, b, [30], seed=1) != fd_kid_by_size(a, b, [30], seed=2)


@pytest.mark.parametrize("sizes, repeats, message", [
    ([1], 3, r"each size must be in \[2, 40\]"),
    ([41], 3, r"each size must be in \[2, 40\]"),
    ([10], 0, "repeats"),
])
def test_bad_sizes_are_refused(sizes, repeats, message):
    with pytest.raises(ValueError, match=message):
        fd_kid_by_size(gaussian(40), gaussian(50), sizes, repeats=repeats)
