"""``stylegan-tutorial prepare-data``: a folder or zip of images -> one memory-mapped array.

Photographs come in every size and mode. Training wants square RGB images of one power-of-two
size that load fast, so this converts a collection once:

1. open each file (a folder is searched recursively; a zip is read in place); anything that is
   not a readable image (a text file, a corrupt or truncated JPEG) is skipped and reported;
2. turn it upright (EXIF orientation) and into 8-bit RGB: transparency is laid over white,
   16- and 32-bit greyscale is scaled down (65535 -> 255), CMYK/palette/greyscale are converted;
3. make it square: crop the centre (default) or pad with black (``--pad``);
4. resize with Pillow's LANCZOS filter. Pillow widens the filter with the scale factor, so it
   averages every source pixel even when shrinking a 4000-pixel photo to 64² (no aliasing, no
   need for a separate BOX pass), and LANCZOS keeps edges sharper than BOX or bilinear;
5. write ``OUT.npy``, a raw uint8 array ``[N, R, R, 3]`` that ``numpy.load(mmap_mode="r")``
   maps without reading, and ``OUT.json``, a manifest (count, resolution, source, sha256 of the
   array file, skipped files).

Both files are written under temporary names and renamed when complete, so an interrupted run
never leaves a half-written dataset behind. Mirror augmentation is not baked in: it is an
option of the dataset (``open_dataset(..., mirror=True)``).
"""

from __future__ import annotations

import errno
import io
import json
import os
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np

from stylegan_tutorial.files import (
    atomic_write_text,
    check_free_space,
    check_writable_file,
    sha256_of,
    stale_temporary_files,
    temporary_name,
)
from stylegan_tutorial.lod import check_resolution
from stylegan_tutorial.progress import tqdm

MANIFEST_FORMAT = "stylegan-tutorial prepared images"
SHOW_SKIPPED = 5  # how many skipped names the summary prints


def list_sources(src: Path) -> tuple[list[tuple[str, object]], list[dict]]:
    """Every candidate file in a folder (recursive) or zip, sorted by name (the instructor's guide).

    Returns ``(candidates, unsafe)``. Candidates are ``(name, opener)`` pairs: the name relative
    to ``src``, and the file's path, or ``(zip path, member name)`` for a zip. Hidden files and
    macOS resource forks (``__MACOSX``) are not candidates. A zip member whose name climbs out
    of the archive (``../``) or is absolute is not read, and is listed in ``unsafe`` as a
    skipped file with its reason.
    """
    def visible(name: str) -> bool:
        return not any((part.startswith(".") and part != "..") or part == "__MACOSX"
                       for part in Path(name).parts)

    if src.is_dir():
        files = sorted(p for p in src.rglob("*") if p.is_file())
        return [(str(p.relative_to(src)), p) for p in files if visible(str(p.relative_to(src)))], []
    if zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            names = sorted(i.filename for i in zf.infolist() if not i.is_dir())
        names = [name for name in names if visible(name)]
        unsafe = [name for name in names if name.startswith(("/", "\\")) or ".." in Path(name).parts]
        skipped = [{"name": name, "reason": "unsafe path in the zip (absolute or '..'): not read"}
                   for name in unsafe]
        return [(name, (src, name)) for name in names if name not in unsafe], skipped
    raise ValueError(f"src must be a folder or a zip file of images, got {src}")


# The Pillow modes that to_rgb treats specially (check-data's scan classifies with the same lists).
HIGH_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")  # 16- and 32-bit grey, scaled down
ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")  # laid over white

# What to_rgb does to each kind of image, by the kind :func:`conversion_kind` names.
CONVERSIONS = {
    "rgb": "kept as it is",
    "grayscale": "grey copied into R, G and B",
    "transparency": "laid over white: transparent pixels become white",
    "paletted": "palette colours looked up",
    "cmyk": "converted without a colour profile: colours may shift",
    "high_bit": "scaled to 8 bits (value / 257), grey copied into R, G and B",
    "other": "converted by Pillow's convert('RGB')",
}


def conversion_kind(img) -> str:
    """Which branch of :func:`to_rgb` an image takes, a key of :data:`CONVERSIONS` (the instructor's guide).

    ``img`` is a Pillow image as opened. A palette image with a transparent colour counts as
    ``"transparency"`` (it is laid over white), one without as ``"paletted"``; bilevel ``1``,
    ``YCbCr``, ``LAB`` and the rest are ``"other"``.
    """
    mode = img.mode
    if mode in HIGH_BIT_MODES:
        return "high_bit"
    if mode in ALPHA_MODES or (mode == "P" and "transparency" in img.info):
        return "transparency"
    return {"RGB": "rgb", "L": "grayscale", "P": "paletted", "CMYK": "cmyk"}.get(mode, "other")


def to_rgb(img):
    """Any Pillow image -> 8-bit RGB (the instructor's guide).

    The image is turned upright first (its EXIF orientation); transparency is laid over white,
    high bit depths are scaled to 0..255.
    """
    from PIL import Image, ImageOps

    img = ImageOps.exif_transpose(img)
    if img.mode in HIGH_BIT_MODES:
        # 16-bit PNGs open as "I;16" or "I" (values 0..65535); scale to 8 bits.
        a = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(np.rint(a / 257.0), 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    if img.mode in ALPHA_MODES and img.mode != "RGBA":
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    return img.convert("RGB")


def square(img, pad: bool = False):
    """Centre-crop ``img`` to a square of its shorter side, or pad it to its longer (the instructor's guide).

    ``img`` is an RGB Pillow image; ``pad`` chooses padding with black over cropping.
    """
    from PIL import Image

    w, h = img.size
    if pad:
        side = max(w, h)
        canvas = Image.new("RGB", (side, side), (0, 0, 0))
        canvas.paste(img, ((side - w) // 2, (side - h) // 2))
        return canvas
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side))


def prepare_image(img, resolution: int, pad: bool = False) -> np.ndarray:
    """One Pillow image -> uint8 ``[R, R, 3]``: RGB, square, LANCZOS-resized (the instructor's guide).

    Args:
        img:        the Pillow image, any mode and size.
        resolution: ``R``, the output's side.
        pad:        pad to a square with black (False: crop the centre).
    """
    from PIL import Image

    img = square(to_rgb(img), pad)
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.LANCZOS)
    return np.asarray(img, dtype=np.uint8)


def read_bytes(opener, zf: zipfile.ZipFile | None) -> bytes:
    """A candidate's bytes: its file, or its member of the open zip ``zf`` (the instructor's guide).

    ``opener`` is the second item of a :func:`list_sources` pair.
    """
    return zf.read(opener[1]) if zf is not None else Path(opener).read_bytes()


def decode(data: bytes):
    """A file's bytes as a fully decoded Pillow image: truncation shows up here (the instructor's guide)."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:  # Pillow's message names the in-memory buffer, not the file
        raise UnidentifiedImageError("not an image file Pillow can read") from None
    img.load()
    return img


def _open(opener, zf: zipfile.ZipFile | None):
    """Open a candidate as a fully decoded Pillow image (so truncation shows up here)."""
    return decode(read_bytes(opener, zf))


def _reserve(path: Path, size: int) -> None:
    """Allocate ``size`` bytes of ``path`` on disk now, where the system can (a memory map that
    runs out of space kills the process with SIGBUS; this raises an OSError instead)."""
    if hasattr(os, "posix_fallocate"):
        with open(path, "r+b") as fh:
            try:
                os.posix_fallocate(fh.fileno(), 0, size)
            except OSError as err:
                if err.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise OSError(err.errno, f"no space for prepare-data's {size / 2**20:,.1f} MiB "
                                  f"array in {path.parent}; free some space or choose another "
                                  f"location", str(path.parent)) from None
                # EINVAL / EOPNOTSUPP: the file system cannot reserve; the free-space check stands


ODD_ASPECT = 2.0  # a longer side more than twice the shorter: cropping keeps less than half


def note_odd_size(name: str, size: tuple[int, int], resolution: int, pad: bool, odd: dict) -> None:
    """Note an image prepare-data must enlarge, or whose crop keeps under half (the instructor's guide).

    ``size`` is the image's ``(width, height)``; ``odd`` holds the lists ``"enlarged"`` and
    ``"cropped"``, which get ``{"name", "size"}`` entries. check-data counts with it too.
    """
    w, h = size
    kept_side = max(w, h) if pad else min(w, h)
    if kept_side < resolution:
        odd["enlarged"].append({"name": name, "size": [w, h]})
    if not pad and max(w, h) > ODD_ASPECT * min(w, h):
        odd["cropped"].append({"name": name, "size": [w, h]})


def _warn_odd_sizes(odd: dict, resolution: int, pad: bool) -> None:
    """One warning per kind of odd image, naming the first few."""
    def first(items):
        names = ", ".join(f"{i['name']} ({i['size'][0]}x{i['size'][1]})" for i in items[:SHOW_SKIPPED])
        return names + (" …" if len(items) > SHOW_SKIPPED else "")

    if odd["enlarged"]:
        warnings.warn(f"{len(odd['enlarged'])} images were smaller than {resolution}² and were "
                      f"enlarged, so they will look blurry: {first(odd['enlarged'])}", stacklevel=3)
    if odd["cropped"]:
        warnings.warn(f"{len(odd['cropped'])} images are more than {ODD_ASPECT:g} times as long as "
                      f"they are wide (or the reverse): cropping their centre kept less than half "
                      f"of each{'' if pad else ' (--pad keeps all of it)'}: {first(odd['cropped'])}",
                      stacklevel=3)


def _npy_header(shape: tuple, length: int) -> bytes:
    """A version-1.0 ``.npy`` header for uint8 ``shape``, padded to exactly ``length`` bytes."""
    text = repr({"descr": "|u1", "fortran_order": False, "shape": tuple(shape)})
    magic = b"\x93NUMPY\x01\x00"
    body = text.ljust(length - len(magic) - 2 - 1) + "\n"
    return magic + struct.pack("<H", len(body)) + body.encode("latin1")


def output_paths(out) -> tuple[Path, Path]:
    """``OUT.npy`` and its manifest ``OUT.json``; OUT must end in ``.npy`` (the instructor's guide)."""
    out = Path(out)
    if out.suffix != ".npy":
        raise ValueError(f"out must be a path ending in .npy, got {str(out)!r}")
    return out, out.with_suffix(".json")


def prepare_images(src, out, resolution: int, pad: bool = False, force: bool = False,
                   progress: bool = True) -> dict:
    """Convert the images in folder or zip ``src`` into ``out`` (.npy) + manifest (the instructor's guide).

    Args:
        src:        a folder (searched recursively) or a zip of images.
        out:        the ``.npy`` to write, uint8 ``[N, R, R, 3]``; its manifest goes beside it
                    as ``.json``.
        resolution: ``R``, a power of two from 4 to 1024.
        pad:        pad each image to a square with black (False: crop the centre).
        force:      overwrite an existing ``out`` and manifest.
        progress:   show a progress bar.

    Returns the manifest (also written as ``OUT.json``). Raises FileNotFoundError for a
    missing ``src``, FileExistsError for an existing ``out`` without ``force``, and ValueError
    when no image could be read.
    """

    resolution = check_resolution(resolution, maximum=1024)
    src = Path(src)
    if not src.exists():
        raise FileNotFoundError(f"src does not exist: {src}")
    out, manifest_path = output_paths(out)
    for p in (out, manifest_path):
        check_writable_file(p, "out")
        if p.exists() and not force:
            raise FileExistsError(f"{p} already exists; pass --force (force=True) to overwrite it")
    sources, unsafe = list_sources(src)
    if not sources:
        raise ValueError(f"src {src} holds no files")
    pixels = len(sources) * resolution * resolution * 3
    check_free_space(out.parent, pixels + (1 << 16), f"prepare-data's array of up to {len(sources)} "
                     f"images at {resolution}²")
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in stale_temporary_files(out.parent):  # left by a killed earlier run
        if stale.name.startswith((f".{out.name}.", f".{manifest_path.name}.")):
            stale.unlink(missing_ok=True)
    tmp = temporary_name(out)
    try:
        # Room for every candidate; the header is rewritten with the final count at the end.
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                          shape=(len(sources), resolution, resolution, 3))
        header_len = array.offset
        _reserve(tmp, header_len + pixels)  # no space: an OSError now, never a SIGBUS later
        count, skipped, odd = 0, list(unsafe), {"enlarged": [], "cropped": []}
        zf = zipfile.ZipFile(src) if not src.is_dir() else None
        for name, opener in tqdm(sources, desc="prepare-data", unit="img", disable=not progress):
            try:
                with _open(opener, zf) as img:
                    array[count] = prepare_image(img, resolution, pad)
                    note_odd_size(name, img.size, resolution, pad, odd)
                count += 1
            except Exception as err:  # noqa: BLE001 -- any unreadable file is skipped, and said so
                skipped.append({"name": name, "reason": f"{type(err).__name__}: {err}"[:200]})
        if zf is not None:
            zf.close()
        array.flush()
        del array
        if count == 0:
            raise ValueError(f"no readable images in {src}: all {len(sources)} files were skipped "
                             f"(first: {', '.join(s['name'] for s in skipped[:SHOW_SKIPPED])})")
        with open(tmp, "r+b") as fh:  # shrink to the images actually written
            fh.write(_npy_header((count, resolution, resolution, 3), header_len))
            fh.truncate(header_len + count * resolution * resolution * 3)
        manifest = {
            "format": MANIFEST_FORMAT, "version": 1, "array": out.name, "count": count,
            "resolution": resolution, "channels": 3, "dtype": "uint8", "layout": "NHWC",
            "source": str(src.resolve()), "square": "pad" if pad else "center-crop",
            "filter": "lanczos", "sha256": sha256_of(tmp),
            "skipped_count": len(skipped), "skipped": skipped,
            "enlarged_count": len(odd["enlarged"]), "enlarged": odd["enlarged"],
            "cropped_count": len(odd["cropped"]), "cropped": odd["cropped"],
        }
        os.replace(tmp, out)
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    _warn_odd_sizes(odd, resolution, pad)
    return manifest
