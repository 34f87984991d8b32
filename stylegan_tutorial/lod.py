"""Levels of detail: resolutions, ``alpha``, ``lod`` and which layers a resolution uses (chapter 4).

StyleGAN grows from 4² to the top resolution one power of two at a time. Every module that
talks about "a resolution" or "a fade" checks and converts it here, once:

- a resolution is a power of two >= 4 (:func:`check_resolution`);
- ``alpha`` in [0, 1] says how far the newest level has faded in (:func:`check_alpha`);
- the release's ``lod`` counts halvings from the top resolution and falls continuously during
  training: ``lod = log2(top / res) + (1 - alpha)`` (:func:`lod_to_resolution`,
  :func:`resolution_to_lod`);
- the synthesis network has two layers per resolution, so rendering at ``res`` uses the first
  ``2 log2(res) - 2`` entries of ``ws`` (:func:`num_layers_at`);
- the paper's coarse / middle / fine styles are ranges of those layers (:func:`style_ranges`),
  used by style mixing (chapter 8), the ``mix`` command and the mixing-transfer metric.

This module imports nothing but the standard library: it is the bottom of the package.
"""

from __future__ import annotations

import math
import numbers

MIN_RESOLUTION = 4
STYLE_RANGE_NAMES = ("coarse", "middle", "fine")


def check_resolution(resolution, name: str = "resolution", maximum: int | None = None,
                     minimum: int = MIN_RESOLUTION) -> int:
    """Return ``resolution`` as an int if it is a power of two in ``[minimum, maximum]`` (chapter 4).

    Args:
        resolution: the value to check (a Python or NumPy integer).
        name:       how the error message names the value (an option, a field).
        maximum:    the largest allowed resolution, e.g. a network's (None: no upper bound).
        minimum:    the smallest allowed resolution (4: the constant input's size).

    Raises a ValueError that names ``name``, the allowed range and the value it got.
    """
    ok = (isinstance(resolution, numbers.Integral) and not isinstance(resolution, bool)
          and resolution >= minimum and resolution & (resolution - 1) == 0
          and (maximum is None or resolution <= maximum))
    if not ok:
        if maximum is None:
            raise ValueError(f"{name} must be a power of two >= {minimum}, got {resolution!r}")
        allowed = ", ".join(str(2**k) for k in range(minimum.bit_length() - 1, maximum.bit_length()))
        raise ValueError(f"{name} must be a power of two from {minimum} to {maximum} ({allowed}), "
                         f"got {resolution!r}")
    return int(resolution)


def check_alpha(alpha) -> float:
    """Return ``alpha`` as a float if it is a number in [0, 1] (1: no fade), else ValueError (chapter 4)."""
    if not (isinstance(alpha, numbers.Real) and not isinstance(alpha, bool) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    return float(alpha)


def resolutions_up_to(top: int) -> list[int]:
    """Every level of detail ``[4, 8, ..., top]`` (chapter 4)."""
    check_resolution(top, "top resolution")
    return [2**k for k in range(2, int(math.log2(top)) + 1)]


def level_of(resolution: int) -> int:
    """The level of detail of ``resolution``, counted from 4² (level 0): ``log2(res) - 2`` (chapter 4)."""
    return int(math.log2(check_resolution(resolution))) - 2


def num_layers_at(resolution: int) -> int:
    """Synthesis layers in use at ``resolution``: ``2 log2(res) - 2`` (chapter 4).

    Two layers per level of detail: 2 at 4², 18 at 1024².
    """
    return 2 * level_of(resolution) + 2


def lod_to_resolution(lod: float, max_resolution: int) -> tuple[int, float]:
    """The release's level of detail as ``(resolution, alpha)`` (chapter 4).

    ``lod`` counts halvings from ``max_resolution``; a fractional part means a fade-in:
    ``lod = 1.25`` at 1024² is 512² with alpha 0.75 (a quarter of the way still at 256²).
    """
    check_resolution(max_resolution, "max_resolution")
    top = int(math.log2(max_resolution)) - 2
    if not (isinstance(lod, numbers.Real) and not isinstance(lod, bool) and 0.0 <= lod <= top):
        raise ValueError(f"lod must be a number in [0, {top}] for {max_resolution}², got {lod!r}")
    level = math.floor(lod)
    return max_resolution >> level, 1.0 - (lod - level)


def resolution_to_lod(resolution: int, alpha: float, max_resolution: int) -> float:
    """Inverse of :func:`lod_to_resolution`: ``log2(max / res) + (1 - alpha)`` (chapter 4).

    Args:
        resolution:     the level of detail being trained, a power of two <= ``max_resolution``.
        alpha:          how far it has faded in, in [0, 1] (1: fully in, no fade).
        max_resolution: the network's top resolution, where ``lod`` is 0.

    Returns ``lod`` as a float in ``[0, log2(max_resolution) - 2]``.
    """
    check_resolution(resolution, maximum=max_resolution)
    return math.log2(max_resolution // resolution) + (1.0 - check_alpha(alpha))


def style_ranges(resolution: int) -> dict[str, range]:
    """The paper's coarse / middle / fine layer ranges of a generator of ``resolution`` (chapter 8).

    Layers come two per resolution, 4² first. At 1024² the paper's ranges are coarse = 4²–8²
    (layers 0–3), middle = 16²–32² (4–7), fine = 64²–1024² (8–17). A smaller generator keeps
    coarse and middle as they are while it can and shrinks the middle so that every range is
    non-empty:

    ======  ==========  ===========  ===========
    res     coarse      middle       fine
    ======  ==========  ===========  ===========
    8²      4² (0–1)    8², 1st (2)  8², 2nd (3)
    16²     4² (0–1)    8² (2–3)     16² (4–5)
    32²     4²–8² (0–3) 16² (4–5)    32² (6–7)
    64²+    4²–8² (0–3) 16²–32² (4–7) 64²+ (8–)
    ======  ==========  ===========  ===========

    Returns ``{"coarse": range, "middle": range, "fine": range}`` of layer indices.
    """
    check_resolution(resolution, minimum=8)
    layers = num_layers_at(resolution)
    if layers == 4:  # 8²: only two levels, so the 8² pair is split between middle and fine
        bounds = (2, 3)
    elif layers == 6:  # 16²
        bounds = (2, 4)
    else:
        bounds = (4, min(8, layers - 2))
    return {"coarse": range(0, bounds[0]), "middle": range(bounds[0], bounds[1]),
            "fine": range(bounds[1], layers)}


def parse_style_layers(spec: str, resolution: int) -> range:
    """Layers named by ``spec``: ``coarse``, ``middle``, ``fine`` or ``a-b`` (chapter 8).

    The three names are the ranges of :func:`style_ranges`.
    ``a-b`` is an inclusive range of layer indices (``3`` alone is one layer) within the
    ``num_layers_at(resolution)`` layers of the generator; anything else is a ValueError.
    """
    num_layers = num_layers_at(resolution)
    if spec in STYLE_RANGE_NAMES:
        return style_ranges(resolution)[spec]
    lo, sep, hi = str(spec).partition("-")
    try:
        layers = range(int(lo), (int(hi) if sep else int(lo)) + 1)
    except ValueError:
        raise ValueError(f"styles must be coarse, middle, fine or a layer range 'a-b', "
                         f"got {spec!r}") from None
    if layers.start < 0 or layers.stop > num_layers or len(layers) == 0:
        raise ValueError(f"styles range {spec!r} must lie within layers 0-{num_layers - 1}")
    return layers
