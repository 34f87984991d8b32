"""One interface over every image source, for training and for the chapters.

Whatever the source (generated faces, digits, a prepared folder of photographs), a dataset here
hands out float images in [-1, 1] shaped ``[N, C, H, W]``. Progressive growing trains at 4², 8²,
16², … before the final resolution; like the paper's code, lower resolutions are made from the
stored images by averaging 2×2 blocks, repeatedly
(:func:`~stylegan_tutorial.images.downsample_to`), so every resolution shows the same images.

Open one with :func:`open_dataset` and a spec string::

    open_dataset("faces", 32)                                       # 50,000 generated faces
    open_dataset("faces:n=20000,seed=1,withhold=glasses+long_hair", 32)
    open_dataset("digits", 16)                                      # scikit-learn's digits
    open_dataset("celeba64.npy", 64, mirror=True)                   # from prepare-data
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from stylegan_tutorial.data import faces
from stylegan_tutorial.data.digits import DIGIT_RESOLUTIONS, load_digits_tensor
from stylegan_tutorial.images import downsample_to
from stylegan_tutorial.lod import MIN_RESOLUTION, check_resolution

DEFAULT_FACES = 50_000
MAX_RESOLUTION = 1024  # the largest level of detail a dataset serves (the paper's)


class ImageDataset(Dataset):
    """Images stored at one resolution, served at ``resolution`` in [-1, 1] (chapters 1 and 10).

    Args:
        images:     a uint8 array ``[N, H, W, C]`` with C 1 or 3 (possibly memory-mapped, as
                    written by prepare-data and the faces cache), or a float tensor
                    ``[N, C, H, W]`` already in [-1, 1]; its size is the stored resolution.
        resolution: the size served, a power of two no larger than the stored images (None:
                    the stored size).
        mirror:     make the dataset twice as long: item ``N + i`` is item ``i`` flipped left to
                    right, so shuffling it flips each image with probability 1/2 (the paper's
                    mirror augmentation).
        labels:     anything that rides along for the chapters: digit classes ``[N]``, face
                    factors (None: no labels).
        identity:   where the images came from, for checkpoints to record (None: nothing but
                    the resolution, count and mirror flag that are always added).
    """

    def __init__(self, images, resolution: int | None = None, mirror: bool = False,
                 labels=None, identity: dict | None = None):
        if isinstance(images, torch.Tensor):
            if images.ndim != 4 or not images.is_floating_point():
                raise ValueError(f"images must be a float tensor [N, C, H, W], got {images.dtype} "
                                 f"with shape {tuple(images.shape)}")
            self._uint8, stored = False, images.shape[-1]
        else:
            if images.ndim != 4 or images.dtype != np.uint8 or images.shape[-1] not in (1, 3):
                raise ValueError(f"images must be a uint8 array [N, H, W, C] with C 1 or 3, got "
                                 f"{images.dtype} with shape {images.shape}")
            self._uint8, stored = True, images.shape[1]
        if len(images) == 0:
            raise ValueError("images is empty: a dataset needs at least one image")
        self.images = images
        self.stored_resolution = int(stored)
        self.resolution = self.stored_resolution if resolution is None else self._check(resolution)
        self.mirror = bool(mirror)
        self.labels = labels
        self.identity = {**(identity or {}), "resolution": self.resolution,
                         "count": len(images), "mirror": self.mirror}

    def _check(self, resolution) -> int:
        """A served resolution must be a power of two no larger than the stored images."""
        resolution = check_resolution(resolution, maximum=max(self.stored_resolution, MIN_RESOLUTION))
        if resolution > self.stored_resolution:
            raise ValueError(f"resolution {resolution} is above the stored images' "
                             f"{self.stored_resolution}")
        return resolution

    @property
    def channels(self) -> int:
        """C: 3 for RGB images, 1 for grey ones (chapter 1)."""
        return self.images.shape[-1] if self._uint8 else self.images.shape[1]

    def __len__(self) -> int:
        return len(self.images) * (2 if self.mirror else 1)

    def __getitem__(self, index: int) -> torch.Tensor:
        """One image ``[C, R, R]`` in [-1, 1]."""
        return self.batch([index])[0]

    def batch(self, indices, resolution: int | None = None) -> torch.Tensor:
        """The images at ``indices`` as ``[B, C, r, r]`` in [-1, 1] (chapter 10).

        ``indices`` are B item numbers in ``[0, len)`` (negative ones count from the end);
        ``r`` is ``resolution``, or the dataset's own when None.

        One vectorised read and conversion per call: the fast path for a training loop.
        """
        r = self.resolution if resolution is None else self._check(resolution)
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self.images)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise ValueError(f"indices must lie in [0, {len(self)}), got min {idx.min()} "
                             f"max {idx.max()}")
        idx = idx % len(self)
        flip, src = idx >= n, idx % n
        if not self._uint8:
            x = self.images[torch.from_numpy(src)].float()  # [B, C, H, W]
            if flip.any():
                f = torch.from_numpy(flip)
                x[f] = x[f].flip(-1)
            return downsample_to(x, r)  # [B, C, r, r]
        # uint8 storage: gather, pool and scale in numpy (single-threaded, no torch thread pool
        # to wait on for a small batch). Sums of integers and quarters of them are exact in
        # float32, so this equals 2×2 average pooling done on the [-1, 1] values up to rounding.
        order = np.argsort(src, kind="stable")  # sorted reads are kinder to a memory map
        x = np.empty((len(src),) + self.images.shape[1:], dtype=np.uint8)
        x[order] = self.images[src[order]]  # [B, H, W, C]
        x = x.astype(np.float32)
        while x.shape[1] > r:  # [B, H, W, C] -> [B, H/2, W/2, C]
            x = (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2]) * 0.25
        x = x.transpose(0, 3, 1, 2)  # [B, C, r, r]
        x[flip] = x[flip][..., ::-1]
        return torch.from_numpy(np.ascontiguousarray(x) / 127.5 - 1.0)  # [B, C, r, r] in [-1, 1]

    def at_resolution(self, resolution: int) -> ImageDataset:
        """The same images served at a lower ``resolution`` (2×2 averages), sharing storage (chapter 4)."""
        return ImageDataset(self.images, resolution, self.mirror, self.labels,
                            {k: v for k, v in self.identity.items()
                             if k not in ("resolution", "count", "mirror")})

    def all(self, resolution: int | None = None) -> torch.Tensor:
        """Every image as one tensor ``[len, C, r, r]``, mirrored copies included (chapter 1).

        ``r`` is ``resolution``, or the dataset's own when None.
        """
        return self.batch(np.arange(len(self)), resolution)

    def __repr__(self) -> str:
        return f"ImageDataset({self.identity})"


class DeviceDataset:
    """A dataset's images held on a device, batches drawn there: the ``data_on_device`` switch (chapter 10).

    Reading a batch from a memory map and copying it to a GPU each step costs more than the
    step itself for a small network; 50,000 faces at 64² are 614 MB as uint8, a fraction of a
    GPU's memory. Same indices, the same mirror rule and the same 2×2 averages as
    :meth:`ImageDataset.batch` (equal up to float rounding), computed on the device.

    Args:
        dataset: the dataset to copy (its images are read once, in full).
        device:  where to hold them.
    """

    def __init__(self, dataset: ImageDataset, device: torch.device):
        self.source = dataset
        images = dataset.images
        if dataset._uint8:  # [N, H, W, C] uint8 -> [N, C, H, W] uint8
            images = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2)  # a writable copy
        self.images = images.to(device).contiguous()
        self.scale = dataset._uint8  # uint8 values need mapping to [-1, 1]
        self.device = torch.device(device)

    def __len__(self) -> int:
        return len(self.source)

    @property
    def identity(self) -> dict:
        """The source dataset's identity, for checkpoints to record (chapter 10)."""
        return self.source.identity

    def batch(self, indices, resolution: int | None = None) -> torch.Tensor:
        """The images at ``indices`` as ``[B, C, r, r]`` in [-1, 1], on the device (chapter 10).

        As :meth:`ImageDataset.batch`: ``r`` is ``resolution``, or the dataset's own when None.
        """
        r = self.source.resolution if resolution is None else self.source._check(resolution)
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64) % len(self), device=self.device)
        n = self.images.shape[0]
        x = self.images[idx % n].float()  # [B, C, S, S]
        if self.scale:
            x = x / 127.5 - 1.0
        flip = (idx >= n).view(-1, 1, 1, 1)
        x = torch.where(flip, x.flip(-1), x)  # mirrored copies
        return downsample_to(x, r)  # [B, C, r, r]


def _parse_options(text: str, allowed: dict) -> dict:
    """``"n=100,seed=2"`` -> ``{"n": 100, "seed": 2}``, typed by ``allowed`` (name -> type)."""
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in allowed:
            raise ValueError(f"spec option {item!r} is not one of "
                             f"{', '.join(k + '=' for k in allowed)}")
        try:
            out[key] = allowed[key](value.strip())
        except ValueError:
            raise ValueError(f"spec option {key} must be {allowed[key].__name__}, "
                             f"got {value.strip()!r}") from None
    return out


def _open_faces(options: str, resolution: int, mirror: bool, cache_dir) -> ImageDataset:

    opts = _parse_options(options, {"n": int, "seed": int, "withhold": str})
    n, seed = opts.get("n", DEFAULT_FACES), opts.get("seed", 0)
    withhold = opts.get("withhold") or None
    if withhold is not None:
        withhold = faces.withhold_names(withhold)
    if resolution > faces.MAX_RESOLUTION:
        raise ValueError(f"resolution {resolution} is above the generated faces' largest, "
                         f"{faces.MAX_RESOLUTION}")
    if n < 1:
        raise ValueError(f"spec option n must be at least 1, got {n}")
    stored = max(resolution, faces.MIN_RESOLUTION)  # 4x4 comes from pooling 8x8
    images, factors, _ = faces.cached_faces(n, stored, seed, withhold, cache_dir)
    identity = {"source": "faces", "n": n, "seed": seed, "withhold": "+".join(withhold or ()),
                "generator_version": faces.GENERATOR_VERSION}
    return ImageDataset(images, resolution, mirror, factors, identity)


def _open_digits(options: str, resolution: int, mirror: bool) -> ImageDataset:

    _parse_options(options, {})
    if resolution > max(DIGIT_RESOLUTIONS):
        raise ValueError(f"resolution {resolution} is above the digits' largest, "
                         f"{max(DIGIT_RESOLUTIONS)}")
    images, labels = load_digits_tensor(max(resolution, min(DIGIT_RESOLUTIONS)))
    return ImageDataset(images, resolution, mirror, labels, {"source": "digits"})


def open_prepared(path, resolution: int | None = None, mirror: bool = False) -> ImageDataset:
    """A ``.npy`` written by prepare-data, memory-mapped (the instructor's guide).

    Args:
        path:       the ``.npy`` file, or its ``.json`` manifest beside it; the manifest's
                    sha256, if there is one, goes into the dataset's identity.
        resolution: the size served, no larger than the stored images (None: the stored size).
        mirror:     add left-right mirrored copies (:class:`ImageDataset`).
    """
    path = Path(path)
    if path.suffix == ".json":
        path = path.with_suffix(".npy")
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    images = np.load(path, mmap_mode="r")
    manifest_path = path.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    identity = {"source": str(path.resolve()), "sha256": manifest.get("sha256")}
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"{path} must hold uint8 images [N, H, W, C] as prepare-data writes, "
                         f"got {images.dtype} with shape {images.shape}")
    stored = images.shape[1]
    if resolution is not None and resolution > stored:
        raise ValueError(f"resolution {resolution} is above the prepared data's {stored} in {path}; "
                         f"run prepare-data again with --resolution {resolution}")
    return ImageDataset(images, resolution, mirror, None, identity)


def open_dataset(spec: str = "faces", resolution: int = 32, *, mirror: bool = False,
                 cache_dir=None) -> ImageDataset:
    """Open the dataset named by ``spec`` at ``resolution`` (chapter 1).

    Args:
        spec:       ``faces`` or ``faces:n=…,seed=…,withhold=a+b`` (generated faces, cached on
                    disk; conditions as in :data:`faces.CONDITIONS`), ``digits``, or the path
                    of a ``.npy`` written by ``stylegan-tutorial prepare-data`` (or its
                    ``.json`` manifest).
        resolution: the size served, a power of two from 4 to 1024 (and no larger than the
                    source's).
        mirror:     add left-right mirrored copies (:class:`ImageDataset`).
        cache_dir:  where generated faces are cached (None:
                    :func:`~stylegan_tutorial.data.faces.default_cache_dir`).

    Returns an :class:`ImageDataset` of images ``[C, resolution, resolution]`` in [-1, 1].
    """
    resolution = check_resolution(resolution, maximum=MAX_RESOLUTION)
    if not isinstance(spec, (str, Path)):
        raise ValueError(f"spec must be a string such as 'faces', 'digits' or a path, got {spec!r}")
    text = str(spec).strip()
    name, _, options = text.partition(":")
    if name == "faces":
        return _open_faces(options, resolution, mirror, cache_dir)
    if name == "digits":
        return _open_digits(options, resolution, mirror)
    path = Path(text).expanduser()
    if path.suffix in (".npy", ".json"):
        return open_prepared(path, resolution, mirror)
    if not path.exists():
        raise FileNotFoundError(f"spec {text!r} is neither 'faces', 'digits' nor an existing path")
    if path.is_dir() and not any(p.is_file() for p in path.rglob("*")):
        raise ValueError(f"folder {path} is empty: there are no images in it")
    if path.is_dir() or path.suffix == ".zip":
        raise ValueError(f"{path} is a folder or zip of images: convert it once with "
                         f"'stylegan-tutorial prepare-data {path} OUT.npy --resolution "
                         f"{resolution}', then open OUT.npy")
    raise ValueError(f"spec {text!r}: expected 'faces', 'digits', a .npy from prepare-data, "
                     f"or a folder/zip to prepare")
