"""Files that are either whole or absent, and files checked against a known sha256 (chapter 10).

A Colab session can die at any moment. Everything the package writes that a later step reads
(checkpoints, sample grids, plots, manifests) goes through :func:`atomic_write_bytes`: the bytes
go to a temporary file in the same folder, are flushed and ``fsync``-ed, and only then renamed
over the final name (``os.replace`` is atomic on POSIX and Windows), and the folder is
fsync-ed so that the rename itself is durable. A process killed at any moment leaves the old
file or the new one, never half of one.

Weights that ship inside the package are read only after :func:`verify_sha256` has compared
them with the hash their manifest records.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (skipped where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporary_name(path: Path) -> Path:
    """``.NAME.PID.tmp`` beside ``path``: hidden, and owned by this process (chapter 10).

    :func:`stylegan_tutorial.checkpoint.prune_checkpoints` deletes a checkpoint's once its process is gone.
    """
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one (chapter 10)."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path, text: str) -> Path:
    """:func:`atomic_write_bytes` for UTF-8 text (JSON manifests, configs) (chapter 10)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def save_png(path, array: np.ndarray) -> Path:
    """Write a uint8 ``[H, W, 3]`` array as a PNG file, atomically (chapter 10)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


def save_figure_png(fig, path, dpi: int = 80) -> Path:
    """Write a matplotlib figure as a PNG file, atomically (chapter 10).

    Args:
        fig:  the matplotlib figure.
        path: the PNG file to write (replaced whole, or left as it was).
        dpi:  dots per inch of the rendering.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return atomic_write_bytes(path, buf.getvalue())


def sha256_of(path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks (chapter 10)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path, expected: str, remedy: str = "reinstall the package") -> None:
    """Raise ValueError naming the file, the expected and the actual hash if they differ (chapter 10).

    Args:
        path:     the file to check.
        expected: its sha256 as hex, as the manifest records it.
        remedy:   what the error message tells the reader to do about a mismatch.

    Shipped weights carry their hash in a manifest beside them; a mismatch means the file was
    damaged or replaced, and nothing is loaded from it.
    """
    actual = sha256_of(path)
    if actual != expected:
        raise ValueError(f"sha256 mismatch for {path}: expected {expected}, got {actual}. The "
                         f"file is damaged or was replaced; {remedy}")
