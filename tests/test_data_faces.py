"""Generated faces: factors, withheld combinations, drawing and the on-disk cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stylegan_tutorial.data import faces
from stylegan_tutorial.data.faces import (
    FACTORS,
    cached_faces,
    make_faces,
    render_faces,
    sample_details,
    sample_factors,
)


def test_factors_are_deterministic_per_seed():
    a, b, c = sample_factors(500, seed=3), sample_factors(500, seed=3), sample_factors(500, seed=4)
    for name in FACTORS:
        np.testing.assert_array_equal(a[name], b[name])
    assert any(not np.array_equal(a[k], c[k]) for k in FACTORS)
    # The first faces do not depend on how many are asked for.
    d = sample_factors(100, seed=3)
    for name in FACTORS:
        np.testing.assert_array_equal(a[name][:100], d[name])
    e, f = sample_details(500, seed=3), sample_details(100, seed=3)
    for name in e:
        np.testing.assert_array_equal(e[name][:100], f[name])


def test_factor_ranges_and_frequencies_are_as_documented():
    n = 100_000
    f = sample_factors(n, seed=0)
    assert set(f) == set(FACTORS)
    for name, spec in FACTORS.items():
        v = f[name]
        assert v.shape == (n,)
        if spec.kind == "continuous":
            assert spec.low <= v.min() and v.max() <= spec.high
            # uniform: mean at the midpoint, within 5 standard errors
            se = (spec.high - spec.low) / np.sqrt(12 * n)
            assert abs(v.mean() - (spec.low + spec.high) / 2) < 5 * se
        else:
            assert spec.kind == "categorical" and len(spec.values) == len(spec.probs)
            assert abs(sum(spec.probs) - 1) < 1e-9
            counts = np.bincount(v, minlength=len(spec.values)) / n
            assert len(counts) == len(spec.values)
            for p_hat, p in zip(counts, spec.probs):
                assert abs(p_hat - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_withheld_combination_never_appears_in_100k_draws():
    n = 100_000
    f = sample_factors(n, seed=1, withhold=("glasses", "long hair"))
    glasses, long_hair = f["glasses"] == 1, f["hair_style"] == 2
    assert not np.any(glasses & long_hair)
    assert len(f["head_x"]) == n
    # Resampling keeps the rest of the distribution: P(glasses | not long) is unchanged, and
    # P(long) becomes P(long, no glasses) / (1 - P(long, glasses)).
    p_g = FACTORS["glasses"].probs[1]
    p_l = FACTORS["hair_style"].probs[2]
    assert abs(glasses[~long_hair].mean() - p_g) < 0.01
    assert abs(long_hair.mean() - p_l * (1 - p_g) / (1 - p_l * p_g)) < 0.01
    # Both halves of the combination still appear on their own.
    assert glasses.any() and long_hair.any()


def test_withhold_as_string_and_predicate():
    f = sample_factors(20_000, seed=2, withhold="smile+eyes_closed")
    assert not np.any((f["mouth_curve"] > 0) & (f["eyes_open"] == 0))
    g = sample_factors(20_000, seed=2, withhold=lambda v: (v["head_x"] > 0) & (v["glasses"] == 1))
    assert not np.any((g["head_x"] > 0) & (g["glasses"] == 1))
    assert np.any(g["head_x"] > 0) and np.any(g["glasses"] == 1)


@pytest.mark.parametrize("kwargs, match", [
    ({"n": -1}, "n must be a non-negative integer, got -1"),
    ({"n": 2.5}, "n must be"),
    ({"seed": -3}, "seed must be a non-negative integer, got -3"),
    ({"withhold": ("glasses", "wings")}, "unknown condition 'wings'"),
    ({"withhold": ()}, "at least one condition"),
    ({"withhold": lambda f: np.ones(3, bool)}, "shape"),
])
def test_sample_factors_bad_input(kwargs, match):
    args = {"n": 10, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        sample_factors(**args)


def test_withholding_everything_is_an_error():
    with pytest.raises(ValueError, match="rejects"):
        sample_factors(10, withhold=lambda f: np.ones(len(f["head_x"]), bool))


@pytest.mark.parametrize("resolution", [4, 12, 48, 512, 32.0, True])
def test_render_rejects_bad_resolutions(resolution):
    f = sample_factors(2)
    with pytest.raises(ValueError, match="resolution must be a power of two from 8 to 256"):
        render_faces(f, resolution)


def test_render_needs_every_factor():
    f = sample_factors(2)
    del f["glasses"]
    with pytest.raises(ValueError, match="glasses"):
        render_faces(f, 16)


@pytest.mark.parametrize("resolution", [8, 16, 32, 64])
def test_images_shape_range_and_determinism(resolution):
    a, fa = make_faces(6, resolution, seed=5)
    b, _ = make_faces(6, resolution, seed=5)
    assert a.shape == (6, 3, resolution, resolution) and a.dtype == torch.float32
    assert a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b)
    # Faces differ from each other.
    assert (a[0] - a[1]).abs().mean() > 0.05


def test_chunking_does_not_change_images():
    f, d = sample_factors(7, seed=1), sample_details(7, seed=1)
    assert torch.allclose(render_faces(f, 16, d, chunk=2), render_faces(f, 16, d, chunk=100),
                          atol=1e-6)


def test_same_faces_at_every_resolution():
    """Factors and details do not depend on the resolution, so 64² averaged down looks like 32²."""
    hi, _ = make_faces(8, 64, seed=9)
    lo, _ = make_faces(8, 32, seed=9)
    other, _ = make_faces(8, 32, seed=10)
    pooled = F.avg_pool2d(hi, 2)
    assert (pooled - lo).abs().mean() < 0.03
    assert (other - lo).abs().mean() > 5 * (pooled - lo).abs().mean()


def _face_with(**changes):
    f = sample_factors(1, seed=11)
    f.update({"head_x": np.float32([0.0]), "head_y": np.float32([-0.07]),
              "head_size": np.float32([0.5]), "head_aspect": np.float32([0.8])})
    f.update({k: np.asarray([v]) for k, v in changes.items()})
    return render_faces(f, 64, sample_details(1, seed=11))[0]  # [3, 64, 64]


def test_background_hue_only_changes_the_background():
    a, b = _face_with(background_hue=0.0), _face_with(background_hue=0.5)
    changed = (a - b).abs().amax(0) > 1e-4  # [64, 64]
    assert changed[:4, :4].all() and changed[:4, -4:].all()  # corners are background
    assert not changed[32, 24:40].any()  # the middle of the face is not


def test_glasses_only_change_the_eye_region():
    a, b = _face_with(glasses=0), _face_with(glasses=1)
    rows = torch.nonzero((a - b).abs().amax(0).amax(1) > 1e-4).flatten()
    assert len(rows) > 0
    # Eyes sit at y = head_y - 0.02 * head_size = -0.08, i.e. row 29.4; rings have radius 0.108
    # (3.5 px): everything that changed lies within a few pixels of that row.
    assert rows.min() >= 29.4 - 6 and rows.max() <= 29.4 + 6


def test_smile_and_frown_bend_the_mouth_opposite_ways():
    """The mouth's middle is lower than its corners when smiling, higher when frowning."""
    def mouth_rows(curve):
        img = _face_with(mouth_curve=curve, skin_tone=0.0, hair_style=0)
        red = img[0] - img[1]  # lips are much redder than light skin
        # The mouth's ends lie at y = -0.07 + 0.25 = 0.18 (row 37.8), x = ±0.128 (col 32 ± 4.1);
        # its middle sags 0.065 (2 rows) down or up. Weigh rows 33..42 (below the nose) by how
        # much redder than skin they are: the lips' mean row in each column.
        lips = (red[33:43] - red[33:43].median()).clamp_min(0)  # [10, 64]
        rows = torch.arange(33, 43, dtype=torch.float32)[:, None]
        centre = (lips * rows).sum(0) / lips.sum(0).clamp_min(1e-6)  # [64]
        return {"middle": float(centre[31:33].mean()), "ends": float(centre[[28, 35]].mean())}
    smile, frown = mouth_rows(1.0), mouth_rows(-1.0)
    assert smile["middle"] > smile["ends"] + 0.5
    assert frown["middle"] < frown["ends"] - 0.5


def test_stochastic_detail_changes_images_but_not_factors():
    f, g = sample_factors(16, seed=0), sample_factors(16, seed=1)
    a = render_faces(f, 32, sample_details(16, seed=0))
    b = render_faces(f, 32, sample_details(16, seed=1))
    c = render_faces(g, 32, sample_details(16, seed=0))
    detail = (a - b).abs().mean()
    assert detail > 0.01  # freckles, strands and texture differ…
    assert detail < (a - c).abs().mean() / 3  # …far less than different factors do


def test_cache_builds_once_and_memory_maps(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEGAN_TUTORIAL_CACHE", str(tmp_path / "c"))
    images, factors, path = cached_faces(20, 16, seed=2, withhold="glasses+long_hair")
    assert path.parent == tmp_path / "c"
    assert isinstance(images, np.memmap) and images.shape == (20, 16, 16, 3)
    assert images.dtype == np.uint8
    expected = render_faces(sample_factors(20, 2, ("glasses", "long_hair")), 16, seed=2)
    expected = ((expected + 1) * 127.5).round().permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(np.asarray(images), expected)
    stamp = path.stat().st_mtime_ns
    again, factors2, path2 = cached_faces(20, 16, seed=2, withhold=("long hair", "glasses"))
    assert path2 == path and path.stat().st_mtime_ns == stamp  # found, not rebuilt
    for k in FACTORS:
        np.testing.assert_array_equal(factors[k], factors2[k])
    # A different request is a different file; no temporary file is left behind.
    _, _, other = cached_faces(20, 16, seed=3)
    assert other != path
    assert not [p for p in (tmp_path / "c").iterdir() if ".tmp" in p.name]


def test_cache_key_depends_on_everything():
    base = faces.cache_key(10, 32, 0, None)
    assert len({base, faces.cache_key(11, 32, 0, None), faces.cache_key(10, 64, 0, None),
                faces.cache_key(10, 32, 1, None), faces.cache_key(10, 32, 0, "glasses")}) == 5
    assert faces.cache_key(10, 32, 0, "bun+glasses") == faces.cache_key(10, 32, 0, ("glasses", "bun"))


def test_cache_bad_input(tmp_path):
    with pytest.raises(ValueError, match="withhold: a predicate cannot be cached"):
        cached_faces(5, 16, withhold=lambda f: f["glasses"] == 1, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="n must be at least 1 for a cached set, got 0"):
        cached_faces(0, 16, cache_dir=tmp_path)
    with pytest.raises(ValueError,
                       match=r"resolution must be a power of two from 8 to 256 \(8, .*, 256\), got 4"):
        cached_faces(3, 4, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="a predicate has no condition names"):
        faces.withhold_names(lambda f: f["glasses"] == 1)


def test_threads_do_not_change_images():
    f, d = sample_factors(300, seed=4), sample_details(300, seed=4)
    assert torch.equal(render_faces(f, 16, d, workers=1), render_faces(f, 16, d, workers=2, chunk=64))


def test_describe_factors_lists_every_factor_with_its_range():
    table = faces.describe_factors().splitlines()
    assert len(table) == 2 + len(FACTORS)
    assert "| `mouth_curve` | continuous | -1 to 1, uniform |" in "\n".join(table)
    assert "bald (0.15), short (0.4), long (0.3), bun (0.15)" in "\n".join(table)


def test_importing_the_data_package_is_cheap():
    import subprocess
    import sys

    code = ("import sys, stylegan_tutorial.data as d; assert 'torch' not in sys.modules; "
            "assert 'PIL' not in sys.modules; d.FACTORS; assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
