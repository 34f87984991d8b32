"""The ``stylegan-tutorial`` command line: a thin layer over the package's Python API.

Each subcommand is one module of :mod:`stylegan_tutorial.commands`. This file maps a name to
that module, so ``stylegan-tutorial --help`` stays fast: a subcommand's module (and torch) is
imported, by name, only when that subcommand runs or its own ``--help`` is asked for.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import warnings

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
    "check-data": (
        "stylegan_tutorial.commands.check_data",
        "report what prepare-data and training will meet: sizes, modes, duplicates, batch and speed",
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
    "project": (
        "stylegan_tutorial.commands.project",
        "find the latent (w or w+) whose image matches an image of yours",
    ),
    "edit": (
        "stylegan_tutorial.commands.edit",
        "move a face along a measured factor direction in W: before and after",
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
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of an error (for a bug report; or set {DEBUG_VARIABLE}=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module).add_arguments(p)
    return parser


# The user named something wrong (a value, a missing input, an output in the way): exit code 2.
USAGE_ERRORS = (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError)
DEBUG_VARIABLE = "STYLEGAN_TUTORIAL_DEBUG"
OUT_OF_MEMORY = ("the GPU ran out of memory; `stylegan-tutorial check-data DATA --config NAME` measures the "
                 "largest batch per resolution that fits: pass smaller ones with --batch-sizes RES:N,... "
                 "(a run with --resume auto continues from its last checkpoint)")
# What to do about an error the operating system reports in its own words.
OS_HINTS = {
    errno.ENOSPC: "free some space or choose another location",
    errno.EROFS: "choose a location you can write to",
    errno.EACCES: "choose a location you can write to, or fix its permissions",
    errno.EPERM: "choose a location you can write to, or fix its permissions",
    errno.EDQUOT: "free some space or choose another location",
}


def describe_error(err: BaseException) -> str:
    """The message for the user: the package's own words, or the OS's with the file and a hint."""
    if isinstance(err, OSError) and err.errno is not None and err.strerror:
        if err.strerror == os.strerror(err.errno):  # the OS's own words: name the file, say what to do
            where = f": {err.filename}" if err.filename else ""
            hint = OS_HINTS.get(err.errno)
            return f"{err.strerror}{where}" + (f"; {hint}" if hint else "")
        return err.strerror  # a message of the package's, given with its errno
    return str(err)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return the process exit code.

    This is the one place where errors become messages: a user's mistake (a bad value, a
    missing input, an output in the way) prints one line and exits with 2; a failure of the
    machine (no space, a read-only or forbidden location, an I/O error) prints one line naming
    the file and exits with 1. ``--debug`` (or ``STYLEGAN_TUTORIAL_DEBUG=1``) shows the
    traceback instead, for bug reports. Warnings print as one line each.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[:1] or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
    argv = argv[1:] if argv[:1] == ["--debug"] else argv
    command = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    prefix = f"stylegan-tutorial {args.command}"
    module = importlib.import_module(COMMANDS[args.command][0])
    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = lambda message, *rest: print(f"{prefix}: warning: {message}",
                                                                file=sys.stderr)
        try:
            return int(module.run(args) or 0)
        except USAGE_ERRORS as err:
            if debug:
                raise
            print(f"{prefix}: error: {describe_error(err)}", file=sys.stderr)
            return 2
        except OSError as err:
            if debug:
                raise
            print(f"{prefix}: error: {describe_error(err)}", file=sys.stderr)
            return 1
        except RuntimeError as err:  # torch.cuda.OutOfMemoryError is one; torch is not imported here
            if debug or type(err).__name__ != "OutOfMemoryError":
                raise
            print(f"{prefix}: error: {OUT_OF_MEMORY}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            if debug:
                raise
            print(f"{prefix}: interrupted", file=sys.stderr)
            return 130
