"""The shipped generator's metrics between two baselines: real vs real (floor), untrained (ceiling).

    python scripts/report_pretrained.py --name faces64 --out benchmarks/pretrained.json

Rows (all against the same real faces the generator was trained on, drawn at its resolution):

- ``real vs real``: freshly drawn faces (another seed) in place of generated ones: the smallest
  value sampling noise allows for FD, KID and SWD;
- ``untrained``: the same network freshly initialised (``torch.manual_seed(0)``): the ceiling;
- ``pretrained``: ``load_pretrained(NAME)``.

FD, KID and SWD use ``--n`` images a side; path length uses ``--n-ppl`` paths per variant;
separability ``--n`` samples; the mixing table ``--n-mix`` pairs. Prints Markdown tables and
writes every number to ``--out`` (JSON). Slow on a CPU: 11 to 16 minutes for faces64 on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))


def real_vs_real(data, n: int, resolution: int, seed: int, oracle) -> dict:
    """FD, KID and SWD between the training faces and freshly drawn ones (different seed)."""
    from stylegan_tutorial.data.faces import make_faces
    from stylegan_tutorial.metrics import frechet_distance, kid, sliced_wasserstein
    from stylegan_tutorial.metrics.report import _real_images

    reals = _real_images(data, n, resolution, seed)
    fresh, _ = make_faces(n, resolution, seed=10_000 + seed)
    f_a, f_b = oracle.features(reals), oracle.features(fresh)
    k, k_std = kid(f_a, f_b, subsets=100, subset_size=min(1000, n), seed=seed)
    return {"fd": frechet_distance(f_a, f_b), "kid": k, "kid_std": k_std,
            "swd": sliced_wasserstein(reals, fresh, seed=seed)}


def generator_metrics(G, data, args, oracle) -> dict:
    """Every metric of ``G``, as ``stylegan-tutorial evaluate`` computes them with these sizes."""
    from stylegan_tutorial.metrics import evaluate

    t0 = time.perf_counter()
    out = evaluate(G, data, n=args.n, n_ppl=args.n_ppl, n_mix=args.n_mix, oracle=oracle,
                   seed=args.seed, progress=False)
    print(f"  all metrics: {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def markdown(rows: dict[str, dict]) -> str:
    """One table: a line per number, a column per row of the comparison."""
    from stylegan_tutorial.metrics import flatten

    flat = {name: flatten(r) for name, r in rows.items()}
    keys = [k for k in flatten(rows["pretrained"])
            if not k.startswith("mixing.") and ".entropy." not in k]
    lines = ["| metric | " + " | ".join(flat) + " |", "|---|" + "---:|" * len(flat)]
    for k in keys:
        cells = [f"{flat[name][k]:.4g}" if k in flat[name] and flat[name][k] is not None else "–"
                 for name in flat]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    import torch

    from stylegan_tutorial.data.dataset import open_dataset
    from stylegan_tutorial.generator import Generator
    from stylegan_tutorial.metrics import json_safe, transfer_table_markdown
    from stylegan_tutorial.oracle import load_oracle
    from stylegan_tutorial.shipped import load_pretrained

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="faces64")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--n-ppl", type=int, default=500)
    parser.add_argument("--n-mix", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON file to write")
    args = parser.parse_args(argv)

    t_start = time.perf_counter()
    print(f"python {platform.python_version()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f}", flush=True)
    oracle = load_oracle()
    G = load_pretrained(args.name)
    res = G.config.resolution
    data = open_dataset("faces", resolution=res)
    rows = {}
    print("real vs real", flush=True)
    rows["real vs real"] = real_vs_real(data, args.n, res, args.seed, oracle)
    print("untrained", flush=True)
    torch.manual_seed(0)
    untrained = Generator(G.config).eval().requires_grad_(False)
    rows["untrained"] = generator_metrics(untrained, data, args, oracle)
    print(args.name, flush=True)
    rows["pretrained"] = generator_metrics(G, data, args, oracle)

    print("\n" + markdown(rows))
    print(f"\nStyle-mixing transfer, {args.name} (share of the mixed faces whose factor follows B):\n")
    print(transfer_table_markdown(rows["pretrained"]["mixing"]))
    print("\nStyle-mixing transfer, untrained:\n")
    print(transfer_table_markdown(rows["untrained"]["mixing"]))
    seconds = time.perf_counter() - t_start
    print(f"\n{seconds:.0f} s, load average at end {os.getloadavg()[0]:.2f}")
    if args.out:
        record = {"name": args.name, "n": args.n, "n_ppl": args.n_ppl, "n_mix": args.n_mix,
                  "seed": args.seed, "seconds": round(seconds), "rows": json_safe(rows)}
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
