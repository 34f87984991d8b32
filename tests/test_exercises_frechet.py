"""Chapter 11's grader: a right Fréchet distance passes, each common mistake fails with its own message."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from stylegan_tutorial.exercises import ExerciseError, check_frechet_distance
from stylegan_tutorial.exercises.frechet import _frechet_cases
from stylegan_tutorial.metrics import frechet_distance


def stats(feats_a, feats_b, axis="right"):
    a, b = torch.as_tensor(feats_a).double(), torch.as_tensor(feats_b).double()
    if axis == "right":
        return a.mean(0), b.mean(0), torch.cov(a.T), torch.cov(b.T)
    return a.mean(0), b.mean(0), torch.cov(a), torch.cov(b)  # [N, N]: between the samples


def make_fd(root="eigvals", mean="squared", traces=True, two=2.0, axis="right", scale=1.0):
    """A reader's ``frechet_distance`` with the chosen mistakes (the defaults: the chapter's solution)."""

    def frechet(feats_a, feats_b):
        mu_a, mu_b, cov_a, cov_b = stats(feats_a, feats_b, axis)
        diff = (mu_a - mu_b).square().sum()
        mean_term = diff if mean == "squared" else diff.sqrt()
        if not traces:
            return float(mean_term)
        if root == "eigvals":  # the chapter's solution
            tr_root = torch.linalg.eigvals(cov_a @ cov_b).real.clamp(min=0).sqrt().sum()
        elif root == "complex":  # eigvals' complex roots, the real part never taken
            tr_root = torch.linalg.eigvals(cov_a @ cov_b).sqrt().sum()
        elif root == "no clamp":  # real part, but tiny negative eigenvalues left in
            tr_root = torch.linalg.eigvals(cov_a @ cov_b).real.sqrt().sum()
        elif root == "elementwise":
            tr_root = torch.sqrt(cov_a @ cov_b).trace()
        elif root == "sqrt a times sqrt b":
            tr_root = (psd_sqrt(cov_a) @ psd_sqrt(cov_b)).trace()
        elif root == "sqrt of sum":
            tr_root = psd_sqrt(cov_a + cov_b).trace()
        elif root == "none":
            tr_root = (cov_a @ cov_b).trace()
        fd = mean_term + cov_a.trace() + cov_b.trace() - two * tr_root
        return scale * fd

    return frechet


def psd_sqrt(c):
    vals, vecs = torch.linalg.eigh(c)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def fd_symmetric(feats_a, feats_b):
    """The package's route: tr((sqrt(C_a) C_b sqrt(C_a))^½) from eigvalsh, a tensor result."""
    mu_a, mu_b, cov_a, cov_b = stats(feats_a, feats_b)
    s = psd_sqrt(cov_a)
    tr_root = torch.linalg.eigvalsh(s @ cov_b @ s).clamp(min=0).sqrt().sum()
    return (mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * tr_root


def fd_scipy(feats_a, feats_b, real=True):
    """pytorch-fid's way: NumPy statistics and scipy.linalg.sqrtm, the real part taken."""
    a, b = np.asarray(feats_a), np.asarray(feats_b)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sqrtm warns on singular matrices
        covmean = scipy.linalg.sqrtm(s1 @ s2)
    if real:
        covmean = covmean.real
    return ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


def test_the_chapters_solution_passes(capsys):
    check_frechet_distance(make_fd())
    assert "✅ frechet_distance" in capsys.readouterr().out


@pytest.mark.parametrize("fn", [frechet_distance, fd_symmetric, fd_scipy],
                         ids=["the package", "symmetric form", "scipy sqrtm .real"])
def test_other_right_answers_pass(fn, capsys):
    check_frechet_distance(fn)
    assert "✅" in capsys.readouterr().out


def test_the_closed_form_case_is_what_the_package_computes():
    label, a, b, expected = _frechet_cases()[0]
    assert "same eigenvectors" in label
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


FRECHET_MISTAKES = {
    "complex eigvals": (make_fd(root="complex"), "returned a complex number"),
    "scipy sqrtm without .real": (lambda a, b: fd_scipy(a, b, real=False), "returned a complex number"),
    "negative eigenvalues": (make_fd(root="no clamp"), "clamp them at 0"),
    "elementwise sqrt": (make_fd(root="elementwise"), "elementwise square root"),
    "sqrt(C_a) sqrt(C_b)": (make_fd(root="sqrt a times sqrt b"),
                            "taken of the wrong product: sqrt(C_a) @ sqrt(C_b)"),
    "sqrt(C_a + C_b)": (make_fd(root="sqrt of sum"), "taken of the wrong product: sqrt(C_a + C_b)"),
    "trace term dropped": (make_fd(traces=False), "the trace term is missing"),
    "wrong axis": (make_fd(axis="wrong"), "wrong axis"),
    "no square root": (make_fd(root="none"), "the square root is missing"),
    "mean not squared": (make_fd(mean="length"), "the mean term must be squared"),
    "cross term without 2": (make_fd(two=1.0), "the factor 2 of the cross term is missing"),
}


@pytest.mark.parametrize("case", list(FRECHET_MISTAKES))
def test_each_frechet_mistake_has_its_message(case):
    fn, message = FRECHET_MISTAKES[case]
    with pytest.raises(ExerciseError, match="^frechet_distance on ") as err:
        check_frechet_distance(fn)
    text = str(err.value)
    assert message in text
    assert "feats_a [" in text, "the message names the input"


@pytest.mark.parametrize("case", ["sqrt(C_a) sqrt(C_b)", "trace term dropped", "wrong axis",
                                  "sqrt(C_a + C_b)"])
def test_a_mistake_message_says_what_was_expected_and_what_came_back(case):
    fn, _ = FRECHET_MISTAKES[case]
    with pytest.raises(ExerciseError, match=r"expected -?\d+\.\d{4}, got -?\d+\.\d{4}"):
        check_frechet_distance(fn)


def test_sqrt_a_times_sqrt_b_passes_the_commuting_case_and_fails_the_next():
    """sqrt(C_a) sqrt(C_b) is right when the covariances share eigenvectors: the grader says so
    on the case where they do not."""
    with pytest.raises(ExerciseError, match="different eigenvectors") as err:
        check_frechet_distance(make_fd(root="sqrt a times sqrt b"))
    assert "agree only when C_a and C_b share their eigenvectors" in str(err.value)


def test_divided_by_n_is_named():
    def biased(a, b):
        n = a.shape[0]
        mu_a, mu_b, cov_a, cov_b = stats(a, b)
        cov_a, cov_b = cov_a * (n - 1) / n, cov_b * (n - 1) / n
        tr_root = torch.linalg.eigvals(cov_a @ cov_b).real.clamp(min=0).sqrt().sum()
        return (mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * tr_root

    with pytest.raises(ExerciseError, match="divided by N instead of N - 1"):
        check_frechet_distance(biased)


@pytest.mark.parametrize("scale", [1.03, 0.97])
def test_an_answer_a_few_percent_off_fails(scale):
    with pytest.raises(ExerciseError, match=r"expected 4\.7500, got .*% off\)\. FD = "):
        check_frechet_distance(make_fd(scale=scale))


def test_the_stub_fails_with_its_hint():
    def stub(feats_a, feats_b):
        raise NotImplementedError("Exercise: means, covariances, then the trace of the root")

    with pytest.raises(ExerciseError, match="not implemented yet.*the trace of the root"):
        check_frechet_distance(stub)


def test_a_shape_error_from_the_readers_code_is_explained():
    def mismatched(a, b):  # covariances over samples, with sets of different sizes
        return torch.cov(a[:-1]) @ torch.cov(b)

    with pytest.raises(ExerciseError, match="raised RuntimeError.*wrong axis"):
        check_frechet_distance(mismatched)


@pytest.mark.parametrize("value, message", [
    (None, "returned None"),
    (torch.zeros(3), "must return one number, got a tensor of shape (3,)"),
])
def test_what_is_not_one_number_is_named(value, message):
    with pytest.raises(ExerciseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_frechet_distance(lambda a, b: value)


def test_the_reader_may_change_the_features_in_place():
    def in_place(a, b):
        a -= a.mean(0)
        b -= b.mean(0)
        return make_fd()(a, b)

    with pytest.raises(ExerciseError, match="the trace term is missing|expected"):
        check_frechet_distance(in_place)  # wrong (centring drops the means), but no crash
    check_frechet_distance(make_fd())  # and the grader's inputs are intact afterwards


def test_the_grader_leaves_the_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    check_frechet_distance(make_fd())
    assert torch.equal(torch.rand(3), expected)
