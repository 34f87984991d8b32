"""prepare-data: folders and zips of odd images -> one .npy + manifest -> the dataset."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan_tutorial.cli import main
from stylegan_tutorial.data.dataset import open_dataset
from stylegan_tutorial.data.prepare import prepare_images


def _rgb(w, h, seed):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def _as_uint8(x: torch.Tensor) -> np.ndarray:
    """The dataset's [-1, 1] float images back to uint8 [N, H, W, C]."""
    return ((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def test_round_trip_is_pixel_exact_against_pillow(tmp_path):
    src = tmp_path / "photos"
    (src / "nested" / "deeper").mkdir(parents=True)
    wide, tall, small = _rgb(80, 50, 0), _rgb(33, 71, 1), _rgb(16, 16, 2)
    wide.save(src / "b_wide.png")
    tall.save(src / "nested" / "a_tall.png")
    small.save(src / "nested" / "deeper" / "c_small.bmp")
    with pytest.warns(UserWarning, match=r"a_tall.png \(33x71\)"):  # 71 > 2 x 33: cropped hard
        manifest = prepare_images(src, tmp_path / "out.npy", 16, progress=False)
    assert manifest["count"] == 3 and manifest["skipped_count"] == 0
    assert manifest["cropped"] == [{"name": "nested/a_tall.png", "size": [33, 71]}]
    # Expected, computed with Pillow directly: centre crop boxes by hand, then LANCZOS.
    expected = [
        np.asarray(wide.crop((15, 0, 65, 50)).resize((16, 16), Image.LANCZOS)),  # b_wide.png
        np.asarray(tall.crop((0, 19, 33, 52)).resize((16, 16), Image.LANCZOS)),  # nested/a_tall
        np.asarray(small),  # nested/deeper/c_small.bmp: already 16x16, untouched
    ]
    # Files are taken in sorted order of their relative paths.
    order = sorted(["b_wide.png", "nested/a_tall.png", "nested/deeper/c_small.bmp"])
    assert order == ["b_wide.png", "nested/a_tall.png", "nested/deeper/c_small.bmp"]
    ds = open_dataset(str(tmp_path / "out.npy"), 16)
    got = _as_uint8(ds.all())
    np.testing.assert_array_equal(got, np.stack(expected))
    # The manifest describes the file it sits beside.
    on_disk = json.loads((tmp_path / "out.json").read_text())
    assert on_disk == manifest
    assert manifest["sha256"] == hashlib.sha256((tmp_path / "out.npy").read_bytes()).hexdigest()
    assert ds.identity["sha256"] == manifest["sha256"]
    assert manifest["resolution"] == 16 and manifest["source"] == str(src.resolve())
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_pad_puts_the_image_on_black(tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    img = Image.new("RGB", (8, 4), (200, 100, 50))
    img.save(src / "a.png")
    prepare_images(src, tmp_path / "o.npy", 8, pad=True, progress=False)
    got = np.load(tmp_path / "o.npy")[0]
    assert (got[:2] == 0).all() and (got[6:] == 0).all()  # two black rows above and below
    assert (got[2:6] == [200, 100, 50]).all()


def _odd_folder(root):
    """A corrupt JPEG, a truncated JPEG, a text file, a CMYK TIFF, a 16-bit PNG and a GIF."""
    root.mkdir()
    good_jpeg = io.BytesIO()
    _rgb(40, 40, 3).save(good_jpeg, "JPEG")
    (root / "corrupt.jpg").write_bytes(good_jpeg.getvalue()[:20] + b"\x00garbage" * 50)
    (root / "truncated.jpg").write_bytes(good_jpeg.getvalue()[: len(good_jpeg.getvalue()) // 2])
    (root / "notes.txt").write_text("not an image")
    cmyk = Image.new("CMYK", (12, 12), (0, 255, 255, 0))  # full magenta + yellow: red
    cmyk.save(root / "cmyk.tif")
    grey16 = np.full((12, 12), 257 * 100, dtype=np.uint16)  # 25700 / 65535 = 100 / 255
    grey16[0, 0] = 65535
    Image.fromarray(grey16).save(root / "grey16.png")
    pal = Image.new("P", (12, 12), 1)
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * (256 * 3 - 6))
    pal.save(root / "palette.gif")
    return root


def test_odd_files_are_converted_or_skipped(tmp_path):
    src = _odd_folder(tmp_path / "odd")
    assert Image.open(src / "grey16.png").mode in ("I;16", "I")
    m = prepare_images(src, tmp_path / "o.npy", 4, progress=False)
    assert m["count"] == 3
    assert sorted(s["name"] for s in m["skipped"]) == ["corrupt.jpg", "notes.txt", "truncated.jpg"]
    images = np.load(tmp_path / "o.npy")  # sorted: cmyk.tif, grey16.png, palette.gif
    assert images.shape == (3, 4, 4, 3)
    expected_cmyk = np.asarray(Image.open(src / "cmyk.tif").convert("RGB").resize((4, 4), Image.LANCZOS))
    np.testing.assert_array_equal(images[0], expected_cmyk)
    assert tuple(images[0, 2, 2]) == (255, 0, 0)
    assert (images[1, 1:, 1:] == 100).all()  # 16-bit 25700 -> 8-bit 100, grey in all channels
    assert (images[2] == [10, 200, 30]).all()  # the palette colour


def test_alpha_is_laid_over_white(tmp_path):
    src = tmp_path / "a"
    src.mkdir()
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2] = [255, 0, 0, 255]  # top half opaque red, bottom half fully transparent
    Image.fromarray(rgba, "RGBA").save(src / "x.png")
    Image.fromarray(np.full((4, 4, 2), [0, 0], np.uint8), "LA").save(src / "y.png")
    prepare_images(src, tmp_path / "o.npy", 4, progress=False)
    got = np.load(tmp_path / "o.npy")
    assert (got[0, :2] == [255, 0, 0]).all() and (got[0, 2:] == 255).all()
    assert (got[1] == 255).all()


def test_zip_gives_the_same_array_as_the_folder(tmp_path):
    src = tmp_path / "f"
    (src / "sub").mkdir(parents=True)
    _rgb(30, 20, 4).save(src / "sub" / "p.png")
    _rgb(20, 30, 5).save(src / "q.jpg")
    (src / "readme.md").write_text("hello")
    with zipfile.ZipFile(tmp_path / "f.zip", "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(src).as_posix())
    a = prepare_images(src, tmp_path / "a.npy", 8, progress=False)
    b = prepare_images(tmp_path / "f.zip", tmp_path / "b.npy", 8, progress=False)
    assert a["sha256"] == b["sha256"] and a["count"] == b["count"] == 2
    assert [s["name"] for s in b["skipped"]] == ["readme.md"]


def test_bad_input(tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    (src / "t.txt").write_text("x")
    with pytest.raises(ValueError,
                       match=r"no readable images in .*all 1 files were skipped \(first: t.txt\)"):
        prepare_images(src, tmp_path / "o.npy", 8, progress=False)
    assert not (tmp_path / "o.npy").exists() and not list(tmp_path.glob(".*tmp*"))
    with pytest.raises(FileNotFoundError, match="src does not exist: .*nowhere"):
        prepare_images(tmp_path / "nowhere", tmp_path / "o.npy", 8)
    with pytest.raises(ValueError, match="out must be a path ending in .npy, got .*o.dat"):
        prepare_images(src, tmp_path / "o.dat", 8)
    with pytest.raises(ValueError,
                       match=r"resolution must be a power of two from 4 to 1024 \(4, .*, 1024\), got 48"):
        prepare_images(src, tmp_path / "o.npy", 48)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no files"):
        prepare_images(empty, tmp_path / "o.npy", 8)
    (tmp_path / "plain.bin").write_bytes(b"xx")
    with pytest.raises(ValueError, match="src must be a folder or a zip"):
        prepare_images(tmp_path / "plain.bin", tmp_path / "o.npy", 8)


def test_existing_output_needs_force(tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    _rgb(8, 8, 0).save(src / "a.png")
    prepare_images(src, tmp_path / "o.npy", 8, progress=False)
    _rgb(8, 8, 1).save(src / "b.png")
    with pytest.raises(FileExistsError, match=r"o\.npy already exists; pass --force"):
        prepare_images(src, tmp_path / "o.npy", 8, progress=False)
    assert np.load(tmp_path / "o.npy").shape[0] == 1  # untouched
    m = prepare_images(src, tmp_path / "o.npy", 8, force=True, progress=False)
    assert m["count"] == 2 and np.load(tmp_path / "o.npy").shape[0] == 2


def test_command_line(tmp_path, capsys):
    src = _odd_folder(tmp_path / "odd")
    out = tmp_path / "o.npy"
    assert main(["prepare-data", str(src), str(out), "--resolution", "8", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 3 images of 8x8" in printed
    assert "skipped 3 unreadable files: corrupt.jpg, notes.txt, truncated.jpg" in printed
    assert main(["prepare-data", str(src), str(out), "--resolution", "8"]) == 2
    assert "stylegan-tutorial prepare-data: error:" in capsys.readouterr().err
    assert main(["prepare-data", str(src), str(out), "--resolution", "8", "--force",
                 "--no-progress"]) == 0
