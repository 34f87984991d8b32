"""``stylegan-tutorial prepare-data``: a folder or zip of images -> one memory-mapped ``.npy``."""

from __future__ import annotations

import argparse

from stylegan_tutorial.data.prepare import SHOW_SKIPPED, prepare_images


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``stylegan-tutorial prepare-data``."""
    parser.add_argument("src", help="a folder (searched recursively) or a .zip of images")
    parser.add_argument("out", help="the output array, ending in .npy (a .json manifest is "
                                    "written beside it)")
    parser.add_argument("--resolution", type=int, required=True,
                        help="side of the square output images, a power of two (e.g. 64)")
    parser.add_argument("--pad", action="store_true",
                        help="pad to square with black instead of cropping the centre")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Prepare the data and print a summary; skipped files are counted and the first named."""
    m = prepare_images(args.src, args.out, args.resolution, pad=args.pad, force=args.force,
                       progress=not args.no_progress)
    print(f"wrote {m['count']} images of {m['resolution']}x{m['resolution']} to {args.out} "
          f"(sha256 {m['sha256'][:12]}…)")
    if m["skipped_count"]:
        names = ", ".join(s["name"] for s in m["skipped"][:SHOW_SKIPPED])
        more = " …" if m["skipped_count"] > SHOW_SKIPPED else ""
        print(f"skipped {m['skipped_count']} unreadable files: {names}{more}")
    return 0
