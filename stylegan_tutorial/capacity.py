"""How large a batch fits and how long a schedule takes, measured with real training steps.

Before a lab, an instructor wants two numbers per resolution of a configuration: the largest
minibatch the device's memory holds, and how many seconds a thousand images take. Neither is
guessed here: both come from the step that ``train`` runs (``training._train_step``: the data
read, the D step with the configuration's loss and R1, the G step with mixing, the G_ema
update), on random images, in memory, with nothing written (the instructor's guide):

- **the largest batch** (:func:`largest_batch`): on CUDA the batch doubles from 1, each try a
  whole step with R1, until ``torch.cuda.OutOfMemoryError`` (caught, the cache emptied) or
  ``max_batch``; the largest that ran is the answer. On the CPU, time is what limits a run, not
  memory, so the doubling stops at the configuration's own batch for the resolution and the
  report says so;
- **the speed** (:func:`time_step`): the median of a few timed steps after a warm-up, at the
  configuration's batch (or the largest that fits, if that is smaller), as sec/kimg;
- **the schedule** (:func:`probe`): the kimg the schedule spends at each resolution
  (:func:`~stylegan_tutorial.schedule.kimg_per_resolution`) times its sec/kimg, summed.

The estimate counts training steps only: ticks (sample grids, plots) and checkpoints add a
little; a fade-in is timed as the resolution it fades into (its steps do slightly more, the
blend of the reals and both paths of the networks). ``check-data`` prints it after its scan
of the data (:mod:`stylegan_tutorial.data.preflight`).
"""

from __future__ import annotations

import dataclasses
import gc
import platform
import statistics
from dataclasses import dataclass

import numpy as np
import torch

from stylegan_tutorial.configs import TrainingConfig
from stylegan_tutorial.data.dataset import DeviceDataset, ImageDataset
from stylegan_tutorial.data.sampler import EpochSampler
from stylegan_tutorial.monitor import peak_gpu_mib
from stylegan_tutorial.progress import tqdm
from stylegan_tutorial.runtime import pick_device, synchronizer, timed_runs
from stylegan_tutorial.schedule import Phase, kimg_per_resolution, phase_at, phase_boundaries
from stylegan_tutorial.training import Run, _train_step, prepare_run

MAX_BATCH = 256  # the most the CUDA probe tries: more rarely helps a GAN of this size
WARMUP_STEPS = 1  # untimed steps before the timed ones (allocations, cuDNN's search)
TIMED_STEPS = 3  # timed steps per resolution: the median is reported
PROBE_IMAGES = 64  # random images the probe trains on; the sampler cycles through them


def random_images(config: TrainingConfig, count: int = PROBE_IMAGES, seed: int = 0) -> ImageDataset:
    """``count`` random uint8 images ``[count, R, R, C]`` at the network's size (the instructor's guide).

    The probe's data: a step costs the same whatever the pixels hold.
    """
    net = config.network
    pixels = np.random.default_rng(seed).integers(
        0, 256, (count, net.resolution, net.resolution, net.img_channels), dtype=np.uint8)
    return ImageDataset(pixels, identity={"source": f"random:{count}"})


def steady_phase(config: TrainingConfig, resolution: int) -> Phase:
    """The schedule's phase once ``resolution`` trains steadily, ``alpha = 1`` (the instructor's guide).

    Its batch size and learning rate are the configuration's for ``resolution``.
    """
    if resolution not in config.network.resolutions:
        raise ValueError(f"resolution {resolution} is not a level of {config.network.name} "
                         f"({', '.join(map(str, config.network.resolutions))})")
    start = next(k for k, r, what in phase_boundaries(config) if r == resolution and what == "train")
    return phase_at(round(start * 1000), config)


@dataclass
class Bench:
    """A training run on random images, held in memory, ready for single steps (the instructor's guide).

    Args:
        run:     the :class:`~stylegan_tutorial.training.Run` (networks, optimizers, switches).
        data:    the images it trains on, on the device with ``data_on_device``.
        sampler: the order it draws them in.
    """

    run: Run
    data: ImageDataset | DeviceDataset
    sampler: EpochSampler

    @classmethod
    def build(cls, config: TrainingConfig, device: torch.device, images: int = PROBE_IMAGES) -> Bench:
        """A run of ``config`` on ``device`` with ``images`` random images; nothing is written."""
        run, data = prepare_run(config, random_images(config, images), device=device)
        return cls(run, run.speed.dataset(data), EpochSampler(len(data), config.seed))

    def step(self, phase: Phase, batch: int | None = None, r1: bool = False) -> None:
        """One training step at ``phase`` with ``batch`` images (None: the phase's own).

        ``r1`` forces the R1 penalty into this step, as a lazy ``r1_interval`` would only every
        k steps: its double backward is the step's memory peak.
        """
        if batch is not None:
            phase = dataclasses.replace(phase, batch_size=batch)
        if r1:
            self.run.step = 0  # R1 runs when step % r1_interval == 0
        _train_step(self.run, self.data, self.sampler, phase)


def fits(bench: Bench, phase: Phase, batch: int) -> tuple[bool, float | None]:
    """Whether one step with R1 at ``phase`` with ``batch`` images runs in memory (the instructor's guide).

    Returns ``(ok, peak MiB of the step)``; the peak is None off CUDA. A CUDA out-of-memory
    error is caught: the gradients are dropped and the cache emptied, so the next, smaller
    try starts clean. Any other error is raised.
    """
    device = bench.run.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    try:
        bench.step(phase, batch, r1=True)
        synchronizer(device)()
        ok = True
    except torch.cuda.OutOfMemoryError:
        ok = False
    if not ok:  # outside the except block: the error's frames, and their tensors, are gone
        for opt in (bench.run.opt_G, bench.run.opt_D):
            opt.zero_grad(set_to_none=True)
        gc.collect()
        torch.cuda.empty_cache()
        return False, None
    return True, peak_gpu_mib(device)


def batches_to_try(cap: int) -> list[int]:
    """``1, 2, 4, …`` below ``cap``, then ``cap``: the doubling of the probe (the instructor's guide)."""
    out, batch = [], 1
    while batch < cap:
        out.append(batch)
        batch *= 2
    return out + [cap]


def largest_batch(bench: Bench, phase: Phase, cap: int) -> dict:
    """The largest batch whose step runs at ``phase``, doubling from 1 up to ``cap`` (the instructor's guide).

    Returns ``{"largest_batch", "capped", "peak_mib"}``: the batch (0 if even one image does
    not fit), whether the doubling stopped at ``cap`` rather than at an out-of-memory error (then
    more may fit), and the peak memory of that step (None off CUDA).
    """
    best, peak = 0, None
    for batch in batches_to_try(cap):
        ok, mib = fits(bench, phase, batch)
        if not ok:
            return {"largest_batch": best, "capped": False, "peak_mib": peak}
        best, peak = batch, mib
    return {"largest_batch": best, "capped": True, "peak_mib": peak}


def time_step(bench: Bench, phase: Phase, batch: int | None = None, steps: int = TIMED_STEPS,
              warmup: int = WARMUP_STEPS) -> dict:
    """The median seconds of a training step at ``phase`` (the instructor's guide).

    Args:
        bench:  the run to step.
        phase:  where in the schedule (resolution, alpha, batch).
        batch:  images per step (None: the phase's own).
        steps:  timed steps; the median is reported.
        warmup: untimed steps first.

    Returns ``{"resolution", "batch", "step_s", "img_s", "sec_kimg", "peak_mib", "runs"}``
    (``peak_mib``: the GPU's high-water mark over the steps, None off CUDA).
    """
    batch = phase.batch_size if batch is None else batch
    device = bench.run.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = timed_runs(lambda: bench.step(phase, batch), steps, warmup, sync=synchronizer(device))
    sec = statistics.median(times)
    return {"resolution": phase.resolution, "batch": batch, "step_s": sec, "img_s": batch / sec,
            "sec_kimg": 1000 * sec / batch, "peak_mib": peak_gpu_mib(device), "runs": len(times)}


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's with torch's thread count (the instructor's guide)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"{platform.processor() or platform.machine()}, {threads} torch thread{'s' * (threads != 1)}"
    return device.type


def probe_resolution(bench: Bench, config: TrainingConfig, resolution: int, max_batch: int,
                     kimg: float, steps: int, warmup: int) -> dict:
    """The largest batch, the speed and the schedule's seconds at one resolution (the instructor's guide).

    On CUDA the doubling goes up to ``max_batch``; elsewhere up to the configured batch (capped
    by ``max_batch``). The speed is timed at the configured batch, or at the largest that fits
    when that is smaller (``timed_batch``); ``seconds`` is ``kimg`` at that speed.
    """
    phase = steady_phase(config, resolution)
    configured = phase.batch_size
    cap = max_batch if bench.run.device.type == "cuda" else min(configured, max_batch)
    row = {"resolution": resolution, "configured_batch": configured, **largest_batch(bench, phase, cap),
           "kimg": kimg}
    timed = min(configured, row["largest_batch"])
    if timed == 0:
        return {**row, "timed_batch": 0, "step_s": None, "img_s": None, "sec_kimg": None, "seconds": None}
    speed = time_step(bench, phase, timed, steps, warmup)
    return {**row, "timed_batch": timed, "step_s": speed["step_s"], "img_s": speed["img_s"],
            "sec_kimg": speed["sec_kimg"], "seconds": kimg * speed["sec_kimg"]}


def probe(config: TrainingConfig, device: str | torch.device = "auto", resolutions=None,
          max_batch: int = MAX_BATCH, steps: int = TIMED_STEPS, warmup: int = WARMUP_STEPS,
          progress: bool = True) -> dict:
    """The largest batch and sec/kimg per resolution of ``config`` on ``device``, and the schedule's time.

    Args:
        config:      the training run to measure (its networks, losses, switches and schedule).
        device:      ``"auto"`` (CUDA if there is one, else the CPU), a name or a ``torch.device``.
        resolutions: the levels to probe (None: every level of the network).
        max_batch:   the most the doubling tries (on the CPU, the configured batch caps it too).
        steps:       timed steps per resolution (the median is reported).
        warmup:      untimed steps before them.
        progress:    show a progress bar over the resolutions.

    Returns ``config``, ``device``, ``device_name``, ``memory_probed`` (True on CUDA), ``rows``
    (one dict per resolution: ``configured_batch``, ``largest_batch``, ``capped``, ``peak_mib``,
    ``timed_batch``, ``sec_kimg``, ``img_s``, ``kimg``, ``seconds``), ``total_kimg``,
    ``schedule_seconds`` (None unless every level with kimg in the schedule was timed) and
    ``warnings``. Nothing is written (the instructor's guide).
    """
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
        raise ValueError(f"max_batch must be an integer >= 1, got {max_batch!r}")
    if steps < 1 or warmup < 0:
        raise ValueError(f"steps must be >= 1 and warmup >= 0, got {steps} and {warmup}")
    dev = device if isinstance(device, torch.device) else pick_device(device)
    levels = config.network.resolutions if resolutions is None else [int(r) for r in resolutions]
    for res in levels:
        steady_phase(config, res)  # every level checked before the work
    kimg = kimg_per_resolution(config)
    bench = Bench.build(config, dev)
    rows = [probe_resolution(bench, config, res, max_batch, kimg[res], steps, warmup)
            for res in tqdm(levels, desc="probe", unit="res", disable=not progress)]
    needed = [r for r, k in kimg.items() if k > 0]
    timed = {row["resolution"]: row["seconds"] for row in rows if row["seconds"] is not None}
    total = sum(timed[r] for r in needed) if set(needed) <= set(timed) else None
    warnings = [f"the configured batch {row['configured_batch']} at {row['resolution']}² does not fit in "
                f"memory: the largest that does is {row['largest_batch']} (train --batch-sizes)"
                for row in rows if row["largest_batch"] < row["configured_batch"]]
    return {"config": config.network.name, "device": str(dev), "device_name": device_name(dev),
            "memory_probed": dev.type == "cuda", "max_batch": max_batch, "steps": steps,
            "warmup": warmup, "rows": rows, "total_kimg": config.total_kimg,
            "schedule_seconds": total, "warnings": warnings}


def format_duration(seconds: float) -> str:
    """Seconds as a person reads them: ``45 s``, ``12 min``, ``3.4 h``, ``5 days`` (instructor's guide)."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def format_probe(report: dict) -> str:
    """:func:`probe`'s report as an aligned table, as ``check-data`` prints it (the instructor's guide)."""
    lines = [f"training probe: {report['config']} on {report['device']} ({report['device_name']})"]
    if report["memory_probed"]:
        lines.append(f"  batch doubled from 1 until out of memory, at most {report['max_batch']}; "
                     f"speed: median of {report['steps']} steps after {report['warmup']} warm-up")
    else:
        lines.append(f"  memory is not the limit off a GPU: batches probed only up to the configuration's "
                     f"own; speed: median of {report['steps']} steps after {report['warmup']} warm-up")
    lines.append(f"  {'res':>6} {'batch':>6} {'fits':>8} {'peak MiB':>9} {'sec/kimg':>9} {'img/s':>8} "
                 f"{'kimg':>7} {'time':>9}")
    for row in report["rows"]:
        fit = f"{row['largest_batch']}" + ("+" if row["capped"] else "")
        peak = f"{row['peak_mib']:.0f}" if row["peak_mib"] is not None else "-"
        speed = (f"{row['sec_kimg']:>9.2f} {row['img_s']:>8.1f}" if row["sec_kimg"] is not None
                 else f"{'-':>9} {'-':>8}")
        when = format_duration(row["seconds"]) if row["seconds"] is not None else "-"
        lines.append(f"  {str(row['resolution']) + '²':>6} {row['timed_batch']:>6} {fit:>8} {peak:>9} "
                     f"{speed} {row['kimg']:>7g} {when:>9}")
    lines.append("  (fits: the largest batch that ran; + : the probe stopped there, more may fit)")
    if report["schedule_seconds"] is not None:
        lines.append(f"  whole schedule, {report['total_kimg']:g} kimg: about "
                     f"{format_duration(report['schedule_seconds'])} of training steps (sample grids "
                     f"and checkpoints add a little)")
    lines += [f"  warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)
