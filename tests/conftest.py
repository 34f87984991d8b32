"""Shared test helpers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from stylegan_tutorial.configs import get_config, training_config
from stylegan_tutorial.data.dataset import ImageDataset
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.oracle import Oracle

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def load_script(name: str):
    """Import ``scripts/<name>.py`` as a module (the scripts are not part of the package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny(**fields):
    """cpu-tiny cut to 16²: levels 4, 8, 16; 64 images per phase (32 train + 32 fade)."""
    fields = {"phase_kimg": 0.064, "total_kimg": 0.2, "tick_kimg": 0.001, **fields}
    return training_config("cpu-tiny", network_overrides=dict(resolution=16),
                           batch_sizes={4: 8, 8: 8, 16: 4}, **fields)


def images(n=48, res=16, seed=0):
    """``n`` random images ``[n, 3, res, res]`` in [-1, 1] as an ImageDataset (seeded)."""
    g = torch.Generator().manual_seed(seed)
    return ImageDataset(torch.rand(n, 3, res, res, generator=g) * 2 - 1)


def read_notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook_path(request) -> Path:
    return request.param


@pytest.fixture
def one_thread():
    """Run a test on one torch thread: small ops are faster that way on a shared 2-core machine."""
    from stylegan_tutorial.runtime import one_thread as pinned

    with pinned():
        yield


# A cpu-tiny generator and an untrained oracle, both from seed 0: what the metrics' and the style
# sensitivity's tests measure when they need real networks but no trained weights.
@pytest.fixture(scope="module")
def tiny_g():
    torch.manual_seed(0)
    return Generator(get_config("cpu-tiny")).eval()


@pytest.fixture(scope="module")
def random_oracle():
    torch.manual_seed(0)
    return Oracle().eval()
