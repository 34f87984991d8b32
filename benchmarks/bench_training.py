"""How fast does the training loop run? img/s and sec/kimg per resolution, switches on and off.

For each resolution of a configuration (``cpu-tiny`` by default), this times the real training
step of :mod:`stylegan_tutorial.training` (data read, real-image fade, D step with R1, G step
with mixing and ``w_avg``, G_ema update: everything but ticks and checkpoints) at the
configured batch size, and reports the median over ``--steps`` timed steps after warm-up, as
images per second and NVIDIA's seconds per thousand images, with the peak GPU memory. Each
variant turns on speed switches of :class:`~stylegan_tutorial.configs.TrainingConfig`
(:mod:`stylegan_tutorial.speed`) or changes what is trained (``VARIANTS`` below):

- ``default``: every switch off (on CUDA, ``cudnn.benchmark`` on, the default);
- one switch each: ``channels_last``, ``amp``, ``tf32``, ``fused_adam``, ``data_on_device``,
  and on CUDA ``no_cudnn_benchmark`` and ``compile``;
- ``fast``: ``tf32``, ``fused_adam`` and ``data_on_device`` together;
- changes to what is trained, for comparison: ``r1_every_4`` and ``r1_every_16`` (lazy R1,
  k times as strong), ``batch_x2`` and ``batch_x4`` (``fast`` with larger minibatches).

    python benchmarks/bench_training.py                       # CPU, cpu-tiny
    python benchmarks/bench_training.py --threads 1 --steps 5
    python benchmarks/bench_training.py --device cuda --config colab-64

Speed is measured here and never asserted in a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

FAST = {"tf32": True, "fused_adam": True, "data_on_device": True}
# variant -> TrainingConfig fields (and "batch_factor": a multiple of the configured batch)
VARIANTS = {
    "default": {},
    "channels_last": {"channels_last": True},
    "amp": {"amp": True},
    "tf32": {"tf32": True},
    "fused_adam": {"fused_adam": True},
    "data_on_device": {"data_on_device": True},
    "no_cudnn_benchmark": {"cudnn_benchmark": False},
    "compile": {"compile": True},
    "fast": FAST,
    "r1_every_4": {**FAST, "r1_interval": 4},
    "r1_every_16": {**FAST, "r1_interval": 16},
    "batch_x2": {**FAST, "batch_factor": 2},
    "batch_x4": {**FAST, "batch_factor": 4},
}
CUDA_ONLY = ("no_cudnn_benchmark", "compile", "tf32")


def time_steps(config_name: str, resolution: int, variant: str, device, steps: int, warmup: int,
               images: int = 512) -> dict:
    """Median seconds of one training step at ``resolution`` for ``variant``; img/s; sec/kimg.

    The timing is the package's (:func:`stylegan_tutorial.capacity.time_step`, which
    ``check-data``'s probe uses too): a run on ``images`` random images, steady at
    ``resolution`` (no fade), ``warmup`` untimed steps, then the median of ``steps``.
    """
    from stylegan_tutorial.capacity import Bench, steady_phase, time_step
    from stylegan_tutorial.configs import training_config

    fields = dict(VARIANTS[variant])
    factor = fields.pop("batch_factor", 1)
    cfg = training_config(config_name, **fields)
    cfg = cfg.replace(batch_sizes={r: b * factor for r, b in cfg.batch_sizes.items()})
    r = time_step(Bench.build(cfg, device, images), steady_phase(cfg, resolution), steps=steps, warmup=warmup)
    peak = r["peak_mib"] if r["peak_mib"] is not None else float("nan")
    return {"config": config_name, "res": resolution, "batch": r["batch"], "variant": variant,
            "step_ms": 1000 * r["step_s"], "img_s": r["img_s"], "sec_kimg": r["sec_kimg"],
            "peak_mib": peak, "runs": r["runs"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cpu-tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads on the CPU")
    parser.add_argument("--steps", type=int, default=7, help="timed steps per case (median)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--resolutions", default=None, help="comma-separated, default: all")
    parser.add_argument("--variants", default=None, help=f"comma-separated subset of {','.join(VARIANTS)}")
    args = parser.parse_args(argv)

    import torch

    from stylegan_tutorial.configs import get_config
    from stylegan_tutorial.runtime import pick_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    net = get_config(args.config)
    resolutions = [int(r) for r in args.resolutions.split(",")] if args.resolutions else net.resolutions
    variants = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    if device.type == "cuda":
        print(f"device: {torch.cuda.get_device_name(device)}")
    else:
        variants = [v for v in variants if v not in CUDA_ONLY]
        print(f"device: CPU ({platform.processor() or platform.machine()}), {torch.get_num_threads()} "
              f"torch threads, load average at start {os.getloadavg()[0]:.2f}")
    print(f"torch {torch.__version__}, python {platform.python_version()}\n")
    print("| config | res | batch | variant | step ms | img/s | sec/kimg | peak MiB | runs |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for res in resolutions:
        for variant in variants:
            r = time_steps(args.config, res, variant, device, args.steps, args.warmup)
            print(f"| {r['config']} | {r['res']}² | {r['batch']} | {r['variant']} | {r['step_ms']:.1f} | "
                  f"{r['img_s']:.1f} | {r['sec_kimg']:.2f} | {r['peak_mib']:.0f} | {r['runs']} |", flush=True)
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
