"""Seeds, samples, truncation, style mixing, and the train/generate/mix commands."""

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan_tutorial import checkpoint as ckpt
from stylegan_tutorial import cli
from stylegan_tutorial.commands._options import parse_seeds
from stylegan_tutorial.configs import get_config
from stylegan_tutorial.generate import (
    batch_sizes,
    images_from_seeds,
    sample_images,
    style_mixing_figure,
    style_mixing_grid,
    z_from_seeds,
)
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.lod import parse_style_layers
from stylegan_tutorial.shipped import load_generator

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEGAN_TUTORIAL_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished two-step cpu-tiny run (the full 32² network, trained at 4²)."""
    out = tmp_path_factory.mktemp("run") / "tiny"
    cache = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("STYLEGAN_TUTORIAL_CACHE", str(cache))
    try:
        code = cli.main(["train", "--config", "cpu-tiny", "--data", "faces:n=64", "--kimg", "0.064",
                         "--out", str(out), "--tick-kimg", "0.032", "--no-progress"])
    finally:
        mp.undo()
    assert code == 0
    return out


def test_parse_seeds():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    assert parse_seeds(" 5 ") == [5]
    for bad in ("", "a", "3-1", "-2", "1,,x"):
        with pytest.raises(ValueError, match="seeds"):
            parse_seeds(bad)


def test_z_from_seeds_depends_on_the_seed_only():
    a = z_from_seeds([3, 9], 16)
    b = z_from_seeds([9], 16)
    assert a.shape == (2, 16) and torch.equal(a[1], b[0]) and not torch.equal(a[0], a[1])


def small_generator():
    torch.manual_seed(0)
    G = Generator(get_config("cpu-tiny", resolution=16)).eval()
    G.w_avg.normal_()
    return G


def test_psi_zero_collapses_every_seed_onto_w_avg():
    G = small_generator()
    img = images_from_seeds(G, [1, 2, 3], psi=0.0)  # all layers truncated, fixed noise
    assert img.shape == (3, 3, 16, 16)
    torch.testing.assert_close(img[0], img[1])
    torch.testing.assert_close(img[0], img[2])
    assert not torch.allclose(images_from_seeds(G, [1, 2], psi=1.0)[0], images_from_seeds(G, [2], psi=1.0)[0])


def test_sample_images_is_repeatable_and_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    G = Generator(get_config("cpu-tiny")).eval()
    torch.manual_seed(7)
    expected_next = torch.rand(1)
    torch.manual_seed(7)
    first = sample_images(G, 4, seed=3)
    assert torch.equal(torch.rand(1), expected_next)
    assert torch.equal(sample_images(G, 4, seed=3), first)
    assert first.shape == (4, 3, 32, 32)


def test_batch_sizes_cover_every_item():
    assert batch_sizes(5, 2) == [2, 2, 1] and batch_sizes(4, 64) == [4]
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        batch_sizes(0, 2)


def test_style_mixing_cells_by_construction():
    G = small_generator()  # 6 layers at 16²
    rows, cols = [1, 2], [5, 6, 7]
    a = images_from_seeds(G, cols)  # sources A
    b = images_from_seeds(G, rows)  # sources B
    every = style_mixing_grid(G, rows, cols, range(0, 6))  # all styles from B: the B image
    assert every.shape == (2, 3, 3, 16, 16)
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(every[i, j], b[i], atol=1e-4, rtol=1e-4)  # batch sizes differ
    mixed = style_mixing_grid(G, rows, cols, parse_style_layers("coarse", 16))  # layers 0-1 from B
    assert not torch.allclose(mixed[0, 0], a[0]) and not torch.allclose(mixed[0, 0], b[0])


def test_style_layers():
    assert parse_style_layers("coarse", 256) == range(0, 4)  # 14 layers
    assert parse_style_layers("middle", 256) == range(4, 8)
    assert parse_style_layers("fine", 256) == range(8, 14)
    assert parse_style_layers("2-5", 256) == range(2, 6)
    # one definition with the mixing table: a small generator shrinks the middle, so every
    # named range selects layers (at 16², 6 layers: fine is 16², layers 4-5)
    assert parse_style_layers("fine", 16) == range(4, 6)
    with pytest.raises(ValueError, match="within layers 0-5"):
        parse_style_layers("3-9", 16)
    with pytest.raises(ValueError, match="coarse, middle, fine"):
        parse_style_layers("loud", 16)


def test_figure_layout():
    G = small_generator()
    grid = style_mixing_figure(G, [1, 2], [3, 4, 5], styles=("coarse", "middle"))
    # (1 + 2 rows per style block x 2 blocks) rows, (1 + 3) columns of 16² tiles, 1-pixel padding
    assert grid.shape == (5 * 17 + 1, 4 * 17 + 1, 3)


def test_train_command_writes_a_run(run_dir):
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == ["checkpoint-000000064.safetensors", "config.json", "log.jsonl", "losses.png", "samples"]
    G = load_generator(run_dir)
    assert G.config.name == "cpu-tiny" and G.trained_kimg == 0.064


def test_generate_command_grid_and_files(run_dir, tmp_path):
    out = tmp_path / "grid.png"
    assert cli.main(["generate", "--checkpoint", str(run_dir), "--seeds", "0-5", "--psi", "0.7",
                     "--out", str(out)]) == 0
    assert np.asarray(Image.open(out)).shape == (2 * 33 + 1, 3 * 33 + 1, 3)  # 6 of 32², 3 per row
    assert cli.main(["generate", "--checkpoint", str(run_dir), "--seeds", "4,9", "--files",
                     "--out", str(tmp_path / "many")]) == 0
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == ["seed0004.png", "seed0009.png"]


def test_mix_command(run_dir, tmp_path):
    out = tmp_path / "mix.png"
    assert cli.main(["mix", "--checkpoint", str(run_dir), "--rows", "1,2", "--cols", "3-5",
                     "--styles", "coarse", "6-7", "--out", str(out)]) == 0
    assert np.asarray(Image.open(out)).shape == (5 * 33 + 1, 4 * 33 + 1, 3)
    # by default coarse, middle and fine: at 32² layers 0-3, 4-5 and 6-7
    assert cli.main(["mix", "--checkpoint", str(run_dir), "--rows", "1", "--cols", "3",
                     "--out", str(out)]) == 0
    assert np.asarray(Image.open(out)).shape == (4 * 33 + 1, 2 * 33 + 1, 3)


@pytest.mark.parametrize("args, message", [
    (["generate", "--seeds", "x"], "seeds must look like"),
    (["generate", "--psi", "nan"], "psi must be a finite number"),
    (["mix", "--styles", "20-30"], "within layers 0-7"),
])
def test_generate_bad_arguments_write_nothing(run_dir, tmp_path, capsys, args, message):
    out = tmp_path / "out" / "x.png"
    code = cli.main([*args, "--checkpoint", str(run_dir), "--out", str(out)])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_generate_refuses_a_missing_checkpoint(tmp_path, capsys):
    code = cli.main(["generate", "--checkpoint", str(tmp_path / "none"), "--out", str(tmp_path / "g.png")])
    assert code == 2 and "no such checkpoint" in capsys.readouterr().err


def prepared(tmp_path, res):
    path = tmp_path / f"data{res}.npy"
    np.save(path, np.zeros((4, res, res, 3), np.uint8))
    return str(path)


@pytest.mark.parametrize("args, message", [
    (["--config", "nope"], "unknown config name 'nope'"),
    (["--data", "/no/such/data.npy"], "no such file"),
    (["--data", "PREPARED16"], "above the prepared data's 16"),
    (["--kimg", "-1"], "--kimg must be a number >= 0"),
    (["--resume", "/no/such/checkpoint.safetensors"], "no such checkpoint"),
])
def test_train_bad_arguments_write_nothing(tmp_path, capsys, args, message):
    args = [prepared(tmp_path, 16) if a == "PREPARED16" else a for a in args]
    out = tmp_path / "run"
    code = cli.main(["train", "--out", str(out), "--no-progress", *args])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_train_resume_auto_continues(run_dir, tmp_path, capsys):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(run_dir, out)
    code = cli.main(["train", "--out", str(out), "--resume", "auto", "--kimg", "0.096",
                     "--data", "faces:n=64", "--no-progress"])
    assert code == 0 and "finished at 0.10 kimg" in capsys.readouterr().out
    assert (out / "checkpoint-000000096.safetensors").exists()


def test_resume_auto_keeps_the_runs_own_options(tmp_path, capsys):
    out = str(tmp_path / "run")
    common = ["train", "--out", out, "--data", "faces:n=64", "--no-progress"]
    assert cli.main([*common, "--kimg", "0.032", "--seed", "3", "--r1-gamma", "5", "--no-mirror",
                     "--ema-kimg", "0.5"]) == 0
    assert cli.main([*common, "--kimg", "0.064", "--resume", "auto"]) == 0  # seed 3, gamma 5 kept
    assert cli.main([*common, "--kimg", "0.096", "--resume", "auto", "--seed", "4"]) == 2
    err = capsys.readouterr().err
    assert "seed: checkpoint has 3, this run has 4" in err and "--force" in err
    assert load_generator(out).trained_kimg == 0.064
    _, meta = ckpt.load_checkpoint(ckpt.latest_checkpoint(out))
    assert (meta["config"]["seed"], meta["config"]["r1_gamma"], meta["config"]["ema_kimg"],
            meta["config"]["mirror"]) == (3, 5.0, 0.5, False)
