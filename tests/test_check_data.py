"""check-data: the scan of a folder, zip or prepared .npy, and the probe of batch and speed."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import tiny
from stylegan_tutorial import capacity
from stylegan_tutorial.cli import main
from stylegan_tutorial.commands.check_data import resolution_note
from stylegan_tutorial.configs import training_config
from stylegan_tutorial.data.preflight import check_data, format_report, recommended_resolution
from stylegan_tutorial.data.prepare import prepare_images


def _noise(shape, seed, high=256, dtype=np.uint8):
    return np.random.default_rng(seed).integers(0, high, shape, dtype=dtype)


def _rgb(w, h, seed):
    return Image.fromarray(_noise((h, w, 3), seed))


def _clean_folder(root):
    """Three square RGB images, 64, 64 and 96 pixels wide, one in a subfolder."""
    (root / "sub").mkdir(parents=True)
    _rgb(64, 64, 0).save(root / "a.png")
    _rgb(64, 64, 1).save(root / "b.png")
    _rgb(96, 96, 2).save(root / "sub" / "c.png")
    return root


# The defect folder's readable images: name -> (width, height); two files are not images.
DEFECT_SIZES = {
    "wide.png": (80, 50), "tall.jpg": (33, 71), "nearly.png": (50, 48), "small.png": (16, 16),
    "grey.png": (40, 40), "rgba.png": (40, 40), "la.png": (40, 40), "pal.gif": (40, 40),
    "pal_t.png": (40, 40), "cmyk.tif": (40, 40), "grey16.png": (40, 40), "dark16.png": (40, 40),
    "dups/wide_copy.png": (80, 50), "dups/wide_copy2.png": (80, 50), "dups/grey_copy.png": (40, 40),
}


def _defect_folder(root):
    """Every defect at once: odd sizes, every mode, two files that are not images, duplicates."""
    (root / "dups").mkdir(parents=True)
    _rgb(80, 50, 0).save(root / "wide.png")
    _rgb(33, 71, 1).save(root / "tall.jpg", quality=95)
    _rgb(50, 48, 2).save(root / "nearly.png")
    _rgb(16, 16, 3).save(root / "small.png")
    Image.fromarray(_noise((40, 40), 4), "L").save(root / "grey.png")
    Image.fromarray(_noise((40, 40, 4), 5), "RGBA").save(root / "rgba.png")
    Image.fromarray(_noise((40, 40, 2), 6), "LA").save(root / "la.png")
    pal = Image.fromarray(_noise((40, 40), 7, high=4), "P")
    pal.putpalette([0, 0, 0, 200, 10, 10, 10, 200, 10, 10, 10, 200] + [0] * (252 * 3))
    pal.save(root / "pal.gif")
    pal.save(root / "pal_t.png", transparency=0)  # colour 0 transparent
    Image.fromarray(_noise((40, 40, 4), 8), "CMYK").save(root / "cmyk.tif")
    Image.fromarray(_noise((40, 40), 9, high=65536, dtype=np.uint16)).save(root / "grey16.png")
    Image.fromarray(_noise((40, 40), 10, high=256, dtype=np.uint16)).save(root / "dark16.png")
    (root / "notes.png").write_text("not an image")
    jpeg = io.BytesIO()
    _rgb(40, 40, 11).save(jpeg, "JPEG")
    (root / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    for copy in ("wide_copy.png", "wide_copy2.png"):
        shutil.copyfile(root / "wide.png", root / "dups" / copy)
    shutil.copyfile(root / "grey.png", root / "dups" / "grey_copy.png")
    return root


def _zip(folder, path):
    with zipfile.ZipFile(path, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder).as_posix())
    return path


def _listing(root):
    """Every file and folder under ``root`` with its size and modification time."""
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


def _expected_crop_shares(folder):
    """What the centre crop removes, counted on the pixels of each image (not by the module's formula)."""
    shares = []
    for name in DEFECT_SIZES:
        pixels = np.asarray(Image.open(folder / name).convert("RGB"))
        h, w = pixels.shape[:2]
        side = min(w, h)
        top, left = (h - side) // 2, (w - side) // 2
        kept = pixels[top:top + side, left:left + side]
        shares.append(1 - kept.size / pixels.size)
    return np.array(shares)


# --------------------------------------------------------------------------------------------
# The scan


def test_clean_folder_has_no_warnings(tmp_path):
    r = check_data(_clean_folder(tmp_path / "clean"), progress=False)
    assert (r["kind"], r["files"], r["images"]) == ("folder", 3, 3)
    assert r["unreadable"] == {"count": 0, "files": []}
    assert r["sizes"]["non_square"] == 0 and r["sizes"]["crop_share_max"] == 0
    assert r["sizes"]["shorter_side"] == {"min": 64, "median": 64, "max": 96}
    assert r["resolution"] == {"recommended": 64, "chosen": 64, "given": False, "below": 0,
                               "below_examples": []}
    assert r["modes"]["rgb"]["count"] == 3
    assert all(m["count"] == 0 for kind, m in r["modes"].items() if kind != "rgb")
    assert r["duplicates"] == {"files": 0, "groups": []}
    assert r["warnings"] == []
    assert "warnings\n  none" in format_report(r)


def _assert_defects(r):
    assert (r["files"], r["images"]) == (17, 15)
    assert r["unreadable"]["count"] == 2
    assert [u["name"] for u in r["unreadable"]["files"]] == ["notes.png", "truncated.jpg"]
    sizes = r["sizes"]
    assert sizes["non_square"] == 5  # wide and its two copies, tall, nearly
    assert sizes["cropped_over_20"] == 4  # wide x3 (37.5 %), tall (53.5 %); nearly loses 4 %
    assert sizes["cropped_over_half"] == 1 and sizes["cropped_over_half_examples"][0]["name"] == "tall.jpg"
    assert sizes["shorter_side"] == {"min": 16, "median": 40, "max": 50}
    modes = {kind: m["count"] for kind, m in r["modes"].items()}
    assert modes == {"rgb": 6, "grayscale": 2, "transparency": 3, "paletted": 1, "cmyk": 1,
                     "high_bit": 2, "other": 0}
    assert r["modes"]["transparency"]["modes"] == {"LA": 1, "P": 1, "RGBA": 1}
    assert r["modes"]["high_bit"]["blackens"] == 1
    assert r["modes"]["high_bit"]["blackens_examples"] == ["dark16.png"]
    assert r["duplicates"]["files"] == 3
    assert sorted(sorted(g) for g in r["duplicates"]["groups"]) == [
        ["dups/grey_copy.png", "grey.png"], ["dups/wide_copy.png", "dups/wide_copy2.png", "wide.png"]]
    assert len(r["warnings"]) == 7  # unreadable, duplicates, crop, small, CMYK, transparency, black


def test_defect_folder_counts_every_defect(tmp_path):
    src = _defect_folder(tmp_path / "defects")
    r = check_data(src, progress=False)
    _assert_defects(r)
    shares = _expected_crop_shares(src)
    assert r["sizes"]["crop_share_mean"] == pytest.approx(shares.mean())
    assert r["sizes"]["crop_share_max"] == pytest.approx(shares.max())
    assert r["sizes"]["cropped_over_20"] == int((shares > 0.2).sum())
    # shorter sides 16, 33, 40 (x9), 48, 50 (x3): median 40 -> 32; only small.png is below it
    assert r["resolution"]["recommended"] == 32 and r["resolution"]["below"] == 1
    assert r["resolution"]["below_examples"] == [{"name": "small.png", "size": [16, 16]}]
    given = check_data(src, resolution=64, progress=False)["resolution"]
    assert (given["chosen"], given["given"], given["below"]) == (64, True, 15)
    text = format_report(r)
    assert "2 unreadable files will be skipped: notes.png, truncated.jpg" in text
    assert "1 16-bit image with values below 256 only" in text


def test_zip_reports_the_same_as_the_folder(tmp_path):
    src = _defect_folder(tmp_path / "defects")
    from_zip = check_data(_zip(src, tmp_path / "defects.zip"), progress=False)
    assert from_zip["kind"] == "zip"
    _assert_defects(from_zip)
    from_folder = check_data(src, progress=False)
    for key in ("sizes", "resolution", "modes", "duplicates", "warnings"):
        assert from_zip[key] == from_folder[key], key


def test_prepared_array_is_checked_against_its_manifest(tmp_path):
    src = _defect_folder(tmp_path / "defects")
    with pytest.warns(UserWarning, match="tall.jpg"):
        prepare_images(src, tmp_path / "d.npy", 16, progress=False)
    r = check_data(tmp_path / "d.npy", progress=False)
    assert (r["kind"], r["files"], r["images"], r["unreadable"]["count"]) == ("prepared", 15, 15, 0)
    assert r["modes"]["rgb"]["count"] == 15 and r["sizes"]["non_square"] == 0
    assert r["resolution"]["recommended"] == 16 and r["resolution"]["below"] == 0
    assert r["prepared"]["sha256_ok"] is True
    assert (r["prepared"]["skipped_count"], r["prepared"]["cropped_count"]) == (2, 1)
    assert sorted(len(g) for g in r["duplicates"]["groups"]) == [2, 3]  # the copies stay copies
    assert r["warnings"][0].startswith("3 files repeat another exactly")
    assert check_data(tmp_path / "d.npy", resolution=32, progress=False)["resolution"]["below"] == 15
    # without its manifest, or changed after it was written
    (tmp_path / "alone").mkdir()
    shutil.copyfile(tmp_path / "d.npy", tmp_path / "alone" / "d.npy")
    assert "no manifest d.json" in check_data(tmp_path / "alone" / "d.npy", progress=False)["warnings"][-1]
    manifest = json.loads((tmp_path / "d.json").read_text())
    (tmp_path / "d.json").write_text(json.dumps({**manifest, "sha256": "0" * 64}))
    assert "does not match the sha256" in check_data(tmp_path / "d.npy", progress=False)["warnings"][-1]


def test_nothing_is_written(tmp_path, monkeypatch, capsys):
    src = _defect_folder(tmp_path / "defects")
    _zip(src, tmp_path / "defects.zip")
    with pytest.warns(UserWarning):
        prepare_images(src, tmp_path / "d.npy", 8, progress=False)
    monkeypatch.chdir(tmp_path)
    before = _listing(tmp_path)
    for path in (src, tmp_path / "defects.zip", tmp_path / "d.npy"):
        check_data(path, progress=False)
        assert main(["check-data", str(path), "--no-probe", "--no-progress"]) == 0
    assert _listing(tmp_path) == before
    # --json writes that file and nothing else
    assert main(["check-data", str(src), "--no-probe", "--no-progress", "--json", "out/r.json"]) == 0
    after = _listing(tmp_path)
    assert [a for a in after if a[0] not in ("out", "out/r.json")] == before
    assert {a[0] for a in after} - {b[0] for b in before} == {"out", "out/r.json"}
    saved = json.loads((tmp_path / "out" / "r.json").read_text())
    assert saved["images"] == 15 and "probe" not in saved
    capsys.readouterr()


def test_command_prints_the_sections(tmp_path, capsys):
    src = _defect_folder(tmp_path / "defects")
    assert main(["check-data", str(src), "--no-probe", "--no-progress", "--resolution", "32"]) == 0
    out = capsys.readouterr().out
    for section in ("files\n", "sizes (", "modes (", "warnings\n"):
        assert section in out
    assert "32² (given; recommended 32²" in out
    assert "notes.png: UnidentifiedImageError: not an image file Pillow can read" in out


@pytest.mark.parametrize("args, message", [
    (["{tmp}/nowhere"], "src does not exist: "),
    (["{tmp}/plain.bin"], "src must be a folder or a zip file of images, or a .npy"),
    (["{tmp}/empty"], "holds no files"),
    (["{tmp}/clean", "--resolution", "48"], "resolution must be a power of two from 4 to 1024"),
    (["{tmp}/clean", "--config", "no-such", "--device", "cpu"], "unknown config name 'no-such'"),
    (["{tmp}/clean", "--device", "tpu"], "device must be 'auto', 'cpu', 'cuda'"),
    (["{tmp}/clean", "--json", "{tmp}/clean"], "--json "),
    (["{tmp}/missing.npy"], "src does not exist: "),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, args, message):
    _clean_folder(tmp_path / "clean")
    (tmp_path / "empty").mkdir()
    (tmp_path / "plain.bin").write_bytes(b"xx")
    argv = ["check-data", *(a.format(tmp=tmp_path) for a in args), "--no-progress"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stylegan-tutorial check-data: error: "), lines
    assert message in lines[0]


def test_a_configuration_above_the_data_is_named(tmp_path):
    src = _defect_folder(tmp_path / "defects")
    folder = check_data(src, progress=False)  # recommended 32²
    assert resolution_note(folder, training_config("cpu-tiny")) is None  # trains at 32²
    note = resolution_note(folder, training_config("colab-64"))
    assert "colab-64 trains at 64², above the recommended 32²" in note
    with pytest.warns(UserWarning):
        prepare_images(src, tmp_path / "d.npy", 16, progress=False)
    prepared = check_data(tmp_path / "d.npy", progress=False)
    assert "train refuses it" in resolution_note(prepared, training_config("cpu-tiny"))


def test_recommended_resolution():
    assert recommended_resolution([40]) == 32
    assert recommended_resolution([64, 64, 96]) == 64
    assert recommended_resolution([2, 3, 3]) == 4  # never below the constant input's 4²
    assert recommended_resolution([5000, 6000]) == 1024  # never above the paper's 1024²
    assert recommended_resolution([10, 100, 1000]) == 64  # the median, not the mean


# --------------------------------------------------------------------------------------------
# The probe


def test_batches_double_up_to_the_cap():
    assert capacity.batches_to_try(16) == [1, 2, 4, 8, 16]
    assert capacity.batches_to_try(24) == [1, 2, 4, 8, 16, 24]
    assert capacity.batches_to_try(1) == [1]


def test_largest_batch_stops_at_the_first_out_of_memory(monkeypatch):
    tried = []

    def fake_fits(bench, phase, batch):
        tried.append(batch)
        return batch <= 8, (batch * 10.0 if batch <= 8 else None)

    monkeypatch.setattr(capacity, "fits", fake_fits)
    assert capacity.largest_batch(None, None, 256) == {"largest_batch": 8, "capped": False, "peak_mib": 80.0}
    assert tried == [1, 2, 4, 8, 16]
    assert capacity.largest_batch(None, None, 4) == {"largest_batch": 4, "capped": True, "peak_mib": 40.0}


def test_fits_catches_out_of_memory_and_drops_the_gradients():
    p = torch.nn.Parameter(torch.ones(2))
    p.grad = torch.ones(2)
    opt = torch.optim.SGD([p], lr=0.1)

    def step(phase, batch, r1):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    bench = SimpleNamespace(run=SimpleNamespace(device=torch.device("cpu"), opt_G=opt, opt_D=opt), step=step)
    assert capacity.fits(bench, None, 64) == (False, None)
    assert p.grad is None


def test_probe_on_the_cpu_measures_each_resolution(one_thread):
    cfg = tiny()  # 16²: levels 4, 8, 16 with batches 8, 8, 4
    r = capacity.probe(cfg, "cpu", progress=False)
    assert r["device"] == "cpu" and r["memory_probed"] is False
    assert [row["resolution"] for row in r["rows"]] == [4, 8, 16]
    for row in r["rows"]:
        assert row["largest_batch"] == row["configured_batch"] == row["timed_batch"] > 0
        assert row["capped"] is True  # on the CPU the probe stops at the configured batch
        assert row["sec_kimg"] > 0 and row["img_s"] > 0 and row["seconds"] > 0
    kimg = [row["kimg"] for row in r["rows"]]
    assert sum(kimg) == pytest.approx(cfg.total_kimg)
    assert r["schedule_seconds"] == pytest.approx(sum(row["seconds"] for row in r["rows"]))
    text = capacity.format_probe(r)
    assert "batches probed only up to the configuration's own" in text and "whole schedule" in text


def test_command_with_the_probe_writes_its_json(tmp_path, capsys, one_thread):
    src = _clean_folder(tmp_path / "clean")
    assert main(["check-data", str(src), "--device", "cpu", "--no-progress", "--json",
                 str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "training probe: cpu-tiny on cpu" in out and "whole schedule, 80 kimg" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert [row["resolution"] for row in report["probe"]["rows"]] == [4, 8, 16, 32]
    assert report["probe"]["schedule_seconds"] > 0
