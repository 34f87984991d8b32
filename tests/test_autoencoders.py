"""Chapter 2: autoencoders, the VAE's loss in closed form and by Monte Carlo, and the digit judges."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal

from stylegan_tutorial import autoencoders as A
from stylegan_tutorial.baselines import uniform_noise
from stylegan_tutorial.data.digits import load_digits_tensor
from stylegan_tutorial.metrics import DigitReader, sharpness

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def digits():
    return load_digits_tensor(16)


# ---- the KL term and the loss --------------------------------------------------------------

def test_kl_by_hand():
    # mu = 1, logvar = 0: -1/2 (1 + 0 - 1 - 1) = 1/2 per dimension.
    assert A.kl_divergence(torch.ones(2, 3), torch.zeros(2, 3)).tolist() == [1.5, 1.5]
    # The prior itself: 0.
    assert A.kl_divergence(torch.zeros(4, 2), torch.zeros(4, 2)).tolist() == [0.0] * 4
    # mu = 0, sigma² = 2: -1/2 (1 + ln 2 - 2) = (1 - ln 2) / 2 per dimension.
    kl = A.kl_divergence(torch.zeros(1, 5, dtype=torch.float64), torch.full((1, 5), math.log(2.0),
                                                                            dtype=torch.float64))
    assert kl.item() == pytest.approx(5 * (1 - math.log(2.0)) / 2, rel=1e-12)


def test_kl_equals_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(8, 4, generator=gen), torch.randn(8, 4, generator=gen)
    q, p = Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros(8, 4), torch.ones(8, 4))
    torch.testing.assert_close(A.kl_divergence(mu, logvar),
                               torch.distributions.kl_divergence(q, p).sum(dim=1), rtol=1e-5, atol=1e-6)


def test_kl_equals_a_monte_carlo_estimate():
    mu = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.3, -0.7, 0.0]], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    eps = torch.randn(400_000, 3, generator=gen, dtype=torch.float64)
    z = A.reparameterize(mu.expand(400_000, -1), logvar.expand(400_000, -1), eps)
    q = Normal(mu, (0.5 * logvar).exp())
    terms = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(dim=1)  # log q(z) - log p(z)
    stderr = terms.std().item() / math.sqrt(len(terms))
    assert terms.mean().item() == pytest.approx(A.kl_divergence(mu, logvar).item(), abs=4 * stderr)


def test_reparameterize_is_mu_plus_sigma_eps_and_passes_gradients():
    mu = torch.tensor([[1.0, -2.0]], requires_grad=True)
    logvar = torch.tensor([[math.log(4.0), 0.0]], requires_grad=True)
    z = A.reparameterize(mu, logvar, eps=torch.tensor([[0.5, -1.0]]))
    torch.testing.assert_close(z, torch.tensor([[2.0, -3.0]]))
    z.sum().backward()
    torch.testing.assert_close(mu.grad, torch.ones(1, 2))
    torch.testing.assert_close(logvar.grad, torch.tensor([[0.5 * 2.0 * 0.5, 0.5 * 1.0 * -1.0]]))
    draws = A.reparameterize(torch.full((100_000, 1), 3.0), torch.full((100_000, 1), math.log(0.25)),
                             generator=torch.Generator().manual_seed(0))
    assert draws.mean().item() == pytest.approx(3.0, abs=0.01)
    assert draws.std().item() == pytest.approx(0.5, abs=0.01)


def test_vae_loss_sums_over_dimensions_and_averages_over_the_batch():
    x = torch.tensor([[[[0.0, 1.0]]], [[[1.0, 1.0]]]])  # [2, 1, 1, 2]
    x_hat = torch.tensor([[[[1.0, 1.0]]], [[[0.0, -1.0]]]])
    # Per image: 1, then 1 + 4 = 5; the mean over the batch: 3.
    mu, logvar = torch.ones(2, 3), torch.zeros(2, 3)  # KL 1.5 per image
    assert A.vae_loss(x, x_hat, mu, logvar, beta=0.0).item() == pytest.approx(3.0)
    assert A.reconstruction_loss(x, x_hat).item() == pytest.approx(3.0)
    assert A.vae_loss(x, x_hat, mu, logvar).item() == pytest.approx(3.0 + 1.5)
    assert A.vae_loss(x, x_hat, mu, logvar, beta=4.0).item() == pytest.approx(3.0 + 6.0)


# ---- the networks --------------------------------------------------------------------------

def test_autoencoder_shapes_and_range():
    torch.manual_seed(0)
    ae = A.Autoencoder(image_shape=(1, 16, 16), latent_dim=2, hidden=32)
    x = torch.randn(5, 1, 16, 16)
    z = ae.encode(x)
    assert z.shape == (5, 2)
    out = ae(x)
    assert out.shape == (5, 1, 16, 16) and out.abs().max() < 1
    assert torch.equal(out, ae.decode(z))


def test_vae_encodes_a_gaussian_and_decodes_a_sample():
    torch.manual_seed(0)
    vae = A.VAE(latent_dim=3, hidden=32)
    x = torch.randn(4, 1, 16, 16)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (4, 3)
    x_hat, mu2, logvar2 = vae(x, generator=torch.Generator().manual_seed(1))
    assert x_hat.shape == x.shape and torch.equal(mu, mu2) and torch.equal(logvar, logvar2)
    again, _, _ = vae(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(x_hat, again)


def test_conv_autoencoder_shapes_and_size():
    torch.manual_seed(0)
    ae = A.ConvAutoencoder(latent_dim=32, channels=32)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    assert ae.encode(x).shape == (3, 32)
    assert ae(x).shape == (3, 3, 32, 32) and ae(x).abs().max() < 1
    assert sum(p.numel() for p in ae.parameters()) < 100_000  # small enough for a CPU (docstring)


def test_training_lowers_the_loss_on_digits(digits):
    images, _ = digits
    torch.manual_seed(0)
    ae = A.Autoencoder(latent_dim=2, hidden=128)
    losses = A.train_autoencoder(ae, images, steps=200, batch_size=128, seed=0, progress=False)
    assert len(losses) == 200 and all(math.isfinite(v) for v in losses)
    assert sum(losses[-20:]) / 20 < 0.5 * sum(losses[:5]) / 5
    assert not ae.training


def test_training_is_seeded(digits):
    images = digits[0][:256]
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        vae = A.VAE(latent_dim=2, hidden=32)
        runs.append(A.train_autoencoder(vae, images, steps=20, batch_size=64, seed=3, progress=False))
    assert runs[0] == runs[1]


def test_vae_training_lowers_its_loss_and_keeps_the_kl_finite(digits):
    images, _ = digits
    torch.manual_seed(0)
    vae = A.VAE(latent_dim=2, hidden=128)
    losses = A.train_autoencoder(vae, images, steps=200, batch_size=128, seed=0, progress=False)
    assert sum(losses[-20:]) / 20 < 0.5 * sum(losses[:5]) / 5
    with torch.no_grad():
        mu, logvar = vae.encode(images)
    assert torch.isfinite(A.kl_divergence(mu, logvar)).all()


def test_conv_autoencoder_trains_on_faces_shaped_images():
    torch.manual_seed(0)
    ae = A.ConvAutoencoder(latent_dim=8, channels=8)
    faces = uniform_noise(32, (3, 32, 32), seed=0) * 0.2
    losses = A.train_autoencoder(ae, faces, steps=10, batch_size=16, progress=False)
    assert len(losses) == 10 and losses[-1] < losses[0] and not ae.training


# ---- latent grids and decoding -------------------------------------------------------------

def test_latent_grid_is_laid_out_like_a_picture():
    z = A.latent_grid(n=3, lim=2.0)
    assert z.tolist() == [[-2.0, 2.0], [0.0, 2.0], [2.0, 2.0],
                          [-2.0, 0.0], [0.0, 0.0], [2.0, 0.0],
                          [-2.0, -2.0], [0.0, -2.0], [2.0, -2.0]]
    assert A.latent_grid().shape == (225, 2)


def test_decode_latents_decodes_in_chunks_without_gradients_and_keeps_the_mode():
    torch.manual_seed(0)
    ae = A.Autoencoder(latent_dim=2, hidden=16).train()
    z = A.latent_grid(n=5)
    out = A.decode_latents(ae, z, batch_size=7)
    assert out.shape == (25, 1, 16, 16) and not out.requires_grad
    with torch.no_grad():
        torch.testing.assert_close(out, ae.decode(z))
    assert ae.training


def test_sample_latents_are_seeded_standard_normals():
    z = A.sample_latents(50_000, 3, seed=0)
    assert z.shape == (50_000, 3) and torch.equal(z, A.sample_latents(50_000, 3, seed=0))
    assert z.mean().item() == pytest.approx(0.0, abs=0.02)
    assert z.std().item() == pytest.approx(1.0, abs=0.02)


# ---- judging digits ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def split(digits):
    """A seeded random split of the digits: 1,400 to fit on, 397 held out."""
    order = torch.randperm(len(digits[0]), generator=torch.Generator().manual_seed(0))
    return order[:1400], order[1400:]


@pytest.fixture(scope="module")
def reader(digits, split):
    images, labels = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converges: no ConvergenceWarning
        return DigitReader.fit(images[split[0]], labels[split[0]], seed=0)


def test_digit_reader_reads_held_out_digits(reader, digits, split):
    images, labels = digits
    held_out = split[1]
    assert reader.accuracy(images[held_out], labels[held_out]) > 0.9
    classes, confidence = reader.read(images[held_out[:10]])
    assert classes.dtype == torch.int64 and classes.shape == (10,)
    assert confidence.dtype == torch.float32 and confidence.min() >= 0.1 and confidence.max() <= 1
    # Its classes are what it reads most often right: the labels.
    assert (classes == labels[held_out[:10]]).float().mean() >= 0.8


def test_real_digits_are_read_confidently_more_often_than_noise(reader, digits, split):
    real = reader.confident_fraction(digits[0][split[1]])
    noise = reader.confident_fraction(uniform_noise(400, (1, 16, 16), seed=0))
    assert real > 0.7 and real > noise + 0.5
    assert reader.confident_fraction(digits[0][split[1]], threshold=0.0) == 1.0


def test_digit_reader_checks_shapes(reader):
    with pytest.raises(ValueError, match=r"\[N, 1, 16, 16\]"):
        reader.read(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="same length"):
        DigitReader.fit(torch.zeros(4, 1, 2, 2), torch.zeros(3))


def test_sharpness_by_hand_and_under_blur(digits):
    ramp = torch.arange(5.0).mul(0.1).expand(2, 1, 5, 5)  # +0.1 per column, nothing per row
    assert sharpness(ramp) == pytest.approx(0.1)
    assert sharpness(ramp.transpose(-1, -2)) == pytest.approx(0.1)
    assert sharpness(torch.zeros(3, 1, 4, 4)) == 0.0
    diagonal = torch.arange(4.0).view(1, 4) + torch.arange(4.0).view(4, 1)  # +1 right and down
    assert sharpness(diagonal.expand(1, 3, 4, 4)) == pytest.approx(math.sqrt(2))
    images = digits[0][:200]
    blurred = F.avg_pool2d(images, 3, stride=1, padding=1, count_include_pad=False)
    assert sharpness(blurred) < 0.9 * sharpness(images)  # the digits are smooth already (8² upsampled)
