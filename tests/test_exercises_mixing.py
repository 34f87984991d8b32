"""Chapter 8's grader: a right style mix passes, each named mistake fails with its own message."""

from __future__ import annotations

import pytest
import torch

from stylegan_tutorial.exercises import ExerciseError, check_style_mixing


def make_mix(shift: int = 0, swapped: bool = False, scale: float = 1.0, detach: bool = False):
    """A reader's ``mix_styles`` with the chosen mistakes (the defaults: the chapter's solution).

    ``shift`` moves the split by that many layers (+1: the crossover layer keeps w1; -1: the
    layer before it takes w2); ``swapped`` trades w1 and w2.
    """

    def mix_styles(w1, w2, crossover, num_layers):
        if swapped:
            w1, w2 = w2, w1
        ws = w1[:, None].repeat(1, num_layers, 1)  # [N, L, w_dim]
        ws[:, crossover + shift:] = w2[:, None]
        ws = ws * scale
        return ws.detach() if detach else ws

    return mix_styles


def test_the_chapters_solution_passes(capsys):
    check_style_mixing(make_mix())
    assert "✅ mix_styles" in capsys.readouterr().out


@pytest.mark.parametrize("fn", [
    lambda w1, w2, c, n: torch.where((torch.arange(n) >= c)[None, :, None], w2[:, None], w1[:, None]),
    lambda w1, w2, c, n: torch.cat([w1[:, None].expand(-1, c, -1), w2[:, None].expand(-1, n - c, -1)], 1),
    lambda w1, w2, c, n: torch.stack([w1 if i < c else w2 for i in range(n)], dim=1),
], ids=["where", "cat of expanded", "stack per layer"])
def test_other_right_answers_pass(fn, capsys):
    check_style_mixing(fn)
    assert "✅" in capsys.readouterr().out


MIXING_MISTAKES = {
    "crossover layer from w1": (dict(shift=1), ["off by one", "the crossover layer itself"]),
    "layer before it from w2": (dict(shift=-1), ["off by one", "the last layer before the crossover"]),
    "sources swapped": (dict(swapped=True), ["the sources are swapped"]),
}


@pytest.mark.parametrize("case", list(MIXING_MISTAKES))
def test_each_named_mistake_has_its_message(case):
    kwargs, messages = MIXING_MISTAKES[case]
    with pytest.raises(ExerciseError, match="^mix_styles on ") as err:
        check_style_mixing(make_mix(**kwargs))
    text = str(err.value)
    assert all(m in text for m in messages), text
    assert "should take A" in text and "yours took" in text, "the layers' sources are shown"
    assert "; and " not in text, "a single mistake is named alone"


def test_the_off_by_one_names_the_layer():
    with pytest.raises(ExerciseError) as err:
        check_style_mixing(make_mix(shift=1))
    text = str(err.value)
    assert "crossover=1" in text and "layer 1, the crossover layer itself" in text
    assert "A A B B B B B B" in text.split("yours took")[1], "the reader's sources are printed"


@pytest.mark.parametrize("shift", [1, -1])
def test_swapped_and_off_by_one_are_both_named(shift):
    with pytest.raises(ExerciseError) as err:
        check_style_mixing(make_mix(swapped=True, shift=shift))
    text = str(err.value)
    assert "the sources are swapped" in text and "; and off by one" in text


def test_an_answer_off_by_a_few_percent_fails():
    with pytest.raises(ExerciseError, match=r"\? \? \?.*each unchanged"):
        check_style_mixing(make_mix(scale=1.03))


def test_a_detached_result_fails():
    with pytest.raises(ExerciseError, match="detached"):
        check_style_mixing(make_mix(detach=True))


def test_the_stub_fails_with_its_hint():
    def stub(w1, w2, crossover, num_layers):
        raise NotImplementedError("Exercise: repeat w1 over the layers, then give w2 to the rest")

    with pytest.raises(ExerciseError, match="not implemented yet.*repeat w1 over the layers"):
        check_style_mixing(stub)


def test_writing_into_an_expanded_tensor_is_explained():
    def expanded(w1, w2, crossover, num_layers):
        ws = w1[:, None].expand(-1, num_layers, -1)
        ws[:, crossover:] = w2[:, None]
        return ws

    with pytest.raises(ExerciseError, match=r"expanded tensor .*\.repeat\(1, num_layers, 1\)"):
        check_style_mixing(expanded)


@pytest.mark.parametrize("fn, why", [
    (lambda w1, w2, c, n: make_mix()(w1, w2, c, n).transpose(0, 1), "the layers are on dim 0"),
    (lambda w1, w2, c, n: w1, "one w for the whole image"),
], ids=["layers first", "no layers"])
def test_a_wrong_shape_is_explained(fn, why):
    with pytest.raises(ExerciseError, match="expected shape") as err:
        check_style_mixing(fn)
    assert why in str(err.value)


def test_the_grader_leaves_the_readers_random_state_alone(capsys):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    check_style_mixing(make_mix())
    assert torch.equal(torch.random.get_rng_state(), before)
