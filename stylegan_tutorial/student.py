"""Student versions of the chapters: every worked solution replaced by a stub.

A published chapter marks each exercise's solution in a code cell tagged ``solution``::

    def nonsaturating_loss(fake_logits):
        ### BEGIN SOLUTION
        return F.softplus(-fake_logits).mean()
        ### END SOLUTION

with the hint in the cell's metadata (``"exercise": {"hint": "..."}``). The student version keeps
everything else and replaces the lines between the markers with
``raise NotImplementedError("<hint>")`` at the same indentation, and drops the outputs of the
solution and check cells, so the check cell then fails with the hint until the reader writes it.
Generating the student version from the published one means the two never drift.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from stylegan_tutorial.files import atomic_write_text

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SOLUTION_TAG = "solution"
CHECK_TAG = "check"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def stub_source(source: str, hint: str, where: str = "cell") -> str:
    """Replace each ``BEGIN``/``END SOLUTION`` region of ``source`` with a stub (every chapter).

    Args:
        source: a code cell's source.
        hint:   the stub's message: ``raise NotImplementedError("Exercise: <hint>")``.
        where:  how error messages name the cell (``"03_adversarial_game.ipynb, cell 12"``).

    Raises a ValueError for unbalanced or nested markers.
    """
    lines = source.split("\n")
    out: list[str] = []
    inside = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"{where}, line {number}: {BEGIN!r} inside another solution")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}raise NotImplementedError({('Exercise: ' + hint)!r})")
        elif stripped == END:
            if not inside:
                raise ValueError(f"{where}, line {number}: {END!r} without {BEGIN!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN!r} is never closed by {END!r}")
    return "\n".join(out)


def student_notebook(nb: dict, name: str = "notebook") -> dict:
    """Return a copy of the notebook ``nb`` (nbformat 4 JSON) with its solutions stubbed (every chapter).

    ``name`` is how error messages name the notebook.
    """
    nb = copy.deepcopy(nb)
    found = 0
    for i, cell in enumerate(nb["cells"]):
        tags = cell.get("metadata", {}).get("tags", [])
        if SOLUTION_TAG in tags:
            source = _source(cell)
            if BEGIN not in source:
                raise ValueError(f"{name}, cell {i}: tagged {SOLUTION_TAG!r} but has no {BEGIN!r} marker")
            hint = cell["metadata"].get("exercise", {}).get("hint")
            if not hint:
                raise ValueError(f"{name}, cell {i}: a solution needs metadata.exercise.hint")
            cell["source"] = stub_source(source, hint, where=f"{name}, cell {i}")
            cell["metadata"]["tags"] = [t for t in tags if t != "hide-input"]
            found += 1
        if SOLUTION_TAG in tags or CHECK_TAG in tags:
            cell["outputs"] = []
            cell["execution_count"] = None
    if not found:
        raise ValueError(f"{name}: no cell is tagged {SOLUTION_TAG!r}; nothing to turn into an exercise")
    nb.setdefault("metadata", {})["stylegan_tutorial_student"] = True
    return nb


def write_student_version(src: Path, out_dir: Path) -> Path:
    """Write the student version of the chapter ``src`` into ``out_dir``, same name (every chapter).

    Returns the path written.
    """
    src, out_dir = Path(src), Path(out_dir)
    if not src.is_file():
        raise FileNotFoundError(f"no such notebook: {src}")
    nb = read_notebook(src)
    student = student_notebook(nb, name=src.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / src.name
    atomic_write_text(dest, json.dumps(student, indent=1, ensure_ascii=False) + "\n")
    return dest


def read_notebook(path: Path) -> dict:
    """A notebook's JSON, or a ValueError naming the file when it is not a notebook (every chapter)."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a notebook (not JSON: {err})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path} is not a notebook (no list of cells)")
    return nb


def has_exercises(path: Path) -> bool:
    """True when the notebook at ``path`` has at least one cell tagged ``solution`` (every chapter)."""
    nb = read_notebook(Path(path))
    return any(SOLUTION_TAG in c.get("metadata", {}).get("tags", []) for c in nb["cells"])
