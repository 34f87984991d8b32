"""Chapter 13: the projector's loop, optimising ``w`` and the noise maps towards a target image."""

from __future__ import annotations

from collections.abc import Callable

import torch

from stylegan_tutorial.exercises._common import ExerciseError, _call, _show
from stylegan_tutorial.generate import z_from_seeds
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.projection import noise_regularization, project, render, stored_noise
from stylegan_tutorial.shipped import load_pretrained

Tensor = torch.Tensor

GRADER_GENERATOR = "faces32-cpu"  # small and quick: 20 steps take a fraction of a second
GRADER_SEED = 7  # the target is this seed's face, drawn by the grader's generator
GRADER_STEPS = 20
GRADER_LR = 0.1
GRADER_NOISE_REG = 1e5


def _target(G: Generator) -> tuple[Tensor, Tensor]:
    """A face of ``G`` as ``(leaf, target)``: ``target = tanh(leaf)`` still hangs on a graph.

    A reader who forgets to detach the target then back-propagates into ``leaf`` (its ``.grad``
    fills) or through the freed graph a second time (PyTorch raises): either names the mistake.
    """
    with torch.no_grad():
        w = G.mapping(z_from_seeds([GRADER_SEED], G.z_dim))  # [1, w_dim]
        image = render(G, w)[0].clamp(-0.999, 0.999)  # [3, R, R]
    leaf = torch.atanh(image).requires_grad_(True)
    return leaf, torch.tanh(leaf)


def _reference(G: Generator, target: Tensor, steps: int, lr: float, noise_reg_weight: float,
               noise: str = "optimize") -> tuple[Tensor, list[Tensor]]:
    """The package's projector with the exercise's settings: pixels only, no noise on ``w``."""
    found = project(G, target.detach(), "w", steps=steps, lr=lr, noise=noise, feature_weight=0.0,
                    noise_reg_weight=noise_reg_weight, w_noise_factor=0.0, progress=False)
    return found.latent, found.noise


def _as_result(name: str, result, G: Generator) -> tuple[Tensor, list[Tensor]]:
    """The reader's ``(w, maps)`` checked for types and shapes: ``w [w_dim]``, one map per noise layer."""
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ExerciseError(f"{name} must return a pair (w, maps), got {type(result).__name__}")
    w, maps = result
    if not isinstance(w, Tensor) or w.numel() != G.w_dim:
        shape = tuple(w.shape) if isinstance(w, Tensor) else type(w).__name__
        raise ExerciseError(f"{name}: w must be a tensor of {G.w_dim} numbers (the one w for all "
                            f"layers), got {shape}")
    shapes = [tuple(m.shape) for m in stored_noise(G)]
    if not isinstance(maps, (list, tuple)) or len(maps) != len(shapes) or any(
            not isinstance(m, Tensor) or tuple(m.shape) != s for m, s in zip(maps, shapes)):
        raise ExerciseError(f"{name}: maps must be a list of {len(shapes)} noise maps of shapes "
                            f"{shapes} (stored_noise(G)'s), got {type(maps).__name__}")
    return w.detach().reshape(-1).float(), [m.detach().float() for m in maps]


def _same(w: Tensor, maps: list[Tensor], ref: tuple[Tensor, list[Tensor]], scale: float) -> bool:
    """Whether ``(w, maps)`` is the reference's within 0.3 % of how far the reference moved ``w``."""
    ref_w, ref_maps = ref
    close = (w - ref_w).norm() <= 0.003 * scale
    return bool(close) and all((m - r).abs().max() <= 0.003 for m, r in zip(maps, ref_maps))


def check_projection(fn: Callable, G: Generator | None = None) -> None:
    """Grade the reader's ``fn(G, target, steps, lr, noise_reg_weight) -> (w, maps)`` (chapter 13).

    The reader's loop starts at ``w_avg`` and optimises one ``w`` and the generator's noise maps
    (renormalised after every step, regularised) so that ``G`` draws ``target``. It is run for
    20 steps on a face of ``faces32-cpu`` and compared with :func:`~stylegan_tutorial.projection.project`
    (pixels only). Names the mistakes: optimising ``z`` through the mapping network instead of
    ``w``, a target that was not detached, no noise regularisation, noise maps not optimised or
    not renormalised; otherwise says how far the result is from the reference.
    """
    name = "project"
    G = load_pretrained(GRADER_GENERATOR) if G is None else G
    leaf, target = _target(G)
    mapping_calls = []
    hook = G.mapping.register_forward_hook(lambda *args: mapping_calls.append(1))
    try:
        result = _call(name, fn, G, target, GRADER_STEPS, GRADER_LR, GRADER_NOISE_REG)
    except RuntimeError as err:
        if "backward through the graph a second time" in str(err):
            raise ExerciseError(f"{name}: the gradient flowed into the target image, which is still "
                                "part of a graph. Detach the target (target = target.detach()): only "
                                "w and the noise maps are optimised.") from None
        raise
    finally:
        hook.remove()
    if leaf.grad is not None:
        raise ExerciseError(f"{name}: the gradient flowed into the target image. Detach it "
                            "(target = target.detach()): only w and the noise maps are optimised.")
    if mapping_calls:
        raise ExerciseError(f"{name} called the mapping network {len(mapping_calls)} times: it optimised "
                            "z, not w. Start from G.w_avg and optimise w itself, feeding "
                            "G.synthesis: the mapping network is not part of the search.")
    w, maps = _as_result(name, result, G)
    ref = _reference(G, target, GRADER_STEPS, GRADER_LR, GRADER_NOISE_REG)
    scale = float((ref[0] - G.w_avg).norm())  # how far the reference moved w
    if _same(w, maps, ref, scale):
        reg = float(noise_regularization(maps))
        print(f"✅ {name}: w and all {len(maps)} noise maps match stylegan_tutorial.projection.project "
              f"after {GRADER_STEPS} steps (noise regulariser {reg:.2e})")
        return
    stored = stored_noise(G)
    hints = []
    if all(torch.equal(m, s) for m, s in zip(maps, stored)):
        hints.append("The noise maps came back unchanged: optimise them with w (pass them to Adam "
                     "with requires_grad) and draw with them inside noise_maps(G, maps).")
    elif any(abs(float(m.std()) - 1) > 0.05 or abs(float(m.mean())) > 0.05 for m in maps):
        hints.append("The noise maps are not renormalised: after every optimiser step, call "
                     "normalize_noise_(maps) so that each map keeps zero mean and unit variance.")
    elif _same(w, maps, _reference(G, target, GRADER_STEPS, GRADER_LR, 0.0), scale):
        hints.append("This matches the projector without noise regularisation: add noise_reg_weight * "
                     "noise_regularization(maps) to the loss, or the maps learn to paint the image.")
    elif (w - G.w_avg).norm() < 1e-6:
        hints.append("w did not move from w_avg: is it passed to the optimiser, with requires_grad?")
    distance = float((w - ref[0]).norm())
    message = (f"{name} on seed {GRADER_SEED}'s face of {GRADER_GENERATOR}, {GRADER_STEPS} steps: "
               f"expected w {_show(ref[0], limit=4)}, got {_show(w, limit=4)}; "
               f"||w - w_ref|| = {distance:.4f}, "
               f"{distance / scale:.1%} of how far the reference moved from w_avg. " + " ".join(hints))
    raise ExerciseError(message.strip())


