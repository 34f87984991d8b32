"""``stylegan-tutorial student``: the student version of chapters (solutions replaced by stubs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from stylegan_tutorial.files import check_writable_dir
from stylegan_tutorial.student import has_exercises, write_student_version


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stylegan-tutorial student``."""
    parser.add_argument("notebooks", nargs="+", type=Path, help="published chapter notebooks")
    parser.add_argument("--out", type=Path, required=True, help="folder for the student versions")


def run(args: argparse.Namespace) -> int:
    """Write the student version of every given chapter that has exercises."""
    check_writable_dir(args.out, "--out")
    for path in args.notebooks:
        if not has_exercises(path):
            print(f"{path}: no exercises, skipped")
            continue
        print(f"{path} -> {write_student_version(path, args.out)}")
    return 0
