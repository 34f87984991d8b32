"""The fault-injection audit as tests: nothing lost, nothing raw.

A run directory survives kills and crafted files; every command that writes checks its output
before the work and fails with one line (exit 1 for the machine, 2 for the user's mistake),
never a traceback, never a temporary file left behind. Read-only and full file systems are real
tmpfs mounts where this machine allows mounting (CI runs as root); otherwise those tests skip
and the injected-fault tests below still run.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan_tutorial import checkpoint as ckpt
from stylegan_tutorial import cli

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py

TRAIN = ["train", "--config", "cpu-tiny", "--data", "faces:n=64", "--no-progress"]


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEGAN_TUTORIAL_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished cpu-tiny run with three checkpoints (32, 64 and 96 images, all at 4²)."""
    out = tmp_path_factory.mktemp("audit") / "run"
    mp = pytest.MonkeyPatch()
    mp.setenv("STYLEGAN_TUTORIAL_CACHE", str(tmp_path_factory.mktemp("cache")))
    try:
        assert cli.main([*TRAIN, "--kimg", "0.096", "--snapshot-kimg", "0.032", "--tick-kimg", "0.032",
                         "--keep-last", "5", "--out", str(out)]) == 0
    finally:
        mp.undo()
    return out


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def no_temporary_files(folder: Path) -> bool:
    return not [p for p in Path(folder).rglob(".*.tmp")]


# --------------------------------------------------------------------------------------------
# Crafted files against every command that reads a checkpoint
# --------------------------------------------------------------------------------------------


class _RunsCode:
    """Unpickling this runs a shell command: a crafted 'checkpoint' must never be unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _safetensors_bytes(header: dict | bytes, body: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + body


def crafted_files(folder: Path, real: Path, marker: Path) -> dict[str, Path]:
    """Files named like checkpoints that are not usable ones, by what is wrong with them."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors, meta = ckpt.load_checkpoint(real)
    files = {}

    def put(name: str, data: bytes) -> None:
        path = folder / f"{name}.safetensors"
        path.write_bytes(data)
        files[name] = path

    put("pickle", pickle.dumps(_RunsCode(marker), protocol=2))
    torch.save({"w": torch.zeros(2)}, folder / "zip.safetensors")
    files["zip"] = folder / "zip.safetensors"
    put("empty", b"")
    put("truncated", real.read_bytes()[: len(real.read_bytes()) // 2])
    put("pickle-like-size", _safetensors_bytes(b"{" + b" " * 0x057F)[:600])  # size 0x0580, cut short
    put("bad-header", _safetensors_bytes(b"{not json at all"))
    put("non-json-meta", _safetensors_bytes({"__metadata__": {"stylegan_tutorial": "{oops"}}))
    put("meta-a-list", _safetensors_bytes({"__metadata__": {"stylegan_tutorial": "[1, 2]"}}))
    no_config = {"format": ckpt.FORMAT, "nimg": 5}
    put("meta-no-config", _safetensors_bytes({"__metadata__": {"stylegan_tutorial": json.dumps(no_config)}}))
    odd = {**meta, "config": {**meta["config"], "network": {**meta["config"]["network"], "wings": 2}}}
    put("meta-wrong-network", _safetensors_bytes({"__metadata__": {"stylegan_tutorial": json.dumps(odd)}}))
    small = {k: v[..., :1].contiguous() if v.ndim else v for k, v in tensors.items()}
    ckpt.save_checkpoint(folder / "misshapen.safetensors", small, meta)
    files["misshapen"] = folder / "misshapen.safetensors"
    return files


@pytest.fixture(scope="module")
def crafted(run_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("crafted")
    marker = folder / "code-ran"
    return crafted_files(folder, ckpt.latest_checkpoint(run_dir), marker), marker


@pytest.mark.slow
@pytest.mark.parametrize("command", ["generate", "mix", "evaluate", "train"])
def test_every_reader_refuses_every_crafted_file_with_one_line(crafted, command, capsys, tmp_path):
    files, marker = crafted
    for what, path in files.items():
        out = tmp_path / f"{what}.png"
        argv = {"generate": ["generate", "--checkpoint", path, "--out", out],
                "mix": ["mix", "--checkpoint", path, "--out", out],
                "evaluate": ["evaluate", "--checkpoint", path, "--metrics", "fd", "--n", "600",
                             "--out", tmp_path / f"{what}.json", "--no-progress"],
                "train": [*TRAIN, "--resume", path, "--out", tmp_path / f"run-{what}"]}[command]
        code, _, err = run_cli(capsys, *argv)
        assert code == 2, (what, err)
        assert path.name in err and "Traceback" not in err, (what, err)
        assert len(err.strip().splitlines()) == 1, (what, err)
        assert not marker.exists(), f"{what}: the crafted file ran code"
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.json"))
    assert no_temporary_files(tmp_path)


def test_a_pickle_is_named_as_such(crafted):
    files, _ = crafted
    for name in ("pickle", "zip"):
        with pytest.raises(ValueError, match="pickle"):
            ckpt.read_meta(files[name])
    with pytest.raises(ValueError, match=r"pickle-like-size.*(truncated|not a readable)") as info:
        ckpt.read_meta(files["pickle-like-size"])
    assert "pickle (torch.save" not in str(info.value)  # a header size of 0x0580 is not a pickle
    with pytest.raises(ValueError, match="non-json-meta.safetensors has unreadable stylegan-tutorial"):
        ckpt.load_checkpoint(files["non-json-meta"])


# --------------------------------------------------------------------------------------------
# The run directory: latest and pruning by recorded progress, no mixed branches, clean logs
# --------------------------------------------------------------------------------------------


def copy_run(run_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(run_dir, out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("intruder", ["empty", "crafted", "directory"])
def test_an_unreadable_newer_file_never_pushes_out_the_valid_checkpoints(run_dir, tmp_path, capsys,
                                                                         intruder):
    out = copy_run(run_dir, tmp_path)
    bad = out / ckpt.checkpoint_name(99_999)
    if intruder == "directory":
        bad.mkdir()
    else:
        bad.write_bytes(b"" if intruder == "empty" else _safetensors_bytes({"__metadata__": {}}))
    code, _, err = run_cli(capsys, *TRAIN, "--kimg", "0.128", "--snapshot-kimg", "0.032",
                           "--keep-last", "1", "--resume", "auto", "--out", out)
    assert code == 0, err
    assert f"skipping unreadable checkpoint: {bad}" in err  # said once, as a warning line
    assert [p.name for p in ckpt.list_checkpoints(out)] == [ckpt.checkpoint_name(128)]
    assert bad.exists()  # left alone for its owner: never counted, never deleted
    code, out_text, err = run_cli(capsys, "generate", "--checkpoint", out, "--out", tmp_path / "g.png",
                                  "--seeds", "0")
    assert code == 0 and "0.1 kimg" in out_text and (tmp_path / "g.png").exists(), err


def test_latest_is_the_most_training_recorded_not_the_largest_name(tmp_path):
    from stylegan_tutorial.configs import training_config

    for name_nimg, meta_nimg in ((10, 10), (20, 5)):  # a renamed file: its name says 20, it holds 5
        ckpt.save_checkpoint(tmp_path / ckpt.checkpoint_name(name_nimg), {"a": torch.ones(1)},
                             {"config": training_config().to_dict(), "nimg": meta_nimg})
    assert ckpt.latest_checkpoint(tmp_path) == tmp_path / ckpt.checkpoint_name(10)
    ckpt.prune_checkpoints(tmp_path, 1)
    assert [p.name for p in tmp_path.iterdir()] == [ckpt.checkpoint_name(10)]


@pytest.mark.slow
def test_resuming_an_older_checkpoint_into_the_same_directory_is_refused(run_dir, tmp_path, capsys):
    out = copy_run(run_dir, tmp_path)
    before = sorted(p.name for p in out.iterdir())
    older = out / ckpt.checkpoint_name(32)
    code, _, err = run_cli(capsys, *TRAIN, "--kimg", "0.128", "--resume", older, "--out", out)
    assert code == 2 and "would mix two branches" in err and "--out NEW_DIR" in err
    assert sorted(p.name for p in out.iterdir()) == before  # nothing written, nothing deleted
    branch = tmp_path / "branch"  # the advice works: a new directory continues the older state
    code, _, err = run_cli(capsys, *TRAIN, "--kimg", "0.064", "--resume", older, "--out", branch,
                           "--snapshot-kimg", "0.032")
    assert code == 0, err
    assert [p.name for p in ckpt.list_checkpoints(branch)] == [ckpt.checkpoint_name(64)]
    assert sorted(p.name for p in out.iterdir()) == before
    code, _, err = run_cli(capsys, *TRAIN, "--kimg", "0.128", "--resume", older, "--out", branch)
    assert code == 2 and "would mix two branches" in err  # from another directory, the same rule


@pytest.mark.slow
def test_a_kill_then_resume_matches_an_uninterrupted_run_bit_for_bit(tmp_path):
    """SIGKILL right after a checkpoint write began; resume; the result and the log are exact."""
    import signal
    import time

    from conftest import ROOT

    env = {**os.environ, "STYLEGAN_TUTORIAL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    common = [sys.executable, "-m", "stylegan_tutorial", *TRAIN, "--kimg", "0.512",
              "--snapshot-kimg", "0.032", "--tick-kimg", "0.032", "--keep-last", "3", "--resume", "auto"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    subprocess.run([*common, "--out", str(whole)], cwd=ROOT, env=env, check=True, capture_output=True)
    proc = subprocess.Popen([*common, "--out", str(cut)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list(cut.glob("checkpoint-*.safetensors"))) < 3 or not list(cut.glob(".*.tmp")):
        if proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    subprocess.run([*common, "--out", str(cut)], cwd=ROOT, env=env, check=True, capture_output=True)
    a, meta_a = ckpt.load_checkpoint(ckpt.latest_checkpoint(whole))
    b, meta_b = ckpt.load_checkpoint(ckpt.latest_checkpoint(cut))
    assert meta_a["nimg"] == meta_b["nimg"] == 512
    assert a.keys() == b.keys()
    for key in a:  # G, D, G_ema, both Adam states and the RNG state
        assert torch.equal(a[key], b[key]), key
    ticks = [json.loads(line)["kimg"] for line in (cut / "log.jsonl").read_text().splitlines()]
    assert ticks == [json.loads(line)["kimg"] for line in (whole / "log.jsonl").read_text().splitlines()]
    assert no_temporary_files(cut)


def test_the_log_drops_ticks_the_resumed_run_will_make_again(tmp_path):
    from stylegan_tutorial.configs import training_config
    from stylegan_tutorial.monitor import RunMonitor

    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"kimg": k}) + "\n" for k in (0.032, 0.064, 0.096)) + '{"kimg": 0.1')
    RunMonitor(tmp_path, training_config(), nimg=64).close()
    assert [json.loads(line)["kimg"] for line in log.read_text().splitlines()] == [0.032, 0.064]


# --------------------------------------------------------------------------------------------
# Outputs: checked before the work, written whole, errors in one line
# --------------------------------------------------------------------------------------------


@contextmanager
def mounted(tmp_path: Path, options: str):
    """A fresh tmpfs at ``tmp_path/mnt`` with mount ``options``; skip where mounting is not allowed."""
    point = tmp_path / "mnt"
    point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the injected faults cover it")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def writers(run_dir: Path, images: Path, target: Path) -> dict[str, list]:
    """Every command that writes, with its output at ``target``."""
    return {
        "train": [*TRAIN, "--kimg", "0.032", "--out", target / "run"],
        "generate": ["generate", "--checkpoint", run_dir, "--seeds", "0-3", "--out", target / "g.png"],
        "generate --files": ["generate", "--checkpoint", run_dir, "--seeds", "0-3", "--files",
                             "--out", target / "faces"],
        "mix": ["mix", "--checkpoint", run_dir, "--rows", "1", "--cols", "2", "--out", target / "m.png"],
        "evaluate": ["evaluate", "--checkpoint", run_dir, "--metrics", "fd", "--n", "64",
                     "--out", target / "m.json", "--no-progress"],
        "prepare-data": ["prepare-data", images, target / "d.npy", "--resolution", "8", "--no-progress"],
        "student": ["student", Path(__file__).parents[1] / "notebooks" / "03_adversarial_game.ipynb",
                    "--out", target / "student"],
    }


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    for i in range(40):
        Image.fromarray(np.full((20, 20, 3), 6 * i, np.uint8)).save(folder / f"{i:02d}.png")
    return folder


@pytest.mark.slow
def test_a_read_only_location_fails_every_writer_before_its_work(run_dir, image_folder, tmp_path,
                                                                 capsys, monkeypatch):
    from stylegan_tutorial import metrics

    monkeypatch.setattr(metrics, "evaluate", lambda *a, **k: pytest.fail("computed before checking --out"))
    with mounted(tmp_path, "size=1m,ro") as ro:
        for name, argv in writers(run_dir, image_folder, ro).items():
            code, _, err = run_cli(capsys, *argv)
            assert code == 1, (name, err)
            assert "read-only file system" in err and str(ro) in err, (name, err)
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (name, err)


@pytest.mark.slow
def test_a_full_disk_fails_every_writer_in_one_line_and_leaves_no_temporary_file(
        run_dir, image_folder, tmp_path, capsys):
    with mounted(tmp_path, "size=64k") as full:
        _fill(full)
        for name, argv in writers(run_dir, image_folder, full).items():
            code, _, err = run_cli(capsys, *argv)
            if name == "student" and code == 0:
                continue  # small notebooks may still fit in the last block; nothing to check
            assert code == 1, (name, err)
            assert "No space left on device" in err or "free some space" in err, (name, err)
            assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, (name, err)
            assert no_temporary_files(full), name


def _fill(folder: Path) -> None:
    """Write until the file system is full."""
    with open(folder / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC


def test_a_full_disk_while_checkpointing_is_one_line_and_no_partial_file(tmp_path, capsys, monkeypatch):
    """The injected version of the full disk: the checkpoint write itself fails."""
    from stylegan_tutorial import files

    real = files.os.replace

    def no_space(src, dst):
        if str(dst).endswith(".safetensors"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real(src, dst)

    monkeypatch.setattr(files.os, "replace", no_space)
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, *TRAIN, "--kimg", "0.032", "--out", out)
    assert code == 1
    assert err.strip() == (f"stylegan-tutorial train: error: No space left on device: "
                           f"{out / ckpt.checkpoint_name(32)}; free some space or choose another location")
    assert not list(out.glob("checkpoint-*")) and no_temporary_files(out)


@pytest.mark.parametrize("argv, message", [
    (["generate", "--checkpoint", "RUN", "--out", "DIR"], "is a folder; name a file to write"),
    (["mix", "--checkpoint", "RUN", "--out", "DIR"], "is a folder; name a file to write"),
    (["evaluate", "--checkpoint", "RUN", "--out", "DIR"], "is a folder; name a file to write"),
    (["generate", "--checkpoint", "RUN", "--files", "--out", "FILE"], "is a file, not a folder"),
    (["prepare-data", "IMAGES", "DIR/x.npy", "--resolution", "8", "--force"], "is a folder"),
    (["train", "--config", "cpu-tiny", "--out", "FILE"], "is a file, not a folder"),
])
def test_an_output_in_the_way_is_the_users_mistake(run_dir, image_folder, tmp_path, capsys, argv, message):
    folder, file = tmp_path / "folder", tmp_path / "file.png"
    folder.mkdir()
    (folder / "x.npy").mkdir()
    file.write_bytes(b"mine")
    swap = {"RUN": run_dir, "DIR": folder, "FILE": file, "IMAGES": image_folder,
            "DIR/x.npy": folder / "x.npy"}
    code, _, err = run_cli(capsys, *[swap.get(a, a) for a in argv])
    assert code == 2 and message in err and "Traceback" not in err, err
    assert file.read_bytes() == b"mine"


def test_debug_shows_the_traceback(tmp_path, capsys):
    code, _, err = run_cli(capsys, "generate", "--checkpoint", tmp_path / "none.safetensors",
                           "--out", tmp_path / "x.png")
    assert code == 2 and "Traceback" not in err
    with pytest.raises(FileNotFoundError):
        cli.main(["--debug", "generate", "--checkpoint", str(tmp_path / "none.safetensors"),
                  "--out", str(tmp_path / "x.png")])


# --------------------------------------------------------------------------------------------
# prepare-data: space reserved up front, odd images reported
# --------------------------------------------------------------------------------------------


def test_prepare_data_checks_its_space_before_writing(image_folder, tmp_path, monkeypatch, capsys):
    from stylegan_tutorial import files

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(files.shutil, "disk_usage", lambda p: usage._replace(free=1000))
    code, _, err = run_cli(capsys, "prepare-data", image_folder, tmp_path / "d.npy", "--resolution", "64")
    assert code == 1 and "needs" in err and "MiB" in err and "free some space" in err
    assert not list(tmp_path.glob("*d.npy*")) and no_temporary_files(tmp_path)


def test_prepare_data_reports_odd_images_and_unsafe_zip_members(tmp_path, capsys):
    src = tmp_path / "photos.zip"
    with zipfile.ZipFile(src, "w") as zf:
        for name, size in (("ok.png", (16, 16)), ("sliver.png", (1, 5000)), ("../escape.png", (16, 16))):
            buf = io.BytesIO()
            Image.fromarray(np.zeros(size[::-1] + (3,), np.uint8)).save(buf, format="PNG")
            zf.writestr(name, buf.getvalue())
    code, out, err = run_cli(capsys, "prepare-data", src, tmp_path / "d.npy", "--resolution", "8")
    assert code == 0, err
    assert "warning: 1 images are more than 2 times as long" in err and "sliver.png (1x5000)" in err
    assert "warning: 1 images were smaller than 8² and were enlarged" in err
    assert "skipped 1 unreadable files: ../escape.png" in out
    manifest = json.loads((tmp_path / "d.json").read_text())
    assert manifest["count"] == 2 and manifest["skipped"][0]["reason"].startswith("unsafe path")


def test_evaluate_warns_when_n_is_too_small_to_mean_anything(run_dir, tmp_path, capsys):
    code, out, err = run_cli(capsys, "evaluate", "--checkpoint", run_dir, "--metrics", "fd,kid",
                             "--n", "8", "--out", tmp_path / "m.json", "--no-progress")
    assert code == 0, err
    assert "warning: --n 8 is too small for the Fréchet distance and KID" in err


def test_generate_refuses_a_cutoff_beyond_the_layers(run_dir, tmp_path, capsys):
    code, _, err = run_cli(capsys, "generate", "--checkpoint", run_dir, "--cutoff", "999",
                           "--out", tmp_path / "g.png")
    assert code == 2 and "--cutoff must be a layer count from 0 to 8" in err
    assert not (tmp_path / "g.png").exists()


def test_a_file_that_is_not_a_notebook_is_named(tmp_path, capsys):
    bad = tmp_path / "chapter.ipynb"
    bad.write_text("{not json")
    code, _, err = run_cli(capsys, "student", bad, "--out", tmp_path / "student")
    assert code == 2 and f"{bad} is not a notebook" in err and "Traceback" not in err


def test_ctrl_c_in_any_command_is_one_line(tmp_path, capsys, monkeypatch):
    from stylegan_tutorial.commands import generate

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(generate, "load_generator", interrupted)
    code, _, err = run_cli(capsys, "generate", "--checkpoint", "pretrained:faces64",
                           "--out", tmp_path / "g.png")
    assert code == 130 and err.strip() == "stylegan-tutorial generate: interrupted"


def test_a_log_line_that_cannot_be_written_names_the_log(tmp_path, monkeypatch):
    import builtins

    from stylegan_tutorial.configs import training_config
    from stylegan_tutorial.monitor import RunMonitor

    monitor = RunMonitor(tmp_path, training_config(grid_size=1))
    real_open = builtins.open

    def full(path, mode="r", *args, **kwargs):
        if str(path).endswith("log.jsonl") and "a" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full)
    from stylegan_tutorial.generator import Generator

    G = Generator(training_config().network.replace(resolution=8))
    with pytest.raises(OSError) as info:
        monitor.tick(G, 32, {"kimg": 0.032, "batch_size": 32, "resolution": 4, "alpha": 1.0}, [])
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "log.jsonl")


def test_a_checkpoint_pruned_while_the_folder_is_read_is_skipped_silently(tmp_path, monkeypatch, recwarn):
    """A running run prunes old checkpoints while another process lists the folder: no warning."""
    from stylegan_tutorial.configs import training_config

    for nimg in (32, 64):
        ckpt.save_checkpoint(tmp_path / ckpt.checkpoint_name(nimg), {"a": torch.ones(1)},
                             {"config": training_config().to_dict(), "nimg": nimg})
    real_read = ckpt.read_meta

    def pruned_meanwhile(path):
        if path.name == ckpt.checkpoint_name(32):
            path.unlink()  # deleted between the listing and the read
        return real_read(path)

    monkeypatch.setattr(ckpt, "read_meta", pruned_meanwhile)
    assert ckpt.list_checkpoints(tmp_path) == [tmp_path / ckpt.checkpoint_name(64)]
    assert not [w for w in recwarn if "checkpoint" in str(w.message)]
