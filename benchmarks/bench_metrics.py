"""Speed of the oracle and the metrics on the CPU: median of timed runs after one warm-up.

    .venv/bin/python benchmarks/bench_metrics.py --repeats 5

Prints a Markdown table (what, median seconds, img/s where it applies) and the load average.
"""

from __future__ import annotations

import argparse
import os

import torch

from _timing import median_seconds  # benchmarks/_timing.py, beside this script


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from stylegan_tutorial import metrics as M
    from stylegan_tutorial.configs import get_config
    from stylegan_tutorial.data.faces import make_faces
    from stylegan_tutorial.generator import Generator
    from stylegan_tutorial.oracle import load_oracle

    oracle = load_oracle()
    x32, _ = make_faces(1024, 32, seed=0)
    x64, _ = make_faces(256, 64, seed=0)
    feats_a, feats_b = torch.randn(10_000, 128), torch.randn(10_000, 128) + 0.1
    torch.manual_seed(0)
    G = Generator(get_config("cpu-tiny")).eval()

    rows = [
        ("oracle.features, 1024 faces at 32²", lambda: oracle.features(x32), 1024),
        ("oracle.features, 256 faces at 64²", lambda: oracle.features(x64), 256),
        ("frechet_distance, 10k x 128 features", lambda: M.frechet_distance(feats_a, feats_b), None),
        ("kid, 100 subsets of 1000, 128 features", lambda: M.kid(feats_a, feats_b), None),
        ("sliced_wasserstein, 1024 vs 1024 at 32²",
         lambda: M.sliced_wasserstein(x32, x32.flip(0)), 2048),
        ("path_length (w, full), cpu-tiny G, 256 paths",
         lambda: M.path_length(G, "w", "full", 256, feature_fn=oracle.features), 512),
    ]
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats}")
    print("| what | median s | img/s |\n|---|---|---|")
    for name, fn, images in rows:
        t = median_seconds(fn, args.repeats)
        rate = f"{images / t:,.0f}" if images else "-"
        print(f"| {name} | {t:.3f} | {rate} |")
    print("load average:", ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
