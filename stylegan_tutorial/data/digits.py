"""Handwritten digits from scikit-learn's bundled ``load_digits``: 1,797 images of 8x8 pixels.

They ship inside scikit-learn, so they need no download, and they are small enough for a GAN to
learn on a laptop CPU in under a minute. Pixel values 0..16 are mapped to [-1, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

DIGIT_RESOLUTIONS = (8, 16, 32)


def load_digits_tensor(resolution: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as ``images [N, 1, R, R]`` in [-1, 1] and ``labels [N]`` (chapters 2, 3).

    ``R`` is ``resolution``, one of 8, 16 and 32; labels are the digits 0..9.
    Upsampling from 8x8 is bilinear, which keeps strokes smooth instead of blocky.
    """
    if resolution not in DIGIT_RESOLUTIONS:
        raise ValueError(f"resolution must be one of {DIGIT_RESOLUTIONS}, got {resolution!r}")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1)  # [N, 1, 8, 8]
    images = images / 8.0 - 1.0  # 0..16 -> [-1, 1]
    if resolution != 8:
        images = F.interpolate(images, size=(resolution, resolution), mode="bilinear",
                               align_corners=False).clamp_(-1.0, 1.0)  # [N, 1, R, R]
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    return images, labels


def digits_dataset(resolution: int = 16) -> TensorDataset:
    """The digits as a ``TensorDataset`` of ``(image, label)`` pairs for a ``DataLoader`` (chapter 2).

    Images are ``[1, R, R]`` in [-1, 1] with ``R = resolution`` (:func:`load_digits_tensor`).
    """
    return TensorDataset(*load_digits_tensor(resolution))
