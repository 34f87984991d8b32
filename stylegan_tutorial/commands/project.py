"""``stylegan-tutorial project``: find the latent whose image matches your image (chapter 13).

A thin layer over :func:`stylegan_tutorial.projection.project`::

    stylegan-tutorial project me.jpg --checkpoint pretrained:faces64 --out me/
    stylegan-tutorial project me.jpg --checkpoint pretrained:faces64 --out me-wplus/ --space w+

The image is read as ``prepare-data`` reads one (RGB, centre-cropped square, resized to the
generator's resolution). ``DIR/target.png`` is that image, ``DIR/reconstruction.png`` the
generator's image of the latent found, ``DIR/latent.safetensors`` the latent (and the noise
maps) for ``stylegan-tutorial edit --latent``, ``DIR/report.json`` the PSNR, the oracle's
reading of both images, the steps and the seconds. Nothing is written until all is done.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import torch

from stylegan_tutorial.commands._options import add_checkpoint, add_device
from stylegan_tutorial.files import atomic_write_bytes, atomic_write_text, check_writable_dir, save_png
from stylegan_tutorial.images import to_uint8
from stylegan_tutorial.oracle import load_oracle
from stylegan_tutorial.projection import (
    NOISE_CHOICES,
    SPACES,
    latent_bytes,
    oracle_factors,
    project,
    psnr,
    read_image,
)
from stylegan_tutorial.runtime import pick_device
from stylegan_tutorial.shipped import load_generator

DEFAULT_STEPS = 300  # see benchmarks/bench_projection.py: >= 25 dB on faces64's own images


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stylegan-tutorial project``."""
    parser.add_argument("image", metavar="IMAGE", help="the image file to project (any size or mode)")
    add_checkpoint(parser)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for target.png, reconstruction.png, latent.safetensors, report.json")
    parser.add_argument("--space", choices=SPACES, default="w",
                        help="w: one latent for every layer (default; edits behave); w+: one per "
                             "layer (closer fit, less editable)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"optimisation steps (default {DEFAULT_STEPS})")
    parser.add_argument("--noise", choices=NOISE_CHOICES, default="stored",
                        help="noise maps: the generator's stored ones (default), none, or optimised too")
    add_device(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _as_image(array) -> torch.Tensor:
    """uint8 ``[R, R, 3]`` (as a PNG holds it) -> ``[3, R, R]`` in [-1, 1]."""
    return torch.from_numpy(array).permute(2, 0, 1).float() / 127.5 - 1.0


def run(args: argparse.Namespace) -> int:
    """Project the image, write the four files; return the exit code."""
    if args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    out = check_writable_dir(args.out, "--out")
    device = pick_device(args.device)
    G = load_generator(args.checkpoint, device=device)
    target = read_image(args.image, G.config.resolution)  # every input checked before the work
    if target.note:
        warnings.warn(target.note, stacklevel=2)
    oracle = load_oracle(device=device)
    start = time.perf_counter()
    # torch's own threads: on an idle 2-core machine, 600 steps took 21.6 s with both cores against
    # 31.3 s with one (benchmarks/projection.md)
    found = project(G, target.image, args.space, steps=args.steps, noise=args.noise, oracle=oracle,
                    progress=not args.no_progress)
    seconds = time.perf_counter() - start
    pngs = {"target.png": to_uint8(target.image[None])[0],
            "reconstruction.png": to_uint8(found.reconstruction[None])[0]}  # [R, R, 3] uint8 each
    saved = torch.stack([_as_image(a) for a in pngs.values()])  # [2, 3, R, R], as the files hold them
    f_target, f_recon = oracle_factors(oracle, saved.to(device))
    report = {"image": str(args.image), "image_size": list(target.size), "note": target.note,
              "checkpoint": args.checkpoint, "config": G.config.name, "space": args.space,
              "noise": args.noise, "steps": args.steps, "seconds": round(seconds, 2),
              "psnr": round(float(psnr(saved[1], saved[0])), 3),
              "factors": {"target": f_target, "reconstruction": f_recon}}
    blob = latent_bytes(G, found.latent, args.space, found.noise,
                        {"checkpoint": args.checkpoint, "image": str(args.image), "psnr": report["psnr"]})
    out.mkdir(parents=True, exist_ok=True)
    for name, array in pngs.items():
        save_png(out / name, array)
    atomic_write_bytes(out / "latent.safetensors", blob)
    atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    print(f"projected {args.image} into {args.space.upper()} of {G.config.name} in {args.steps} steps "
          f"({seconds:.1f} s): PSNR {report['psnr']:.2f} dB; wrote {out}/")
    return 0
