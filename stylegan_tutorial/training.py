"""Training StyleGAN: the loop, with growing, R1, mixing, w_avg and G_ema (chapter 10).

One call, ``train(config)``, runs the paper's training on a laptop CPU, a Colab GPU or several
GPUs under ``torchrun``. Every step:

1. The schedule (:mod:`~stylegan_tutorial.schedule`) turns the images shown so far into a
   resolution, a fade-in ``alpha``, a batch size and a learning rate. When the resolution or
   the fade changes, both Adam states are reset (as the release does).
2. Real images are read at that resolution; during a fade they are blended with their
   2×2-averaged, re-upsampled copies by ``alpha``, exactly like the networks' own paths.
3. A D step: logistic loss on reals and fakes plus R1 = gamma/2 E||grad D(x)||² on the reals
   (optionally only every ``r1_interval`` steps, multiplied by the interval to keep its
   average strength), or the WGAN-GP loss.
4. A G step: the non-saturating logistic loss on fakes made with mixing regularisation;
   ``w_avg`` moves towards the batch mean of ``w``.
5. ``G_ema`` moves towards G with ``beta = 0.5 ** (batch / (ema_kimg * 1000))``: a half-life
   of ``ema_kimg`` thousand images whatever the batch size.

A step whose gradients are not finite is skipped (no Adam update) and counted; too many in a
row stop the run with :class:`TrainingDiverged`. Every ``tick_kimg`` the loop records mean
losses and speed, writes a sample grid from fixed seeds (G_ema) and a loss plot; every
``snapshot_kimg`` (and on Ctrl-C, and at the end) it writes a checkpoint from which a resumed
run continues bit for bit.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from stylegan_tutorial import checkpoint as ckpt
from stylegan_tutorial import distributed
from stylegan_tutorial.configs import NetworkConfig, get_config
from stylegan_tutorial.discriminator import Discriminator
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.layers import downsample_avg, upsample_nearest
from stylegan_tutorial.losses import (
    d_logistic_loss,
    d_wgan_loss,
    g_nonsaturating_loss,
    g_wgan_loss,
    r1_penalty,
    wgan_gp_penalty,
)
from stylegan_tutorial.schedule import Phase, check_phase_kimg, phase_at

Tensor = torch.Tensor
LOSSES = ("logistic", "wgan-gp")
# Fields that may change when a run is resumed: where it stops and how it reports.
RESUMABLE_CHANGES = ("total_kimg", "tick_kimg", "snapshot_kimg", "keep_last", "max_bad_steps",
                     "tensorboard", "data", "channels_last", "cudnn_benchmark", "compile", "amp",
                     "amp_resolutions")


class TrainingDiverged(RuntimeError):
    """Raised when too many steps in a row had non-finite gradients."""


# --------------------------------------------------------------------------------------------
# The configuration of one run
# --------------------------------------------------------------------------------------------


@dataclass
class TrainingConfig:
    """Everything that defines a training run; saved (as JSON) inside every checkpoint.

    ``total_kimg`` and ``phase_kimg`` default to the network configuration's. Defaults are the
    paper's configuration F: logistic loss with R1 (gamma 10, every step), mixing 0.9 (from
    the network config), G_ema half-life 10 kimg, Adam(0, 0.99, 1e-8), mirror augmentation.
    """

    network: NetworkConfig = field(default_factory=lambda: get_config("cpu-tiny"))
    data: str = "faces"
    total_kimg: float | None = None
    phase_kimg: float | None = None
    seed: int = 0
    loss: str = "logistic"
    r1_gamma: float = 10.0
    r1_interval: int = 1
    wgan_gp_weight: float = 10.0
    wgan_drift: float = 0.001
    ema_kimg: float = 10.0
    adam_betas: tuple[float, float] = (0.0, 0.99)
    adam_eps: float = 1e-8
    mirror: bool = True
    max_bad_steps: int = 20
    tick_kimg: float = 1.0
    snapshot_kimg: float = 10.0
    keep_last: int = 3
    grid_size: int = 16
    tensorboard: bool = False
    # mixed precision: the top ``amp_resolutions`` levels of G and D run in fp16 (bf16 on the
    # CPU) with their outputs clamped to +-256, as StyleGAN2-ADA does; off by default
    amp: bool = False
    amp_resolutions: int = 4
    # GPU switches; inert on the CPU
    channels_last: bool = False
    cudnn_benchmark: bool = True
    compile: bool = False

    def __post_init__(self) -> None:
        if self.total_kimg is None:
            self.total_kimg = float(self.network.total_kimg)
        if self.phase_kimg is None:
            self.phase_kimg = float(self.network.phase_kimg)
        self.adam_betas = tuple(self.adam_betas)
        self.validate()

    def validate(self) -> None:
        """Raise a ValueError naming the first field with a value that cannot train."""
        self.network.validate()
        if not _is_number(self.total_kimg) or self.total_kimg < 0:
            raise ValueError(f"total_kimg must be a number >= 0 (thousands of images), "
                             f"got {self.total_kimg!r}")
        check_phase_kimg(self.phase_kimg)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("r1_gamma", "wgan_gp_weight", "wgan_drift"):
            if not _is_number(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a number >= 0, got {getattr(self, name)!r}")
        for name in ("tick_kimg", "snapshot_kimg", "ema_kimg"):
            if not _is_number(getattr(self, name)) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")
        for name in ("r1_interval", "max_bad_steps", "keep_last", "grid_size", "amp_resolutions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        b1, b2 = self.adam_betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"adam_betas must both be in [0, 1), got {self.adam_betas!r}")

    def to_dict(self) -> dict:
        """A JSON-able dict (integer dict keys become strings, tuples lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, d: dict) -> "TrainingConfig":
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        net = dict(d.pop("network"))
        for key in ("batch_sizes", "learning_rates"):
            net[key] = {int(k): v for k, v in net[key].items()}
        if net.get("blur_filter") is not None:
            net["blur_filter"] = tuple(net["blur_filter"])
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(network=NetworkConfig(**net), **{k: v for k, v in d.items() if k in known})


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def training_config(name: str = "cpu-tiny", *, network_overrides: dict | None = None,
                    **fields) -> TrainingConfig:
    """A :class:`TrainingConfig` for the named network configuration, e.g.
    ``training_config("cpu-tiny", total_kimg=2, phase_kimg=0.2)``."""
    known = {f.name for f in dataclasses.fields(TrainingConfig)} - {"network"}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"unknown TrainingConfig field(s) {unknown}; known: {sorted(known)}")
    return TrainingConfig(network=get_config(name, **(network_overrides or {})), **fields)


# --------------------------------------------------------------------------------------------
# Data order: a seeded permutation per epoch, resumable from two integers
# --------------------------------------------------------------------------------------------


class EpochSampler:
    """Indices in a fresh random order each epoch; its whole state is ``(seed, epoch, pos)``."""

    def __init__(self, length: int, seed: int, epoch: int = 0, pos: int = 0):
        self.length, self.seed, self.epoch, self.pos = int(length), int(seed), int(epoch), int(pos)
        self._perm = self._permutation()

    def _permutation(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.length)

    def next(self, n: int) -> np.ndarray:
        """The next ``n`` indices, continuing into the next epoch when this one runs out."""
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
        return {"seed": self.seed, "epoch": self.epoch, "pos": self.pos, "length": self.length}


# --------------------------------------------------------------------------------------------
# Small pieces of one step
# --------------------------------------------------------------------------------------------


AMP_CLAMP = 256.0  # the largest activation a reduced-precision layer may hand on


def resolution_modules(G: Generator, D: Discriminator) -> list[tuple[int, torch.nn.Module]]:
    """Every per-resolution part of G and D with its resolution (synthesis layers, ToRGB,
    FromRGB, D blocks), for switching precision by level of detail."""
    res = G.config.resolutions
    out = [(4 << (i // 2), layer) for i, layer in enumerate(G.synthesis.layers)]
    out += list(zip(res, G.synthesis.to_rgb)) + list(zip(res, D.from_rgb)) + list(zip(res[1:], D.blocks))
    return out


def enable_mixed_precision(G: Generator, D: Discriminator, levels: int, device: torch.device) -> list:
    """Run the top ``levels`` resolutions of G and D in reduced precision; return the hook handles.

    Each such module runs under ``torch.autocast`` (fp16 on CUDA, bf16 on the CPU) and hands
    on a float32 output clamped to +-256, so a large activation cannot overflow fp16 and the
    low resolutions keep full precision. Parameters and gradients stay float32, so no loss
    scaling is needed; a rare step that still overflows is skipped like any non-finite step.
    """
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    lowest = G.config.resolution >> (levels - 1)
    handles = []

    def enter(module, args):
        module._amp_ctx = torch.autocast(device.type, dtype=dtype)
        module._amp_ctx.__enter__()

    def leave(module, args, output):
        module._amp_ctx.__exit__(None, None, None)
        return output.float().clamp(-AMP_CLAMP, AMP_CLAMP)

    for res, module in resolution_modules(G, D):
        if res >= lowest:
            handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
    return handles


def fade_reals(reals: Tensor, alpha: float) -> Tensor:
    """Blend reals with their 2×2-averaged, nearest-upsampled copies: what the networks see at ``alpha``."""
    if alpha >= 1.0:
        return reals
    low = upsample_nearest(downsample_avg(reals))  # [N, C, R, R], blocky
    return torch.lerp(low, reals, alpha)


def ema_beta(batch_size: int, ema_kimg: float) -> float:
    """The per-step decay for a half-life of ``ema_kimg`` thousand images.

    ``beta = 0.5 ** (batch / (1000 ema_kimg))``: after ``1000 ema_kimg / batch`` steps the old
    weights keep half their say, whatever the batch size.
    """
    return 0.5 ** (batch_size / (ema_kimg * 1000.0))


@torch.no_grad()
def update_ema(G_ema: torch.nn.Module, G: torch.nn.Module, beta: float) -> None:
    """``p_ema <- beta p_ema + (1 - beta) p`` for parameters; buffers (``w_avg``, noise) are copied."""
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.lerp_(p, 1.0 - beta)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


def gradients_finite(params: Sequence[torch.nn.Parameter]) -> bool:
    """Whether every gradient is finite (a missing gradient counts as zero)."""
    grads = [p.grad for p in params if p.grad is not None]
    return not grads or bool(torch.isfinite(torch.nn.utils.get_total_norm(grads)))


def make_adam(params, config: TrainingConfig, lr: float) -> torch.optim.Adam:
    """Adam with the paper's beta1 = 0, beta2 = 0.99, eps = 1e-8."""
    return torch.optim.Adam(params, lr=lr, betas=config.adam_betas, eps=config.adam_eps)


def _apply(optimizer: torch.optim.Optimizer, params: list) -> bool:
    """Average gradients over processes, then step only if they are all finite; report which."""
    distributed.average_gradients(params)
    ok = gradients_finite(params)
    if ok:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return ok


def d_step(run: "Run", reals: Tensor, phase: Phase) -> dict[str, float]:
    """One discriminator update on ``reals [B, C, R, R]``; returns its losses."""
    G, D, cfg = run.G, run.D, run.config
    res, alpha = phase.resolution, phase.alpha
    z = torch.randn(reals.shape[0], cfg.network.z_dim, device=reals.device)
    with torch.no_grad():
        fakes = G(z, res, alpha, mixing_prob=cfg.network.style_mixing_prob)  # [B, C, R, R]
    stats = {}
    if cfg.loss == "logistic":
        use_r1 = cfg.r1_gamma > 0 and run.step % cfg.r1_interval == 0
        reals = reals.detach().requires_grad_(use_r1)
        real_logits, fake_logits = D(reals, res, alpha), D(fakes, res, alpha)  # [B], [B]
        loss = d_logistic_loss(real_logits, fake_logits)
        stats["loss_D"] = loss.detach()
        if use_r1:  # lazy R1: the penalty every k steps, k times as strong
            r1 = r1_penalty(real_logits, reals, cfg.r1_gamma)
            loss = loss + r1 * cfg.r1_interval
            stats["r1"] = r1.detach()
    else:
        real_scores, fake_scores = D(reals, res, alpha), D(fakes, res, alpha)
        loss = d_wgan_loss(real_scores, fake_scores, cfg.wgan_drift)
        stats["loss_D"] = loss.detach()
        gp = wgan_gp_penalty(lambda x: D(x, res, alpha), reals, fakes, cfg.wgan_gp_weight)
        loss = loss + gp
        stats["gp"] = gp.detach()
    loss.backward()
    stats["D_ok"] = _apply(run.opt_D, run.D_params)
    return stats


def g_step(run: "Run", batch: int, phase: Phase, device: torch.device) -> dict[str, float]:
    """One generator update with mixing regularisation; moves ``w_avg``; returns the loss."""
    G, D, cfg = run.G, run.D, run.config
    res, alpha = phase.resolution, phase.alpha
    z = torch.randn(batch, cfg.network.z_dim, device=device)
    w = G.mapping(z)  # [B, w_dim]
    ws = G.mixing_regularization(w, cfg.network.style_mixing_prob, res)  # [B, L, w_dim]
    compiled = run.compiled_synthesis is not None and not phase.fading
    synthesis = run.compiled_synthesis if compiled else G.synthesis
    fakes = synthesis(ws, res, alpha)  # [B, C, R, R]
    D.requires_grad_(False)  # the G loss needs gradients through D, not for D
    try:
        logits = D(fakes, res, alpha)  # [B]
        loss = g_nonsaturating_loss(logits) if cfg.loss == "logistic" else g_wgan_loss(logits)
        loss.backward()
    finally:
        D.requires_grad_(True)
    ok = _apply(run.opt_G, run.G_params)
    G.update_w_avg(distributed.all_mean(w.detach().mean(0, keepdim=True)))
    return {"loss_G": loss.detach(), "G_ok": ok}


# --------------------------------------------------------------------------------------------
# The run: networks, optimizers and position, with their checkpoint form
# --------------------------------------------------------------------------------------------


class Run:
    """One training run's state: ``G``, ``D``, ``G_ema``, both Adams, the schedule position.

    ``run.history`` holds one dict per tick (kimg, resolution, alpha, mean losses, speed).
    ``run.out`` is the run directory (None: nothing is written).
    """

    def __init__(self, config: TrainingConfig, dataset_identity: dict, device: torch.device,
                 out: Path | None = None):
        self.config, self.device, self.out = config, device, out
        self.dataset_identity = json.loads(json.dumps(dataset_identity))
        self.dist = distributed.current()
        torch.manual_seed(config.seed)  # identical initial weights on every rank
        self.G = Generator(config.network).to(device)
        self.D = Discriminator(config.network).to(device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        distributed.broadcast_module(self.G)
        distributed.broadcast_module(self.D)
        self.G_params, self.D_params = list(self.G.parameters()), list(self.D.parameters())
        lr = config.network.learning_rate_at(4)
        self.opt_G, self.opt_D = make_adam(self.G_params, config, lr), make_adam(self.D_params, config, lr)
        self.nimg, self.step = 0, 0
        self.phase_key: list | None = None
        self.sampler_state = {"epoch": 0, "pos": 0}
        self.skipped_steps, self.bad_in_row = 0, 0
        self.history: list[dict] = []
        self.interrupted = False
        self.last_checkpoint: Path | None = None
        self.resumed_from: Path | None = None
        self.compiled_synthesis = None  # set by torch.compile on CUDA when config.compile
        self.amp_hooks: list = []  # set when config.amp
        # each rank draws its own z and noise; rank 0 keeps the single-process stream
        torch.manual_seed(config.seed + 1 + 1000 * self.dist.rank)

    @property
    def kimg(self) -> float:
        return self.nimg / 1000.0

    @property
    def phase(self) -> Phase:
        return phase_at(self.nimg, self.config.network, self.config.phase_kimg)

    # ---- checkpoint form ---------------------------------------------------------------------

    def state_tensors(self) -> dict[str, Tensor]:
        """Every tensor to save, by name."""
        out = {}
        for prefix, module in (("G", self.G), ("D", self.D), ("G_ema", self.G_ema)):
            out.update({f"{prefix}.{k}": v for k, v in module.state_dict().items()})
        for prefix, opt in (("opt_G", self.opt_G), ("opt_D", self.opt_D)):
            for i, st in opt.state_dict()["state"].items():
                out.update({f"{prefix}.state.{i}.{k}": torch.as_tensor(v) for k, v in st.items()})
        out["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            out["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        return out

    def state_meta(self) -> dict:
        """Everything else to save, as JSON."""
        np_state = np.random.get_state()
        py_state = random.getstate()
        return {
            "config": self.config.to_dict(),
            "dataset": self.dataset_identity,
            "nimg": self.nimg, "step": self.step, "phase_key": self.phase_key,
            "sampler": self.sampler_state,
            "skipped_steps": self.skipped_steps, "bad_in_row": self.bad_in_row,
            "history": self.history,
            "opt_groups": {"opt_G": self.opt_G.state_dict()["param_groups"],
                           "opt_D": self.opt_D.state_dict()["param_groups"]},
            "rng": {"numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
                    "python": [py_state[0], list(py_state[1]), py_state[2]]},
        }

    def load_state(self, tensors: dict[str, Tensor], meta: dict) -> None:
        """Restore from :meth:`state_tensors` / :meth:`state_meta` output (a loaded checkpoint)."""
        for prefix, module in (("G", self.G), ("D", self.D), ("G_ema", self.G_ema)):
            sd = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
            module.load_state_dict(sd)
        for prefix, opt in (("opt_G", self.opt_G), ("opt_D", self.opt_D)):
            state: dict[int, dict] = {}
            for k, v in tensors.items():
                if k.startswith(prefix + ".state."):
                    i, name = k[len(prefix) + 7:].split(".", 1)
                    state.setdefault(int(i), {})[name] = v
            opt.load_state_dict({"state": state, "param_groups": meta["opt_groups"][prefix]})
        self.nimg, self.step = int(meta["nimg"]), int(meta["step"])
        self.phase_key = meta["phase_key"]
        self.sampler_state = dict(meta["sampler"])
        self.skipped_steps, self.bad_in_row = meta["skipped_steps"], meta["bad_in_row"]
        self.history = list(meta["history"])
        if self.dist.rank == 0:
            torch.set_rng_state(tensors["rng.torch"])
            if self.device.type == "cuda" and "rng.cuda" in tensors:
                torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        else:  # only rank 0's streams are saved; the others restart from a seed of their own
            torch.manual_seed(self.config.seed + 1 + 1000 * self.dist.rank + 7919 * self.nimg)
        if self.dist.rank == 0:
            n = meta["rng"]["numpy"]
            np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), *n[2:]))
            p = meta["rng"]["python"]
            random.setstate((p[0], tuple(p[1]), p[2]))

    def save(self) -> Path | None:
        """Write a checkpoint to ``out`` (rank 0 only), prune old ones; return its path."""
        if self.out is None or not self.dist.is_main:
            return None
        path = ckpt.save_checkpoint(self.out / ckpt.checkpoint_name(self.nimg),
                                    self.state_tensors(), self.state_meta())
        ckpt.prune_checkpoints(self.out, self.config.keep_last)
        self.last_checkpoint = path
        return path


# --------------------------------------------------------------------------------------------
# Feedback: sample grids, loss plots, TensorBoard
# --------------------------------------------------------------------------------------------


def sample_grid(G: Generator, phase: Phase, seeds: Sequence[int], device: torch.device) -> np.ndarray:
    """G's images for fixed ``seeds`` at the current resolution and alpha, as a uint8 grid."""
    from stylegan_tutorial.generate import z_from_seeds
    from stylegan_tutorial.viz import image_grid

    z = z_from_seeds(seeds, G.z_dim).to(device)  # [N, z_dim]
    with torch.no_grad():
        img = G(z, phase.resolution, phase.alpha, noise_mode="fixed")  # [N, C, R, R]
    img = torch.nn.functional.interpolate(img, scale_factor=max(1, 64 // phase.resolution), mode="nearest")
    return image_grid(img, nrow=max(1, int(math.sqrt(len(seeds)))))


def save_png(path: Path, array: np.ndarray) -> None:
    """Write a uint8 ``[H, W, 3]`` array as PNG (via a temporary file and rename)."""
    from PIL import Image

    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(array).save(tmp, format="PNG")
    tmp.replace(path)


def draw_losses(ax, history: list[dict]) -> None:
    """Per-tick mean losses against kimg on a matplotlib axis, resolution changes dashed."""
    kimg = [h["kimg"] for h in history]
    for key in ("loss_G", "loss_D", "r1", "gp"):
        if any(key in h for h in history):
            ax.plot(kimg, [h.get(key, float("nan")) for h in history], label=key)
    for prev, h in zip(history, history[1:]):
        if h["resolution"] != prev["resolution"]:
            ax.axvline(h["kimg"], color="grey", lw=0.5, ls="--")
    ax.set_xlabel("kimg")
    ax.set_ylabel("loss (tick mean)")
    if history:
        ax.legend()


def plot_losses(history: list[dict], path: Path) -> None:
    """:func:`draw_losses` as a PNG file (written via a temporary file and rename)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))  # no pyplot: safe in threads and without a display
    draw_losses(fig.add_subplot(), history)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=80)
    tmp.replace(path)


def notebook_progress(every: int = 1) -> "Callback":
    """A ``train(..., callbacks=[notebook_progress()])`` callback for Jupyter and Colab.

    Every ``every`` ticks it redraws, in the cell's output, the loss curves so far and G_ema's
    images for the fixed sample seeds.
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be an integer >= 1, got {every!r}")

    def callback(run: "Run", tick: dict) -> None:
        if len(run.history) % every:
            return
        from IPython.display import clear_output, display
        from matplotlib.figure import Figure

        phase = phase_at(run.nimg - tick["batch_size"], run.config.network, run.config.phase_kimg)
        fig = Figure(figsize=(10, 3.5))
        ax_loss, ax_img = fig.subplots(1, 2)
        draw_losses(ax_loss, run.history)
        ax_img.imshow(sample_grid(run.G_ema, phase, range(run.config.grid_size), run.device))
        ax_img.set_axis_off()
        ax_img.set_title(f"G_ema at {tick['kimg']:.3f} kimg, {phase.resolution}², alpha {phase.alpha:.2f}")
        clear_output(wait=True)
        display(fig)

    return callback


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------

Callback = Callable[["Run", dict], None]


class _StopOnSigint:
    """Turn the first Ctrl-C into a request to stop at the end of the current step."""

    def __init__(self):
        self.requested = False
        self._old = None

    def __enter__(self):
        try:
            self._old = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave Ctrl-C alone
            self._old = None
        return self

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _open_data(config: TrainingConfig, data):
    """The dataset to train on: ``data`` itself, a spec string, or ``config.data``."""
    from stylegan_tutorial.data.dataset import ImageDataset, open_dataset

    res = config.network.resolution
    if data is None or isinstance(data, (str, Path)):
        return open_dataset(str(data if data is not None else config.data), res, mirror=config.mirror)
    if not isinstance(data, ImageDataset):
        raise ValueError(f"data must be None, a dataset spec string or an ImageDataset, "
                         f"got {type(data).__name__}")
    if data.stored_resolution < res:
        raise ValueError(f"data holds {data.stored_resolution}² images, below the network's "
                         f"resolution {res}")
    if data.channels != config.network.img_channels:
        raise ValueError(f"data has {data.channels} channels, the network expects "
                         f"{config.network.img_channels}")
    return data


def prepare_run(config: TrainingConfig, data=None, out=None, *, resume: str | None = None,
                force: bool = False, device: str | torch.device = "auto"):
    """Check everything, open the data and build (or resume) the run; write nothing yet.

    ``resume``: None (a new run; ``out`` must hold no checkpoints), ``"auto"`` (the latest
    complete checkpoint in ``out``, or a new run if there is none) or a checkpoint path.
    Returns ``(run, dataset)``.
    """
    from stylegan_tutorial.runtime import pick_device

    if not isinstance(config, TrainingConfig):
        raise ValueError(f"config must be a TrainingConfig, got {type(config).__name__}")
    config.validate()
    dev = device if isinstance(device, torch.device) else pick_device(device)
    dataset = _open_data(config, data)
    out = Path(out) if out is not None else None
    source = None
    if resume == "auto":
        source = ckpt.latest_checkpoint(out) if out is not None else None
    elif resume is not None:
        source = Path(resume)
        if not source.is_file():
            raise FileNotFoundError(f"resume: no such checkpoint {source}")
    elif out is not None and ckpt.list_checkpoints(out):
        raise FileExistsError(f"{out} already holds checkpoints; pass resume='auto' "
                              f"(--resume auto) to continue that run, or choose another out")
    info = distributed.setup(dev)
    if info.enabled and dev.type == "cuda" and dev.index is None:  # one GPU per process
        dev = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(dev)
    run = Run(config, dataset.identity, dev, out)
    if source is not None:
        tensors, meta = ckpt.load_checkpoint(source)
        if "step" not in meta or not any(k.startswith("D.") for k in tensors):
            raise ValueError(f"{source} holds a generator only (an exported or shipped one, for "
                             f"sampling and evaluation), not a training state with D and the "
                             f"optimizers: it cannot be resumed")
        diffs = ckpt.check_compatible(meta["config"], config.to_dict(), "configuration",
                                      RESUMABLE_CHANGES, force)
        diffs += ckpt.check_compatible(meta["dataset"], run.dataset_identity, "dataset", (), force)
        if diffs:
            import warnings
            warnings.warn("resuming despite differences (forced):\n  " + "\n  ".join(diffs))
        run.load_state(tensors, meta)
        run.resumed_from = source
    return run, dataset


def _apply_gpu_settings(run: Run) -> None:
    """The speed switches: mixed precision and channels-last (any device, if asked),
    cudnn.benchmark and ``torch.compile`` (CUDA only). ``benchmarks/bench_training.py``
    measures each.

    Only G's synthesis network is compiled, and only used compiled while no fade is running:
    ``alpha`` is a Python float that changes every step of a fade, and a compiled graph is
    specialised on it. D cannot be compiled here at all: R1 differentiates D's gradient
    (a double backward), which compiled autograd graphs do not support.
    """
    if run.config.amp and not run.amp_hooks:
        run.amp_hooks = enable_mixed_precision(run.G, run.D, run.config.amp_resolutions, run.device)
    if run.config.channels_last:
        for m in (run.G, run.D, run.G_ema):
            m.to(memory_format=torch.channels_last)
    if run.device.type != "cuda":
        return
    torch.backends.cudnn.benchmark = run.config.cudnn_benchmark
    if run.config.compile:
        run.compiled_synthesis = torch.compile(run.G.synthesis)


def train(config: TrainingConfig | str = "cpu-tiny", data=None, out=None, *,
          resume: str | None = None, force: bool = False, device: str | torch.device = "auto",
          callbacks: Sequence[Callback] = (), progress: bool = True,
          stop_at_kimg: float | None = None) -> Run:
    """Train StyleGAN as ``config`` says; return the :class:`Run` (networks, history).

    ``data``: a dataset spec (``"faces"``, a prepared ``.npy``...), an ``ImageDataset``, or
    None for ``config.data``. ``out``: the run directory for checkpoints, sample grids,
    ``losses.png`` and ``log.jsonl`` (None: keep everything in memory). ``callbacks`` are
    called as ``cb(run, tick_stats)`` after every tick (live plots in a notebook).
    ``stop_at_kimg`` ends this call early (the schedule still runs to ``total_kimg``).
    The first Ctrl-C stops at the end of the current step and writes a checkpoint.
    """
    if isinstance(config, str):
        config = training_config(config)
    run, dataset = prepare_run(config, data, out, resume=resume, force=force, device=device)
    if run.out is not None and run.dist.is_main:
        run.out.mkdir(parents=True, exist_ok=True)
        (run.out / "config.json").write_text(json.dumps(config.to_dict(), indent=1))
    _apply_gpu_settings(run)
    with _StopOnSigint() as sigint:
        _loop(run, dataset, list(callbacks), progress, stop_at_kimg, sigint)
    return run


def _loop(run: Run, dataset, callbacks: list, progress: bool, stop_at_kimg, sigint) -> None:
    """Steps until ``total_kimg`` (or ``stop_at_kimg``, or Ctrl-C); ticks and checkpoints on the way."""
    from stylegan_tutorial.progress import tqdm

    cfg = run.config
    end_nimg = round(1000 * min(cfg.total_kimg, stop_at_kimg if stop_at_kimg is not None else math.inf))
    sampler = EpochSampler(len(dataset), cfg.seed, **{k: run.sampler_state[k] for k in ("epoch", "pos")})
    writer = _tensorboard(run)
    tick_acc: dict[str, list] = {}
    next_tick = _next_multiple(run.nimg, cfg.tick_kimg)
    next_snap = _next_multiple(run.nimg, cfg.snapshot_kimg)
    tick_start, tick_nimg0 = time.perf_counter(), run.nimg
    bar = tqdm(total=end_nimg, initial=min(run.nimg, end_nimg), unit="img", unit_scale=True,
               disable=not (progress and run.dist.is_main), dynamic_ncols=True)
    try:
        while run.nimg < end_nimg and not distributed.any_true(sigint.requested, run.device):
            phase = run.phase
            if list(phase.key) != run.phase_key:  # a new resolution or fade: fresh Adam moments
                run.opt_G.state.clear()
                run.opt_D.state.clear()
                run.phase_key = list(phase.key)
            for opt in (run.opt_G, run.opt_D):
                for group in opt.param_groups:
                    group["lr"] = phase.learning_rate
            stats = _train_step(run, dataset, sampler, phase)
            for k, v in stats.items():
                tick_acc.setdefault(k, []).append(v)
            bar.update(min(phase.batch_size, end_nimg - bar.n))
            if run.nimg >= next_tick or run.nimg >= end_nimg:
                tick = _finish_tick(run, phase, tick_acc, time.perf_counter() - tick_start,
                                    run.nimg - tick_nimg0)
                bar.set_postfix_str(f"kimg {tick['kimg']:.2f} res {tick['resolution']}² "
                                    f"alpha {tick['alpha']:.2f} "
                                    f"G {tick['loss_G']:.3f} D {tick['loss_D']:.3f} "
                                    f"{tick['sec_per_kimg']:.1f} s/kimg {tick['img_per_s']:.0f} img/s")
                _write_tick(run, tick, writer)
                for cb in callbacks:
                    cb(run, tick)
                tick_acc, tick_start, tick_nimg0 = {}, time.perf_counter(), run.nimg
                next_tick = _next_multiple(run.nimg, cfg.tick_kimg)
            if run.nimg >= next_snap and run.nimg < end_nimg:
                run.save()
                next_snap = _next_multiple(run.nimg, cfg.snapshot_kimg)
        run.interrupted = distributed.any_true(sigint.requested, run.device)
        run.save()
    finally:
        bar.close()
        if writer is not None:
            writer.close()


def _next_multiple(nimg: int, kimg: float) -> int:
    """The first multiple of ``kimg`` thousand images strictly after ``nimg``."""
    step = kimg * 1000.0
    return round((math.floor(nimg / step + 1e-9) + 1) * step)


def _train_step(run: Run, dataset, sampler: EpochSampler, phase: Phase) -> dict[str, float]:
    """One D step and one G step on the next global minibatch; this rank trains on its slice."""
    cfg, info = run.config, run.dist
    if phase.batch_size % info.world_size:
        raise ValueError(f"batch size {phase.batch_size} at {phase.resolution}² is not divisible "
                         f"by the {info.world_size} processes")
    idx = sampler.next(phase.batch_size)
    local = np.array_split(idx, info.world_size)[info.rank]
    reals = dataset.batch(local, phase.resolution).to(run.device)  # [b, C, R, R]
    if cfg.channels_last:
        reals = reals.contiguous(memory_format=torch.channels_last)
    reals = fade_reals(reals, phase.alpha)
    stats = d_step(run, reals, phase)
    stats.update(g_step(run, len(local), phase, run.device))
    update_ema(run.G_ema, run.G, ema_beta(phase.batch_size, cfg.ema_kimg))
    d_ok, g_ok = stats.pop("D_ok"), stats.pop("G_ok")
    ok = d_ok and g_ok
    run.nimg += phase.batch_size
    run.step += 1
    run.sampler_state = {"epoch": sampler.epoch, "pos": sampler.pos}
    if ok:
        run.bad_in_row = 0
    else:
        run.skipped_steps += 1
        run.bad_in_row += 1
        if run.bad_in_row >= cfg.max_bad_steps:
            raise TrainingDiverged(
                f"{run.bad_in_row} steps in a row had non-finite gradients at {run.kimg:.2f} kimg "
                f"({phase.resolution}², alpha {phase.alpha:.2f}): training has diverged. Resume "
                f"from an earlier checkpoint with a lower learning rate or a larger r1_gamma."
            )
    return stats


def _finish_tick(run: Run, phase: Phase, acc: dict[str, list], seconds: float, images: int) -> dict:
    """Mean losses over the tick (averaged over processes), speed, and the last step's ``phase``."""
    keys = sorted(acc)
    means = distributed.all_mean(torch.stack([torch.stack(acc[k]).float().mean() for k in keys])).cpu() \
        if keys else torch.zeros(0)
    tick = {"kimg": run.kimg, "resolution": phase.resolution, "alpha": phase.alpha,
            "batch_size": phase.batch_size, "learning_rate": phase.learning_rate,
            **{k: float(v) for k, v in zip(keys, means)},
            "sec_per_kimg": seconds / max(images / 1000, 1e-9), "img_per_s": images / max(seconds, 1e-9),
            "skipped_steps": run.skipped_steps}
    if run.device.type == "cuda":  # the high-water mark of this process's GPU memory so far
        tick["peak_gpu_mib"] = torch.cuda.max_memory_allocated(run.device) / 2**20
    run.history.append(tick)
    return tick


def _write_tick(run: Run, tick: dict, writer) -> None:
    """Rank 0 writes the sample grid, the loss plot, a line of ``log.jsonl`` and TensorBoard scalars."""
    if run.out is None or not run.dist.is_main:
        return
    phase = phase_at(run.nimg - tick["batch_size"], run.config.network, run.config.phase_kimg)
    grid = sample_grid(run.G_ema, phase, range(run.config.grid_size), run.device)
    (run.out / "samples").mkdir(exist_ok=True)
    save_png(run.out / "samples" / f"fakes-{run.nimg:09d}.png", grid)
    plot_losses(run.history, run.out / "losses.png")
    with open(run.out / "log.jsonl", "a") as fh:
        fh.write(json.dumps(tick) + "\n")
    if writer is not None:
        for k, v in tick.items():
            writer.add_scalar(k, v, run.nimg)


def _tensorboard(run: Run):
    """A TensorBoard writer in ``out/tensorboard`` if asked for and installed, else None."""
    if not (run.config.tensorboard and run.out is not None and run.dist.is_main):
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        import warnings
        warnings.warn("tensorboard is not installed: pip install tensorboard (logging to log.jsonl only)")
        return None
    return SummaryWriter(str(run.out / "tensorboard"))


# --------------------------------------------------------------------------------------------
# The train command
# --------------------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    """Options of ``stylegan-tutorial train``. Unset options take the resumed run's values."""
    import argparse

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  stylegan-tutorial train --config cpu-tiny --kimg 2            # generated faces, CPU\n"
        "  stylegan-tutorial train --config colab-64 --data faces --out runs/colab --resume auto\n"
        "  torchrun --nproc_per_node 2 -m stylegan_tutorial train --config colab-64 --out runs/ddp\n"
        "Ctrl-C stops after the current step and writes a checkpoint; '--resume auto' continues.")
    parser.add_argument("--config", default=None, metavar="NAME",
                        help="network configuration (see 'stylegan-tutorial configs'); default "
                             "cpu-tiny, or the checkpoint's when resuming")
    parser.add_argument("--data", default=None, metavar="SPEC",
                        help="'faces' (the default: generated faces), 'faces:n=5000', 'digits' or a "
                             ".npy written by prepare-data")
    parser.add_argument("--kimg", type=float, default=None, metavar="N",
                        help="train until N thousand images have been shown (default: the config's)")
    parser.add_argument("--phase-kimg", type=float, default=None, metavar="N",
                        help="thousands of images per level of detail: half training, half fade-in")
    parser.add_argument("--out", default="runs/stylegan", metavar="DIR",
                        help="run directory: checkpoints, samples/, losses.png, log.jsonl "
                             "(default runs/stylegan)")
    parser.add_argument("--resume", default=None, metavar="auto|PATH",
                        help="'auto': continue from the latest checkpoint in --out (a new run if "
                             "there is none); or the path of a checkpoint")
    parser.add_argument("--force", action="store_true",
                        help="resume even if the checkpoint's configuration or dataset differ")
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="random seed (default 0)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    parser.add_argument("--loss", choices=LOSSES, default=None,
                        help="logistic + R1 (default, the paper's configuration F) or wgan-gp")
    parser.add_argument("--r1-gamma", type=float, default=None, metavar="GAMMA",
                        help="R1 weight (default 10)")
    parser.add_argument("--r1-interval", type=int, default=None, metavar="K",
                        help="apply R1 every K steps, K times as strong (default 1: every step)")
    parser.add_argument("--ema-kimg", type=float, default=None, metavar="N",
                        help="G_ema half-life in kimg (default 10, the paper's; lower it for runs "
                             "of a few kimg, whose G_ema would still look like its initialisation)")
    parser.add_argument("--no-mirror", action="store_true", default=None,
                        help="no left-right mirror augmentation")
    parser.add_argument("--tick-kimg", type=float, default=None, metavar="N",
                        help="kimg between sample grids and log lines (default 1)")
    parser.add_argument("--snapshot-kimg", type=float, default=None, metavar="N",
                        help="kimg between checkpoints (default 10)")
    parser.add_argument("--keep-last", type=int, default=None, metavar="K",
                        help="checkpoints to keep (default 3)")
    parser.add_argument("--tensorboard", action="store_true", default=None,
                        help="also log to DIR/tensorboard (if tensorboard is installed)")
    parser.add_argument("--channels-last", action="store_true", default=None,
                        help="channels-last memory layout (see benchmarks/training.md first)")
    parser.add_argument("--compile", action="store_true", default=None,
                        help="CUDA only: torch.compile G's synthesis network")
    parser.add_argument("--amp", action="store_true", default=None,
                        help="mixed precision on the top 4 resolutions (fp16 on CUDA, bf16 on CPU)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


# command-line option -> TrainingConfig field (None: not given, keep the resumed/default value)
_ARG_FIELDS = {"data": "data", "kimg": "total_kimg", "phase_kimg": "phase_kimg", "seed": "seed",
               "loss": "loss", "r1_gamma": "r1_gamma", "r1_interval": "r1_interval", "ema_kimg": "ema_kimg",
               "tick_kimg": "tick_kimg", "snapshot_kimg": "snapshot_kimg", "keep_last": "keep_last",
               "tensorboard": "tensorboard", "channels_last": "channels_last", "compile": "compile",
               "amp": "amp"}


def config_from_args(args) -> tuple[TrainingConfig, str | None]:
    """The :class:`TrainingConfig` the command line describes, and the checkpoint it resumes (or None).

    Options left unset take the resumed checkpoint's values, else the defaults.
    """
    if args.kimg is not None and not args.kimg >= 0:
        raise ValueError(f"--kimg must be a number >= 0, got {args.kimg}")
    saved = None
    if args.resume is not None:
        source = ckpt.latest_checkpoint(args.out) if args.resume == "auto" else Path(args.resume)
        if args.resume != "auto" and not source.is_file():
            raise FileNotFoundError(f"--resume: no such checkpoint {source}")
        if source is not None:
            saved = TrainingConfig.from_dict(ckpt.load_checkpoint(source)[1]["config"])
    if args.config is None and saved is not None:
        network = saved.network
    else:
        network = get_config(args.config or "cpu-tiny")
    fields = {f: getattr(saved, f) for f in _ARG_FIELDS.values()} if saved else {}
    if saved is not None and args.config is not None and saved.network.name != network.name:
        fields.update(total_kimg=None, phase_kimg=None)  # a different network: its own schedule
    fields.update({f: getattr(args, a) for a, f in _ARG_FIELDS.items() if getattr(args, a) is not None})
    if saved is not None:
        fields["mirror"] = saved.mirror
    if args.no_mirror:
        fields["mirror"] = False
    return TrainingConfig(network=network, **fields), args.resume


def run(args) -> int:
    """``stylegan-tutorial train``: train, print where the results are, return the exit code."""
    import sys

    config, resume = config_from_args(args)
    try:
        result = train(config, None, args.out, resume=resume, force=args.force, device=args.device,
                       progress=not args.no_progress)
    except TrainingDiverged as err:
        print(f"stylegan-tutorial train: {err}", file=sys.stderr)
        return 1
    state = "interrupted" if result.interrupted else "finished"
    if distributed.current().is_main:  # under torchrun, rank 0 alone reports (and writes)
        print(f"{state} at {result.kimg:.2f} kimg; checkpoint {result.last_checkpoint}; "
              f"samples in {Path(args.out) / 'samples'}")
    return 130 if result.interrupted else 0
