"""The 2-D toy GAN, the Dirac-GAN and the 1-D optimal discriminator, against analysis done here.

The Dirac-GAN facts (Mescheder, Geiger and Nowozin, 2018), derived for this package's sign
convention: real data at 0, fake at theta, logit D(x) = psi * x, so the only logit that moves is
the fake one, l = psi * theta.

- D minimises softplus(l) + softplus(0) (+ gamma/2 * psi^2 with R1: grad_x D = psi), so
  dL_D/dpsi = theta * sigmoid(l) + gamma * psi.
- The saturating G minimises -softplus(l): dL_G/dtheta = -psi * sigmoid(l).
  The saturating field (psi s, -theta s), s = sigmoid(l), is orthogonal to (theta, psi), so a
  simultaneous step of size lr grows the squared radius by exactly (1 + lr^2 s^2): it spirals out.
- The non-saturating G minimises softplus(-l): dL_G/dtheta = -psi * sigmoid(-l).
- Near (0, 0) both fields are J (theta, psi) with J = [[0, 1/2], [-1/2, -gamma]], whose
  eigenvalues solve lambda^2 + gamma lambda + 1/4 = 0: purely imaginary for gamma = 0, negative
  real parts for gamma > 0. Simultaneous steps multiply the error by |1 + lr lambda| per step.
- Alternating steps without R1 (D first: psi' = psi - lr theta / 2, then theta' = theta +
  lr psi' / 2) have the linear map [[1 - lr^2/4, lr/2], [-lr/2, 1]] on (theta, psi), with
  determinant 1: the iterates neither converge nor blow up.
"""

import math

import pytest
import torch

from stylegan_tutorial import toy


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# --- data --------------------------------------------------------------------------------------


def test_ring_centres_lie_on_the_circle_evenly_spaced():
    centres = toy.ring_centres(modes=8, radius=2.0)
    assert centres.shape == (8, 2)
    torch.testing.assert_close(centres.norm(dim=1), torch.full((8,), 2.0))
    neighbours = (centres - centres.roll(1, dims=0)).norm(dim=1)
    torch.testing.assert_close(neighbours, torch.full((8,), 2 * 2.0 * math.sin(math.pi / 8)))
    torch.testing.assert_close(centres[0], torch.tensor([2.0, 0.0]))


def test_grid_centres_are_a_centred_lattice():
    centres = toy.grid_centres(side=5, spacing=2.0)
    assert centres.shape == (25, 2)
    torch.testing.assert_close(centres.mean(0), torch.zeros(2), atol=1e-6, rtol=0)
    assert sorted(set(centres[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(c) for c in centres.tolist()}) == 25


def test_ring_samples_spread_evenly_with_rayleigh_distances():
    gen = torch.Generator().manual_seed(0)
    samples, centres = toy.ring_of_gaussians(40_000, modes=8, radius=2.0, std=0.05, generator=gen)
    assert samples.shape == (40_000, 2)
    dist, nearest = torch.cdist(samples, centres).min(dim=1)
    # The distance of a 2-D isotropic Gaussian from its mean is Rayleigh: mean std * sqrt(pi/2).
    assert dist.mean().item() == pytest.approx(0.05 * math.sqrt(math.pi / 2), rel=0.02)
    share = torch.bincount(nearest, minlength=8).float() / 40_000
    assert share.sub(1 / 8).abs().max().item() < 0.01


def test_mixture_repeats_with_the_same_generator():
    a, _ = toy.grid_of_gaussians(100, generator=torch.Generator().manual_seed(3))
    b, _ = toy.grid_of_gaussians(100, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kwargs, word", [
    ({"n": 0}, "n"), ({"n": 10, "std": -1.0}, "std"), ({"n": 10, "modes": 0}, "modes"),
])
def test_ring_of_gaussians_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        toy.ring_of_gaussians(**kwargs)


# --- mode coverage -----------------------------------------------------------------------------


def test_mode_coverage_counts_by_hand():
    std = 0.1
    centres = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    samples = torch.cat([
        centres[0].expand(30, 2),                                # 30 on mode 0: covered
        (centres[1] + torch.tensor([2.9 * std, 0.0])).expand(25, 2),  # 25 within 3 std: covered
        centres[2].expand(10, 2),                                # good, but below min_count
        (centres[3] + torch.tensor([0.0, -3.5 * std])).expand(35, 2),  # 35 off target: bad
    ])
    modes, quality = toy.mode_coverage(samples, centres, std, min_count=20)
    assert modes == 2
    assert quality == pytest.approx(65 / 100)
    assert toy.mode_coverage(samples, centres, std, min_count=10)[0] == 3


def test_mode_coverage_of_true_samples_is_full():
    gen = torch.Generator().manual_seed(1)
    samples, centres = toy.ring_of_gaussians(2500, std=0.02, generator=gen)
    modes, quality = toy.mode_coverage(samples, centres, 0.02)
    assert modes == 8
    # P(Rayleigh distance <= 3 std) = 1 - exp(-9/2).
    assert quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)


def test_mode_coverage_rejects_bad_arguments():
    centres = toy.ring_centres()
    with pytest.raises(ValueError, match="samples"):
        toy.mode_coverage(torch.zeros(5, 3), centres, 0.02)
    with pytest.raises(ValueError, match="min_count"):
        toy.mode_coverage(torch.zeros(5, 2), centres, 0.02, min_count=0)


# --- the 2-D GAN -------------------------------------------------------------------------------


def test_toy_networks_shapes():
    assert toy.toy_generator(latent_dim=3)(torch.randn(7, 3)).shape == (7, 2)
    assert toy.toy_discriminator()(torch.randn(7, 2)).shape == (7, 1)


def test_train_toy_gan_records_snapshots_and_repeats_per_seed():
    kwargs = dict(steps=30, hidden=16, batch_size=32, snapshot_every=10, n_snapshot=50,
                  progress=False)
    a = toy.train_toy_gan(seed=0, **kwargs)
    b = toy.train_toy_gan(seed=0, **kwargs)
    c = toy.train_toy_gan(seed=1, **kwargs)
    assert a.snapshot_steps == [0, 10, 20, 30]
    assert a.snapshots.shape == (4, 50, 2)
    assert len(a.d_losses) == len(a.g_losses) == 30 and len(a.coverage) == 4
    torch.testing.assert_close(a.snapshots, b.snapshots, rtol=0, atol=0)
    assert a.d_losses == b.d_losses
    assert not torch.equal(a.snapshots, c.snapshots)
    # The thread setting is restored after training.
    assert torch.get_num_threads() >= 1


def test_train_toy_gan_finds_modes_the_untrained_generator_misses():
    run = toy.train_toy_gan(steps=400, hidden=64, batch_size=128, lr=2e-3, std=0.1,
                            r1_gamma=0.1, snapshot_every=400, seed=0, progress=False)
    untrained, trained = run.coverage[0], run.coverage[-1]
    assert untrained[0] <= 1
    assert trained[0] >= 4
    assert trained[1] > untrained[1] + 0.3


@pytest.mark.parametrize("kwargs, word", [
    ({"g_loss": "minimax"}, "g_loss"), ({"r1_gamma": -1.0}, "r1_gamma"), ({"steps": 0}, "steps"),
])
def test_train_toy_gan_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        toy.train_toy_gan(progress=False, **kwargs)


# --- the Dirac-GAN -----------------------------------------------------------------------------


def test_dirac_first_step_by_hand():
    lr = 0.1
    path = toy.dirac_gan_trajectory(steps=1, lr=lr, theta0=1.0, psi0=1.0)
    # Non-saturating: theta += lr * psi * sigmoid(-psi theta); psi -= lr * theta * sigmoid(psi theta).
    expected = torch.tensor([[1.0, 1.0], [1 + lr * sigmoid(-1.0), 1 - lr * sigmoid(1.0)]],
                            dtype=torch.float64)
    torch.testing.assert_close(path, expected)


def test_dirac_alternating_step_uses_the_new_psi():
    lr, gamma = 0.2, 0.5
    path = toy.dirac_gan_trajectory(steps=1, lr=lr, gamma=gamma, loss="saturating",
                                    theta0=0.5, psi0=-1.0, simultaneous=False)
    psi1 = -1.0 - lr * (0.5 * sigmoid(-0.5) + gamma * -1.0)
    theta1 = 0.5 + lr * psi1 * sigmoid(psi1 * 0.5)
    torch.testing.assert_close(path[1], torch.tensor([theta1, psi1], dtype=torch.float64))


def test_dirac_saturating_gd_spirals_out_at_the_predicted_rate():
    lr = 0.1
    path = toy.dirac_gan_trajectory(steps=300, lr=lr, loss="saturating", theta0=0.5, psi0=0.0)
    r2 = path.square().sum(1)  # [steps + 1]
    s = torch.sigmoid(path[:-1, 0] * path[:-1, 1])
    torch.testing.assert_close(r2[1:] / r2[:-1], 1 + lr**2 * s**2)
    assert r2[-1] > 1.5 * r2[0]


@pytest.mark.parametrize("loss", ["nonsaturating", "saturating", "wgan"])
def test_dirac_without_r1_spirals_away_from_the_equilibrium(loss):
    # Start near (0, 0), where the linearisation holds: |1 + lr lambda| > 1 for lambda = +-i/2.
    path = toy.dirac_gan_trajectory(steps=1000, lr=0.1, loss=loss, theta0=0.1, psi0=0.0)
    radius = path.norm(dim=1)
    assert radius[-1] > 2 * radius[0]
    # ... circling it all the while: theta changes sign again and again.
    assert (path[1:, 0].sign() != path[:-1, 0].sign()).sum() >= 4


def test_dirac_nonsaturating_without_r1_keeps_circling_far_from_the_equilibrium():
    # Far out, the non-saturating field pulls inwards, but never all the way to (0, 0).
    path = toy.dirac_gan_trajectory(steps=1000, lr=0.1, theta0=1.0, psi0=1.0)
    assert path[-200:].norm(dim=1).min() > 0.2


def test_dirac_alternating_without_r1_circles_without_converging():
    path = toy.dirac_gan_trajectory(steps=2000, lr=0.1, theta0=0.3, psi0=0.0,
                                    simultaneous=False)
    radius = path.norm(dim=1)
    assert radius.min() > 0.1 and radius.max() < 1.0
    assert radius[-200:].min() > 0.1


@pytest.mark.parametrize("loss", ["nonsaturating", "saturating"])
def test_dirac_with_r1_converges_at_the_linearised_rate(loss):
    lr, gamma = 0.1, 0.5
    path = toy.dirac_gan_trajectory(steps=600, lr=lr, gamma=gamma, loss=loss,
                                    theta0=1.0, psi0=1.0)
    radius = path.norm(dim=1)
    assert radius[-1] < 1e-4
    # lambda^2 + gamma lambda + 1/4 = 0 -> lambda = (-gamma +- i sqrt(1 - gamma^2)) / 2.
    lam = complex(-gamma, math.sqrt(1 - gamma**2)) / 2
    rate = abs(1 + lr * lam)
    t = torch.arange(300, 601, dtype=torch.float64)
    slope = torch.linalg.lstsq(torch.stack([t, torch.ones_like(t)], 1),
                               radius[300:601].log()[:, None]).solution[0, 0]
    assert slope.exp().item() == pytest.approx(rate, abs=2e-3)


def test_dirac_rejects_bad_arguments():
    with pytest.raises(ValueError, match="loss"):
        toy.dirac_gan_trajectory(loss="hinge")
    with pytest.raises(ValueError, match="gamma"):
        toy.dirac_gan_trajectory(gamma=-0.1)
    with pytest.raises(ValueError, match="lr"):
        toy.dirac_gan_trajectory(lr=0)


# --- the optimal discriminator in 1-D -----------------------------------------------------------


def test_gaussian_optimal_discriminator_by_hand():
    x = torch.tensor([-2.0, 0.0, 0.5, 3.0])
    torch.testing.assert_close(toy.gaussian_optimal_discriminator(x, 1.0, 2.0, 1.0, 2.0),
                               torch.full((4,), 0.5))
    # N(0, 1) against N(1, 1): log p_data - log p_g = (x - 1)^2 / 2 - x^2 / 2 = 1/2 - x.
    torch.testing.assert_close(toy.gaussian_optimal_discriminator(x, 0.0, 1.0, 1.0, 1.0),
                               torch.sigmoid(0.5 - x))


def test_fitted_discriminator_matches_the_closed_form():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(1000, generator=gen)  # N(0, 1)
    fake = 1.5 + 0.6 * torch.randn(1000, generator=gen)  # N(1.5, 0.6^2)
    D = toy.fit_discriminator_1d(real, fake, steps=300, seed=0)
    x = torch.linspace(-1.5, 2.5, 81)  # where both densities are non-negligible
    with torch.no_grad():
        learned = torch.sigmoid(D(x[:, None])).squeeze(1)
    optimal = toy.gaussian_optimal_discriminator(x, 0.0, 1.0, 1.5, 0.6)
    assert (learned - optimal).abs().max().item() < 0.08
    assert (learned - optimal).abs().mean().item() < 0.03
