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

import errno
import hashlib
import io
import os
import shutil
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


def stale_temporary_files(folder) -> list[Path]:
    """The ``.NAME.PID.tmp`` files in ``folder`` whose writing process is gone (chapter 10)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return [p for p in folder.glob(".*.tmp") if p.is_file() and not _owned_by_live_process(p)]


def _owned_by_live_process(tmp: Path) -> bool:
    """Whether the pid in a temporary file's name is still running (then it is mid-write)."""
    try:
        pid = int(tmp.name.rsplit(".", 2)[-2])
        if pid == os.getpid():
            return True
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, IndexError):
        return False
    except PermissionError:
        return True
    return True


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


# --------------------------------------------------------------------------------------------
# Outputs checked before the work
# --------------------------------------------------------------------------------------------


def _nearest_existing(path: Path) -> Path:
    """``path`` itself if it exists, else its closest existing ancestor."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_can_create_in(folder: Path, target: Path, what: str) -> None:
    """Whatever is missing of ``target`` can be created inside the existing ``folder``."""
    if not folder.is_dir():
        raise NotADirectoryError(f"{what} {target}: {folder} is a file, not a folder")
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        raise PermissionError(f"{what} {target}: {folder} is on a read-only file system; "
                              f"choose a location you can write to")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{what} {target}: no permission to write in {folder}; "
                              f"choose a location you can write to")


def check_writable_dir(path, what: str = "output folder") -> Path:
    """Check, before any work, that folder ``path`` exists or can be created and written to (chapter 10).

    Args:
        path: the folder a command will write into (created later, by the writer).
        what: how the message names it (``"--out"``, ``"the run directory"``).

    Creates nothing. Raises NotADirectoryError when ``path`` (or one of its parents) is a file,
    PermissionError when it cannot be written (read-only file system, no permission).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{what} {path} is a file, not a folder")
    _check_can_create_in(_nearest_existing(path), path, what)
    return path


def check_writable_file(path, what: str = "output file") -> Path:
    """Check, before any work, that file ``path`` can be written (replaced if it exists) (chapter 10).

    Args:
        path: the file a command will write (atomically, later).
        what: how the message names it (``"--out"``).

    Creates nothing. Raises IsADirectoryError when ``path`` is a folder, NotADirectoryError
    when one of its parents is a file, PermissionError when its folder cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a folder; name a file to write")
    _check_can_create_in(_nearest_existing(path.parent), path, what)
    return path


def check_free_space(folder, needed: int, what: str) -> None:
    """Raise an OSError (no space) before writing ``needed`` bytes into ``folder`` if they cannot fit.

    Args:
        folder: where the bytes will go (it or an ancestor must exist).
        needed: how many bytes will be written.
        what:   what is being written, for the message.
    """
    free = shutil.disk_usage(_nearest_existing(Path(folder))).free
    if needed > free:
        raise OSError(errno.ENOSPC, f"{what} needs {needed / 2**20:,.1f} MiB but only "
                                    f"{free / 2**20:,.1f} MiB are free on the device of {folder}; "
                                    f"free some space or choose another location", str(folder))
