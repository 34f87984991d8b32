"""``stylegan-tutorial edit``: move a face along a measured direction in W (chapter 13).

A thin layer over :func:`stylegan_tutorial.edits.edit`: the direction of the factor is measured
on faces the oracle reads (:func:`stylegan_tutorial.edits.fit_directions`), and the face is a
seed's or a latent that ``stylegan-tutorial project`` wrote::

    stylegan-tutorial edit --checkpoint pretrained:faces64 --seed 7 --factor mouth_curve \\
        --amount 2 --out smile/
    stylegan-tutorial edit --checkpoint pretrained:faces64 --latent me/latent.safetensors \\
        --factor glasses --amount 3 --out me-glasses/

``DIR/before.png`` and ``DIR/after.png`` are the face and the edited face, ``DIR/edit.json`` the
oracle's reading of every factor of both. Nothing is written until all is done.

Measuring the directions reads ``--n`` faces (about 30 s for 1000 at 64² on a CPU); they are
kept in the cache (``$STYLEGAN_TUTORIAL_CACHE/directions``, by default
``~/.cache/stylegan-tutorial/directions``) under a hash of both networks' weights and ``--n``,
so the next edit of the same generator takes a few seconds. ``--no-cache`` measures again.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from contextlib import nullcontext
from pathlib import Path

import torch

from stylegan_tutorial.commands._options import add_checkpoint, add_device
from stylegan_tutorial.edits import EDITS, cached_directions, check_edit, edit
from stylegan_tutorial.files import atomic_write_text, check_writable_dir, save_png
from stylegan_tutorial.generate import z_from_seeds
from stylegan_tutorial.images import to_uint8
from stylegan_tutorial.oracle import load_oracle
from stylegan_tutorial.projection import load_latent, oracle_factors, render, weights_sha256
from stylegan_tutorial.runtime import one_thread, pick_device
from stylegan_tutorial.shipped import load_generator

DEFAULT_N = 1000  # faces read to measure a direction


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stylegan-tutorial edit``."""
    add_checkpoint(parser)
    face = parser.add_mutually_exclusive_group(required=True)
    face.add_argument("--seed", type=int, help="edit the face of this seed (the stored noise)")
    face.add_argument("--latent", metavar="FILE",
                      help="edit a latent.safetensors that `stylegan-tutorial project` wrote")
    parser.add_argument("--factor", required=True, metavar="NAME",
                        help=f"what to change: {', '.join(EDITS)}")
    parser.add_argument("--amount", type=float, required=True,
                        help="how far, in standard deviations of the faces along the direction "
                             "(negative: the other way; 2 to 3 is a clear change)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for before.png, after.png, edit.json")
    parser.add_argument("--n", type=int, default=DEFAULT_N,
                        help=f"faces read to measure the direction (default {DEFAULT_N})")
    parser.add_argument("--no-cache", action="store_true",
                        help="measure the directions again instead of reading them from the cache "
                             "(~/.cache/stylegan-tutorial/directions, or "
                             "$STYLEGAN_TUTORIAL_CACHE/directions)")
    add_device(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _face(G, args) -> tuple[torch.Tensor, list[torch.Tensor] | None, str]:
    """The latent to edit (``w [1, w_dim]`` or ``w+ [1, L, w_dim]``), its noise maps, and its space."""
    if args.latent is not None:
        latent, noise, meta = load_latent(args.latent, G)
        if meta.get("weights_sha256") not in (None, weights_sha256(G)):
            warnings.warn(f"{args.latent} was projected with other weights ({meta.get('checkpoint')}) than "
                          f"{args.checkpoint}'s, of the same configuration: it draws another face here",
                          stacklevel=2)
        return latent.unsqueeze(0).to(G.w_avg.device), noise, meta["space"]
    if args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
    with torch.no_grad():
        return G.mapping(z_from_seeds([args.seed], G.z_dim).to(G.w_avg.device)), None, "w"


def run(args: argparse.Namespace) -> int:
    """Edit the face, write the two images and the readings; return the exit code."""
    check_edit(args.factor)
    if not math.isfinite(args.amount):
        raise ValueError(f"--amount must be a finite number, got {args.amount}")
    if args.n < 20:
        raise ValueError(f"--n must be at least 20 faces to measure a direction, got {args.n}")
    if args.latent is not None and not Path(args.latent).is_file():
        raise FileNotFoundError(f"no such latent file: {args.latent}")
    out = check_writable_dir(args.out, "--out")
    device = pick_device(args.device)
    G = load_generator(args.checkpoint, device=device)
    latent, noise, space = _face(G, args)
    oracle = load_oracle(device=device)
    with one_thread() if device.type == "cpu" else nullcontext():  # small batches: one thread is faster
        cached = cached_directions(G, args.n, oracle=oracle, refresh=args.no_cache,
                                   progress=not args.no_progress)
        after = edit(G, latent, args.factor, args.amount, cached.directions)
        images = render(G, torch.cat([latent, after]), noise)  # [2, 3, R, R]
        before_f, after_f = oracle_factors(oracle, images)
    record = {"checkpoint": args.checkpoint, "config": G.config.name,
              "face": {"seed": args.seed} if args.latent is None else {"latent": str(args.latent)},
              "space": space, "factor": args.factor, "amount": args.amount, "n": args.n,
              "factors": {"before": before_f, "after": after_f}}
    tiles = to_uint8(images)  # [2, R, R, 3]
    out.mkdir(parents=True, exist_ok=True)
    save_png(out / "before.png", tiles[0])
    save_png(out / "after.png", tiles[1])
    atomic_write_text(out / "edit.json", json.dumps(record, indent=2) + "\n")
    factor = EDITS[args.factor][0]
    face = f"seed {args.seed}" if args.latent is None else args.latent
    how = "measured on" if cached.measured else "read from the cache of"
    print(f"edited {face} along {args.factor} by {args.amount:g}: the oracle reads {factor} "
          f"{before_f[factor]} -> {after_f[factor]}; wrote {out}/ (directions {how} {args.n} faces: "
          f"{cached.path})")
    return 0
