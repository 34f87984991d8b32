"""What the noise inputs change (chapter 7): draws, per-pixel spread, the factors' spread."""

from __future__ import annotations

import pytest
import torch

from stylegan_tutorial.configs import get_config
from stylegan_tutorial.data.faces import FACTORS, make_faces, render_faces
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.noise_effects import _deviations, factor_spread, noise_draws, noise_only_in, pixel_std
from stylegan_tutorial.oracle import load_oracle


@pytest.fixture(scope="module")
def G():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = Generator(get_config("cpu-tiny", resolution=8)).eval()
        for layer in G.synthesis.layers:  # a new network starts noise-free (scales 0)
            layer.noise.scale.data.fill_(1.0)
    return G


def test_noise_only_in_switches_the_named_layers():
    assert noise_only_in(range(2, 4), 5) == ["none", "none", "random", "random", "none"]
    assert noise_only_in([], 2) == ["none", "none"]
    with pytest.raises(ValueError, match="within 0-3"):
        noise_only_in([4], 4)


def test_noise_draws_shape_seed_and_random_state(G):
    w = G.mapping(torch.randn(3, G.z_dim))
    torch.manual_seed(5)
    before = torch.get_rng_state()
    a = noise_draws(G, w, draws=4, seed=1)
    assert torch.equal(torch.get_rng_state(), before), "the caller's random state is left alone"
    assert a.shape == (3, 4, 3, 8, 8)
    assert torch.equal(a, noise_draws(G, w, draws=4, seed=1))
    assert not torch.equal(a[:, 0], a[:, 1]), "every draw has fresh noise"
    still = noise_draws(G, w, draws=2, noise_mode="none")
    assert torch.equal(still[:, 0], still[:, 1])
    with pytest.raises(ValueError, match="positive integer"):
        noise_draws(G, w, draws=0)


def test_noise_in_some_layers_only(G):
    w = G.mapping(torch.randn(2, G.z_dim))
    coarse = noise_draws(G, w, draws=2, noise_mode=noise_only_in([0], G.num_layers))
    assert not torch.equal(coarse[:, 0], coarse[:, 1])


def test_pixel_std_is_each_pixels_spread_over_the_draws():
    images = torch.zeros(2, 2, 3, 4, 4)
    images[0, 0, :, 1, 2], images[0, 1, :, 1, 2] = 1.0, -1.0  # one pixel, in every channel
    images[1, 0, 0, 3, 3] = 2.0  # one pixel, in one channel of three
    std = pixel_std(images)
    assert std.shape == (2, 4, 4)
    assert std[0, 1, 2].item() == pytest.approx(2 ** 0.5)  # std of (1, -1), unbiased
    assert std[1, 3, 3].item() == pytest.approx((2.0 / 3) ** 0.5)  # sqrt(std² / 3 channels)
    assert std.sum().item() == pytest.approx(2 ** 0.5 + (2.0 / 3) ** 0.5)
    with pytest.raises(ValueError, match="K >= 2"):
        pixel_std(torch.zeros(2, 1, 3, 4, 4))


def test_deviations_take_the_hue_the_short_way_round():
    hue = torch.tensor([[0.02, 0.98]], dtype=torch.float64)
    assert _deviations(hue, "background_hue", dim=1).abs().max().item() == pytest.approx(0.02)
    x = torch.tensor([[0.02, 0.98]], dtype=torch.float64)
    assert _deviations(x, "head_x", dim=1).abs().max().item() == pytest.approx(0.48)


def test_factor_spread_on_faces_with_known_factors():
    oracle = load_oracle()
    images, factors = make_faces(16, resolution=32, seed=3)
    same = torch.stack([images, images], dim=1)  # [16, 2, 3, 32, 32]: the "noise" changes nothing
    spread = factor_spread(oracle, same)
    assert set(spread) == set(FACTORS)
    # 0, but the hue's spread goes round its circle in floating point: 4e-17 on an AMD EPYC
    assert all(abs(noise) < 1e-12 for noise, _ in spread.values())
    assert all(new_w > 0 for _, new_w in spread.values())
    # the data's own stochastic detail (freckles, strands, background texture) redrawn
    redrawn = torch.stack([images, render_faces(factors, 32, seed=99)], dim=1)
    spread = factor_spread(oracle, redrawn)
    for name in ("head_x", "head_size", "skin_tone", "background_hue"):
        noise, new_w = spread[name]
        assert noise < 0.3 * new_w, (name, noise, new_w)
    with pytest.raises(ValueError, match="K >= 2 draws of N >= 2"):
        factor_spread(oracle, images[:1, None].expand(1, 2, -1, -1, -1))
