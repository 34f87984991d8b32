"""Levels of detail: resolution and alpha checks, lod conversions, layers in use, style ranges."""

import pytest

from stylegan_tutorial.lod import (
    check_alpha,
    check_resolution,
    level_of,
    lod_to_resolution,
    num_layers_at,
    parse_style_layers,
    resolution_to_lod,
    resolutions_up_to,
    style_ranges,
)


def test_resolutions_levels_and_layers_by_hand():
    assert resolutions_up_to(32) == [4, 8, 16, 32]
    assert [level_of(r) for r in (4, 8, 1024)] == [0, 1, 8]
    assert [num_layers_at(r) for r in (4, 8, 64, 1024)] == [2, 4, 10, 18]


@pytest.mark.parametrize("value, kwargs, match", [
    (48, {}, r"resolution must be a power of two >= 4, got 48"),
    (2, {}, r"got 2"), (True, {}, r"got True"), (8.0, {}, r"got 8.0"),
    (64, {"maximum": 32, "name": "--resolution"}, r"--resolution must be a power of two from 4 to 32 "
                                                  r"\(4, 8, 16, 32\), got 64"),
    (4, {"minimum": 8, "maximum": 256}, r"from 8 to 256 \(8, 16, 32, 64, 128, 256\), got 4"),
])
def test_bad_resolutions_say_what_and_where(value, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_resolution(value, **kwargs)


def test_good_resolutions_and_alphas_pass_through():
    import numpy as np

    assert check_resolution(np.int64(64), maximum=64) == 64
    assert check_alpha(0) == 0.0 and check_alpha(1) == 1.0
    for bad in (-0.1, 1.5, "1", True):
        with pytest.raises(ValueError, match="alpha must be a number in"):
            check_alpha(bad)


def test_lod_round_trip():
    assert lod_to_resolution(1.25, 1024) == (512, 0.75)
    assert lod_to_resolution(0, 64) == (64, 1.0)
    for res in (4, 8, 16, 32, 64):
        for alpha in (0.0, 0.3, 1.0) if res > 4 else (1.0,):  # 4² has nothing to fade from
            lod = resolution_to_lod(res, alpha, 64)
            back_res, back_alpha = lod_to_resolution(lod, 64)
            if alpha == 0.0:  # alpha 0 at res is the same network as alpha 1 at res/2
                assert (back_res, back_alpha) == (res // 2, 1.0)
            else:
                assert back_res == res and back_alpha == pytest.approx(alpha)
    with pytest.raises(ValueError, match=r"lod must be a number in \[0, 4\] for 64²"):
        lod_to_resolution(4.5, 64)


@pytest.mark.parametrize("res, expected", [
    (8, ((0, 2), (2, 3), (3, 4))),
    (16, ((0, 2), (2, 4), (4, 6))),
    (32, ((0, 4), (4, 6), (6, 8))),
    (64, ((0, 4), (4, 8), (8, 10))),
    (1024, ((0, 4), (4, 8), (8, 18))),  # the paper's: 4²-8², 16²-32², 64²-1024²
])
def test_style_ranges_cover_every_layer_once(res, expected):
    ranges = style_ranges(res)
    assert list(ranges) == ["coarse", "middle", "fine"]
    assert tuple((r.start, r.stop) for r in ranges.values()) == expected
    assert [i for r in ranges.values() for i in r] == list(range(num_layers_at(res)))


def test_parse_style_layers():
    assert parse_style_layers("fine", 32) == range(6, 8)
    assert parse_style_layers("2-5", 64) == range(2, 6) and parse_style_layers("3", 64) == range(3, 4)
    with pytest.raises(ValueError, match=r"styles range '0-9' must lie within layers 0-7"):
        parse_style_layers("0-9", 32)
    with pytest.raises(ValueError, match="styles must be coarse, middle, fine or a layer range"):
        parse_style_layers("hair", 32)
    with pytest.raises(ValueError, match="power of two >= 8"):
        style_ranges(4)
