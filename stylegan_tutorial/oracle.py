"""The oracle: a small CNN that reads the known factors back out of a face (chapter 11).

The paper measures its generators with networks trained on real photographs (Inception for FID,
VGG for path length, 40 CelebA attribute classifiers for separability). Those weights come from
the internet; the course's faces come with something better: every image's *true* factors. So the
package trains its own judge on the generated faces, ships its weights (a few hundred kB) and the
metrics in :mod:`stylegan_tutorial.metrics` use it in three ways:

- :meth:`Oracle.features` (the penultimate layer, ``[N, 128]``) is the feature space for Fréchet
  distance, KID and perceptual path length, the role Inception and VGG play in the paper;
- :meth:`Oracle.predict` gives every factor of :data:`~stylegan_tutorial.data.faces.FACTORS`:
  a number for continuous factors, a class for categorical ones (separability, mixing table);
- its held-out accuracy and R² per factor are in the manifest beside the weights, which ship
  with the package as ``oracle-faces32`` (:mod:`stylegan_tutorial.shipped`).

Inputs of any size are brought to 32² first (box-averaged when larger, bilinear when smaller),
so the oracle judges 32² and 64² generators alike.

Heads: continuous factors are regressed after scaling their range to [0, 1]; the background hue
lives on a circle (hue 0 and hue 1 are the same red), so it is regressed as
``(cos 2 pi h, sin 2 pi h)`` and read back with ``atan2``; categorical factors get logits.
"""

from __future__ import annotations

import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from stylegan_tutorial import shipped
from stylegan_tutorial.data.faces import FACTORS, make_faces, render_faces, sample_details
from stylegan_tutorial.progress import tqdm

Tensor = torch.Tensor

RESOLUTION = 32  # the oracle sees every image at 32²
CIRCULAR = ("background_hue",)  # continuous factors that wrap around (1.0 == 0.0)
NAME = "oracle-faces32"  # its name in stylegan_tutorial.shipped.SHIPPED


def head_layout() -> dict[str, slice]:
    """Which outputs of the head belong to which factor, in :data:`FACTORS` order (chapter 11).

    Continuous: 1 output (2 for a circular one: cos, sin); categorical: one logit per category.
    """
    layout, start = {}, 0
    for name, f in FACTORS.items():
        width = len(f.values) if f.kind == "categorical" else (2 if name in CIRCULAR else 1)
        layout[name] = slice(start, start + width)
        start += width
    return layout


def to_oracle_input(images: Tensor) -> Tensor:
    """``[N, 3, H, W]`` images in [-1, 1] -> ``[N, 3, 32, 32]``, clamped to [-1, 1] (chapter 11).

    Larger images are box-averaged (exactly how the dataset pools 64² to 32²); smaller ones are
    upsampled bilinearly. Generator outputs are not clamped, the images a reader sees are.
    """
    if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor [N, 3, H, W] (RGB in [-1, 1]), got {shape}")
    images = images.float().clamp(-1.0, 1.0)
    size = images.shape[-1]
    if images.shape[-2] != size:
        raise ValueError(f"images must be square, got {images.shape[-2]}x{size}")
    if size > RESOLUTION:
        return F.adaptive_avg_pool2d(images, RESOLUTION)  # [N, 3, 32, 32]
    if size < RESOLUTION:
        return F.interpolate(images, size=RESOLUTION, mode="bilinear", align_corners=False)
    return images


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution, batch norm, leaky ReLU: the oracle's only building block."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.LeakyReLU(0.2))


class Oracle(nn.Module):
    """A ~270k-parameter CNN: 32² -> 16² -> 8² -> 4², a feature layer, one linear head (chapter 11).

    ``feature_dim`` is the width F of the feature layer (128).

    The 4x4 map is flattened (not averaged) so the features keep *where* things are: head
    position is one of the factors.
    """

    def __init__(self, feature_dim: int = 128):
        super().__init__()
        self.layout = head_layout()
        n_out = max(s.stop for s in self.layout.values())
        self.body = nn.Sequential(
            _conv(3, 32), nn.AvgPool2d(2),                   # [N, 32, 16, 16]
            _conv(32, 64), _conv(64, 64), nn.AvgPool2d(2),   # [N, 64, 8, 8]
            _conv(64, 80), nn.AvgPool2d(2),                  # [N, 80, 4, 4]
            nn.Flatten(),                                    # [N, 1280]
            nn.Linear(80 * 16, feature_dim), nn.LeakyReLU(0.2),  # [N, F]
        )
        self.head = nn.Linear(feature_dim, n_out)

    @property
    def feature_dim(self) -> int:
        """F, the width of the feature layer (chapter 11)."""
        return self.head.in_features

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``images [N, 3, H, W]`` -> ``(features [N, F], raw head outputs [N, n_out])`` (chapter 11)."""
        feats = self.body(to_oracle_input(images))
        return feats, self.head(feats)

    @torch.no_grad()
    def features(self, images: Tensor, batch_size: int = 512) -> Tensor:
        """The penultimate layer ``[N, F]``: the feature space of FD, KID and path length (chapter 11).

        ``images [N, 3, H, W]`` in [-1, 1] go through in chunks of ``batch_size``.
        """
        return torch.cat([self(chunk)[0] for chunk in images.split(batch_size)])

    @torch.no_grad()
    def predict(self, images: Tensor, batch_size: int = 512) -> dict[str, Tensor]:
        """Every factor's prediction ``[N]``: values in the factor's units, or class indices (chapter 11).

        ``images [N, 3, H, W]`` in [-1, 1] go through in chunks of ``batch_size``. Also
        ``"<name>_prob" [N, K]`` (softmax) for each categorical factor.
        """
        out = torch.cat([self(chunk)[1] for chunk in images.split(batch_size)])
        return decode(out, self.layout)


def decode(out: Tensor, layout: dict[str, slice]) -> dict[str, Tensor]:
    """Raw head outputs ``[N, n_out]`` -> ``{factor: [N]}`` in the factor's own units (chapter 11).

    ``layout`` is :func:`head_layout`. Categorical factors also get ``"<name>_prob" [N, K]``.
    """
    pred = {}
    for name, sl in layout.items():
        f, o = FACTORS[name], out[:, sl]
        if f.kind == "categorical":
            pred[name] = o.argmax(dim=1)
            pred[f"{name}_prob"] = o.softmax(dim=1)
        elif name in CIRCULAR:
            unit = torch.atan2(o[:, 1], o[:, 0]) / (2 * math.pi) % 1.0  # [N] in [0, 1)
            pred[name] = f.low + unit * (f.high - f.low)
        else:
            pred[name] = f.low + o[:, 0] * (f.high - f.low)
    return pred


def encode_targets(factors: dict[str, np.ndarray]) -> dict[str, Tensor]:
    """True factors -> training targets: continuous scaled to [0, 1], cos/sin if circular (chapter 11).

    ``factors`` is ``{name: [N]}`` as :func:`~stylegan_tutorial.data.faces.sample_factors`
    returns; a circular factor's target is ``[N, 2]``.
    """
    targets = {}
    for name, f in FACTORS.items():
        v = torch.as_tensor(np.asarray(factors[name]))
        if f.kind == "categorical":
            targets[name] = v.long()
            continue
        unit = (v.float() - f.low) / (f.high - f.low)  # [N] in [0, 1]
        if name in CIRCULAR:
            unit = torch.stack([torch.cos(2 * math.pi * unit), torch.sin(2 * math.pi * unit)], 1)
        targets[name] = unit
    return targets


def oracle_loss(out: Tensor, targets: dict[str, Tensor], layout: dict[str, slice]) -> Tensor:
    """Sum over factors: mean squared error (continuous, in [0, 1] units) or cross-entropy (chapter 11).

    Args:
        out:     raw head outputs ``[N, n_out]``.
        targets: :func:`encode_targets` of the true factors, ``{name: [N]}`` (``[N, 2]`` if
                 circular).
        layout:  :func:`head_layout`.

    Returns a scalar tensor.
    """
    total = out.new_zeros(())
    for name, sl in layout.items():
        o, t = out[:, sl], targets[name]
        if FACTORS[name].kind == "categorical":
            total = total + F.cross_entropy(o, t)
        else:
            # x10: a range-scaled MSE of 0.01 (about the precision wanted) should weigh like a
            # cross-entropy of 0.1.
            total = total + 10.0 * F.mse_loss(o, t.view_as(o))
    return total


def circular_difference(a: Tensor, b: Tensor, period: float = 1.0) -> Tensor:
    """Signed ``a - b`` on a circle of ``period``, in ``[-period/2, period/2)`` (chapter 11).

    Args:
        a:      values, any shape.
        b:      values of the same (or a broadcastable) shape.
        period: the circle's circumference (1: hue).
    """
    return (a - b + period / 2) % period - period / 2


def factor_scores(pred: dict[str, Tensor], factors: dict[str, np.ndarray]) -> dict[str, float]:
    """Per factor: accuracy (categorical) or R² (continuous) of predictions ``pred`` (chapter 11).

    ``pred`` is :meth:`Oracle.predict`'s output and ``factors`` the truth, ``{name: [N]}`` each.

    For the circular hue the residual is the shortest way round the circle, and the baseline is
    ``1/12``: a constant guess's mean squared error on a uniform circle of period 1.
    """
    scores = {}
    for name, f in FACTORS.items():
        p, t = pred[name].double(), torch.as_tensor(np.asarray(factors[name])).double()
        if f.kind == "categorical":
            scores[name] = float((p == t).double().mean())
        elif name in CIRCULAR:
            period = f.high - f.low
            d = circular_difference(p, t, period) / period
            scores[name] = float(1.0 - (d ** 2).mean() / (1.0 / 12.0))
        else:
            scores[name] = float(1.0 - ((p - t) ** 2).mean() / ((t - t.mean()) ** 2).mean())
    return scores


# --------------------------------------------------------------------------------------------
# Training (run once by scripts/train_oracle.py; the result ships with the package)
# --------------------------------------------------------------------------------------------

def _augment(x: Tensor, gen: torch.Generator) -> Tensor:
    """Per-image Gaussian pixel noise with sigma in [0, 0.08]: generated images are never clean."""
    sigma = 0.08 * torch.rand(x.shape[0], 1, 1, 1, generator=gen)
    return x + sigma * torch.randn(x.shape, generator=gen)


def draw_training_faces(n: int, seed: int, share64: float = 0.0,
                        chunk: int = 4096) -> tuple[Tensor, dict[str, np.ndarray]]:
    """``n`` faces at 32² from ``seed``; a ``share64`` of them drawn at 64² and box-averaged (chapter 11).

    Args:
        n:       how many faces.
        seed:    seeds their factors and details.
        share64: the fraction drawn at 64² and pooled, in [0, 1] (0: none).
        chunk:   faces drawn at 64² at a time.

    Returns ``(images [n, 3, 32, 32] in [-1, 1], factors {name: [n]})``.

    Faces drawn large and pooled differ slightly from faces drawn small (anti-aliasing, hair
    strands), and generators of 64² are judged through that pooling, so the oracle sees both.
    """
    images, factors = make_faces(n, RESOLUTION, seed=seed)  # [n, 3, 32, 32]
    n64 = int(round(share64 * n))
    if n64:
        details = sample_details(n, seed)
        for start in range(0, n64, chunk):
            sl = slice(start, min(start + chunk, n64))
            big = render_faces({k: v[sl] for k, v in factors.items()}, 2 * RESOLUTION,
                               {k: v[sl] for k, v in details.items()})  # [c, 3, 64, 64]
            images[sl] = F.avg_pool2d(big, 2)
    return images, factors


def train_oracle(out_dir, seed: int = 0, n_train: int = 40_000, n_test: int = 4_000,
                 epochs: int = 6, batch_size: int = 128, lr: float = 2e-3, share64: float = 0.5,
                 progress: bool = True, command: str | None = None) -> dict:
    """Train an :class:`Oracle` on fresh faces; save weights and manifest to ``out_dir`` (chapter 11).

    Args:
        out_dir:    the folder to write into (:func:`save_oracle`).
        seed:       seeds the training faces (the held-out ones use ``seed + 1`` and ``+ 2``).
        n_train:    training faces.
        n_test:     held-out faces at 32² (a quarter as many at 64²).
        epochs:     passes over the training faces.
        batch_size: faces per step.
        lr:         the one-cycle schedule's peak learning rate.
        share64:    the fraction of training faces drawn at 64² and pooled, in [0, 1].
        progress:   show a progress bar.
        command:    the command line to record in the manifest (None: a description of this
                    call).

    Training faces come from ``seed``, held-out faces from ``seed + 1`` (disjoint draws), a
    ``share64`` of the training faces drawn at 64² and pooled (:func:`draw_training_faces`).
    Adam with a one-cycle learning rate; pixel noise as augmentation. Returns the manifest (also
    written as JSON): command, seed, sizes, held-out scores per factor at 32² and 64², wall time,
    machine.
    """
    for arg, value in (("n_train", n_train), ("n_test", n_test), ("epochs", epochs),
                       ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive integer, got {value!r}")
    start = time.time()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    if not 0.0 <= share64 <= 1.0:
        raise ValueError(f"share64 must be a fraction in [0, 1], got {share64!r}")
    x_train, f_train = draw_training_faces(n_train, seed, share64)
    x_test, f_test = make_faces(n_test, RESOLUTION, seed=seed + 1)
    x_test64, f_test64 = make_faces(n_test // 4, 2 * RESOLUTION, seed=seed + 2)
    t_train = encode_targets(f_train)

    model = Oracle()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * (n_train // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    bar = tqdm(total=steps, desc="oracle", disable=not progress)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n_train, generator=gen)
        for i in range(n_train // batch_size):
            idx = order[i * batch_size:(i + 1) * batch_size]
            _, out = model(_augment(x_train[idx], gen))
            loss = oracle_loss(out, {k: v[idx] for k, v in t_train.items()}, model.layout)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    scores = factor_scores(model.predict(x_test), f_test)
    scores64 = factor_scores(model.predict(x_test64), f_test64)
    manifest = {
        "command": command or f"train_oracle(seed={seed}, n_train={n_train}, epochs={epochs})",
        "seed": seed, "n_train": n_train, "n_test": n_test, "epochs": epochs,
        "batch_size": batch_size, "lr": lr, "resolution": RESOLUTION, "share64": share64,
        "parameters": sum(p.numel() for p in model.parameters()),
        "held_out": {k: round(v, 4) for k, v in scores.items()},
        "held_out_64": {k: round(v, 4) for k, v in scores64.items()},
        "n_test_64": len(x_test64),
        "held_out_metric": {k: "accuracy" if f.kind == "categorical" else "R2"
                            for k, f in FACTORS.items()},
        "wall_time_s": round(time.time() - start, 1),
        "machine": f"{platform.machine()} {platform.processor() or ''} "
                   f"{os.cpu_count()} cpus, torch {torch.__version__}, "
                   f"{torch.get_num_threads()} threads, load average "
                   f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}",
    }
    return save_oracle(model, out_dir, manifest)


# --------------------------------------------------------------------------------------------
# Shipping: safetensors weights + a JSON manifest holding their sha256
# --------------------------------------------------------------------------------------------

def save_oracle(model: Oracle, out_dir, manifest: dict) -> dict:
    """Write the oracle's weights and manifest to ``out_dir``; return the manifest (chapter 11).

    Args:
        model:    the trained :class:`Oracle`.
        out_dir:  the folder (created if missing); the package's own is
                  :data:`stylegan_tutorial.shipped.PRETRAINED_DIR`.
        manifest: its provenance (command, seed, held-out scores, wall time, machine).

    The files are named as :data:`stylegan_tutorial.shipped.SHIPPED` registers ``oracle-faces32``;
    the manifest gains the weights' file name and sha256, which :func:`load_oracle` checks.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = shipped.weights_path(NAME, out_dir)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(weights))
    return shipped.write_manifest(weights, manifest)


def load_oracle(directory=None, device: str | torch.device = "cpu") -> Oracle:
    """The shipped oracle in eval mode, after its sha256 check (chapter 11).

    Args:
        directory: the folder holding ``oracle-faces32.{safetensors,json}`` (None: the package's
                   ``pretrained/`` folder).
        device:    where to put it.

    Returns the :class:`Oracle` with its manifest as ``model.manifest``. Missing or damaged
    files raise the errors of :func:`stylegan_tutorial.shipped.verified_path`.
    """
    weights = shipped.verified_path(NAME, directory)
    model = Oracle()
    model.load_state_dict(load_file(str(weights)))
    model.manifest = shipped.load_manifest(NAME, directory)
    return model.eval().to(device)
