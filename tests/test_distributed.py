"""Two processes on the CPU with gloo: the batch is split, gradients averaged, weights stay equal."""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from stylegan_tutorial import distributed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, world: int, port: int, out: str) -> None:
    """One rank: train the tiny network a few steps, then save its weights for the parent to compare."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from stylegan_tutorial.configs import training_config
    from stylegan_tutorial.data.dataset import ImageDataset
    from stylegan_tutorial.training import train

    cfg = training_config("cpu-tiny", network_overrides=dict(resolution=8), batch_sizes={4: 8, 8: 8},
                          phase_kimg=0.032, total_kimg=0.048, tick_kimg=0.016)
    data = ImageDataset(torch.rand(40, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    seen = []
    try:
        run = train(cfg, data, None, progress=False, device="cpu",
                    callbacks=[lambda r, t: seen.append(t["loss_D"])])
        torch.save({"G": run.G.state_dict(), "D": run.D.state_dict(), "G_ema": run.G_ema.state_dict(),
                    "losses": seen, "nimg": run.nimg}, f"{out}/rank{rank}.pt")
    finally:
        distributed.cleanup()


def test_env_info_defaults_and_errors(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.env_info() == distributed.DistInfo(0, 1, 0)
    assert distributed.current().is_main and not distributed.current().enabled
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE must be an integer, got 'two'"):
        distributed.env_info()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK must be in"):
        distributed.env_info()


@pytest.mark.slow
def test_two_gloo_processes_keep_identical_weights(tmp_path):
    world = 2
    mp.spawn(worker, args=(world, free_port(), str(tmp_path)), nprocs=world, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(world))
    assert r0["nimg"] == r1["nimg"] == 48
    for net in ("G", "D", "G_ema"):
        for k in r0[net]:
            assert torch.equal(r0[net][k], r1[net][k]), f"{net}.{k} differs between ranks"
    # the losses were averaged over ranks, so both logged the same numbers
    assert r0["losses"] == r1["losses"] and len(r0["losses"]) == 3
    # and training did move the weights away from the shared initialisation
    torch.manual_seed(0)
    from stylegan_tutorial.configs import get_config
    from stylegan_tutorial.generator import Generator
    fresh = Generator(get_config("cpu-tiny", resolution=8)).state_dict()
    assert fresh.keys() == r0["G"].keys()
    assert any(not torch.equal(fresh[k], r0["G"][k]) for k in fresh)
