"""Images from a trained generator: grids from seeds, truncation, and the style-mixing figure.

A *seed* names a latent: ``z_from_seeds([7])`` always gives the same ``z``, so "seed 7 at
psi 0.7" is a reproducible picture. Two commands use this module:

    stylegan-tutorial generate --checkpoint runs/tiny --seeds 0-15 --psi 0.7 --out grid.png
    stylegan-tutorial mix --checkpoint runs/tiny --rows 1,2,3 --cols 10-14 --styles coarse fine
    stylegan-tutorial generate --checkpoint pretrained:faces64 --psi 0.7 --out faces.png

``mix`` draws the paper's Figure 3: each column is a source A, each row a source B, and a cell
is A's image with the styles of some layers (coarse 4²–8², middle 16²–32², fine the rest)
copied from B.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

Tensor = torch.Tensor
NOISE_CHOICES = ("fixed", "random", "none")


def parse_seeds(text: str, name: str = "seeds") -> list[int]:
    """``"0-3,7"`` -> ``[0, 1, 2, 3, 7]``; seeds are integers >= 0."""
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


def z_from_seeds(seeds: Sequence[int], z_dim: int) -> Tensor:
    """One standard-normal ``z`` per seed, ``[len(seeds), z_dim]``; each depends on its seed only."""
    return torch.stack([torch.randn(z_dim, generator=torch.Generator().manual_seed(int(s)))
                        for s in seeds])  # a loop over seeds, done once per figure


def load_generator(source, which: str = "G_ema", device: str | torch.device = "cpu"):
    """The generator stored in a checkpoint (or the latest one in a run directory).

    ``source`` may also be ``"pretrained:NAME"``, a generator that ships with the package
    (its sha256 is checked first). ``which`` is ``"G_ema"`` (the moving average: the one to
    show) or ``"G"``. Returns the :class:`~stylegan_tutorial.generator.Generator` in float32,
    eval mode, with its ``w_avg``.
    """
    from stylegan_tutorial import checkpoint as ckpt
    from stylegan_tutorial.generator import Generator
    from stylegan_tutorial.models import resolve_source
    from stylegan_tutorial.training import TrainingConfig

    if which not in ("G_ema", "G"):
        raise ValueError(f"which must be 'G_ema' or 'G', got {which!r}")
    path = resolve_source(source)
    if path.is_dir():
        found = ckpt.latest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(f"no checkpoint in {path}")
        path = found
    tensors, meta = ckpt.load_checkpoint(path)
    config = TrainingConfig.from_dict(meta["config"])
    G = Generator(config.network)
    state = {k[len(which) + 1:]: v for k, v in tensors.items() if k.startswith(which + ".")}
    if not state:
        raise ValueError(f"{path} holds no {which} tensors (a shipped generator has G_ema only)")
    G.load_state_dict(state)  # float16 weights are copied into the float32 parameters
    G.trained_kimg = meta["nimg"] / 1000
    return G.eval().requires_grad_(False).to(device)


@torch.no_grad()
def generate_images(G, seeds: Sequence[int], psi: float = 1.0, cutoff: int | None = None,
                    noise_mode: str = "fixed", resolution: int | None = None) -> Tensor:
    """Images ``[len(seeds), C, R, R]`` for ``seeds``, truncated by ``psi`` on layers ``< cutoff``."""
    device = next(G.parameters()).device
    z = z_from_seeds(seeds, G.z_dim).to(device)
    return G(z, resolution, psi=psi, cutoff=cutoff, noise_mode=noise_mode)


def style_layers(spec: str, num_layers: int) -> range:
    """Layers named by ``spec``: ``coarse`` (4²–8²), ``middle`` (16²–32²), ``fine`` (64²+), ``a-b``."""
    named = {"coarse": range(0, min(4, num_layers)), "middle": range(min(4, num_layers), min(8, num_layers)),
             "fine": range(min(8, num_layers), num_layers)}
    if spec in named:
        layers = named[spec]
    else:
        lo, sep, hi = spec.partition("-")
        try:
            layers = range(int(lo), (int(hi) if sep else int(lo)) + 1)
        except ValueError:
            raise ValueError(f"styles must be coarse, middle, fine or a layer range 'a-b', "
                             f"got {spec!r}") from None
        if layers.start < 0 or layers.stop > num_layers:
            raise ValueError(f"styles range {spec!r} must lie within layers 0-{num_layers - 1}")
    if len(layers) == 0:
        raise ValueError(f"styles {spec!r} selects no layer of this {num_layers}-layer generator")
    return layers


@torch.no_grad()
def style_mixing(G, row_seeds: Sequence[int], col_seeds: Sequence[int], layers: range,
                 psi: float = 1.0, cutoff: int | None = None, noise_mode: str = "fixed") -> Tensor:
    """Images ``[rows, cols, C, R, R]``: column source A with ``layers`` taken from row source B."""
    device = next(G.parameters()).device
    seeds = list(row_seeds) + list(col_seeds)
    w = G.mapping(z_from_seeds(seeds, G.z_dim).to(device))  # [I + J, w_dim]
    ws = G.truncate(G.broadcast(w), psi, cutoff) if psi != 1.0 else G.broadcast(w)  # [I + J, L, w_dim]
    ws_b, ws_a = ws[: len(row_seeds)], ws[len(row_seeds):]  # [I, L, w], [J, L, w]
    from_b = torch.zeros(G.num_layers, dtype=torch.bool, device=device)
    from_b[layers.start:layers.stop] = True
    mixed = torch.where(from_b.view(1, 1, -1, 1), ws_b[:, None], ws_a[None])  # [I, J, L, w]
    img = G.synthesis(mixed.flatten(0, 1), noise_mode=noise_mode)  # [I*J, C, R, R]
    return img.view(len(row_seeds), len(col_seeds), *img.shape[1:])


@torch.no_grad()
def style_mixing_figure(G, row_seeds: Sequence[int], col_seeds: Sequence[int],
                        styles: Sequence[str] = ("coarse", "middle", "fine"), psi: float = 1.0,
                        noise_mode: str = "fixed") -> np.ndarray:
    """The paper's Figure 3 as a uint8 grid: sources A on top, sources B on the left, one block
    of rows per entry of ``styles``. The top-left corner is blank."""
    from stylegan_tutorial.viz import image_grid

    top = generate_images(G, col_seeds, psi, noise_mode=noise_mode)  # [J, C, R, R]
    left = generate_images(G, row_seeds, psi, noise_mode=noise_mode)  # [I, C, R, R]
    rows = [torch.cat([torch.ones_like(top[:1]), top])]  # blank (white) corner
    for spec in styles:
        cells = style_mixing(G, row_seeds, col_seeds, style_layers(spec, G.num_layers), psi,
                             noise_mode=noise_mode)  # [I, J, C, R, R]
        rows += [torch.cat([left[i:i + 1], cells[i]]) for i in range(len(row_seeds))]
    return image_grid(torch.cat(rows), nrow=len(col_seeds) + 1)


# --------------------------------------------------------------------------------------------
# The generate and mix commands
# --------------------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="PATH|pretrained:NAME",
                        help="a .safetensors checkpoint, a run directory (its latest checkpoint), "
                             "or pretrained:faces64 (ships with the package)")
    parser.add_argument("--psi", type=float, default=1.0,
                        help="truncation psi: 1 = none, 0.7 = the paper's figures (default 1)")
    parser.add_argument("--noise", choices=NOISE_CHOICES, default="fixed",
                        help="noise inputs: the stored fixed images (default), fresh random ones, or none")
    parser.add_argument("--out", required=True, metavar="PATH", help="the PNG file to write")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stylegan-tutorial generate`` (or of ``mix``: both commands live here)."""
    if parser.prog.endswith(" mix"):
        return add_mix_arguments(parser)
    _common(parser)
    parser.add_argument("--seeds", default="0-15", help="seeds, e.g. '0-15' or '3,7,42' (default 0-15)")
    parser.add_argument("--cutoff", type=int, default=None,
                        help="truncate only the first CUTOFF layers (default: the config's, 8)")
    parser.add_argument("--files", action="store_true",
                        help="write one PNG per seed into the folder --out instead of a grid")
    parser.add_argument("--nrow", type=int, default=None, help="images per grid row (default: square)")


def add_mix_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stylegan-tutorial mix``."""
    _common(parser)
    parser.add_argument("--rows", default="1-3", help="seeds of the sources B, down the left (default 1-3)")
    parser.add_argument("--cols", default="10-14",
                        help="seeds of the sources A, across the top (default 10-14)")
    parser.add_argument("--styles", nargs="+", default=None,
                        help="which layers B gives, one block of rows each: coarse (4²-8²), "
                             "middle (16²-32²), fine (64² and up) or a layer range like 0-3 "
                             "(default: those of the three that the generator has)")


def _check_psi(psi: float) -> float:
    if not np.isfinite(psi):
        raise ValueError(f"psi must be a finite number, got {psi!r}")
    return psi


def _device(name: str) -> torch.device:
    from stylegan_tutorial.runtime import pick_device

    return pick_device(name)


def run(args) -> int:
    """``stylegan-tutorial generate``: a grid (or files) from seeds (``mix``: the mixing figure)."""
    if getattr(args, "command", None) == "mix":
        return run_mix(args)
    from stylegan_tutorial.training import save_png
    from stylegan_tutorial.viz import image_grid, to_uint8

    seeds, psi = parse_seeds(args.seeds), _check_psi(args.psi)
    if args.nrow is not None and args.nrow < 1:
        raise ValueError(f"--nrow must be at least 1, got {args.nrow}")
    G = load_generator(args.checkpoint, device=_device(args.device))
    cutoff = G.config.truncation_cutoff if args.cutoff is None else args.cutoff
    images = generate_images(G, seeds, psi, cutoff, args.noise)  # [N, C, R, R]
    out = Path(args.out)
    if args.files:
        out.mkdir(parents=True, exist_ok=True)
        for seed, tile in zip(seeds, to_uint8(images)):
            save_png(out / f"seed{seed:04d}.png", tile)
        print(f"wrote {len(seeds)} images to {out}/")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        nrow = args.nrow or max(1, int(np.ceil(np.sqrt(len(seeds)))))
        save_png(out, image_grid(images, nrow=nrow))
        print(f"wrote {out} ({len(seeds)} seeds, psi {psi}, {G.trained_kimg:.1f} kimg)")
    return 0


def run_mix(args) -> int:
    """``stylegan-tutorial mix``: the style-mixing figure."""
    from stylegan_tutorial.training import save_png

    rows, cols, psi = parse_seeds(args.rows, "rows"), parse_seeds(args.cols, "cols"), _check_psi(args.psi)
    G = load_generator(args.checkpoint, device=_device(args.device))
    if args.styles is None:
        args.styles = [n for n, first in (("coarse", 0), ("middle", 4), ("fine", 8)) if first < G.num_layers]
    for spec in args.styles:
        style_layers(spec, G.num_layers)  # every error before anything is written
    grid = style_mixing_figure(G, rows, cols, args.styles, psi, args.noise)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_png(out, grid)
    print(f"wrote {out} ({len(rows)} x {len(cols)} sources, styles {' '.join(args.styles)})")
    return 0
