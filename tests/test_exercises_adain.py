"""Chapter 6's grader: a right AdaIN passes, each common mistake fails with its own message."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stylegan_tutorial import layers
from stylegan_tutorial.exercises import ExerciseError, check_adain


def make_adain(dims=(2, 3), eps_on="var", plus_one=True, swapped=False, unbiased=False,
               scale=1.0, detach=False):
    """A reader's AdaIN with the chosen mistakes (the defaults: the chapter's solution)."""

    def adain(x, ys, yb, eps=1e-8):
        if swapped:
            ys, yb = yb, ys
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, unbiased=unbiased)
        if eps_on == "var":
            normed = (x - mean) / torch.sqrt(var + eps)
        elif eps_on == "std":
            normed = (x - mean) / (torch.sqrt(var) + eps)
        else:
            normed = (x - mean) / torch.sqrt(var)
        out = normed * ((ys + 1) if plus_one else ys)[:, :, None, None] + yb[:, :, None, None]
        out = out * scale
        return out.detach() if detach else out

    return adain


def test_the_chapters_solution_passes(capsys):
    check_adain(make_adain())
    assert "✅ adain" in capsys.readouterr().out


@pytest.mark.parametrize("fn", [
    lambda x, ys, yb: layers.adain(x, ys, yb),
    lambda x, ys, yb: layers.apply_style(F.instance_norm(x, eps=1e-8), ys, yb),
    lambda x, ys, yb: (x - x.mean((2, 3), keepdim=True))
    * torch.rsqrt(x.var((2, 3), keepdim=True, unbiased=False) + 1e-8)
    * (1 + ys.view(*ys.shape, 1, 1)) + yb.view(*yb.shape, 1, 1),
], ids=["layers.adain", "F.instance_norm + apply_style", "rsqrt"])
def test_other_right_answers_pass(fn, capsys):
    check_adain(fn)
    assert "✅" in capsys.readouterr().out


ADAIN_MISTAKES = {
    "no +1": (dict(plus_one=False), "the +1 is missing"),
    "over the batch": (dict(dims=(0, 2, 3)), "you normalised over the batch"),
    "over all channels": (dict(dims=(1, 2, 3)), "you normalised over all channels at once"),
    "over everything": (dict(dims=(0, 1, 2, 3)), "the whole batch and all channels"),
    "ε on the std": (dict(eps_on="std"), "ε is added to the standard deviation"),
    "scale and bias swapped": (dict(swapped=True), "scale and bias are swapped"),
    "unbiased variance": (dict(unbiased=True), "you used the unbiased variance"),
}


@pytest.mark.parametrize("case", list(ADAIN_MISTAKES))
def test_each_adain_mistake_has_its_message(case):
    kwargs, message = ADAIN_MISTAKES[case]
    with pytest.raises(ExerciseError, match="^adain on ") as err:
        check_adain(make_adain(**kwargs))
    text = str(err.value)
    assert message in text
    assert "expected [" in text and "got [" in text and "where they differ most" in text
    assert "; and " not in text, "a single mistake is named alone"


def test_two_mistakes_at_once_are_both_named():
    with pytest.raises(ExerciseError) as err:
        check_adain(make_adain(plus_one=False, dims=(0, 2, 3)))
    text = str(err.value)
    assert "the +1 is missing" in text and "you normalised over the batch" in text


def test_forgetting_eps_fails_on_the_constant_channel():
    with pytest.raises(ExerciseError, match="constant channel .*not finite") as err:
        check_adain(make_adain(eps_on="none"))
    assert "sqrt(var + eps)" in str(err.value)


def test_the_style_or_the_norm_left_out_is_named():
    with pytest.raises(ExerciseError, match="the instance norm is missing"):
        check_adain(lambda x, ys, yb: layers.apply_style(x, ys, yb))
    with pytest.raises(ExerciseError, match="the style is missing"):
        check_adain(lambda x, ys, yb: layers.instance_norm(x))


def test_an_adain_two_percent_off_fails_with_expected_and_got():
    with pytest.raises(ExerciseError) as err:
        check_adain(make_adain(scale=1.02))
    text = str(err.value)
    assert "expected [" in text and "got [" in text and "largest difference" in text


def test_a_stubbed_adain_fails_with_its_hint():
    def stub(x, ys, yb, eps=1e-8):
        raise NotImplementedError("Normalise over dim=(2, 3), then x * (ys + 1) + yb.")

    with pytest.raises(ExerciseError, match="not implemented yet. Normalise over dim"):
        check_adain(stub)


def test_a_wrong_shape_is_refused():
    with pytest.raises(ExerciseError, match="expected shape"):
        check_adain(lambda x, ys, yb: make_adain()(x, ys, yb).mean(dim=(2, 3)))


def test_a_detached_result_is_refused():
    with pytest.raises(ExerciseError, match="detached"):
        check_adain(make_adain(detach=True))


def test_the_check_leaves_the_readers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_adain(make_adain())
    assert torch.equal(torch.rand(3), expected)
