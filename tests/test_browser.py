"""The built book, opened in headless Chromium as a reader would.

``make test`` builds the book (``_build/html``) before pytest runs and installs Chromium when
``CI=true``. Elsewhere, without Chromium or without a built book, these tests skip and say why.
"""

from __future__ import annotations

import functools
import http.server
import os
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
    # book/*.md pages hold committed PNGs (book/images): each must reach the reader.
    pages = [p for p in html_pages() if p.relative_to(HTML).parts[0] == "book"]
    seen = 0
    for page in pages:
        browser.get(urljoin(server, page.relative_to(HTML).as_posix()))
        sizes = browser.execute_script(
            "return Array.from(document.querySelectorAll('article img'))"
            ".map(i => [i.complete, i.naturalWidth, i.src]);")
        broken = [src for complete, w, src in sizes if not (complete and w > 0)]
        assert not broken, f"{page.name}: images that did not render: {broken}"
        seen += len(sizes)
        if page.stem == "measuring":
            assert len(sizes) >= 2, "measuring.html should show the samples and the mixing figure"
            SHOTS.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(SHOTS / "measuring.png"))
    assert seen >= 2


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
