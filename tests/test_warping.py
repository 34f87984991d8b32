"""Chapter 5's Figure 6 in 2-D: the missing-corner data, the mapped generator, the measures of warping."""

from __future__ import annotations

import math

import pytest
import torch

from stylegan_tutorial import toy, warping
from stylegan_tutorial.mapping import MappingNetwork


def test_missing_corner_draws_the_square_without_its_corner():
    x = warping.missing_corner(3000, torch.Generator().manual_seed(0))
    assert x.shape == (3000, 2)
    assert x.abs().max() <= 1
    assert not warping.in_corner(x).any()
    left, low = x[:, 0] < 0, x[:, 1] < 0
    quarters = [(left & ~low).float().mean(), (left & low).float().mean(), (~left & low).float().mean()]
    assert all(abs(q - 1 / 3) < 0.04 for q in quarters)  # the three other quarters, equally likely


def test_missing_corner_repeats_with_its_generator_and_checks_n():
    a = warping.missing_corner(10, torch.Generator().manual_seed(3))
    b = warping.missing_corner(10, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert warping.missing_corner(1).shape == (1, 2)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            warping.missing_corner(bad)


def test_in_corner_means_both_factors_above_zero():
    points = torch.tensor([[0.5, 0.5], [0.5, -0.5], [-0.5, 0.5], [0.0, 0.5], [1.0, 1.0]])
    assert warping.in_corner(points).tolist() == [True, False, False, False, True]


def test_straight_lines_are_evenly_spaced_with_both_ends():
    a, b = torch.tensor([[0.0, 0.0], [1.0, 2.0]]), torch.tensor([[4.0, 0.0], [1.0, -2.0]])
    lines = warping.straight_lines(a, b, points=5)
    assert lines.shape == (2, 5, 2)
    assert torch.equal(lines[:, 0], a) and torch.equal(lines[:, -1], b)
    assert torch.allclose(lines[0, :, 0], torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(ValueError, match="points"):
        warping.straight_lines(a, b, points=2)


def test_chord_deviation_of_a_straight_line_a_semicircle_and_a_parabola():
    t = torch.linspace(0, 1, 201)
    straight = torch.stack([t, 2 * t, -t], dim=1)  # [T, 3]
    angle = torch.linspace(math.pi, 0, 201)
    semicircle = torch.stack([angle.cos(), angle.sin()], dim=1)  # [T, 2]: out 1 over a chord of 2
    s = torch.linspace(-1, 1, 201)
    parabola = torch.stack([s, s.square()], dim=1)
    dev = warping.chord_deviation(torch.stack([semicircle, parabola]))
    assert warping.chord_deviation(straight[None]).item() == pytest.approx(0.0, abs=1e-6)
    assert dev.tolist() == pytest.approx([0.5, 0.5], abs=1e-4)
    with pytest.raises(ValueError, match="paths must be"):
        warping.chord_deviation(straight)


def test_line_bending_is_zero_for_an_affine_map_and_not_for_a_curved_one():
    a, b = torch.randn(20, 2), torch.randn(20, 2)
    affine = torch.nn.Linear(2, 3)
    assert warping.line_bending(affine, a, b).max() < 1e-5

    def fold(x):  # x -> (x1, x1²): a parabola over any segment along x1
        return torch.stack([x[:, 0], x[:, 0].square()], dim=1)

    bend = warping.line_bending(fold, torch.tensor([[-1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), points=65)
    assert bend.item() == pytest.approx(0.5, abs=1e-6)


def test_grid_lines_cover_the_square_with_straight_lines():
    grid = warping.grid_lines(-2.0, 2.0, lines=5, points=9)
    assert grid.shape == (10, 9, 2)
    assert grid.min() == -2 and grid.max() == 2
    assert warping.chord_deviation(grid).max() < 1e-6
    assert torch.allclose(grid[:5, :, 1].std(dim=1), torch.zeros(5))  # the first five are horizontal
    assert torch.allclose(grid[5:, :, 0].std(dim=1), torch.zeros(5))  # the others vertical


def test_probe_r2_is_one_for_affine_factors_and_about_zero_for_independent_ones():
    gen = torch.Generator().manual_seed(0)
    latents = torch.randn(400, 5, generator=gen)
    affine = latents @ torch.randn(5, 2, generator=gen) + 3.0
    noise = torch.randn(400, 1, generator=gen)
    r2 = warping.probe_r2(latents, torch.cat([affine, noise], dim=1), ridge=0.0)
    assert r2.shape == (3,) and r2.dtype == torch.float64
    assert r2[:2].tolist() == pytest.approx([1.0, 1.0], abs=1e-9)
    assert -0.1 < r2[2] < 0.02  # held out: no better than a constant, a little worse


def test_probe_r2_ridge_rescues_more_dimensions_than_samples():
    gen = torch.Generator().manual_seed(1)
    latents = torch.randn(60, 100, generator=gen)
    factor = latents[:, :1] + 0.1 * torch.randn(60, 1, generator=gen)
    plain = warping.probe_r2(latents, factor, ridge=0.0)
    ridged = warping.probe_r2(latents, factor, ridge=10.0)
    assert ridged.item() > plain.item()
    assert ridged.item() > 0
    # the penalty is in units of the latents' variance: scaling the latents changes nothing
    assert torch.allclose(warping.probe_r2(latents * 7, factor, ridge=10.0), ridged)


def test_probe_r2_checks_its_arguments():
    with pytest.raises(ValueError, match="same N"):
        warping.probe_r2(torch.randn(10, 2), torch.randn(9, 1))
    with pytest.raises(ValueError, match="folds"):
        warping.probe_r2(torch.randn(10, 2), torch.randn(10, 1), folds=1)


def test_mapped_generator_is_a_mapping_then_an_affine_synthesis():
    torch.manual_seed(0)
    G = warping.MappedGenerator(depth=3, width=16, lrmul=0.5)
    z = torch.randn(7, 2)
    w = G.mapping(z)
    assert w.shape == (7, 2) and G(z).shape == (7, 2)
    assert torch.allclose(G(z), G.synthesis(w))
    assert isinstance(G.mapping[0], MappingNetwork) and not G.mapping[0].normalize_z
    assert all(layer.lrmul == 0.5 for layer in G.mapping[0].layers)
    assert warping.line_bending(G.synthesis, torch.randn(10, 2), torch.randn(10, 2)).max() < 1e-5


def test_train_corner_gan_repeats_with_its_seed():
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        G = toy.toy_generator(latent_dim=2, hidden=16, depth=2)
        runs.append(warping.train_corner_gan(G, steps=15, batch_size=32, seed=3, progress=False))
    assert len(runs[0].d_losses) == len(runs[0].g_losses) == 15
    assert runs[0].d_losses == runs[1].d_losses and runs[0].g_losses == runs[1].g_losses
    assert not runs[0].generator.training
    with pytest.raises(ValueError, match="steps"):
        warping.train_corner_gan(G, steps=0)


def test_train_corner_gan_trains_a_mapped_generator():
    torch.manual_seed(0)
    G = warping.MappedGenerator(depth=2, width=16)
    before = [p.detach().clone() for p in G.parameters()]
    run = warping.train_corner_gan(G, steps=10, batch_size=32, progress=False)
    assert all(torch.isfinite(torch.tensor(run.d_losses + run.g_losses)))
    assert all(not torch.equal(a, b) for a, b in zip(before, G.parameters()))
