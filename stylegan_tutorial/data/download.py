"""Fetch an archive of images by URL, for readers with internet (Colab, their own machine).

The course never downloads anything by itself; this is for readers who want real photographs.
It builds on `pooch <https://www.fatiando.org/pooch>`_, which already streams a file into a
cache folder with a progress bar, checks its sha256, retries a dropped connection and extracts
zip and tar archives. It adds two things pooch lacks: a clear error when a server sends an HTML
page (a sign-in or "can't scan this file for viruses" page from a shared drive) instead of the
file, and clear messages for a wrong checksum and for a connection that keeps dropping.

Recipes
-------
An aligned-faces archive such as CelebA's ``img_align_celeba.zip`` (about 1.4 GB; you supply a
direct-download URL you are allowed to use and its sha256, e.g. from ``sha256sum``)::

    from stylegan_tutorial.data.download import fetch_and_prepare
    fetch_and_prepare(URL, "sha256:<64 hex digits>", "celeba64.npy", resolution=64)
    # then: open_dataset("celeba64.npy", 64, mirror=True)

prepare-data reads the zip in place, so the archive is not unpacked. CelebA's aligned images are
178×218, so the default centre crop keeps the face and cuts forehead and chin evenly.

Any zip (or tar) of images, unpacked into the cache::

    from stylegan_tutorial.data.download import fetch_archive
    folder = fetch_archive(URL, "sha256:<hash>", extract=True)
    # stylegan-tutorial prepare-data FOLDER pets64.npy --resolution 64

Pass ``known_hash=None`` only while you find out the hash: the file is then not checked.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from stylegan_tutorial.data.faces import default_cache_dir
from stylegan_tutorial.data.prepare import prepare_images

HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<!--", b"<body")


class _HTMLPage(Exception):
    """Raised inside the download so pooch does not retry a page that will not change."""


def looks_like_html(head: bytes) -> bool:
    """Whether a file's first bytes ``head`` are an HTML page, not an archive (the instructor's guide)."""
    return head.lstrip().lower().startswith(HTML_MARKERS)


class SniffingDownloader:
    """pooch's HTTP downloader, then a look at the first bytes: HTML is refused (the instructor's guide).

    ``progressbar`` shows pooch's progress bar; ``timeout`` is in seconds per request.
    """

    def __init__(self, progressbar: bool = True, timeout: float = 60.0):
        import pooch

        self.http = pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)

    def __call__(self, url, output_file, pooch_obj, check_only=False):
        result = self.http(url, output_file, pooch_obj, check_only=check_only)
        if check_only:
            return result
        with open(output_file, "rb") as fh:
            if looks_like_html(fh.read(512)):
                raise _HTMLPage(url)
        return result


def _archive_kind(name: str) -> str | None:
    """``"zip"``, ``"tar"`` or None, from a file name's ending."""
    lower = name.lower()
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        return "tar"
    return None


def fetch_archive(url: str, known_hash: str | None, *, fname: str | None = None,
                  cache_dir=None, extract: bool = False, retries: int = 2,
                  progress: bool = True) -> Path:
    """Download ``url`` into the cache once, check its sha256, maybe extract it (the instructor's guide).

    Args:
        url:        an http(s) or ftp address of the file itself (not a page about it).
        known_hash: ``"sha256:<hex>"`` or the bare hex digest (None: not checked; only while
                    finding out the hash).
        fname:      the name in the cache (None: the last part of the URL's path).
        cache_dir:  the cache folder (None: ``downloads`` in
                    :func:`~stylegan_tutorial.data.faces.default_cache_dir`).
        extract:    unpack a zip or tar archive into ``FNAME.extracted`` beside it.
        retries:    extra attempts after a dropped connection, 0 to 10.
        progress:   show a progress bar.

    Returns the downloaded file, or with ``extract=True`` the folder it was unpacked into.
    ``known_hash`` is ``"sha256:<hex>"`` or the bare hex digest. A wrong checksum or an HTML
    page raises ValueError; a connection that drops more than ``retries`` times raises
    ConnectionError. Already-downloaded files with the right hash are not fetched again.
    """
    import pooch
    import requests

    if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https", "ftp"):
        raise ValueError(f"url must be an http(s) or ftp address, got {url!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise ValueError(f"retries must be an integer from 0 to 10, got {retries!r}")
    fname = fname or os.path.basename(urlparse(url).path) or "download"
    kind = _archive_kind(fname)
    if extract and kind is None:
        raise ValueError(f"extract=True needs a .zip or .tar(.gz/.bz2/.xz) file, got fname {fname!r}")
    if cache_dir is None:
        cache_dir = default_cache_dir() / "downloads"
    cache_dir = Path(cache_dir).expanduser()
    fetcher = pooch.create(path=cache_dir, base_url="", registry={fname: known_hash},
                           urls={fname: url}, retry_if_failed=retries)
    processor = None
    if extract:
        folder = fname + ".extracted"
        processor = pooch.Unzip(extract_dir=folder) if kind == "zip" else pooch.Untar(extract_dir=folder)
    try:
        fetcher.fetch(fname, processor=processor, downloader=SniffingDownloader(progress))
    except _HTMLPage:
        raise ValueError(
            f"{url} sent an HTML page instead of the file. Shared-drive links often lead to a "
            f"sign-in or confirmation page: use a direct-download link (or download it in a "
            f"browser and pass the file to prepare-data).") from None
    except ValueError as err:
        if "hash" not in str(err).lower():
            raise
        raise ValueError(f"checksum mismatch for {url}: expected {known_hash}. The file changed "
                         f"or the URL points elsewhere. ({err})") from None
    except requests.exceptions.RequestException as err:
        raise ConnectionError(f"downloading {url} failed after {retries + 1} attempt(s): {err}") from err
    return cache_dir / (fname + ".extracted" if extract else fname)


def fetch_and_prepare(url: str, known_hash: str | None, out, resolution: int, *,
                      pad: bool = False, force: bool = False, cache_dir=None) -> dict:
    """Download an archive of images and convert it with prepare-data (the instructor's guide).

    Returns the manifest :func:`~stylegan_tutorial.data.prepare.prepare_images` writes.

    Args:
        url:        the archive's address; a tar is unpacked first, a zip read in place.
        known_hash: its sha256, as :func:`fetch_archive` takes it (None: not checked).
        out:        the ``.npy`` to write (:func:`~stylegan_tutorial.data.prepare.prepare_images`).
        resolution: the images' size, a power of two from 4 to 1024.
        pad:        pad each image to a square with black (False: crop the centre).
        force:      overwrite an existing ``out``.
        cache_dir:  where the download is kept (None: :func:`fetch_archive`'s default).
    """

    archive = fetch_archive(url, known_hash, cache_dir=cache_dir,
                            extract=_archive_kind(url.split("?")[0]) == "tar")
    return prepare_images(archive, out, resolution, pad=pad, force=force)
