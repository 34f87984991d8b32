"""How fast does the training loop run? img/s and sec/kimg per resolution, switches on and off.

For each resolution of a configuration (``cpu-tiny`` by default), this times the real training
step of :mod:`stylegan_tutorial.training` (data read, real-image fade, D step with R1, G step
with mixing and ``w_avg``, G_ema update: everything but ticks and checkpoints) at the
configured batch size, and reports the median over ``--steps`` timed steps after warm-up, as
images per second and NVIDIA's seconds per thousand images. Each variant switches one of the
speed settings of :class:`~stylegan_tutorial.training.TrainingConfig`:

- ``default``: nothing extra (on CUDA, ``cudnn.benchmark`` on, the default),
- ``channels_last``: channels-last memory layout for networks and images,
- ``amp``: the top 4 resolutions of G and D in fp16 (bf16 on the CPU), clamped to +-256,
- on CUDA also ``no_cudnn_benchmark`` and ``compile`` (``torch.compile`` of G's synthesis).

    python benchmarks/bench_training.py                       # CPU, cpu-tiny
    python benchmarks/bench_training.py --threads 1 --steps 5
    python benchmarks/bench_training.py --device cuda --config colab-64

Speed is measured here and never asserted in a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

from _timing import timed_runs  # benchmarks/_timing.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))


def steady_phase(network, resolution: int, phase_kimg: float):
    """The schedule's :class:`Phase` at ``resolution`` with no fade running."""
    from stylegan_tutorial.schedule import phase_at, phase_boundaries

    for kimg, res, what in phase_boundaries(network, phase_kimg):
        if res == resolution and what == "train":
            return phase_at(round(kimg * 1000), network, phase_kimg)
    raise ValueError(f"resolution {resolution} is not in the schedule")


def time_steps(config_name: str, resolution: int, variant: str, device, steps: int, warmup: int) -> dict:
    """Median seconds of one training step at ``resolution`` for ``variant``; img/s; sec/kimg."""
    import torch


    from stylegan_tutorial.data.dataset import ImageDataset
    from stylegan_tutorial.training import (
        EpochSampler, _apply_gpu_settings, _train_step, prepare_run, training_config)

    fields = {"channels_last": variant == "channels_last", "compile": variant == "compile",
              "amp": variant == "amp",
              "cudnn_benchmark": variant != "no_cudnn_benchmark"}
    cfg = training_config(config_name, **fields)
    net = cfg.network
    gen = torch.Generator().manual_seed(0)
    shape = (512, net.img_channels, net.resolution, net.resolution)
    data = ImageDataset(torch.rand(shape, generator=gen) * 2 - 1)
    run, _ = prepare_run(cfg, data, device=device)
    _apply_gpu_settings(run)
    phase = steady_phase(net, resolution, cfg.phase_kimg)
    run.nimg = phase.nimg
    sampler = EpochSampler(len(data), 0)

    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    sec = statistics.median(timed_runs(lambda: _train_step(run, data, sampler, phase),
                                       steps, warmup, sync=sync))
    return {"config": config_name, "res": resolution, "batch": phase.batch_size, "variant": variant,
            "step_ms": 1000 * sec, "img_s": phase.batch_size / sec, "sec_kimg": 1000 * sec / phase.batch_size,
            "runs": steps}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cpu-tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads on the CPU")
    parser.add_argument("--steps", type=int, default=7, help="timed steps per case (median)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--resolutions", default=None, help="comma-separated, default: all")
    parser.add_argument("--variants", default=None, help="comma-separated subset of the variants")
    args = parser.parse_args(argv)

    import torch

    from stylegan_tutorial.configs import get_config
    from stylegan_tutorial.runtime import pick_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    net = get_config(args.config)
    resolutions = [int(r) for r in args.resolutions.split(",")] if args.resolutions else net.resolutions
    variants = ["default", "channels_last", "amp"]
    if device.type == "cuda":
        variants += ["no_cudnn_benchmark", "compile"]
        print(f"device: {torch.cuda.get_device_name(device)}")
    else:
        print(f"device: CPU ({platform.processor() or platform.machine()}), {torch.get_num_threads()} "
              f"torch threads, load average at start {os.getloadavg()[0]:.2f}")
    if args.variants:
        variants = [v for v in variants if v in args.variants.split(",")]
    print(f"torch {torch.__version__}, python {platform.python_version()}\n")
    print("| config | res | batch | variant | step ms | img/s | sec/kimg | runs |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for res in resolutions:
        for variant in variants:
            r = time_steps(args.config, res, variant, device, args.steps, args.warmup)
            print(f"| {r['config']} | {r['res']}² | {r['batch']} | {r['variant']} | {r['step_ms']:.1f} | "
                  f"{r['img_s']:.1f} | {r['sec_kimg']:.1f} | {r['runs']} |", flush=True)
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
