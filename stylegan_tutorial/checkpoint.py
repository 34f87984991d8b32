"""Checkpoints that survive a killed Colab session and never run code when read (chapter 10).

A checkpoint is one ``.safetensors`` file: every tensor of the run (G, D, G_ema, both Adam
states, the torch RNG state) by name, plus one JSON document in the file's metadata
(the training configuration, the dataset's identity, the schedule position, the sampler
position, the NumPy and Python RNG states, the loss history). safetensors stores raw numbers
and a JSON header, nothing else, so reading a checkpoint can never execute code. A pickle
(what ``torch.save`` writes) is refused: a crafted pickle runs code when it is loaded.

Writing is atomic (:func:`stylegan_tutorial.files.atomic_write_bytes`): a process killed at
any moment leaves either the old set of checkpoints or the old set plus a complete new one; a
stray temporary file is ignored by :func:`latest_checkpoint` and cleaned up later. Finding the
latest complete checkpoint reads only each candidate's header (:func:`read_meta`), never its
tensors, so it stays fast for the 1024² networks' half-gigabyte files.

"Latest" means the valid checkpoint that records the most images shown, not the largest name:
an empty, truncated or crafted file named like a checkpoint is never taken for the latest and
never counts when old checkpoints are pruned (:func:`list_checkpoints`).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from stylegan_tutorial.configs import TrainingConfig
from stylegan_tutorial.files import atomic_write_bytes, stale_temporary_files

FORMAT = "stylegan-tutorial-checkpoint/1"
_NAME = re.compile(r"^checkpoint-(\d{9,})\.safetensors$")
_META_KEY = "stylegan_tutorial"


def checkpoint_name(nimg: int) -> str:
    """``checkpoint-000012345.safetensors`` for ``nimg`` images shown (chapter 10).

    The count is zero-padded to nine digits, so names sort in the order of images shown.
    """
    return f"checkpoint-{nimg:09d}.safetensors"


def save_checkpoint(path, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
    """Write ``tensors`` and the JSON-able ``meta`` to ``path`` atomically; return the path (chapter 10).

    Args:
        path:    the ``.safetensors`` file to write (replaced whole, or left as it was).
        tensors: every tensor to save, by name; each is copied to the CPU, contiguous.
        meta:    the JSON-able document stored in the file's header (with this format's tag).
    """
    path = Path(path)
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    blob = save(flat, metadata={_META_KEY: json.dumps({"format": FORMAT, **meta})})
    atomic_write_bytes(path, blob)
    return path


def load_checkpoint(path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(tensors, meta)`` on the CPU (chapter 10).

    The header is checked first by :func:`read_meta`: anything that is not a safetensors file of
    this format (a pickle from ``torch.save`` above all) raises ValueError without being
    unpickled or executed.
    """
    path = Path(path)
    meta = read_meta(path)
    try:
        tensors = load(path.read_bytes())
    except (SafetensorError, ValueError, OSError) as err:
        raise ValueError(f"{path} is not a readable safetensors checkpoint ({err})") from None
    return tensors, meta


def _parse_meta(meta_text: str | None, path: Path) -> dict:
    """The package's JSON document from a safetensors header, checked for its format tag."""
    if meta_text is None:
        raise ValueError(f"{path} is a safetensors file without stylegan-tutorial metadata")
    try:
        meta = json.loads(meta_text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} has unreadable stylegan-tutorial metadata ({err})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} has stylegan-tutorial metadata of the wrong shape "
                         f"(a JSON {type(meta).__name__}, not an object)")
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} has format {meta.get('format')!r}; this version reads {FORMAT!r}")
    return meta


def recorded_nimg(meta: dict, path) -> int:
    """The images shown that a checkpoint records: its position in training (chapter 10).

    Raises a ValueError naming ``path`` when the document records none (wrong shape).
    """
    nimg = meta.get("nimg")
    if isinstance(nimg, bool) or not isinstance(nimg, int) or nimg < 0:
        raise ValueError(f"{path} records no training position (nimg must be an integer >= 0, "
                         f"got {nimg!r})")
    return nimg


def _looks_like_pickle(data: bytes) -> bool:
    """Whether ``data`` is what ``torch.save`` writes (checked only when byte 8 is not safetensors'
    ``{``: a header size's first byte can be 0x80, which also opens a pickle).

    A pickle starts with PROTO (0x80) and a protocol 2-5; torch.save's zip starts ``PK\\3\\4``."""
    return (len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5) or data[:4] == b"PK\x03\x04"


class _Pickle(Exception):
    """Raised inside :func:`read_meta` when a file starts like a pickle."""


MAX_HEADER = 100 << 20  # safetensors' own limit on the JSON header (100 MB)


def read_meta(path) -> dict:
    """The JSON document of a checkpoint, reading its header only (chapter 10).

    Checks what can be checked without the tensors: the safetensors layout, this package's
    format, and that the file is as long as its header says (a file cut short by a full disk
    or a killed copy is refused). Raises ValueError naming the file and the reason;
    FileNotFoundError if there is no file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such checkpoint: {path}")
    try:
        with open(path, "rb") as fh:
            start = fh.read(9)
            if start[8:9] != b"{" and _looks_like_pickle(start):  # safetensors' header opens at byte 8
                raise _Pickle()
            if not _looks_like_safetensors_start(start):
                raise ValueError("not a safetensors file")
            size = int.from_bytes(start[:8], "little")
            if size > MAX_HEADER:
                raise ValueError(f"header of {size} bytes is larger than safetensors allows")
            fh.seek(8)
            header = json.loads(fh.read(size))
    except FileNotFoundError:
        raise FileNotFoundError(f"no such checkpoint: {path}") from None  # gone since it was listed
    except _Pickle:
        raise ValueError(f"refusing to load {path}: it is a pickle (torch.save format), and unpickling "
                         f"can run arbitrary code. Only .safetensors checkpoints written by "
                         f"stylegan-tutorial are read.") from None
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a readable safetensors checkpoint ({err})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path} is not a readable safetensors checkpoint (header is not a dict)")
    ends = [entry["data_offsets"][1] for key, entry in header.items()
            if key != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry]
    expected = 8 + size + max(ends, default=0)
    if path.stat().st_size < expected:
        raise ValueError(f"{path} is not a readable safetensors checkpoint: it is truncated, "
                         f"{path.stat().st_size} bytes where its header describes {expected}")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"{path} is not a readable safetensors checkpoint (__metadata__ is not a dict)")
    return _parse_meta(metadata.get(_META_KEY), path)


def _looks_like_safetensors_start(start: bytes) -> bool:
    """The first 9 bytes of a safetensors file: a header size, then the header's opening brace."""
    return len(start) == 9 and int.from_bytes(start[:8], "little") >= 2 and start[8:9] == b"{"


def recorded_config(meta: dict, path) -> TrainingConfig:
    """The :class:`~stylegan_tutorial.configs.TrainingConfig` a checkpoint records (chapter 10).

    Raises a ValueError naming ``path`` when the document holds none, or one of the wrong shape.
    """
    try:
        return TrainingConfig.from_dict(meta.get("config"))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def list_checkpoints(folder) -> list[Path]:
    """Every valid checkpoint in ``folder``, in the order of the training they record (chapter 10).

    A file counts when its name is one :func:`checkpoint_name` writes, its header reads back
    (:func:`read_meta`: only headers are read) and it records its training configuration and
    how many images it had seen;
    the order is that recorded position, never the name alone. Anything else with such a name
    (an empty or truncated file, a crafted one, a directory) is left alone, never counted,
    and reported once with a warning. A folder that does not exist has none.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(p for p in folder.iterdir() if _NAME.match(p.name)):
        try:
            if path.is_dir():
                raise ValueError(f"{path} is a folder, not a file")
            meta = read_meta(path)
            recorded_config(meta, path)  # a run directory's checkpoints say what they train
            found.append((recorded_nimg(meta, path), path.name, path))
        except FileNotFoundError:  # deleted since the folder was listed (pruned by a running run)
            continue
        except (ValueError, OSError) as err:
            _warn_once(path, f"skipping unreadable checkpoint: {err}")
    return [p for _, _, p in sorted(found)]


_WARNED: set[tuple[str, str]] = set()


def _warn_once(path: Path, message: str) -> None:
    """Warn about a bad file once per process, not at every checkpoint of a long run."""
    if (str(path), message) not in _WARNED:
        _WARNED.add((str(path), message))
        warnings.warn(message, stacklevel=3)


def latest_checkpoint(folder) -> Path | None:
    """The valid checkpoint of ``folder`` that records the most training, None if none (chapter 10).

    See :func:`list_checkpoints` for what counts: a file cut short by a full disk, or any
    other unreadable file, is skipped with a warning, so ``--resume auto`` takes the one before.
    """
    found = list_checkpoints(folder)
    return found[-1] if found else None


def prune_checkpoints(folder, keep_last: int) -> list[Path]:
    """Delete all but the ``keep_last`` valid checkpoints that record the most training (chapter 10).

    Only valid checkpoints are counted and deleted (:func:`list_checkpoints`): an unreadable
    file never holds a slot, so it can never push out the last good checkpoint, and it is left
    for its owner to look at. Stale temporary files (``.NAME.PID.tmp`` of a process that is no
    longer running) go too. Returns the deleted paths; ``keep_last`` must be an integer >= 1.
    """
    if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1:
        raise ValueError(f"keep_last must be an integer >= 1, got {keep_last!r}")
    folder = Path(folder)
    doomed = list_checkpoints(folder)[:-keep_last]
    doomed += stale_temporary_files(folder)
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed


def check_compatible(saved: dict, current: dict, what: str, ignore=(), force: bool = False) -> list[str]:
    """Compare two JSON-able dicts: configs or dataset identities (chapter 10).

    Args:
        saved:   the checkpoint's dict.
        current: this run's dict.
        what:    what the dicts are, for the error message (``"configuration"``, ``"dataset"``).
        ignore:  keys to leave out of the comparison, at any depth (empty: compare everything).
        force:   return the differences instead of raising.

    Returns the differences as readable lines. With ``force=False`` any difference raises a
    ValueError listing them; with ``force=True`` they are only returned (for a warning).
    """
    def flatten(d, prefix=""):
        out = {}
        for k, v in d.items():
            if k in ignore:
                continue
            if isinstance(v, dict) and v and all(isinstance(x, str) for x in v):
                out.update(flatten(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    a, b = flatten(saved), flatten(current)
    diffs = [f"{k}: checkpoint has {a.get(k, '(missing)')!r}, this run has {b.get(k, '(missing)')!r}"
             for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if diffs and not force:
        raise ValueError(f"the checkpoint's {what} differs from this run's; pass force=True "
                         f"(--force) to resume anyway:\n  " + "\n  ".join(diffs))
    return diffs
