"""scripts/course_map.py: the map of the course is derived from the sources and drawn."""

from __future__ import annotations

import importlib.util
import sys

from conftest import ROOT


def _load():
    """Import scripts/course_map.py, registered in sys.modules first (its dataclasses look it up)."""
    spec = importlib.util.spec_from_file_location("course_map", ROOT / "scripts" / "course_map.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


course_map = _load()


def test_main_writes_the_png_and_prints_every_chapter(tmp_path, capsys):
    out = tmp_path / "map" / "course_map.png"
    assert course_map.main(["--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 20_000
    table = capsys.readouterr().out
    cmap = course_map.build_map(ROOT)
    assert [ch.number for ch in cmap.chapters] == list(range(1, 14))
    for ch in cmap.chapters:
        assert ch.label in table


def test_derived_modules_of_known_chapters():
    cmap = course_map.build_map(ROOT)
    chapters = {ch.number: ch for ch in cmap.chapters}
    assert chapters[5].title == "The mapping network"
    assert chapters[13].part.startswith("Part IV")
    assert {"projection", "edits"} <= chapters[13].modules
    assert "metrics" in chapters[11].modules
    assert "mapping" in chapters[5].modules
    # from stylegan_tutorial.data.faces import ... counts as `data`; the plumbing is left out.
    assert "data" in chapters[1].modules
    assert all(not (ch.modules & course_map.IGNORED) for ch in cmap.chapters)
    assert cmap.first_use["mapping"] == 5
    assert cmap.first_use["projection"] == cmap.first_use["edits"] == 13
    assert cmap.layer_of["mapping"] == 2 and cmap.layer_of["projection"] == 4
    assert cmap.layer_names[2] == "networks"


def test_imported_modules_reads_every_form_and_skips_magics():
    src = "\n".join([
        "%config InlineBackend.figure_formats = ['retina']",
        "!pip install -q stylegan-tutorial",
        "import stylegan_tutorial",
        "import stylegan_tutorial.lod as lod",
        "from stylegan_tutorial import images, __version__",
        "from stylegan_tutorial.metrics.frechet import frechet_distance",
        "def f():",
        "    from stylegan_tutorial.edits import edit",
    ])
    assert course_map.imported_modules(src, ROOT) == {"lod", "images", "metrics", "edits"}
    assert course_map.imported_modules("x = (", ROOT) == set()
