"""Weights that ship inside the package: hash check, provenance, export, loading, and quality."""

import json
import shutil

import pytest
import torch

from stylegan_tutorial import checkpoint as ckpt
from stylegan_tutorial import cli
from stylegan_tutorial import shipped as S
from stylegan_tutorial.files import sha256_of
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.shipped import load_generator

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py

STEM = S.SHIPPED["faces64"].stem


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEGAN_TUTORIAL_CACHE", str(tmp_path / "cache"))


def copy_shipped(directory):
    """The shipped weights and manifest copied into ``directory``; returns the weights' path."""
    for suffix in (".safetensors", ".json"):
        shutil.copy(S.PRETRAINED_DIR / f"{STEM}{suffix}", directory / f"{STEM}{suffix}")
    return directory / f"{STEM}.safetensors"


def test_the_shipped_generator_loads_and_matches_its_manifest():
    G = S.load_pretrained("faces64")
    manifest = G.manifest
    assert manifest["sha256"] == sha256_of(S.PRETRAINED_DIR / manifest["file"])
    assert G.config.name == manifest["config"] == "colab-64" and G.config.resolution == 64
    assert G.trained_kimg == pytest.approx(manifest["kimg"]) and G.trained_kimg >= 600
    assert all(p.dtype == torch.float32 for p in G.parameters()) and not G.training
    x = G(torch.randn(2, G.z_dim), noise_mode="fixed")
    assert x.shape == (2, 3, 64, 64) and torch.isfinite(x).all()


def test_the_manifest_records_how_the_weights_were_made():
    manifest = S.load_manifest("faces64")
    assert all(" train " in c and "--config colab-64" in c for c in manifest["training_commands"])
    assert manifest["export_command"].startswith("python scripts/export_pretrained.py")
    assert "H100" in manifest["hardware"] and manifest["wall_time_seconds"]["total"] > 0
    assert manifest["final_log_lines"]
    assert manifest["bytes"] == (S.PRETRAINED_DIR / manifest["file"]).stat().st_size
    assert 0 <= manifest["float16_max_abs_error"] < 0.05


def test_a_damaged_weight_file_is_refused_with_both_hashes(tmp_path):
    weights = copy_shipped(tmp_path)
    expected = json.loads((tmp_path / f"{STEM}.json").read_text())["sha256"]
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit inside the tensors: still a valid safetensors file
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError) as info:
        S.load_pretrained("faces64", directory=tmp_path)
    message = str(info.value)
    assert "sha256 mismatch" in message and weights.name in message
    assert expected in message and sha256_of(weights) in message
    assert "nothing was loaded" in message


def test_missing_files_and_unknown_names_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no pretrained generator named 'faces32'.*faces64"):
        S.load_pretrained("faces32")
    with pytest.raises(ValueError, match="no pretrained generator named 'oracle-faces32'"):
        S.load_pretrained("oracle-faces32")  # it ships, but it is no generator
    with pytest.raises(FileNotFoundError, match="manifest"):
        S.load_pretrained("faces64", directory=tmp_path)
    shutil.copy(S.PRETRAINED_DIR / f"{STEM}.json", tmp_path / f"{STEM}.json")
    with pytest.raises(FileNotFoundError, match=f"{STEM}.safetensors"):
        S.load_pretrained("faces64", directory=tmp_path)


def test_generate_accepts_pretrained_names(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert cli.main(["generate", "--checkpoint", "pretrained:faces64", "--seeds", "0-3",
                     "--psi", "0.7", "--out", str(out)]) == 0
    assert out.is_file() and "655.6 kimg" in capsys.readouterr().out
    assert cli.main(["generate", "--checkpoint", "pretrained:nope", "--out", str(out)]) == 2
    assert "no pretrained generator named 'nope'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """The checkpoint of a two-step cpu-tiny run."""
    out = tmp_path_factory.mktemp("run")
    mp = pytest.MonkeyPatch()
    mp.setenv("STYLEGAN_TUTORIAL_CACHE", str(tmp_path_factory.mktemp("cache")))
    try:
        assert cli.main(["train", "--config", "cpu-tiny", "--data", "faces:n=64", "--kimg", "0.064",
                         "--out", str(out), "--no-progress"]) == 0
    finally:
        mp.undo()
    return ckpt.latest_checkpoint(out)


def test_export_keeps_g_ema_in_float16_and_round_trips(tiny_checkpoint, tmp_path):
    manifest = S.export_generator(tiny_checkpoint, tmp_path, "tiny", {"training_commands": ["x"]})
    tensors, meta = ckpt.load_checkpoint(tmp_path / "tiny.safetensors")
    assert tensors and all(k.startswith("G_ema.") for k in tensors)
    assert all(v.dtype == torch.float16 for v in tensors.values() if v.is_floating_point())
    assert manifest["sha256"] == sha256_of(tmp_path / "tiny.safetensors")
    assert manifest["training_commands"] == ["x"] and manifest["kimg"] == meta["nimg"] / 1000
    full, half = load_generator(tiny_checkpoint), load_generator(tmp_path / "tiny.safetensors")
    for (name, a), b in zip(full.state_dict().items(), half.state_dict().values()):
        assert torch.allclose(a, b.float(), rtol=1e-3, atol=1e-3), name  # float16 rounding only
    # An almost untrained generator is no test of the float16 error: its constant input gives
    # near-constant maps that instance norm blows up, rounding included. The shipped one's is
    # bounded in test_the_manifest_records_how_the_weights_were_made.
    assert manifest["float16_max_abs_error"] >= 0
    with pytest.raises(ValueError, match="holds no G tensors"):
        load_generator(tmp_path / "tiny.safetensors", which="G")


@pytest.mark.slow
def test_pretrained_distances_are_far_below_the_untrained_networks():
    # The same network, untrained, is the ceiling; both against the faces it was trained on.
    # benchmarks/pretrained.md (n = 2000): FD 18.1 vs 33.0, KID 0.36 vs 1.78, real vs real
    # FD 0.22. The oracle's features of an untrained network's colour blobs land nearer the
    # faces than the blobs look, so FD separates the two by less than KID does.
    from stylegan_tutorial.data.dataset import open_dataset
    from stylegan_tutorial.metrics import evaluate
    from stylegan_tutorial.oracle import load_oracle

    G = S.load_pretrained("faces64")
    torch.manual_seed(0)
    untrained = Generator(G.config).eval().requires_grad_(False)
    data = open_dataset("faces:n=2000", resolution=64)
    oracle = load_oracle()
    got = {name: evaluate(g, data, metrics=("fd", "kid"), n=500, oracle=oracle, progress=False)
           for name, g in (("pretrained", G), ("untrained", untrained))}
    assert got["pretrained"]["fd"] < got["untrained"]["fd"] / 1.5, got
    assert got["pretrained"]["kid"] < got["untrained"]["kid"] / 3, got


@pytest.mark.slow
def test_evaluate_command_on_a_pretrained_name_writes_json_here(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["evaluate", "--checkpoint", "pretrained:faces64", "--metrics", "fd,kid",
                     "--n", "64", "--data", "faces:n=200", "--no-progress"]) == 0
    record = json.loads((tmp_path / "metrics-faces64.json").read_text())
    assert record["kimg"] == pytest.approx(655.648) and record["metrics"]["fd"] > 0
    assert "generator-faces64.safetensors (655.648 kimg)" in capsys.readouterr().out


def test_an_exported_generator_cannot_be_resumed_and_says_why(tiny_checkpoint, tmp_path, capsys):
    S.export_generator(tiny_checkpoint, tmp_path, "tiny", {})
    code = cli.main(["train", "--resume", str(tmp_path / "tiny.safetensors"), "--out",
                     str(tmp_path / "run"), "--no-progress"])
    assert code == 2
    assert "holds a generator only" in capsys.readouterr().err
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_the_cpu_trained_generator_ships_verified_at_32():
    G = S.load_pretrained("faces32-cpu")
    manifest = S.load_manifest("faces32-cpu")
    assert manifest["config"] == "cpu-tiny" and manifest["kimg"] == 360.0
    assert manifest["training_commands"] and "cpu-tiny" in manifest["training_commands"][0]
    with torch.no_grad():
        img = G(torch.randn(2, G.z_dim))
    assert img.shape == (2, 3, 32, 32) and torch.isfinite(img).all()


def test_the_cpu_run_ships_its_training_figure_checked_against_the_manifest(tmp_path):
    path = S.training_figure("faces32-cpu")
    assert path.parent == S.PRETRAINED_DIR and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sha256_of(path) == S.load_manifest("faces32-cpu")["training_figure"]["sha256"]
    with pytest.raises(ValueError, match="'faces64' has no training figure.*these have: faces32-cpu"):
        S.training_figure("faces64")
    stem = S.SHIPPED["faces32-cpu"].stem
    shutil.copy(S.PRETRAINED_DIR / f"{stem}.json", tmp_path / f"{stem}.json")
    with pytest.raises(FileNotFoundError, match="training figure.*missing"):
        S.training_figure("faces32-cpu", directory=tmp_path)
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    (tmp_path / path.name).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256 mismatch"):
        S.training_figure("faces32-cpu", directory=tmp_path)
