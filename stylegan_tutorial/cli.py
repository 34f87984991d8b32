"""The ``stylegan-tutorial`` command line: a thin layer over the package's Python API.

Each subcommand is one module of :mod:`stylegan_tutorial.commands`. This file maps a name to
that module, so ``stylegan-tutorial --help`` stays fast: a subcommand's module (and torch) is
imported, by name, only when that subcommand runs or its own ``--help`` is asked for.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from stylegan_tutorial import __version__

# name -> (module, one-line help). The module defines ``add_arguments(parser)`` and ``run(args)``.
COMMANDS: dict[str, tuple[str, str]] = {
    "student": (
        "stylegan_tutorial.commands.student",
        "write the student version of a chapter (solutions replaced by stubs)",
    ),
    "prepare-data": (
        "stylegan_tutorial.commands.prepare_data",
        "convert a folder or zip of images into one memory-mapped .npy for training",
    ),
    "configs": (
        "stylegan_tutorial.commands.configs",
        "list the named network configurations with their sizes and parameter counts",
    ),
    "train": (
        "stylegan_tutorial.commands.train",
        "train StyleGAN with progressive growing; resumable checkpoints",
    ),
    "generate": (
        "stylegan_tutorial.commands.generate",
        "images from a trained generator: a grid or files from seeds",
    ),
    "mix": (
        "stylegan_tutorial.commands.mix",
        "the style-mixing figure: styles of some layers from other seeds",
    ),
    "evaluate": (
        "stylegan_tutorial.commands.evaluate",
        "offline metrics of a trained generator: a table and JSON",
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; only ``command``'s module is imported to fill in its options."""
    parser = argparse.ArgumentParser(
        prog="stylegan-tutorial",
        description="StyleGAN, built step by step: the command line of the stylegan-tutorial book.",
        epilog="Run 'stylegan-tutorial COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"stylegan-tutorial {args.command}: error: {err}", file=sys.stderr)
        return 2
