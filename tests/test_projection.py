"""Projection into W and W+ (chapter 13): PSNR, the schedule, the noise regulariser, the projector,
reading a user's image and storing a latent."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan_tutorial.configs import get_config
from stylegan_tutorial.data.faces import make_faces
from stylegan_tutorial.generate import z_from_seeds
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.projection import (
    Projection,
    latent_bytes,
    latent_distance,
    learning_rate,
    load_latent,
    noise_maps,
    noise_regularization,
    normalize_noise_,
    project,
    project_known,
    psnr,
    read_image,
    render,
    stored_noise,
    w_noise_scale,
)
from stylegan_tutorial.shipped import load_pretrained

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    G = Generator(get_config("cpu-tiny", resolution=16)).eval()
    G.w_avg.copy_(G.mapping(torch.randn(256, G.z_dim)).mean(0).detach())
    return G


@pytest.fixture(scope="module")
def faces32():
    return load_pretrained("faces32-cpu")


# --------------------------------------------------------------------------------------------
# PSNR and the schedule


def test_psnr_against_a_hand_computation():
    a = torch.zeros(3, 2, 2)
    b = a.clone()
    b[1, 0, 1] = 0.5  # one of 12 values off by 0.5: MSE = 0.25 / 12
    assert float(psnr(a, b)) == pytest.approx(10 * math.log10(4 / (0.25 / 12)))  # 22.83 dB
    assert float(psnr(a, b)) == pytest.approx(22.8330, abs=1e-4)
    # As uint8: 0 -> 127.5, 0.5 -> 191.25, peak 255: the same number.
    assert float(psnr(a, b)) == pytest.approx(10 * math.log10(255 ** 2 / (63.75 ** 2 / 12)))
    assert math.isinf(float(psnr(a, a)))
    c = b.clone()
    c[1, 0, 1] = 7.0  # clamped to 1 as a PNG would: MSE = 1 / 12
    assert float(psnr(a, c)) == pytest.approx(10 * math.log10(48))
    both = psnr(torch.stack([a, a]), torch.stack([b, c]))
    assert both.shape == (2,) and both[0] > both[1]
    with pytest.raises(ValueError, match="one shape"):
        psnr(a, torch.zeros(3, 4, 4))


def test_the_learning_rate_ramp_and_the_noise_on_w():
    assert learning_rate(0.0, 0.1) == 0.0
    assert learning_rate(0.025, 0.1) == pytest.approx(0.05)  # half-way up the 5 % warm-up
    assert learning_rate(0.05, 0.1) == pytest.approx(0.1)
    assert learning_rate(0.5, 0.1) == pytest.approx(0.1)
    assert learning_rate(0.875, 0.1) == pytest.approx(0.05)  # half-way down the cosine
    assert learning_rate(1.0, 0.1) == pytest.approx(0.0)
    assert w_noise_scale(0.0, 7.0, 0.05) == pytest.approx(0.35)
    assert w_noise_scale(0.375, 7.0, 0.05) == pytest.approx(0.35 * 0.25)
    assert w_noise_scale(0.75, 7.0, 0.05) == 0.0 and w_noise_scale(0.9, 7.0, 0.05) == 0.0


# --------------------------------------------------------------------------------------------
# Noise maps


def _smooth(res: int) -> torch.Tensor:
    y, x = torch.meshgrid(torch.linspace(0, 2 * math.pi, res), torch.linspace(0, 2 * math.pi, res),
                          indexing="ij")
    return (x.sin() + y.cos()).view(1, 1, res, res)


def test_noise_regularization_ignores_white_noise_and_punishes_smooth_maps():
    g = torch.Generator().manual_seed(0)
    white, smooth = [torch.randn(1, 1, 64, 64, generator=g)], [_smooth(64)]
    normalize_noise_(white), normalize_noise_(smooth)
    # White noise: each term squares a mean of r² independent products, about 1/r² (+ smaller scales).
    assert float(noise_regularization(white)) < 2 * 2 / 64 ** 2
    # A smooth map correlates almost perfectly with its shifted self: nearly 1 per term, two terms at
    # each of the scales 64², 32², 16², 8².
    assert float(noise_regularization(smooth)) > 0.75 * 8  # measured 7.06
    # The generator's small maps: white noise costs about 2/r² per map, still far below smooth maps.
    sizes = (4, 4, 8, 8, 16, 16)
    white = [torch.randn(1, 1, r, r, generator=g) for r in sizes]
    smooth = [_smooth(r) for r in sizes]
    normalize_noise_(white), normalize_noise_(smooth)
    assert float(noise_regularization(white)) < 3 * sum(2 / r ** 2 for r in sizes)
    assert float(noise_regularization(smooth)) > 10 * float(noise_regularization(white))


def test_normalize_noise_gives_zero_mean_and_unit_variance():
    maps = [torch.rand(1, 1, 8, 8) * 5 + 3, torch.rand(1, 1, 4, 4)]
    normalize_noise_(maps)
    for m in maps:
        assert abs(float(m.mean())) < 1e-5 and float(m.square().mean()) == pytest.approx(1.0, abs=1e-5)


def test_noise_maps_swaps_the_stored_noise_and_puts_it_back(tiny):
    w = tiny.w_avg[None]
    stored = stored_noise(tiny)
    before = tiny.synthesis(w, noise_mode="fixed")
    zeros = [torch.zeros_like(m) for m in stored]
    with noise_maps(tiny, zeros):
        assert torch.allclose(tiny.synthesis(w, noise_mode="fixed"), tiny.synthesis(w, noise_mode="none"))
    with pytest.raises(RuntimeError), noise_maps(tiny, zeros):
        raise RuntimeError("inside")
    assert all(torch.equal(a, b) for a, b in zip(stored, stored_noise(tiny)))
    assert torch.equal(tiny.synthesis(w, noise_mode="fixed"), before)
    with pytest.raises(ValueError, match="noise maps"), noise_maps(tiny, zeros[:-1]):
        pass


# --------------------------------------------------------------------------------------------
# The projector


def test_project_returns_the_latent_noise_reconstruction_and_history(tiny):
    target = tiny.synthesis(tiny.mapping(torch.randn(1, tiny.z_dim)), noise_mode="fixed")[0].detach()
    target.requires_grad_(True)  # a target that carries a graph must not be optimised or need one
    params = {k: v.clone() for k, v in tiny.state_dict().items()}
    for space, shape in (("w", (tiny.w_dim,)), ("w+", (tiny.num_layers, tiny.w_dim))):
        found = project(tiny, target, space, steps=5, feature_weight=0.0, progress=False)
        assert isinstance(found, Projection) and found.space == space
        assert found.latent.shape == shape and not found.latent.requires_grad
        assert found.reconstruction.shape == target.shape
        assert [m.shape for m in found.noise] == [m.shape for m in stored_noise(tiny)]
        assert all(len(v) == 5 for v in found.history.values())
        assert torch.allclose(render(tiny, found.ws, found.noise)[0], found.reconstruction)
    assert target.grad is None
    assert all(torch.equal(v, params[k]) for k, v in tiny.state_dict().items()), "G was changed"
    assert all(p.requires_grad for p in tiny.parameters()), "G's gradient flags were not restored"


def test_project_refuses_bad_arguments(tiny):
    target = torch.zeros(3, 16, 16)
    for kwargs, match in (({"space": "z"}, "space"), ({"noise": "random"}, "noise"),
                          ({"steps": 0}, "steps")):
        with pytest.raises(ValueError, match=match):
            project(tiny, target, **{"progress": False, "feature_weight": 0.0, **kwargs})
    with pytest.raises(ValueError, match=r"\[3, 16, 16\]"):
        project(tiny, torch.zeros(3, 32, 32), progress=False)


def test_optimised_noise_stays_normalised_and_is_used(tiny):
    target = torch.zeros(3, 16, 16)
    found = project(tiny, target, steps=4, noise="optimize", feature_weight=0.0, progress=False)
    for m in found.noise:
        assert abs(float(m.mean())) < 1e-4 and float(m.square().mean()) == pytest.approx(1.0, abs=1e-4)
    assert any(not torch.equal(m, s) for m, s in zip(found.noise, stored_noise(tiny)))
    assert found.history["noise_reg"][0] > 0
    none = project(tiny, target, steps=2, noise="none", feature_weight=0.0, progress=False)
    assert all(float(m.abs().max()) == 0 for m in none.noise)


def test_without_the_regulariser_optimised_noise_takes_on_structure(faces32):
    # A dataset face, 80 steps, pixels only: measured R = 0.0000 with the regulariser, 4.14 without
    # (the maps turn smooth, taking part of the image); on faces64 (200 steps) the image drawn with
    # the stored noise instead then fell from 30.9 to 19.8 dB: the noise had absorbed the image.
    x = make_faces(1, 32, seed=7)[0][0]
    kept = project(faces32, x, steps=80, noise="optimize", feature_weight=0.0, progress=False)
    free = project(faces32, x, steps=80, noise="optimize", noise_reg_weight=0.0, feature_weight=0.0,
                   progress=False)
    assert float(noise_regularization(kept.noise)) < 0.01
    assert float(noise_regularization(free.noise)) > 1.0


def test_latent_distance_averages_the_layers_of_w_plus():
    true = torch.zeros(4)
    assert latent_distance(torch.tensor([3.0, 4.0, 0.0, 0.0]), true) == pytest.approx(5.0)
    plus = torch.tensor([[3.0, 4.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    assert latent_distance(plus, true) == pytest.approx(3.0)


def test_projecting_an_image_of_known_w_improves_psnr_and_approaches_the_true_w(faces32):
    # faces32-cpu, 80 steps: measured 30.6 dB from a 14.9 dB start, ||w - w_true|| 3.40 from 4.13
    # (W has directions the image hardly depends on, so w approaches the truth slowly). The margins
    # (+8 dB, 25 dB, closer by 10 %) leave room for other machines' arithmetic.
    (row,) = project_known(faces32, [90210], "w", steps=80)
    assert row["psnr"] > row["psnr_start"] + 8.0 and row["psnr"] > 25.0
    assert row["w_distance"] < 0.9 * row["w_distance_start"]
    assert set(row["factors_target"]) == set(row["factors_reconstruction"])


# --------------------------------------------------------------------------------------------
# A user's image, and a stored latent


def test_read_image_converts_every_mode_as_prepare_data_does(tmp_path):
    grey = np.full((20, 20), 128, np.uint8)
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    t = read_image(tmp_path / "grey.png", 16)
    assert t.image.shape == (3, 16, 16)
    assert torch.allclose(t.image, torch.full((3, 16, 16), 128 / 127.5 - 1), atol=1e-6)
    rgba = np.zeros((16, 16, 4), np.uint8)  # fully transparent: laid over white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    assert torch.allclose(read_image(tmp_path / "clear.png", 16).image, torch.ones(3, 16, 16))
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).convert("P").save(tmp_path / "pal.png")
    assert read_image(tmp_path / "pal.png", 16).image.shape == (3, 16, 16)
    deep = Image.fromarray(np.full((16, 16), 65535, np.uint16))  # 16-bit greyscale
    assert deep.mode.startswith("I;16")
    deep.save(tmp_path / "deep.png")
    assert torch.allclose(read_image(tmp_path / "deep.png", 16).image, torch.ones(3, 16, 16))
    assert read_image(tmp_path / "deep.png", 16).note == ""


def test_read_image_says_when_it_crops_and_refuses_what_is_no_image(tmp_path):
    wide = np.zeros((32, 96, 3), np.uint8)
    wide[:, 32:64] = 255  # the centre square is white, the sides black
    Image.fromarray(wide).save(tmp_path / "wide.png")
    t = read_image(tmp_path / "wide.png", 16)
    assert "96x32" in t.note and "centre" in t.note and t.size == (96, 32)
    assert torch.allclose(t.image, torch.ones(3, 16, 16), atol=0.02)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="not an image"):
        read_image(tmp_path / "notes.png", 16)
    with pytest.raises(FileNotFoundError, match="no such image"):
        read_image(tmp_path / "missing.png", 16)


def test_a_latent_file_round_trips_and_refuses_another_configuration(tiny, faces32, tmp_path):
    w = tiny.mapping(z_from_seeds([3], tiny.z_dim))[0].detach()
    noise = stored_noise(tiny)
    path = tmp_path / "latent.safetensors"
    path.write_bytes(latent_bytes(tiny, w, "w", noise, {"image": "x.png"}))
    latent, maps, meta = load_latent(path, tiny)
    assert torch.equal(latent, w) and all(torch.equal(a, b) for a, b in zip(maps, noise))
    assert meta["space"] == "w" and meta["image"] == "x.png" and meta["config"]["resolution"] == 16
    with pytest.raises(ValueError, match="configuration 'cpu-tiny'.*'cpu-tiny'.*resolution"):
        load_latent(path, faces32)  # cpu-tiny at 32², not at 16²
    path.write_bytes(latent_bytes(tiny, w, "w+", noise, {}))  # a w called w+
    with pytest.raises(ValueError, match="damaged"):
        load_latent(path, tiny)
    (tmp_path / "other.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(ValueError, match="not a latent file"):
        load_latent(tmp_path / "other.safetensors", tiny)
    with pytest.raises(FileNotFoundError):
        load_latent(tmp_path / "gone.safetensors", tiny)


@pytest.mark.slow
def test_the_benchmark_runs_with_a_few_steps(tmp_path):
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_projection.py"
    out = subprocess.run([sys.executable, str(bench), "--budgets", "2,4", "--json", str(tmp_path / "b.json")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "| 4 |" in out.stdout and "plateau" in out.stdout
    report = json.loads((tmp_path / "b.json").read_text())
    (row,) = report["targets"].values()
    assert [r["steps"] for r in row["budgets"]] == [2, 4]
    assert row["plateau_psnr"] == row["budgets"][-1]["psnr"] and row["within_1db"]["steps"] in (2, 4)
