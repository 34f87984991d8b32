"""Chapter 11: the Fréchet distance between two feature sets."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from stylegan_tutorial.exercises._common import ExerciseError, Tensor, _call
from stylegan_tutorial.metrics.frechet import frechet_distance

# The formula the messages quote.
_FORMULA = "|mu_a - mu_b|² + tr(C_a) + tr(C_b) - 2 tr((C_a C_b)^½)"


def _psd_sqrt(cov: Tensor) -> Tensor:
    """The symmetric square root of a symmetric PSD matrix, its eigenvalues clamped at 0."""
    vals, vecs = torch.linalg.eigh((cov + cov.T) / 2)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def _exact_gaussian(mu: Tensor, eigvals: Tensor, rotation: Tensor, n: int,
                    gen: torch.Generator) -> Tensor:
    """``n`` points ``[n, D]`` whose sample mean is ``mu`` and whose unbiased sample covariance is
    exactly ``rotation @ diag(eigvals) @ rotation.T`` (to round-off): random points, centred and
    whitened, then scaled and rotated."""
    x = torch.randn(n, len(mu), generator=gen, dtype=torch.float64)
    x = x - x.mean(dim=0)
    white = torch.linalg.inv(_psd_sqrt(x.T @ x / (n - 1)))  # [D, D]
    return x @ white @ (rotation * eigvals.sqrt()).T + mu  # [n, D]


def _frechet_cases() -> list[tuple[str, Tensor, Tensor, float]]:
    """The grader's fixed inputs ``(description, feats_a, feats_b, expected)``, float64 tensors."""
    gen = torch.Generator().manual_seed(11)
    cases = []
    # Commuting covariances (the same eigenvectors): FD has a closed form.
    d, n = 4, 40
    rotation = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))[0]
    mu_a, mu_b = torch.tensor([0.5, -1.0, 0.0, 2.0]), torch.tensor([1.5, -1.0, 0.5, 1.0])
    lam_a, lam_b = torch.tensor([4.0, 1.0, 0.25, 2.0]), torch.tensor([1.0, 1.0, 2.25, 0.5])
    a = _exact_gaussian(mu_a.double(), lam_a.double(), rotation, n, gen)
    b = _exact_gaussian(mu_b.double(), lam_b.double(), rotation, n, gen)
    closed = float((mu_a - mu_b).square().sum() + (lam_a.sqrt() - lam_b.sqrt()).square().sum())
    cases.append(("two Gaussians with the same eigenvectors, where FD = |mu_a - mu_b|² + "
                  "sum (sqrt(lambda_a) - sqrt(lambda_b))² exactly", a, b, closed))
    # Covariances with different eigenvectors: sqrt(C_a) sqrt(C_b) is no longer sqrt(C_a C_b).
    d, n = 5, 40
    a = torch.randn(n, d, generator=gen, dtype=torch.float64) @ torch.randn(d, d, generator=gen,
                                                                           dtype=torch.float64)
    b = 0.6 * torch.randn(n, d, generator=gen, dtype=torch.float64) @ torch.randn(
        d, d, generator=gen, dtype=torch.float64) + 0.5
    cases.append(("two Gaussians with different eigenvectors", a, b, frechet_distance(a, b)))
    # Fewer samples than features: singular covariances, as with 128 oracle features and few images.
    d, n = 10, 6
    a = torch.randn(n, d, generator=gen, dtype=torch.float64)
    b = 1.5 * torch.randn(n, d, generator=gen, dtype=torch.float64) + 0.3
    cases.append(("fewer samples than features (singular covariances)", a, b, frechet_distance(a, b)))
    # A set against itself.
    a = torch.randn(30, 6, generator=gen, dtype=torch.float64) @ torch.randn(6, 6, generator=gen,
                                                                            dtype=torch.float64)
    cases.append(("a set against itself", a, a.clone(), 0.0))
    return cases


def _trace_sqrt(m: Tensor) -> float:
    """``tr(m^½)`` of a product of two PSD matrices: the sum of the roots of its (real) eigenvalues."""
    return float(torch.linalg.eigvals(m).real.clamp(min=0).sqrt().sum())


def _frechet_mistakes(a: Tensor, b: Tensor) -> list[tuple[float, str]]:
    """Each usual mistake's value on ``a [N, D]``, ``b [N, D]``, with a message that names it."""
    mu_a, mu_b = a.mean(dim=0), b.mean(dim=0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)  # [D, D]
    mean_term = float((mu_a - mu_b).square().sum())
    traces = float(cov_a.trace() + cov_b.trace())
    right_root = _trace_sqrt(cov_a @ cov_b)

    def fd(root: float, mean: float = mean_term, tr: float = traces, two: float = 2.0) -> float:
        return mean + tr - two * root

    n = a.shape[0]
    ta, tb = torch.cov(a), torch.cov(b)  # [N, N]: between samples, the wrong axis
    wrong_product = (
        "the matrix square root is taken of the wrong product: {what}. FD needs the root of the "
        "product, tr((C_a C_b)^½), or its symmetric form tr((sqrt(C_a) C_b sqrt(C_a))^½); the two "
        "agree only when C_a and C_b share their eigenvectors")
    return [
        (mean_term, f"the trace term is missing: you returned |mu_a - mu_b|² alone, so two sets "
                    f"with the same mean but different spreads would be at distance 0. "
                    f"FD = {_FORMULA}"),
        (math.sqrt(mean_term) + traces - 2 * right_root,
         "the mean term must be squared: |mu_a - mu_b|², the sum of the squared differences, "
         "not the length |mu_a - mu_b|"),
        (fd(float((_psd_sqrt(cov_a) @ _psd_sqrt(cov_b)).trace())),
         wrong_product.format(what="sqrt(C_a) @ sqrt(C_b)")),
        (fd(float(_psd_sqrt(cov_a + cov_b).trace())),
         wrong_product.format(what="sqrt(C_a + C_b)")),
        (fd(float((cov_a @ cov_b).diagonal().sqrt().sum())),
         "you took the elementwise square root of C_a C_b (np.sqrt or torch.sqrt of a matrix "
         "roots each entry); FD needs the matrix square root, the matrix R with R R = C_a C_b, "
         "whose trace is the sum of the square roots of C_a C_b's eigenvalues"),
        (fd(float((cov_a @ cov_b).trace())),
         f"the square root is missing: tr(C_a C_b) instead of tr((C_a C_b)^½). FD = {_FORMULA}"),
        (fd(math.sqrt(max(float((cov_a @ cov_b).trace()), 0.0))),
         "you took the square root of the trace, sqrt(tr(C_a C_b)); FD needs the trace of the "
         "matrix square root, tr((C_a C_b)^½) = the sum of the square roots of C_a C_b's "
         "eigenvalues"),
        (fd(right_root, two=1.0), f"the factor 2 of the cross term is missing: FD = {_FORMULA}"),
        (fd(right_root * (n - 1) / n, tr=traces * (n - 1) / n),
         "the covariances are divided by N instead of N - 1: the package (like torch.cov and "
         "np.cov) uses the unbiased estimate, centred.T @ centred / (N - 1)"),
        (fd(_trace_sqrt(ta @ tb), tr=float(ta.trace() + tb.trace())),
         "the covariances are taken over the wrong axis: features [N, D] hold one sample per "
         "row, so the covariance is D x D, torch.cov(feats.T) or np.cov(feats, rowvar=False); "
         "yours is N x N, the covariance between the samples"),
        (fd(_trace_sqrt(ta @ tb), mean=float((a.mean(dim=1) - b.mean(dim=1)).square().sum()),
            tr=float(ta.trace() + tb.trace())),
         "the means and covariances are taken over the wrong axis: features [N, D] hold one "
         "sample per row, so the mean is feats.mean(0) ([D]) and the covariance D x D, "
         "torch.cov(feats.T) or np.cov(feats, rowvar=False)"),
    ]


def _as_number(name: str, data: str, value) -> float:
    """The reader's result as a Python float, or an ExerciseError saying what came back instead."""
    if value is None:
        raise ExerciseError(f"{name} on {data} returned None: did you forget the return?")
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ExerciseError(f"{name} on {data} must return one number, got a tensor of shape "
                                f"{tuple(value.shape)}: sum the terms into a scalar")
        complex_ = value.is_complex()
        value = value.detach().cpu().reshape(()).item()
    else:
        arr = np.asarray(value)
        if arr.size != 1 or arr.dtype == object:
            raise ExerciseError(f"{name} on {data} must return one number, got "
                                f"{type(value).__name__} of shape {arr.shape}")
        complex_ = np.iscomplexobj(arr)
        value = arr.reshape(()).item()
    if complex_ or isinstance(value, complex):
        raise ExerciseError(
            f"{name} on {data} returned a complex number, {complex(value):.4g}: the matrix square "
            "root went complex. C_a C_b is not symmetric, so scipy.linalg.sqrtm and eig work in "
            "complex numbers, and round-off leaves small imaginary parts (and tiny negative "
            "eigenvalues) although the exact ones are real and >= 0. Take the real part "
            "(sqrtm(...).real, or eigvals(...).real clamped at 0), or use the symmetric form "
            "(sqrt(C_a) C_b sqrt(C_a))^½, whose eigenvalues torch.linalg.eigvalsh returns real")
    return float(value)


def check_frechet_distance(fn: Callable) -> None:
    """Check a reader's ``frechet_distance(feats_a, feats_b)``: FD between two feature sets (chapter 11).

    Args:
        fn: the reader's function: features ``[N, D]`` and ``[M, D]`` (float64 tensors here) ->
            one number, ``|mu_a - mu_b|² + tr(C_a) + tr(C_b) - 2 tr((C_a C_b)^½)`` with the
            unbiased covariances. The reference is
            :func:`stylegan_tutorial.metrics.frechet_distance`.

    Four inputs: two Gaussians that share their eigenvectors (exact sample statistics, so FD has
    a closed form), two that do not, fewer samples than features (singular covariances) and a
    set against itself (0). A wrong answer is compared with the usual mistakes: a complex or NaN
    square root, the root of the wrong product (sqrt(C_a) sqrt(C_b), sqrt(C_a + C_b)), the trace
    term dropped, the covariances over the wrong axis, and a few more. Prints a pass or raises
    :class:`ExerciseError`.
    """
    name = "frechet_distance"
    for label, a, b, expected in _frechet_cases():
        data = f"{label} (feats_a {list(a.shape)}, feats_b {list(b.shape)})"
        try:
            value = _call(name, fn, a.clone(), b.clone())
        except ExerciseError:
            raise
        except Exception as err:  # the reader's code failed: say where, and the likely cause
            why = ""
            if "size" in str(err) or "shape" in str(err) or "align" in str(err):
                why = (" If the shapes in that message are N x N, the covariances are over the "
                       "wrong axis: features [N, D] hold one sample per row, so the covariance "
                       "is D x D (torch.cov(feats.T), np.cov(feats, rowvar=False)).")
            raise ExerciseError(f"{name} on {data} raised {type(err).__name__}: {err}.{why}") from err
        got = _as_number(name, data, value)
        if math.isnan(got) or math.isinf(got):
            raise ExerciseError(
                f"{name} on {data}: expected {expected:.4f}, got {got}: the matrix square root "
                "went complex or negative. An elementwise square root (np.sqrt or torch.sqrt of "
                "the matrix C_a C_b) takes each entry's root, not the matrix root, and negative "
                "entries give NaN; and the eigenvalues of C_a C_b, >= 0 in exact arithmetic, come "
                "out slightly negative after round-off (singular covariances here): take their "
                "real part and clamp them at 0 before the square root")
        scale = 1.0 + float((a.mean(0) - b.mean(0)).square().sum() + torch.cov(a.T).trace()
                            + torch.cov(b.T).trace())
        tol = 1e-4 * scale
        if abs(got - expected) <= tol:
            continue
        values = f"expected {expected:.4f}, got {got:.4f}"
        for wrong, hint in _frechet_mistakes(a, b):
            if abs(wrong - expected) > tol and abs(got - wrong) <= tol:
                raise ExerciseError(f"{name} on {data}: {values}: {hint}")
        rel = abs(got - expected) / max(abs(expected), 1e-12)
        raise ExerciseError(
            f"{name} on {data}: {values} ({rel:.1%} off). FD = {_FORMULA}, with mu the mean "
            "over the samples (rows) and C the unbiased covariance of the D features "
            "(torch.cov(feats.T)); tr((C_a C_b)^½) is the sum of the square roots of the "
            "eigenvalues of C_a C_b")
    print(f"✅ {name}: matches stylegan_tutorial.metrics.frechet_distance on Gaussians with the "
          "same eigenvectors (closed form), with different eigenvectors, with fewer samples than "
          "features, and on a set against itself")
