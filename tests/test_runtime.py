"""Where code runs: device choice, seeds, and the one-thread block."""

import pytest
import torch

from stylegan_tutorial.runtime import one_thread, pick_device, seed_everything


def test_one_thread_restores_the_setting_even_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"), one_thread():
        assert torch.get_num_threads() == 1
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be"):
        pick_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            pick_device("cuda")
        assert pick_device("auto").type in ("cpu", "mps")


def test_seed_everything_repeats_draws():
    seed_everything(3)
    a = torch.randn(4)
    gen = seed_everything(3)
    assert torch.equal(a, torch.randn(4))
    assert torch.equal(torch.randn(2, generator=gen),
                       torch.randn(2, generator=torch.Generator().manual_seed(3)))
