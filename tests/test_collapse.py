"""The mode-collapse alarm and the coverage of the faces' factor combinations (the instructor's guide)."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import images, tiny
from stylegan_tutorial import training
from stylegan_tutorial.collapse import SPREAD_WARNING, batch_spread, collapse_warning, spread_ratio
from stylegan_tutorial.data.faces import FACTORS
from stylegan_tutorial.metrics.coverage import (
    CATEGORICAL,
    combination_index,
    combination_names,
    combination_shares,
    coverage,
)


def test_batch_spread_is_the_mean_per_pixel_std_across_the_batch():
    images = torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert float(batch_spread(images)) == pytest.approx(float(images.std(dim=0).mean()))
    assert float(batch_spread(images[:1].repeat(16, 1, 1, 1))) == 0.0  # copies do not vary


def test_the_spread_ratio_falls_as_a_batch_holds_fewer_distinct_images():
    reals = torch.rand(32, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    assert float(spread_ratio(reals, reals)) == pytest.approx(1.0)
    ratios = [float(spread_ratio(reals[:k].repeat(32 // k, 1, 1, 1), reals)) for k in (1, 2, 4, 16)]
    assert ratios[0] == 0.0 and ratios == sorted(ratios) and ratios[-1] < 1.05


def test_collapse_warning_names_the_tick_and_the_threshold():
    assert collapse_warning({"kimg": 12.0, "spread": 0.9}) is None
    assert collapse_warning({"kimg": 12.0}) is None  # logs written before the spread was recorded
    assert collapse_warning({"kimg": 12.0, "spread": float("nan")}) is None  # a skipped step's NaN fakes
    message = collapse_warning({"kimg": 12.0, "spread": SPREAD_WARNING / 2})
    assert "kimg 12.0" in message and f"below {SPREAD_WARNING}" in message and "gamma" in message


def _pred(indices: list[int]) -> dict[str, torch.Tensor]:
    """Oracle-like readings whose combination of categorical factors is ``indices``."""
    sizes = [len(FACTORS[k].values) for k in CATEGORICAL]
    pred, rest = {}, torch.tensor(indices)
    for name, size in zip(reversed(CATEGORICAL), reversed(sizes)):
        pred[name], rest = rest % size, rest // size
    return pred


def test_combinations_are_named_in_index_order():
    names = combination_names()
    assert len(names) == 4 * 2 * 2
    pred = {"hair_style": torch.tensor([2]), "eyes_open": torch.tensor([1]), "glasses": torch.tensor([0])}
    assert names[int(combination_index(pred)[0])] == "long, open, off"
    assert combination_shares(_pred(list(range(16)) * 2)).tolist() == [1 / 16] * 16


def test_coverage_counts_the_combinations_the_fakes_draw_often_enough():
    real = _pred(list(range(16)) * 10)  # every combination, 10 faces each
    assert coverage(real, real) == {"coverage": 1.0, "covered": 16, "present": 16, "missing": [], "tv": 0.0}
    one = coverage(_pred([5] * 160), real)  # a collapsed generator: one combination only
    assert one["covered"] == 1 and one["coverage"] == 1 / 16 and one["tv"] == pytest.approx(15 / 16)
    assert len(one["missing"]) == 15 and combination_names()[5] not in one["missing"]
    # a combination drawn at exactly a quarter of its share in the data still counts, below it not
    fakes = [i for i in range(16) for _ in range(10)]
    quarter = [f for f in fakes if f != 3] + [3] * 2 + [0] * 8
    assert coverage(_pred(quarter), real, fraction=0.15)["covered"] == 16
    assert coverage(_pred(quarter), real, fraction=0.25)["missing"] == [combination_names()[3]]


def test_a_combination_too_rare_in_the_data_does_not_count():
    real = _pred([0] * 995 + [1] * 5)  # combination 1 in 0.5 % of the faces
    got = coverage(_pred([0] * 1000), real)
    assert got["present"] == 1 and got["coverage"] == 1.0


def test_training_logs_the_spread_and_warns_when_it_is_low(monkeypatch):
    seen = []
    training.train(tiny(total_kimg=0.016), images(), progress=False, callbacks=[lambda r, t: seen.append(t)])
    assert seen and all(t["spread"] > 0 and math.isfinite(t["spread"]) for t in seen)  # untrained: ~9
    monkeypatch.setattr(training, "collapse_warning", lambda tick: collapse_warning(tick, threshold=10.0))
    with pytest.warns(UserWarning, match="possible mode collapse at kimg"):
        training.train(tiny(total_kimg=0.008), images(), progress=False)
