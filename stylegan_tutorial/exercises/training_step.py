"""Chapter 10: the G_ema update and the D step with R1."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from stylegan_tutorial import losses, training
from stylegan_tutorial.configs import get_config
from stylegan_tutorial.discriminator import Discriminator
from stylegan_tutorial.exercises._common import (
    ExerciseError,
    Tensor,
    _as_scalar,
    _call,
)
from stylegan_tutorial.generator import Generator

# (imported here, at the end, so that each chapter's graders can be appended on their own)



def _ema_pair(seed: int) -> tuple[Generator, Generator]:
    """Two different small generators ``(G_ema, G)`` whose buffers differ too (w_avg, noise)."""
    config = get_config("cpu-tiny", resolution=8)
    with torch.random.fork_rng(devices=[]):  # leave the reader's random state alone
        torch.manual_seed(seed)
        G_ema = Generator(config).requires_grad_(False)
        G = Generator(config)  # other weights and other stored noise images
    gen = torch.Generator().manual_seed(seed + 1)
    G_ema.w_avg.copy_(torch.randn(config.w_dim, generator=gen))
    G.w_avg.copy_(torch.randn(config.w_dim, generator=gen))
    return G_ema, G


def _flat(tensors) -> Tensor:
    return torch.cat([t.detach().double().flatten() for t in tensors])


def check_ema_update(fn: Callable) -> None:
    """Check a reader's ``ema_update(G_ema, G, batch_size, ema_kimg)``, in place (chapter 10).

    Args:
        fn: the reader's function; the reference is :func:`stylegan_tutorial.training.update_ema`
            with ``beta = ema_beta(batch_size, ema_kimg)``.

    Two cases (batch 32 with a half-life of 10 kimg, the paper's; batch 4 with 0.5 kimg) on two
    small generators whose parameters and buffers all differ. The reader's update is read back
    as the ``beta`` it used, so each usual mistake (beta per image or per kimg instead of per
    step, the weights swapped, G changed, buffers forgotten or averaged) gets its own message.
    Prints a pass or raises :class:`ExerciseError`.
    """
    name = "ema_update"
    for case, (batch, ema_kimg) in enumerate([(32, 10.0), (4, 0.5)]):
        G_ema0, G = _ema_pair(seed=10 * case)
        G_ema, G_before = copy.deepcopy(G_ema0), copy.deepcopy(G)
        data = f"batch_size={batch}, ema_kimg={ema_kimg}"
        try:
            _call(name, fn, G_ema, G, batch, ema_kimg)
        except RuntimeError as err:
            if "in-place" in str(err) or "requires grad" in str(err):
                raise ExerciseError(
                    f"{name} with {data} raised: {str(err).splitlines()[0]}. Update G_ema's "
                    "tensors under torch.no_grad() (as a decorator or a with-block): the moving "
                    "average is bookkeeping, not part of any graph") from None
            raise
        if not torch.equal(_flat(G.state_dict().values()), _flat(G_before.state_dict().values())):
            raise ExerciseError(f"{name} with {data}: G changed. Only G_ema moves, towards G: "
                                "p_ema <- beta p_ema + (1 - beta) p; G is left as it is")
        beta = training.ema_beta(batch, ema_kimg)
        start, target = _flat(G_ema0.parameters()), _flat(G.parameters())
        got = _flat(G_ema.parameters())
        if torch.equal(got, start):
            raise ExerciseError(
                f"{name} with {data}: G_ema's parameters did not change. Update them in place, "
                "p_ema.lerp_(p, 1 - beta) or p_ema.copy_(beta * p_ema + (1 - beta) * p): "
                "assigning to a loop variable (p_ema = ...) changes nothing in G_ema")
        step = target - start  # the whole way from G_ema to G, per element
        moved = got - start
        share = float(moved @ step / (step @ step))  # the reader's 1 - beta, fitted
        off_line = float((moved - share * step).norm() / moved.norm())
        used = 1.0 - share
        expected_beta = f"expected beta = 0.5 ** ({batch} / (1000 * {ema_kimg})) = {beta:.6f}"
        if off_line > 1e-3:
            raise ExerciseError(
                f"{name} with {data}: G_ema's parameters did not move along the straight line "
                f"towards G's ({expected_beta}). Every parameter follows "
                "p_ema <- beta p_ema + (1 - beta) p with the same beta: zip G_ema.parameters() "
                "with G.parameters()")
        mistakes = [
            (1.0 - beta, "the weights are swapped: G_ema keeps beta of itself (beta close to 1) "
                         "and takes 1 - beta from G, p_ema.lerp_(p, 1 - beta)"),
            (0.5 ** (1 / (1000 * ema_kimg)), "your beta is per image, not per step: one step "
                                             "shows batch_size images, so the exponent is "
                                             "batch_size / (1000 ema_kimg)"),
            (0.5 ** (batch / ema_kimg), "ema_kimg counts thousands of images: the half-life in "
                                        "images is 1000 * ema_kimg, so the exponent is "
                                        "batch_size / (1000 ema_kimg)"),
            (0.5 ** (1 / ema_kimg), "your beta is per kimg, not per step: it halves G_ema's "
                                    "memory every ema_kimg steps whatever the batch; per step it "
                                    "is 0.5 ** (batch_size / (1000 ema_kimg)), see ema_beta"),
            (0.5 ** (1000 * ema_kimg / batch), "the exponent is upside down: "
                                               "batch_size / (1000 ema_kimg), not its inverse"),
        ]
        if abs(share - (1 - beta)) > 1e-3 * (1 - beta):
            for wrong, hint in mistakes:
                if abs(used - wrong) <= 1e-3 * max(1 - wrong, 1e-12) and abs(wrong - beta) > 1e-9:
                    raise ExerciseError(f"{name} with {data}: {expected_beta}, your update used "
                                        f"beta = {used:.6f}: {hint}")
            raise ExerciseError(
                f"{name} with {data}: {expected_beta}, your update used beta = {used:.6f}. After "
                f"1000 * ema_kimg / batch_size steps (one half-life) beta ** steps must be 0.5")
        for (key, b_got), b_start, b_target in zip(G_ema.named_buffers(), G_ema0.buffers(), G.buffers()):
            if torch.equal(b_got, b_target) or torch.equal(b_start, b_target):
                continue
            if torch.equal(b_got, b_start):
                raise ExerciseError(
                    f"{name} with {data}: G_ema's buffer {key!r} was not updated. w_avg and the "
                    "stored noise images are buffers, not parameters: copy each of G.buffers() "
                    "into G_ema's (b_ema.copy_(b)), as the release does")
            raise ExerciseError(
                f"{name} with {data}: G_ema's buffer {key!r} is not G's: buffers such as w_avg "
                "are copied from G as they are (b_ema.copy_(b)), not averaged; w_avg is already "
                "a running mean of its own")
    print(f"✅ {name}: matches stylegan_tutorial.training.update_ema with ema_beta, parameters "
          "and buffers")


def check_d_loss_r1(fn: Callable) -> None:
    """Check a reader's ``d_loss_r1(D, reals, fakes, gamma)``: the D step's loss (chapter 10).

    Args:
        fn: the reader's function: ``D`` (images ``[N, C, H, W]`` -> logits ``[N]``), the reals
            and the fakes ``[N, C, H, W]`` (without ``requires_grad``), and ``gamma``; it returns
            the logistic loss plus ``gamma / 2 * E||grad_x D(x)||^2`` on the reals, a scalar.
            The reference is :func:`~stylegan_tutorial.losses.d_logistic_loss` plus
            :func:`~stylegan_tutorial.losses.r1_penalty`.

    Checks the value, naming the usual mistakes (R1 on the fakes, the missing 1/2, a sum over
    the batch, the gradient of the mean logit, the norm not squared, a term left out), and the
    gradient with respect to D's weights (which needs ``create_graph=True``). Prints a pass or
    raises :class:`ExerciseError`.
    """
    name = "d_loss_r1"
    n, gamma = 8, 10.0
    with torch.random.fork_rng(devices=[]):  # leave the reader's random state alone
        torch.manual_seed(3)
        D = Discriminator(get_config("cpu-tiny", resolution=8, mbstd_group_size=0))  # per-image logits
    gen = torch.Generator().manual_seed(4)
    reals = torch.rand(n, 3, 8, 8, generator=gen) * 2 - 1
    fakes = torch.randn(n, 3, 8, 8, generator=gen) * 0.5
    data = f"{n} reals and {n} fakes of shape [3, 8, 8], gamma={gamma}"
    try:
        value = _as_scalar(name, _call(name, fn, D, reals.clone(), fakes.clone(), gamma))
    except RuntimeError as err:
        if "does not require grad" in str(err) or "does not have a grad_fn" in str(err):
            raise ExerciseError(
                f"{name} on {data} raised: {str(err).splitlines()[0]}. The gradient with respect "
                "to the reals needs reals.requires_grad_(True) before D sees them") from None
        raise

    def penalty(images, reduce_mean_logits=False, squared=True):
        x = images.clone().requires_grad_(True)
        logits = D(x)
        (grad,) = torch.autograd.grad(logits.mean() if reduce_mean_logits else logits.sum(), x)
        norms = grad.flatten(1).square().sum(1)
        return float(0.5 * gamma * (norms if squared else norms.sqrt()).mean())

    reals_ref = reals.clone().requires_grad_(True)
    real_logits = D(reals_ref)
    logistic = losses.d_logistic_loss(real_logits, D(fakes))
    expected = logistic + losses.r1_penalty(real_logits, reals_ref, gamma)
    got, want = value.detach().item(), expected.detach().item()
    L, R = logistic.detach().item(), penalty(reals)
    close = lambda a, b: abs(a - b) <= 1e-4 * abs(b) + 1e-6
    if not close(got, want):
        mistakes = [
            (L + penalty(fakes), "R1 is computed on the fakes: it penalises D's slope at the real "
                                 "images, grad of D(reals) with respect to the reals"),
            (L + 2 * penalty(fakes), "R1 is computed on the fakes, and the 1/2 is missing: "
                                     "R1 = gamma/2 E||grad_x D(x)||^2 on the reals"),
            (L + 2 * R, "the 1/2 is missing: R1 = gamma/2 E||grad_x D(x)||^2"),
            (L + n * R, "R1 is summed over the batch: take the mean over the images of each "
                        "image's squared gradient norm"),
            (L + R / n**2, "you differentiated the mean of the logits: each image's gradient "
                           "is then 1/N of its own; differentiate real_logits.sum()"),
            (L + penalty(reals, squared=False), "the gradient norm is not squared: sum the "
                                                "squares over each image's pixels"),
            (L, "the R1 term is missing: add gamma/2 E||grad_x D(x)||^2 on the reals"),
            (R, "the logistic loss is missing: softplus(D(fakes)) + softplus(-D(reals)), "
                "averaged, plus R1"),
        ]
        for wrong, hint in mistakes:
            if close(got, wrong):
                raise ExerciseError(f"{name} on {data}: expected {want:.5f}, got {got:.5f}: {hint}")
        raise ExerciseError(
            f"{name} on {data}: expected {want:.5f} (logistic loss {L:.5f} + R1 {R:.5f}), got "
            f"{got:.5f}. The loss is mean(softplus(D(fakes))) + mean(softplus(-D(reals))) + "
            "gamma/2 mean over the reals of ||grad_x D(x)||^2")
    params = list(D.parameters())
    if not value.requires_grad:
        raise ExerciseError(f"{name}: the value matches but the result is detached from D's "
                            "weights; compute it with torch operations on D's logits")
    create_graph = ("Pass create_graph=True to torch.autograd.grad: without it the input gradient "
                    "is a constant, and R1 never reaches D's weights")
    try:
        mine = torch.autograd.grad(value, params, allow_unused=True)
    except RuntimeError as err:  # the graph was freed by the inner autograd.grad
        raise ExerciseError(f"{name} on {data}: the value matches but its gradient with respect "
                            f"to D's weights cannot be computed ({str(err).splitlines()[0][:60]}...). "
                            f"{create_graph}") from None
    ref = torch.autograd.grad(expected, params, allow_unused=True)  # other levels' layers: unused
    for (key, p), a, b in zip(D.named_parameters(), mine, ref):
        a = torch.zeros_like(p) if a is None else a
        b = torch.zeros_like(p) if b is None else b
        if not torch.allclose(a, b, rtol=1e-3, atol=1e-6):
            raise ExerciseError(
                f"{name} on {data}: the value matches but the gradient with respect to D's "
                f"weight {key!r} does not. {create_graph}")
    print(f"✅ {name}: matches stylegan_tutorial.losses (logistic loss + R1) on value and D's "
          "gradients")
