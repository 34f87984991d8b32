"""``stylegan-tutorial configs``: the named configurations as a table, or one of them in full."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

from stylegan_tutorial.configs import CONFIG_NAMES, get_config, training_config
from stylegan_tutorial.sizes import parameter_counts


def describe(names: Sequence[str] = CONFIG_NAMES) -> str:
    """A table of the named configurations: resolution, layers, channels per resolution, sizes."""
    rows = [("name", "res", "layers", "channels 4² → top", "G params", "D params", "kimg")]
    for name in names:
        cfg = get_config(name)
        sizes = parameter_counts(cfg)
        channels = " ".join(str(cfg.channels_at(r)) for r in cfg.resolutions)
        rows.append((name, f"{cfg.resolution}²", str(cfg.num_layers), channels,
                     f"{sizes['G']:,}", f"{sizes['D']:,}", f"{training_config(name).total_kimg:g}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    align = ["<", ">", ">", "<", ">", ">", ">"]
    return "\n".join("  ".join(f"{c:{a}{w}}" for c, a, w in zip(r, align, widths)) for r in rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stylegan-tutorial configs``."""
    parser.add_argument("--show", metavar="NAME",
                        help="print every field of one configuration (network and training "
                             "schedule) instead of the table")


def run(args: argparse.Namespace) -> int:
    """List the named configurations (or show one in full); return the exit code."""
    if not args.show:
        print(describe())
        return 0
    cfg = training_config(args.show)
    for f in dataclasses.fields(cfg.network):
        print(f"{f.name:20} {getattr(cfg.network, f.name)!r}")
    for f in dataclasses.fields(cfg):
        if f.name != "network":
            print(f"{f.name:20} {getattr(cfg, f.name)!r}")
    sizes = parameter_counts(cfg.network)
    print("parameters           " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
    return 0
