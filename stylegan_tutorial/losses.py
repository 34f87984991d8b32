"""The adversarial game's losses, as functions of the discriminator's logits.

The discriminator outputs a logit ``l = D(x)`` per image; its probability that the image is
real is ``sigmoid(l)``. Writing every loss through ``softplus(t) = log(1 + exp(t))`` keeps them
finite for any logit: ``-log sigmoid(l) = softplus(-l)`` and ``-log(1 - sigmoid(l)) = softplus(l)``.

Goodfellow et al. (2014) play the minimax game

    min_G max_D  V(D, G) = E_x[log sigmoid(D(x))] + E_z[log(1 - sigmoid(D(G(z))))],

with ``D(x)`` the discriminator's logit (the book's notation: ``sigmoid(D(x))`` is the probability).

Every function returns a scalar tensor (a mean over the batch) ready for ``backward()``.
StyleGAN's configuration F uses :func:`d_logistic_loss` with :func:`r1_penalty` (gamma = 10) and
:func:`g_nonsaturating_loss`; its CelebA-HQ runs used :func:`d_wgan_loss` with
:func:`wgan_gp_penalty`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from stylegan_tutorial.layers import input_gradients_only

Tensor = torch.Tensor


def d_logistic_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The discriminator's side of the minimax game, as a loss to minimise (chapter 3).

    ``real_logits [N]`` and ``fake_logits [M]`` are D's logits on real and generated images.

    ``L_D = E[softplus(l_fake)] + E[softplus(-l_real)] = -E[log σ(D(x))] - E[log(1 - σ(D(G(z))))]``.
    Its minimiser over all functions is the optimal discriminator
    ``D*(x) = p_data(x) / (p_data(x) + p_g(x))``.
    """
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_saturating_loss(fake_logits: Tensor) -> Tensor:
    """The generator's side of the minimax game: ``L_G = E[log(1 - σ(D(G(z))))]`` (chapter 3).

    ``fake_logits [N]`` are D's logits on generated images; ``L_G = -E[softplus(l)]``.

    Its gradient with respect to the logit is ``-sigmoid(l)``. Early in training the
    discriminator rejects fakes easily (``σ(D(G(z))) -> 0``) and that gradient vanishes: the loss
    *saturates* exactly when the generator most needs a signal.
    """
    return -F.softplus(fake_logits).mean()


def g_nonsaturating_loss(fake_logits: Tensor) -> Tensor:
    """The non-saturating generator loss: ``L_G = -E[log σ(D(G(z)))] = E[softplus(-l)]`` (chapter 3).

    ``fake_logits [N]`` are D's logits ``l`` on generated images.

    Same fixed point as the minimax loss, but the gradient with respect to the logit is
    ``-sigmoid(-l) = -(1 - σ(D(G(z))))``, which tends to -1 (not 0) when the discriminator
    rejects the fakes. StyleGAN trains its generator with this loss.
    """
    return F.softplus(-fake_logits).mean()


def d_wgan_loss(real_scores: Tensor, fake_scores: Tensor, drift: float = 0.0) -> Tensor:
    """The Wasserstein critic's loss: ``L_D = E[f(G(z))] - E[f(x)] + drift * E[f(x)^2]`` (chapter 3).

    Args:
        real_scores: the critic's scores ``f(x)`` on real images, ``[N]``.
        fake_scores: its scores ``f(G(z))`` on generated images, ``[M]``.
        drift:       weight of the drift penalty on the real scores (0: none).

    The critic ``f`` outputs unbounded scores, not logits. ``drift`` (0.001 in ProGAN) keeps
    the scores from wandering far from zero; it is off by default.
    """
    loss = fake_scores.mean() - real_scores.mean()
    if drift:
        loss = loss + drift * real_scores.square().mean()
    return loss


def g_wgan_loss(fake_scores: Tensor) -> Tensor:
    """The generator's Wasserstein loss: ``L_G = -E[f(G(z))]`` from ``fake_scores [N]`` (chapter 3)."""
    return -fake_scores.mean()


def _input_gradient(outputs: Tensor, inputs: Tensor) -> Tensor:
    """d(sum of outputs)/d(inputs), kept in the graph so a penalty on it can be trained."""
    with input_gradients_only():  # the networks' weight gradients of this pass are not needed
        (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad


def r1_penalty(real_logits: Tensor, real_images: Tensor, gamma: float = 10.0) -> Tensor:
    """The R1 regulariser of Mescheder et al. (2018): ``gamma / 2 * E[||grad_x D(x)||^2]`` (chapter 3).

    Args:
        real_logits: D's logits ``[N]`` on ``real_images``.
        real_images: the real images ``[N, C, H, W]`` (or points ``[N, 2]``), with
                     ``requires_grad=True`` set before D saw them.
        gamma:       the weight (10 in StyleGAN's configuration F).

    It penalises the discriminator's slope on the data, which damps the oscillation of the
    adversarial game around its equilibrium. ``real_images`` must have ``requires_grad=True``
    and ``real_logits`` must have been computed from them.
    """
    if not real_images.requires_grad:
        raise ValueError(
            "r1_penalty: real_images must have requires_grad=True before the discriminator "
            "is applied to them (call real_images.requires_grad_() first)"
        )
    grad = _input_gradient(real_logits, real_images)  # same shape as real_images
    return 0.5 * gamma * grad.square().flatten(1).sum(1).mean()


def wgan_gp_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    weight: float = 10.0,
    target: float = 1.0,
) -> Tensor:
    """The WGAN-GP gradient penalty of Gulrajani et al. (2017) (chapter 3).

    Args:
        critic: the critic ``f``: a batch ``[N, ...]`` -> scores ``[N]``.
        real:   real samples ``[N, C, H, W]`` (any shape ``[N, ...]``).
        fake:   generated samples of the same shape.
        weight: the penalty's weight (10 in the paper).
        target: the gradient norm aimed at (1: a 1-Lipschitz critic).

    ``weight * E[(||grad f(x_hat)|| - target)^2 / target^2]`` at points
    ``x_hat = x + u (G(z) - x)`` with ``u ~ U(0, 1)`` per sample: it pushes the critic towards
    being ``target``-Lipschitz along lines between real and fake samples.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"wgan_gp_penalty: real and fake must have the same shape, got {tuple(real.shape)} "
            f"and {tuple(fake.shape)}"
        )
    u = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = (real.detach() + u * (fake.detach() - real.detach())).requires_grad_(True)
    grad = _input_gradient(critic(x_hat), x_hat)
    norm = grad.flatten(1).norm(dim=1)  # [N]
    return weight * ((norm - target) / target).square().mean()
