"""The repository URL is kept in one place (_config.yml); everything else must agree with it."""

import re

import yaml

from conftest import NOTEBOOKS, ROOT, cell_source, read_notebook

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
REPO_URL = CONFIG["repository"]["url"].rstrip("/")
BRANCH = CONFIG["repository"].get("branch", "main")
GITHUB = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", REPO_URL)


def toc_files() -> list[str]:
    files = [TOC["root"]]
    for part in TOC.get("parts", []):
        files += [ch["file"] for ch in part.get("chapters", [])]
    return files


def test_repository_url_is_a_github_repository():
    assert GITHUB, f"_config.yml repository.url must be https://github.com/OWNER/REPO, got {REPO_URL}"
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


def test_colab_badges_point_at_this_repository(notebook_path):
    first = cell_source(read_notebook(notebook_path)["cells"][0])
    owner, repo = GITHUB.groups()
    expected = (f"https://colab.research.google.com/github/{owner}/{repo}/blob/{BRANCH}/"
                f"notebooks/{notebook_path.name}")
    assert expected in first, f"{notebook_path.name}: the Colab badge must link to {expected}"


def test_setup_cells_install_from_this_repository(notebook_path):
    code = [c for c in read_notebook(notebook_path)["cells"] if c["cell_type"] == "code"]
    assert f"git+{REPO_URL}" in cell_source(code[0]), (
        f"{notebook_path.name}: the setup cell must install from git+{REPO_URL}")


def test_pyproject_homepage_agrees():
    text = (ROOT / "pyproject.toml").read_text()
    assert f'Homepage = "{REPO_URL}"' in text


def test_every_chapter_is_in_the_toc_and_every_toc_file_exists():
    files = toc_files()
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.stem}" in files, f"{nb.name} is not in _toc.yml"
    for f in files:
        assert any((ROOT / f"{f}{ext}").exists() for ext in (".md", ".ipynb")), f"_toc.yml: {f} missing"


def test_glossary_terms_used_in_chapters_are_defined():
    glossary = (ROOT / "book" / "glossary.md").read_text()
    block = glossary.split("```{glossary}", 1)[1].split("```", 1)[0]
    defined = {line.strip().lower() for line in block.splitlines() if line and not line.startswith(" ")}
    for nb in NOTEBOOKS:
        text = "".join(cell_source(c) for c in read_notebook(nb)["cells"] if c["cell_type"] == "markdown")
        for term in re.findall(r"\{term\}`([^`<]+?)(?:\s*<([^>]+)>)?`", text):
            target = (term[1] or term[0]).strip().lower()
            assert target in defined, f"{nb.name} links to glossary term {target!r}, which is not defined"


def test_jupyter_book_stays_below_2():
    for name in ("requirements.txt", "pyproject.toml"):
        text = (ROOT / name).read_text()
        specs = re.findall(r"jupyter-book\s*([<>=~!][^\"\n#]*)", text)
        assert specs, f"{name} does not ask for jupyter-book"
        assert all(re.search(r"<\s*2(\b|,|$)", spec) for spec in specs), f"{name}: {specs}"


def test_github_pages_workflow_runs_the_book_command():
    wf = ROOT / ".github" / "workflows" / "book.yml"
    assert wf.exists()
    text = wf.read_text()
    assert "make book" in text and "_build/html" in text
