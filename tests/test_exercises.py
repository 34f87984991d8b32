"""The exercise graders: a right answer passes, each common mistake fails with its own message."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan_tutorial.exercises import ExerciseError, check_kl_divergence, check_pixel_gaussian

# ---- chapter 1: fitting a Gaussian to pixels -----------------------------------------------


def gaussian_right(x):
    mean = x.mean(dim=0)
    centred = x - mean
    return mean, centred.T @ centred / (x.shape[0] - 1)


def test_a_right_gaussian_fit_passes(capsys):
    check_pixel_gaussian(gaussian_right)
    assert "✅ fit_pixel_gaussian" in capsys.readouterr().out


@pytest.mark.parametrize("fn", [
    lambda x: (x.mean(0), torch.cov(x.T)),
    lambda x: (x.numpy().mean(0), np.cov(x.numpy(), rowvar=False)),  # NumPy answers count too
    lambda x: [x.mean(0), torch.cov(x.T)],
], ids=["torch.cov", "numpy", "a list"])
def test_other_right_answers_pass(fn, capsys):
    check_pixel_gaussian(fn)
    assert "✅" in capsys.readouterr().out


GAUSSIAN_MISTAKES = {
    "not centred": (lambda x: (x.mean(0), x.T @ x / (x.shape[0] - 1)), "forgot to centre"),
    "not centred, over N": (lambda x: (x.mean(0), x.T @ x / x.shape[0]), "forgot to centre"),
    "wrong axis": (lambda x: (x.mean(0), (x - x.mean(0)) @ (x - x.mean(0)).T / (x.shape[0] - 1)),
                   "wrong axis, between the 40 points"),
    "over N": (lambda x: (x.mean(0), (x - x.mean(0)).T @ (x - x.mean(0)) / x.shape[0]),
               "the unbiased estimate divides by N - 1"),
    "mean over dim 1": (lambda x: (x.mean(1), torch.cov(x.T)), "mean over the wrong axis"),
    "each point's own mean": (lambda x: (x.mean(0), (x - x.mean(1, keepdim=True)).T
                                         @ (x - x.mean(1, keepdim=True)) / (x.shape[0] - 1)),
                              "centred each point by its own mean"),
    "one tensor": (lambda x: torch.cov(x.T), "must return a tuple (mean, cov), got a tensor of shape (6, 6)"),
    "three values": (lambda x: (x.mean(0), torch.cov(x.T), 0), "must return a tuple (mean, cov)"),
    "wrong mean": (lambda x: (x.mean(0) + 0.1, torch.cov(x.T)), "expected mean ["),
}


@pytest.mark.parametrize("case", list(GAUSSIAN_MISTAKES))
def test_each_gaussian_mistake_has_its_message(case):
    fn, message = GAUSSIAN_MISTAKES[case]
    with pytest.raises(ExerciseError, match="fit_pixel_gaussian") as err:
        check_pixel_gaussian(fn)
    assert message in str(err.value)


def test_a_gaussian_fit_three_percent_off_fails_with_expected_and_got():
    with pytest.raises(ExerciseError) as err:
        check_pixel_gaussian(lambda x: (x.mean(0), 1.03 * torch.cov(x.T)))
    text = str(err.value)
    assert "expected cov[0] = [" in text and "got [" in text and "largest difference" in text
    assert "N - 1" in text  # the hint: the formula


def test_a_stubbed_gaussian_fit_fails_with_its_hint():
    def stub(x):
        raise NotImplementedError("Centre x, then divide x^T x by N - 1.")

    with pytest.raises(ExerciseError, match="not implemented yet. Centre x, then divide"):
        check_pixel_gaussian(stub)


def test_the_reader_may_change_x_in_place():
    def in_place(x):
        mean = x.mean(0)
        x -= mean
        return mean, x.T @ x / (len(x) - 1)

    check_pixel_gaussian(in_place)


# ---- chapter 2: the VAE's KL term -----------------------------------------------------------


def kl_right(mu, logvar):
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)


def test_a_right_kl_passes(capsys):
    check_kl_divergence(kl_right)
    assert "✅ kl_divergence" in capsys.readouterr().out


def test_the_distributions_kl_passes(capsys):
    def with_distributions(mu, logvar):
        q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
        return torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)

    check_kl_divergence(with_distributions)
    assert "✅" in capsys.readouterr().out


KL_MISTAKES = {
    "logvar as sigma": (lambda mu, lv: 0.5 * (lv ** 2 + mu ** 2 - 1 - torch.log(lv ** 2)).sum(1),
                        "treated logvar as the standard deviation"),
    "logvar squared as sigma": (lambda mu, lv: -0.5 * (1 + lv - mu ** 2 - lv ** 2).sum(1),
                                "as if it were the standard deviation"),
    "logvar as the variance": (lambda mu, lv: -0.5 * (1 + lv - mu ** 2 - lv).sum(1),
                               "used logvar as the variance itself"),
    "logvar as log sigma": (lambda mu, lv: -0.5 * (1 + 2 * lv - mu ** 2 - (2 * lv).exp()).sum(1),
                            "treated logvar as log sigma"),
    "variance exp(2 logvar)": (lambda mu, lv: -0.5 * (1 + lv - mu ** 2 - (2 * lv).exp()).sum(1),
                               "exp(2·logvar)"),
    "sign flipped": (lambda mu, lv: 0.5 * (1 + lv - mu ** 2 - lv.exp()).sum(1), "the sign is flipped"),
    "mean over dims": (lambda mu, lv: -0.5 * (1 + lv - mu ** 2 - lv.exp()).mean(1),
                       "averaged over the latent dimensions"),
    "mean over the batch": (lambda mu, lv: kl_right(mu, lv).mean(), "got a scalar"),
    "sum over everything": (lambda mu, lv: kl_right(mu, lv).sum(), "averaged or summed over the batch"),
    "unsummed": (lambda mu, lv: -0.5 * (1 + lv - mu ** 2 - lv.exp()), "the terms unsummed"),
    "half missing": (lambda mu, lv: 2 * kl_right(mu, lv), "the factor 1/2 is missing"),
    "log of logvar": (lambda mu, lv: -0.5 * (1 + torch.log(lv) - mu ** 2 - lv).sum(1), "not finite"),
    "detached": (lambda mu, lv: kl_right(mu.detach(), lv.detach()), "detached"),
    "numpy": (lambda mu, lv: kl_right(mu, lv).detach().numpy(), "must return a torch.Tensor"),
}


@pytest.mark.parametrize("case", list(KL_MISTAKES))
def test_each_kl_mistake_has_its_message(case):
    fn, message = KL_MISTAKES[case]
    with pytest.raises(ExerciseError, match="kl_divergence") as err:
        check_kl_divergence(fn)
    assert message in str(err.value)


def test_a_kl_with_a_wrong_gradient_fails():
    class Straight(torch.autograd.Function):  # the right value with a gradient of zero
        @staticmethod
        def forward(ctx, mu, logvar):
            return kl_right(mu, logvar)

        @staticmethod
        def backward(ctx, grad):
            return torch.zeros(4, 3), torch.zeros(4, 3)

    with pytest.raises(ExerciseError, match="gradient with respect to mu does not"):
        check_kl_divergence(Straight.apply)


def test_a_kl_three_percent_off_fails_with_expected_and_got():
    with pytest.raises(ExerciseError) as err:
        check_kl_divergence(lambda mu, lv: 1.03 * kl_right(mu, lv))
    text = str(err.value)
    assert "expected [" in text and "got [" in text and "1 + logvar - mu² - exp(logvar)" in text


def test_a_stubbed_kl_fails_with_its_hint():
    def stub(mu, logvar):
        raise NotImplementedError("Use the closed form from the text.")

    with pytest.raises(ExerciseError, match="kl_divergence is not implemented yet. Use the closed form"):
        check_kl_divergence(stub)
