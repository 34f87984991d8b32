"""Generated cartoon faces whose every factor of variation is known.

Real face sets cannot be downloaded on the course's machines, and even where they can, nobody knows
which "knob" made each photograph. These faces are drawn from a handful of named factors (head
position, size and shape, skin tone, hair style and colour, eyes, mouth, glasses, background), so
later chapters can *measure* which layer of a generator carries which attribute.

On top of the factors each face gets stochastic detail that no factor describes: freckles, hair
strands and a blotchy background texture. That is the part StyleGAN's per-layer noise inputs are
meant to model.

How a face is drawn: every part is a signed distance field (negative inside, positive outside),
evaluated for the whole batch at once on the pixel grid. A pixel's coverage is
``clamp(0.5 - d / pixel_size, 0, 1)``, the fraction of a pixel-wide box filter that lies inside the
shape, which anti-aliases every edge without supersampling. Parts are painted back to front.

Everything random comes from ``seed`` through numpy's ``SeedSequence``; factors and details are
sampled per face before drawing, so the same seed gives the same faces at every resolution.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stylegan_tutorial import lod
from stylegan_tutorial.runtime import one_thread

# Bump when the drawing or the sampling changes: it is part of the on-disk cache key.
GENERATOR_VERSION = 2
MIN_RESOLUTION, MAX_RESOLUTION = 8, 256


@dataclass(frozen=True)
class Factor:
    """One factor of variation: continuous (uniform on ``[low, high]``) or categorical (chapter 1).

    Args:
        kind:        ``"continuous"`` or ``"categorical"``.
        description: what the factor means, in words (the book's table of factors).
        low:         continuous only: the smallest value drawn.
        high:        continuous only: the largest value drawn.
        values:      categorical only: the categories' names; a stored value is an index here
                     (empty for a continuous factor).
        probs:       categorical only: how often each category is drawn, one per value.
    """

    kind: str  # "continuous" or "categorical"
    description: str
    low: float = 0.0
    high: float = 1.0
    values: tuple[str, ...] = ()  # categorical: the names of the categories, index = stored value
    probs: tuple[float, ...] = ()  # categorical: how often each category is drawn


# The single specification of what varies, with ranges. Positions and sizes are in units of the
# image's half-width: the image spans [-1, 1] in x (left to right) and y (top to bottom).
FACTORS: dict[str, Factor] = {
    "head_x": Factor("continuous", "horizontal position of the head's centre", -0.12, 0.12),
    "head_y": Factor("continuous", "vertical position of the head's centre (+ is down)", -0.14, 0.0),
    "head_size": Factor("continuous", "half-height of the head ellipse", 0.46, 0.58),
    "head_aspect": Factor("continuous", "head width / head height (round to narrow)", 0.72, 0.92),
    "skin_tone": Factor("continuous", "0 = lightest to 1 = darkest skin", 0.0, 1.0),
    "hair_style": Factor("categorical", "hair style", values=("bald", "short", "long", "bun"),
                         probs=(0.15, 0.40, 0.30, 0.15)),
    "hair_colour": Factor("continuous", "0 black, 0.25 brown, 0.5 auburn, 0.75 blonde, 1 grey",
                          0.0, 1.0),
    "eye_size": Factor("continuous", "eye radius relative to an average eye", 0.75, 1.3),
    "eyes_open": Factor("categorical", "eyes closed or open", values=("closed", "open"),
                        probs=(0.2, 0.8)),
    "mouth_curve": Factor("continuous", "-1 = frown, 0 = straight, +1 = smile", -1.0, 1.0),
    "glasses": Factor("categorical", "glasses off or on", values=("off", "on"), probs=(0.7, 0.3)),
    "background_hue": Factor("continuous", "hue of the background on the colour wheel", 0.0, 1.0),
}

# Named conditions on the factors; a tuple of them names a combination that can be withheld.
CONDITIONS: dict[str, Callable[[dict], np.ndarray]] = {
    "glasses": lambda f: f["glasses"] == 1,
    "no_glasses": lambda f: f["glasses"] == 0,
    "eyes_open": lambda f: f["eyes_open"] == 1,
    "eyes_closed": lambda f: f["eyes_open"] == 0,
    "bald": lambda f: f["hair_style"] == 0,
    "short_hair": lambda f: f["hair_style"] == 1,
    "long_hair": lambda f: f["hair_style"] == 2,
    "bun": lambda f: f["hair_style"] == 3,
    "smile": lambda f: f["mouth_curve"] > 0,
    "frown": lambda f: f["mouth_curve"] < 0,
}

Withhold = None | str | tuple | list | Callable[[dict], np.ndarray]


def describe_factors() -> str:
    """:data:`FACTORS` as a Markdown table for the book (chapter 1).

    One row per factor: name, kind, range or categories (with their probabilities), meaning.
    """
    rows = ["| factor | kind | range / categories (probability) | meaning |", "|---|---|---|---|"]
    for name, f in FACTORS.items():
        if f.kind == "continuous":
            span = f"{f.low:g} to {f.high:g}, uniform"
        else:
            span = ", ".join(f"{v} ({p:g})" for v, p in zip(f.values, f.probs))
        rows.append(f"| `{name}` | {f.kind} | {span} | {f.description} |")
    return "\n".join(rows)


# --------------------------------------------------------------------------------------------
# Sampling: factors and stochastic details (cheap, numpy only)
# --------------------------------------------------------------------------------------------

def _check_count(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return int(n)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def withhold_names(withhold: Withhold) -> tuple[str, ...]:
    """Normalise a withheld combination to sorted condition names (chapter 1).

    ``"long hair"`` becomes ``long_hair``.
    Accepts ``None``, ``"glasses+long_hair"`` or ``("glasses", "long hair")``; the names are
    the keys of :data:`CONDITIONS`. A predicate has no name (see :func:`withheld_mask`).
    """
    if withhold is None:
        return ()
    if callable(withhold):
        raise ValueError("withhold: a predicate has no condition names; pass names such as "
                         "'glasses+long_hair' where a name is needed (the cache key, a spec)")
    parts = withhold.split("+") if isinstance(withhold, str) else list(withhold)
    names = []
    for part in parts:
        if not isinstance(part, str):
            raise ValueError(f"withhold must name conditions as strings, got {part!r} in {withhold!r}")
        name = part.strip().lower().replace(" ", "_").replace("-", "_")
        if name not in CONDITIONS:
            raise ValueError(f"withhold: unknown condition {part!r}; "
                             f"allowed: {', '.join(sorted(CONDITIONS))}")
        names.append(name)
    if not names:
        raise ValueError(f"withhold must name at least one condition, got {withhold!r}")
    return tuple(sorted(set(names)))


def withheld_mask(factors: dict, withhold: Withhold) -> np.ndarray:
    """Boolean ``[N]``: which faces show the withheld combination, all its conditions (chapter 1).

    ``factors`` is a dict ``name -> [N]`` as :func:`sample_factors` returns; ``withhold`` names
    the combination as :func:`withhold_names` accepts, or is a predicate ``factors -> [N]``
    bool (None: no face is withheld).
    """
    n = len(factors["head_x"])
    if withhold is None:
        return np.zeros(n, dtype=bool)
    if callable(withhold):
        mask = np.asarray(withhold(factors), dtype=bool)
        if mask.shape != (n,):
            raise ValueError(f"withhold predicate must return a boolean array of shape ({n},), "
                             f"got shape {mask.shape}")
        return mask
    mask = np.ones(n, dtype=bool)
    for name in withhold_names(withhold):
        mask &= CONDITIONS[name](factors)
    return mask


def _draw_factors(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` independent draws of every factor: float32 for continuous, int64 category index.

    Each face takes one row of uniform numbers, so face ``i`` is the same however many are drawn.
    """
    u = rng.random((n, len(FACTORS)))  # [n, F]
    out = {}
    for j, (name, f) in enumerate(FACTORS.items()):
        if f.kind == "continuous":
            out[name] = (f.low + (f.high - f.low) * u[:, j]).astype(np.float32)
        else:  # inverse CDF: the first category whose cumulative probability exceeds u
            cdf = np.cumsum(f.probs)
            out[name] = np.minimum(np.searchsorted(cdf, u[:, j], side="right"),
                                   len(f.values) - 1).astype(np.int64)
    return out


def sample_factors(n: int, seed: int = 0, withhold: Withhold = None) -> dict[str, np.ndarray]:
    """Draw the factors of ``n`` faces, never showing the ``withhold`` combination (chapter 1).

    Args:
        n:        how many faces, an integer >= 0.
        seed:     seeds the draw; face ``i`` is the same for every ``n`` when nothing is
                  withheld.
        withhold: a combination of conditions no face may show, as :func:`withhold_names`
                  accepts, or a predicate (None: every combination may appear).

    Faces that show the withheld combination are dropped and fresh ones drawn in their place
    (rejection sampling), so every other combination keeps its original relative frequency.
    Returns a dict ``name -> array [n]`` following :data:`FACTORS`.
    """
    n, seed = _check_count(n), _check_seed(seed)
    factor_seed, _ = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(factor_seed)
    parts, have = [], 0
    for _ in range(1000):  # bounded: each round keeps the faces that pass
        batch = _draw_factors(rng, max(n - have, 1) * 2 if withhold is not None else n)
        keep = ~withheld_mask(batch, withhold)
        parts.append({k: v[keep] for k, v in batch.items()})
        have += int(keep.sum())
        if have >= n:
            break
    else:
        raise ValueError(f"withhold={withhold!r} rejects (almost) every face; nothing left to draw")
    return {k: np.concatenate([p[k] for p in parts])[:n] for k in FACTORS}


# How many freckles a face can have, and the size of the background texture's random grid.
MAX_FRECKLES, TEXTURE_GRID = 10, 6


def sample_details(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The stochastic detail of ``n`` faces: the part of each image no factor describes (chapter 1).

    ``freckle_xy [n, K, 2]`` positions on the cheeks (in head units), ``freckle_on [n, K]``,
    hair-strand frequency and phase ``[n]``, and a coarse random grid ``texture [n, G, G]``
    (zero mean, unit variance) that becomes the background's blotches. Like the factors, each
    face takes one row of random numbers, so face ``i`` does not depend on ``n``.
    """
    n, seed = _check_count(n), _check_seed(seed)
    _, detail_seed = np.random.SeedSequence(seed).spawn(2)
    k, g = MAX_FRECKLES, TEXTURE_GRID
    u = np.random.default_rng(detail_seed).random((n, 4 + 3 * k + g * g))  # [n, D]
    count = np.where(u[:, 0] < 0.4, 3 + np.floor(u[:, 1] * (k - 2)), 0)  # 40 % have 3..K
    side = np.where(u[:, 4:4 + k] < 0.5, -1.0, 1.0)
    fx = side * (0.2 + 0.42 * u[:, 4 + k:4 + 2 * k])
    fy = 0.02 + 0.30 * u[:, 4 + 2 * k:4 + 3 * k]
    return {
        "freckle_xy": np.stack([fx, fy], axis=-1).astype(np.float32),
        "freckle_on": np.arange(k)[None, :] < count[:, None],
        "strand_freq": (30.0 + 25.0 * u[:, 2]).astype(np.float32),
        "strand_phase": (2 * math.pi * u[:, 3]).astype(np.float32),
        "texture": (math.sqrt(3.0) * (2 * u[:, 4 + 3 * k:] - 1)).reshape(n, g, g).astype(np.float32),
    }


# --------------------------------------------------------------------------------------------
# Drawing: signed distance fields for the whole batch
# --------------------------------------------------------------------------------------------

def _palette(t: torch.Tensor, stops: list[tuple[int, int, int]]) -> torch.Tensor:
    """Piecewise-linear colour ramp: ``t [B]`` in [0, 1] -> RGB ``[B, 3, 1, 1]`` in [0, 1]."""
    table = torch.tensor(stops, dtype=torch.float32) / 255.0  # [S, 3]
    pos = t.clamp(0, 1) * (len(stops) - 1)
    i0 = pos.floor().long().clamp(max=len(stops) - 2)
    frac = (pos - i0).unsqueeze(1)  # [B, 1]
    rgb = table[i0] * (1 - frac) + table[i0 + 1] * frac  # [B, 3]
    return rgb[:, :, None, None]


def _hue_to_rgb(h: torch.Tensor, s: float, v: float) -> torch.Tensor:
    """HSV -> RGB for a batch of hues ``[B]``, fixed saturation and value -> ``[B, 3, 1, 1]``."""
    k = (torch.tensor([5.0, 3.0, 1.0]) + h[:, None] * 6.0) % 6.0  # [B, 3]
    rgb = v - v * s * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
    return rgb[:, :, None, None]


SKIN = [(255, 226, 200), (238, 196, 160), (205, 150, 110), (150, 96, 62), (96, 60, 40)]
HAIR = [(28, 24, 24), (92, 58, 34), (156, 72, 36), (226, 190, 112), (190, 190, 196)]
SHIRT = (70, 86, 120)
INK = (36, 28, 30)
LIPS = (150, 48, 60)


def _rgb(c: tuple[int, int, int]) -> torch.Tensor:
    return torch.tensor(c, dtype=torch.float32).view(1, 3, 1, 1) / 255.0


def _ellipse(x, y, cx, cy, rx, ry):
    """Signed distance to an axis-aligned ellipse, approximately: exact for circles and near
    enough at the edge of the mildly squashed ellipses drawn here (the edge is all that shows)."""
    px, py = (x - cx) / rx, (y - cy) / ry  # [B, 1, 1, R] and [B, 1, R, 1]: cheap
    return (torch.sqrt(px * px + py * py) - 1.0) * torch.minimum(rx, ry)


def _curve(x, y, cx, cy, half_width, height, thickness):
    """Distance to a parabolic stroke through the ends ``(cx ± w, cy)`` sagging ``height`` at cx.

    Positive ``height`` puts the middle lower than the ends (a smile, or a closed eye's lid).
    """
    u = (x - cx) / half_width  # [B, 1, 1, R]
    f = cy + height * (1.0 - u * u)
    slope = -2.0 * height * u / half_width
    d_curve = (y - f).abs() * torch.rsqrt(1.0 + slope * slope) - thickness  # [B, 1, R, R]
    return torch.maximum(d_curve, (x - cx).abs() - half_width)


def _box(x, y, cx, cy, hx, hy, r):
    """Signed distance to a rounded box centred at ``(cx, cy)`` with half sizes ``hx, hy``."""
    qx, qy = (x - cx).abs() - hx + r, (y - cy).abs() - hy + r
    outside = torch.sqrt(qx.clamp_min(0) ** 2 + qy.clamp_min(0) ** 2)
    return outside + torch.maximum(qx, qy).clamp_max(0) - r


class _Canvas:
    """A batch of RGB images in [0, 1] and the pixel grid they are painted on."""

    def __init__(self, batch: int, resolution: int):
        c = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution * 2 - 1
        self.x = c.view(1, 1, 1, resolution)  # [1, 1, 1, R]
        self.y = c.view(1, 1, resolution, 1)  # [1, 1, R, 1]
        self.inv_px = resolution / 2.0  # 1 / pixel size
        self.img = torch.empty(batch, 3, resolution, resolution)

    def cover(self, d: torch.Tensor) -> torch.Tensor:
        """Anti-aliased coverage of a signed distance field: the box-filtered inside."""
        return (0.5 - d * self.inv_px).clamp_(0.0, 1.0)

    def paint(self, d: torch.Tensor, colour: torch.Tensor, where: torch.Tensor | None = None):
        """Paint ``colour`` over the shape ``d <= 0``; ``where [B,1,1,1]`` switches it per face."""
        a = self.cover(d)
        if where is not None:
            a.mul_(where)
        self.img.lerp_(colour.expand_as(self.img) if colour.shape[-1] > 1 else colour, a)


def _column(v: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A per-face value ``[B]`` as ``[B, 1, 1, 1]`` for broadcasting over images."""
    return _vector(v).view(-1, 1, 1, 1)


def _vector(v: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A per-face value ``[B]`` as a float32 tensor."""
    return torch.as_tensor(np.asarray(v), dtype=torch.float32)


def _draw(f: dict, det: dict, resolution: int) -> torch.Tensor:
    """Draw one batch of faces; ``f`` and ``det`` hold ``[B]``-arrays. Returns ``[B, 3, R, R]``."""
    b = len(f["head_x"])
    cv = _Canvas(b, resolution)
    x, y = cv.x, cv.y
    cx, cy = _column(f["head_x"]), _column(f["head_y"])
    ry = _column(f["head_size"])
    rx = ry * _column(f["head_aspect"])
    xm = (x - cx).abs()  # [B, 1, 1, R] distance from the face's centre line: faces are symmetric
    zero = torch.zeros(())
    style = torch.as_tensor(f["hair_style"]).view(-1, 1, 1, 1)
    skin = _palette(_vector(f["skin_tone"]), SKIN)  # [B, 3, 1, 1]
    hair = _palette(_vector(f["hair_colour"]), HAIR)
    lw = 0.018 * ry / 0.5  # line half-thickness, scaled with the head

    # Background: a pastel hue with soft blotches from a coarse random grid.
    bg = _hue_to_rgb(_vector(f["background_hue"]), 0.35, 0.92)
    blotches = torch.nn.functional.interpolate(
        _vector(det["texture"]).unsqueeze(1), size=(resolution, resolution),
        mode="bicubic", align_corners=False)  # [B, 1, R, R]
    torch.mul(bg, 1.0 + 0.07 * blotches, out=cv.img)

    # Hair strands: fine stripes radiating from the crown, brightening and darkening the hair.
    # They fade out near the crown, where they would crowd closer than a pixel and alias.
    dx, dy = x - cx, y - (cy - ry)
    angle = torch.atan2(dy, dx)  # [B, 1, R, R]
    strands = torch.sin(angle * _column(det["strand_freq"]) + _column(det["strand_phase"]))
    fade = (torch.sqrt(dx * dx + dy * dy) / (0.35 * ry)).clamp_(max=1.0)
    hair_px = (hair * (1.0 + 0.18 * strands * fade)).clamp_(0, 1)  # [B, 3, R, R]

    # Shoulders, long hair falling behind, neck, ears, head.
    cv.paint(_ellipse(x, y, cx, cy + 2.05 * ry, 1.9 * rx, 0.75 * ry), _rgb(SHIRT))
    cv.paint(_box(x, y, cx, cy + 0.45 * ry, 1.22 * rx, 1.25 * ry, 0.9 * rx), hair_px,
             (style == 2).float())
    cv.paint(_box(x, y, cx, cy + 1.2 * ry, 0.42 * rx, 0.6 * ry, 0.05), skin * 0.88)
    cv.paint(_ellipse(xm, y, 0.97 * rx, cy + 0.05 * ry, 0.2 * rx, 0.28 * rx), skin * 0.93)
    cv.paint(_ellipse(x, y, cx, cy, rx, ry), skin)

    # Freckles: small dots on the cheeks, a different scatter on every face.
    fxy = _vector(det["freckle_xy"])  # [B, K, 2]
    fx = cx.view(b, 1, 1, 1) + rx.view(b, 1, 1, 1) * fxy[:, :, 0].view(b, -1, 1, 1)  # [B, K, 1, 1]
    fy = cy.view(b, 1, 1, 1) + ry.view(b, 1, 1, 1) * fxy[:, :, 1].view(b, -1, 1, 1)
    fy = torch.where(torch.as_tensor(det["freckle_on"]).view(b, -1, 1, 1), fy, 1e3)  # off: away
    d2 = ((x - fx) ** 2 + (y - fy) ** 2).amin(dim=1, keepdim=True)  # [B, K, R, R] -> [B, 1, R, R]
    cv.paint(torch.sqrt(d2) - 0.022 * ry / 0.46, skin * 0.72)

    # Hair on the head: a cap above a hairline that dips at the temples; a bun adds a knot on top.
    u = (x - cx) / rx
    hairline = cy - ry * (0.38 - 0.32 * u * u)  # [B, 1, 1, R]
    cap = torch.maximum(_ellipse(x, y, cx, cy - 0.04 * ry, 1.07 * rx, 1.07 * ry), y - hairline)
    has_cap = (style != 0).float()
    cv.paint(cap, hair_px, has_cap)
    cv.paint(_ellipse(x, y, cx, cy - 1.08 * ry, 0.36 * rx, 0.3 * ry), hair_px, (style == 3).float())

    # Eyes: whites, iris and a highlight when open; a lid line when closed. Brows above.
    open_ = _column(f["eyes_open"])
    re = 0.15 * rx * _column(f["eye_size"])
    ex, ey = 0.4 * rx, cy - 0.02 * ry  # ex is measured from the centre line (xm)
    cv.paint(_curve(xm, y, ex, ey - 1.55 * re - 0.05 * ry, 1.3 * re, -0.25 * re, 1.4 * lw),
             hair * 0.8)
    cv.paint(_ellipse(xm, y, ex, ey, 1.2 * re, 0.85 * re), _rgb((250, 250, 250)), open_)
    cv.paint(_ellipse(xm, y, ex, ey + 0.05 * re, 0.58 * re, 0.58 * re), _rgb(INK), open_)
    glint_x = ex + torch.sign(x - cx) * 0.2 * re  # [B, 1, 1, R]: both glints to the face's right
    cv.paint(_ellipse(x - cx, y, glint_x, ey - 0.18 * re, 0.18 * re, 0.18 * re),
             _rgb((255, 255, 255)), open_)
    cv.paint(_curve(xm, y, ex, ey, 1.1 * re, 0.35 * re, lw), _rgb(INK), 1 - open_)

    # Nose and mouth: the mouth's sag is the smile (+) or frown (-).
    cv.paint(_ellipse(x, y, cx, cy + 0.2 * ry, 0.09 * rx, 0.06 * ry), skin * 0.82)
    curve = _column(f["mouth_curve"])
    cv.paint(_curve(x, y, cx, cy + 0.5 * ry - 0.06 * ry * curve, 0.32 * rx, 0.13 * ry * curve,
                    1.3 * lw), _rgb(LIPS))

    # Glasses: two rings round the eyes, a bridge, and a faint tint on the lenses.
    on = _column(f["glasses"])
    lens = _ellipse(xm, y, ex, ey, 0.27 * rx, 0.27 * rx)
    cv.paint(lens, _rgb((200, 225, 240)), on * 0.25)
    bridge = _box(x, y, cx, ey - 0.05 * ry, 0.13 * rx, lw, zero)
    cv.paint(torch.minimum(lens.abs() - lw, bridge), _rgb((25, 25, 30)), on)
    return cv.img.clamp_(0.0, 1.0).mul_(2.0).sub_(1.0)  # [B, 3, R, R] in [-1, 1]


def check_resolution(resolution) -> int:
    """Return ``resolution`` if it is a power of two from 8 to 256, else ValueError (chapter 1).

    Faces are drawn at 8² to 256² (:func:`stylegan_tutorial.lod.check_resolution`).
    """
    return lod.check_resolution(resolution, minimum=MIN_RESOLUTION, maximum=MAX_RESOLUTION)


def render_faces(factors: dict, resolution: int = 32, details: dict | None = None,
                 seed: int = 0, chunk: int | None = None,
                 workers: int | None = None) -> torch.Tensor:
    """Draw the faces described by ``factors`` as float images ``[N, 3, R, R]`` in [-1, 1] (chapter 1).

    Args:
        factors:    every factor of :data:`FACTORS`, ``name -> [N]`` (:func:`sample_factors`).
        resolution: ``R``, a power of two from 8 to 256.
        details:    the stochastic detail from :func:`sample_details` (None: drawn from
                    ``seed``); keep it to redraw the same faces with one factor changed.
        seed:       seeds the details when ``details`` is None.
        chunk:      faces drawn at a time (None: 128 at 32², fewer when larger).
        workers:    threads sharing the chunks (None: torch's thread count).

    Speed: faces are drawn ``chunk`` at a time (default: 128 at 32², fewer when larger) so each
    image plane stays in the CPU's cache, and
    the chunks are shared among ``workers`` threads (default: torch's thread count) that each run
    torch single-threaded. The tensors here are small, and splitting each one across threads
    costs more in waiting than it gains, badly so on a busy machine.
    """
    resolution = check_resolution(resolution)
    missing = [k for k in FACTORS if k not in factors]
    if missing:
        raise ValueError(f"factors is missing {missing}; it needs every key of FACTORS")
    chunk = max(2, 2 ** 17 // resolution ** 2) if chunk is None else chunk
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    n = len(factors["head_x"])
    details = sample_details(n, seed) if details is None else details
    out = torch.empty(n, 3, resolution, resolution)

    def draw_chunk(start: int) -> None:
        sl = slice(start, start + chunk)
        with torch.no_grad():
            out[sl] = _draw({k: v[sl] for k, v in factors.items()},
                            {k: v[sl] for k, v in details.items()}, resolution)

    starts = range(0, n, chunk)
    workers = torch.get_num_threads() if workers is None else workers
    with one_thread():  # parallel over chunks instead: faster for these many small ops
        if workers > 1 and len(starts) > 1:
            with ThreadPoolExecutor(min(workers, len(starts))) as pool:
                list(pool.map(draw_chunk, starts))
        else:
            for start in starts:
                draw_chunk(start)
    return out


def make_faces(n: int, resolution: int = 32, seed: int = 0,
               withhold: Withhold = None) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """``n`` faces as ``images [n, 3, R, R]`` in [-1, 1] with their ``factors``, uncached (chapter 1).

    Args:
        n:          how many faces.
        resolution: ``R``, a power of two from 8 to 256.
        seed:       seeds the factors and the details.
        withhold:   a combination no face may show, as :func:`sample_factors` accepts (None:
                    none); a predicate works here, unlike in :func:`cached_faces`.

    Returns ``(images, factors)``, the factors a dict ``name -> [n]``.
    """
    factors = sample_factors(n, seed, withhold)
    return render_faces(factors, resolution, seed=seed), factors


# --------------------------------------------------------------------------------------------
# The on-disk cache: build a large set once, then memory-map it
# --------------------------------------------------------------------------------------------

def default_cache_dir() -> Path:
    """``$STYLEGAN_TUTORIAL_CACHE`` if set, else ``~/.cache/stylegan-tutorial`` (chapter 1)."""
    env = os.environ.get("STYLEGAN_TUTORIAL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "stylegan-tutorial"


def cache_key(n: int, resolution: int, seed: int, withhold: Withhold) -> str:
    """A short hash of everything that determines the images, the generator version included (chapter 1).

    Args:
        n:          how many faces.
        resolution: their size.
        seed:       their seed.
        withhold:   the withheld combination, by name (None: none; a predicate has no name
                    and is a ValueError).

    Returns 16 hex digits.
    """
    spec = {"n": n, "resolution": resolution, "seed": seed,
            "withhold": list(withhold_names(withhold)), "version": GENERATOR_VERSION}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _to_uint8_hwc(images: torch.Tensor) -> np.ndarray:
    """Float ``[B, C, H, W]`` in [-1, 1] -> uint8 ``[B, H, W, C]`` (the storage layout)."""
    return ((images + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def cached_faces(n: int, resolution: int = 32, seed: int = 0, withhold: Withhold = None,
                 cache_dir: str | os.PathLike | None = None,
                 chunk: int = 1024) -> tuple[np.ndarray, dict[str, np.ndarray], Path]:
    """``n`` faces as a read-only memory-mapped uint8 array ``[n, R, R, 3]``, built once on disk (chapter 1).

    Args:
        n:          how many faces, at least 1.
        resolution: ``R``, a power of two from 8 to 256.
        seed:       seeds the factors and the details.
        withhold:   a combination no face may show, by name (None: none).
        cache_dir:  the cache folder (None: :func:`default_cache_dir`).
        chunk:      faces rendered at a time while building the file.

    The file name is :func:`cache_key` of (n, resolution, seed, withhold, generator version), so
    a changed request or a changed generator never reuses stale images. Files are written under a
    temporary name and renamed, so an interrupted build leaves nothing half-written behind.
    Returns ``(images, factors, path)``. A callable ``withhold`` has no name to key the cache by:
    use :func:`make_faces` for those.
    """
    if callable(withhold):
        raise ValueError("withhold: a predicate cannot be cached; use make_faces(...) for it, or "
                         "name the combination, e.g. withhold='glasses+long_hair'")
    n, seed = _check_count(n), _check_seed(seed)
    if n == 0:
        raise ValueError("n must be at least 1 for a cached set, got 0")
    resolution = check_resolution(resolution)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    stem = folder / f"faces-{cache_key(n, resolution, seed, withhold)}"
    path, factor_path = stem.with_suffix(".npy"), stem.with_suffix(".factors.npz")
    factors = sample_factors(n, seed, withhold)
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        details = sample_details(n, seed)
        tmp = folder / f".{stem.name}.{os.getpid()}.tmp.npy"
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                            shape=(n, resolution, resolution, 3))
            for start in range(0, n, chunk):
                sl = slice(start, start + chunk)
                out[sl] = _to_uint8_hwc(render_faces({k: v[sl] for k, v in factors.items()},
                                                     resolution, {k: v[sl] for k, v in details.items()}))
            out.flush()
            del out
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    if not factor_path.exists():  # a small, human-inspectable copy of the factors
        tmp = folder / f".{stem.name}.{os.getpid()}.tmp.npz"
        with open(tmp, "wb") as fh:
            np.savez(fh, **factors)
        os.replace(tmp, factor_path)
    return np.load(path, mmap_mode="r"), factors, path
