"""Options shared by the commands that read a generator: ``generate``, ``mix`` and ``evaluate``.

Each option is written once here, with its help text; the commands add the ones they take and
check the values the library would otherwise reject late (after loading a generator).
"""

from __future__ import annotations

import argparse
import math

from stylegan_tutorial.layers import NOISE_MODES
from stylegan_tutorial.shipped import PREFIX, names


def add_checkpoint(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint``: a checkpoint file, a run directory or ``pretrained:NAME``."""
    shipped = " or ".join(PREFIX + name for name in names("generator"))
    parser.add_argument("--checkpoint", required=True, metavar="PATH|pretrained:NAME",
                        help="a .safetensors checkpoint, a run directory (its latest checkpoint), "
                             f"or {shipped} (ships with the package)")


def add_device(parser: argparse.ArgumentParser) -> None:
    """``--device``: where the generator runs."""
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")


def add_image_options(parser: argparse.ArgumentParser) -> None:
    """``--psi``, ``--noise`` and ``--out`` of the commands that write a PNG."""
    parser.add_argument("--psi", type=float, default=1.0,
                        help="truncation psi: 1 = none, 0.7 = the paper's figures (default 1)")
    parser.add_argument("--noise", choices=NOISE_MODES, default="fixed",
                        help="noise inputs: the stored fixed images (default), fresh random ones, or none")
    parser.add_argument("--out", required=True, metavar="PATH", help="the PNG file to write")


def parse_seeds(text: str, name: str = "seeds") -> list[int]:
    """Seeds from the command line: ``"0-3,7"`` -> ``[0, 1, 2, 3, 7]`` (chapter 7).

    Args:
        text: comma-separated integers >= 0 and inclusive ranges ``low-high``.
        name: how the error message names the option (``seeds``, ``rows``, ``cols``).
    """
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        lo, sep, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ValueError(f"{name} must look like '0-7,12' (integers >= 0), got {text!r}") from None
        if a < 0 or b < a:
            raise ValueError(f"{name} must look like '0-7,12' with ranges low-high, got {text!r}")
        seeds.extend(range(a, b + 1))
    if not seeds:
        raise ValueError(f"{name} must name at least one seed, got {text!r}")
    return seeds


def check_psi(psi: float) -> float:
    """``--psi`` if it is a finite number, else a ValueError before any generator is loaded (chapter 9).

    Args:
        psi: the truncation psi from the command line (1: none).
    """
    if not math.isfinite(psi):
        raise ValueError(f"psi must be a finite number, got {psi!r}")
    return psi
