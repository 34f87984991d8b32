"""``stylegan-tutorial mix``: the paper's style-mixing figure (Figure 3) from a trained generator.

A thin layer over :func:`stylegan_tutorial.generate.style_mixing_figure`: each column is a
source A, each row a source B, and a cell is A's image with the styles of some layers copied
from B::

    stylegan-tutorial mix --checkpoint runs/tiny --rows 1,2,3 --cols 10-14 --styles coarse fine
"""

from __future__ import annotations

import argparse

from stylegan_tutorial.commands._options import (
    add_checkpoint,
    add_device,
    add_image_options,
    check_psi,
    parse_seeds,
)
from stylegan_tutorial.files import check_writable_file, save_png
from stylegan_tutorial.generate import style_mixing_figure
from stylegan_tutorial.lod import STYLE_RANGE_NAMES, parse_style_layers
from stylegan_tutorial.runtime import pick_device
from stylegan_tutorial.shipped import load_generator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stylegan-tutorial mix``."""
    add_checkpoint(parser)
    add_image_options(parser)
    add_device(parser)
    parser.add_argument("--rows", default="1-3", help="seeds of the sources B, down the left (default 1-3)")
    parser.add_argument("--cols", default="10-14",
                        help="seeds of the sources A, across the top (default 10-14)")
    parser.add_argument("--styles", nargs="+", default=None,
                        help="which layers B gives, one block of rows each: coarse, middle, fine "
                             "(at 64² and up 4²-8², 16²-32², 64² and up; a smaller generator "
                             "shrinks the middle) or a layer range like 0-3 "
                             "(default: coarse middle fine)")


def run(args: argparse.Namespace) -> int:
    """Write the style-mixing figure; return the exit code."""
    rows, cols, psi = parse_seeds(args.rows, "rows"), parse_seeds(args.cols, "cols"), check_psi(args.psi)
    out = check_writable_file(args.out, "--out")
    G = load_generator(args.checkpoint, device=pick_device(args.device))
    styles = list(STYLE_RANGE_NAMES) if args.styles is None else args.styles
    for spec in styles:
        parse_style_layers(spec, G.config.resolution)  # every error before anything is written
    grid = style_mixing_figure(G, rows, cols, styles, psi, args.noise)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_png(out, grid)
    print(f"wrote {out} ({len(rows)} x {len(cols)} sources, styles {' '.join(styles)})")
    return 0
