"""The chapters as published: current outputs, the shape every chapter follows.

nbval (run by ``make test``) re-executes every notebook and compares the cells whose output is a
claim. These tests add what nbval cannot see: that the saved outputs, which the book renders,
were produced by the current package and the current code cells.
"""

import re

from conftest import NOTEBOOKS, cell_source, load_script, read_notebook

execute_notebooks = load_script("execute_notebooks")


def test_there_are_chapters():
    assert NOTEBOOKS, "notebooks/ has no chapter"


def test_outputs_come_from_the_current_code(notebook_path):
    nb = read_notebook(notebook_path)
    stamp = nb.get("metadata", {}).get("stylegan_tutorial", {}).get("provenance")
    assert stamp, f"{notebook_path.name} was never executed by `make book` (no provenance stamp)"
    assert stamp == execute_notebooks.provenance_hash(nb), (
        f"{notebook_path.name}: the package or the notebook's code changed since its outputs were "
        "made; run `make book` to re-execute the chapters and commit them"
    )


def test_every_code_cell_was_executed_without_error(notebook_path):
    nb = read_notebook(notebook_path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or not cell_source(cell).strip():
            continue
        assert cell.get("execution_count"), f"{notebook_path.name}: cell {i} has no saved execution"
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{notebook_path.name}: cell {i} saved an error"


def test_chapter_shape(notebook_path):
    """Colab badge and measured runtime first, then a setup cell; seeds set; prose before code."""
    nb = read_notebook(notebook_path)
    cells = nb["cells"]
    first = cell_source(cells[0])
    assert cells[0]["cell_type"] == "markdown" and "colab.research.google.com" in first
    assert re.search(r"Runtime: (\d+ min )?\d+ s on \d+ CPU cores", first), "no measured runtime line"
    code = [c for c in cells if c["cell_type"] == "code"]
    setup = cell_source(code[0])
    assert "import stylegan_tutorial" in setup and "pip" in setup, "the first code cell is the setup"
    assert "seed_everything" in setup or "manual_seed" in setup, "the setup cell sets the seeds"
    assert cells[1]["cell_type"] == "markdown" or cells[0]["cell_type"] == "markdown"


def test_runtime_stated_is_the_measured_one(notebook_path):
    nb = read_notebook(notebook_path)
    meta = nb["metadata"]["stylegan_tutorial"]
    line = re.search(r"Runtime: ([^\n]*?) on (\d+) CPU cores", cell_source(nb["cells"][0]))
    assert line.group(1) == execute_notebooks.format_runtime(meta["runtime_seconds"])
    assert int(line.group(2)) == meta["cpu_count"]


def test_chapters_fit_the_cpu_budget(notebook_path):
    """SYLLABUS: every chapter runs top to bottom in about two minutes on 2 CPU cores."""
    meta = read_notebook(notebook_path)["metadata"]["stylegan_tutorial"]
    if meta["cpu_count"] <= 2:
        assert meta["runtime_seconds"] <= 150, f"{notebook_path.name} took {meta['runtime_seconds']} s"


def test_fold_carriage_returns():
    fold = execute_notebooks.fold_carriage_returns
    assert fold("\r 10%|#  |\r100%|###|\nnext\n") == "100%|###|\nnext\n"
    assert fold("plain\ntext") == "plain\ntext"


def test_merge_streams_keeps_only_each_bars_last_state():
    outs = [{"output_type": "stream", "name": "stderr", "text": "\rbar  0%"},
            {"output_type": "stream", "name": "stderr", "text": "\rbar 50%"},
            {"output_type": "stream", "name": "stderr", "text": "\rbar 100%\n"},
            {"output_type": "stream", "name": "stdout", "text": "done\n"}]
    merged = execute_notebooks.merge_streams(outs)
    assert [o["text"] for o in merged] == ["bar 100%\n", "done\n"]


def test_readme_states_each_chapters_measured_runtime(notebook_path):
    meta = read_notebook(notebook_path)["metadata"]["stylegan_tutorial"]
    readme = (execute_notebooks.ROOT / "README.md").read_text()
    row = next((line for line in readme.splitlines() if f"(notebooks/{notebook_path.name})" in line
                and line.startswith("|")), None)
    assert row, f"README.md has no chapter-table row for {notebook_path.name}"
    expected = f"{execute_notebooks.format_runtime(meta['runtime_seconds'])} ({meta['cpu_count']} cores)"
    assert row.rstrip(" |").endswith(expected), f"README row {row!r} should state {expected}"
