"""The training loop: schedule followed step by step, EMA, fades, R1, skipping bad steps."""

import numpy as np
import pytest
import torch

from conftest import images, tiny
from stylegan_tutorial.configs import TrainingConfig, training_config
from stylegan_tutorial.data.dataset import ImageDataset
from stylegan_tutorial.data.sampler import EpochSampler
from stylegan_tutorial.training import (
    TrainingDiverged,
    ema_beta,
    fade_reals,
    gradients_finite,
    train,
    update_ema,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.mark.slow
def test_a_run_through_two_resolution_changes_follows_the_schedule():
    seen = []
    run = train(tiny(), images(), progress=False, callbacks=[lambda r, tick: seen.append(tick)])
    # one tick per step (tick_kimg = 1 image); each tick reports the step it just made
    got = [(t["resolution"], round(t["alpha"], 4), t["batch_size"]) for t in seen]
    expected = (
        [(4, 1.0, 8)] * 4                                           # images 0-31: 4²
        + [(8, 0.0, 8), (8, 0.25, 8), (8, 0.5, 8), (8, 0.75, 8)]    # 32-63: 8² fades in
        + [(8, 1.0, 8)] * 4                                         # 64-95: 8²
        + [(16, a / 8, 4) for a in range(8)]                        # 96-127: 16² fades in, batch 4
        + [(16, 1.0, 4)] * 18                                       # 128-199: 16²
    )
    assert got == expected
    assert [t["kimg"] for t in seen][-1] == 0.2 and run.nimg == 200 and run.step == len(expected)
    # Adam's state was reset when 16² finished fading in: 18 steps since
    states = list(run.opt_G.state.values()) + list(run.opt_D.state.values())
    steps = {float(s["step"]) for s in states}
    assert steps == {18.0}
    assert run.history == seen and run.skipped_steps == 0
    assert all(np.isfinite(t["loss_G"]) and np.isfinite(t["loss_D"]) for t in seen)


def test_w_avg_ema_and_nothing_written_without_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = train(tiny(total_kimg=0.032), images(), progress=False)
    assert run.G.w_avg.abs().sum() > 0  # moved from zero towards the mean of w
    torch.testing.assert_close(run.G_ema.w_avg, run.G.w_avg)  # buffers follow G
    # G_ema moved, but only slightly (half-life 10 kimg, 32 images shown)
    g = torch.cat([p.flatten() for p in run.G.parameters()])
    g_ema = torch.cat([p.flatten() for p in run.G_ema.parameters()])
    assert not torch.equal(g, g_ema)
    assert list(tmp_path.iterdir()) == []


def test_ema_half_life_closed_form():
    # after ema_kimg thousand images, the old weights have half their say, whatever the batch
    for batch in (4, 32, 100):
        assert ema_beta(batch, 10.0) ** (10_000 / batch) == pytest.approx(0.5)
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = a.weight.detach().clone()
    update_ema(a, b, beta=0.75)
    torch.testing.assert_close(a.weight, 0.75 * before + 0.25 * b.weight)


def test_fade_reals_by_hand():
    x = torch.tensor([[1.0, 3.0], [5.0, 7.0]]).view(1, 1, 2, 2)
    torch.testing.assert_close(fade_reals(x, 0.0), torch.full_like(x, 4.0))  # the 2×2 mean
    assert torch.equal(fade_reals(x, 1.0), x)
    torch.testing.assert_close(fade_reals(x, 0.25), 0.75 * 4.0 + 0.25 * x)


def test_sampler_visits_every_image_once_per_epoch_and_resumes():
    s = EpochSampler(10, seed=3)
    first = s.next(7)
    rest = s.next(3)
    assert sorted(np.concatenate([first, rest]).tolist()) == list(range(10))
    s.next(4)
    resumed = EpochSampler(10, seed=3, epoch=1, pos=4)
    assert s.state()["epoch"] == 1 and np.array_equal(s.next(5), resumed.next(5))


def test_gradients_finite():
    p = torch.nn.Parameter(torch.zeros(3))
    assert gradients_finite([p])  # no gradient yet
    p.grad = torch.tensor([1.0, 2.0, 3.0])
    assert gradients_finite([p])
    p.grad = torch.tensor([1.0, float("nan"), 3.0])
    assert not gradients_finite([p])
    p.grad = torch.tensor([float("inf"), 0.0, 0.0])
    assert not gradients_finite([p])


def test_non_finite_steps_are_skipped_and_too_many_stop_the_run():
    bad = ImageDataset(torch.full((16, 3, 16, 16), float("nan")))
    cfg = tiny(max_bad_steps=3)
    from stylegan_tutorial.training import prepare_run
    run0, _ = prepare_run(cfg, bad)
    d_before = [p.detach().clone() for p in run0.D.parameters()]
    with pytest.raises(TrainingDiverged, match="3 steps in a row had non-finite gradients"):
        train(cfg, bad, progress=False)
    # D never stepped on NaN gradients: run the same with a callback-free loop and check weights
    run = train(tiny(max_bad_steps=100, total_kimg=0.016), bad, progress=False)
    assert run.skipped_steps == 2 and run.bad_in_row == 2
    for p0, p in zip(d_before, run.D.parameters()):
        assert torch.equal(p0, p)


def test_lazy_r1_applies_every_k_steps():
    seen = []
    train(tiny(total_kimg=0.032, r1_interval=2), images(), progress=False,
          callbacks=[lambda r, t: seen.append("r1" in t)])
    assert seen == [True, False, True, False]


def test_wgan_gp_option_trains():
    seen = []
    run = train(tiny(total_kimg=0.016, loss="wgan-gp"), images(), progress=False,
                callbacks=[lambda r, t: seen.append(t)])
    assert all("gp" in t and "r1" not in t and np.isfinite(t["gp"]) for t in seen)
    assert run.skipped_steps == 0


def test_run_directory_gets_samples_plot_and_log(tmp_path):
    out = tmp_path / "run"
    train(tiny(total_kimg=0.04, tick_kimg=0.016, snapshot_kimg=0.016, grid_size=4), images(),
          out, progress=False)
    samples = sorted(p.name for p in (out / "samples").iterdir())
    assert samples == ["fakes-000000016.png", "fakes-000000032.png", "fakes-000000040.png"]
    from PIL import Image
    grid = np.asarray(Image.open(out / "samples" / samples[-1]))
    # 4 samples at 8² (fading) upsampled x8 to 64², 2 per row, 1-pixel padding
    assert grid.shape == (2 * 65 + 1, 2 * 65 + 1, 3)
    assert (out / "losses.png").stat().st_size > 0
    assert len((out / "log.jsonl").read_text().splitlines()) == 3
    names = sorted(p.name for p in out.glob("checkpoint-*"))
    assert names == ["checkpoint-000000016.safetensors", "checkpoint-000000032.safetensors",
                     "checkpoint-000000040.safetensors"]


@pytest.mark.parametrize("fields, match", [
    ({"total_kimg": -1}, "total_kimg"), ({"loss": "hinge"}, "loss"), ({"r1_interval": 0}, "r1_interval"),
    ({"ema_kimg": 0}, "ema_kimg"), ({"seed": -2}, "seed"), ({"phase_kimg": 0}, "phase_kimg"),
])
def test_bad_training_config(fields, match):
    with pytest.raises(ValueError, match=match):
        tiny(**fields)


def test_unknown_field_and_config_round_trip():
    with pytest.raises(ValueError, match="unknown TrainingConfig field"):
        training_config("cpu-tiny", learning_rate=3)
    cfg = tiny(r1_gamma=5.0)
    back = TrainingConfig.from_dict(cfg.to_dict())
    assert back == cfg and back.batch_sizes == {4: 8, 8: 8, 16: 4}


def test_data_below_the_networks_resolution_is_refused():
    with pytest.raises(ValueError, match="below the network's resolution 16"):
        train(tiny(), images(res=8), progress=False)
