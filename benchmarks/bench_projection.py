"""PSNR against steps and seconds for projecting one 64² image on the CPU (chapter 13).

    .venv/bin/python benchmarks/bench_projection.py                 # the full curve (minutes)
    .venv/bin/python benchmarks/bench_projection.py --budgets 5,10  # a smoke test

The target is one image that the shipped faces64 made from a seed named nowhere else (its stored
noise), and optionally (``--real``) a face of the dataset, which the generator never drew. Two
measurements, with the command's defaults (``project``'s, apart from ``steps``):

1. **Budgets**: one projection per step budget. The learning-rate ramp stretches with the
   budget, so "PSNR after 100 steps of a 1000-step run" is not what a 100-step run reaches;
   each budget is its own run. PSNR is measured as the command reports it, between the two
   images as PNGs hold them (uint8).
2. **The curve of the longest run**: its PSNR at every step (of that step's image) against the
   seconds spent.

The *plateau* is the PSNR of the largest budget; the answer to "how fast" is the smallest
budget within 1 dB of it, with its seconds. For an image the generator made, an exact answer
exists and the PSNR keeps climbing with more steps (5 to 7 dB per doubling from 300 to 1200
steps, benchmarks/projection.md), so a plateau is only one relative to the largest budget tried;
a dataset face stops improving much earlier. Prints Markdown tables, the
machine and the load average; ``--json`` also writes every number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

SEED = 271828  # the image's seed: named only here


def parse_budgets(text: str) -> list[int]:
    budgets = sorted({int(b) for b in text.split(",") if b.strip()})
    if not budgets or budgets[0] < 1:
        raise SystemExit(f"--budgets must be positive step counts like 50,100,200, got {text!r}")
    return budgets


def targets(G, real: bool) -> dict[str, torch.Tensor]:
    """``{name: image [3, 64, 64]}``: a face faces64 made from :data:`SEED`, and a dataset face."""
    from stylegan_tutorial.data.faces import make_faces
    from stylegan_tutorial.generate import images_from_seeds

    found = {f"faces64 seed {SEED}": images_from_seeds(G, [SEED])[0]}
    if real:
        found["dataset face (seed 7)"] = make_faces(1, G.config.resolution, seed=7)[0][0]
    return found


def png_psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR of two ``[3, R, R]`` images after rounding both to uint8, as the PNGs hold them."""
    from stylegan_tutorial.images import to_uint8
    from stylegan_tutorial.projection import psnr

    a8, b8 = (torch.tensor(to_uint8(x[None])[0]).float() / 127.5 - 1 for x in (a, b))
    return float(psnr(a8, b8))


def within(rows: list[dict], margin: float = 1.0) -> dict:
    """The first row (fewest steps) whose PSNR is within ``margin`` dB of the last row's."""
    plateau = rows[-1]["psnr"]
    return next(r for r in rows if r["psnr"] >= plateau - margin)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="pretrained:faces64")
    parser.add_argument("--budgets", default="25,50,100,200,300,600,1200",
                        help="step budgets, one projection each (default 25,50,100,200,300,600,1200)")
    parser.add_argument("--space", default="w", choices=("w", "w+"))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--real", action="store_true", help="also project a dataset face")
    parser.add_argument("--json", default=None, help="write every number to this JSON file")
    args = parser.parse_args(argv)
    budgets = parse_budgets(args.budgets)
    torch.set_num_threads(args.threads)

    from stylegan_tutorial.oracle import load_oracle
    from stylegan_tutorial.projection import project
    from stylegan_tutorial.shipped import load_generator

    G, oracle = load_generator(args.checkpoint), load_oracle()
    image = next(iter(targets(G, False).values()))
    project(G, image, args.space, steps=2, oracle=oracle, progress=False)  # warm-up: torch.optim's imports
    report = {"checkpoint": args.checkpoint, "space": args.space, "threads": args.threads,
              "machine": f"{platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cpus, "
                         f"torch {torch.__version__}", "targets": {}}
    print(f"{args.checkpoint}, space {args.space}, {args.threads} thread(s), {report['machine']}")
    for name, target in targets(G, args.real).items():
        rows, last = [], None
        for steps in budgets:
            t0 = time.perf_counter()
            last = project(G, target, args.space, steps=steps, oracle=oracle, progress=False)
            rows.append({"steps": steps, "seconds": round(time.perf_counter() - t0, 2),
                         "psnr": round(png_psnr(last.reconstruction, target), 2)})
        best = within(rows)
        curve = [{"step": i + 1, "seconds": round(last.history["seconds"][i], 2),
                  "psnr": round(last.history["psnr"][i], 2)}
                 for i in range(0, budgets[-1], max(1, budgets[-1] // 20))]
        report["targets"][name] = {"budgets": rows, "plateau_psnr": rows[-1]["psnr"], "within_1db": best,
                                   "curve_of_longest_run": curve}
        print(f"\n### {name}\n\n| steps | seconds | PSNR (dB) |\n|---|---|---|")
        for r in rows:
            print(f"| {r['steps']} | {r['seconds']:.1f} | {r['psnr']:.2f} |")
        print(f"\nplateau (the {budgets[-1]}-step run): {rows[-1]['psnr']:.2f} dB; within 1 dB of it: "
              f"{best['steps']} steps, {best['seconds']:.1f} s")
        print(f"\nthe {budgets[-1]}-step run, step by step:\n\n| step | seconds | PSNR (dB) |\n|---|---|---|")
        for c in curve:
            print(f"| {c['step']} | {c['seconds']:.1f} | {c['psnr']:.2f} |")
    report["load_average"] = [round(v, 2) for v in os.getloadavg()]
    print("\nload average:", ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
