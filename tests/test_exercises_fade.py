"""Chapter 4's grader: a right fade-in passes, each classic mistake fails with its own message."""

from __future__ import annotations

import math

import pytest
import torch

from stylegan_tutorial.exercises import ExerciseError, check_fade_in
from stylegan_tutorial.images import downsample_2x, upsample_2x


def _features(G, ws, level):
    """The input of the newest block and its output at level ``level`` (1: 8², 2: 16²)."""
    syn = G.synthesis
    x = syn.input(ws[:, 0])
    for i in range(2 * level):
        x = syn.layers[i](x, ws[:, i], "none")
    x_old = x
    for i in range(2 * level, 2 * level + 2):
        x = syn.layers[i](x, ws[:, i], "none")
    return x_old, x


def _d_logits(D, img, level, alpha):
    """D's logits with its newest block faded in by ``alpha``, as the chapter's solution writes it."""
    new = D.blocks[level - 1](D.from_rgb[level](img))
    old = D.from_rgb[level - 1](downsample_2x(img))
    x = (1 - alpha) * old + alpha * new
    for block in reversed(D.blocks[: level - 1]):
        x = block(x)
    return D.epilogue(x)


def make_fade_in(g_blend="right", d_fade=True, real_blend="right", scale=1.0):
    """A reader's fade_in with the chosen mistakes (the defaults: the chapter's solution)."""

    def fade_in(G, D, ws, reals, resolution, alpha):
        level = int(math.log2(resolution)) - 2
        syn = G.synthesis
        x_old, x = _features(G, ws, level)
        old = upsample_2x(syn.to_rgb[level - 1](x_old))
        new = syn.to_rgb[level](x)
        if g_blend == "right":
            fakes = (1 - alpha) * old + alpha * new
        elif g_blend == "reversed":
            fakes = alpha * old + (1 - alpha) * new
        elif g_blend == "before_to_rgb":
            fakes = syn.to_rgb[level]((1 - alpha) * upsample_2x(x_old) + alpha * x)
        elif g_blend == "before_old_to_rgb":
            fakes = syn.to_rgb[level - 1]((1 - alpha) * upsample_2x(x_old) + alpha * x)
        elif g_blend == "no_fade":
            fakes = new
        fakes = fakes * scale
        d_alpha = {True: alpha, False: 1.0, "reversed": 1 - alpha}[d_fade]
        low = upsample_2x(downsample_2x(reals))
        if real_blend == "right":
            reals = (1 - alpha) * low + alpha * reals
        elif real_blend == "reversed":
            reals = alpha * low + (1 - alpha) * reals
        return fakes, _d_logits(D, reals, level, d_alpha), _d_logits(D, fakes, level, d_alpha)

    return fade_in


def test_the_chapters_solution_passes(capsys):
    check_fade_in(make_fade_in())
    assert "✅ fade_in" in capsys.readouterr().out


def test_torch_lerp_and_the_package_itself_pass(capsys):
    from stylegan_tutorial.training import fade_reals

    def with_package(G, D, ws, reals, resolution, alpha):
        fakes = G.synthesis(ws, resolution, alpha, noise_mode="none")
        return fakes, D(fade_reals(reals, alpha), resolution, alpha), D(fakes, resolution, alpha)

    check_fade_in(with_package)
    assert "✅" in capsys.readouterr().out


FADE_MISTAKES = {
    "G alpha reversed": (dict(g_blend="reversed"), "alpha is applied the wrong way round: alpha = 0"),
    "blend before ToRGB": (dict(g_blend="before_to_rgb"), "blended the features before ToRGB"),
    "blend before the old ToRGB": (dict(g_blend="before_old_to_rgb"), "blended the features before ToRGB"),
    "alpha ignored": (dict(g_blend="no_fade"), "alpha is ignored"),
    "no fade in D": (dict(d_fade=False), "the discriminator side is missing"),
    "D alpha reversed": (dict(d_fade="reversed"), "wrong way round in the discriminator"),
    "no 2×2 blend of the reals": (dict(real_blend="none"), "the real images' 2×2 blend is missing"),
    "reals alpha reversed": (dict(real_blend="reversed"), "wrong way round to the real images"),
}


@pytest.mark.parametrize("case", list(FADE_MISTAKES))
def test_each_fade_mistake_has_its_message(case):
    kwargs, message = FADE_MISTAKES[case]
    with pytest.raises(ExerciseError, match="fade_in at 16² with alpha = 0.25") as err:
        check_fade_in(make_fade_in(**kwargs))
    assert message in str(err.value)
    assert "expected" in str(err.value) and "got" in str(err.value)


def test_forgetting_both_the_discriminator_and_the_reals_names_both():
    with pytest.raises(ExerciseError) as err:
        check_fade_in(make_fade_in(d_fade=False, real_blend="none"))
    text = str(err.value)
    assert "the real images' 2×2 blend is missing" in text and "the discriminator side is missing" in text


def test_a_fade_two_percent_off_fails_with_expected_and_got():
    with pytest.raises(ExerciseError) as err:
        check_fade_in(make_fade_in(scale=1.02))
    text = str(err.value)
    assert "expected fakes starting [" in text and "got [" in text and "largest difference" in text


def test_a_stubbed_fade_in_fails_with_its_hint():
    def stub(G, D, ws, reals, resolution, alpha):
        raise NotImplementedError("Blend after ToRGB: (1 - alpha) * old + alpha * new.")

    with pytest.raises(ExerciseError, match="not implemented yet. Blend after ToRGB"):
        check_fade_in(stub)


def test_only_the_generator_side_is_not_enough():
    def g_only(G, D, ws, reals, resolution, alpha):
        return G.synthesis(ws, resolution, alpha, noise_mode="none")

    with pytest.raises(ExerciseError, match="must return a tuple .fakes, real_logits, fake_logits."):
        check_fade_in(g_only)


def test_detached_fakes_are_refused():
    solution = make_fade_in()

    def detached(*args):
        fakes, real_logits, fake_logits = solution(*args)
        return fakes.detach(), real_logits, fake_logits

    with pytest.raises(ExerciseError, match="detached from G's weights"):
        check_fade_in(detached)


def test_the_check_leaves_the_readers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_fade_in(make_fade_in())
    assert torch.equal(torch.rand(3), expected)
