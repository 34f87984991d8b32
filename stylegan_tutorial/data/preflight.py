"""``stylegan-tutorial check-data``: what prepare-data would make of a collection, before it runs.

A lab goes wrong in its first hour when the data holds surprises: portraits that the centre
crop cuts in half, thumbnails that will be enlarged into blur, scans in CMYK or 16 bits, the
same photograph three times, a few files that are not images at all. :func:`check_data` reads
a folder (searched recursively), a zip, or a ``.npy`` written by prepare-data (with its
``.json`` manifest beside it) and reports all of it, writing nothing (the instructor's guide):

- how many images there are, and which files prepare-data would skip as unreadable;
- sizes: the shorter sides, how many images are not square and what share of their pixels the
  centre crop removes, how many are smaller than the resolution (prepare-data enlarges them);
- modes: RGB, grey, transparency, palette, CMYK, 16-bit and the rest, each with what
  prepare-data does about it (:data:`~stylegan_tutorial.data.prepare.CONVERSIONS`);
- exact duplicates: files whose bytes have the same sha256;
- the resolution to prepare at (:func:`recommended_resolution`).

Every file is read by prepare-data's own code (``list_sources``, ``read_bytes``, ``decode``,
``to_rgb``, ``note_odd_size`` of :mod:`~stylegan_tutorial.data.prepare`), so what this module
calls unreadable, enlarged or cropped hard is exactly what prepare-data will skip, enlarge or
warn about. How long training takes on this machine is measured a layer up, by
:mod:`stylegan_tutorial.capacity`.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import zipfile
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stylegan_tutorial.data.dataset import MAX_RESOLUTION, open_prepared
from stylegan_tutorial.data.prepare import (
    CONVERSIONS,
    SHOW_SKIPPED,
    conversion_kind,
    decode,
    list_sources,
    note_odd_size,
    read_bytes,
    to_rgb,
)
from stylegan_tutorial.files import sha256_of
from stylegan_tutorial.lod import MIN_RESOLUTION, check_resolution
from stylegan_tutorial.progress import tqdm

SHOW = SHOW_SKIPPED  # names listed per finding; the counts are always complete
CROP_WARN = 0.2  # an image whose centre crop removes more than this share of its pixels is warned about
# How the report names each kind of image (the keys of prepare's CONVERSIONS).
KIND_LABELS = {
    "rgb": "RGB",
    "grayscale": "grayscale (L)",
    "transparency": "transparency (RGBA, LA, P)",
    "paletted": "paletted (P)",
    "cmyk": "CMYK",
    "high_bit": "16-bit (I;16, I)",
    "other": "other",
}


@dataclass(frozen=True)
class ImageFacts:
    """What the scan keeps of one readable image (the instructor's guide).

    Args:
        name:     the file's name relative to the source (``#i`` for row ``i`` of a prepared array).
        size:     ``(width, height)`` as stored.
        mode:     Pillow's mode as opened (``RGB``, ``L``, ``I;16`` ...).
        kind:     the branch of prepare-data's ``to_rgb`` it takes, a key of ``CONVERSIONS``.
        sha256:   of the file's bytes (of the image's pixels for a prepared array).
        blackens: a 16-bit image whose values all stay below 256: prepare-data's scaling by
                  1/257 turns it black.
    """

    name: str
    size: tuple[int, int]
    mode: str
    kind: str
    sha256: str
    blackens: bool = False


# --------------------------------------------------------------------------------------------
# One image, and the numbers the report is made of


def inspect_image(name: str, data: bytes) -> ImageFacts:
    """One file's bytes -> its :class:`ImageFacts` (the instructor's guide).

    Raises whatever prepare-data would skip the file for: it is decoded completely (a
    truncated JPEG fails here) and converted by prepare-data's ``to_rgb``.
    """
    with decode(data) as img:
        kind = conversion_kind(img)
        blackens = kind == "high_bit" and float(np.asarray(img).max()) < 256
        to_rgb(img).close()  # the conversion prepare-data runs: a file it cannot convert fails here
        return ImageFacts(name, img.size, img.mode, kind, hashlib.sha256(data).hexdigest(), blackens)


def crop_share(width: int, height: int) -> float:
    """The share of a ``width`` × ``height`` image's pixels the centre crop removes (the instructor's guide).

    The crop keeps a square of the shorter side: ``1 - min(w, h)² / (w h)``; 0 for a square.
    """
    side = min(width, height)
    return 1.0 - side * side / (width * height)


def recommended_resolution(shorter_sides) -> int:
    """The resolution to prepare at: the largest power of two ≤ the median shorter side, 4 to 1024.

    ``shorter_sides`` are the images' shorter sides in pixels (at least one). Why this rule
    (the instructor's guide):

    - a power of two, because the networks grow by doubling from 4² (chapter 4);
    - no larger than the median shorter side, so at least half of the images are shrunk or
      kept, never enlarged: an enlarged image teaches the generator blur, and a doubling that
      the photographs cannot fill costs four times the training time for nothing;
    - the largest such power, so no detail that most of the photographs hold is thrown away;
    - at most 1024 (the paper's and prepare-data's largest) and at least 4 (the constant input's
      size).
    """
    median = statistics.median(shorter_sides)
    resolution = MIN_RESOLUTION
    while resolution * 2 <= min(median, MAX_RESOLUTION):
        resolution *= 2
    return resolution


def duplicate_groups(facts: list[ImageFacts]) -> list[list[str]]:
    """The names of images with equal hashes, one list per repeated hash (the instructor's guide).

    Groups come in the order of their first name; names within a group in scan order.
    """
    by_hash: dict[str, list[str]] = {}
    for f in facts:
        by_hash.setdefault(f.sha256, []).append(f.name)
    return [names for names in by_hash.values() if len(names) > 1]


def _example(f: ImageFacts, **extra) -> dict:
    """An entry of a report's list of examples: the name and size, and anything in ``extra``."""
    return {"name": f.name, "size": list(f.size), **extra}


# --------------------------------------------------------------------------------------------
# The report's sections


def size_summary(facts: list[ImageFacts]) -> dict:
    """Shorter sides, non-square images and what the centre crop removes (the instructor's guide).

    ``crop_share_mean`` is over every image (squares remove nothing); ``cropped_over_20`` counts
    the images losing more than :data:`CROP_WARN` of their pixels, ``cropped_over_half`` those
    prepare-data warns about (the longer side more than twice the shorter).
    """
    shares = [crop_share(*f.size) for f in facts]
    odd: dict[str, list] = {"enlarged": [], "cropped": []}
    for f in facts:
        note_odd_size(f.name, f.size, MAX_RESOLUTION, False, odd)  # the crop test does not need R
    shorter = [min(f.size) for f in facts]
    hard = [(share, f) for share, f in zip(shares, facts) if share > CROP_WARN]
    return {
        "shorter_side": ({"min": min(shorter), "median": statistics.median(shorter), "max": max(shorter)}
                         if facts else None),
        "non_square": sum(f.size[0] != f.size[1] for f in facts),
        "crop_share_mean": float(np.mean(shares)) if facts else 0.0,
        "crop_share_max": max(shares, default=0.0),
        "cropped_over_20": len(hard),
        "cropped_over_20_examples": [_example(f, cropped=round(s, 4)) for s, f in hard[:SHOW]],
        "cropped_over_half": len(odd["cropped"]),
        "cropped_over_half_examples": odd["cropped"][:SHOW],
    }


def resolution_summary(facts: list[ImageFacts], resolution: int | None) -> dict:
    """The recommended resolution, the one chosen (``resolution``, else the recommended) and
    the images below it, which prepare-data enlarges (the instructor's guide)."""
    recommended = recommended_resolution([min(f.size) for f in facts]) if facts else None
    chosen = resolution if resolution is not None else recommended
    odd: dict[str, list] = {"enlarged": [], "cropped": []}
    for f in facts:
        note_odd_size(f.name, f.size, chosen, False, odd)
    return {"recommended": recommended, "chosen": chosen, "given": resolution is not None,
            "below": len(odd["enlarged"]), "below_examples": odd["enlarged"][:SHOW]}


def mode_summary(facts: list[ImageFacts]) -> dict:
    """Per kind of image: how many, their Pillow modes, what prepare-data does (the instructor's guide).

    ``high_bit`` also counts the images it would turn black (``blackens``).
    """
    out = {}
    for kind, action in CONVERSIONS.items():
        members = [f for f in facts if f.kind == kind]
        out[kind] = {"count": len(members), "does": action,
                     "modes": dict(sorted(Counter(f.mode for f in members).items())),
                     "examples": [f.name for f in members[:SHOW]]}
    black = [f.name for f in facts if f.blackens]
    out["high_bit"].update(blackens=len(black), blackens_examples=black[:SHOW])
    return out


def duplicate_summary(facts: list[ImageFacts]) -> dict:
    """Exact duplicates: ``files``, the copies past each group's first; ``groups`` (instructor's guide)."""
    groups = duplicate_groups(facts)
    return {"files": sum(len(g) - 1 for g in groups), "groups": groups}


def _names(items: list, key: str = "name") -> str:
    """The first few names of ``items`` (dicts or strings), with an ellipsis when there are more."""
    names = [i[key] if isinstance(i, dict) else i for i in items[:SHOW]]
    return ", ".join(names) + (" …" if len(items) > SHOW else "")


def warnings_of(report: dict) -> list[str]:
    """One line per finding that changes or loses what the network will see (the instructor's guide).

    A clean collection (readable, square, RGB, large enough, no duplicates) has none.
    """
    out = []
    n, unread = report["images"], report["unreadable"]
    if n == 0:
        out.append("no readable images: prepare-data would stop with an error")
    if unread["count"]:
        out.append(f"{_count(unread['count'], 'unreadable file')} will be skipped: {_names(unread['files'])}")
    dup = report["duplicates"]
    if dup["files"]:
        groups = _count(len(dup["groups"]), "group")
        verb = "repeats" if dup["files"] == 1 else "repeat"
        out.append(f"{_count(dup['files'], 'file')} {verb} another exactly ({groups}; the network sees "
                   f"them more often): {' = '.join(dup['groups'][0])}"
                   + (" …" if len(dup["groups"]) > 1 else ""))
    sizes, res = report["sizes"], report["resolution"]
    if sizes["cropped_over_20"]:
        out.append(f"{_count(sizes['cropped_over_20'], 'image')} lose more than {CROP_WARN:.0%} of their "
                   f"pixels to the centre crop (prepare-data --pad keeps all of each, on black): "
                   f"{_names(sizes['cropped_over_20_examples'])}")
    if res["below"]:
        out.append(f"{_count(res['below'], 'image')} smaller than {res['chosen']}² will be enlarged "
                   f"(blurry): {_names(res['below_examples'])}")
    modes = report["modes"]
    if modes["cmyk"]["count"]:
        out.append(f"{_count(modes['cmyk']['count'], 'CMYK image')}: colours may shift (no colour "
                   f"profile is applied): {_names(modes['cmyk']['examples'])}")
    if modes["transparency"]["count"]:
        out.append(f"{_count(modes['transparency']['count'], 'image')} with transparency, laid over "
                   f"white: {_names(modes['transparency']['examples'])}")
    if modes["high_bit"]["blackens"]:
        out.append(f"{_count(modes['high_bit']['blackens'], '16-bit image')} with values below 256 only: "
                   f"scaling by 1/257 makes them black: {_names(modes['high_bit']['blackens_examples'])}")
    return out + report.get("prepared", {}).get("warnings", [])


def summarize(source, kind: str, files: int, facts: list[ImageFacts], unreadable: list[dict],
              resolution: int | None, prepared: dict | None = None) -> dict:
    """The report of :func:`check_data` from the scan's findings (the instructor's guide).

    Args:
        source:     what was scanned.
        kind:       ``"folder"``, ``"zip"`` or ``"prepared"``.
        files:      how many candidate files there were (images and unreadable ones).
        facts:      one :class:`ImageFacts` per readable image.
        unreadable: ``{"name", "reason"}`` per file prepare-data would skip.
        resolution: the resolution asked for (None: the recommended one is used).
        prepared:   for a prepared array, what its manifest says (None otherwise).
    """
    report = {"source": str(source), "kind": kind, "files": files, "images": len(facts),
              "unreadable": {"count": len(unreadable), "files": unreadable},
              "sizes": size_summary(facts), "resolution": resolution_summary(facts, resolution),
              "modes": mode_summary(facts), "duplicates": duplicate_summary(facts)}
    if prepared is not None:
        report["prepared"] = prepared
    report["warnings"] = warnings_of(report)
    return report


# --------------------------------------------------------------------------------------------
# Reading the source


def source_kind(src: Path) -> str:
    """``"folder"``, ``"zip"`` or ``"prepared"`` (a ``.npy`` or its manifest) (the instructor's guide).

    Raises FileNotFoundError for a missing ``src`` and ValueError for anything else, in
    prepare-data's words.
    """
    if not src.exists():
        raise FileNotFoundError(f"src does not exist: {src}")
    if src.is_dir():
        return "folder"
    if src.suffix in (".npy", ".json"):
        return "prepared"
    if zipfile.is_zipfile(src):
        return "zip"
    raise ValueError(f"src must be a folder or a zip file of images, or a .npy written by prepare-data, "
                     f"got {src}")


def scan_files(src: Path, kind: str, progress: bool = True) -> tuple[list[ImageFacts], list[dict], int]:
    """Read every candidate of folder or zip ``src`` as prepare-data would (the instructor's guide).

    Returns ``(facts, unreadable, files)``: the readable images' :class:`ImageFacts`, the
    skipped files as ``{"name", "reason"}`` (unsafe zip members included), and how many files
    there were. Raises ValueError when ``src`` holds no files.
    """
    sources, unsafe = list_sources(src)
    if not sources:
        raise ValueError(f"src {src} holds no files")
    facts, unreadable = [], list(unsafe)
    with zipfile.ZipFile(src) if kind == "zip" else nullcontext() as zf:
        for name, opener in tqdm(sources, desc="check-data", unit="file", disable=not progress, delay=2):
            try:
                facts.append(inspect_image(name, read_bytes(opener, zf)))
            except Exception as err:  # noqa: BLE001 -- as prepare-data: any unreadable file is skipped
                unreadable.append({"name": name, "reason": f"{type(err).__name__}: {err}"[:200]})
    return facts, unreadable, len(sources) + len(unsafe)


def scan_prepared(path: Path, progress: bool = True) -> tuple[list[ImageFacts], dict]:
    """Read a prepared ``.npy`` and check it against its manifest (the instructor's guide).

    Returns ``(facts, prepared)``: one :class:`ImageFacts` per row (named ``#i``, hashed over its
    pixels), and what the manifest says (``manifest``, ``sha256_ok``, the files skipped, enlarged
    and cropped hard when it was made, and ``warnings``).
    """
    data = open_prepared(path)  # the checks training makes: uint8 [N, R, R, C], C 1 or 3
    images, npy = data.images, Path(data.identity["source"])
    side, mode = images.shape[1], "RGB" if images.shape[-1] == 3 else "L"
    kind = "rgb" if mode == "RGB" else "grayscale"
    facts = [ImageFacts(f"#{i}", (side, side), mode, kind, hashlib.sha256(images[i].tobytes()).hexdigest())
             for i in tqdm(range(len(images)), desc="check-data", unit="img", disable=not progress, delay=2)]
    manifest_path = npy.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    prepared: dict = {"manifest": str(manifest_path) if manifest else None, "sha256_ok": None, "warnings": []}
    if manifest is None:
        prepared["warnings"].append(f"no manifest {manifest_path.name} beside {npy.name}: not written by "
                                    f"prepare-data, or moved without it")
        return facts, prepared
    prepared["sha256_ok"] = sha256_of(npy) == manifest.get("sha256")
    for key in ("source", "square", "skipped_count", "enlarged_count", "cropped_count"):
        prepared[key] = manifest.get(key)
    if not prepared["sha256_ok"]:
        prepared["warnings"].append(f"{npy.name} does not match the sha256 in its manifest: it changed "
                                    f"after prepare-data wrote it")
    if manifest.get("count") != len(images):
        prepared["warnings"].append(f"the manifest says {manifest.get('count')} images, {npy.name} "
                                    f"holds {len(images)}")
    return facts, prepared


def check_data(src, resolution: int | None = None, progress: bool = True) -> dict:
    """Everything prepare-data would do to ``src``, as a report; writes nothing (the instructor's guide).

    Args:
        src:        a folder (searched recursively), a zip of images, or a ``.npy`` written by
                    prepare-data (or its ``.json`` manifest).
        resolution: the resolution to count the too-small images against, a power of two from
                    4 to 1024 (None: the recommended one, :func:`recommended_resolution`).
        progress:   show a progress bar (it appears only after two seconds).

    Returns a dict: ``source``, ``kind``, ``files``, ``images``, ``unreadable``, ``sizes``,
    ``resolution``, ``modes``, ``duplicates``, ``warnings`` (and ``prepared`` for a ``.npy``);
    :func:`format_report` prints it. Raises FileNotFoundError for a missing ``src`` and
    ValueError for a bad ``resolution``, a file that is neither a folder, a zip nor a
    ``.npy``, or a folder with no files, as prepare-data does.
    """
    if resolution is not None:
        resolution = check_resolution(resolution, maximum=MAX_RESOLUTION)
    src = Path(src)
    kind = source_kind(src)
    if kind == "prepared":
        facts, prepared = scan_prepared(src, progress)
        return summarize(src, kind, len(facts), facts, [], resolution, prepared)
    facts, unreadable, files = scan_files(src, kind, progress)
    return summarize(src, kind, files, facts, unreadable, resolution)


# --------------------------------------------------------------------------------------------
# The report as text


def _row(label: str, text: str) -> str:
    """One aligned line of a report section."""
    return f"  {label:<28}{text}"


def _count(n: int, noun: str) -> str:
    """``1 image``, ``2 images``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _files_section(report: dict) -> list[str]:
    """Images, unreadable files (the first few with their reasons), duplicate groups, the manifest."""
    n, unread, dup = report["images"], report["unreadable"], report["duplicates"]
    skips = " (prepare-data skips them)" if unread["count"] else ""
    lines = ["files", _row("images", f"{n} readable of {report['files']}"),
             _row("unreadable", f"{unread['count']}{skips}")]
    lines += [_row("", f"{u['name']}: {u['reason'][:70]}") for u in unread["files"][:SHOW]]
    copies = f"{dup['files']} extra " + ("copy" if dup["files"] == 1 else "copies")
    lines.append(_row("exact duplicates", f"{copies} in {_count(len(dup['groups']), 'group')}"))
    lines += [_row("", " = ".join(g)) for g in dup["groups"][:SHOW]]
    if "prepared" in report:
        p = report["prepared"]
        lines.append(_row("manifest", "missing" if p["manifest"] is None else
                          f"sha256 {'matches' if p['sha256_ok'] else 'DOES NOT MATCH'}; when prepared: "
                          f"{p['skipped_count']} skipped, {p['enlarged_count']} enlarged, "
                          f"{p['cropped_count']} cropped to under half"))
    return lines


def _sizes_section(report: dict) -> list[str]:
    """Shorter sides, the centre crop's losses, the resolution and the images below it."""
    n, sizes, res = report["images"], report["sizes"], report["resolution"]
    lines = ["sizes (centre-cropped to a square, as prepare-data does)"]
    if sizes["shorter_side"]:
        s = sizes["shorter_side"]
        lines.append(_row("shorter side", f"min {s['min']}, median {s['median']:g}, max {s['max']} px"))
    lines += [_row("not square", f"{sizes['non_square']} of {n}"),
              _row("pixels cropped", f"mean {sizes['crop_share_mean']:.1%}, "
                                     f"max {sizes['crop_share_max']:.1%}"),
              _row(f"losing more than {CROP_WARN:.0%}", f"{sizes['cropped_over_20']}"),
              _row("losing more than half", f"{sizes['cropped_over_half']} (prepare-data warns about these)")]
    if res["chosen"] is not None:
        why = "the largest power of two <= the median shorter side, from 4 to 1024"
        lines.append(_row("resolution", f"{res['chosen']}² (given; recommended {res['recommended']}²: {why})"
                          if res["given"] else f"{res['chosen']}² (recommended: {why})"))
        lines.append(_row(f"smaller than {res['chosen']}²", f"{res['below']} (enlarged: blurry)"))
    return lines


def _modes_section(report: dict) -> list[str]:
    """Each kind of image with its count and what prepare-data does; "other" only when present."""
    lines = ["modes (what prepare-data does)"]
    for kind, m in report["modes"].items():
        if m["count"] or kind != "other":
            modes = ", ".join(f"{k} {v}" for k, v in m["modes"].items()) if len(m["modes"]) > 1 else ""
            black = f"; {m['blackens']} will be black" if kind == "high_bit" and m["blackens"] else ""
            lines.append(_row(KIND_LABELS[kind], f"{m['count']:>6}   {m['does']}{black}"
                              + (f" ({modes})" if modes else "")))
    return lines


def format_report(report: dict) -> str:
    """:func:`check_data`'s report as aligned text, as the command prints it (the instructor's guide)."""
    lines = [f"{report['source']} ({report['kind']}, {_count(report['files'], 'file')})", ""]
    for section in (_files_section, _sizes_section, _modes_section):
        lines += section(report) + [""]
    lines += ["warnings"] + ([f"  - {w}" for w in report["warnings"]] or ["  none"])
    return "\n".join(lines)
