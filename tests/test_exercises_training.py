"""Chapter 10's graders: G_ema's update and the D step's loss with R1.

Each accepts a right answer, fails a stub with its hint, and fails each named mistake with a
message that names it; an answer a few percent off fails with what was expected and what came
back.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stylegan_tutorial.exercises import ExerciseError, check_d_loss_r1, check_ema_update

# ---- the G_ema update -------------------------------------------------------------------------


def ema_right(G_ema, G, batch_size, ema_kimg):
    beta = 0.5 ** (batch_size / (1000 * ema_kimg))
    with torch.no_grad():
        for p_ema, p in zip(G_ema.parameters(), G.parameters()):
            p_ema.copy_(beta * p_ema + (1 - beta) * p)
        for b_ema, b in zip(G_ema.buffers(), G.buffers()):
            b_ema.copy_(b)


def ema_with(beta_of=None, buffers="copy", swap=False, move_G=False, in_place=True, no_grad=True):
    """ema_right with one thing changed."""
    def fn(G_ema, G, batch_size, ema_kimg):
        beta = (beta_of or (lambda b, k: 0.5 ** (b / (1000 * k))))(batch_size, ema_kimg)
        w = beta if swap else 1 - beta
        with torch.no_grad() if no_grad else torch.enable_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                if move_G:
                    p.lerp_(p_ema, w)
                elif in_place:
                    p_ema.lerp_(p, w)
                else:
                    p_ema = torch.lerp(p_ema, p, w)  # a new tensor: G_ema keeps its own
            for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                if buffers == "copy":
                    b_ema.copy_(b)
                elif buffers == "average" and b.is_floating_point():
                    b_ema.lerp_(b, 1 - beta)
    return fn


def test_the_right_ema_update_passes(capsys):
    check_ema_update(ema_right)
    assert "✅ ema_update" in capsys.readouterr().out


def test_the_package_s_own_update_passes(capsys):
    from stylegan_tutorial.training import ema_beta, update_ema

    check_ema_update(lambda G_ema, G, b, k: update_ema(G_ema, G, ema_beta(b, k)))
    assert "✅" in capsys.readouterr().out


EMA_MISTAKES = {
    "beta per image": (ema_with(beta_of=lambda b, k: 0.5 ** (1 / (1000 * k))), "per image, not per step"),
    "beta per kimg": (ema_with(beta_of=lambda b, k: 0.5 ** (1 / k)), "per kimg, not per step"),
    "kimg not in images": (ema_with(beta_of=lambda b, k: 0.5 ** (b / k)), "counts thousands of images"),
    "exponent inverted": (ema_with(beta_of=lambda b, k: 0.5 ** (1000 * k / b)), "upside down"),
    "a constant beta": (ema_with(beta_of=lambda b, k: 0.999), "your update used beta = 0.999000"),
    "weights swapped": (ema_with(swap=True), "the weights are swapped"),
    "buffers forgotten": (ema_with(buffers="none"), "was not updated. w_avg and the stored noise"),
    "buffers averaged": (ema_with(buffers="average"), "not averaged"),
    "G moved instead": (ema_with(move_G=True), "G changed"),
    "not in place": (ema_with(in_place=False), "did not change. Update them in place"),
}


@pytest.mark.parametrize("case", list(EMA_MISTAKES))
def test_each_ema_mistake_has_its_message(case):
    fn, message = EMA_MISTAKES[case]
    with pytest.raises(ExerciseError, match="ema_update") as err:
        check_ema_update(fn)
    assert message in str(err.value)


def test_an_ema_without_no_grad_is_told_to_use_it():
    def fn(G_ema, G, batch_size, ema_kimg):
        G_ema.requires_grad_(True)  # as if G_ema were a plain copy of G
        beta = 0.5 ** (batch_size / (1000 * ema_kimg))
        for p_ema, p in zip(G_ema.parameters(), G.parameters()):
            p_ema.lerp_(p, 1 - beta)

    with pytest.raises(ExerciseError, match="torch.no_grad"):
        check_ema_update(fn)


def test_an_ema_beta_a_few_percent_off_fails_with_expected_and_got():
    fn = ema_with(beta_of=lambda b, k: 1 - 1.03 * (1 - 0.5 ** (b / (1000 * k))))
    with pytest.raises(ExerciseError) as err:
        check_ema_update(fn)
    text = str(err.value)
    assert "expected beta = 0.5 ** (32 / (1000 * 10.0)) = 0.997784" in text
    assert "your update used beta" in text


def test_a_stubbed_ema_fails_with_its_hint():
    def stub(G_ema, G, batch_size, ema_kimg):
        raise NotImplementedError("beta = 0.5 ** (batch_size / (1000 * ema_kimg)).")

    with pytest.raises(ExerciseError, match=r"ema_update is not implemented yet. beta = 0.5"):
        check_ema_update(stub)


def test_the_ema_grader_leaves_the_readers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_ema_update(ema_right)
    assert torch.equal(torch.rand(3), expected)


# ---- the D loss with R1 -----------------------------------------------------------------------


def r1_loss(D, reals, fakes, gamma, *, on="reals", half=True, reduce="mean", logits_sum=True,
            squared=True, create_graph=True, logistic=True, r1=True):
    """The right answer, or one mistake at a time."""
    x = (reals if on == "reals" else fakes).detach().requires_grad_(True)
    real_logits = D(x if on == "reals" else reals)
    fake_logits = D(fakes if on == "reals" else x)
    loss = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean() if logistic else 0.0
    if r1:
        logits = real_logits if on == "reals" else fake_logits
        (grad,) = torch.autograd.grad(logits.sum() if logits_sum else logits.mean(), x,
                                      create_graph=create_graph)
        norms = grad.square().flatten(1).sum(1)
        norms = norms if squared else norms.sqrt()
        penalty = (norms.mean() if reduce == "mean" else norms.sum()) * gamma
        loss = loss + (penalty / 2 if half else penalty)
    return loss


def test_the_right_d_loss_passes(capsys):
    check_d_loss_r1(r1_loss)
    assert "✅ d_loss_r1" in capsys.readouterr().out


def test_the_package_s_losses_pass(capsys):
    from stylegan_tutorial import losses

    def with_package(D, reals, fakes, gamma):
        reals = reals.requires_grad_(True)
        real_logits = D(reals)
        return losses.d_logistic_loss(real_logits, D(fakes)) + losses.r1_penalty(real_logits, reals, gamma)

    check_d_loss_r1(with_package)
    assert "✅" in capsys.readouterr().out


R1_MISTAKES = {
    "R1 on the fakes": (dict(on="fakes"), "R1 is computed on the fakes: it penalises"),
    "R1 on the fakes without 1/2": (dict(on="fakes", half=False), "computed on the fakes, and the 1/2"),
    "missing 1/2": (dict(half=False), "the 1/2 is missing"),
    "summed over the batch": (dict(reduce="sum"), "summed over the batch"),
    "mean of the logits": (dict(logits_sum=False), "differentiated the mean of the logits"),
    "norm not squared": (dict(squared=False), "not squared"),
    "no R1": (dict(r1=False), "the R1 term is missing"),
    "no logistic loss": (dict(logistic=False), "the logistic loss is missing"),
    "no create_graph": (dict(create_graph=False), "create_graph=True"),
}


@pytest.mark.parametrize("case", list(R1_MISTAKES))
def test_each_r1_mistake_has_its_message(case):
    changes, message = R1_MISTAKES[case]
    with pytest.raises(ExerciseError, match="d_loss_r1") as err:
        check_d_loss_r1(lambda D, reals, fakes, gamma: r1_loss(D, reals, fakes, gamma, **changes))
    assert message in str(err.value)


def test_reals_without_requires_grad_are_named():
    def fn(D, reals, fakes, gamma):
        real_logits = D(reals)
        (grad,) = torch.autograd.grad(real_logits.sum(), reals, create_graph=True)
        return F.softplus(D(fakes)).mean() + F.softplus(-real_logits).mean() + gamma / 2 * grad.square().sum()

    with pytest.raises(ExerciseError, match=r"reals.requires_grad_\(True\)"):
        check_d_loss_r1(fn)


def test_a_d_loss_a_few_percent_off_fails_with_expected_and_got():
    with pytest.raises(ExerciseError) as err:
        check_d_loss_r1(lambda D, reals, fakes, gamma: 1.03 * r1_loss(D, reals, fakes, gamma))
    text = str(err.value)
    assert "expected" in text and "got" in text and "logistic loss" in text and "+ R1" in text


def test_a_batch_of_losses_is_refused():
    def per_image(D, reals, fakes, gamma):
        return F.softplus(D(fakes)) + F.softplus(-D(reals))

    with pytest.raises(ExerciseError, match="must return a scalar"):
        check_d_loss_r1(per_image)


def test_a_stubbed_d_loss_fails_with_its_hint():
    def stub(D, reals, fakes, gamma):
        raise NotImplementedError("Set requires_grad on the reals first.")

    with pytest.raises(ExerciseError, match="d_loss_r1 is not implemented yet. Set requires_grad"):
        check_d_loss_r1(stub)
