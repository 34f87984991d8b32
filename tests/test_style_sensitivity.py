"""Chapter 6's layer × factor sensitivity: the transfer slope, the differences, the whole table."""

from __future__ import annotations

import math

import pytest
import torch

from stylegan_tutorial import style_sensitivity as S
from stylegan_tutorial.data.faces import FACTORS

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def test_layers_come_two_per_resolution_from_4(tiny_g):
    assert [S.layer_resolution(i) for i in range(6)] == [4, 4, 8, 8, 16, 16]
    rows = S.single_layers(tiny_g)
    assert len(rows) == tiny_g.num_layers
    assert list(rows)[:3] == ["layer 0 (4²)", "layer 1 (4²)", "layer 2 (8²)"]
    assert all(r == range(i, i + 1) for i, r in enumerate(rows.values()))


def test_transfer_is_the_slope_and_ignores_noise_that_does_not_follow_b():
    gen = torch.Generator().manual_seed(0)
    d_b = torch.randn(2000, 1, generator=gen, dtype=torch.float64)
    noise = torch.randn(2000, 1, generator=gen, dtype=torch.float64) * 0.3
    assert S.transfer(0.3 * d_b, d_b) == pytest.approx(0.3)
    assert S.transfer(d_b, d_b) == pytest.approx(1.0)
    assert S.transfer(0.3 * d_b + noise, d_b) == pytest.approx(0.3, abs=0.03)  # no floor from noise
    assert S.transfer(noise, d_b) == pytest.approx(0.0, abs=0.03)
    assert math.isnan(S.transfer(d_b, torch.zeros_like(d_b)))


def test_factor_differences_take_the_hue_the_short_way_and_categories_as_probabilities():
    pred_a = {"background_hue": torch.tensor([0.05, 0.5]), "head_x": torch.tensor([0.0, 0.1]),
              "glasses": torch.tensor([0, 1]), "glasses_prob": torch.tensor([[0.9, 0.1], [0.2, 0.8]])}
    pred_x = {"background_hue": torch.tensor([0.95, 0.6]), "head_x": torch.tensor([0.1, 0.1]),
              "glasses": torch.tensor([1, 1]), "glasses_prob": torch.tensor([[0.3, 0.7], [0.2, 0.8]])}
    hue = S.factor_difference(pred_x, pred_a, "background_hue")
    assert hue.shape == (2, 1) and hue[:, 0].tolist() == pytest.approx([-0.1, 0.1])
    assert S.factor_difference(pred_x, pred_a, "head_x")[:, 0].tolist() == pytest.approx([0.1, 0.0])
    glasses = S.factor_difference(pred_x, pred_a, "glasses")
    assert glasses.shape == (2, 2)
    assert torch.allclose(glasses, torch.tensor([[-0.6, 0.6], [0.0, 0.0]], dtype=torch.float64))


def test_swapping_every_layer_transfers_every_factor_fully(tiny_g, random_oracle):
    everything = {"all": range(0, tiny_g.num_layers), "first": range(0, 1)}
    table = S.style_swap_sensitivity(tiny_g, random_oracle, everything, n=6, batch_size=4, seed=1,
                                    progress=False)
    assert list(table) == ["all", "first"] and list(table["all"]) == list(FACTORS)
    assert all(v == pytest.approx(1.0) for v in table["all"].values())
    assert all(math.isfinite(v) for v in table["first"].values())


def test_the_table_is_reproducible_and_has_one_row_per_layer(tiny_g, random_oracle):
    first = S.style_swap_sensitivity(tiny_g, random_oracle, n=4, seed=3, progress=False)
    again = S.style_swap_sensitivity(tiny_g, random_oracle, n=4, seed=3, progress=False)
    assert first == again
    rows, factors, values = S.sensitivity_matrix(first)
    assert rows == list(S.single_layers(tiny_g)) and factors == list(FACTORS)
    assert values.shape == (tiny_g.num_layers, len(FACTORS))
    assert values[1, 0].item() == first[rows[1]][factors[0]]


def test_a_layer_range_outside_the_generator_is_refused_by_name(tiny_g, random_oracle):
    with pytest.raises(ValueError, match=r"layer_ranges\['bad'\]"):
        S.style_swap_sensitivity(tiny_g, random_oracle, {"bad": range(3, 99)}, n=2, progress=False)
