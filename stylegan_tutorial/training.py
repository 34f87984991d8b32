"""Training StyleGAN: the D step, the G step, G_ema, the fade and the loop (chapter 10).

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

The configuration lives in :mod:`~stylegan_tutorial.configs`, the schedule in
:mod:`~stylegan_tutorial.schedule`, the data order in :mod:`~stylegan_tutorial.data.sampler`,
the speed switches in :mod:`~stylegan_tutorial.speed` and the reports in
:mod:`~stylegan_tutorial.monitor`; what is left here reads in one sitting beside chapter 10.
"""

from __future__ import annotations

import copy
import json
import math
import random
import signal
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from stylegan_tutorial import checkpoint as ckpt
from stylegan_tutorial import distributed
from stylegan_tutorial.collapse import collapse_warning, spread_ratio
from stylegan_tutorial.configs import RESUMABLE_CHANGES, TrainingConfig, training_config
from stylegan_tutorial.data.dataset import ImageDataset, open_dataset
from stylegan_tutorial.data.sampler import EpochSampler
from stylegan_tutorial.discriminator import Discriminator
from stylegan_tutorial.files import atomic_write_text, check_writable_dir
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.images import downsample_2x, upsample_2x
from stylegan_tutorial.losses import (
    d_logistic_loss,
    d_wgan_loss,
    g_nonsaturating_loss,
    g_wgan_loss,
    r1_penalty,
    wgan_gp_penalty,
)
from stylegan_tutorial.monitor import Callback, RunMonitor, peak_gpu_mib
from stylegan_tutorial.progress import tqdm
from stylegan_tutorial.runtime import pick_device
from stylegan_tutorial.schedule import Phase, phase_at
from stylegan_tutorial.speed import SpeedSwitches

Tensor = torch.Tensor


class TrainingDiverged(RuntimeError):
    """Raised when too many steps in a row had non-finite gradients (chapter 10).

    "Too many" is the config's ``max_bad_steps``.
    """


# --------------------------------------------------------------------------------------------
# Small pieces of one step
# --------------------------------------------------------------------------------------------


def fade_reals(reals: Tensor, alpha: float) -> Tensor:
    """Blend reals with their 2×2-averaged, nearest-upsampled copies (chapters 4 and 10).

    ``reals [N, C, R, R]`` -> ``[N, C, R, R]``: what the networks see at ``alpha`` (1: the reals
    as they are, 0: the blocky copies).
    """
    if alpha >= 1.0:
        return reals
    low = upsample_2x(downsample_2x(reals))  # [N, C, R, R], blocky
    return torch.lerp(low, reals, alpha)


def ema_beta(batch_size: int, ema_kimg: float) -> float:
    """The per-step decay of G_ema for a half-life of ``ema_kimg`` thousand images (chapter 10).

    ``beta = 0.5 ** (batch / (1000 ema_kimg))``: after ``1000 ema_kimg / batch`` steps the old
    weights keep half their say, whatever the batch size.
    """
    return 0.5 ** (batch_size / (ema_kimg * 1000.0))


@torch.no_grad()
def update_ema(G_ema: torch.nn.Module, G: torch.nn.Module, beta: float) -> None:
    """``p_ema <- beta p_ema + (1 - beta) p`` for parameters; buffers are copied (chapter 10).

    Args:
        G_ema: the moving average, updated in place.
        G:     the generator being trained (same architecture).
        beta:  the decay per step (:func:`ema_beta`; 1: G_ema keeps its parameters).

    Buffers (``w_avg``, the stored noise) are copied from ``G`` as they are.
    """
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.lerp_(p, 1.0 - beta)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


def gradients_finite(params: Sequence[torch.nn.Parameter]) -> bool:
    """Whether every gradient of ``params`` is finite; a missing one counts as zero (chapter 10)."""
    grads = [p.grad for p in params if p.grad is not None]
    return not grads or bool(torch.isfinite(torch.nn.utils.get_total_norm(grads)))


def _apply(optimizer: torch.optim.Optimizer, params: list) -> bool:
    """Average gradients over processes, then step only if they are all finite; report which."""
    distributed.average_gradients(params)
    ok = gradients_finite(params)
    if ok:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return ok


def d_step(run: Run, reals: Tensor, phase: Phase) -> dict[str, float]:
    """One discriminator update on ``reals [B, C, R, R]``; returns its losses (chapter 10).

    Args:
        run:   the run: networks, optimizers, configuration and step count.
        reals: this rank's real images ``[B, C, R, R]``, already faded to ``phase.alpha``.
        phase: where the schedule is: ``R = phase.resolution`` and ``alpha``.

    Returns ``{"loss_D", "r1" or "gp" (when applied), "spread", "D_ok"}``: detached scalar
    tensors (``spread``: the fakes' variation across the batch over the reals',
    :func:`~stylegan_tutorial.collapse.spread_ratio`), and whether the gradients were finite
    (then D stepped).
    """
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
    if len(fakes) > 1:  # ~1 while the fakes vary as the reals do (one image has no spread)
        stats["spread"] = spread_ratio(fakes, reals)
    return stats


def g_step(run: Run, batch: int, phase: Phase, device: torch.device) -> dict[str, float]:
    """One generator update with mixing regularisation; moves ``w_avg`` (chapter 10).

    Args:
        run:    the run: networks, optimizers, configuration and speed switches.
        batch:  how many fakes this rank makes, B.
        phase:  where the schedule is: the resolution and ``alpha`` rendered.
        device: where the latents ``z [B, z_dim]`` are drawn.

    Returns ``{"loss_G", "G_ok"}``: the detached loss, and whether the gradients were finite.
    """
    G, D, cfg = run.G, run.D, run.config
    res, alpha = phase.resolution, phase.alpha
    z = torch.randn(batch, cfg.network.z_dim, device=device)
    w = G.mapping(z)  # [B, w_dim]
    ws = G.mixing_regularization(w, cfg.network.style_mixing_prob, res)  # [B, L, w_dim]
    fakes = run.speed.synthesis(ws, res, alpha)  # [B, C, R, R]
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
    """One training run's state: ``G``, ``D``, ``G_ema``, both Adams, the schedule position (chapter 10).

    Args:
        config:           the run's configuration; its seed fixes the initial weights.
        dataset_identity: where the training images come from (``ImageDataset.identity``),
                          recorded in every checkpoint.
        device:           where the networks live.
        out:              the run directory (None: nothing is written).

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
        self.speed = SpeedSwitches(config, self.G, self.D, device)
        lr, betas, eps = config.learning_rate_at(4), config.adam_betas, config.adam_eps
        # Adam with the paper's beta1 = 0, beta2 = 0.99, eps = 1e-8
        self.opt_G = self.speed.adam(self.G_params, lr, betas, eps)
        self.opt_D = self.speed.adam(self.D_params, lr, betas, eps)
        self.nimg, self.step = 0, 0
        self.phase_key: list | None = None
        self.sampler_state = {"epoch": 0, "pos": 0}
        self.skipped_steps, self.bad_in_row = 0, 0
        self.history: list[dict] = []
        self.interrupted = False
        self.last_checkpoint: Path | None = None
        self.resumed_from: Path | None = None
        # each rank draws its own z and noise; rank 0 keeps the single-process stream
        torch.manual_seed(config.seed + 1 + 1000 * self.dist.rank)

    @property
    def kimg(self) -> float:
        """Thousands of images shown so far (chapter 10)."""
        return self.nimg / 1000.0

    @property
    def phase(self) -> Phase:
        """Where the schedule is now: resolution, ``alpha``, batch size, learning rate (chapter 10)."""
        return phase_at(self.nimg, self.config)

    # ---- checkpoint form ---------------------------------------------------------------------

    def state_tensors(self) -> dict[str, Tensor]:
        """Every tensor to save, by name: networks, Adam states, torch's RNG (chapter 10)."""
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
        """Everything else to save, as JSON: config, data, position, history, RNGs (chapter 10)."""
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
        """Restore from a loaded checkpoint, :meth:`state_tensors` and :meth:`state_meta` (chapter 10)."""
        for prefix, module in (("G", self.G), ("D", self.D), ("G_ema", self.G_ema)):
            sd = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
            module.load_state_dict(sd)
        for prefix, opt in (("opt_G", self.opt_G), ("opt_D", self.opt_D)):
            state: dict[int, dict] = {}
            for k, v in tensors.items():
                if k.startswith(prefix + ".state."):
                    i, name = k[len(prefix) + 7:].split(".", 1)
                    state.setdefault(int(i), {})[name] = v
            groups = [{**g, "fused": opt.param_groups[0].get("fused")}  # this run's switch, not the saved one
                      for g in meta["opt_groups"][prefix]]
            opt.load_state_dict({"state": state, "param_groups": groups})
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
        """Write a checkpoint to ``out`` (rank 0 only) and prune old ones (chapter 10).

        Returns its path, or None when nothing was written (no ``out``, or not rank 0).
        """
        if self.out is None or not self.dist.is_main:
            return None
        path = ckpt.save_checkpoint(self.out / ckpt.checkpoint_name(self.nimg),
                                    self.state_tensors(), self.state_meta())
        ckpt.prune_checkpoints(self.out, self.config.keep_last)
        self.last_checkpoint = path
        return path


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


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


def open_data(config: TrainingConfig, data=None) -> ImageDataset:
    """The dataset to train on: ``data`` itself, a spec string, or ``config.data`` (chapter 10).

    ``data`` is an :class:`ImageDataset`, a spec for
    :func:`~stylegan_tutorial.data.dataset.open_dataset`, or None for ``config.data``. It is
    checked against the network's resolution and channels.
    """
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
    """Check everything, open the data and build (or resume) the run; write nothing yet (chapter 10).

    Args:
        config: the run's :class:`TrainingConfig`.
        data:   a dataset spec, an ``ImageDataset``, or None for ``config.data``.
        out:    the run directory (None: nothing will be written).
        resume: None (a new run; ``out`` must hold no checkpoints), ``"auto"`` (the latest
                complete checkpoint in ``out``, or a new run if there is none) or a
                checkpoint path.
        force:  resume even if the checkpoint's configuration or data differ (with a warning).
        device: ``"auto"``, a device name or a ``torch.device``.

    Returns ``(run, dataset)``.
    """
    if not isinstance(config, TrainingConfig):
        raise ValueError(f"config must be a TrainingConfig, got {type(config).__name__}")
    dev = device if isinstance(device, torch.device) else pick_device(device)
    dataset = open_data(config, data)
    out = Path(out) if out is not None else None
    source = find_resume_source(out, resume)
    if out is not None:
        check_writable_dir(out, "the run directory")
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
        saved = ckpt.recorded_config(meta, source).to_dict()  # older layouts read as today's
        diffs = ckpt.check_compatible(saved, config.to_dict(), "configuration",
                                      RESUMABLE_CHANGES, force)
        diffs += ckpt.check_compatible(meta["dataset"], run.dataset_identity, "dataset", (), force)
        if diffs:
            warnings.warn("resuming despite differences (forced):\n  " + "\n  ".join(diffs), stacklevel=2)
        try:
            run.load_state(tensors, meta)
        except (RuntimeError, KeyError, TypeError, ValueError) as err:  # tensors or fields that do not fit
            raise ValueError(f"{source} is not a complete training state for this network "
                             f"({str(err).splitlines()[0]})") from None
        run.resumed_from = source
    return run, dataset


def find_resume_source(out: Path | None, resume: str | Path | None) -> Path | None:
    """The checkpoint a run continues from, refusing whatever would mix two runs (chapter 10).

    Args:
        out:    the run directory (None: a run kept in memory).
        resume: None (a new run), ``"auto"`` (the latest valid checkpoint in ``out``; a new run
                if there is none) or the path of a checkpoint.

    A run directory holds one line of training. A new run refuses a directory that already holds
    checkpoints, and a checkpoint other than the directory's latest (an older one of the same
    run, or one from elsewhere) may only be resumed into a new directory: continuing it here
    would interleave two branches, and pruning would delete one of them.
    """
    latest = ckpt.latest_checkpoint(out) if out is not None else None
    if resume is None:
        if latest is not None:
            raise FileExistsError(f"{out} already holds checkpoints (the latest is {latest.name}); "
                                  f"pass --resume auto (resume='auto') to continue that run, or "
                                  f"choose another --out")
        return None
    if resume == "auto":
        return latest
    source = Path(resume)
    if not source.is_file():
        raise FileNotFoundError(f"--resume: no such checkpoint {source}")
    if latest is not None and latest.resolve() != source.resolve():
        raise ValueError(
            f"--resume {source} is not the latest checkpoint of --out {out} ({latest.name} is): "
            f"continuing it there would mix two branches of training. Resume it into a new run "
            f"directory instead: --out NEW_DIR --resume {source}")
    return source


def train(config: TrainingConfig | str = "cpu-tiny", data=None, out=None, *,
          resume: str | None = None, force: bool = False, device: str | torch.device = "auto",
          callbacks: Sequence[Callback] = (), progress: bool = True,
          stop_at_kimg: float | None = None) -> Run:
    """Train StyleGAN as ``config`` says; return the :class:`Run` (networks, history) (chapter 10).

    Args:
        config:       a :class:`TrainingConfig`, or a configuration name (its own schedule).
        data:         a dataset spec (``"faces"``, a prepared ``.npy`` ...), an ``ImageDataset``,
                      or None for ``config.data``.
        out:          the run directory for checkpoints, sample grids, ``losses.png`` and
                      ``log.jsonl`` (None: keep everything in memory).
        resume:       None (a new run: ``out`` must hold no checkpoint), ``"auto"`` (the latest
                      complete checkpoint in ``out``; a new run if there is none) or a path.
        force:        resume even if the checkpoint's configuration or data differ.
        device:       ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or a device.
        callbacks:    called as ``cb(run, tick_stats)`` after every tick (live notebook plots).
        progress:     show a progress bar.
        stop_at_kimg: end this call early (None: at ``total_kimg``); the schedule is unchanged.

    The first Ctrl-C stops at the end of the current step and writes a checkpoint.
    """
    if isinstance(config, str):
        config = training_config(config)
    run, dataset = prepare_run(config, data, out, resume=resume, force=force, device=device)
    dataset = run.speed.dataset(dataset)  # on the device with data_on_device, else as it is
    if run.out is not None and run.dist.is_main:
        run.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run.out / "config.json", json.dumps(config.to_dict(), indent=1))
    with _StopOnSigint() as sigint:
        _loop(run, dataset, list(callbacks), progress, stop_at_kimg, sigint)
    return run


def _loop(run: Run, dataset, callbacks: list, progress: bool, stop_at_kimg, sigint) -> None:
    """Steps until ``total_kimg`` (or ``stop_at_kimg``, or Ctrl-C); ticks and checkpoints on the way."""
    cfg = run.config
    end_nimg = round(1000 * min(cfg.total_kimg, stop_at_kimg if stop_at_kimg is not None else math.inf))
    sampler = EpochSampler(len(dataset), cfg.seed, **{k: run.sampler_state[k] for k in ("epoch", "pos")})
    monitor = RunMonitor(run.out, cfg, enabled=run.dist.is_main, nimg=run.nimg)
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
                alarm = collapse_warning(tick)
                if alarm and run.dist.is_main:
                    warnings.warn(alarm, stacklevel=2)
                monitor.tick(run.G_ema, run.nimg, tick, run.history)
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
        monitor.close()


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
    reals = fade_reals(run.speed.memory_format(reals), phase.alpha)
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
                f"an earlier checkpoint into a new run directory (--out NEW_DIR --resume PATH) "
                f"with a lower learning rate or a larger r1_gamma."
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
        tick["peak_gpu_mib"] = peak_gpu_mib(run.device)
    run.history.append(tick)
    return tick
