"""Chapter 8: style mixing at a crossover."""

from __future__ import annotations

from collections.abc import Callable

import torch

from stylegan_tutorial.configs import get_config
from stylegan_tutorial.exercises._common import (
    ExerciseError,
    Tensor,
    _call,
)
from stylegan_tutorial.generator import Generator

# (Generator and get_config are imported above, with chapter 10's graders)


def _layer_sources(ws: Tensor, w1: Tensor, w2: Tensor) -> str:
    """Which latent each layer of ``ws [N, L, w_dim]`` holds: ``"A"`` (w1), ``"B"`` (w2) or ``"?"``."""
    def same(layer: Tensor, w: Tensor) -> bool:
        return torch.allclose(layer, w.double(), rtol=1e-5, atol=1e-6)

    return "".join("A" if same(ws[:, i], w1) else "B" if same(ws[:, i], w2) else "?"
                   for i in range(ws.shape[1]))


def _mixing_mistake(sources: str, crossover: int) -> str | None:
    """The mistake whose per-layer sources (``"AABBBB"``…) are ``sources``; None if none is named."""
    n, c = len(sources), crossover

    def split(first: str, at: int) -> str:  # `first` on layers < at, the other latent from `at` on
        return first * at + ("B" if first == "A" else "A") * (n - at)

    late = (f"off by one: layer {c}, the crossover layer itself, took the wrong source. Layers "
            "from the crossover on, the crossover included, take w2: ws[:, crossover:] "
            "(>= crossover, not > crossover)")
    early = (f"off by one: layer {c - 1}, the last layer before the crossover, took the wrong "
             "source. Only the layers from the crossover on take w2: ws[:, crossover:] "
             "(not crossover - 1)")
    swapped = ("the sources are swapped: the layers before the crossover take w1 (source A) and "
               "the layers from the crossover on take w2 (source B); yours did the opposite")
    named = {split("A", c + 1): late, split("A", c - 1): early, split("B", c): swapped,
             split("B", c + 1): f"{swapped}; and {late}", split("B", c - 1): f"{swapped}; and {early}"}
    return named.get(sources)


def _mixing_cases() -> tuple[Generator, list[tuple[str, Tensor, Tensor, int, Tensor]]]:
    """An 8-layer generator and the grader's fixed inputs ``(description, w1, w2, crossover, ws)``.

    Every crossover ``1 .. 7`` with its ``ws`` from :meth:`Generator.mix`, then the crossover and
    second latent that :meth:`Generator.mixing_regularization` itself drew at 16² (6 of the 8
    layers in use), read back from its output.
    """
    config = get_config("cpu-tiny")  # 32²: 8 layers, w_dim 64
    with torch.random.fork_rng(devices=[]):  # leave the reader's random state alone
        torch.manual_seed(8)
        G = Generator(config).requires_grad_(False)
        gen = torch.Generator().manual_seed(8)
        w1 = torch.randn(3, config.w_dim, generator=gen)
        w2 = torch.randn(3, config.w_dim, generator=gen)
        ws_reg = G.mixing_regularization(w1, prob=1.0, resolution=16)  # [3, 8, 64], always mixed
    n = G.num_layers
    data = f"w1, w2 of shape [3, {config.w_dim}] and num_layers={n}"
    cases = [(f"{data}, crossover={c}", w1, w2, c, G.mix(w1, w2, c)) for c in range(1, n)]
    c_reg = next(i for i in range(n) if not torch.equal(ws_reg[:, i], w1))  # where w2 begins
    cases.append((f"Generator.mixing_regularization's own draw at 16² (its second latent's w as "
                  f"w2, crossover={c_reg}) and num_layers={n}", w1, ws_reg[:, -1], c_reg, ws_reg))
    return G, cases


def check_style_mixing(fn: Callable[[Tensor, Tensor, int, int], Tensor]) -> None:
    """Check a reader's ``mix_styles(w1, w2, crossover, num_layers) -> ws`` (chapter 8).

    Args:
        fn: the reader's function: ``w1, w2 [N, w_dim]`` and an int ``crossover`` in
            ``[1, num_layers)`` give ``ws [N, num_layers, w_dim]``, ``w1`` on the layers before
            the crossover and ``w2`` from it on. The references are :meth:`Generator.mix
            <stylegan_tutorial.generator.Generator.mix>` with an int crossover and
            :meth:`Generator.mixing_regularization
            <stylegan_tutorial.generator.Generator.mixing_regularization>`.

    Checks every crossover of an 8-layer generator, both extremes included, and one draw of the
    mixing regularisation: the shape, which latent each layer took (naming the off-by-one
    crossover and the swapped sources, alone or together), the values, and that the gradient
    reaches both latents. Prints a pass or raises :class:`ExerciseError`.
    """
    name = "mix_styles"
    G, cases = _mixing_cases()
    n = G.num_layers
    for data, w1, w2, crossover, expected in cases:
        try:
            value = _call(name, fn, w1.clone(), w2.clone(), crossover, n)
        except RuntimeError as err:
            if "single memory location" not in str(err):
                raise
            raise ExerciseError(
                f"{name} on {data} raised: {str(err).splitlines()[0]}. An expanded tensor "
                "(w1[:, None].expand(...)) is one memory seen num_layers times, so it cannot be "
                "written to; copy it first, with .repeat(1, num_layers, 1) or .clone()") from None
        if not isinstance(value, Tensor):
            raise ExerciseError(f"{name} must return a torch.Tensor [N, num_layers, w_dim], "
                                f"got {type(value).__name__}")
        shape = (w1.shape[0], n, w1.shape[1])
        if tuple(value.shape) != shape:
            why = {(n, w1.shape[0], w1.shape[1]): ": the layers are on dim 0; put them on dim 1 "
                                                 "(torch.stack(..., dim=1)), so ws[:, i] is layer i's style",
                   tuple(w1.shape): ": that is one w for the whole image; give every layer its own"}
            raise ExerciseError(f"{name} on {data}: expected shape {shape}, got "
                                f"{tuple(value.shape)}{why.get(tuple(value.shape), '')}")
        got = value.detach().double()
        want = "A" * crossover + "B" * (n - crossover)
        sources = _layer_sources(got, w1, w2)
        if sources != want:
            mistake = _mixing_mistake(sources, crossover)
            raise ExerciseError(
                f"{name} on {data}: layers 0–{n - 1} should take {' '.join(want)}, yours took "
                f"{' '.join(sources)} (A: w1, B: w2, ?: neither)"
                + (f": {mistake}" if mistake else ". The layers before the crossover take w1 and "
                   "the layers from it on take w2, each unchanged"))
        if not torch.allclose(got, expected.double(), rtol=1e-5, atol=1e-6):
            raise ExerciseError(f"{name} on {data}: the values differ from Generator.mix's")
    _check_mixing_gradients(name, fn, G, cases[2])
    print(f"✅ {name}: matches Generator.mix at every crossover and a draw of "
          "Generator.mixing_regularization, values and gradients")


def _check_mixing_gradients(name: str, fn: Callable, G: Generator, case: tuple) -> None:
    """The reader's ``ws`` must pass gradients back to both ``w1`` and ``w2``, as ``G.mix``'s does."""
    data, w1, w2, crossover, _ = case
    mine = [w1.clone().requires_grad_(True), w2.clone().requires_grad_(True)]
    refs = [w1.clone().requires_grad_(True), w2.clone().requires_grad_(True)]
    value = _call(name, fn, *mine, crossover, G.num_layers)
    if not value.requires_grad:
        raise ExerciseError(f"{name} on {data}: the values match but ws is detached from w1 and w2 "
                            "(no gradient would reach the mapping network); build it with torch "
                            "operations on the inputs")
    weights = torch.linspace(-1, 1, value.numel()).view_as(value)
    got = torch.autograd.grad((value * weights.to(value.dtype)).sum(), mine, allow_unused=True)
    want = torch.autograd.grad((G.mix(*refs, crossover) * weights).sum(), refs)
    for label, a, b in zip(("w1", "w2"), got, want):
        if a is None or not torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-6):
            raise ExerciseError(f"{name} on {data}: the values match but the gradient with respect "
                                f"to {label} does not (is part of ws detached, e.g. with .detach() "
                                "or .item()?)")
