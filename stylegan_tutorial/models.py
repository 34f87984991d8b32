"""The generators that ship inside the package: load one instantly, offline, hash-checked.

A shipped generator is a stylegan-tutorial checkpoint that holds only ``G_ema`` (in float16,
half the bytes) beside a JSON manifest: the weights' sha256, the commands that trained and
exported it, the last lines of its training log, its wall time and hardware, and how far
float16 moves its images. Nothing is ever downloaded:

    G = load_pretrained("faces64")                         # verifies the sha256 first
    stylegan-tutorial generate --checkpoint pretrained:faces64 --seeds 0-15 --out grid.png
    stylegan-tutorial evaluate --checkpoint pretrained:faces64

``scripts/export_pretrained.py`` writes a new one from a training checkpoint with
:func:`export_generator`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from stylegan_tutorial import checkpoint as ckpt

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
PREFIX = "pretrained:"
# name -> file stem in stylegan_tutorial/pretrained (stem.safetensors + stem.json)
PRETRAINED = {"faces64": "generator-faces64"}


def manifest_path(name: str, directory=None) -> Path:
    """The manifest of the shipped generator ``name`` (ValueError listing the names if unknown)."""
    if name not in PRETRAINED:
        raise ValueError(f"no pretrained generator named {name!r} ships with this version of the "
                         f"package (available: {', '.join(sorted(PRETRAINED))})")
    return Path(directory or PRETRAINED_DIR) / f"{PRETRAINED[name]}.json"


def load_manifest(name: str, directory=None) -> dict:
    """The manifest of ``name``: provenance, sha256 and the file name of its weights."""
    path = manifest_path(name, directory)
    if not path.is_file():
        raise FileNotFoundError(f"the manifest {path} of pretrained generator {name!r} is missing; "
                                f"reinstall the package")
    return json.loads(path.read_text())


def pretrained_path(name: str, directory=None) -> Path:
    """The weights of ``name`` after checking them against the manifest's sha256."""
    manifest = load_manifest(name, directory)
    weights = manifest_path(name, directory).with_name(manifest["file"])
    if not weights.is_file():
        raise FileNotFoundError(f"the weights {weights} of pretrained generator {name!r} are "
                                f"missing; reinstall the package")
    ckpt.verify_sha256(weights, manifest["sha256"], "reinstall the package (nothing was loaded)")
    return weights


def resolve_source(source) -> Path:
    """``pretrained:NAME`` -> its verified weights; anything else is taken as a path."""
    text = str(source)
    if text.startswith(PREFIX):
        return pretrained_path(text[len(PREFIX):])
    return Path(source)


def load_pretrained(name: str, device: str | torch.device = "cpu", directory=None):
    """The shipped generator ``name`` (float32, eval mode) with its manifest as ``G.manifest``."""
    from stylegan_tutorial.generate import load_generator

    G = load_generator(pretrained_path(name, directory), device=device)
    G.manifest = load_manifest(name, directory)
    return G


@torch.no_grad()
def float16_error(G, G16, n: int = 16) -> float:
    """Largest pixel difference (images in [-1, 1]) between ``G`` and its float16 copy ``G16``."""
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(0))
    return float((G(z, noise_mode="fixed") - G16(z, noise_mode="fixed")).abs().max())


def export_generator(checkpoint, out_dir, stem: str, provenance: dict) -> dict:
    """Write ``stem.safetensors`` (``G_ema`` in float16) and ``stem.json`` from a training checkpoint.

    ``provenance`` (commands, log lines, wall time, hardware) goes into the manifest, which
    also gains the weights' file name, sha256, size, the training position and the float16
    error. Returns the manifest.
    """
    from stylegan_tutorial.generate import load_generator

    tensors, meta = ckpt.load_checkpoint(checkpoint)
    kept = {k: (v.half() if v.is_floating_point() else v)  # [same shapes], half the bytes
            for k, v in tensors.items() if k.startswith("G_ema.")}
    if not kept:
        raise ValueError(f"{checkpoint} holds no G_ema tensors: is it a training checkpoint?")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{stem}.safetensors"
    shipped_meta = {k: meta[k] for k in ("config", "nimg", "dataset") if k in meta}
    ckpt.save_checkpoint(weights, kept, shipped_meta)
    manifest = dict(provenance, file=weights.name, sha256=ckpt.sha256_of(weights),
                    bytes=weights.stat().st_size, kimg=meta["nimg"] / 1000,
                    config=meta["config"]["network"]["name"],
                    float16_max_abs_error=round(float16_error(load_generator(checkpoint),
                                                              load_generator(weights)), 5))
    (out_dir / f"{stem}.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
