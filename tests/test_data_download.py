"""The download helper against a local HTTP server on 127.0.0.1 (no external address is used)."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stylegan_tutorial.data.download import fetch_archive, looks_like_html


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("faces/a.txt", "first")
        zf.writestr("faces/b.txt", "second")
    return buf.getvalue()


def _image_zip_bytes() -> bytes:
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, colour in enumerate([(255, 0, 0), (0, 0, 255)]):
            png = io.BytesIO()
            Image.fromarray(np.full((12, 20, 3), colour, np.uint8)).save(png, "PNG")
            zf.writestr(f"img/{i}.png", png.getvalue())
    return buf.getvalue()


GOOD = _zip_bytes()
IMAGES = _image_zip_bytes()
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()
HTML = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"


class _Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, body: bytes, ctype: str = "application/zip", length: int | None = None):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        hits = _Handler.hits
        hits[self.path] = hits.get(self.path, 0) + 1
        if self.path in ("/good.zip", "/wrong.zip"):
            self._send(GOOD)
        elif self.path == "/images.zip":
            self._send(IMAGES)
        elif self.path == "/page.zip":
            self._send(HTML, "text/html")
        elif self.path == "/flaky.zip":
            if hits[self.path] == 1:  # promise the whole file, send half, hang up
                self._send(GOOD[: len(GOOD) // 2], length=len(GOOD))
                self.close_connection = True
            else:
                self._send(GOOD)
        else:
            self.send_error(404)


@pytest.fixture()
def server():
    _Handler.hits = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_good_zip_is_verified_extracted_and_cached(server, tmp_path):
    folder = fetch_archive(f"{server}/good.zip", f"sha256:{GOOD_SHA}", cache_dir=tmp_path,
                           extract=True, progress=False)
    assert (folder / "faces" / "a.txt").read_text() == "first"
    assert (folder / "faces" / "b.txt").read_text() == "second"
    assert hashlib.sha256((tmp_path / "good.zip").read_bytes()).hexdigest() == GOOD_SHA
    # A second call finds the verified file in the cache and does not ask the server again.
    fetch_archive(f"{server}/good.zip", GOOD_SHA, cache_dir=tmp_path, extract=True, progress=False)
    assert _Handler.hits["/good.zip"] == 1


def test_wrong_checksum_is_a_clear_error(server, tmp_path):
    wrong = "0" * 64
    with pytest.raises(ValueError, match="checksum mismatch") as info:
        fetch_archive(f"{server}/wrong.zip", f"sha256:{wrong}", cache_dir=tmp_path, retries=0,
                      progress=False)
    assert wrong in str(info.value)
    assert not (tmp_path / "wrong.zip").exists()  # nothing unverified is left in the cache


def test_html_page_instead_of_file_is_refused(server, tmp_path):
    with pytest.raises(ValueError, match="HTML page"):
        fetch_archive(f"{server}/page.zip", None, cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "page.zip").exists()
    assert _Handler.hits["/page.zip"] == 1  # a page is not retried


def test_dropped_connection_is_retried(server, tmp_path):
    path = fetch_archive(f"{server}/flaky.zip", GOOD_SHA, cache_dir=tmp_path, retries=1,
                         progress=False)
    assert path.read_bytes() == GOOD
    assert _Handler.hits["/flaky.zip"] == 2


def test_dropped_connection_without_retries_fails(server, tmp_path):
    with pytest.raises(ConnectionError, match="1 attempt"):
        fetch_archive(f"{server}/flaky.zip", GOOD_SHA, cache_dir=tmp_path, retries=0,
                      progress=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"url": "file:///etc/passwd"}, "url must be"),
    ({"url": "http://127.0.0.1:9/x.zip", "retries": -1}, "retries must be"),
    ({"url": "http://127.0.0.1:9/x.bin", "extract": True}, "extract=True needs"),
])
def test_bad_arguments(kwargs, match, tmp_path):
    url = kwargs.pop("url")
    with pytest.raises(ValueError, match=match):
        fetch_archive(url, None, cache_dir=tmp_path, **kwargs)


def test_fetch_and_prepare_gives_a_dataset(server, tmp_path):
    import numpy as np

    from stylegan_tutorial.data.dataset import open_dataset
    from stylegan_tutorial.data.download import fetch_and_prepare

    sha = hashlib.sha256(IMAGES).hexdigest()
    m = fetch_and_prepare(f"{server}/images.zip", sha, tmp_path / "x.npy", 8,
                          cache_dir=tmp_path / "cache")
    assert m["count"] == 2 and m["source"] == str((tmp_path / "cache" / "images.zip").resolve())
    ds = open_dataset(str(tmp_path / "x.npy"), 8)
    x = ds.all().numpy()  # [2, 3, 8, 8]: a red square, then a blue one
    np.testing.assert_allclose(x[0, :, 0, 0], [1, -1, -1])
    np.testing.assert_allclose(x[1, :, 0, 0], [-1, -1, 1])


def test_html_sniffing():
    assert looks_like_html(b"  \n<!DOCTYPE html><html>")
    assert looks_like_html(b"<HTML><head>")
    assert not looks_like_html(GOOD[:512])
    assert not looks_like_html(b"\x89PNG\r\n\x1a\n")
