"""Chapter 9: truncation of w towards w_avg."""

from __future__ import annotations

from collections.abc import Callable

import torch

from stylegan_tutorial.configs import get_config
from stylegan_tutorial.exercises._common import (
    ExerciseError,
    Tensor,
    _call,
    _show,
)
from stylegan_tutorial.generator import Generator

# (psi, cutoff) of check_truncation's cases: the paper's kind, a negative psi on every layer,
# psi = 0 on two layers, and cutoff = 0, which truncates nothing.
_TRUNCATION_CASES = [(0.7, 4), (-0.5, None), (0.0, 2), (1.3, 0)]


def _truncation_generator() -> Generator:
    """A small generator (16², 6 layers, w_dim 64) whose ``w_avg`` lies far from the origin."""
    config = get_config("cpu-tiny", resolution=16)
    with torch.random.fork_rng(devices=[]):  # leave the reader's random state alone
        torch.manual_seed(9)
        G = Generator(config).eval().requires_grad_(False)
    gen = torch.Generator().manual_seed(9)
    G.w_avg.copy_(0.8 * torch.randn(config.w_dim, generator=gen) + 0.5)
    return G


def _truncation_mistakes(G: Generator, z: Tensor, psi: float,
                         cutoff: int | None) -> list[tuple[Tensor, str]]:
    """Styles ``[N, L, w_dim]`` as the usual mistakes make them, each with a message naming it."""
    L = G.num_layers
    c = L if cutoff is None else cutoff
    w = G.mapping(z)  # [N, w_dim]
    ws = G.broadcast(w)  # [N, L, w_dim]
    z_mean = z.mean(dim=0, keepdim=True)
    formulas = {
        "right": (torch.lerp(G.w_avg, ws, psi), None),  # [N, L, w_dim] each
        "wrong way": (torch.lerp(ws, G.w_avg, psi),
                      "psi is applied the wrong way round: w + psi (w_avg - w) keeps a share "
                      "1 - psi of w; the truncated style is w_avg + psi (w - w_avg), so psi = 1 "
                      "leaves w as it is and psi = 0 gives w_avg"),
        "no w_avg": (psi * ws, "w_avg is missing: psi * w pulls w towards the origin of W, which "
                               "is no face in particular; pull it towards G.w_avg, "
                               "w_avg + psi (w - w_avg)"),
        "batch mean": (torch.lerp(w.mean(dim=0), ws, psi),
                       "you pulled w towards the mean of this batch's w; use G.w_avg, the average "
                       "tracked during training, so that a face does not depend on its batch"),
        "z scaled": (G.broadcast(G.mapping(psi * z)),
                     "you truncated z instead of w: psi scales z before the mapping, which "
                     "normalises z first, so only its sign can survive; truncate w = "
                     "G.mapping(z) instead, w_avg + psi (w - w_avg)"),
        "z mean": (G.broadcast(G.mapping(torch.lerp(z_mean, z, psi))),
                   "you truncated z instead of w: pulling z towards a mean in Z does not pull "
                   "the face towards the average face; truncate w = G.mapping(z) instead, "
                   "w_avg + psi (w - w_avg)"),
    }
    layer = torch.arange(L).view(1, L, 1)
    selections = {
        "right": (layer < c, None),
        "every layer": (layer >= 0, f"you truncated every layer regardless of the cutoff: only "
                                    f"the layers < cutoff ({c} of {L} here) take the truncated "
                                    "style, the others keep w" + (
                                        " (cutoff = 0 truncates none: test `cutoff is None`, "
                                        "not `cutoff or num_layers`)" if c == 0 else "")),
        "wrong side": (layer >= c, "you truncated the layers from the cutoff on; the cutoff is the "
                                   "first layer left alone, so layers 0 .. cutoff - 1 are truncated"),
        "one too many": (layer <= c, "you truncated one layer too many: layers 0 .. cutoff - 1 "
                                     "are truncated, cutoff of them, and layer cutoff is not"),
    }
    mistakes = [(ws, "nothing was truncated: these are the untruncated styles broadcast(mapping(z)). "
                     "If you scaled z by psi, you truncated z instead of w: the mapping network "
                     "normalises z first, so psi * z gives the same w as z. Truncate "
                     "w = G.mapping(z): w_avg + psi (w - w_avg) on the layers < cutoff")]
    for key, (styles, f_hint) in formulas.items():
        if key.startswith("z"):  # z feeds every layer: the cutoff cannot be kept in Z anyway
            mistakes += [(styles, f_hint), (torch.where(layer < c, styles, ws), f_hint)]
            continue
        for mask, s_hint in selections.values():
            hints = [h for h in (f_hint, s_hint) if h]
            if hints:
                mistakes.append((torch.where(mask, styles, ws), "; and ".join(hints)))
    return sorted(mistakes, key=lambda m: m[1].count("; and "))  # single mistakes first (stable)


def check_truncation(fn: Callable) -> None:
    """Check a reader's ``truncate_styles(G, z, psi, cutoff)``: the truncation trick (chapter 9).

    Args:
        fn: the reader's function: it maps ``z [N, z_dim]`` with ``G.mapping``, gives each of
            ``G.num_layers`` layers a copy of ``w``, and truncates the layers ``< cutoff`` (None:
            every layer) towards ``G.w_avg``, returning ``ws [N, L, w_dim]``. The reference is
            :meth:`~stylegan_tutorial.generator.Generator.truncate` of ``G.broadcast(G.mapping(z))``.

    Four cases on a small generator whose ``w_avg`` is far from the origin: psi = 0.7 on the
    first 4 of 6 layers, psi = -0.5 on every layer, psi = 0 on two layers, and cutoff = 0. A
    wrong answer is compared with each usual mistake and their combinations (every layer
    truncated regardless of the cutoff, z truncated instead of w, psi applied the wrong way
    round, w_avg left out or replaced by the batch mean, the cutoff's layer counted wrong).
    Checks that ``G.w_avg`` and ``z`` are left unchanged. Prints a pass or raises
    :class:`ExerciseError`.
    """
    name = "truncate_styles"
    G = _truncation_generator()
    z = torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(90))  # [4, z_dim]
    w_avg = G.w_avg.clone()
    for psi, cutoff in _TRUNCATION_CASES:
        data = (f"psi={psi}, cutoff={cutoff} on z [4, {G.z_dim}] (a generator with "
                f"{G.num_layers} layers, w_dim {G.w_dim})")
        z_in = z.clone()
        with torch.no_grad():
            value = _call(name, fn, G, z_in, psi, cutoff)
            expected = G.truncate(G.broadcast(G.mapping(z)), psi, cutoff)  # [N, L, w_dim]
        if not torch.equal(G.w_avg, w_avg):
            raise ExerciseError(f"{name} with {data} changed G.w_avg in place: compute a new tensor "
                                "(w_avg + psi * (w - w_avg)) instead of updating w_avg with mul_ "
                                "or add_; w_avg is the generator's, and every later face uses it")
        if not torch.equal(z_in, z):
            raise ExerciseError(f"{name} with {data} changed z in place; leave the reader's latents "
                                "as they are and truncate w = G.mapping(z)")
        if not isinstance(value, Tensor):
            raise ExerciseError(f"{name} must return a torch.Tensor ws [N, L, w_dim], got "
                                f"{type(value).__name__}")
        if tuple(value.shape) != tuple(expected.shape):
            why = (": that is one w per image; give every layer its own copy first, "
                   "ws = G.broadcast(w), because truncation treats the layers differently"
                   if tuple(value.shape) == (4, G.w_dim) else "")
            raise ExerciseError(f"{name} with {data}: expected shape {tuple(expected.shape)} "
                                f"(images, layers, w_dim), got {tuple(value.shape)}{why}")
        got = value.detach().float()
        tol = dict(rtol=1e-5, atol=1e-5)
        if torch.allclose(got, expected, **tol):
            continue
        values = (f"expected ws[0, :, 0] (image 0, coordinate 0, one value per layer) "
                  f"{_show(expected[0, :, 0].double())}, got {_show(got[0, :, 0].double())}")
        with torch.no_grad():
            mistakes = _truncation_mistakes(G, z, psi, cutoff)
        for wrong, hint in mistakes:
            if not torch.allclose(wrong, expected, **tol) and torch.allclose(got, wrong, **tol):
                raise ExerciseError(f"{name} with {data}: {values}: {hint}")
        diff = (got - expected).abs().max().item()
        raise ExerciseError(
            f"{name} with {data}: {values}; the largest difference is {diff:.4g}. Map z to "
            "w = G.mapping(z), copy it to every layer (G.broadcast), then on the layers < cutoff "
            "(every layer when cutoff is None) take w_avg + psi (w - w_avg), with w_avg = G.w_avg")
    print(f"✅ {name}: matches Generator.truncate for psi = 0.7, -0.5, 0 and 1.3, with cutoffs 4 "
          "of 6, none, 2 and 0")
