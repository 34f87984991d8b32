"""Chapter 13's grader: the projector's loop passes, each named mistake fails with its own message."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stylegan_tutorial.exercises import ExerciseError, check_projection
from stylegan_tutorial.projection import (
    learning_rate,
    noise_maps,
    noise_regularization,
    normalize_noise_,
    stored_noise,
)


def make_project(z=False, detach=True, reg=True, optimise_noise=True, normalise=True, lr_scale=1.0,
                 mse_loss=False, stub=False):
    """A reader's projector with the chosen mistakes (the defaults: the chapter's solution)."""

    def my_project(G, target, steps, lr, noise_reg_weight):
        if stub:
            raise NotImplementedError("write the loop")
        target = (target.detach() if detach else target)[None]  # [1, 3, R, R]
        if z:
            latent = torch.zeros(1, G.z_dim, requires_grad=True)
        else:
            latent = G.w_avg.detach().clone()[None].requires_grad_(True)  # [1, w_dim]
        maps = stored_noise(G)
        params = [latent]
        if optimise_noise:
            normalize_noise_(maps)
            maps = [m.requires_grad_(True) for m in maps]
            params += maps
        opt = torch.optim.Adam(params, lr=lr)
        with noise_maps(G, maps):
            for step in range(steps):
                for group in opt.param_groups:
                    group["lr"] = learning_rate(step / steps, lr) * lr_scale
                w = G.mapping(latent) if z else latent
                image = G.synthesis(w, noise_mode="fixed")
                loss = F.mse_loss(image, target) if mse_loss else (image - target).square().mean()
                if reg:
                    loss = loss + noise_reg_weight * noise_regularization(maps)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if optimise_noise and normalise:
                    normalize_noise_(maps)
        w = G.mapping(latent) if z else latent
        return w.detach()[0], [m.detach() for m in maps]

    return my_project


def test_the_chapters_solution_passes(capsys):
    check_projection(make_project())
    out = capsys.readouterr().out
    assert out.startswith("✅ project: w and all 8 noise maps match")


def test_another_way_of_writing_the_loss_passes(capsys):
    check_projection(make_project(mse_loss=True))
    assert "✅" in capsys.readouterr().out


MISTAKES = {
    "optimising z": (dict(z=True), "it optimised z, not w"),
    "target not detached": (dict(detach=False), "the gradient flowed into the target image"),
    "no noise regularisation": (dict(reg=False), "matches the projector without noise regularisation"),
    "noise not optimised": (dict(optimise_noise=False), "The noise maps came back unchanged"),
    "noise not renormalised": (dict(normalise=False), "The noise maps are not renormalised"),
}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_each_named_mistake_has_its_message(case):
    kwargs, message = MISTAKES[case]
    with pytest.raises(ExerciseError, match="^project") as err:
        check_projection(make_project(**kwargs))
    assert message in str(err.value)


def test_an_answer_a_few_percent_off_fails_without_a_named_mistake():
    with pytest.raises(ExerciseError) as err:
        check_projection(make_project(lr_scale=1.03))
    text = str(err.value)
    assert "expected w [" in text and "got [" in text and "of how far the reference moved" in text
    for _, message in MISTAKES.values():
        assert message not in text


def test_the_student_stub_fails_with_its_hint():
    with pytest.raises(ExerciseError, match="project is not implemented yet. write the loop"):
        check_projection(make_project(stub=True))


def test_a_wrong_return_value_is_named():
    with pytest.raises(ExerciseError, match=r"must return a pair \(w, maps\)"):
        check_projection(lambda G, target, steps, lr, reg: G.w_avg.clone())
    with pytest.raises(ExerciseError, match="maps must be a list of 8 noise maps"):
        check_projection(lambda G, target, steps, lr, reg: (G.w_avg.clone(), []))


def test_the_grader_leaves_the_generator_as_it_was():
    from stylegan_tutorial.shipped import load_pretrained

    G = load_pretrained("faces32-cpu")
    before = [m.clone() for m in stored_noise(G)]
    params = {k: v.clone() for k, v in G.state_dict().items()}
    with pytest.raises(ExerciseError):
        check_projection(make_project(reg=False), G)
    assert all(torch.equal(a, b) for a, b in zip(before, stored_noise(G)))
    assert all(torch.equal(params[k], v) for k, v in G.state_dict().items())
    assert all(not hook for hook in (G.mapping._forward_hooks,))
