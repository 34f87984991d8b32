"""How long does each configuration train on a named GPU? The instructor's table, measured or estimated.

For every configuration this prints, per resolution, the kimg its schedule spends there and
the FLOPs of one training step per image (counted, not timed: ``torch.utils.flop_counter``'s
formulas over a real step with batch 2 on the CPU, forward, backward and R1's double backward);
then, per named GPU, the whole schedule's time:

- **measured** where a run of this repository recorded it: ``colab-64`` on one H100 (the run
  that made ``pretrained:faces64``, its manifest's median img/s per resolution, switches off)
  and on one H200 (``gpu-runs/2026-11-30-h200/log.jsonl``, switches on; that run stopped in the
  64² fade, so its 64² rate is the fade's);
- **estimated** everywhere else: FLOPs / (utilisation × the GPU's FP32 peak from its data
  sheet), with the utilisation 0.35 of the paper's own run (about 2×10¹⁹ FLOP in 41 days on
  one V100: ~5.6 of 15.7 TFLOP/s, see ``networks.md``); and never faster than the H200 measured
  per step at the same resolution, because below 128² a step is launch-bound, not
  arithmetic-bound (``training.md``).

    python benchmarks/instructor.py                 # every configuration, ~2 minutes
    python benchmarks/instructor.py --configs colab-64 cpu-tiny

The output goes to ``instructor.md``. Nothing here is asserted in a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from stylegan_tutorial.schedule import kimg_per_resolution  # noqa: E402 -- after the path is set

# FP32 peak TFLOP/s from the vendors' data sheets (dense, no TF32 or sparsity).
GPUS = {"T4 (Colab free)": 8.1, "L4": 30.3, "V100": 15.7, "A100": 19.5, "H100 SXM": 67.0, "H200": 67.0}
UTILISATION = 0.35  # the paper's V100 run, ~5.6 of 15.7 TFLOP/s (networks.md)
H200_LOG = HERE / "gpu-runs" / "2026-11-30-h200" / "log.jsonl"
H100_MANIFEST = ROOT / "stylegan_tutorial" / "pretrained" / "generator-faces64.json"


def step_gflop_per_image(name: str, resolution: int) -> float:
    """GFLOP of one training step per image at ``resolution`` (batch 2, on the CPU)."""
    import torch
    from bench_networks import _make_train_step, count_flops  # benchmarks/, beside this script

    from stylegan_tutorial.configs import get_config
    from stylegan_tutorial.discriminator import Discriminator
    from stylegan_tutorial.generator import Generator

    torch.manual_seed(0)
    net = get_config(name)
    step = _make_train_step(Generator(net), Discriminator(net), net, resolution, 2, torch.device("cpu"))
    return count_flops(step) / 2 / 1e9


def measured_img_per_s() -> dict[str, dict[int, float]]:
    """``{gpu: {resolution: img/s}}`` for colab-64 from this repository's own GPU runs."""
    manifest = json.loads(H100_MANIFEST.read_text())
    h100 = {int(k.split("x")[0]): float(v) for k, v in manifest["median_img_per_s_by_resolution"].items()}
    ticks = [json.loads(line) for line in H200_LOG.read_text().splitlines() if line.strip()]
    by_res: dict[int, list[float]] = {}
    for tick in ticks:
        if "img_per_s" in tick:
            by_res.setdefault(tick["resolution"], []).append(tick["img_per_s"])
    h200 = {res: statistics.median(v) for res, v in by_res.items()}
    return {"H100 SXM": h100, "H200": h200}


def estimate_seconds(kimg: dict[int, float], gflop: dict[int, float], batch: dict[int, int],
                     peak_tflops: float, floor_step_s: dict[int, float]) -> float:
    """Seconds of the schedule at ``UTILISATION`` of ``peak_tflops``, no faster than ``floor_step_s``."""
    total = 0.0
    for res, k in kimg.items():
        per_image = gflop[res] * 1e9 / (UTILISATION * peak_tflops * 1e12)
        if res in floor_step_s:
            per_image = max(per_image, floor_step_s[res] / batch[res])
        total += k * 1000 * per_image
    return total


def _hours(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h" if seconds < 3 * 86400 \
        else f"{seconds / 86400:.0f} days"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["cpu-tiny", "colab-64", "paper-256", "paper-1024"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads for the FLOP count")
    args = parser.parse_args(argv)
    import torch

    from stylegan_tutorial.configs import training_config

    if args.threads:
        torch.set_num_threads(args.threads)
    measured = measured_img_per_s()
    h200_colab = training_config("colab-64")
    floor = {res: h200_colab.batch_size_at(res) / ips for res, ips in measured["H200"].items()}
    for name in args.configs:
        cfg = training_config(name)
        kimg = kimg_per_resolution(cfg)
        gflop = {res: step_gflop_per_image(name, res) for res in kimg}
        batch = {res: cfg.batch_size_at(res) for res in kimg}
        print(f"\n### {name}: {cfg.total_kimg:g} kimg\n")
        print("| resolution | kimg | batch | step GFLOP/img |\n|---:|---:|---:|---:|")
        for res in kimg:
            print(f"| {res}² | {kimg[res]:g} | {batch[res]} | {gflop[res]:.2f} |")
        print(f"\nwhole schedule: {sum(kimg[r] * 1000 * gflop[r] for r in kimg) / 1e6:.3g} PFLOP\n")
        print("| GPU | FP32 peak TFLOP/s | sec/kimg at the top resolution | whole schedule | how |")
        print("|---|---:|---:|---:|---|")
        top = max(kimg)
        for gpu, peak in GPUS.items():
            if name == "colab-64" and gpu in measured and set(kimg) <= set(measured[gpu]):
                seconds = sum(kimg[r] * 1000 / measured[gpu][r] for r in kimg)
                top_sec_kimg = 1000 / measured[gpu][top]
                how = "**measured** (median tick img/s per resolution of this repository's run)"
            else:
                seconds = estimate_seconds(kimg, gflop, batch, peak, floor)
                top_sec_kimg = estimate_seconds({top: 1.0}, gflop, batch, peak, floor)
                how = f"estimate: FLOPs at {UTILISATION:.0%} of peak, H200 launch floor below 128²"
            print(f"| {gpu} | {peak:g} | {top_sec_kimg:.2f} | {_hours(seconds)} | {how} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
