"""stylegan_tutorial.truncation: the truncated normal, images of given latents, chapter 9's measures."""

from __future__ import annotations

import math

import pytest
import torch

from stylegan_tutorial import truncation
from stylegan_tutorial.configs import get_config
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.metrics.frechet import frechet_distance


def small_generator(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    G = Generator(get_config("cpu-tiny", resolution=8)).eval().requires_grad_(False)
    G.w_avg.copy_(torch.randn(G.w_dim))
    return G


def test_truncated_normal_stays_inside_the_bound_and_is_seeded():
    z = truncation.truncated_normal(500, 16, 0.5, seed=3)
    assert z.shape == (500, 16)
    assert z.abs().max() <= 0.5
    assert torch.equal(z, truncation.truncated_normal(500, 16, 0.5, seed=3))
    assert not torch.equal(z, truncation.truncated_normal(500, 16, 0.5, seed=4))


def test_truncated_normal_has_the_truncated_variance():
    """Var of N(0, 1) truncated to [-t, t] is 1 - 2 t phi(t) / (2 Phi(t) - 1)."""
    t = 1.0
    z = truncation.truncated_normal(20_000, 8, t, seed=0)
    phi = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(t / math.sqrt(2))  # 2 Phi(t) - 1
    assert z.var().item() == pytest.approx(1 - 2 * t * phi / mass, rel=0.02)


def test_a_huge_threshold_is_the_plain_normal():
    assert torch.equal(truncation.truncated_normal(4, 8, math.inf, seed=1),
                       torch.randn(4, 8, generator=torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("threshold", [0.0, -1.0, float("nan")])
def test_truncated_normal_refuses_a_bound_that_is_not_positive(threshold):
    with pytest.raises(ValueError, match="threshold must be > 0"):
        truncation.truncated_normal(4, 8, threshold)


def test_images_from_z_match_the_generator_in_batches_and_leave_the_random_state():
    G = small_generator()
    z = torch.randn(5, G.z_dim)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = truncation.images_from_z(G, z, psi=0.7, cutoff=2, seed=1, batch_size=2)  # 2 + 2 + 1
    assert torch.equal(torch.rand(3), before), "the caller's random state is left alone"
    b = truncation.images_from_z(G, z, psi=0.7, cutoff=2, seed=1, batch_size=5)
    assert a.shape == (5, 3, 8, 8)
    torch.testing.assert_close(a, b)
    fixed = truncation.images_from_z(G, z, psi=0.7, cutoff=2, noise_mode="fixed")
    torch.testing.assert_close(fixed, G(z, psi=0.7, cutoff=2, noise_mode="fixed"))


def test_images_from_z_at_psi_zero_are_one_face():
    G = small_generator()
    images = truncation.images_from_z(G, torch.randn(4, G.z_dim), psi=0.0, noise_mode="fixed")
    assert (images - images[:1]).abs().max() == 0


def test_nearest_distance_and_mean_pairwise_distance_by_hand():
    reference = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    feats = torch.tensor([[3.0, 4.0], [10.0, 1.0]])
    assert truncation.nearest_distance(feats, reference).tolist() == [5.0, 1.0]
    square = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    expected = (4 * 1 + 2 * math.sqrt(2)) * 2 / 12  # 12 ordered pairs: 8 sides, 4 diagonals
    assert truncation.mean_pairwise_distance(square) == pytest.approx(expected)
    assert truncation.mean_pairwise_distance(torch.ones(5, 3)) == 0.0
    with pytest.raises(ValueError, match="at least 2 rows"):
        truncation.mean_pairwise_distance(torch.ones(1, 3))


def test_real_faces_score_one_and_collapse_scores_no_diversity():
    gen = torch.Generator().manual_seed(0)
    reference = torch.randn(400, 6, generator=gen)
    held_out = torch.randn(200, 6, generator=gen)
    baseline = truncation.real_baseline(held_out, reference, n=50)
    assert baseline.fd == pytest.approx(
        sum(frechet_distance(reference, part) for part in held_out.split(50)) / 4)
    assert baseline.fd_std > 0
    real = truncation.quality_diversity(held_out, reference, baseline)
    assert real.distance == pytest.approx(1.0) and real.diversity == pytest.approx(1.0)
    assert real.distance_se > 0
    collapsed = truncation.quality_diversity(held_out[:1].repeat(50, 1), reference, baseline)
    assert collapsed.diversity == 0.0 and collapsed.fd > real.fd
    far = truncation.quality_diversity(held_out + 5.0, reference, baseline)
    assert far.distance > 2.0 and far.diversity == pytest.approx(1.0)


def test_real_baseline_needs_two_draws():
    with pytest.raises(ValueError, match="at least 2 \\* n"):
        truncation.real_baseline(torch.randn(30, 4), torch.randn(100, 4), n=20)
