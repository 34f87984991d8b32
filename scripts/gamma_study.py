"""R1's γ against quality, variety and the collapse alarm, measured on the faces (the instructor's guide).

The runs are the package's own command, one per γ, everything else equal (cpu-tiny, the
generated faces, seed 0, 80 kimg, 4² to 32²)::

    for g in 0.01 0.1 1 10 100; do
      stylegan-tutorial train --config cpu-tiny --out runs/gamma/g$g --r1-gamma $g \\
          --tick-kimg 2 --snapshot-kimg 10 --keep-last 100 --resume auto
    done
    python scripts/gamma_study.py --runs runs/gamma --out book/_static/guide

For every snapshot this measures, with the shipped oracle as the judge:

- at 32² (the top resolution, faded in): the Fréchet distance of ``n`` faces of G_ema to ``n``
  real ones, and the coverage of the faces' factor combinations
  (:mod:`stylegan_tutorial.metrics.coverage`);
- at every resolution: the minibatch spread ratio that training logs
  (:func:`stylegan_tutorial.collapse.spread_ratio`): G's fakes, with mixing, against a batch of
  reals, as ``d_step`` sees them, averaged over a few batches of 32.

It also calibrates the alarm: the spread ratio of a batch of 32 real faces made of only ``k``
distinct faces, repeated, against a batch of 32 distinct ones. Writes ``gamma.json`` and
``gamma.png`` into ``--out`` and prints the tables the guide quotes.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from stylegan_tutorial.checkpoint import list_checkpoints, read_meta, recorded_config, recorded_nimg  # noqa: E402
from stylegan_tutorial.collapse import SPREAD_WARNING, spread_ratio  # noqa: E402
from stylegan_tutorial.data.dataset import open_dataset  # noqa: E402
from stylegan_tutorial.generate import sample_images  # noqa: E402
from stylegan_tutorial.metrics.coverage import coverage  # noqa: E402
from stylegan_tutorial.metrics.frechet import frechet_distance  # noqa: E402
from stylegan_tutorial.oracle import load_oracle  # noqa: E402
from stylegan_tutorial.schedule import phase_at  # noqa: E402
from stylegan_tutorial.shipped import load_generator  # noqa: E402

SPREAD_BATCH = 32  # images per batch for the spread ratio
SPREAD_BATCHES = 8  # batches averaged


def real_batch(data, n: int, resolution: int, seed: int) -> torch.Tensor:
    """``n`` random real faces ``[n, 3, r, r]`` at ``resolution``."""
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data), generator=gen)[:n].sort().values
    return data.batch(idx.numpy(), resolution).float()


@torch.no_grad()
def snapshot_spread(path: Path, data, seed: int = 0) -> tuple[float, int, float]:
    """``(spread ratio, resolution, alpha)`` of a training checkpoint's G, as ``d_step`` measures it."""
    config = recorded_config(read_meta(path), path)
    phase = phase_at(recorded_nimg(read_meta(path), path), config)
    G = load_generator(path, which="G")
    torch.manual_seed(seed)
    ratios = []
    for b in range(SPREAD_BATCHES):
        z = torch.randn(SPREAD_BATCH, G.z_dim)
        fakes = G(z, phase.resolution, phase.alpha, mixing_prob=config.network.style_mixing_prob)
        reals = real_batch(data, SPREAD_BATCH, phase.resolution, seed + b)
        ratios.append(float(spread_ratio(fakes, reals)))
    return sum(ratios) / len(ratios), phase.resolution, phase.alpha


def calibrate(data, resolution: int, repeats: int = 20) -> dict[int, float]:
    """The spread ratio of batches made of ``k`` distinct real faces, repeated, against distinct ones."""
    out = {}
    for k in (1, 2, 4, 8, 16, 32):
        ratios = []
        for r in range(repeats):
            distinct = real_batch(data, SPREAD_BATCH, resolution, 1000 + r)
            few = real_batch(data, k, resolution, 2000 + r)  # [k, C, r, r]
            few = few.repeat(SPREAD_BATCH // k, 1, 1, 1)  # [32, C, r, r]: k faces, each 32/k times
            ratios.append(float(spread_ratio(few, distinct)))
        out[k] = sum(ratios) / len(ratios)
    return out


def study(runs: Path, n: int) -> dict:
    """Every run under ``runs`` (folders ``g<gamma>``): per snapshot, spread; at 32², FD and coverage."""
    data = open_dataset("faces", 32)
    oracle = load_oracle()
    reals = real_batch(data, n, 32, seed=7)  # [n, 3, 32, 32]
    real_feats, real_pred = oracle.features(reals), oracle.predict(reals)
    result = {"n": n, "calibration": calibrate(data, 32), "runs": {}}
    for folder in sorted(runs.iterdir(), key=lambda p: float(p.name[1:]) if re.fullmatch(r"g[\d.]+", p.name)
                         else float("inf")):
        if not re.fullmatch(r"g[\d.]+", folder.name) or not folder.is_dir():
            continue
        gamma = float(folder.name[1:])
        rows = []
        for path in list_checkpoints(folder):
            kimg = recorded_nimg(read_meta(path), path) / 1000
            spread, res, alpha = snapshot_spread(path, data)
            row = {"kimg": round(kimg, 1), "resolution": res, "alpha": alpha, "spread": spread}
            if res == 32 and alpha == 1.0:
                G = load_generator(path)
                fakes = sample_images(G, n, seed=1)
                row["fd"] = frechet_distance(real_feats, oracle.features(fakes))
                row.update({k: v for k, v in coverage(oracle.predict(fakes), real_pred).items()})
            rows.append(row)
            print(f"γ {gamma:g}  kimg {kimg:5.1f}  {res:2d}² α {alpha:.2f}  spread {spread:.2f}"
                  + (f"  FD {row['fd']:.2f}  coverage {row['coverage']:.2f} (tv {row['tv']:.2f})"
                     if "fd" in row else ""), flush=True)
        log = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
        result["runs"][f"{gamma:g}"] = {"snapshots": rows, "last_tick": log[-1]}
    return result


def figure(result: dict, path: Path) -> None:
    """FD and coverage at 70 and 80 kimg against γ; the spread ratio against kimg per γ."""
    gammas = list(result["runs"])
    x = [float(g) for g in gammas]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))
    for kimg, style in ((70.0, "o--"), (80.0, "s-")):
        rows = [next(s for s in result["runs"][g]["snapshots"] if s["kimg"] == kimg) for g in gammas]
        axes[0].semilogx(x, [r["fd"] for r in rows], style, color="black", label=f"{kimg:.0f} kimg")
        axes[1].semilogx(x, [r["coverage"] for r in rows], style, color="black", label=f"{kimg:.0f} kimg")
    present = result["runs"][gammas[-1]]["snapshots"][-1]["present"]
    axes[0].set(xlabel="R1 γ", ylabel="Fréchet distance (oracle features)", title="Quality (lower is better)")
    axes[1].set(xlabel="R1 γ", ylabel=f"share of the data's {present} combinations",
                title="Coverage of hair × eyes × glasses", ylim=(0, 1.05))
    for ax in axes[:2]:
        ax.legend(fontsize=11)
    styles = ["-", "--", ":", "-.", (0, (5, 1))]
    for g, style in zip(gammas, styles):
        snaps = result["runs"][g]["snapshots"]
        axes[2].plot([s["kimg"] for s in snaps], [s["spread"] for s in snaps], linestyle=style, marker="o",
                     markersize=3, label=f"γ = {g}")
    axes[2].axhline(SPREAD_WARNING, color="tab:red", linewidth=1)
    axes[2].text(11, SPREAD_WARNING + 0.03, "alarm", color="tab:red")
    axes[2].set(xlabel="kimg", ylabel="spread ratio (fakes / reals)", title="Minibatch spread in training",
                ylim=(0, 1.3))
    axes[2].legend(fontsize=10, loc="lower right", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=150)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, type=Path, help="the folder holding g<gamma>/ run folders")
    parser.add_argument("--out", required=True, type=Path, help="where gamma.json and gamma.png go")
    parser.add_argument("--n", type=int, default=1000, help="faces per FD and coverage measurement")
    args = parser.parse_args(argv)
    result = study(args.runs, args.n)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gamma.json").write_text(json.dumps(result, indent=1) + "\n")
    figure(result, args.out / "gamma.png")
    print("\nmean over the snapshots at 32² (60, 70, 80 kimg):")
    for g, run in result["runs"].items():
        top = [s for s in run["snapshots"] if "fd" in s]
        print(f"  γ {g}: FD {sum(s['fd'] for s in top) / len(top):.2f}, "
              f"coverage {sum(s['coverage'] for s in top) / len(top):.2f} "
              f"of {top[-1]['present']} combinations in the data")
    print("\ncalibration: spread ratio of 32 real faces made of k distinct ones")
    for k, v in result["calibration"].items():
        print(f"  k = {k:2d}: {v:.2f}")
    print("\n| γ | FD | coverage | missing (hair, eyes, glasses) | tv | spread (min after 20 kimg) "
          "| loss_D | loss_G |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|")
    for g, run in result["runs"].items():
        last, tick = run["snapshots"][-1], run["last_tick"]
        late = [s["spread"] for s in run["snapshots"] if s["kimg"] >= 20]
        print(f"| {g} | {last.get('fd', float('nan')):.2f} | {last.get('coverage', float('nan')):.2f} | "
              f"{'; '.join(last.get('missing', [])) or '–'} | {last.get('tv', float('nan')):.2f} | "
              f"{min(late) if late else float('nan'):.2f} | {tick['loss_D']:.2f} | {tick['loss_G']:.2f} |")


if __name__ == "__main__":
    main()
