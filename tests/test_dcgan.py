"""The small DCGAN: shapes, the DCGAN initialisation, one step of each player, repeatability."""

import pytest
import torch

from stylegan_tutorial import dcgan
from stylegan_tutorial.losses import d_logistic_loss


def small_pair(seed=0):
    torch.manual_seed(seed)
    G, D = dcgan.Generator(z_dim=8, width=8), dcgan.Discriminator(width=8)
    G.apply(dcgan.init_weights)
    D.apply(dcgan.init_weights)
    return G, D


def fake_digits(n=64, seed=0):
    """Bright vertical bars on a dark background: an easy 'real' class for D to learn."""
    gen = torch.Generator().manual_seed(seed)
    images = -torch.ones(n, 1, 16, 16)
    images[:, :, 3:13, 6:10] = 1.0
    return (images + 0.1 * torch.randn(n, 1, 16, 16, generator=gen)).clamp(-1, 1)


def test_generator_and_discriminator_shapes_and_range():
    G, D = small_pair()
    images = G(torch.randn(5, 8) * 10)
    assert images.shape == (5, 1, 16, 16)
    assert images.abs().max() <= 1.0  # tanh output
    assert D(images).shape == (5,)


def test_bad_shapes_name_the_argument():
    G, D = small_pair()
    with pytest.raises(ValueError, match=r"z must have shape \[N, 8\]"):
        G(torch.randn(5, 7))
    with pytest.raises(ValueError, match="images must have shape"):
        D(torch.randn(5, 1, 8, 8))
    with pytest.raises(ValueError, match="width"):
        dcgan.Generator(width=0)


def test_init_weights_follows_dcgan():
    torch.manual_seed(0)
    G = dcgan.Generator(z_dim=64, width=64)
    G.apply(dcgan.init_weights)
    conv = G.net[3].weight  # 128 * 64 * 16 = 131,072 values
    assert conv.mean().item() == pytest.approx(0.0, abs=1e-3)
    assert conv.std().item() == pytest.approx(0.02, rel=0.02)
    bn = G.net[1].weight
    assert bn.mean().item() == pytest.approx(1.0, abs=0.01)
    assert bn.std().item() == pytest.approx(0.02, rel=0.3)


def test_d_steps_separate_real_from_fake():
    G, D = small_pair()
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    reals, z = fake_digits(), torch.randn(64, 8)
    with torch.no_grad():
        before = d_logistic_loss(D(reals), D(G(z))).item()
    losses = [dcgan.d_step(G, D, opt_d, reals, z) for _ in range(20)]
    assert losses[0] == pytest.approx(before)  # d_step reports the loss before its update
    with torch.no_grad():
        real_logits, fake_logits = D(reals), D(G(z))
        after = d_logistic_loss(real_logits, fake_logits).item()
    assert after < before
    assert real_logits.mean() > 0 > fake_logits.mean()


def test_g_step_raises_the_fake_logits():
    G, D = small_pair()
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-2, betas=(0.5, 0.999))
    z = torch.randn(64, 8)
    D_params = [p.clone() for p in D.parameters()]
    with torch.no_grad():
        before = D(G(z)).mean().item()
    for _ in range(5):
        dcgan.g_step(G, D, opt_g, z)
    with torch.no_grad():
        after = D(G(z)).mean().item()
    assert after > before
    assert all(torch.equal(p, q) for p, q in zip(D_params, D.parameters()))  # D untouched


def test_train_dcgan_records_and_repeats_per_seed():
    images = fake_digits(100)
    kwargs = dict(steps=6, batch_size=16, width=8, z_dim=8, snapshot_every=3, n_snapshot=4,
                  progress=False)
    a = dcgan.train_dcgan(images, seed=0, **kwargs)
    b = dcgan.train_dcgan(images, seed=0, **kwargs)
    c = dcgan.train_dcgan(images, seed=1, **kwargs)
    assert a.snapshot_steps == [0, 3, 6]
    assert a.snapshots.shape == (3, 4, 1, 16, 16)
    assert len(a.d_losses) == len(a.g_losses) == 6
    assert not a.generator.training  # ready to sample
    assert a.d_losses == b.d_losses and a.g_losses == b.g_losses
    torch.testing.assert_close(a.snapshots, b.snapshots, rtol=0, atol=0)
    assert a.d_losses != c.d_losses
    assert not torch.equal(a.snapshots[-1], a.snapshots[0])  # training changed G


@pytest.mark.parametrize("kwargs, word", [
    ({"steps": 0}, "steps"), ({"batch_size": 1000}, "batch_size"),
    ({"images": torch.zeros(10, 1, 8, 8)}, "images"),
])
def test_train_dcgan_rejects_bad_arguments(kwargs, word):
    arguments = {"images": fake_digits(100), "progress": False, **kwargs}
    with pytest.raises(ValueError, match=word):
        dcgan.train_dcgan(**arguments)
