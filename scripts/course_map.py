"""The map of the course: which package modules each chapter builds on (a figure for the landing page).

Everything on the map is derived from the sources, nothing is typed in by hand, so the map stays
true when a chapter or a module changes:

- the parts and their chapters, in order, from ``_toc.yml`` (only the entries that are notebooks);
  each chapter's number and title from its notebook's first markdown heading ``# N. Title``;
- the modules a chapter uses, from its code cells parsed with :mod:`ast` (lines starting with ``%``
  or ``!`` dropped first; a cell that still fails to parse is skipped): every
  ``from stylegan_tutorial.X import ...``, ``from stylegan_tutorial import X`` (X a module) and
  ``import stylegan_tutorial.X``, reduced to the package's top-level module X (``data.faces`` is
  ``data``, ``metrics.path_length`` is ``metrics``), less the plumbing of :data:`IGNORED`;
- each module's layer from the ``LAYERS`` dict of ``tests/test_architecture.py`` (read with
  :mod:`ast`, not imported) and the layers' names from the picture in ``ARCHITECTURE.md``.

The figure puts the chapters on the left, grouped by part, and the modules on the right, grouped
by layer; a line joins a chapter to each module it imports. The first chapter to import a module
(where it is built) gets a bold dark line and is named beside the module ("ch 5"); later uses
are thin and light. It also prints the same content as a text table, so the figure can be checked.

    python scripts/course_map.py            # writes book/_static/course_map.png, prints the table
    python scripts/course_map.py --out map.png
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyBboxPatch, PathPatch  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "stylegan_tutorial"
OUT = ROOT / "book" / "_static" / "course_map.png"

# Plumbing that (nearly) every chapter imports, whatever its idea: device and seeds (runtime), the
# source and figure helpers (viz), progress bars (progress) and the graders of the "build it
# yourself" cells (exercises). A line from every chapter to each of them would say nothing and
# hide the lines that do.
IGNORED = frozenset({"runtime", "viz", "progress", "exercises"})

TITLE = "The course: chapters and the package modules they use"
HEADING = re.compile(r"^#\s+(\d+)\.\s+(.*\S)\s*$")

# Colours. What matters in grayscale is the difference between the two kinds of line, carried by
# darkness and width together (dark and bold against light and thin); the layers' pastel bands
# only group the modules and are named in words as well.
FIRST_COLOR = "#17375e"
AGAIN_COLOR = "#8a99ab"
BAND_COLORS = ["#eeeeee", "#e3eefa", "#e6f3e3", "#fdf0dc", "#f6e4ee", "#ece6f6", "#e4f1f1"]


@dataclass
class Chapter:
    number: int
    title: str
    part: str
    notebook: Path
    modules: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return f"{self.number}. {self.title}"


@dataclass
class CourseMap:
    chapters: list[Chapter]
    layer_of: dict[str, int]  # every module some chapter uses -> its layer (-1: not in LAYERS)
    layer_names: dict[int, str]
    first_use: dict[str, int]  # module -> number of the first chapter (in book order) that uses it
    unused: list[str]  # top-level modules of LAYERS that no chapter imports (IGNORED left out)

    def parts(self) -> list[tuple[str, list[Chapter]]]:
        out: list[tuple[str, list[Chapter]]] = []
        for ch in self.chapters:
            if not out or out[-1][0] != ch.part:
                out.append((ch.part, []))
            out[-1][1].append(ch)
        return out

    def modules_by_layer(self) -> list[tuple[int, list[str]]]:
        """The modules in use, by layer (lowest first), each layer's in the order the course meets them."""
        layers = sorted(set(self.layer_of.values()))
        return [(layer, sorted((m for m, lay in self.layer_of.items() if lay == layer),
                               key=lambda m: (self.first_use[m], m))) for layer in layers]


# --- reading the sources -----------------------------------------------------------------------

def read_toc(root: Path) -> list[tuple[str, Path]]:
    """(part caption, notebook) for every chapter of ``_toc.yml`` that is a notebook, in book order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    out = []
    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            path = root / f"{entry['file']}.ipynb"
            if path.exists():
                out.append((part.get("caption", ""), path))
    return out


def cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def chapter_heading(notebook: dict, fallback: str) -> tuple[int | None, str]:
    """The number and title of the first markdown heading ``# N. Title``."""
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for line in cell_source(cell).splitlines():
            if m := HEADING.match(line):
                return int(m.group(1)), m.group(2)
    return None, fallback


def is_package_module(root: Path, name: str) -> bool:
    pkg = root / PACKAGE
    return (pkg / f"{name}.py").exists() or (pkg / name / "__init__.py").exists()


def imported_modules(source: str, root: Path) -> set[str]:
    """The package's top-level modules that one cell imports (empty if it does not parse)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != PACKAGE:
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:  # from stylegan_tutorial import images, baselines (modules, not other names)
                found.update(a.name for a in node.names if is_package_module(root, a.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1:
                    found.add(parts[1])
    return found


def read_layers(root: Path) -> dict[str, int]:
    """``LAYERS`` of tests/test_architecture.py, read with ast (the test file imports pytest)."""
    tree = ast.parse((root / "tests" / "test_architecture.py").read_text(encoding="utf-8"))
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id == "LAYERS" and node.value is not None:
            return ast.literal_eval(node.value)
    raise ValueError("no LAYERS dict in tests/test_architecture.py")


def read_layer_names(root: Path) -> dict[int, str]:
    """The layers' names from ARCHITECTURE.md's picture: ``│ 2 networks        configs ...``."""
    names = {}
    for line in (root / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^\s*│\s*(\d+)\s+(\S+(?: \S+)*?)\s{2,}", line):
            names[int(m.group(1))] = m.group(2)
    return names


def layer_of(module: str, layers: dict[str, int]) -> int:
    """A module's own entry in LAYERS, else that of its longest package prefix; -1 if none."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if (key := ".".join(parts[:n])) in layers:
            return layers[key]
    return -1


def build_map(root: Path = ROOT) -> CourseMap:
    chapters = []
    for i, (part, path) in enumerate(read_toc(root), start=1):
        nb = json.loads(path.read_text(encoding="utf-8"))
        number, title = chapter_heading(nb, fallback=path.stem)
        modules: set[str] = set()
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                modules |= imported_modules(cell_source(cell), root)
        chapters.append(Chapter(number if number is not None else i, title, part, path, modules - IGNORED))
    layers = read_layers(root)
    first_use: dict[str, int] = {}
    for ch in chapters:
        for m in ch.modules:
            first_use.setdefault(m, ch.number)
    used = {m: layer_of(m, layers) for m in first_use}
    unused = sorted(m for m in layers if "." not in m and not m.startswith("__")
                    and m not in used and m not in IGNORED)
    return CourseMap(chapters, used, read_layer_names(root), first_use, unused)


# --- the text table ----------------------------------------------------------------------------

def layer_title(cmap: CourseMap, layer: int) -> str:
    if layer < 0:
        return "not in LAYERS"
    return f"{layer} {cmap.layer_names.get(layer, 'layer')}"


def format_table(cmap: CourseMap) -> str:
    width = max(len(ch.label) for ch in cmap.chapters) + 2
    lines = [TITLE, "(* = first used here, where the module is built; modules in layer order)", ""]
    for part, chapters in cmap.parts():
        lines.append(part)
        for ch in chapters:
            mods = sorted(ch.modules, key=lambda m: (cmap.layer_of[m], m))
            cells = [m + ("*" if cmap.first_use[m] == ch.number else "") for m in mods]
            lines.append(f"  {ch.label:<{width}}{' '.join(cells) if cells else '(no package module)'}")
    lines += ["", "Modules by layer (chapters that use them):"]
    for layer, mods in cmap.modules_by_layer():
        used = [f"{m} ({', '.join(str(c.number) for c in cmap.chapters if m in c.modules)})" for m in mods]
        lines.append(f"  {layer_title(cmap, layer):<18}{'; '.join(used)}")
    lines += ["", f"Left out as plumbing: {', '.join(sorted(IGNORED))}",
              f"In LAYERS but imported by no chapter: {', '.join(cmap.unused) or '(none)'}"]
    return "\n".join(lines)


# --- the figure --------------------------------------------------------------------------------

def curve(x0: float, y0: float, x1: float, y1: float) -> MplPath:
    """A cubic Bézier from (x0, y0) to (x1, y1), leaving and arriving horizontally."""
    xm = (x0 + x1) / 2
    return MplPath([(x0, y0), (xm, y0), (xm, y1), (x1, y1)],
                   [MplPath.MOVETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4])


def draw(cmap: CourseMap, out: Path) -> None:
    plt.rcParams.update({"font.size": 11, "font.family": "DejaVu Sans"})
    fig = plt.figure(figsize=(10, 9), dpi=150)
    ax = fig.add_axes((0.0, 0.085, 1.0, 0.85))
    ax.set_xlim(0, 1)
    ax.axis("off")

    # The modules, on the right, in rows: a layer's modules together, a gap between layers.
    gap = 0.7
    y_mod: dict[str, float] = {}
    bands = []
    y = 0.0
    for layer, mods in cmap.modules_by_layer():
        top = y
        for m in mods:
            y_mod[m] = y
            y += 1
        bands.append((layer, top, y - 1))
        y += gap
    height = y - gap - 1  # from the first row to the last

    # The chapters, on the left, spread over the same height: a part's caption, then its chapters.
    parts = cmap.parts()
    slots = len(cmap.chapters) + len(parts) + 0.5 * (len(parts) - 1)
    step = height / (slots - 1)
    y_ch: dict[int, float] = {}
    captions = []
    y = 0.0
    for part, chapters in parts:
        captions.append((part, y))
        y += step
        for ch in chapters:
            y_ch[ch.number] = y
            y += step
        y += 0.5 * step

    x_ch, x_mod = 0.385, 0.615
    ax.set_ylim(height + 0.8, -0.8)

    for layer, top, bottom in bands:
        ax.add_patch(FancyBboxPatch((x_mod - 0.025, top - 0.46), 0.405, bottom - top + 0.92,
                                    boxstyle="round,pad=0,rounding_size=0.012", linewidth=0,
                                    facecolor=BAND_COLORS[layer % len(BAND_COLORS)], zorder=0))
        ax.text(0.985, top, layer_title(cmap, layer), ha="right", va="center", fontsize=11,
                style="italic", color="#444444", zorder=3)

    # Thin lines first, the bold "built here" lines on top.
    for first in (False, True):
        for ch in cmap.chapters:
            for m in ch.modules:
                if (cmap.first_use[m] == ch.number) != first:
                    continue
                style = (dict(edgecolor=FIRST_COLOR, linewidth=2.0, alpha=0.9, zorder=2) if first
                         else dict(edgecolor=AGAIN_COLOR, linewidth=0.8, alpha=0.45, zorder=1))
                ax.add_patch(PathPatch(curve(x_ch + 0.008, y_ch[ch.number], x_mod - 0.008, y_mod[m]),
                                       facecolor="none", capstyle="round", **style))

    for part, y in captions:
        ax.text(x_ch + 0.008, y, part, ha="right", va="center", fontsize=11.5, weight="bold",
                color="#222222")
    for ch in cmap.chapters:
        ax.plot([x_ch + 0.008], [y_ch[ch.number]], "o", color=FIRST_COLOR, markersize=4.5, zorder=3)
        ax.text(x_ch - 0.006, y_ch[ch.number], ch.label, ha="right", va="center", fontsize=11.5, zorder=3)
    for m, y in y_mod.items():
        ax.plot([x_mod - 0.008], [y], "o", color=FIRST_COLOR, markersize=4.5, zorder=3)
        t = ax.text(x_mod + 0.004, y, m, ha="left", va="center", fontsize=11, family="DejaVu Sans Mono",
                    zorder=3)
        ax.annotate(f"ch {cmap.first_use[m]}", xycoords=t, xy=(1, 0.5), xytext=(5, 0),
                    textcoords="offset points", ha="left", va="center", fontsize=11, color="#555555")

    fig.suptitle(TITLE, fontsize=15, weight="bold", y=0.975)
    handles = [
        Line2D([], [], color=FIRST_COLOR, linewidth=2.0, alpha=0.9,
               label="first used here (ch N beside the module)"),
        Line2D([], [], color=AGAIN_COLOR, linewidth=1.2, alpha=0.8, label="used again in a later chapter"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False, fontsize=11,
               bbox_to_anchor=(0.5, 0.035))
    fig.text(0.5, 0.012, f"Modules grouped by layer (ARCHITECTURE.md). Not drawn, used by nearly every "
             f"chapter: {', '.join(sorted(IGNORED))}.", ha="center", fontsize=11, color="#555555")
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, facecolor="white")
    plt.close(fig)
    # A landing page's figure: 256 colours (no dithering) look the same here, flat colours and
    # antialiased lines, at a third of the bytes of matplotlib's RGBA PNG (~0.2 MB against 0.65 MB).
    image = Image.open(buf).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT,
                                                     dither=Image.Dither.NONE)
    image.save(out, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"the PNG to write (default: {OUT})")
    args = parser.parse_args(argv)
    cmap = build_map(ROOT)
    draw(cmap, args.out)
    print(format_table(cmap))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
