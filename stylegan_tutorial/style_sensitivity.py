"""Which known factors each layer's style moves: the layer × factor sensitivity (chapter 6).

Take two faces A and B from the generator. Give A the style of B on one layer only (or one range
of layers), keep every other layer's style and the stored noise, and let the
:mod:`oracle <stylegan_tutorial.oracle>` read the factors of A, of B and of the mix. For each
factor, the *transfer* of that layer is the least-squares slope of the mix's change against B's
difference, over ``n`` pairs:

    transfer = sum_i <f(mix_i) - f(A_i), f(B_i) - f(A_i)> / sum_i |f(B_i) - f(A_i)|²

0: swapping the layer's style leaves the factor where A had it; 1: the factor moves all the way to
B's, as if A's whole ``w`` had been replaced. A slope rather than a ratio of mean distances, so
that the oracle's own reading noise, which does not follow B, averages out instead of adding a
floor. Differences are taken in the factor's own units; the background hue the short way round
its circle; a categorical factor as the change of the oracle's class probabilities ``[N, K]``.
"""

from __future__ import annotations

import torch

from stylegan_tutorial.data.faces import FACTORS
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.metrics.mixing import read_swaps
from stylegan_tutorial.oracle import CIRCULAR, circular_difference, load_oracle

Tensor = torch.Tensor


def layer_resolution(layer: int) -> int:
    """The resolution a synthesis layer works at: two layers per level, from 4² (chapter 6).

    ``layer`` is an index into ``ws [N, num_layers, w_dim]``; layers 0 and 1 are 4², 2 and 3 8², …
    """
    return 4 * 2 ** (layer // 2)


def single_layers(G: Generator) -> dict[str, range]:
    """``{"layer i (res²)": range(i, i + 1)}`` for every layer of ``G``: one row each (chapter 6)."""
    return {f"layer {i} ({layer_resolution(i)}²)": range(i, i + 1) for i in range(G.num_layers)}


def factor_difference(pred_x: dict[str, Tensor], pred_a: dict[str, Tensor], name: str) -> Tensor:
    """``f(x) - f(A)`` for factor ``name`` of :meth:`Oracle.predict`'s outputs, ``[N, K]`` (chapter 6).

    Continuous factors give ``K = 1`` (the hue the short way round its circle); categorical ones
    the difference of the class probabilities, ``K`` classes.
    """
    spec = FACTORS[name]
    if spec.kind == "categorical":
        return pred_x[f"{name}_prob"].double() - pred_a[f"{name}_prob"].double()  # [N, K]
    x, a = pred_x[name].double(), pred_a[name].double()  # [N]
    if name in CIRCULAR:
        return circular_difference(x, a, spec.high - spec.low)[:, None]  # [N, 1]
    return (x - a)[:, None]  # [N, 1]


def transfer(d_mix: Tensor, d_b: Tensor) -> float:
    """The least-squares slope of ``d_mix`` on ``d_b``, both ``[N, K]``: ``Σ<d_mix, d_b> / Σ|d_b|²`` (ch. 6).

    NaN when B never differs from A (``d_b`` all zero).
    """
    denominator = float(d_b.square().sum())
    return float((d_mix * d_b).sum()) / denominator if denominator > 0 else float("nan")


@torch.no_grad()
def style_swap_sensitivity(G: Generator, oracle=None, layer_ranges: dict[str, range] | None = None,
                           n: int = 32, batch_size: int = 32, seed: int = 0,
                           progress: bool = True) -> dict[str, dict[str, float]]:
    """Per layer (or range of layers), the transfer of every factor when B's style replaces A's (chapter 6).

    Args:
        G:            the generator.
        oracle:       reads the factors of every face (None: the shipped oracle).
        layer_ranges: ``{row name: range of layers whose style comes from B}`` (None: every
                      single layer, :func:`single_layers`).
        n:            how many pairs of faces A, B (latents from ``seed``).
        batch_size:   pairs per forward pass.
        seed:         seeds the latents of A and B.
        progress:     show a progress bar over the ``n * (2 + len(layer_ranges))`` images rendered.

    The stored noise is used throughout, so only the styles differ between A and the mix.
    Returns ``{row name: {factor: transfer}}``, :func:`transfer` of each factor.
    """
    layer_ranges = single_layers(G) if layer_ranges is None else layer_ranges
    oracle = load_oracle() if oracle is None else oracle
    pred = read_swaps(G, oracle, layer_ranges, n, batch_size, seed, progress)
    d_b = {f: factor_difference(pred["B"], pred["A"], f) for f in FACTORS}  # [n, K] each
    return {key: {f: transfer(factor_difference(pred[key], pred["A"], f), d_b[f]) for f in FACTORS}
            for key in layer_ranges}


def sensitivity_matrix(table: dict[str, dict[str, float]]) -> tuple[list[str], list[str], Tensor]:
    """:func:`style_swap_sensitivity`'s table as ``(rows, factors, values [rows, factors])`` (chapter 6).

    ``rows`` are the row names, ``factors`` the factor names, in the table's order.
    """
    rows = list(table)
    factors = list(next(iter(table.values())))
    values = torch.tensor([[table[r][f] for f in factors] for r in rows], dtype=torch.float64)
    return rows, factors, values
