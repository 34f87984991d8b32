"""Student versions: stubs fail their checks with the hint; the published solutions pass."""

import json
import re

import pytest

from conftest import NOTEBOOKS, ROOT, cell_source, read_notebook
from stylegan_tutorial import student

WITH_EXERCISES = [p for p in NOTEBOOKS if student.has_exercises(p)]


def test_stub_source_keeps_signature_and_indentation():
    src = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    out = student.stub_source(src, "add one")
    assert out == "def f(x):\n    '''doc'''\n    raise NotImplementedError('Exercise: add one')\n"


@pytest.mark.parametrize("src, message", [
    ("### END SOLUTION\n", "without"),
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n", "inside another"),
])
def test_stub_source_rejects_broken_markers(src, message):
    with pytest.raises(ValueError, match=message):
        student.stub_source(src, "hint")


def test_solution_without_hint_or_markers_is_refused():
    cell = {"cell_type": "code", "source": "x = 1", "metadata": {"tags": ["solution"]}, "outputs": []}
    with pytest.raises(ValueError, match="no '### BEGIN SOLUTION' marker"):
        student.student_notebook({"cells": [cell], "metadata": {}})
    cell["source"] = "### BEGIN SOLUTION\nx = 1\n### END SOLUTION"
    with pytest.raises(ValueError, match="hint"):
        student.student_notebook({"cells": [cell], "metadata": {}})


def test_every_chapter_has_an_exercise():
    assert NOTEBOOKS, "no chapters found"
    for nb in NOTEBOOKS:
        assert nb in WITH_EXERCISES, f"{nb.name} has no exercise"


def exercise_notebook(nb: dict) -> dict:
    """Only the cells an exercise needs: those tagged solution or check (they are self-contained)."""
    cells = [c for c in nb["cells"] if {"solution", "check"} & set(c.get("metadata", {}).get("tags", []))]
    return {**nb, "cells": cells}


def run_cells(nb: dict):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    node = nbformat.reads(json.dumps(nb), as_version=4)
    try:
        NotebookClient(node, timeout=120, kernel_name="python3").execute()
    except CellExecutionError as err:
        return node, err
    return node, None


@pytest.mark.slow
@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.name)
def test_published_solutions_pass_and_stubs_fail_with_their_hint(path, tmp_path):
    published = read_notebook(path)
    checks = [c for c in published["cells"] if "check" in c.get("metadata", {}).get("tags", [])]
    assert checks, f"{path.name}: an exercise needs a check cell (tagged 'check')"

    node, err = run_cells(exercise_notebook(published))
    assert err is None, f"{path.name}: the published solution fails its check:\n{err}"
    printed = "".join(o.get("text", "") for c in node.cells for o in c.get("outputs", []))
    assert printed.count("✅") >= len(checks)

    out = student.write_student_version(path, tmp_path)
    student_nb = json.loads(out.read_text())
    hints = [c["metadata"]["exercise"]["hint"] for c in student_nb["cells"]
             if "solution" in c.get("metadata", {}).get("tags", [])]
    assert all("NotImplementedError" in cell_source(c) for c in student_nb["cells"]
               if "solution" in c.get("metadata", {}).get("tags", []))
    _, err = run_cells(exercise_notebook(student_nb))
    assert err is not None, f"{path.name}: the student version's check passed without a solution"
    assert "ExerciseError" in str(err) and "not implemented yet" in str(err)
    assert any(h in str(err) for h in hints), f"the failure does not show the hint: {err}"


STUDENT_DIR = ROOT / "notebooks" / "student"


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.name)
def test_committed_student_version_matches_its_chapter(path):
    """notebooks/student/NAME.ipynb (what Colab opens) is exactly student_notebook(chapter)."""
    committed = STUDENT_DIR / path.name
    assert committed.exists(), (
        f"notebooks/student/{path.name} is missing: run `make student` and commit it")
    expected = student.student_notebook(read_notebook(path), name=path.name)
    assert read_notebook(committed) == expected, (
        f"notebooks/student/{path.name} no longer matches {path.name}: run `make student` "
        "(make book does it after executing the chapters) and commit it")


def test_every_student_version_has_its_chapter():
    chapters = {p.name for p in WITH_EXERCISES}
    stray = sorted(p.name for p in STUDENT_DIR.glob("*.ipynb") if p.name not in chapters)
    assert not stray, f"notebooks/student holds versions of no chapter with exercises: {stray}"


def test_student_versions_are_neither_tested_by_nbval_nor_in_the_book():
    import yaml

    pyproject = (ROOT / "pyproject.toml").read_text()
    norecurse = re.search(r"(?ms)^norecursedirs\s*=\s*\[(.*?)\]", pyproject)
    assert norecurse and '"notebooks/student"' in norecurse.group(1), "nbval would execute the stubs"
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "notebooks/student" in config["exclude_patterns"]
    assert "notebooks/student" not in (ROOT / "_toc.yml").read_text()
