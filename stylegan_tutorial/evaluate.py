"""``stylegan-tutorial evaluate``: the offline metrics of a trained generator, as a table and JSON.

A thin layer over :func:`stylegan_tutorial.metrics.evaluate`: it loads the generator from a
checkpoint (or the latest one in a run directory), compares it with the data it was trained on
(or ``--data``), prints one line per number and writes every number to a JSON file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

def parse_metrics(spec: str) -> tuple[str, ...]:
    """``"fd,kid"`` -> ``("fd", "kid")``, checked against the metrics the package knows."""
    from stylegan_tutorial.metrics import METRICS

    names = tuple(m.strip() for m in spec.split(",") if m.strip())
    unknown = [m for m in names if m not in METRICS]
    if not names or unknown:
        raise ValueError(f"--metrics must be a comma-separated list drawn from {','.join(METRICS)}, "
                         f"got {spec!r}")
    return names


def resolve_checkpoint(source: str) -> Path:
    """A checkpoint file or run directory; ``pretrained:NAME`` names a generator that ships here
    (its sha256 is checked)."""
    from stylegan_tutorial.models import PREFIX, resolve_source

    path = resolve_source(source)
    if not source.startswith(PREFIX) and not path.exists():
        raise FileNotFoundError(f"--checkpoint: no such file or run directory: {path}")
    return path


def flatten(result: dict, prefix: str = "") -> dict[str, float]:
    """Nested metric results -> ``{"ppl.w_full": 233.3, ...}`` (the mixing table is kept apart)."""
    flat: dict[str, float] = {}
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = float(value)
    return flat


def format_table(result: dict) -> str:
    """One ``metric  value`` line per number, then the mixing transfer table when present."""
    from stylegan_tutorial.metrics import transfer_table_markdown

    numbers = flatten({k: v for k, v in result.items() if k != "mixing"})
    width = max((len(k) for k in numbers), default=6)
    lines = [f"{k:<{width}}  {v + 0.0:.4g}" for k, v in numbers.items()]  # + 0.0: no "-0"
    if "mixing" in result:
        lines += ["", "style-mixing transfer (fraction of each factor that follows source B):",
                  transfer_table_markdown(result["mixing"])]
    return "\n".join(lines)


def _json_safe(value):
    """JSON has no NaN: write it as null."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return _json_safe(value.item())
    return value


def add_arguments(parser) -> None:
    """Options of ``stylegan-tutorial evaluate``."""
    from stylegan_tutorial.metrics import METRICS

    parser.add_argument("--checkpoint", required=True, metavar="PATH|pretrained:NAME",
                        help="a .safetensors checkpoint, a run directory (its latest checkpoint), "
                             "or pretrained:faces64 (ships with the package)")
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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file to write (default: metrics-<kimg>kimg.json beside the "
                             "checkpoint; metrics-NAME.json here for pretrained:NAME)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    """Evaluate the checkpoint, print the table, write the JSON; return the exit code."""
    from stylegan_tutorial import checkpoint as ckpt
    from stylegan_tutorial.data.dataset import open_dataset
    from stylegan_tutorial.generate import load_generator
    from stylegan_tutorial.metrics import evaluate
    from stylegan_tutorial.runtime import pick_device

    metrics = parse_metrics(args.metrics)
    for name in ("n", "n_ppl", "n_mix"):
        if getattr(args, name) < 2:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 2, got {getattr(args, name)}")
    source = resolve_checkpoint(args.checkpoint)
    path = ckpt.latest_checkpoint(source) if source.is_dir() else source
    if path is None:
        raise FileNotFoundError(f"--checkpoint: no checkpoint in {source}")
    G = load_generator(path, device=pick_device(args.device))
    _, meta = ckpt.load_checkpoint(path)
    spec = args.data or meta["config"].get("data") or "faces"
    data = open_dataset(spec, resolution=G.config.resolution)
    result = evaluate(G, data, metrics=metrics, n=args.n, progress=not args.no_progress,
                      seed=args.seed, n_ppl=args.n_ppl, n_mix=args.n_mix)
    from stylegan_tutorial.models import PREFIX

    shipped = args.checkpoint.startswith(PREFIX)  # never write into the installed package
    out = args.out or (Path(f"metrics-{args.checkpoint[len(PREFIX):]}.json") if shipped
                       else path.parent / f"metrics-{G.trained_kimg:g}kimg.json")
    record = {"checkpoint": str(path), "kimg": G.trained_kimg, "data": spec, "n": args.n,
              "n_ppl": args.n_ppl, "n_mix": args.n_mix, "seed": args.seed,
              "metrics": _json_safe(result)}
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{path.name} ({G.trained_kimg:g} kimg) against {spec}, n = {args.n} "
          f"(path length {args.n_ppl} paths, mixing {args.n_mix} pairs)")
    print(format_table(result))
    print(f"wrote {out}")
    return 0
