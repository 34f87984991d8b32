"""Projection: the ``w`` (or ``w+``) whose image matches a given image (chapter 13).

To style-mix or edit an image that the generator did not make, one first needs a latent that
makes it. StyleGAN2's projector (Karras et al. 2020, section 5 and appendix D) finds one by
gradient descent through the frozen generator:

    w* = argmin_w  d(g(w, n), x) + lambda_n * R(n)

- the search starts at ``w_avg``, the centre of W, where the generator is most at home;
- ``space="w"`` optimises one ``w [w_dim]`` for every layer (the latents the generator was
  trained on); ``space="w+"`` one per layer, ``w+ [num_layers, w_dim]``, which fits more
  images but leaves the region of W whose edits behave (the fidelity/editability trade);
- the learning rate rises over the first 5 % of the steps and falls to 0 along a cosine over
  the last 25 % (:func:`learning_rate`);
- StyleGAN2 also adds Gaussian noise to ``w`` early on, decaying quadratically to 0 at 75 % of
  the steps (:func:`w_noise_scale`), a coarse-to-fine search that should not lock onto the
  first basin near ``w_avg``. Here it is off by default (``w_noise_factor=0``; StyleGAN2 uses
  0.05): on the course's faces it only cost PSNR, more the more noise (measured at 300 steps
  on three dataset faces: 25.8 dB on average without, 25.6 with 0.02, 25.2 with 0.05; on an
  image of faces64 38.9, 38.0 with 0.02);
- the distance ``d`` is the pixels' mean squared error plus 0.1 times the mean squared distance
  between the oracle's features (the stand-in for LPIPS, whose VGG weights would have to be
  downloaded: this module never downloads, so LPIPS is left out). The features cost some PSNR
  (0.3 dB on dataset faces, 1.3 dB on an image of faces64 against weight 0.01) and keep what
  the oracle reads: on dataset faces (150 steps) the reconstruction's continuous factors were
  0.04 to 0.08 of their range from the target's with them, 0.18 to 0.29 with pixels alone;
- the noise maps ``n`` are the generator's stored ones (the default: what ``generate`` draws
  with), zero, or optimised too (``noise="optimize"``). Optimised noise could paint the image
  by itself, so each map is renormalised to zero mean and unit variance after every step and
  the regulariser ``R`` penalises its autocorrelation at every scale
  (:func:`noise_regularization`): white noise costs nothing, a map that carries an image's
  structure costs a lot. Without it (a dataset face, faces64, 200 steps) the PSNR rose to
  30.9 dB, but the same latent drawn with the stored noise fell to 19.8: the maps, not ``w``,
  held the face.

The defaults (300 steps of Adam at ``lr = 0.1``, the stored noise, feature weight 0.1) put an
image that faces64 made back at 45 dB and a face of the dataset at 25 dB, in 11 s on an idle
2-core CPU; a dataset face is within 1 dB of its plateau after 600 steps (22 s).
``benchmarks/bench_projection.py`` measures the curve (``benchmarks/projection.md``).

:func:`project_known` checks all this where the answer is known: images that the generator made
from known ``w``, so the found ``w`` can be compared with the true one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load, save

from stylegan_tutorial.data.faces import FACTORS
from stylegan_tutorial.data.prepare import prepare_image
from stylegan_tutorial.generate import z_from_seeds
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.oracle import Oracle, load_oracle
from stylegan_tutorial.progress import tqdm

Tensor = torch.Tensor

SPACES = ("w", "w+")  # one w for every layer, or one per layer
NOISE_CHOICES = ("stored", "none", "optimize")  # the generator's stored maps, zero maps, optimised maps
LATENT_FORMAT = "stylegan-tutorial-latent/1"
_META_KEY = "stylegan_tutorial"
HISTORY = ("loss", "pixel", "features", "noise_reg", "lr", "psnr", "seconds")  # Projection.history's lists
ODD_ASPECT = 1.25  # a longer side this much longer than the shorter: the crop is worth saying


class Projection(NamedTuple):
    """What :func:`project` found (chapter 13).

    ``latent`` is ``w [w_dim]`` (``space="w"``) or ``w+ [num_layers, w_dim]``; ``noise`` the
    noise maps the reconstruction used, one ``[1, 1, r, r]`` per noise layer; ``reconstruction``
    the generator's image of both, ``[3, R, R]`` (not clamped); ``history`` one list per term,
    one entry per step: ``loss``, ``pixel``, ``features``, ``noise_reg``, ``lr``, ``psnr``
    (of that step's image, which early on carries the added noise on ``w``) and ``seconds``
    (since the loop began).
    """

    latent: Tensor
    space: str
    noise: list[Tensor]
    reconstruction: Tensor
    history: dict[str, list[float]]

    @property
    def ws(self) -> Tensor:
        """The latent as ``ws [1, num_layers, w_dim]`` or ``w [1, w_dim]``, ready for the synthesis."""
        return self.latent.unsqueeze(0)


# --------------------------------------------------------------------------------------------
# Measuring the match
# --------------------------------------------------------------------------------------------


def psnr(a: Tensor, b: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB of images in [-1, 1], ``[..., C, H, W]`` -> ``[...]`` (chapter 13).

    Both are clamped to [-1, 1] first, as a PNG would clamp them; the peak is the range, 2, so
    ``PSNR = 10 log10(4 / MSE)``, which equals the usual ``10 log10(255² / MSE)`` of the same
    images as uint8. Identical images give ``inf``.
    """
    if a.shape != b.shape or a.ndim < 3:
        raise ValueError(f"a and b must be images [..., C, H, W] of one shape, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    mse = (a.double().clamp(-1, 1) - b.double().clamp(-1, 1)).square().mean(dim=(-3, -2, -1))
    return 10 * torch.log10(4.0 / mse)


def oracle_factors(oracle: Oracle, images: Tensor) -> list[dict]:
    """The oracle's reading of every factor, one JSON-able dict per image of ``[N, 3, R, R]`` (chapter 13).

    Continuous factors as numbers in their own units (4 decimals), categorical ones as the
    class's name (``"glasses": "on"``).
    """
    pred = oracle.predict(images.float())
    rows = []
    for i in range(len(images)):
        row = {}
        for name, f in FACTORS.items():
            value = pred[name][i]
            row[name] = f.values[int(value)] if f.kind == "categorical" else round(float(value), 4)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# The schedule of StyleGAN2's projector
# --------------------------------------------------------------------------------------------


def learning_rate(t: float, lr: float, rampup: float = 0.05, rampdown: float = 0.25) -> float:
    """The learning rate at fraction ``t`` in [0, 1] of the steps (chapter 13).

    Linear warm-up over the first ``rampup`` of the steps, then ``lr``, then down to 0 along
    half a cosine over the last ``rampdown``: ``lr * min(1, t/up) * (1 - cos(pi min(1, (1-t)/down)))/2``.
    """
    ramp = min(1.0, (1.0 - t) / rampdown) if rampdown > 0 else 1.0
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return lr * ramp * (min(1.0, t / rampup) if rampup > 0 else 1.0)


def w_noise_scale(t: float, w_std: float, factor: float = 0.05, ramp: float = 0.75) -> float:
    """The scale of the Gaussian noise added to ``w`` at fraction ``t`` of the steps (chapter 13).

    ``w_std * factor * max(0, 1 - t/ramp)²``: it starts at ``factor`` times the spread of W
    and is gone after ``ramp`` of the steps.
    """
    return w_std * factor * max(0.0, 1.0 - t / ramp) ** 2


@torch.no_grad()
def w_spread(G: Generator, n: int = 2000, seed: int = 0) -> float:
    """``sqrt(E ||w - w_avg||²)`` over ``n`` mapped latents: how far a ``w`` lies from the centre (ch. 13).

    The projector scales its noise on ``w`` by it, as StyleGAN2's does.
    """
    dev = G.w_avg.device
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed)).to(dev)
    w = G.mapping(z)  # [n, w_dim]
    return float((w - G.w_avg).square().sum(dim=1).mean().sqrt())


# --------------------------------------------------------------------------------------------
# Noise maps: stored, swapped in, regularised
# --------------------------------------------------------------------------------------------


def _noise_layers(G: Generator) -> list:
    """The generator's noise inputs (``NoiseInjection`` modules), in layer order."""
    return [layer.noise for layer in G.synthesis.layers if layer.noise is not None]


def stored_noise(G: Generator) -> list[Tensor]:
    """Copies of the generator's stored noise maps, ``[1, 1, r, r]`` per noise layer (chapter 13)."""
    return [m.noise.detach().clone() for m in _noise_layers(G)]


@contextmanager
def noise_maps(G: Generator, maps: Sequence[Tensor]) -> Iterator[None]:
    """Inside the block, ``noise_mode="fixed"`` uses ``maps`` instead of the stored noise (chapter 13).

    ``maps`` is one ``[1, 1, r, r]`` per noise layer (:func:`stored_noise`'s shapes); they may
    require gradients, which is how the projector optimises them. The stored maps come back
    afterwards, whatever happens inside.
    """
    layers = _noise_layers(G)
    if len(maps) != len(layers) or any(m.shape != l.noise.shape for m, l in zip(maps, layers)):
        raise ValueError(f"maps must be {len(layers)} noise maps of shapes "
                         f"{[tuple(l.noise.shape) for l in layers]}, got {[tuple(m.shape) for m in maps]}")
    saved = [l.noise for l in layers]
    try:
        for layer, m in zip(layers, maps):
            layer.noise = m  # a registered buffer: nn.Module swaps it in place of the stored one
        yield
    finally:
        for layer, m in zip(layers, saved):
            layer.noise = m


def noise_regularization(maps: Sequence[Tensor], smallest: int = 8) -> Tensor:
    """StyleGAN2's noise regulariser: squared autocorrelation at 1-pixel shifts, at every scale (chapter 13).

    For each map ``[1, 1, r, r]``: the mean of ``n * roll(n, 1)`` along x and along y, squared,
    then the map is 2×2-averaged and measured again, down to ``smallest``². White noise scores
    about ``1/r²`` per term; a smooth map (one that carries an image) about 1.
    """
    total = torch.zeros(())
    for n in maps:
        n = n.reshape(1, 1, *n.shape[-2:])
        while True:
            total = total + (n * torch.roll(n, shifts=1, dims=3)).mean().square()
            total = total + (n * torch.roll(n, shifts=1, dims=2)).mean().square()
            if n.shape[-1] <= smallest:
                break
            n = F.avg_pool2d(n, 2)
    return total


@torch.no_grad()
def normalize_noise_(maps: Sequence[Tensor]) -> None:
    """Renormalise each map in place to zero mean and unit variance (chapter 13)."""
    for n in maps:
        n -= n.mean()
        n *= n.square().mean().rsqrt()


# --------------------------------------------------------------------------------------------
# The projector
# --------------------------------------------------------------------------------------------


@contextmanager
def _frozen(*modules: torch.nn.Module) -> Iterator[None]:
    """No parameter gradients for ``modules`` inside the block (their flags come back after)."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def check_target(G: Generator, target: Tensor) -> Tensor:
    """``target`` as ``[3, R, R]`` at ``G``'s resolution on ``G``'s device, else ValueError (chapter 13)."""
    res = G.config.resolution
    if not isinstance(target, Tensor) or tuple(target.shape) != (G.config.img_channels, res, res):
        shape = tuple(target.shape) if isinstance(target, Tensor) else type(target).__name__
        raise ValueError(f"target must be an image [{G.config.img_channels}, {res}, {res}] in [-1, 1] "
                         f"(the generator's resolution), got {shape}")
    return target.detach().float().to(G.w_avg.device)


def _distance(image: Tensor, target: Tensor, target_features: Tensor | None, oracle: Oracle | None,
              pixel_weight: float, feature_weight: float) -> tuple[Tensor, Tensor, Tensor]:
    """``(distance, pixel MSE, feature distance)`` of ``image [1, 3, R, R]`` to the target."""
    pixel = (image - target).square().mean()
    features = torch.zeros((), device=image.device)
    if oracle is not None and feature_weight > 0:
        feats, _ = oracle(image)  # [1, F]
        features = (feats - target_features).square().mean()
    return pixel_weight * pixel + feature_weight * features, pixel, features


def project(
    G: Generator,
    target: Tensor,
    space: str = "w",
    steps: int = 300,
    lr: float = 0.1,
    noise: str = "stored",
    pixel_weight: float = 1.0,
    feature_weight: float = 0.1,
    noise_reg_weight: float = 1e5,
    w_noise_factor: float = 0.0,
    oracle: Oracle | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Projection:
    """Optimise ``w`` or ``w+`` so that ``G`` draws ``target``, as StyleGAN2's projector does (chapter 13).

    Args:
        G:                the generator; its weights are not changed.
        target:           the image ``[3, R, R]`` in [-1, 1] at ``G``'s resolution.
        space:            ``"w"``: one ``w`` for all layers; ``"w+"``: one per layer.
        steps:            optimisation steps (Adam, betas 0.9 and 0.999).
        lr:               the peak learning rate of :func:`learning_rate`'s ramp.
        noise:            ``"stored"``: the generator's stored maps (what ``generate`` draws
                          with); ``"none"``: zero maps; ``"optimize"``: start from the stored
                          maps and optimise them with ``w`` (renormalised each step,
                          regularised by :func:`noise_regularization`).
        pixel_weight:     weight of the pixels' mean squared error.
        feature_weight:   weight of the mean squared distance of the oracle's features (0: pixels
                          only, and the oracle is not loaded).
        noise_reg_weight: weight of the noise regulariser (used only when optimising noise).
        w_noise_factor:   the noise added to ``w`` starts at this fraction of W's spread
                          (:func:`w_noise_scale`; 0: none).
        oracle:           the feature network (None: the shipped oracle, if ``feature_weight > 0``).
        seed:             seeds the noise added to ``w`` and the spread's sample.
        progress:         show a progress bar.

    Returns a :class:`Projection`. The target is detached: only the latent (and the noise maps,
    if optimised) receive gradients.
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    if noise not in NOISE_CHOICES:
        raise ValueError(f"noise must be one of {NOISE_CHOICES}, got {noise!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    target = check_target(G, target).unsqueeze(0)  # [1, 3, R, R], no gradient
    if oracle is None and feature_weight > 0:
        oracle = load_oracle(device=target.device)
    with _frozen(G, *([oracle] if oracle is not None else [])):
        return _optimise(G, target, space, steps, lr, noise, pixel_weight, feature_weight,
                         noise_reg_weight, w_noise_factor, oracle, seed, progress)


def _starting_point(G: Generator, space: str, noise: str) -> tuple[Tensor, list[Tensor]]:
    """``w_avg`` as the latent to optimise (``[1, w_dim]`` or ``[1, L, w_dim]``) and the noise maps.

    The maps are the stored ones, zeros (``noise="none"``), or the stored ones renormalised and
    requiring gradients (``noise="optimize"``).
    """
    latent = G.w_avg.detach().clone().view(1, -1)  # [1, w_dim]
    if space == "w+":
        latent = latent.unsqueeze(1).repeat(1, G.num_layers, 1)  # [1, L, w_dim]
    maps = stored_noise(G) if noise != "none" else [torch.zeros_like(m) for m in stored_noise(G)]
    if noise == "optimize":
        normalize_noise_(maps)
        maps = [m.requires_grad_(True) for m in maps]
    return latent.requires_grad_(True), maps


def _optimise(G, target, space, steps, lr, noise, pixel_weight, feature_weight, noise_reg_weight,
              w_noise_factor, oracle, seed, progress) -> Projection:
    """The loop of :func:`project`, with its arguments checked and the networks frozen."""
    gen = torch.Generator().manual_seed(seed)
    w_std = w_spread(G, seed=seed) if w_noise_factor > 0 else 0.0
    latent, maps = _starting_point(G, space, noise)
    with torch.no_grad():
        target_features = oracle(target)[0] if oracle is not None and feature_weight > 0 else None
    opt = torch.optim.Adam([latent] + (maps if noise == "optimize" else []), lr=lr, betas=(0.9, 0.999))
    history: dict[str, list[float]] = {k: [] for k in HISTORY}
    start = time.perf_counter()
    with noise_maps(G, maps):
        for step in tqdm(range(steps), desc=f"projecting ({space})", disable=not progress):
            t = step / steps
            for group in opt.param_groups:
                group["lr"] = learning_rate(t, lr)
            scale = w_noise_scale(t, w_std, w_noise_factor)  # 0 once the ramp is over
            w_noise = torch.randn(latent.shape, generator=gen).to(latent.device) * scale
            image = G.synthesis(latent + w_noise, noise_mode="fixed")  # [1, 3, R, R]
            dist, pixel, feats = _distance(image, target, target_features, oracle, pixel_weight,
                                           feature_weight)
            reg = noise_regularization(maps) if noise == "optimize" else torch.zeros(())
            loss = dist + noise_reg_weight * reg
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if noise == "optimize":
                normalize_noise_(maps)
            values = (loss, pixel, feats, reg, learning_rate(t, lr), psnr(image.detach()[0], target[0]),
                      time.perf_counter() - start)  # in the order of HISTORY
            for key, value in zip(HISTORY, values):
                history[key].append(float(value.detach()) if isinstance(value, Tensor) else float(value))
        with torch.no_grad():
            reconstruction = G.synthesis(latent, noise_mode="fixed")[0]  # [3, R, R]
    return Projection(latent.detach()[0], space, [m.detach() for m in maps], reconstruction, history)


@torch.no_grad()
def render(G: Generator, ws: Tensor, noise: Sequence[Tensor] | None = None) -> Tensor:
    """``G``'s images ``[N, 3, R, R]`` of ``ws`` drawn with ``noise`` maps (chapter 13).

    ``ws`` is ``w [N, w_dim]`` or ``w+ [N, L, w_dim]``; ``noise`` one map per noise layer (None:
    the stored maps, what ``generate`` draws with).
    """
    ws = ws.to(G.w_avg.device)
    if noise is None:
        return G.synthesis(ws, noise_mode="fixed")
    with noise_maps(G, [m.to(ws.device) for m in noise]):
        return G.synthesis(ws, noise_mode="fixed")


# --------------------------------------------------------------------------------------------
# Where the answer is known
# --------------------------------------------------------------------------------------------


def latent_distance(found: Tensor, true: Tensor) -> float:
    """``||w_found - w_true||``; for ``w+ [L, w_dim]`` vs ``w [w_dim]``, the mean over layers (ch. 13)."""
    diff = found - true  # [w_dim] or [L, w_dim] (true broadcast to every layer)
    return float(diff.norm(dim=-1).mean())


def project_known(G: Generator, seeds: Sequence[int], space: str = "w", oracle: Oracle | None = None,
                  progress: bool = False, **settings) -> list[dict]:
    """Project images that ``G`` made from known ``w`` (stored noise) and compare (chapter 13).

    Args:
        G:        the generator.
        seeds:    one image per seed, of ``w = G.mapping(z)`` with ``z`` from
                  :func:`~stylegan_tutorial.generate.z_from_seeds`.
        space:    ``"w"`` or ``"w+"``.
        oracle:   reads the factors and supplies the features (None: the shipped oracle).
        progress: a progress bar per projection.
        settings: passed on to :func:`project` (``steps``, ``noise``, weights...).

    Returns one dict per seed: ``seed``, ``psnr`` (dB), ``psnr_start`` (of ``w_avg``'s image,
    where the search begins), ``w_distance`` (``||w_found - w_true||``, per layer and averaged
    for ``w+``), ``w_distance_start`` (``||w_avg - w_true||``), ``factors_target`` and
    ``factors_reconstruction`` (:func:`oracle_factors`), ``factors_agree`` (how many of the
    categorical factors match), ``seconds``, and the images themselves: ``target`` and
    ``reconstruction`` (``[3, R, R]`` tensors, for a figure).
    """
    oracle = load_oracle(device=G.w_avg.device) if oracle is None else oracle
    rows = []
    for seed in seeds:
        with torch.no_grad():
            w_true = G.mapping(z_from_seeds([seed], G.z_dim).to(G.w_avg.device))[0]  # [w_dim]
            target = render(G, w_true[None])[0]  # [3, R, R]
            start = render(G, G.w_avg[None])[0]
        t0 = time.perf_counter()
        found = project(G, target, space, oracle=oracle, progress=progress, **settings)
        seconds = time.perf_counter() - t0
        f_t, f_r = oracle_factors(oracle, torch.stack([target, found.reconstruction]))
        cats = [k for k, f in FACTORS.items() if f.kind == "categorical"]
        rows.append({"seed": int(seed), "psnr": float(psnr(found.reconstruction, target)),
                     "psnr_start": float(psnr(start, target)),
                     "w_distance": latent_distance(found.latent, w_true),
                     "w_distance_start": latent_distance(G.w_avg, w_true),
                     "factors_target": f_t, "factors_reconstruction": f_r,
                     "factors_agree": sum(f_t[k] == f_r[k] for k in cats), "seconds": seconds,
                     "target": target, "reconstruction": found.reconstruction})
    return rows


# --------------------------------------------------------------------------------------------
# Reading a user's image; storing a latent
# --------------------------------------------------------------------------------------------


class Target(NamedTuple):
    """An image file as the generator sees it (chapter 13): ``image [3, R, R]`` in [-1, 1],
    ``size`` (the file's width and height) and ``note`` (what was done to it, "" if nothing)."""

    image: Tensor
    size: tuple[int, int]
    note: str


def read_image(path, resolution: int) -> Target:
    """An image file as ``prepare-data`` reads it: RGB, centre-cropped, LANCZOS to ``resolution``² (ch. 13).

    Greyscale, palette, transparent (laid over white) and 16-bit images are converted
    (:func:`~stylegan_tutorial.data.prepare.to_rgb`). Raises FileNotFoundError for a missing
    file and ValueError for one that is not an image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            size = img.size
            array = prepare_image(img, resolution)  # [R, R, 3] uint8
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{path} is not an image that can be read ({err})") from None
    w, h = size
    notes = []
    if max(w, h) > ODD_ASPECT * min(w, h):
        side = min(w, h)
        notes.append(f"{path.name} is {w}x{h}, far from square: its centre {side}x{side} was kept")
    if min(w, h) < resolution:
        notes.append(f"{path.name} is smaller than {resolution}² and was enlarged (it will look blurry)")
    image = torch.tensor(array).permute(2, 0, 1).float() / 127.5 - 1.0  # [3, R, R]
    return Target(image, size, "; ".join(notes))


def network_config(G: Generator) -> dict:
    """``G``'s network configuration as a JSON-able dict (what a stored latent records) (chapter 13)."""
    return json.loads(json.dumps(dataclasses.asdict(G.config)))


def weights_sha256(G: Generator) -> str:
    """A fingerprint of ``G``'s weights: sha256 over its state's names and float32 bytes (chapter 13).

    Two generators of one configuration draw different faces from one latent if their weights
    differ; a latent file records this so that ``edit`` can say so.
    """
    digest = hashlib.sha256()
    for name, value in sorted(G.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def latent_bytes(G: Generator, latent: Tensor, space: str, noise: Sequence[Tensor], info: dict) -> bytes:
    """A latent file's bytes: safetensors of ``latent``, the noise maps and ``G``'s configuration (ch. 13).

    ``info`` (the source checkpoint, the image...) goes into the metadata beside the format,
    the space, the configuration (which :func:`load_latent` checks) and the weights'
    fingerprint (:func:`weights_sha256`).
    """
    tensors = {"latent": latent.detach().float().cpu().contiguous()}
    tensors.update({f"noise.{i}": m.detach().float().cpu().contiguous() for i, m in enumerate(noise)})
    meta = {"format": LATENT_FORMAT, "space": space, "config": network_config(G),
            "weights_sha256": weights_sha256(G), **info}
    return tensor_file_bytes(tensors, meta)


def tensor_file_bytes(tensors: dict[str, Tensor], meta: dict) -> bytes:
    """safetensors bytes of ``tensors`` with the JSON document ``meta`` in the header (chapter 13).

    The layout of the latent files here and the directions files of :mod:`~stylegan_tutorial.edits`.
    """
    return save(tensors, metadata={_META_KEY: json.dumps(meta)})


def read_tensor_file(path: Path, what: str) -> tuple[dict[str, Tensor], object]:
    """``(tensors, document)`` of a file :func:`tensor_file_bytes` wrote, else a ValueError (ch. 13).

    ``what`` names the expected kind of file in the message (``"a directions file"``). Only
    tensors and JSON are read: nothing in the file is executed. The document is whatever JSON
    the header holds (None if none); its caller checks it.
    """
    try:
        data = path.read_bytes()
        tensors = load(data)
        size = int.from_bytes(data[:8], "little")
        meta = json.loads(json.loads(data[8:8 + size]).get("__metadata__", {}).get(_META_KEY, "null"))
    except (SafetensorError, ValueError, OSError, AttributeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not {what} ({err})") from None
    return tensors, meta


def load_latent(path, G: Generator) -> tuple[Tensor, list[Tensor], dict]:
    """``(latent, noise maps, metadata)`` of a latent file written for ``G``'s configuration (chapter 13).

    Raises FileNotFoundError if it is missing, ValueError if it is not a latent file or was
    made for a generator of another configuration (the message names both).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such latent file: {path}")
    tensors, meta = read_tensor_file(path, "a latent file that `stylegan-tutorial project` wrote")
    if not isinstance(meta, dict) or meta.get("format") != LATENT_FORMAT or "latent" not in tensors:
        raise ValueError(f"{path} is not a latent file that `stylegan-tutorial project` wrote "
                         f"(format {LATENT_FORMAT!r})")
    ours = network_config(G)
    if meta.get("config") != ours:
        theirs = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        changed = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        raise ValueError(f"{path} was projected with a generator of configuration {theirs.get('name')!r}, "
                         f"this one is {ours['name']!r} (they differ in {', '.join(changed)}): "
                         f"project the image again with this generator")
    latent, layers = tensors["latent"], _noise_layers(G)
    shape = (G.w_dim,) if meta.get("space") == "w" else (G.num_layers, G.w_dim)
    noise = [tensors.get(f"noise.{i}") for i in range(len(layers))]
    misshapen = any(m is None or m.shape != l.noise.shape for m, l in zip(noise, layers))
    if tuple(latent.shape) != shape or misshapen:
        raise ValueError(f"{path} is damaged: its latent or noise maps do not have the shapes its "
                         f"configuration implies (latent {shape})")
    return latent, noise, meta

