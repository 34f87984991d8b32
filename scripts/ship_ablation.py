"""Ship the six rows of the paper's Table 1 (chapter 12) from their training runs.

    python scripts/ship_ablation.py --runs /root/stylegan-runs/ablation --kimg 120

expects ``RUNS/A`` ... ``RUNS/F``, each a run directory of
``stylegan-tutorial train --config ablation-ROW --out RUNS/ROW --resume auto --kimg KIMG``
(``scripts`` beside this one do not start the runs: the command each one ran is written into its
manifest). For each row it measures the checkpoint at KIMG with the oracle (Fréchet distance and
KID, 2,000 images a side, the same numbers ``stylegan-tutorial evaluate --checkpoint
pretrained:ablation-ROW --metrics fd,kid`` prints), and exports G_ema in float16 as
``stylegan_tutorial/pretrained/generator-ablation-ROW.{safetensors,json}`` with the run's
provenance: the command, the log's last lines, the time the ticks took, the hardware.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

COMMAND = ("OMP_NUM_THREADS=1 nice -n 5 stylegan-tutorial train --config ablation-{row} "
           "--out {runs}/{row} --resume auto --kimg {kimg:g} --tick-kimg 10 --snapshot-kimg 10 "
           "--keep-last 2 --no-progress")


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (the machine's architecture elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def run_provenance(run: Path, row: str, runs: Path, kimg: float) -> dict:
    """What the manifest records about one row's run: command, timings, last log lines, hardware."""
    import torch

    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    log = [tick for tick in log if tick["kimg"] <= kimg + 1e-6]
    seconds, previous = 0.0, 0.0
    speeds: dict[str, list[float]] = {}
    for tick in log:
        seconds += tick["sec_per_kimg"] * (tick["kimg"] - previous)
        previous = tick["kimg"]
        speeds.setdefault(f"{tick['resolution']}x{tick['resolution']}", []).append(tick["img_per_s"])
    stamp = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%MZ")  # noqa: E731
    # the run began one tick before its first sample grid was written
    first_sample = min(p.stat().st_mtime for p in (run / "samples").glob("*.png"))
    started = first_sample - log[0]["sec_per_kimg"] * log[0]["kimg"]
    return {
        "name": f"ablation-{row}",
        "what": (f"Row {row} of the StyleGAN paper's Table 1 (configuration ablation-{row}: the "
                 "cpu-tiny widths with the row's switches) trained on the package's generated "
                 f"faces at 32² (faces, seed 0, mirrored) for {kimg:g} kimg on a 2-core CPU; "
                 "rows A-F share data, schedule and seed"),
        "training_commands": [COMMAND.format(row=row, runs=runs, kimg=kimg)],
        "training_notes": ("Two rows trained at a time on the 2 cores, one torch thread each, "
                           "while the book was being written on the same machine."),
        "wall_time_seconds": {"ticks (sum of sec_per_kimg x kimg)": round(seconds)},
        "wall_time_utc": {"run": f"{stamp(started)} to {stamp((run / 'log.jsonl').stat().st_mtime)}"},
        "hardware": (f"2 cores of an {cpu_name()} ({platform.machine()}), one torch thread, shared "
                     f"with other jobs; torch {torch.__version__}, Python {platform.python_version()}; "
                     "float32, fused Adam"),
        "median_img_per_s_by_resolution": {k: round(statistics.median(v), 1) for k, v in speeds.items()},
        "final_log_lines": log[-2:],
    }


def main(argv=None) -> int:
    from stylegan_tutorial import checkpoint as ckpt
    from stylegan_tutorial.configs import ABLATION_ROWS
    from stylegan_tutorial.data.dataset import open_dataset
    from stylegan_tutorial.metrics.report import evaluate
    from stylegan_tutorial.shipped import PRETRAINED_DIR, export_generator, load_generator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="folder holding the run directories A ... F")
    parser.add_argument("--kimg", type=float, default=120.0, help="the checkpoint to ship (default 120)")
    parser.add_argument("--rows", default="".join(ABLATION_ROWS), help="which rows (default ABCDEF)")
    parser.add_argument("--out-dir", default=str(PRETRAINED_DIR))
    parser.add_argument("--notes", default=None,
                        help="JSON file {row: {manifest key: value}} merged into a row's provenance "
                             "(e.g. a run stopped and resumed)")
    args = parser.parse_args(argv)
    runs = Path(args.runs)
    notes = json.loads(Path(args.notes).read_text()) if args.notes else {}
    for row in args.rows:
        run = runs / row
        checkpoint = run / ckpt.checkpoint_name(round(args.kimg * 1000))
        if not checkpoint.exists():
            found = sorted(p.name for p in run.glob("checkpoint-*.safetensors"))
            raise SystemExit(f"{checkpoint} does not exist (the run has {found})")
        provenance = run_provenance(run, row, runs, args.kimg)
        provenance.update(notes.get(row, {}))
        G = load_generator(checkpoint)
        data = open_dataset("faces", resolution=G.config.resolution)
        metrics = evaluate(G, data, metrics=("fd", "kid"), n=2000, seed=0, progress=False)
        provenance["metrics_at_export"] = {
            "command": f"stylegan-tutorial evaluate --checkpoint pretrained:ablation-{row} "
                       "--metrics fd,kid (n = 2000, seed 0)",
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}}
        provenance["export_command"] = " ".join(["python scripts/ship_ablation.py",
                                                  *(sys.argv[1:] if argv is None else argv)])
        manifest = export_generator(checkpoint, args.out_dir, f"generator-ablation-{row}", provenance)
        print(row, json.dumps({k: manifest[k] for k in ("sha256", "bytes", "kimg")}),
              json.dumps(provenance["metrics_at_export"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
