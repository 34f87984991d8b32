"""The losses against hand-computed values and closed forms derived here, not in the package.

With D = sigmoid(l):
  d/dl log(1 - sigmoid(l)) = -sigmoid(l)           (minimax generator loss E[log(1 - D)])
  d/dl [-log sigmoid(l)]   = -(1 - sigmoid(l))     (non-saturating loss E[-log D])
so at D(G(z)) -> 0 the first gradient vanishes and the second tends to -1.
"""

import math

import pytest
import torch

from stylegan_tutorial import losses


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def grad_of(loss_fn, logits):
    logits = logits.clone().requires_grad_(True)
    loss_fn(logits).backward()
    return logits.grad


LOGITS = torch.tensor([-6.0, -2.0, -0.3, 0.0, 0.7, 4.0], dtype=torch.float64)


def test_d_logistic_loss_by_hand():
    real = torch.tensor([2.0, -1.0], dtype=torch.float64)
    fake = torch.tensor([0.5], dtype=torch.float64)
    # -mean(log D(x)) - mean(log(1 - D(G(z))))
    expected = -(math.log(sigmoid(2.0)) + math.log(sigmoid(-1.0))) / 2 - math.log(1 - sigmoid(0.5))
    assert losses.d_logistic_loss(real, fake).item() == pytest.approx(expected, rel=1e-12)


def test_d_logistic_loss_minimised_by_optimal_discriminator():
    # For one point with densities p_data, p_g the pointwise loss is
    # -p_data log D - p_g log(1 - D); its minimiser is D* = p_data / (p_data + p_g).
    p_data, p_g = 0.3, 0.1
    ds = torch.linspace(0.01, 0.99, 981, dtype=torch.float64)
    logit = torch.log(ds / (1 - ds))
    pointwise = torch.stack([
        p_data * losses.d_logistic_loss(l.view(1), torch.tensor([-1e9], dtype=torch.float64))
        + p_g * losses.d_logistic_loss(torch.tensor([1e9], dtype=torch.float64), l.view(1))
        for l in logit
    ])
    best = ds[pointwise.argmin()].item()
    assert best == pytest.approx(p_data / (p_data + p_g), abs=1e-3)


def test_saturating_loss_value_and_gradient():
    expected_value = sum(math.log(1 - sigmoid(l)) for l in LOGITS.tolist()) / len(LOGITS)
    assert losses.g_saturating_loss(LOGITS).item() == pytest.approx(expected_value, rel=1e-10)
    expected_grad = torch.tensor([-sigmoid(l) for l in LOGITS.tolist()], dtype=torch.float64) / len(LOGITS)
    torch.testing.assert_close(grad_of(losses.g_saturating_loss, LOGITS), expected_grad)


def test_nonsaturating_loss_value_and_gradient():
    expected_value = sum(-math.log(sigmoid(l)) for l in LOGITS.tolist()) / len(LOGITS)
    assert losses.g_nonsaturating_loss(LOGITS).item() == pytest.approx(expected_value, rel=1e-10)
    expected_grad = torch.tensor([-(1 - sigmoid(l)) for l in LOGITS.tolist()],
                                 dtype=torch.float64) / len(LOGITS)
    torch.testing.assert_close(grad_of(losses.g_nonsaturating_loss, LOGITS), expected_grad)


def test_saturation_when_discriminator_wins():
    # D(G(z)) = sigmoid(-20) ~ 2e-9: the minimax gradient vanishes, the non-saturating one does not.
    l = torch.tensor([-20.0], dtype=torch.float64)
    assert abs(grad_of(losses.g_saturating_loss, l).item()) < 1e-8
    assert grad_of(losses.g_nonsaturating_loss, l).item() == pytest.approx(-1.0, abs=1e-8)


def test_losses_finite_for_extreme_logits():
    l = torch.tensor([-1e4, 1e4])
    for value in (losses.g_nonsaturating_loss(l), losses.g_saturating_loss(l),
                  losses.d_logistic_loss(l, l)):
        assert torch.isfinite(value)


def test_wgan_losses():
    real = torch.tensor([1.0, 3.0])
    fake = torch.tensor([-2.0, 0.0])
    assert losses.d_wgan_loss(real, fake).item() == pytest.approx(-1.0 - 2.0)
    assert losses.g_wgan_loss(fake).item() == pytest.approx(1.0)
    # drift adds eps * mean(real^2) = 0.001 * (1 + 9) / 2
    assert losses.d_wgan_loss(real, fake, drift=1e-3).item() == pytest.approx(-3.0 + 0.005)


class Linear(torch.nn.Module):
    """f(x) = <w, x> + b on flattened inputs: its input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor, b: float = 0.3):
        super().__init__()
        self.w = torch.nn.Parameter(w.clone())
        self.b = b

    def forward(self, x):
        return x.flatten(1) @ self.w + self.b


def test_r1_on_linear_discriminator_is_half_gamma_norm_squared():
    torch.manual_seed(0)
    w = torch.randn(12, dtype=torch.float64)
    D = Linear(w)
    x = torch.randn(5, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    for gamma in (1.0, 10.0):
        penalty = losses.r1_penalty(D(x), x, gamma=gamma)
        assert penalty.item() == pytest.approx(gamma / 2 * w.square().sum().item(), rel=1e-12)


def test_r1_is_differentiable_for_training():
    # The penalty gamma/2 ||w||^2 has gradient gamma * w with respect to the weights.
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    D = Linear(w)
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    losses.r1_penalty(D(x), x, gamma=10.0).backward()
    torch.testing.assert_close(D.w.grad, 10.0 * w)


def test_r1_needs_input_gradients():
    D = Linear(torch.ones(3))
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match="requires_grad"):
        losses.r1_penalty(D(x), x)


def test_wgan_gp_zero_for_unit_norm_linear_critic():
    torch.manual_seed(1)
    w = torch.randn(8, dtype=torch.float64)
    critic = Linear(w / w.norm())
    real, fake = torch.randn(6, 8, dtype=torch.float64), torch.randn(6, 8, dtype=torch.float64)
    assert losses.wgan_gp_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-12)


def test_wgan_gp_for_scaled_linear_critic():
    # ||grad|| = 3 everywhere: penalty = weight * (3 - 1)^2.
    w = torch.zeros(4, dtype=torch.float64)
    w[0] = 3.0
    critic = Linear(w)
    real, fake = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    assert losses.wgan_gp_penalty(critic, real, fake, weight=10.0).item() == pytest.approx(40.0)


def test_wgan_gp_shape_mismatch():
    critic = Linear(torch.ones(4))
    with pytest.raises(ValueError, match="same shape"):
        losses.wgan_gp_penalty(critic, torch.zeros(2, 4), torch.zeros(3, 4))
