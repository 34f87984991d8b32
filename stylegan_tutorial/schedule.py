"""Progressive growing as a pure function of how many images have been shown (chapters 4, 10).

StyleGAN v1 trains at 4² first and adds one level of detail at a time. Each level gets a
*phase* of ``phase_kimg`` thousand images: the first half trains the current resolution as it
is, the second half fades the next resolution in. During a fade the new block's output is
blended with the upsampled (G) or downsampled (D, real images) old path by ``alpha``, which
rises linearly from 0 to 1. When the last level has faded in, training stays at the top
resolution until the run ends.

The release describes the same schedule with a level of detail ``lod`` that counts halvings
from the top resolution and falls continuously: ``lod = log2(top / res) + (1 - alpha)``.
The batch size and learning rate of a fade are those of the *new* resolution, as in the
release (``minibatch_dict[resolution]`` with ``resolution = top >> floor(lod)``).

Everything here is a pure function of ``(nimg, training config)``: easy to test, and a resumed
run recomputes exactly where it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stylegan_tutorial.configs import TrainingConfig, check_phase_kimg
from stylegan_tutorial.lod import resolution_to_lod


@dataclass(frozen=True)
class Phase:
    """Where training is after ``nimg`` images: which resolution, how far faded in, with what (chapter 4).

    Args:
        nimg:          images shown so far.
        resolution:    the resolution the networks run at (the new one during a fade).
        alpha:         1.0 when not fading; rises 0 -> 1 during the fade-in of ``resolution``.
        lod:           the release's level of detail, ``log2(top / resolution) + (1 - alpha)``.
        batch_size:    the minibatch at ``resolution``.
        learning_rate: Adam's learning rate at ``resolution``.
    """

    nimg: int
    resolution: int  # the resolution the networks run at (the new one during a fade)
    alpha: float  # 1.0 when not fading; rises 0 -> 1 during the fade-in of ``resolution``
    lod: float  # the release's level of detail: log2(top / resolution) + (1 - alpha)
    batch_size: int
    learning_rate: float

    @property
    def fading(self) -> bool:
        """Whether ``resolution`` is still being faded in, ``alpha < 1`` (chapter 4)."""
        return self.alpha < 1.0

    @property
    def key(self) -> tuple[int, bool]:
        """``(resolution, fading)``: the release resets Adam's state whenever this changes (chapter 10)."""
        return (self.resolution, self.fading)

    @property
    def kimg(self) -> float:
        """Thousands of images shown so far, ``nimg / 1000`` (chapter 10)."""
        return self.nimg / 1000.0


def level_and_alpha(kimg: float, phase_kimg: float, num_levels: int) -> tuple[int, float]:
    """``(level, alpha)`` after ``kimg``: level 0 is 4², level ``num_levels - 1`` the top (chapter 4).

    Args:
        kimg:       thousands of images shown so far, >= 0.
        phase_kimg: thousands of images per level of detail (half training, half fading in).
        num_levels: levels of detail, 4² to the top resolution.

    Phase ``i`` (``i * phase_kimg <= kimg < (i + 1) * phase_kimg``) trains level ``i`` for
    its first half and fades level ``i + 1`` in over its second half.
    """
    phase_kimg = check_phase_kimg(phase_kimg)
    if not kimg >= 0:
        raise ValueError(f"kimg must be >= 0, got {kimg!r}")
    half = phase_kimg / 2
    phase = math.floor(kimg / phase_kimg)
    if phase >= num_levels - 1:  # the top level has been reached: stay there
        return num_levels - 1, 1.0
    into = kimg - phase * phase_kimg
    if into < half:
        return phase, 1.0
    return phase + 1, (into - half) / half


def phase_at(nimg: int, config: TrainingConfig) -> Phase:
    """The :class:`Phase` of training run ``config`` after ``nimg`` images (chapters 4, 10).

    Args:
        nimg:   images shown so far (an integer >= 0).
        config: the run: its network's resolutions, ``phase_kimg``, and the batch size and
                learning rate per resolution.
    """
    if isinstance(nimg, bool) or not isinstance(nimg, int) or nimg < 0:
        raise ValueError(f"nimg must be an integer >= 0, got {nimg!r}")
    resolutions = config.network.resolutions  # [4, 8, ..., top]
    level, alpha = level_and_alpha(nimg / 1000.0, config.phase_kimg, len(resolutions))
    res = resolutions[level]
    lod = resolution_to_lod(res, alpha, config.network.resolution)
    return Phase(nimg, res, alpha, lod, config.batch_size_at(res), config.learning_rate_at(res))


def phase_boundaries(config: TrainingConfig) -> list[tuple[float, int, str]]:
    """Every change of the schedule as ``(kimg, resolution, "fade-in" | "train")`` (chapters 4, 10).

    For tables of a run ``config``'s schedule.
    Example for 4 levels and ``phase_kimg = 20``: (0, 4, train), (10, 8, fade-in),
    (20, 8, train), (30, 16, fade-in), ...
    """
    phase_kimg = config.phase_kimg
    resolutions = config.network.resolutions
    out = [(0.0, resolutions[0], "train")]
    for i, res in enumerate(resolutions[1:]):
        out.append((i * phase_kimg + phase_kimg / 2, res, "fade-in"))
        out.append(((i + 1) * phase_kimg, res, "train"))
    return out


def kimg_per_resolution(config: TrainingConfig) -> dict[int, float]:
    """Thousands of images ``config``'s schedule spends at each resolution, fade-ins included (chapter 10).

    A fade-in runs the networks at the new resolution, so it counts there. Example for
    ``cpu-tiny`` (20 kimg per level, 80 in all): ``{4: 10, 8: 20, 16: 20, 32: 30}``. Times a
    measured sec/kimg per resolution, it gives the schedule's duration (``check-data``'s probe).
    """
    first = config.network.resolutions[0]
    starts = [(k, r) for k, r, what in phase_boundaries(config) if what != "train" or r == first]
    out = {}
    for i, (start, res) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else config.total_kimg
        out[res] = max(0.0, min(end, config.total_kimg) - min(start, config.total_kimg))
    return out
