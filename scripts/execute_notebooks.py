"""Execute the chapters in place, so the book and the repository show outputs of the current code.

Usage: ``python scripts/execute_notebooks.py notebooks/*.ipynb`` (``make book`` runs it).

For each notebook this

1. runs every cell in a fresh kernel (working directory ``notebooks/``), with plain-text
   progress bars so the saved output shows the final bar rather than a dead widget;
2. folds carriage-return progress updates so only each bar's last state is kept;
3. refuses outputs that contain an error or a path of this machine;
4. stamps ``metadata.stylegan_tutorial`` with the provenance hash (package source + the
   notebook's code cells) and the measured runtime; ``tests/test_notebooks.py`` fails when the
   stamp no longer matches the code, i.e. when the saved outputs are stale;
5. rewrites the runtime line of the chapter's first cell with the time just measured.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "stylegan_tutorial"
RUNTIME_LINE = re.compile(r"(?m)^Runtime:[^\n]*")
MACHINE_PATH = re.compile(r"/(root|tmp|work|home|Users)/[\w.-]+/")


def package_files() -> list[Path]:
    """Every file of the package that can change what a notebook computes, in a stable order.

    In a git checkout these are the files git tracks (as they are in the working tree), so a
    scratch file beside the package does not change the hash; elsewhere, every file.
    """
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--", PACKAGE.name], cwd=ROOT,
                                capture_output=True, check=True).stdout.split(b"\0")
        files = [ROOT / name.decode() for name in listed if name]
    except (OSError, subprocess.CalledProcessError):
        files = list(PACKAGE.rglob("*"))
    return sorted(
        p for p in files
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def provenance_hash(nb: dict) -> str:
    """sha256 of the package's files and the notebook's code cells (not its prose or outputs)."""
    h = hashlib.sha256()
    for path in package_files():
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        h.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            h.update(source.encode() + b"\0")
    return h.hexdigest()


def fold_carriage_returns(text: str) -> str:
    """Keep, on each line, only what was written after its last carriage return."""
    lines = []
    for line in text.split("\n"):
        parts = [p for p in line.split("\r") if p]
        lines.append(parts[-1] if parts else "")
    return "\n".join(lines)


def merge_streams(outputs: list) -> list:
    """Join consecutive stream outputs of the same stream (the kernel sends one per write)."""
    merged: list = []
    for out in outputs:
        if out.get("output_type") == "stream":
            text = out["text"] if isinstance(out["text"], str) else "".join(out["text"])
            prev = merged[-1] if merged else None
            if prev is not None and prev.get("output_type") == "stream" and prev["name"] == out["name"]:
                prev["text"] += text
                continue
            out["text"] = text
        merged.append(out)
    for out in merged:
        if out.get("output_type") == "stream":
            out["text"] = fold_carriage_returns(out["text"])
    return merged


def clean_outputs(nb: dict, name: str) -> None:
    """Fold progress updates; raise if an output holds an error or a machine path."""
    for i, cell in enumerate(nb["cells"]):
        if "outputs" in cell:
            cell["outputs"] = merge_streams(cell["outputs"])
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                raise RuntimeError(f"{name}: cell {i} raised {out.get('ename')}: {out.get('evalue')}")
            blob = json.dumps(out)
            match = MACHINE_PATH.search(blob)
            if match:
                raise RuntimeError(
                    f"{name}: cell {i} output shows a path of this machine ({match.group(0)}...); "
                    "print relative paths or silence the warning that prints it"
                )


def format_runtime(seconds: float) -> str:
    """'48 s' or '1 min 32 s'."""
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def execute(path: Path, timeout: int) -> float:
    """Execute one notebook in place; return its wall time in seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = round(time.perf_counter() - start, 1)  # the one value every statement uses
    clean_outputs(nb, path.name)
    cores = os.cpu_count()
    first = nb.cells[0]
    first.source = RUNTIME_LINE.sub(
        f"Runtime: {format_runtime(seconds)} on {cores} CPU cores, measured by `make book`.",
        first.source,
    )
    nb.metadata["stylegan_tutorial"] = {
        "provenance": provenance_hash(nb),
        "runtime_seconds": seconds,
        "cpu_count": cores,
    }
    nb.metadata.pop("widgets", None)  # no widget state: the static book shows image fallbacks
    nbformat.write(nb, path)
    update_readme_runtime(path.name, seconds, cores)
    return seconds


def update_readme_runtime(name: str, seconds: float, cores: int) -> None:
    """Write the measured runtime into the last column of the README's row for this chapter."""
    readme = ROOT / "README.md"
    if not readme.exists():
        return
    row = re.compile(rf"(?m)^(\|[^\n]*\(notebooks/{re.escape(name)}\)[^\n]*\|)\s*[^|\n]*\|\s*$")
    text = readme.read_text(encoding="utf-8")
    new = row.sub(lambda m: f"{m.group(1)} {format_runtime(seconds)} ({cores} cores) |", text)
    if new != text:
        readme.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    os.environ["STYLEGAN_TUTORIAL_TEXT_PROGRESS"] = "1"
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    for path in args.notebooks:
        print(f"executing {path} ...", flush=True)
        seconds = execute(path, args.timeout)
        print(f"  {path.name}: {format_runtime(seconds)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
