"""ruff finds nothing in the repository (the rules: [tool.ruff] in pyproject.toml).

Run ``ruff check .`` to see the findings with their fixes, ``ruff check . --statistics`` for
counts per rule. Notebooks are checked too: they are the course's code.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str] | None:
    """ruff beside this Python (the venv's), else on PATH; None when it is not installed."""
    beside = Path(sys.executable).with_name("ruff")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("ruff")
    return [found] if found else None


def test_ruff_finds_nothing():
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed: `pip install -e .[test]` (or `pip install ruff`) to lint")
    run = subprocess.run([*ruff, "check", ".", "--no-cache", "--output-format", "concise"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, (
        f"ruff check found problems (fix them, or `ruff check . --fix` for the safe ones):\n"
        f"{run.stdout}{run.stderr}")
