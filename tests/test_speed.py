"""The speed switches: each one's fast path does what its plain path does."""

import numpy as np
import pytest
import torch

from conftest import images, tiny
from stylegan_tutorial.data.dataset import ImageDataset
from stylegan_tutorial.training import train

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def test_mixed_precision_runs_the_top_levels_in_reduced_precision():
    from stylegan_tutorial.speed import enable_mixed_precision, resolution_modules
    from stylegan_tutorial.training import prepare_run

    run, _ = prepare_run(tiny(), images(), device="cpu")
    G, D = run.G, run.D
    # 6 synthesis layers + 3 ToRGB + 3 FromRGB + 2 D blocks, at the right resolutions
    assert [r for r, _ in resolution_modules(G, D)] == [4, 4, 8, 8, 16, 16, 4, 8, 16, 4, 8, 16, 8, 16]
    z = torch.randn(4, G.z_dim)
    ref = G(z, noise_mode="fixed")
    handles = enable_mixed_precision(G, D, levels=1, device=torch.device("cpu"))  # only 16²
    dtypes = []
    probe = G.synthesis.layers[5].conv.register_forward_hook(lambda m, a, out: dtypes.append(out.dtype))
    low = G(z, noise_mode="fixed")
    probe.remove()
    assert dtypes == [torch.bfloat16] and low.dtype == torch.float32
    assert not torch.equal(low, ref) and torch.allclose(low, ref, atol=0.1)  # bf16 rounding only
    assert low.abs().max() <= 256
    for h in handles:
        h.remove()
    assert torch.equal(G(z, noise_mode="fixed"), ref)
    run = train(tiny(total_kimg=0.032, amp=True), images(), progress=False)
    assert run.skipped_steps == 0 and all(np.isfinite(h["loss_D"]) for h in run.history)


def test_device_dataset_serves_the_same_batches_as_the_dataset():
    from stylegan_tutorial.data.dataset import DeviceDataset

    pixels = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    data = ImageDataset(pixels, mirror=True)
    on_device = DeviceDataset(data, torch.device("cpu"))
    assert len(on_device) == len(data) == 12 and on_device.identity == data.identity
    idx = [0, 7, 11, 3, 6]  # 7, 11 and 6 are mirrored copies
    for res in (8, 4):
        torch.testing.assert_close(on_device.batch(idx, res), data.batch(idx, res), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="resolution"):
        on_device.batch(idx, 16)


def test_plain_paths_change_nothing_and_switches_are_recorded():
    from stylegan_tutorial.speed import SpeedSwitches
    from stylegan_tutorial.training import prepare_run

    run, data = prepare_run(tiny(fused_adam=False), images(), device="cpu")
    speed = run.speed
    assert isinstance(speed, SpeedSwitches) and speed.dataset(data) is data
    x = torch.randn(2, 3, 16, 16)
    assert speed.memory_format(x) is x
    assert speed.compiled_synthesis is None and not speed.fused_adam  # turned off here
    assert not run.opt_G.defaults.get("fused")
    ws = run.G.broadcast(run.G.mapping(torch.randn(2, run.G.z_dim)))
    torch.testing.assert_close(speed.synthesis(ws, 16, 1.0), run.G.synthesis(ws, 16, 1.0))
    fast, _ = prepare_run(tiny(channels_last=True, data_on_device=True), images(),
                          device="cpu")
    assert fast.speed.memory_format(x).is_contiguous(memory_format=torch.channels_last)
    assert fast.speed.fused_adam and fast.opt_G.defaults["fused"]  # the default; the CPU has one


def test_fused_adam_steps_like_the_default_adam():
    # One step (batch 8): D's update comes from the same gradients, so it must match. (G's
    # update follows D's and is not compared: some of its gradients are zero but for rounding,
    # e.g. the first layer's bias before an instance norm, and Adam scales them to a full step.)
    plain = train(tiny(total_kimg=0.008, fused_adam=False), images(), progress=False)
    fused = train(tiny(total_kimg=0.008), images(), progress=False)
    assert plain.step == fused.step == 1
    assert fused.opt_D.defaults["fused"] and not plain.opt_D.defaults.get("fused")
    for a, b in zip(plain.D.parameters(), fused.D.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_a_run_with_data_on_the_device_trains_like_the_plain_one():
    plain = train(tiny(total_kimg=0.032), images(), progress=False)
    fast = train(tiny(total_kimg=0.032, data_on_device=True), images(), progress=False)
    for a, b in zip(plain.G.parameters(), fast.G.parameters()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
