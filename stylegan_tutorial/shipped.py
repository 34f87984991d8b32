"""Weights that ship inside the package: generators and the oracle alike (chapters 10 and 11).

Nothing is ever downloaded. Each shipped file is a safetensors file in
``stylegan_tutorial/pretrained/`` beside a JSON manifest that records how it was made and the
sha256 of its bytes; :func:`verified_path` compares the two before anything is read. The one
registry, :data:`SHIPPED`, names them all:

- ``faces64``: a generator (a stylegan-tutorial checkpoint holding only ``G_ema`` in float16),
  loaded by :func:`load_pretrained` or, anywhere a checkpoint is accepted, as
  ``pretrained:faces64``;
- ``faces32-cpu``: a smaller generator (``cpu-tiny``, 32²) trained for 360 kimg on a 2-core CPU;
  at 32², where the oracle reads both, its Fréchet distance and KID are lower than faces64's;
- ``oracle-faces32``: the offline judge of the metrics (:func:`stylegan_tutorial.oracle.load_oracle`).

::

    G = load_pretrained("faces64")                         # verifies the sha256 first
    G = load_generator("runs/tiny")                        # the latest checkpoint of a run
    stylegan-tutorial generate --checkpoint pretrained:faces64 --seeds 0-15 --out grid.png

``scripts/export_pretrained.py`` writes a new generator from a training checkpoint with
:func:`export_generator`; ``scripts/train_oracle.py`` writes the oracle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import torch

from stylegan_tutorial import checkpoint as ckpt
from stylegan_tutorial.files import atomic_write_text, sha256_of, verify_sha256
from stylegan_tutorial.generator import Generator

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
PREFIX = "pretrained:"


class ShippedFile(NamedTuple):
    """One entry of :data:`SHIPPED` (chapters 10 and 11).

    Args:
        kind:   ``"generator"`` or ``"oracle"``.
        stem:   the file names without suffix: ``STEM.safetensors`` and ``STEM.json`` in
                ``PRETRAINED_DIR``.
        remedy: what the error message tells the reader to do when the files are missing or
                damaged.
    """

    kind: str  # "generator" or "oracle"
    stem: str  # STEM.safetensors and STEM.json in PRETRAINED_DIR
    remedy: str  # what to do when the files are missing or damaged


SHIPPED: dict[str, ShippedFile] = {
    "faces64": ShippedFile("generator", "generator-faces64", "reinstall the package"),
    "faces32-cpu": ShippedFile("generator", "generator-faces32-cpu", "reinstall the package"),
    # the rows of the paper's Table 1 at 32² (chapter 12)
    **{f"ablation-{row}": ShippedFile("generator", f"generator-ablation-{row}", "reinstall the package")
       for row in "ABCDEF"},
    "oracle-faces32": ShippedFile("oracle", "oracle-faces32",
                                  "reinstall the package or retrain it with scripts/train_oracle.py"),
}


def names(kind: str) -> list[str]:
    """The shipped names of one kind, sorted (chapter 10).

    Args:
        kind: ``"generator"`` (loadable as ``pretrained:NAME``) or ``"oracle"``.
    """
    return sorted(name for name, entry in SHIPPED.items() if entry.kind == kind)


def _entry(name: str, kind: str | None = None) -> ShippedFile:
    """The registry entry of ``name`` (ValueError listing what ships if unknown or of another kind)."""
    entry = SHIPPED.get(name)
    if entry is None or (kind is not None and entry.kind != kind):
        what = f"pretrained {kind}" if kind else "shipped file"
        available = names(kind) if kind else sorted(SHIPPED)
        raise ValueError(f"no {what} named {name!r} ships with this version of the package "
                         f"(available: {', '.join(available)})")
    return entry


def manifest_path(name: str, directory=None) -> Path:
    """Where the manifest of the shipped file ``name`` lives (chapter 10).

    Args:
        name:      a key of :data:`SHIPPED`, e.g. ``"faces64"`` or ``"oracle-faces32"``.
        directory: the folder to look in (None: the package's ``pretrained/`` folder).

    Raises a ValueError listing the shipped names if ``name`` is unknown.
    """
    return Path(directory or PRETRAINED_DIR) / f"{_entry(name).stem}.json"


def weights_path(name: str, directory=None) -> Path:
    """Where the weights of ``name`` are written: ``STEM.safetensors`` beside its manifest (chapter 10).

    Args:
        name:      a key of :data:`SHIPPED`.
        directory: the folder (None: the package's ``pretrained/`` folder).

    Nothing is checked: read shipped weights only through :func:`verified_path`.
    """
    return manifest_path(name, directory).with_suffix(".safetensors")


def load_manifest(name: str, directory=None) -> dict:
    """The manifest of ``name``: its provenance, the weights' file name and their sha256 (chapter 10).

    Args:
        name:      a key of :data:`SHIPPED`.
        directory: the folder to look in (None: the package's ``pretrained/`` folder).

    Raises FileNotFoundError, naming the manifest and the remedy, if it is missing.
    """
    entry, path = _entry(name), manifest_path(name, directory)
    if not path.is_file():
        raise FileNotFoundError(f"the manifest {path} of shipped {entry.kind} {name!r} is missing; "
                                f"{entry.remedy}")
    return json.loads(path.read_text())


def verified_path(name: str, directory=None) -> Path:
    """The weights of ``name`` after checking them against their manifest's sha256 (chapter 10).

    Args:
        name:      a key of :data:`SHIPPED`.
        directory: the folder to look in (None: the package's ``pretrained/`` folder).

    Raises FileNotFoundError if the manifest or the weights are missing, and ValueError with
    both hashes if the weights were damaged or replaced: nothing is loaded from them.
    """
    entry, manifest = _entry(name), load_manifest(name, directory)
    weights = manifest_path(name, directory).with_name(manifest["file"])
    if not weights.is_file():
        raise FileNotFoundError(f"the weights {weights} of shipped {entry.kind} {name!r} are "
                                f"missing; {entry.remedy}")
    verify_sha256(weights, manifest["sha256"], f"{entry.remedy} (nothing was loaded)")
    return weights


def training_figure(name: str, directory=None) -> Path:
    """The figure of the training run that made generator ``name``, checked against its manifest (chapter 10).

    ``faces32-cpu`` ships the grids its CPU run drew on the way (chapter 10 shows them), so that
    they display wherever the package is installed, Colab included, not only in a checkout.

    Args:
        name:      a key of :data:`SHIPPED` whose manifest has a ``training_figure``.
        directory: the folder to look in (None: the package's ``pretrained/`` folder).

    Raises ValueError if ``name`` ships no figure or the file was damaged, FileNotFoundError
    if it is missing.
    """
    entry, manifest = _entry(name), load_manifest(name, directory)
    figure = manifest.get("training_figure")
    if not isinstance(figure, dict):
        having = [n for n in sorted(SHIPPED) if manifest_path(n, directory).is_file()
                  and "training_figure" in load_manifest(n, directory)]
        raise ValueError(f"shipped {entry.kind} {name!r} has no training figure "
                         f"(these have: {', '.join(having) or 'none'})")
    path = manifest_path(name, directory).with_name(figure["file"])
    if not path.is_file():
        raise FileNotFoundError(f"the training figure {path} of {name!r} is missing; {entry.remedy}")
    verify_sha256(path, figure["sha256"], entry.remedy)
    return path


def write_manifest(weights, manifest: dict) -> dict:
    """Write ``manifest`` plus the weights' file name and sha256 beside ``weights`` (chapter 10).

    Args:
        weights:  the ``.safetensors`` file just written.
        manifest: the provenance to record (commands, scores, wall time, machine).

    Returns the manifest as written, atomically, to ``weights`` with the suffix ``.json``.
    """
    weights = Path(weights)
    manifest = dict(manifest, file=weights.name, sha256=sha256_of(weights))
    atomic_write_text(weights.with_suffix(".json"), json.dumps(manifest, indent=2) + "\n")
    return manifest


def resolve_source(source) -> Path:
    """Where a generator comes from (chapter 10): ``pretrained:NAME`` or a path.

    Args:
        source: ``"pretrained:NAME"`` (a shipped generator: its weights are sha256-checked
                here), or a checkpoint file or run directory (returned as a Path, unchecked).

    Raises a ValueError listing the shipped generators if ``NAME`` is not one of them.
    """
    text = str(source)
    if text.startswith(PREFIX):
        name = text[len(PREFIX):]
        _entry(name, "generator")
        return verified_path(name)
    return Path(source)


def checkpoint_file(source) -> Path:
    """The checkpoint file that ``source`` names (chapter 10).

    Args:
        source: a checkpoint file, a run directory (its latest complete checkpoint) or
                ``"pretrained:NAME"`` (see :func:`resolve_source`).

    Raises FileNotFoundError if ``source`` does not exist or is a run directory without a
    checkpoint.
    """
    path = resolve_source(source)
    if not path.exists():
        raise FileNotFoundError(f"no such checkpoint: {path} (no such file or run directory)")
    if path.is_dir():
        found = ckpt.latest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(f"no checkpoint in {path}")
        return found
    return path


def load_generator(source, which: str = "G_ema", device: str | torch.device = "cpu") -> Generator:
    """The generator stored in a checkpoint, a run directory or a shipped file (chapter 10).

    Args:
        source: a ``.safetensors`` checkpoint, a run directory (its latest checkpoint) or
                ``"pretrained:NAME"``, a generator that ships with the package (its sha256 is
                checked first).
        which:  ``"G_ema"``, the moving average (the one to show), or ``"G"``, the trained
                weights themselves (training checkpoints only).
        device: where to put it (``"cpu"``, ``"cuda"`` or a torch.device).

    Returns the :class:`~stylegan_tutorial.generator.Generator` in float32 (float16 weights
    are widened), eval mode, without gradients, with its ``w_avg`` and ``G.trained_kimg``.
    """
    if which not in ("G_ema", "G"):
        raise ValueError(f"which must be 'G_ema' or 'G', got {which!r}")
    path = checkpoint_file(source)
    tensors, meta = ckpt.load_checkpoint(path)
    config = ckpt.recorded_config(meta, path)
    nimg = ckpt.recorded_nimg(meta, path)
    G = Generator(config.network)
    state = {k[len(which) + 1:]: v for k, v in tensors.items() if k.startswith(which + ".")}
    if not state:
        raise ValueError(f"{path} holds no {which} tensors (a shipped generator has G_ema only)")
    try:
        G.load_state_dict(state)  # float16 weights are copied into the float32 parameters
    except RuntimeError as err:  # missing, extra or misshapen tensors
        raise ValueError(f"{path}: its {which} tensors do not fit the network its configuration "
                         f"describes ({str(err).splitlines()[0]})") from None
    G.trained_kimg = nimg / 1000
    return G.eval().requires_grad_(False).to(device)


def load_pretrained(name: str, device: str | torch.device = "cpu", directory=None) -> Generator:
    """The shipped generator ``name``, with its manifest as ``G.manifest`` (chapter 10).

    Args:
        name:      a shipped generator, e.g. ``"faces64"``.
        device:    where to put it.
        directory: the folder holding its files (None: the package's ``pretrained/`` folder).

    Returns the generator in float32 and eval mode, after its sha256 check.
    """
    _entry(name, "generator")
    G = load_generator(verified_path(name, directory), device=device)
    G.manifest = load_manifest(name, directory)
    return G


@torch.no_grad()
def float16_error(G: Generator, G16: Generator, n: int = 16) -> float:
    """Largest pixel difference between ``G`` and its float16 copy ``G16`` (chapter 10).

    Args:
        G:   the generator as trained (float32 weights).
        G16: the same generator loaded from its float16 export.
        n:   how many images to compare (latents from seed 0, the stored noise).

    Returns ``max |G(z) - G16(z)|`` over the ``[n, C, R, R]`` images, which lie in [-1, 1].
    """
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(0))
    return float((G(z, noise_mode="fixed") - G16(z, noise_mode="fixed")).abs().max())


def export_generator(checkpoint, out_dir, stem: str, provenance: dict) -> dict:
    """Write ``stem.safetensors`` (``G_ema`` in float16) and ``stem.json`` from a checkpoint (chapter 10).

    Args:
        checkpoint: a training checkpoint (``.safetensors``) holding ``G_ema``.
        out_dir:    the folder to write into (created if missing).
        stem:       the files' name without suffix, e.g. ``"generator-faces64"``; register it
                    in :data:`SHIPPED` to make ``pretrained:NAME`` load it.
        provenance: what goes into the manifest as is (commands, log lines, wall time,
                    hardware).

    The manifest also gains the weights' file name, sha256 and size, the training position
    (kimg), the configuration's name and the float16 error. Returns the manifest.
    """
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
    error = float16_error(load_generator(checkpoint), load_generator(weights))
    return write_manifest(weights, dict(provenance, bytes=weights.stat().st_size,
                                        kimg=meta["nimg"] / 1000,
                                        config=meta["config"]["network"]["name"],
                                        float16_max_abs_error=round(error, 5)))
