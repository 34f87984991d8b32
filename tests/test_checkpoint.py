"""Checkpoints: atomic, safe to read, exact to resume from, refused when they do not match."""

import os
import pickle

import pytest
import torch

from stylegan_tutorial import checkpoint as ckpt
from stylegan_tutorial.configs import training_config
from stylegan_tutorial.data.dataset import ImageDataset
from stylegan_tutorial.training import train

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


META = {"config": training_config().to_dict()}  # what a run directory's checkpoints record


def tiny(**fields):
    """8² network, 32 images per phase: 4² for 16 images, 8² fading in over the next 16."""
    fields = {"phase_kimg": 0.032, "total_kimg": 0.096, "tick_kimg": 0.024, "snapshot_kimg": 1.0, **fields}
    return training_config("cpu-tiny", network_overrides=dict(resolution=8), batch_sizes={4: 8, 8: 8},
                           **fields)


def images(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ImageDataset(torch.rand(n, 3, 8, 8, generator=g) * 2 - 1, mirror=True,
                        identity={"source": "test", "seed": seed})


def test_round_trip_of_tensors_and_meta(tmp_path):
    tensors = {"a": torch.arange(6.0).view(2, 3), "b": torch.tensor([1, 2], dtype=torch.uint8),
               "s": torch.tensor(3.0)}
    path = ckpt.save_checkpoint(tmp_path / ckpt.checkpoint_name(5), tensors, {"x": [1, 2], "y": "z"})
    assert path.name == "checkpoint-000000005.safetensors"
    back, meta = ckpt.load_checkpoint(path)
    assert set(back) == set(tensors) and all(torch.equal(back[k], tensors[k]) for k in tensors)
    assert meta["x"] == [1, 2] and meta["y"] == "z"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


class Exploit:
    """Unpickling this runs ``open(marker, 'w')``: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_a_pickle_that_runs_code_is_refused_unexecuted(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint-000000001.safetensors"
    payload = {"G.weight": torch.zeros(2), "evil": Exploit(marker)}
    if writer == "pickle":
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path)
    with pytest.raises(ValueError, match="refusing to load .* pickle"):
        ckpt.load_checkpoint(path)
    with pytest.warns(UserWarning, match="skipping unreadable"):
        assert ckpt.latest_checkpoint(tmp_path) is None
    assert not marker.exists()


@pytest.mark.parametrize("header_size", [0x0280, 0x0380, 0x0580])
def test_a_header_size_that_starts_like_a_pickle_still_loads(tmp_path, header_size):
    # safetensors begins with its header size (8 bytes, little-endian): 0x0280 starts 80 02,
    # the opening of a protocol-2 pickle. Such a checkpoint is ours and must load.
    path = tmp_path / ckpt.checkpoint_name(1)
    tensors = {"a": torch.arange(6.0)}
    for pad in range(header_size):
        ckpt.save_checkpoint(path, tensors, {"nimg": 1, "pad": "x" * pad})
        if int.from_bytes(path.read_bytes()[:8], "little") == header_size:
            break
    data = path.read_bytes()
    assert int.from_bytes(data[:8], "little") == header_size and data[0] == 0x80
    loaded, meta = ckpt.load_checkpoint(path)
    assert torch.equal(loaded["a"], tensors["a"]) and meta["pad"] == "x" * pad
    assert ckpt.read_meta(path)["pad"] == "x" * pad  # the header-only reader agrees


def test_truncated_latest_falls_back_to_the_previous(tmp_path):
    good = ckpt.save_checkpoint(tmp_path / ckpt.checkpoint_name(10), {"a": torch.ones(100)},
                                {**META, "nimg": 10})
    bad = ckpt.save_checkpoint(tmp_path / ckpt.checkpoint_name(20), {"a": torch.ones(100)},
                               {**META, "nimg": 20})
    bad.write_bytes(bad.read_bytes()[:-50])
    (tmp_path / ".checkpoint-000000030.safetensors.999999.tmp").write_bytes(b"half")
    with pytest.warns(UserWarning):
        assert ckpt.latest_checkpoint(tmp_path) == good
    with pytest.raises(ValueError, match="not a readable safetensors"):
        ckpt.load_checkpoint(bad)


def test_prune_keeps_the_newest(tmp_path):
    for n in (3, 1, 20, 7):
        ckpt.save_checkpoint(tmp_path / ckpt.checkpoint_name(n), {"a": torch.ones(1)}, {**META, "nimg": n})
    stale = tmp_path / ".checkpoint-000000099.safetensors.999999999.tmp"  # no such pid
    stale.write_bytes(b"x")
    ckpt.prune_checkpoints(tmp_path, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [ckpt.checkpoint_name(7), ckpt.checkpoint_name(20)]
    with pytest.raises(ValueError, match="keep_last"):
        ckpt.prune_checkpoints(tmp_path, 0)


def test_check_compatible_lists_differences():
    with pytest.raises(ValueError, match=r"r1_gamma: checkpoint has 10.0, this run has 5.0"):
        ckpt.check_compatible({"r1_gamma": 10.0, "seed": 0}, {"r1_gamma": 5.0, "seed": 0}, "configuration")
    assert ckpt.check_compatible({"a": 1, "b": 2}, {"a": 1, "b": 3}, "x", ignore=("b",)) == []
    assert len(ckpt.check_compatible({"a": 1}, {"a": 2}, "x", force=True)) == 1


def weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


@pytest.mark.slow
def test_resume_is_bit_identical(tmp_path):
    # 12 steps straight (4², then 8² fading in, then 8²: two Adam resets) ...
    straight = train(tiny(), images(), progress=False)
    # ... versus 5 steps, a checkpoint, a fresh process state, and the other 7
    first = train(tiny(), images(), tmp_path / "run", progress=False, stop_at_kimg=0.040)
    assert first.nimg == 40 and first.last_checkpoint.name == ckpt.checkpoint_name(40)
    torch.manual_seed(12345)  # scramble the global RNG: the checkpoint must restore it
    second = train(tiny(), images(), tmp_path / "run", resume="auto", progress=False)
    assert second.nimg == straight.nimg == 96
    for a, b in ((straight.G_ema, second.G_ema), (straight.G, second.G), (straight.D, second.D)):
        wa, wb = weights(a), weights(b)
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    # the resumed run carries the first part's log on (a tick is closed when a run stops)
    assert second.history[:len(first.history)] == first.history
    assert [h["kimg"] for h in second.history] == [0.024, 0.040, 0.048, 0.072, 0.096]


def test_mismatched_config_or_dataset_is_refused_unless_forced(tmp_path):
    out = tmp_path / "run"
    train(tiny(total_kimg=0.016), images(), out, progress=False)
    with pytest.raises(ValueError, match="(?s)configuration differs.*r1_gamma"):
        train(tiny(total_kimg=0.024, r1_gamma=1.0), images(), out, resume="auto", progress=False)
    with pytest.raises(ValueError, match="(?s)dataset differs.*seed"):
        train(tiny(total_kimg=0.024), images(seed=1), out, resume="auto", progress=False)
    with pytest.warns(UserWarning, match="forced"):
        run = train(tiny(total_kimg=0.024, r1_gamma=1.0), images(), out, resume="auto",
                    force=True, progress=False)
    assert run.nimg == 24
    # the stopping point may change freely; a new run into a used folder is refused
    with pytest.raises(FileExistsError, match="already holds checkpoints"):
        train(tiny(), images(), out, progress=False)


def test_keep_last_prunes_during_training(tmp_path):
    out = tmp_path / "run"
    train(tiny(total_kimg=0.048, snapshot_kimg=0.008, keep_last=2), images(), out, progress=False)
    kept = sorted(p.name for p in out.glob("checkpoint-*"))
    assert kept == [ckpt.checkpoint_name(40), ckpt.checkpoint_name(48)]
    assert not list(out.glob(".*.tmp"))


@pytest.mark.slow
def test_sigkill_at_random_moments_always_leaves_a_readable_latest_checkpoint(tmp_path):
    """Kill a training process (checkpointing every step) four times at random; resume each time."""
    import random
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    env = {**os.environ, "STYLEGAN_TUTORIAL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "stylegan_tutorial", "train", "--config", "cpu-tiny",
           "--data", "faces:n=64", "--kimg", "1000", "--phase-kimg", "1000", "--snapshot-kimg", "0.032",
           "--tick-kimg", "1000", "--keep-last", "2", "--out", str(out), "--resume", "auto",
           "--no-progress"]
    rng = random.Random(0)
    progress = []
    for _kill in range(4):
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            start_count = len(ckpt.list_checkpoints(out))
            newest = ckpt.list_checkpoints(out)[-1:] if start_count else []
            deadline = time.monotonic() + 60
            while ckpt.list_checkpoints(out)[-1:] == newest:  # wait for this process's first write
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "no checkpoint written within 60 s"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.0))  # then kill at a random moment, mid-write or not
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stderr.close()
        latest = ckpt.latest_checkpoint(out)  # never without a readable latest checkpoint
        assert latest is not None
        tensors, meta = ckpt.load_checkpoint(latest)
        assert "G_ema.w_avg" in tensors and meta["nimg"] == int(latest.stem.split("-")[1])
        progress.append(meta["nimg"])
    assert progress == sorted(progress) and progress[-1] > progress[0]  # each resume went on
    assert len(ckpt.list_checkpoints(out)) <= 3  # keep-last 2, plus at most one being pruned


@pytest.mark.slow
def test_ctrl_c_stops_after_the_step_and_writes_a_checkpoint(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    env = {**os.environ, "STYLEGAN_TUTORIAL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stylegan_tutorial", "train", "--config", "cpu-tiny", "--data",
         "faces:n=64", "--kimg", "1000", "--snapshot-kimg", "1000", "--tick-kimg", "0.064",
         "--out", str(out), "--no-progress"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "log.jsonl").exists():  # training has made its first tick
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted at" in stdout
    (only,) = ckpt.list_checkpoints(out)  # snapshots every 1000 kimg: this one is Ctrl-C's
    _, meta = ckpt.load_checkpoint(only)
    assert meta["nimg"] >= 64 and meta["nimg"] % 32 == 0  # a whole number of 4² steps
