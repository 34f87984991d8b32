"""The one dataset interface: conversion, 2×2 pooling, mirroring, specs and their errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan_tutorial.data import faces
from stylegan_tutorial.data.dataset import ImageDataset, open_dataset
from stylegan_tutorial.images import downsample_to


def test_downsample_matches_a_hand_computation():
    x = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    # 2x2 blocks of [[0,1,2,3],[4,5,6,7],[8,9,10,11],[12,13,14,15]]
    expected = torch.tensor([[(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4],
                             [(8 + 9 + 12 + 13) / 4, (10 + 11 + 14 + 15) / 4]])
    assert torch.equal(downsample_to(x, 2)[0, 0], expected)
    assert downsample_to(x, 1).item() == 7.5  # twice: the mean of all sixteen
    assert downsample_to(x, 4) is x


@pytest.mark.parametrize("resolution", [3, 8, 0])
def test_downsample_rejects_unreachable_sizes(resolution):
    with pytest.raises(ValueError, match=f"resolution must be the image size 4 .* got {resolution}"):
        downsample_to(torch.zeros(1, 1, 4, 4), resolution)


def _uint8_images(n=3, r=8, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, r, r, c), dtype=np.uint8)


def test_uint8_is_mapped_to_minus_one_one_exactly():
    raw = _uint8_images()
    raw[0, 0, 0] = [0, 255, 51]
    ds = ImageDataset(raw)
    x = ds[0]
    assert x.shape == (3, 8, 8)
    assert x[:, 0, 0].tolist() == pytest.approx([-1.0, 1.0, 51 / 127.5 - 1])
    assert torch.allclose(ds.batch([2])[0], torch.from_numpy(raw[2]).permute(2, 0, 1) / 127.5 - 1)


def test_mirror_flips_exactly_and_doubles_the_length():
    raw = _uint8_images(n=4)
    ds = ImageDataset(raw, mirror=True)
    assert len(ds) == 8
    for i in range(4):
        assert torch.equal(ds[4 + i], ds[i].flip(-1))
        # pixel (row, col) of the flipped image is pixel (row, 7 - col) of the original
        assert torch.equal(ds[4 + i][:, 2, 1], ds[i][:, 2, 6])
    assert not torch.equal(ds[4], ds[0])


def test_lower_resolutions_are_2x2_averages_of_the_stored_images():
    raw = _uint8_images(n=5, r=16)
    ds = ImageDataset(raw, mirror=True)
    full = ds.batch(np.arange(10))
    assert torch.allclose(ds.batch(np.arange(10), resolution=4), downsample_to(full, 4), atol=1e-6)
    small = ds.at_resolution(8)
    assert small.resolution == 8 and small.identity["resolution"] == 8
    assert torch.allclose(small[7], downsample_to(full[7:8], 8)[0], atol=1e-6)
    # 2x2 average at one pixel, by hand
    x = torch.from_numpy(raw[1].astype(np.float32)) / 127.5 - 1  # [16, 16, 3]
    assert torch.allclose(small[1][:, 0, 0], x[:2, :2].mean((0, 1)), atol=1e-6)


def test_float_images_and_labels():
    images = torch.rand(6, 1, 8, 8) * 2 - 1
    ds = ImageDataset(images, resolution=4, labels=torch.arange(6))
    assert ds.channels == 1 and ds[3].shape == (1, 4, 4)
    assert torch.allclose(ds[3], downsample_to(images[3:4], 4)[0])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"images": np.zeros((2, 8, 8, 3), np.float32)}, ValueError, "uint8 array"),
    ({"images": np.zeros((0, 8, 8, 3), np.uint8)}, ValueError, "empty"),
    ({"images": torch.zeros(2, 8, 8)}, ValueError, "float tensor"),
    ({"images": np.zeros((2, 8, 8, 3), np.uint8), "resolution": 16}, ValueError,
     r"resolution must be a power of two from 4 to 8 \(4, 8\), got 16"),
    ({"images": np.zeros((2, 8, 8, 3), np.uint8), "resolution": 6}, ValueError, "got 6"),
])
def test_image_dataset_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        ImageDataset(**kwargs)


def test_indices_out_of_range():
    ds = ImageDataset(_uint8_images(n=3))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\)"):
        ds.batch([3])


def test_open_faces_spec(tmp_path):
    ds = open_dataset("faces:n=40,seed=1,withhold=glasses+long_hair", 16, cache_dir=tmp_path)
    assert len(ds) == 40 and ds[0].shape == (3, 16, 16)
    assert ds.identity == {"source": "faces", "n": 40, "seed": 1, "withhold": "glasses+long_hair",
                           "generator_version": faces.GENERATOR_VERSION, "resolution": 16,
                           "count": 40, "mirror": False}
    assert not np.any((ds.labels["glasses"] == 1) & (ds.labels["hair_style"] == 2))
    x = ds.all()
    assert x.min() >= -1 and x.max() <= 1
    # Faces are drawn at 8x8 at least; 4x4 is that store averaged 2x2.
    tiny = open_dataset("faces:n=40,seed=1,withhold=glasses+long_hair", 4, cache_dir=tmp_path)
    eight = open_dataset("faces:n=40,seed=1,withhold=glasses+long_hair", 8, cache_dir=tmp_path)
    assert torch.allclose(tiny.all(), downsample_to(eight.all(), 4), atol=1e-6)


def test_open_digits_spec():
    ds = open_dataset("digits", 16)
    assert len(ds) == 1797 and ds[0].shape == (1, 16, 16)
    assert ds.labels.shape == (1797,)
    four = open_dataset("digits", 4)
    eight = open_dataset("digits", 8)
    assert torch.allclose(four.batch([0, 1]), downsample_to(eight.batch([0, 1]), 4))


def test_open_prepared_npy(tmp_path):
    raw = _uint8_images(n=4, r=16)
    np.save(tmp_path / "x.npy", raw)
    ds = open_dataset(str(tmp_path / "x.npy"), 8, mirror=True)
    assert len(ds) == 8 and ds.resolution == 8
    assert isinstance(ds.images, np.memmap)
    with pytest.raises(ValueError, match="resolution 32 is above the prepared data's 16"):
        open_dataset(str(tmp_path / "x.npy"), 32)


@pytest.mark.parametrize("spec, resolution, error, match", [
    ("faces", 48, ValueError, r"resolution must be a power of two from 4 to 1024 \(4, .*, 1024\), got 48"),
    ("faces", 512, ValueError, "above the generated faces' largest, 256"),
    ("digits", 64, ValueError, "above the digits' largest, 32"),
    ("faces:m=3", 16, ValueError, "spec option 'm=3' is not one of n=, seed=, withhold="),
    ("faces:n=many", 16, ValueError, "spec option n must be int, got 'many'"),
    ("faces:n=0", 16, ValueError, "n must be at least 1, got 0"),
    ("faces:withhold=wings", 16, ValueError, "unknown condition 'wings'"),
    ("digits:n=3", 16, ValueError, "spec option 'n=3' is not one of"),
    ("no/such/place", 16, FileNotFoundError, "'no/such/place' is neither"),
    ("missing.npy", 16, FileNotFoundError, "no such file: missing.npy"),
    (42, 16, ValueError, "spec must be a string"),
])
def test_open_dataset_bad_input(spec, resolution, error, match):
    with pytest.raises(error, match=match):
        open_dataset(spec, resolution)


def test_open_dataset_folders_need_prepare_data(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="is empty"):
        open_dataset(str(empty), 32)
    full = tmp_path / "photos"
    full.mkdir()
    (full / "a.png").write_bytes(b"not really")
    with pytest.raises(ValueError, match="stylegan-tutorial prepare-data .* --resolution 32"):
        open_dataset(str(full), 32)
    (tmp_path / "x.zip").write_bytes(b"PK")
    with pytest.raises(ValueError, match="prepare-data"):
        open_dataset(str(tmp_path / "x.zip"), 32)


def test_works_with_a_dataloader():
    from torch.utils.data import DataLoader

    ds = ImageDataset(_uint8_images(n=5, r=8), resolution=4, mirror=True)
    batches = list(DataLoader(ds, batch_size=4, shuffle=False))
    assert [tuple(b.shape) for b in batches] == [(4, 3, 4, 4), (4, 3, 4, 4), (2, 3, 4, 4)]
    assert torch.allclose(torch.cat(batches), ds.all())
