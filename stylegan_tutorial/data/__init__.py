"""The data sets of the course. Every source yields float images in [-1, 1], shaped [N, C, H, W].

- :mod:`~stylegan_tutorial.data.faces`: generated cartoon faces with known factors (the default).
- :mod:`~stylegan_tutorial.data.digits`: scikit-learn's bundled handwritten digits (no download).
- :mod:`~stylegan_tutorial.data.prepare`: a folder or zip of images -> one memory-mapped ``.npy``
  (the ``stylegan-tutorial prepare-data`` command).
- :mod:`~stylegan_tutorial.data.download`: fetch an archive by URL with a checksum (Colab).
- :mod:`~stylegan_tutorial.data.dataset`: one interface over all of them, :func:`open_dataset`.
- :mod:`~stylegan_tutorial.data.sampler`: the seeded, resumable order in which training sees them.

Importing this package is cheap: the names below load their module (and torch) on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "open_dataset": "dataset",
    "ImageDataset": "dataset",
    "FACTORS": "faces",
    "sample_factors": "faces",
    "sample_details": "faces",
    "render_faces": "faces",
    "make_faces": "faces",
    "cached_faces": "faces",
    "load_digits_tensor": "digits",
    "digits_dataset": "digits",
    "prepare_images": "prepare",
    "fetch_archive": "download",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    """Import the submodule that defines ``name`` the first time it is asked for."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
