"""Chapter 9's grader: a right truncation passes, each common mistake fails with its own message."""

from __future__ import annotations

import pytest
import torch

from stylegan_tutorial.exercises import ExerciseError, check_truncation


def make_truncation(formula="right", layers="right", shape="ws", psi_scale=1.0, in_place=False):
    """A reader's ``truncate_styles`` with the chosen mistakes (the defaults: the chapter's solution)."""

    def truncate_styles(G, z, psi, cutoff=None):
        p = psi * psi_scale
        if formula == "z scaled":
            w = G.mapping(p * z)
        elif formula == "z mean":
            z_mean = z.mean(dim=0, keepdim=True)
            w = G.mapping(z_mean + p * (z - z_mean))
        else:
            w = G.mapping(z)  # [N, w_dim]
        ws = G.broadcast(w)  # [N, L, w_dim]
        if shape == "w":
            return G.w_avg + p * (w - G.w_avg)
        if formula == "wrong way":
            truncated = ws + p * (G.w_avg - ws)
        elif formula == "no w_avg":
            truncated = p * ws
        elif formula == "batch mean":
            truncated = w.mean(0) + p * (ws - w.mean(0))
        elif formula.startswith("z"):
            truncated = ws
        elif in_place:
            truncated = G.w_avg.mul_(1 - p) + p * ws
        else:
            truncated = G.w_avg + p * (ws - G.w_avg)
        L = ws.shape[1]
        c = L if cutoff is None else cutoff
        layer = torch.arange(L).view(1, L, 1)
        mask = {"right": layer < c, "every layer": layer >= 0, "wrong side": layer >= c,
                "one too many": layer <= c}[layers]
        return torch.where(mask, truncated, ws)

    return truncate_styles


def test_the_chapters_solution_passes(capsys):
    check_truncation(make_truncation())
    assert "✅ truncate_styles" in capsys.readouterr().out


def test_the_package_itself_passes(capsys):
    check_truncation(lambda G, z, psi, cutoff=None: G.truncate(G.broadcast(G.mapping(z)), psi, cutoff))
    assert "✅" in capsys.readouterr().out


TRUNCATION_MISTAKES = {
    "every layer": (dict(layers="every layer"), "you truncated every layer regardless of the cutoff"),
    "z scaled by psi": (dict(formula="z scaled"), "you truncated z instead of w"),
    "z towards its mean": (dict(formula="z mean"), "you truncated z instead of w"),
    "psi the wrong way round": (dict(formula="wrong way"), "psi is applied the wrong way round"),
    "no w_avg": (dict(formula="no w_avg"), "w_avg is missing"),
    "batch mean": (dict(formula="batch mean"), "the mean of this batch's w"),
    "wrong side of the cutoff": (dict(layers="wrong side"), "from the cutoff on"),
    "one layer too many": (dict(layers="one too many"), "one layer too many"),
}


@pytest.mark.parametrize("case", list(TRUNCATION_MISTAKES))
def test_each_truncation_mistake_has_its_message(case):
    kwargs, message = TRUNCATION_MISTAKES[case]
    with pytest.raises(ExerciseError, match="^truncate_styles with psi=") as err:
        check_truncation(make_truncation(**kwargs))
    text = str(err.value)
    assert message in text
    assert "expected ws[0, :, 0]" in text and "got [" in text
    assert "; and " not in text, "a single mistake is named alone"


def test_z_scaled_by_a_positive_psi_is_named_as_truncating_z():
    """The mapping normalises z, so psi * z gives the untruncated styles: the message says why."""
    with pytest.raises(ExerciseError) as err:
        check_truncation(make_truncation(formula="z scaled"))
    text = str(err.value)
    assert "nothing was truncated" in text and "truncated z instead of w" in text
    assert "normalises z first" in text


def test_two_mistakes_at_once_are_both_named():
    with pytest.raises(ExerciseError) as err:
        check_truncation(make_truncation(formula="wrong way", layers="every layer"))
    text = str(err.value)
    assert "psi is applied the wrong way round" in text and "every layer regardless" in text


def test_an_answer_a_few_percent_off_fails():
    with pytest.raises(ExerciseError, match="the largest difference is"):
        check_truncation(make_truncation(psi_scale=1.03))


def test_one_w_per_image_instead_of_per_layer_is_explained():
    with pytest.raises(ExerciseError, match=r"one w per image.*G\.broadcast"):
        check_truncation(make_truncation(shape="w"))


def test_changing_w_avg_in_place_is_caught():
    with pytest.raises(ExerciseError, match="changed G.w_avg in place"):
        check_truncation(make_truncation(in_place=True))


def test_the_stub_fails_with_its_hint():
    def stub(G, z, psi, cutoff=None):
        raise NotImplementedError("Exercise: map z, broadcast, pull the first cutoff layers to w_avg")

    with pytest.raises(ExerciseError, match="not implemented yet.*pull the first cutoff layers"):
        check_truncation(stub)


def test_the_grader_leaves_the_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    check_truncation(make_truncation())
    assert torch.equal(torch.rand(3), expected)


def test_cutoff_zero_read_as_none_is_explained():
    """``cutoff or num_layers`` turns cutoff = 0 (no layer truncated) into every layer."""

    def cutoff_or_all(G, z, psi, cutoff=None):
        ws = G.broadcast(G.mapping(z))
        layer = torch.arange(ws.shape[1]).view(1, -1, 1)
        return torch.where(layer < (cutoff or ws.shape[1]), G.w_avg + psi * (ws - G.w_avg), ws)

    with pytest.raises(ExerciseError, match="cutoff=0.*every layer regardless.*`cutoff is None`"):
        check_truncation(cutoff_or_all)
