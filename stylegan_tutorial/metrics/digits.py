"""Judging generated digits: a digit reader and a blur measure (chapter 2).

Chapter 2's autoencoders make digits, and two questions decide whether they are good ones:

- **Can they be read?** :class:`DigitReader` is a multinomial logistic regression on the 256
  pixels of a 16² digit, trained on real digits. Fitted on 1,400 of them it reads 96 % of the
  other 397 right when the split is random, 92 % when the 397 are the data set's last ones
  (other writers). A generated image it reads with probability >= 0.9 counts as a legible
  digit; :meth:`DigitReader.confident_fraction` is the share of such images: 0.88 for the
  random held-out digits (0.81 for the last ones), 0.04 for uniform noise, 0.3 for double
  exposures of two digits.
- **Are they sharp?** :func:`sharpness` is the mean length of the image gradient. Squared-error
  reconstructions average over what the code cannot pin down, so a VAE's digits come out
  blurred, with smaller gradients than real ones.
"""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import threadpool_limits

Tensor = torch.Tensor


def _flat(images: Tensor) -> np.ndarray:
    """``images [N, ...]`` -> a float64 array ``[N, D]`` for scikit-learn."""
    return images.detach().reshape(images.shape[0], -1).double().cpu().numpy()


class DigitReader:
    """A logistic-regression reader of 16² digits: which digit, and how sure (chapter 2).

    Attributes:
        model:       the fitted ``sklearn.linear_model.LogisticRegression``.
        image_shape: ``(C, H, W)`` of the images it reads.

    Build it with :meth:`fit`.
    """

    def __init__(self, model, image_shape: tuple[int, ...]):
        self.model = model
        self.image_shape = tuple(image_shape)

    @classmethod
    def fit(cls, images: Tensor, labels: Tensor, seed: int = 0) -> DigitReader:
        """Train the reader on labelled digits (chapter 2).

        Args:
            images: the digits ``[N, 1, 16, 16]`` in [-1, 1] (any ``[N, C, H, W]`` works).
            labels: their classes ``[N]``, 0..9.
            seed:   the classifier's ``random_state``.

        Multinomial logistic regression (scikit-learn's default for several classes, solver
        L-BFGS, L2 penalty ``C = 1``) on the flattened pixels; ``max_iter = 1000`` leaves room to
        converge (the 1,797 digits need about 80 iterations). The fit runs on one BLAS thread,
        as :func:`~stylegan_tutorial.runtime.one_thread` does for torch: on 2 CPU cores it takes
        0.2 s, against 0.8 s with two threads on an idle machine and 5-6 s on a busy one.
        (``threadpoolctl`` comes with scikit-learn.)
        """
        from sklearn.linear_model import LogisticRegression

        if not isinstance(images, Tensor) or images.dim() != 4:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"images must be a tensor [N, C, H, W], got {shape}")
        labels = torch.as_tensor(labels).reshape(-1)
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"images and labels must have the same length, got {images.shape[0]} "
                             f"images and {labels.shape[0]} labels")
        model = LogisticRegression(max_iter=1000, random_state=seed)
        with threadpool_limits(limits=1):
            model.fit(_flat(images), labels.cpu().numpy())
        return cls(model, tuple(images.shape[1:]))

    def _check(self, images: Tensor) -> Tensor:
        if not isinstance(images, Tensor) or tuple(images.shape[1:]) != self.image_shape:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"images must be a tensor [N, {', '.join(map(str, self.image_shape))}] "
                             f"like the digits the reader was fitted to, got {shape}")
        return images

    def read(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Which digit each image shows, and how sure the reader is (chapter 2).

        Args:
            images: ``[N, C, H, W]``, the shape the reader was fitted to.

        Returns ``(classes [N] int64, confidence [N] float32)``: the most probable class and its
        probability.
        """
        probs = self.model.predict_proba(_flat(self._check(images)))  # [N, 10]
        best = probs.argmax(axis=1)
        classes = torch.as_tensor(self.model.classes_[best], dtype=torch.int64)
        return classes, torch.as_tensor(probs.max(axis=1), dtype=torch.float32)

    def accuracy(self, images: Tensor, labels: Tensor) -> float:
        """The fraction of ``images [N, C, H, W]`` read as their ``labels [N]`` (chapter 2)."""
        classes, _ = self.read(images)
        return float((classes == torch.as_tensor(labels).reshape(-1).cpu()).double().mean())

    def confident_fraction(self, images: Tensor, threshold: float = 0.9) -> float:
        """The fraction of ``images [N, C, H, W]`` read with probability >= ``threshold`` (chapter 2).

        Args:
            images:    the images to judge, e.g. decoded samples of a VAE.
            threshold: the probability that counts as a legible digit.
        """
        _, confidence = self.read(images)
        return float((confidence >= threshold).double().mean())


def sharpness(images: Tensor) -> float:
    """The mean length of the image gradient: a blur measure, lower = blurrier (chapter 2).

    Args:
        images: ``[N, C, H, W]``.

    With the finite differences ``dx = x[i, j+1] - x[i, j]`` and ``dy = x[i+1, j] - x[i, j]``
    (taken on the ``(H-1) x (W-1)`` pixels that have both), the mean over images, channels and
    pixels of ``sqrt(dx² + dy²)``. In the units of the pixel values ([-1, 1]: 2 per pixel is a
    jump from black to white).
    """
    if not isinstance(images, Tensor) or images.dim() != 4 or min(images.shape[-2:]) < 2:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor [N, C, H, W] with H, W >= 2, got {shape}")
    x = images.detach().double()
    dx = x[..., :-1, 1:] - x[..., :-1, :-1]  # [N, C, H-1, W-1]
    dy = x[..., 1:, :-1] - x[..., :-1, :-1]  # [N, C, H-1, W-1]
    return float(torch.sqrt(dx.square() + dy.square()).mean())
