"""The order in which training sees its images: a seeded permutation per epoch (chapter 10).

Its whole state is three integers ``(seed, epoch, pos)``, saved in every checkpoint, so a
resumed run continues with exactly the images it would have seen had it never stopped.
"""

from __future__ import annotations

import numpy as np


class EpochSampler:
    """Indices in a fresh random order each epoch; its whole state is ``(seed, epoch, pos)`` (chapter 10).

    Args:
        length: how many images the dataset holds (mirrored copies included).
        seed:   the run's seed; epoch ``e`` is the permutation drawn with ``[seed, e]``.
        epoch:  the epoch to start in (0 for a new run; a checkpoint's when resuming).
        pos:    how many indices of that epoch were already handed out.
    """

    def __init__(self, length: int, seed: int, epoch: int = 0, pos: int = 0):
        self.length, self.seed, self.epoch, self.pos = int(length), int(seed), int(epoch), int(pos)
        self._perm = self._permutation()

    def _permutation(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.length)

    def next(self, n: int) -> np.ndarray:
        """The next ``n`` indices ``[n]``, continuing into the next epoch if this one ends (chapter 10)."""
        out = []
        while n > 0:
            take = min(n, self.length - self.pos)
            out.append(self._perm[self.pos:self.pos + take])
            self.pos += take
            n -= take
            if self.pos == self.length:
                self.epoch, self.pos = self.epoch + 1, 0
                self._perm = self._permutation()
        return np.concatenate(out)

    def state(self) -> dict:
        """``{"seed", "epoch", "pos", "length"}``: everything needed to continue (chapter 10)."""
        return {"seed": self.seed, "epoch": self.epoch, "pos": self.pos, "length": self.length}
