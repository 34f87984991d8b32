"""The built book, opened in headless Chromium as a reader would.

``make test`` builds the book (``_build/html``) before pytest runs and installs Chromium when
``CI=true``. Elsewhere, without Chromium or without a built book, these tests skip and say why.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

from conftest import NOTEBOOKS, ROOT

HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
IN_CI = os.environ.get("CI") == "true"
pytestmark = pytest.mark.browser


def _need(condition: bool, why: str) -> None:
    """Skip with ``why`` on a developer's machine; fail in CI, where everything must be there."""
    if not condition:
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="module")
def server():
    _need(HTML.joinpath("index.html").exists(), "the book is not built: run `make html` first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    _need(bool(chromium and driver_path),
          "headless Chromium not found: install Debian's chromium and chromium-driver "
          "(make test does this itself when CI=true)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,2000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


AROUND = ["instructor.html", "faq.html", "beyond.html"]  # the pages around the chapters, in order


def html_pages() -> list[Path]:
    return sorted(p for p in HTML.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(p.relative_to(HTML).parts))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_figures_and_equations_render(server, browser, notebook):
    browser.get(urljoin(server, f"notebooks/{notebook.stem}.html"))
    sizes = browser.execute_script(
        "return Array.from(document.querySelectorAll('.cell_output img'))"
        ".map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.src]);"
    )
    assert len(sizes) >= 3, f"{notebook.stem}: expected the chapter's figures, found {len(sizes)} images"
    broken = [src for complete, w, h, src in sizes if not (complete and w > 0 and h > 0)]
    assert not broken, f"{notebook.stem}: images that did not render: {broken}"
    typeset = browser.execute_script(
        "return [document.querySelectorAll('mjx-container').length,"
        " document.querySelectorAll('mjx-merror').length];")
    for _ in range(20):  # MathJax typesets asynchronously after load
        if typeset[0]:
            break
        time.sleep(0.25)
        typeset = browser.execute_script(
            "return [document.querySelectorAll('mjx-container').length,"
            " document.querySelectorAll('mjx-merror').length];")
    assert typeset[0] > 0, f"{notebook.stem}: no equation was typeset (is the vendored MathJax there?)"
    assert typeset[1] == 0, f"{notebook.stem}: {typeset[1]} equations failed to typeset"
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / f"{notebook.stem}.png"))


def test_every_figure_on_the_prose_pages_loads(server, browser):
    # book/*.md pages may hold committed images: each must reach the reader.
    pages = [p for p in html_pages() if p.relative_to(HTML).parts[0] == "book"]
    assert {p.stem for p in pages} >= {"preface", "instructor", "faq", "beyond", "glossary", "references"}
    for page in pages:
        browser.get(urljoin(server, page.relative_to(HTML).as_posix()))
        sizes = browser.execute_script(
            "return Array.from(document.querySelectorAll('article img'))"
            ".map(i => [i.complete, i.naturalWidth, i.src]);")
        # the book's own images; a badge from the internet (Colab's) needs the reader's network
        broken = [src for complete, w, src in sizes if src.startswith(server) and not (complete and w > 0)]
        assert not broken, f"{page.name}: images that did not render: {broken}"


def test_no_page_shows_an_error_or_traceback():
    _need(HTML.joinpath("index.html").exists(), "the book is not built: run `make html` first")
    pages = html_pages()
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8", errors="replace")
        for marker in ("Traceback (most recent call last)", 'class="output traceback',
                       "output_error"):
            assert marker not in text, f"{page.relative_to(HTML)} shows {marker!r}"


def test_glossary_and_reference_links_resolve(server, browser):
    checked = 0
    for notebook in NOTEBOOKS:
        browser.get(urljoin(server, f"notebooks/{notebook.stem}.html"))
        hrefs = browser.execute_script(
            "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);")
        targets = [h for h in hrefs if urlparse(h).path.endswith(("glossary.html", "references.html"))
                   and "#" in h]
        assert any("glossary.html" in h for h in targets), f"{notebook.stem} links no glossary term"
        assert any("references.html" in h for h in targets), f"{notebook.stem} cites no reference"
        for href in sorted(set(targets)):
            page, anchor = urldefrag(href)
            browser.get(page)
            found = browser.execute_script("return document.getElementById(arguments[0]) !== null;", anchor)
            assert found, f"{notebook.stem}: link {href} has no target #{anchor}"
            checked += 1
    assert checked


def test_landing_page_says_who_what_where_and_the_plan(server, browser):
    browser.get(server)  # index.html redirects to the preface, the book's root
    for _ in range(20):
        if browser.current_url.endswith("book/preface.html"):
            break
        time.sleep(0.25)
    assert browser.current_url.endswith("book/preface.html"), browser.current_url
    text = browser.find_element("tag name", "article").text
    for heading in ("Who it is for", "What to know first", "Where to start", "How to run the chapters",
                    "The plan of the course"):
        assert heading in text, f"the landing page has no section {heading!r}"
    hrefs = browser.execute_script(
        "return Array.from(document.querySelectorAll('article a[href]')).map(a => a.href);")
    assert any(h.endswith("notebooks/01_images_as_data.html") for h in hrefs), "no link to chapter 1"
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('article table tbody tr'))"
        ".map(r => r.cells[0].textContent.trim());")
    assert [str(n) for n in range(1, 14)] == rows[-13:], f"the plan should list chapters 1-13, got {rows}"
    # pydata-sphinx-theme's navbar would be a second, empty bar above the book's own header
    header = browser.execute_script(
        "const h = document.querySelector('#pst-header'); return h ? h.getBoundingClientRect().height : 0;")
    assert header == 0, f"an extra top bar {header}px high is shown"
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "landing.png"))


def test_sidebar_shows_the_plan_and_next_never_skips_ahead():
    _need(HTML.joinpath("index.html").exists(), "the book is not built: run `make html` first")
    preface = (HTML / "book" / "preface.html").read_text(encoding="utf-8")
    nav = preface.split('class="bd-docs-nav', 1)[-1].split("</nav>", 1)[0]
    for target in [f"../notebooks/{nb.stem}.html" for nb in NOTEBOOKS] + AROUND:
        assert f'href="{target}"' in nav, f"the sidebar does not link {target}"
    last = HTML / "notebooks" / f"{NOTEBOOKS[-1].stem}.html"
    nxt = re.search(r'<link rel="next"[^>]*href="([^"]+)"', last.read_text(encoding="utf-8"))
    assert nxt and nxt.group(1).endswith(f"book/{AROUND[0]}"), (
        f"'Next' after the last chapter should lead to the pages around the course, not "
        f"{nxt and nxt.group(1)}")


def test_solution_toggles_say_show_solution():
    _need(HTML.joinpath("index.html").exists(), "the book is not built: run `make html` first")
    from stylegan_tutorial.student import has_exercises

    for notebook in NOTEBOOKS:
        if not has_exercises(notebook):
            continue
        page = (HTML / "notebooks" / f"{notebook.stem}.html").read_text(encoding="utf-8")
        assert 'class="collapsed admonition-title">Show solution<' in page, (
            f"{notebook.stem}: a hidden solution's toggle must say 'Show solution' (cell metadata "
            '"mystnb": {"code_prompt_show": "Show solution", "code_prompt_hide": "Hide solution"})')


def test_glossary_terms_are_bold(server, browser):
    browser.get(urljoin(server, f"notebooks/{NOTEBOOKS[-1].stem}.html"))
    weights = browser.execute_script(
        "return Array.from(document.querySelectorAll('article .xref.std-term'))"
        ".map(e => parseInt(getComputedStyle(e).fontWeight));")
    assert weights, "no glossary term on the page"
    assert min(weights) >= 600, f"glossary terms should be bold (the preface says so): {weights}"


def test_each_inline_script_is_on_a_page_once():
    _need(HTML.joinpath("index.html").exists(), "the book is not built: run `make html` first")
    for page in html_pages():
        text = page.read_text(encoding="utf-8", errors="replace")
        inline = re.findall(r"<script>(.*?)</script>", text.split("</head>", 1)[0], re.S)
        repeated = {s for s in inline if inline.count(s) > 1}
        assert not repeated, f"{page.relative_to(HTML)} repeats inline scripts: {sorted(repeated)[:2]}"


def test_bibliography_is_author_year_and_links_each_paper():
    _need(HTML.joinpath("index.html").exists(), "the book is not built: run `make html` first")
    text = (HTML / "book" / "references.html").read_text(encoding="utf-8")
    entries = re.findall(r'<div class="citation"[^>]*>(.*?)</div>', text, re.S)
    assert entries, "references.html lists no paper"
    for entry in entries:
        label = re.sub(r"<[^>]+>", "", re.search(r'<span class="label">(.*?)</span></span>', entry).group(1))
        assert re.fullmatch(r"\[[^\]]+, \d{4}[a-z]?\]", label), f"label {label!r} is not author-year"
        assert re.search(r'href="https://(arxiv\.org/abs|doi\.org)/', entry), (
            f"{label}: add its arXiv id (eprint) or doi to book/references.bib")


def _typeset(browser) -> list[int]:
    """``[equations typeset, equations that failed]`` once MathJax has run (it runs after load)."""
    script = ("return [document.querySelectorAll('mjx-container').length,"
              " document.querySelectorAll('mjx-merror').length];")
    counts = browser.execute_script(script)
    for _ in range(20):
        if counts[0]:
            break
        time.sleep(0.25)
        counts = browser.execute_script(script)
    return counts


def _has_math(markdown: str) -> bool:
    """Whether MyST source holds ``$...$`` math outside code and inline code (a shell's $g is not).

    Directives (```{glossary} ...) are prose, not code."""
    prose = re.sub(r"`[^`\n]*`", "", re.sub(r"```(?!\{).*?```", "", markdown, flags=re.S))
    return re.search(r"\$[^$\s][^$]*?\$", prose) is not None


def test_equations_typeset_on_every_prose_page(server, browser):
    checked = []
    for page in [p for p in html_pages() if p.relative_to(HTML).parts[0] == "book"]:
        source = ROOT / "book" / f"{page.stem}.md"
        if not source.exists() or not _has_math(source.read_text(encoding="utf-8")):
            continue
        browser.get(urljoin(server, page.relative_to(HTML).as_posix()))
        typeset, failed = _typeset(browser)
        assert typeset > 0, f"{page.name}: its source holds math, but no equation was typeset"
        assert failed == 0, f"{page.name}: {failed} equations failed to typeset"
        checked.append(page.stem)
    assert {"glossary", "faq", "beyond"} <= set(checked), checked


def test_every_internal_link_and_anchor_resolves():
    # every page, chapters and prose: a link to a page of the book must find the page, and its
    # #anchor an element with that id (glossary terms, citations, labelled cells, headings)
    _need(HTML.joinpath("index.html").exists(), "the book is not built: run `make html` first")
    ids: dict[Path, set[str]] = {}
    checked = 0
    for page in html_pages():
        text = page.read_text(encoding="utf-8", errors="replace")
        article = text.split('<article', 1)[-1].split('</article>', 1)[0]
        for href in re.findall(r'<a[^>]+href="([^"]+)"', article):
            if re.match(r"[a-z]+:", href) or href.startswith(("//", "mailto")):
                continue  # the internet: Colab, arXiv, GitHub
            path, _, anchor = href.partition("#")
            target = (page.parent / path).resolve() if path else page
            if target.is_dir():
                target = target / "index.html"
            assert target.exists(), f"{page.relative_to(HTML)}: link {href!r} leads nowhere"
            if anchor and target.suffix == ".html":
                if target not in ids:
                    html = target.read_text(encoding="utf-8", errors="replace")
                    ids[target] = set(re.findall(r'id="([^"]+)"', html))
                assert anchor in ids[target], f"{page.relative_to(HTML)}: {href!r} has no target #{anchor}"
            checked += 1
    assert checked > 100


def test_each_chapters_colab_badges_open_its_own_notebook():
    _need(HTML.joinpath("index.html").exists(), "the book is not built: run `make html` first")
    base = "https://colab.research.google.com/github/stylegan-tutorial/stylegan-tutorial/blob/main/notebooks/"
    for notebook in NOTEBOOKS:
        text = (HTML / "notebooks" / f"{notebook.stem}.html").read_text(encoding="utf-8")
        links = set(re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', text))
        assert links == {f"{base}{notebook.name}", f"{base}student/{notebook.name}"}, (
            f"{notebook.stem}: its Colab badges open {sorted(links)}")
        assert (ROOT / "notebooks" / "student" / notebook.name).exists()
