"""``stylegan-tutorial evaluate``: the offline metrics of a trained generator, as a table and JSON.

A thin layer over :func:`stylegan_tutorial.metrics.evaluate`: it loads the generator from a
checkpoint (or the latest one in a run directory, or ``pretrained:NAME``), compares it with the
data it was trained on (or ``--data``), prints one line per number and writes every number to a
JSON file.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from stylegan_tutorial import checkpoint as ckpt
from stylegan_tutorial.commands._options import add_checkpoint, add_device
from stylegan_tutorial.data.dataset import open_dataset
from stylegan_tutorial.files import atomic_write_text, check_writable_file
from stylegan_tutorial.metrics import METRICS, evaluate, format_table, json_safe
from stylegan_tutorial.runtime import pick_device
from stylegan_tutorial.shipped import PREFIX, checkpoint_file, load_generator

# Below this many images per set, FD and KID are mostly noise (the oracle's features are 128-wide).
MEANINGFUL_N = 500


def parse_metrics(spec: str) -> tuple[str, ...]:
    """``--metrics``: ``"fd,kid"`` -> ``("fd", "kid")``, each a name in ``metrics.METRICS``.

    Args:
        spec: comma-separated metric names.
    """
    names = tuple(m.strip() for m in spec.split(",") if m.strip())
    unknown = [m for m in names if m not in METRICS]
    if not names or unknown:
        raise ValueError(f"--metrics must be a comma-separated list drawn from {','.join(METRICS)}, "
                         f"got {spec!r}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stylegan-tutorial evaluate``."""
    add_checkpoint(parser)
    parser.add_argument("--metrics", default=",".join(METRICS),
                        help=f"comma-separated subset of {','.join(METRICS)} (default: all)")
    parser.add_argument("--data", default=None,
                        help="real images to compare with (default: the run's own data spec)")
    parser.add_argument("--n", type=int, default=2000,
                        help="real and generated images for fd, kid, swd; samples for sep (default 2000)")
    parser.add_argument("--n-ppl", type=int, default=500,
                        help="latent paths per path-length variant (default 500; two images each)")
    parser.add_argument("--n-mix", type=int, default=500,
                        help="pairs of faces for the style-mixing table (default 500)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the real images drawn, the latents and the noise (default 0)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file to write (default: metrics-<kimg>kimg.json beside the "
                             "checkpoint; metrics-NAME.json here for pretrained:NAME)")
    add_device(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Evaluate the checkpoint, print the table, write the JSON; return the exit code."""
    metrics = parse_metrics(args.metrics)
    for name in ("n", "n_ppl", "n_mix"):
        if getattr(args, name) < 2:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 2, got {getattr(args, name)}")
    path = checkpoint_file(args.checkpoint)  # sha256-checked for pretrained:NAME
    meta = ckpt.read_meta(path)
    kimg = ckpt.recorded_nimg(meta, path) / 1000
    shipped = args.checkpoint.startswith(PREFIX)  # never write into the installed package
    out = args.out or (Path(f"metrics-{args.checkpoint[len(PREFIX):]}.json") if shipped
                       else path.parent / f"metrics-{kimg:g}kimg.json")
    check_writable_file(out, "--out")  # before minutes of work, not after
    if args.n < MEANINGFUL_N:
        warnings.warn(f"--n {args.n} is too small for the Fréchet distance and KID to mean much: "
                      f"their estimates need hundreds of images per set ({MEANINGFUL_N} or more; "
                      f"the default is 2000)", stacklevel=2)
    G = load_generator(path, device=pick_device(args.device))
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    spec = args.data or config.get("data") or "faces"
    data = open_dataset(spec, resolution=G.config.resolution)
    result = evaluate(G, data, metrics=metrics, n=args.n, progress=not args.no_progress,
                      seed=args.seed, n_ppl=args.n_ppl, n_mix=args.n_mix)
    record = {"checkpoint": str(path), "kimg": G.trained_kimg, "data": spec, "n": args.n,
              "n_ppl": args.n_ppl, "n_mix": args.n_mix, "seed": args.seed,
              "metrics": json_safe(result)}
    atomic_write_text(out, json.dumps(record, indent=2) + "\n")
    sizes = [size for metric, size in (("ppl", f"path length {args.n_ppl} paths"),
                                       ("mixing", f"mixing {args.n_mix} pairs")) if metric in metrics]
    print(f"{path.name} ({G.trained_kimg:g} kimg) against {spec}, n = {args.n}"
          + (f" ({', '.join(sizes)})" if sizes else ""))
    print(format_table(result))
    print(f"wrote {out}")
    return 0
