"""The progressive-growing schedule: resolution, alpha, lod, batch and learning rate by kimg."""

import math

import pytest

from stylegan_tutorial.configs import training_config
from stylegan_tutorial.schedule import level_and_alpha, phase_at, phase_boundaries


@pytest.mark.parametrize("kimg, expected", [
    (0.0, (0, 1.0)), (9.99, (0, 1.0)),          # phase 0: first half trains 4²
    (10.0, (1, 0.0)), (15.0, (1, 0.5)),          # second half fades 8² in
    (20.0, (1, 1.0)), (29.0, (1, 1.0)),          # phase 1: trains 8²
    (35.0, (2, 0.5)), (57.5, (3, 0.75)),         # fades 16², then 32²
    (60.0, (3, 1.0)), (1000.0, (3, 1.0)),        # top level reached: stays there
])
def test_level_and_alpha_by_hand(kimg, expected):
    level, alpha = level_and_alpha(kimg, 20, 4)
    assert level == expected[0]
    assert alpha == pytest.approx(expected[1])


def test_phase_at_cpu_tiny_batch_lr_and_lod():
    net = training_config("cpu-tiny")  # batch {4: 32, 8: 32, 16: 16, 32: 16}, lr 0.002, phase 20
    p = phase_at(35_000, net)
    assert (p.resolution, p.alpha, p.batch_size, p.learning_rate) == (16, 0.5, 16, 0.002)
    assert p.fading and p.key == (16, True)
    assert p.lod == pytest.approx(math.log2(32 / 16) + 0.5)  # the release's lod: 1.5
    top = phase_at(70_000, net)
    assert (top.resolution, top.alpha, top.lod, top.fading) == (32, 1.0, 0.0, False)


def test_fade_uses_the_new_resolutions_batch_and_learning_rate():
    # paper-1024, 1 GPU: batch 64 at 32², 32 at 64², 16 at 128²; lr 0.0015 from 128²
    net = training_config("paper-1024", phase_kimg=1200)
    fade_into_128 = phase_at(4 * 1_200_000 + 900_000, net)  # phase 4, 3/4 through
    assert fade_into_128.resolution == 128
    assert fade_into_128.alpha == pytest.approx(0.5)
    assert (fade_into_128.batch_size, fade_into_128.learning_rate) == (16, 0.0015)
    assert phase_at(4 * 1_200_000 + 100_000, net).resolution == 64


def test_lod_matches_the_generator_conversion():
    from stylegan_tutorial.lod import lod_to_resolution

    net = training_config("paper-256", phase_kimg=1200)
    for nimg in range(0, 8_000_000, 137_000):
        p = phase_at(nimg, net)
        res, alpha = lod_to_resolution(p.lod, 256)
        assert res == p.resolution and alpha == pytest.approx(p.alpha)


def test_boundaries_agree_with_phase_at():
    net = training_config("cpu-tiny")
    bounds = phase_boundaries(net)
    assert [(k, r, w) for k, r, w in bounds] == [
        (0.0, 4, "train"), (10.0, 8, "fade-in"), (20.0, 8, "train"), (30.0, 16, "fade-in"),
        (40.0, 16, "train"), (50.0, 32, "fade-in"), (60.0, 32, "train")]
    for kimg, res, what in bounds:
        p = phase_at(round(kimg * 1000) + 1, net)
        assert p.resolution == res and p.fading == (what == "fade-in")


@pytest.mark.parametrize("phase_kimg", [0, -1, float("nan"), "10", True])
def test_bad_phase_kimg(phase_kimg):
    with pytest.raises(ValueError, match="phase_kimg"):
        training_config("cpu-tiny", phase_kimg=phase_kimg)
    with pytest.raises(ValueError, match="phase_kimg"):
        level_and_alpha(0.0, phase_kimg, 4)


@pytest.mark.parametrize("nimg", [-1, 1.5, None])
def test_bad_nimg(nimg):
    with pytest.raises(ValueError, match="nimg"):
        phase_at(nimg, training_config("cpu-tiny"))
