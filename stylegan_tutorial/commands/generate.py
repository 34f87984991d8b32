"""``stylegan-tutorial generate``: images from a trained generator, a grid or one file per seed.

A thin layer over :func:`stylegan_tutorial.generate.images_from_seeds`::

    stylegan-tutorial generate --checkpoint runs/tiny --seeds 0-15 --psi 0.7 --out grid.png
    stylegan-tutorial generate --checkpoint pretrained:faces64 --seeds 3,7 --files --out faces/
"""

from __future__ import annotations

import argparse
import math

from stylegan_tutorial.commands._options import (
    add_checkpoint,
    add_device,
    add_image_options,
    check_psi,
    parse_seeds,
)
from stylegan_tutorial.files import check_writable_dir, check_writable_file, save_png
from stylegan_tutorial.generate import images_from_seeds
from stylegan_tutorial.images import image_grid, to_uint8
from stylegan_tutorial.runtime import pick_device
from stylegan_tutorial.shipped import load_generator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stylegan-tutorial generate``."""
    add_checkpoint(parser)
    add_image_options(parser)
    add_device(parser)
    parser.add_argument("--seeds", default="0-15", help="seeds, e.g. '0-15' or '3,7,42' (default 0-15)")
    parser.add_argument("--cutoff", type=int, default=None,
                        help="truncate only the first CUTOFF layers (default: the config's, 8)")
    parser.add_argument("--files", action="store_true",
                        help="write one PNG per seed into the folder --out instead of a grid")
    parser.add_argument("--nrow", type=int, default=None, help="images per grid row (default: square)")


def run(args: argparse.Namespace) -> int:
    """Write a grid of the seeds' images (or one PNG per seed); return the exit code."""
    seeds, psi = parse_seeds(args.seeds), check_psi(args.psi)
    if args.nrow is not None and args.nrow < 1:
        raise ValueError(f"--nrow must be at least 1, got {args.nrow}")
    out = check_writable_dir(args.out, "--out") if args.files else check_writable_file(args.out, "--out")
    G = load_generator(args.checkpoint, device=pick_device(args.device))
    if args.cutoff is not None and not 0 <= args.cutoff <= G.num_layers:
        raise ValueError(f"--cutoff must be a layer count from 0 to {G.num_layers} (this "
                         f"generator's layers), got {args.cutoff}")
    cutoff = G.config.truncation_cutoff if args.cutoff is None else args.cutoff
    images = images_from_seeds(G, seeds, psi, cutoff, args.noise)  # [N, C, R, R]
    if args.files:
        out.mkdir(parents=True, exist_ok=True)
        for seed, tile in zip(seeds, to_uint8(images)):
            save_png(out / f"seed{seed:04d}.png", tile)
        print(f"wrote {len(seeds)} images to {out}/")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        nrow = args.nrow or max(1, math.ceil(math.sqrt(len(seeds))))
        save_png(out, image_grid(images, nrow=nrow))
        print(f"wrote {out} ({len(seeds)} seeds, psi {psi}, {G.trained_kimg:.1f} kimg)")
    return 0
