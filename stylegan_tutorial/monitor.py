"""Watching a run: sample grids, loss plots, ``log.jsonl``, TensorBoard and live notebook plots (chapter 10).

After every tick (``tick_kimg`` thousand images) the loop in :mod:`~stylegan_tutorial.training`
hands its statistics to a :class:`RunMonitor`, which writes into the run directory (rank 0
only, every file atomically):

- ``samples/fakes-NNNNNNNNN.png``: G_ema's images for the fixed seeds ``0 … grid_size - 1`` at
  the current resolution and ``alpha`` (so a run's grids can be compared across time);
- ``losses.png``: the per-tick mean losses against kimg, resolution changes dashed;
- ``log.jsonl``: one JSON line per tick (kimg, resolution, alpha, losses, speed, memory);
- ``tensorboard/``: the same numbers as TensorBoard scalars, when asked for and installed.

:func:`notebook_progress` draws the loss curves and the grid live in Jupyter and Colab.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylegan_tutorial.configs import TrainingConfig
from stylegan_tutorial.files import atomic_write_text, save_figure_png, save_png
from stylegan_tutorial.generate import images_from_seeds
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.images import image_grid
from stylegan_tutorial.schedule import Phase, phase_at

Callback = Callable[[object, dict], None]  # cb(run, tick): called after every tick


def sample_grid(G: Generator, phase: Phase, seeds: Sequence[int]) -> np.ndarray:
    """G's images for fixed ``seeds`` at ``phase``'s resolution and alpha, as a uint8 grid (chapter 10).

    Args:
        G:     the generator (G_ema in a run).
        phase: where the schedule is: the resolution and ``alpha`` to render.
        seeds: one image per seed, in a square-ish grid.

    Returns ``[H, W, 3]`` uint8.

    Images below 64² are enlarged (nearest neighbour) to 64² so that a 4² grid is visible.
    """
    img = images_from_seeds(G, seeds, resolution=phase.resolution, alpha=phase.alpha)  # [N, C, R, R]
    img = F.interpolate(img, scale_factor=max(1, 64 // phase.resolution), mode="nearest")
    return image_grid(img, nrow=max(1, int(math.sqrt(len(seeds)))))


def draw_losses(ax, history: list[dict]) -> None:
    """Per-tick mean losses against kimg on a matplotlib axis ``ax`` (chapter 10).

    ``history`` is the run's list of tick dicts; resolution changes are dashed.
    """
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
    """:func:`draw_losses` of ``history`` as a PNG file at ``path``, written atomically (chapter 10)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))  # no pyplot: safe in threads and without a display
    draw_losses(fig.add_subplot(), history)
    fig.tight_layout()
    save_figure_png(fig, path, dpi=80)


def tick_phase(nimg: int, tick: dict, config: TrainingConfig) -> Phase:
    """The phase of a tick's last step (chapter 10).

    Args:
        nimg:   images shown, counted after that step.
        tick:   the tick's dict (its ``batch_size`` is the last step's).
        config: the run's configuration.
    """
    return phase_at(nimg - tick["batch_size"], config)


def open_tensorboard(folder: Path):
    """A TensorBoard writer in ``folder``, or None with a warning if tensorboard is missing (chapter 10)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        warnings.warn("tensorboard is not installed: pip install tensorboard (logging to log.jsonl only)",
                      stacklevel=2)
        return None
    return SummaryWriter(str(folder))


def trim_log(path: Path, nimg: int) -> None:
    """Drop the ticks after ``nimg`` images from a ``log.jsonl`` (chapter 10).

    A run killed after a tick but before its next checkpoint logged ticks that the resumed run
    will make again; without this, the log would hold them twice. A line that does not parse
    (cut short by the kill) goes too.
    """
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)

    def after(line: str) -> bool:
        try:
            return round(1000 * json.loads(line)["kimg"]) > nimg
        except (ValueError, KeyError, TypeError):
            return True

    kept = [line for line in lines if not after(line)]
    if len(kept) != len(lines):
        atomic_write_text(path, "".join(kept))


class RunMonitor:
    """Writes a run's tick reports into its directory (chapter 10).

    Args:
        out:     the run directory (None: write nothing, e.g. a run kept in memory).
        config:  the run's configuration (``grid_size``, ``tensorboard``).
        enabled: False on every process but rank 0 under ``torchrun``.
        nimg:    where the run starts (a resumed run's position): later ticks already in
                 ``log.jsonl`` are dropped, since the run makes them again.
    """

    def __init__(self, out: Path | None, config: TrainingConfig, enabled: bool = True, nimg: int = 0):
        self.out = out if enabled else None
        self.config = config
        self.writer = None
        if self.out is not None:
            trim_log(self.out / "log.jsonl", nimg)
        if self.out is not None and config.tensorboard:
            self.writer = open_tensorboard(self.out / "tensorboard")

    def tick(self, G_ema: Generator, nimg: int, tick: dict, history: list[dict]) -> None:
        """Write the sample grid, the loss plot, a line of ``log.jsonl`` and TensorBoard scalars (chapter 10).

        Args:
            G_ema:   the generator whose images make the sample grid.
            nimg:    images shown so far (names the grid's file).
            tick:    this tick's statistics, one line of ``log.jsonl``.
            history: every tick so far, for the loss plot.
        """
        if self.out is None:
            return
        phase = tick_phase(nimg, tick, self.config)
        (self.out / "samples").mkdir(exist_ok=True)
        save_png(self.out / "samples" / f"fakes-{nimg:09d}.png",
                 sample_grid(G_ema, phase, range(self.config.grid_size)))
        plot_losses(history, self.out / "losses.png")
        log = self.out / "log.jsonl"
        try:
            with open(log, "a") as fh:
                fh.write(json.dumps(tick) + "\n")
        except OSError as err:  # name the file: a failed write knows only its errno
            raise OSError(err.errno, err.strerror, str(log)) from None
        if self.writer is not None:
            for k, v in tick.items():
                self.writer.add_scalar(k, v, nimg)

    def close(self) -> None:
        """Close the TensorBoard writer, if there is one (chapter 10)."""
        if self.writer is not None:
            self.writer.close()


def progress_figure(run, tick: dict):
    """The loss curves so far beside G_ema's images for the fixed sample seeds (chapter 10).

    ``run`` is the training run and ``tick`` its latest log line; returns a matplotlib
    ``Figure`` that no pyplot backend manages (so it can be drawn anywhere).
    """
    from matplotlib.figure import Figure

    phase = tick_phase(run.nimg, tick, run.config)
    fig = Figure(figsize=(10, 3.5))
    ax_loss, ax_img = fig.subplots(1, 2)
    draw_losses(ax_loss, run.history)
    ax_img.imshow(sample_grid(run.G_ema, phase, range(run.config.grid_size)))
    ax_img.set_axis_off()
    ax_img.set_title(f"G_ema at {tick['kimg']:.3f} kimg, {phase.resolution}², alpha {phase.alpha:.2f}")
    return fig


def notebook_progress(every: int = 1) -> Callback:
    """A ``train(..., callbacks=[notebook_progress()])`` callback for Jupyter and Colab (chapter 10).

    Every ``every`` ticks it redraws, in the cell's output, :func:`progress_figure` as a PNG
    (so it shows whether or not pyplot has been set up in the notebook).
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be an integer >= 1, got {every!r}")

    def callback(run, tick: dict) -> None:
        if len(run.history) % every:
            return
        from IPython.display import Image, clear_output, display

        png = io.BytesIO()
        progress_figure(run, tick).savefig(png, format="png", dpi=120, bbox_inches="tight")
        clear_output(wait=True)
        display(Image(data=png.getvalue(), format="png"))

    return callback


def peak_gpu_mib(device: torch.device) -> float | None:
    """The high-water mark of this process's GPU memory so far, in MiB; None off CUDA (chapter 10)."""
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
