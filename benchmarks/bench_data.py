"""Speed of the data layer: drawing faces, sampling factors, serving batches, preparing folders.

Run:  .venv/bin/python benchmarks/bench_data.py [--threads 2] [--repeats 5]

Every number is the median of ``--repeats`` timed runs after one warm-up run, reported as
images per second. Results and the machine they came from are in benchmarks/data.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _timing import median_seconds  # benchmarks/_timing.py, beside this script


def bench_faces(resolution: int, n: int, repeats: int) -> float:
    """Drawing only (factors and details sampled beforehand): images per second."""
    from stylegan_tutorial.data.faces import render_faces, sample_details, sample_factors

    f, d = sample_factors(n, seed=0), sample_details(n, seed=0)
    return n / median_seconds(lambda: render_faces(f, resolution, d), repeats)


def bench_make_faces(resolution: int, n: int, repeats: int) -> float:
    """Sampling and drawing, as make_faces does it: images per second."""
    from stylegan_tutorial.data.faces import make_faces

    return n / median_seconds(lambda: make_faces(n, resolution, seed=0), repeats)


def bench_factors(n: int, repeats: int) -> float:
    """Factor sampling with a withheld combination: draws per second."""
    from stylegan_tutorial.data.faces import sample_factors

    return n / median_seconds(lambda: sample_factors(n, 0, ("glasses", "long_hair")), repeats)


def bench_batches(cache_dir: str, resolution: int, batch: int, repeats: int) -> tuple[float, float]:
    """Random batches from the memory-mapped face cache, at full and half resolution: img/s."""
    from stylegan_tutorial.data.dataset import open_dataset

    ds = open_dataset("faces:n=10000", resolution, mirror=True, cache_dir=cache_dir)
    rng = np.random.default_rng(0)
    steps = 50

    def run(res):
        for _ in range(steps):
            ds.batch(rng.integers(0, len(ds), batch), res)

    full = steps * batch / median_seconds(lambda: run(resolution), repeats)
    half = steps * batch / median_seconds(lambda: run(resolution // 2), repeats)
    return full, half


def bench_prepare(tmp: Path, count: int, size: int, resolution: int, repeats: int) -> float:
    """prepare-data on a folder of ``count`` JPEG photos of ``size``² -> ``resolution``²: img/s."""
    from PIL import Image

    from stylegan_tutorial.data.prepare import prepare_images

    src = tmp / "photos"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        smooth = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
        Image.fromarray(smooth).resize((size, size), Image.BILINEAR).save(src / f"{i:04d}.jpg")
    out = tmp / "out.npy"
    return count / median_seconds(
        lambda: prepare_images(src, out, resolution, force=True, progress=False), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# bench_data: torch {torch.__version__}, {args.threads} threads, "
          f"{os.cpu_count()} CPUs visible, {platform.processor() or platform.machine()}, "
          f"median of {args.repeats}")
    print("| what | img/s |\n|---|---|")
    for res, n in ((16, 4096), (32, 4096), (64, 1024), (128, 256), (256, 64)):
        print(f"| faces: draw {n} at {res}² | {bench_faces(res, n, args.repeats):,.0f} |")
    print(f"| faces: make_faces(4096, 32) (sample + draw) | "
          f"{bench_make_faces(32, 4096, args.repeats):,.0f} |")
    print(f"| faces: sample_factors(100k, withhold glasses+long_hair), draws/s | "
          f"{bench_factors(100_000, args.repeats):,.0f} |")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        from stylegan_tutorial.data.faces import cached_faces

        cached_faces(10_000, 32, 0, None, tmp)
        print(f"| faces: build the 10k cache at 32² once (includes writing) | "
              f"{10_000 / (time.perf_counter() - start):,.0f} |")
        full, half = bench_batches(tmp, 32, 64, args.repeats)
        print(f"| dataset: random batches of 64 from the memory map, 32² | {full:,.0f} |")
        print(f"| dataset: same, pooled to 16² | {half:,.0f} |")
        rate = bench_prepare(Path(tmp), 100, 512, 64, max(1, args.repeats // 2))
        print(f"| prepare-data: 100 JPEGs of 512² -> 64² | {rate:,.0f} |")


if __name__ == "__main__":
    main()
