"""``stylegan-tutorial check-data``: what prepare-data and training will meet, before a lab starts.

A thin layer over :func:`stylegan_tutorial.data.preflight.check_data` (the scan of the data)
and :func:`stylegan_tutorial.capacity.probe` (the largest batch and the speed, measured with
real training steps)::

    stylegan-tutorial check-data photos/                      # scan, then probe cpu-tiny or colab-64
    stylegan-tutorial check-data photos.zip --resolution 64 --no-probe
    stylegan-tutorial check-data celeba64.npy --config colab-64 --device cuda --json report.json

Nothing is written but the ``--json`` report (atomically, after everything has run).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stylegan_tutorial.capacity import MAX_BATCH, format_probe, probe
from stylegan_tutorial.configs import CONFIG_NAMES, training_config
from stylegan_tutorial.data.preflight import check_data, format_report
from stylegan_tutorial.files import atomic_write_text, check_writable_file
from stylegan_tutorial.runtime import pick_device

# The configuration probed when --config is not given: the one the course trains on that device.
DEFAULT_CONFIGS = {"cuda": "colab-64", "cpu": "cpu-tiny"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``stylegan-tutorial check-data``."""
    parser.add_argument("src", help="a folder (searched recursively), a .zip of images, or a .npy "
                                    "written by prepare-data (its .json manifest beside it)")
    parser.add_argument("--resolution", type=int, default=None,
                        help="count the images smaller than this (default: the recommended resolution, "
                             "the largest power of two <= the median shorter side)")
    parser.add_argument("--config", default=None, metavar="NAME",
                        help=f"the configuration to probe: {', '.join(CONFIG_NAMES)} (default: "
                             f"{DEFAULT_CONFIGS['cpu']} on the CPU, {DEFAULT_CONFIGS['cuda']} on CUDA)")
    parser.add_argument("--device", default="auto", help="auto (default: CUDA if there is one), cpu or cuda")
    parser.add_argument("--max-batch", type=int, default=MAX_BATCH,
                        help=f"the largest batch the CUDA probe tries (default {MAX_BATCH})")
    parser.add_argument("--no-probe", action="store_true",
                        help="scan the data only: no training steps, no batch or speed probe")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the report as JSON")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def resolution_note(report: dict, config) -> str | None:
    """A warning when the configuration trains above what the data holds, else None.

    A prepared array below the network's resolution is refused by ``train``; a folder or zip
    whose recommended resolution is below it would have at least half of its images enlarged.
    """
    top, recommended = config.network.resolution, report["resolution"]["recommended"]
    if recommended is None or top <= recommended:
        return None
    if report["kind"] == "prepared":
        return (f"{config.network.name} trains at {top}², the array holds {recommended}² images: train "
                f"refuses it (prepare the data again at {top}, or choose a smaller configuration)")
    return (f"{config.network.name} trains at {top}², above the recommended {recommended}²: at least half "
            f"of the images would be enlarged")


def run(args: argparse.Namespace) -> int:
    """Check every option, scan the data, probe the device, print the report; return the exit code."""
    config = device = None
    if not args.no_probe:  # every input checked before the work
        device = pick_device(args.device)
        config = training_config(args.config or DEFAULT_CONFIGS.get(device.type, DEFAULT_CONFIGS["cpu"]))
        if args.max_batch < 1:
            raise ValueError(f"--max-batch must be at least 1, got {args.max_batch}")
    if args.json is not None:
        check_writable_file(args.json, "--json")
    report = check_data(args.src, args.resolution, progress=not args.no_progress)
    print(format_report(report))
    if config is not None:
        report["probe"] = probe(config, device, max_batch=args.max_batch, progress=not args.no_progress)
        note = resolution_note(report, config)
        report["probe"]["warnings"] += [note] if note else []
        print()
        print(format_probe(report["probe"]))
    if args.json is not None:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0
