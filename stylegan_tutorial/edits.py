"""Edits along measured directions, and how entangled they are, in W and in Z (chapter 13).

Every face the generator draws has known factors, and the oracle reads them back. So a
direction for each factor can be *measured* rather than guessed: draw ``n`` latents, let the
oracle read their faces, and fit a linear model of the factor on the latents.

- a continuous factor (head size, smile, skin tone...) gets the direction of a ridge regression
  of the factor on the latent, the way it grows fastest under a linear model;
- a categorical factor (glasses, open eyes, each hair style) gets the normal of a linear
  classifier's hyperplane, the linear SVM that the separability metric fits
  (:mod:`stylegan_tutorial.metrics.separability`), pointing towards the class;
- the background hue lives on a circle, so no single direction raises it everywhere: its cosine
  and sine are regressed, and the edit moves along the circle's tangent at the face's own hue.

:func:`edit` moves a latent ``amount`` units that way, one unit being the typical spread of the
space along a direction (the RMS of the latents' per-coordinate standard deviations): every
edit takes a step of the same length, so edits of different factors compare fairly. How
*clean* an edit is, is measured too: :func:`entanglement_matrix` edits every factor by a fixed
step and lets the oracle read how far every factor moved, W against Z. A disentangled space
moves the edited factor and leaves the others alone.

Reading 1000 faces takes half a minute on a CPU and the fit 2 s, so :func:`cached_directions`
keeps the measured directions in a file named after the generator's and the oracle's weights
(under ``$STYLEGAN_TUTORIAL_CACHE``); the ``edit`` command's second call on a model reads them
back in about a second.

The regression is a ridge regression (:func:`ridge`, ``alpha = 0.1`` of the latents' mean
variance): with ``alpha`` near 0 the direction leans on the thin directions of W, and the
oracle saw the factors move 10 % to 60 % less for the same step on faces64; with ``alpha``
large it tends to the factor's covariance with the latent, which drags every correlated
factor along.

Measured on faces64 (directions from 400 faces, 32 faces edited by 2 units): in W every edit
moved its own factor more than the mean of the other factors, 2.1 times as much (median over
the 15 edits); in Z 1.3 times, with 4 edits moving the others more. Only the clearest edits
(glasses, the background hue, baldness) beat every other factor; the rest drag something along
(skin tone pulls the oracle's "eyes open", eye size and glasses go together).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from pathlib import Path
from typing import NamedTuple

import torch

from stylegan_tutorial.data.faces import FACTORS, default_cache_dir
from stylegan_tutorial.files import atomic_write_bytes
from stylegan_tutorial.generate import batch_sizes
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.metrics.separability import oracle_attributes
from stylegan_tutorial.oracle import CIRCULAR, Oracle, load_oracle
from stylegan_tutorial.progress import tqdm
from stylegan_tutorial.projection import read_tensor_file, tensor_file_bytes, weights_sha256
from stylegan_tutorial.style_sensitivity import factor_difference

Tensor = torch.Tensor

LATENT_SPACES = ("w", "z")


def _edit_names() -> dict[str, tuple[str, int | None]]:
    """Edit name -> (factor, class): continuous factors by name, a two-class factor by name (towards
    its second class, ``glasses``: on), each class of a larger one as ``factor=class``."""
    names: dict[str, tuple[str, int | None]] = {}
    for name, f in FACTORS.items():
        if f.kind != "categorical":
            names[name] = (name, None)
        elif len(f.values) == 2:
            names[name] = (name, 1)
        else:
            names.update({f"{name}={value}": (name, k) for k, value in enumerate(f.values)})
    return names


EDITS: dict[str, tuple[str, int | None]] = _edit_names()


def check_edit(name: str) -> str:
    """``name`` if it names an edit of :data:`EDITS`, else a ValueError listing them all (chapter 13)."""
    if name not in EDITS:
        raise ValueError(f"unknown factor {name!r}; the known ones are {', '.join(EDITS)}")
    return name


class Directions(NamedTuple):
    """The measured directions of one latent space (chapter 13).

    ``space`` is ``"w"`` or ``"z"``; ``vectors`` maps each edit of :data:`EDITS` to a unit vector
    ``[D]`` (for the hue: the cosine's and the sine's regression coefficients, ``[2, D]``, with
    their intercepts in ``hue_intercepts [2]``); ``unit`` the length of one unit of
    :func:`edit`'s ``amount``, the RMS over coordinates of the sampled latents' standard
    deviation; ``n`` how many faces were read.
    """

    space: str
    vectors: dict[str, Tensor]
    unit: float
    hue_intercepts: Tensor
    n: int


@torch.no_grad()
def read_latents(G: Generator, n: int, seed: int = 0, oracle: Oracle | None = None, batch_size: int = 16,
                 progress: bool = False) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """``n`` latents and the oracle's reading of their faces, ``(z [n, z_dim], w [n, w_dim], pred)`` (ch. 13).

    Faces use the stored noise, so a reading follows the latent alone. ``pred`` is
    :meth:`~stylegan_tutorial.oracle.Oracle.predict`'s output for the ``n`` faces. ``batch_size``
    16: on the CPU, batches of 64 faces at 64² spent a third of their time allocating memory in
    the kernel (measured: 4.7 s of system time for 256 faces against 1.7 s with 16).
    """
    oracle = load_oracle(device=G.w_avg.device) if oracle is None else oracle
    gen = torch.Generator().manual_seed(seed)
    zs, ws, preds = [], [], []
    for b in tqdm(batch_sizes(n, batch_size), desc="reading faces", disable=not progress):
        z = torch.randn(b, G.z_dim, generator=gen).to(G.w_avg.device)  # [b, z_dim]
        w = G.mapping(z)  # [b, w_dim]
        zs.append(z.cpu()), ws.append(w.cpu())
        preds.append({k: v.cpu() for k, v in oracle.predict(G.synthesis(w, noise_mode="fixed")).items()})
    return torch.cat(zs), torch.cat(ws), {k: torch.cat([p[k] for p in preds]) for k in preds[0]}


def ridge(x: Tensor, y: Tensor, alpha: float = 0.1) -> tuple[Tensor, Tensor]:
    """Ridge regression ``y ~ x coef + b``: ``(coef [D, K], b [K])`` of ``x [n, D]``, ``y [n, K]`` (ch. 13).

    ``alpha`` is the penalty relative to the mean variance of ``x``'s columns, so it means the
    same for W and Z.
    """
    x, y = x.double(), y.double()
    mx, my = x.mean(0), y.mean(0)
    xc = x - mx  # [n, D]
    gram = xc.T @ xc  # [D, D]
    penalty = alpha * gram.diagonal().mean()
    coef = torch.linalg.solve(gram + penalty * torch.eye(x.shape[1], dtype=x.dtype), xc.T @ (y - my))
    return coef, my - mx @ coef


def _classifier_normals(x: Tensor, pred: dict[str, Tensor], name: str, seed: int) -> Tensor:
    """The linear SVM's hyperplane normals for factor ``name``: ``[K, D]``, one per class (two: ``[1, D]``).

    The separability metric's labels (:func:`~stylegan_tutorial.metrics.separability.oracle_attributes`)
    and classifier, fitted on every face: a rare class (glasses are on 3 faces in 10) would be
    missing from the most confident half.
    """
    from sklearn.svm import LinearSVC

    y, _ = oracle_attributes(pred)[name]
    values = FACTORS[name].values
    missing = [v for i, v in enumerate(values) if not (y == i).any()]
    if missing:
        raise ValueError(f"the oracle read no face with {name} {' or '.join(missing)} among {len(y)} "
                         f"faces; read more faces (n) to fit its direction")
    svm = LinearSVC(C=1.0, max_iter=5000, random_state=seed).fit(x.double().numpy(), y)
    return torch.as_tensor(svm.coef_)  # [1, D] (two classes: towards the second) or [K, D]


def fit_directions(G: Generator, space: str = "w", n: int = 1000, seed: int = 0,
                   oracle: Oracle | None = None, progress: bool = False,
                   read: tuple | None = None) -> Directions:
    """Measure a direction per edit of :data:`EDITS` in W or Z from ``n`` faces the oracle reads (chapter 13).

    Args:
        G:        the generator.
        space:    ``"w"`` (the mapping's output) or ``"z"`` (its input, for comparison).
        n:        how many faces to read; more gives steadier directions (on faces64, 1000
                  moved the factors a third more than 300 for the same step).
        seed:     seeds the latents and the SVMs.
        oracle:   reads the faces (None: the shipped oracle).
        progress: show a progress bar over the faces.
        read:     the output of :func:`read_latents` to reuse (None: read ``n`` faces).

    Returns the :class:`Directions`.
    """
    if space not in LATENT_SPACES:
        raise ValueError(f"space must be one of {LATENT_SPACES}, got {space!r}")
    z, w, pred = read if read is not None else read_latents(G, n, seed, oracle, progress=progress)
    x = (w if space == "w" else z).double()  # [n, D]
    vectors: dict[str, Tensor] = {}
    hue_intercepts = torch.zeros(2, dtype=torch.float64)
    normals: dict[str, Tensor] = {}
    for edit_name, (name, k) in EDITS.items():
        f = FACTORS[name]
        if f.kind == "categorical":
            if name not in normals:
                normals[name] = _classifier_normals(x, pred, name, seed)
            v = normals[name][0] if len(f.values) == 2 else normals[name][k]
        elif name in CIRCULAR:
            angle = 2 * math.pi * (pred[name].double() - f.low) / (f.high - f.low)
            coef, hue_intercepts = ridge(x, torch.stack([angle.cos(), angle.sin()], 1))  # [D, 2], [2]
            vectors[edit_name] = coef.T  # [2, D], not normalised: the tangent is taken per latent
            continue
        else:
            coef, _ = ridge(x, ((pred[name].double() - f.low) / (f.high - f.low))[:, None])
            v = coef[:, 0]  # [D]
        vectors[edit_name] = v / v.norm().clamp_min(1e-12)
    unit = float(x.var(dim=0).mean().sqrt())  # the RMS of the coordinates' standard deviations
    return Directions(space, {k: v.float() for k, v in vectors.items()}, unit, hue_intercepts.float(), len(x))


# --------------------------------------------------------------------------------------------
# The directions cache: reading 1000 faces takes half a minute on a CPU, fitting on them 2 s
# --------------------------------------------------------------------------------------------

DIRECTIONS_FORMAT = "stylegan-tutorial-directions/1"


def directions_bytes(directions: Directions, info: dict) -> bytes:
    """A directions file's bytes: every vector as safetensors, the rest in its metadata (chapter 13)."""
    tensors = {f"vector.{name}": v.detach().float().cpu().contiguous()
               for name, v in directions.vectors.items()}
    tensors["hue_intercepts"] = directions.hue_intercepts.detach().float().cpu().contiguous()
    meta = {"format": DIRECTIONS_FORMAT, "space": directions.space, "unit": directions.unit,
            "n": directions.n, **info}
    return tensor_file_bytes(tensors, meta)


def _shapes_agree(vectors: dict[str, Tensor], hue_intercepts: Tensor) -> bool:
    """Whether every vector is ``[D]`` (the hue's ``[2, D]``) for one ``D``, intercepts ``[2]``."""
    shapes = {name: tuple(v.shape) for name, v in vectors.items()}
    dims = {shape[-1] for shape in shapes.values() if shape}
    if len(dims) != 1 or tuple(hue_intercepts.shape) != (2,):
        return False
    (d,) = dims
    return all(shape == ((2, d) if EDITS[name][0] in CIRCULAR else (d,)) for name, shape in shapes.items())


def load_directions(path) -> tuple[Directions, dict]:
    """``(directions, metadata)`` of a file :func:`directions_bytes` wrote, else a ValueError (ch. 13).

    Only tensors and JSON are read: nothing in the file is executed.
    """
    path = Path(path)
    tensors, meta = read_tensor_file(path, "a directions file")
    vectors = {name: tensors.get(f"vector.{name}") for name in EDITS}
    if (not isinstance(meta, dict) or meta.get("format") != DIRECTIONS_FORMAT
            or any(v is None for v in vectors.values()) or "hue_intercepts" not in tensors
            or meta.get("space") not in LATENT_SPACES or not isinstance(meta.get("unit"), float)
            or not math.isfinite(meta["unit"]) or meta["unit"] <= 0 or not isinstance(meta.get("n"), int)
            or not _shapes_agree(vectors, tensors["hue_intercepts"])):
        raise ValueError(f"{path} is not a directions file of format {DIRECTIONS_FORMAT!r} "
                         f"with a vector for each of the {len(EDITS)} edits")
    directions = Directions(meta["space"], vectors, meta["unit"], tensors["hue_intercepts"], meta["n"])
    return directions, meta


def _cache_identity(G: Generator, oracle: Oracle, n: int, seed: int) -> dict:
    """What determines the directions: both networks' weights, ``n``, ``seed`` and the format."""
    return {"format": DIRECTIONS_FORMAT, "generator_sha256": weights_sha256(G),
            "oracle_sha256": weights_sha256(oracle), "n": n, "seed": seed, "space": "w"}


class CachedDirections(NamedTuple):
    """:func:`cached_directions`' result: the directions, their cache file, whether measured now (ch. 13)."""

    directions: Directions
    path: Path
    measured: bool


def cached_directions(G: Generator, n: int = 1000, seed: int = 0, oracle: Oracle | None = None,
                      cache_dir=None, refresh: bool = False, progress: bool = False) -> CachedDirections:
    """:func:`fit_directions` in W, cached: a second edit of the same generator is instant (chapter 13).

    The file's name is a hash of everything that determines the directions (the generator's and
    the oracle's weights, ``n``, ``seed``), and its metadata repeats them, so another model or
    another ``n`` never reads it. A file that is not a directions file, or that holds other
    values, is measured again and replaced, with a warning; a cache that cannot be written
    leaves the directions measured, with a warning.

    Args:
        G, n, seed, oracle, progress: as for :func:`fit_directions`.
        cache_dir: the cache folder (None: ``directions/`` in
                   :func:`~stylegan_tutorial.data.faces.default_cache_dir`).
        refresh:   measure again even when the cache holds them.

    Returns a :class:`CachedDirections`.
    """
    oracle = load_oracle(device=G.w_avg.device) if oracle is None else oracle
    identity = _cache_identity(G, oracle, n, seed)
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "directions"
    path = folder / f"directions-{key}.safetensors"
    if path.is_file() and not refresh:
        try:
            directions, meta = load_directions(path)
            if all(meta.get(k) == v for k, v in identity.items()):
                return CachedDirections(directions, path, measured=False)
            warnings.warn(f"{path} holds directions of another model; measuring them again", stacklevel=2)
        except ValueError as err:
            warnings.warn(f"{err}; measuring the directions again", stacklevel=2)
    directions = fit_directions(G, "w", n, seed, oracle, progress=progress)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, directions_bytes(directions, identity))
    except OSError as err:
        warnings.warn(f"could not keep the directions in {folder} ({err.strerror or err}); "
                      f"the next edit measures them again", stacklevel=2)
    return CachedDirections(directions, path, measured=True)


def direction(directions: Directions, name: str, latent: Tensor) -> Tensor:
    """The unit direction of edit ``name`` at ``latent [..., D]``, shape ``[..., D]`` (chapter 13).

    The same vector everywhere, except for the circular hue: there, the tangent of the circle
    at the hue the linear model reads off ``latent``, pointing towards larger hue.
    """
    v = directions.vectors[check_edit(name)].to(latent.device)
    if v.ndim == 1:
        return v.expand_as(latent)
    read = latent.float() @ v.T + directions.hue_intercepts.to(latent.device)  # [..., 2]: cos, sin
    angle = torch.atan2(read[..., 1], read[..., 0])[..., None]  # [..., 1]
    tangent = -angle.sin() * v[0] + angle.cos() * v[1]  # d(cos, sin)/d(angle) pulled back to [..., D]
    return tangent / tangent.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def edit(G: Generator, latent: Tensor, factor: str, amount: float,
         directions: Directions | None = None) -> Tensor:
    """``latent`` moved ``amount`` units along ``factor``'s measured direction (chapter 13).

    Args:
        G:          the generator (used only to measure directions when none are given).
        latent:     ``w [N, w_dim]`` or ``[w_dim]``; ``w+ [N, L, w_dim]`` (three dimensions),
                    whose layers all move alike; or ``z`` with Z's directions.
        factor:     an edit of :data:`EDITS` (``"mouth_curve"``, ``"glasses"``,
                    ``"hair_style=long"``).
        amount:     how far, in units of ``directions.unit`` (the latents' typical spread along
                    a direction); positive raises a continuous factor or moves towards the class.
        directions: :func:`fit_directions`' result (None: measured now in W from 1000 faces).

    Returns the edited latent, of ``latent``'s shape.
    """
    check_edit(factor)
    if not (isinstance(amount, (int, float)) and math.isfinite(amount)):
        raise ValueError(f"amount must be a finite number, got {amount!r}")
    directions = fit_directions(G, "w") if directions is None else directions
    plus = latent.ndim == 3  # w+ [N, L, w_dim]: every layer moves alike
    base = latent.mean(dim=1) if plus else latent  # [N, D]: one hue reading for all layers
    step = amount * directions.unit * direction(directions, factor, base)  # [N, D]
    return latent + (step.unsqueeze(1) if plus else step)


class Entanglement(NamedTuple):
    """:func:`entanglement_matrix`'s result (chapter 13).

    ``matrix [E, F]``: row ``e`` an edit of ``edits``, column ``f`` a factor of ``factors``,
    each entry the mean change of that factor under the edit divided by its mean change between
    two random faces (1: the edit moves that factor as much as drawing another face does). A
    change is the distance between the oracle's readings (the hue round its circle), or for a
    categorical factor whether the class read changes at all.
    ``own`` is each row's entry for the factor it edits; ``space``, ``step`` and ``n`` say how it
    was measured.
    """

    matrix: Tensor
    edits: list[str]
    factors: list[str]
    own: Tensor
    space: str
    step: float
    n: int


def factor_change(pred_a: dict[str, Tensor], pred_b: dict[str, Tensor], name: str) -> Tensor:
    """How far factor ``name`` moved from reading ``a`` to reading ``b``, per face ``[N]`` (chapter 13).

    ``|f(b) - f(a)|`` in the factor's own units (the hue the short way round its circle); for a
    categorical factor 1 where the class read changed, else 0: the oracle's probabilities
    wander with every pixel, its class only when the face changes.
    """
    if FACTORS[name].kind == "categorical":
        return (pred_a[name] != pred_b[name]).double()
    return factor_difference(pred_b, pred_a, name).abs()[:, 0]


@torch.no_grad()
def entanglement_matrix(G: Generator, space: str = "w", step: float = 2.0, n: int = 200, seed: int = 1,
                        directions: Directions | None = None, oracle: Oracle | None = None,
                        batch_size: int = 16, progress: bool = False) -> Entanglement:
    """For each edit by a fixed ``step``, how far the oracle sees every factor move, in W or Z (chapter 13).

    Args:
        G:          the generator.
        space:      ``"w"`` or ``"z"``: where the latents are edited (Z's edits go through the
                    mapping).
        step:       the edit's size, in units of ``directions.unit`` (:func:`edit`).
        n:          faces edited per row (latents from ``seed``, other than the directions').
        seed:       seeds the edited latents.
        directions: :func:`fit_directions` for ``space`` (None: measured now from 1000 faces).
        oracle:     reads the factors (None: the shipped oracle).
        batch_size: faces per forward pass.
        progress:   a progress bar over the edits.

    Returns an :class:`Entanglement`. Every column is divided by that factor's mean change
    between two random faces (face ``i`` against face ``i + 1`` of the unedited set), so the
    columns share one unit and the rows, one step each, are comparable.
    """
    oracle = load_oracle(device=G.w_avg.device) if oracle is None else oracle
    directions = fit_directions(G, space, oracle=oracle) if directions is None else directions
    if directions.space != space:
        raise ValueError(f"directions were measured in {directions.space!r}, not {space!r}")
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.z_dim, generator=gen).to(G.w_avg.device)  # [n, z_dim]
    base = z if space == "z" else G.mapping(z)

    def read(latents: Tensor) -> dict[str, Tensor]:
        parts = [G(x, noise_mode="fixed") if space == "z" else G.synthesis(x, noise_mode="fixed")
                 for x in latents.split(batch_size)]
        return {k: v.cpu() for k, v in oracle.predict(torch.cat(parts)).items()}

    before = read(base)
    factors = list(FACTORS)
    rolled = {k: v.roll(1, dims=0) for k, v in before.items()}
    typical = torch.stack([factor_change(before, rolled, f).mean() for f in factors])  # [F]
    rows = []
    for name in tqdm(EDITS, desc=f"edits in {space.upper()}", disable=not progress):
        after = read(edit(G, base, name, step, directions))
        rows.append(torch.stack([factor_change(before, after, f).mean() for f in factors]) / typical)
    matrix = torch.stack(rows).float()  # [E, F]
    own = torch.stack([matrix[i, factors.index(EDITS[e][0])] for i, e in enumerate(EDITS)])
    return Entanglement(matrix, list(EDITS), factors, own, space, float(step), n)


def format_entanglement(result: Entanglement, digits: int = 2) -> str:
    """The matrix as a Markdown table, the edited factor's own column in bold (chapter 13)."""
    head = "| edit | " + " | ".join(result.factors) + " |"
    lines = [head, "|" + "---|" * (len(result.factors) + 1)]
    for e, row in zip(result.edits, result.matrix):
        own = EDITS[e][0]
        cells = [f"**{v:.{digits}f}**" if f == own else f"{v:.{digits}f}"
                 for f, v in zip(result.factors, row)]
        lines.append(f"| {e} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
