"""The ``project`` and ``edit`` commands (chapter 13): their files read back independently, and bad
input refused with one line, exit code 2 and nothing written."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan_tutorial import cli
from stylegan_tutorial.generate import images_from_seeds
from stylegan_tutorial.images import to_uint8
from stylegan_tutorial.oracle import load_oracle
from stylegan_tutorial.projection import load_latent, render
from stylegan_tutorial.shipped import load_pretrained

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py

SMALL = "pretrained:faces32-cpu"  # 32²: the fast generator for the command tests


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def png_psnr(a_path, b_path) -> float:
    """PSNR of two PNG files in dB, from their uint8 pixels alone (peak 255)."""
    a = np.asarray(Image.open(a_path).convert("RGB"), dtype=np.float64)
    b = np.asarray(Image.open(b_path).convert("RGB"), dtype=np.float64)
    return 10 * math.log10(255 ** 2 / np.mean((a - b) ** 2))


@pytest.fixture(autouse=True)
def directions_cache(tmp_path, monkeypatch):
    """Each test its own empty cache: ``edit`` keeps its measured directions there."""
    monkeypatch.setenv("STYLEGAN_TUTORIAL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "directions"


@pytest.fixture(scope="module")
def small_face(tmp_path_factory):
    """A PNG of a face that faces32-cpu made (seed 31337, the stored noise)."""
    path = tmp_path_factory.mktemp("faces") / "face.png"
    G = load_pretrained("faces32-cpu")
    Image.fromarray(to_uint8(images_from_seeds(G, [31337]))[0]).save(path)
    return path


@pytest.fixture(scope="module")
def projected(small_face, tmp_path_factory):
    """``project`` run once on that face: the output folder and the printed summary."""
    out = tmp_path_factory.mktemp("proj") / "out"
    code = cli.main(["project", str(small_face), "--checkpoint", SMALL, "--out", str(out), "--steps", "60",
                     "--no-progress"])
    assert code == 0
    return out


def test_project_writes_four_files_whose_psnr_reads_back(projected, small_face):
    assert sorted(p.name for p in projected.iterdir()) == [
        "latent.safetensors", "reconstruction.png", "report.json", "target.png"]
    report = json.loads((projected / "report.json").read_text())
    # The target is the image itself: already square, already at the generator's resolution.
    target = np.asarray(Image.open(projected / "target.png"))
    assert np.array_equal(target, np.asarray(Image.open(small_face)))
    measured = png_psnr(projected / "target.png", projected / "reconstruction.png")
    assert report["psnr"] == pytest.approx(measured, abs=0.01)
    # 60 steps on faces32-cpu's own image: measured 29.5 dB.
    assert measured > 25.0
    assert report["steps"] == 60 and report["space"] == "w" and report["seconds"] > 0
    assert set(report["factors"]["target"]) == set(report["factors"]["reconstruction"])
    assert report["factors"]["target"]["glasses"] in ("on", "off")


def test_the_latent_file_redraws_the_reconstruction(projected):
    G = load_pretrained("faces32-cpu")
    latent, noise, meta = load_latent(projected / "latent.safetensors", G)
    assert latent.shape == (G.w_dim,) and meta["space"] == "w" and meta["checkpoint"] == SMALL
    again = to_uint8(render(G, latent[None], noise))[0]
    saved = np.asarray(Image.open(projected / "reconstruction.png"))
    assert np.abs(again.astype(int) - saved.astype(int)).max() <= 1


def test_project_in_w_plus(small_face, tmp_path, capsys):
    code, out, err = run_cli(capsys, "project", small_face, "--checkpoint", SMALL, "--out", tmp_path / "p",
                             "--space", "w+", "--steps", "3", "--no-progress")
    assert code == 0, err
    G = load_pretrained("faces32-cpu")
    latent, _, meta = load_latent(tmp_path / "p" / "latent.safetensors", G)
    assert latent.shape == (G.num_layers, G.w_dim) and meta["space"] == "w+"
    assert "PSNR" in out and len(out.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "edit", "--checkpoint", SMALL, "--latent",
                           tmp_path / "p" / "latent.safetensors", "--factor", "skin_tone", "--amount", "2",
                           "--out", tmp_path / "e", "--n", "100", "--no-progress")
    assert code == 0, err
    assert json.loads((tmp_path / "e" / "edit.json").read_text())["space"] == "w+"


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16"])
def test_project_converts_every_image_mode(mode, small_face, tmp_path, capsys):
    rgb = Image.open(small_face).convert("RGB")
    if mode == "I;16":
        img = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    else:
        img = rgb.convert(mode)
    img.save(tmp_path / "in.png")
    code, _, err = run_cli(capsys, "project", tmp_path / "in.png", "--checkpoint", SMALL,
                           "--out", tmp_path / "o", "--steps", "2", "--no-progress")
    assert code == 0, err
    target = Image.open(tmp_path / "o" / "target.png")
    assert target.mode == "RGB" and target.size == (32, 32)


def test_project_crops_an_image_far_from_square_and_says_so(small_face, tmp_path, capsys):
    face = np.asarray(Image.open(small_face).convert("RGB"))
    wide = np.concatenate([np.zeros((32, 40, 3), np.uint8), face, np.zeros((32, 40, 3), np.uint8)], axis=1)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    code, _, err = run_cli(capsys, "project", tmp_path / "wide.png", "--checkpoint", SMALL,
                           "--out", tmp_path / "o", "--steps", "2", "--no-progress")
    assert code == 0
    assert "warning" in err and "112x32" in err and "centre" in err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o" / "target.png")), face)  # the centre square
    assert "centre" in json.loads((tmp_path / "o" / "report.json").read_text())["note"]


def _refused(capsys, out_dir, *argv) -> str:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not out_dir.exists(), f"{out_dir} was written on failure"
    return err


def test_project_refuses_bad_input_with_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    (tmp_path / "notes.png").write_text("these are notes, not pixels")
    err = _refused(capsys, out, "project", tmp_path / "notes.png", "--checkpoint", SMALL, "--out", out)
    assert "notes.png is not an image" in err
    err = _refused(capsys, out, "project", tmp_path / "missing.png", "--checkpoint", SMALL, "--out", out)
    assert "no such image file" in err and "missing.png" in err
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    err = _refused(capsys, out, "project", tmp_path / "ok.png", "--checkpoint", SMALL, "--out", out,
                   "--steps", "0")
    assert "--steps" in err


def test_edit_writes_before_after_and_the_oracle_readings(tmp_path, capsys):
    out = tmp_path / "e"
    code, printed, err = run_cli(capsys, "edit", "--checkpoint", SMALL, "--seed", "5",
                                 "--factor", "skin_tone", "--amount", "3", "--out", out, "--n", "200",
                                 "--no-progress")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["after.png", "before.png", "edit.json"]
    record = json.loads((out / "edit.json").read_text())
    assert record["factor"] == "skin_tone" and record["amount"] == 3.0 and record["face"] == {"seed": 5}
    before, after = (np.asarray(Image.open(out / f"{n}.png")) for n in ("before", "after"))
    alone = to_uint8(images_from_seeds(load_pretrained("faces32-cpu"), [5]))[0]
    assert np.abs(before.astype(int) - alone.astype(int)).max() <= 1  # the seed's face (batch rounding)
    assert not np.array_equal(before, after)
    # The oracle, reading the files again, sees what the JSON says (to the PNG's rounding).
    oracle = load_oracle()
    pixels = torch.tensor(np.stack([before, after])).permute(0, 3, 1, 2).float() / 127.5 - 1
    read = oracle.predict(pixels)["skin_tone"]
    assert float(read[0]) == pytest.approx(record["factors"]["before"]["skin_tone"], abs=0.02)
    assert float(read[1]) == pytest.approx(record["factors"]["after"]["skin_tone"], abs=0.02)
    # skin_tone: on faces32-cpu every one of 48 faces darkened under +2 units (measured)
    assert record["factors"]["after"]["skin_tone"] > record["factors"]["before"]["skin_tone"]
    assert "skin_tone" in printed


def test_a_second_edit_reads_the_directions_from_the_cache(directions_cache, tmp_path, capsys):
    args = ["edit", "--checkpoint", SMALL, "--seed", "5", "--factor", "mouth_curve", "--amount", "2",
            "--n", "150", "--no-progress"]
    code, first, err = run_cli(capsys, *args, "--out", tmp_path / "a")
    assert code == 0, err
    assert "directions measured on 150 faces" in first
    assert [p.suffix for p in directions_cache.iterdir()] == [".safetensors"]
    code, second, err = run_cli(capsys, *args, "--out", tmp_path / "b")
    assert code == 0, err
    assert "read from the cache of 150 faces" in second and str(directions_cache) in second
    for name in ("after.png", "edit.json"):  # the cached directions make the very same edit
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    code, third, err = run_cli(capsys, *args, "--out", tmp_path / "c", "--no-cache")
    assert code == 0 and "directions measured on 150 faces" in third


def test_edit_takes_a_projected_latent(projected, tmp_path, capsys):
    code, _, err = run_cli(capsys, "edit", "--checkpoint", SMALL, "--latent",
                           projected / "latent.safetensors", "--factor", "glasses", "--amount", "2",
                           "--out", tmp_path / "e", "--n", "200", "--no-progress")
    assert code == 0, err
    before = np.asarray(Image.open(tmp_path / "e" / "before.png"))
    reconstruction = np.asarray(Image.open(projected / "reconstruction.png"))
    assert np.abs(before.astype(int) - reconstruction.astype(int)).max() <= 1


def test_edit_refuses_bad_input_with_one_line(projected, tmp_path, capsys):
    out = tmp_path / "out"
    err = _refused(capsys, out, "edit", "--checkpoint", SMALL, "--seed", "1", "--factor", "smile",
                   "--amount", "1", "--out", out)
    assert "unknown factor 'smile'" in err and "mouth_curve" in err and "hair_style=long" in err
    err = _refused(capsys, out, "edit", "--checkpoint", "pretrained:faces64", "--latent",
                   projected / "latent.safetensors", "--factor", "glasses", "--amount", "1", "--out", out)
    assert "latent.safetensors" in err and "configuration" in err and "project the image again" in err
    err = _refused(capsys, out, "edit", "--checkpoint", SMALL, "--latent", tmp_path / "gone.safetensors",
                   "--factor", "glasses", "--amount", "1", "--out", out)
    assert "no such latent file" in err
    (tmp_path / "fake.safetensors").write_text("not a latent")
    err = _refused(capsys, out, "edit", "--checkpoint", SMALL, "--latent", tmp_path / "fake.safetensors",
                   "--factor", "glasses", "--amount", "1", "--out", out)
    assert "not a latent file" in err
    err = _refused(capsys, out, "edit", "--checkpoint", SMALL, "--seed", "1", "--factor", "glasses",
                   "--amount", "nan", "--out", out)
    assert "--amount" in err


def test_edit_warns_when_the_latent_was_projected_with_other_weights(projected, tmp_path, capsys):
    # The same configuration with one weight changed, written as a checkpoint file of its own.
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from stylegan_tutorial.shipped import verified_path

    source = verified_path("faces32-cpu")
    with safe_open(str(source), "pt") as f:
        metadata = f.metadata()
    tensors = load_file(str(source))
    name = next(k for k in sorted(tensors) if k.endswith("weight"))
    tensors[name] = tensors[name] * 1.01
    other = tmp_path / "other.safetensors"
    save_file(tensors, str(other), metadata=metadata)

    args = ["--latent", projected / "latent.safetensors", "--factor", "glasses", "--amount", "1",
            "--n", "40", "--no-progress"]
    code, _, err = run_cli(capsys, "edit", "--checkpoint", other, "--out", tmp_path / "a", *args)
    assert code == 0, err
    assert "was projected with other weights (pretrained:faces32-cpu)" in err
    code, _, err = run_cli(capsys, "edit", "--checkpoint", SMALL, "--out", tmp_path / "b", *args)
    assert code == 0 and "other weights" not in err
