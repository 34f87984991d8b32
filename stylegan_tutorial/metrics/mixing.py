"""The style-mixing transfer table: which source each factor follows after mixing (chapter 11).

The paper's Figure 3 shows that coarse styles (4²–8²) carry pose and face shape, middle styles
smaller features, fine styles the colour scheme. With the oracle reading every factor of a face,
that becomes a table: for each range of layers taken from source B, the share of mixed faces
whose factor follows B rather than A.
"""

from __future__ import annotations

import torch

from stylegan_tutorial.data.faces import FACTORS
from stylegan_tutorial.generate import batch_sizes
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.lod import style_ranges
from stylegan_tutorial.oracle import CIRCULAR, circular_difference, load_oracle
from stylegan_tutorial.progress import tqdm

Tensor = torch.Tensor


@torch.no_grad()
def read_swaps(G: Generator, oracle, layer_ranges: dict[str, range], n: int, batch_size: int,
               seed: int, progress: bool = False) -> dict[str, dict[str, Tensor]]:
    """The oracle's reading of ``n`` faces A, their partners B and every mix of the two (chapters 6, 8, 11).

    Args:
        G:            the generator.
        oracle:       reads the factors of every face.
        layer_ranges: ``{name: range of layers whose style comes from B}``; each is checked.
        n:            how many pairs of faces A, B (latents drawn from ``seed``, A then B per batch).
        batch_size:   pairs per forward pass.
        seed:         seeds the latents of A and B.
        progress:     show a progress bar over the ``n * (2 + len(layer_ranges))`` images rendered.

    The stored noise is used throughout, so only the styles differ between A, B and a mix.
    Returns ``{"A" | "B" | name: prediction}``, each :meth:`Oracle.predict`'s ``{factor: [n]}``
    (``[n, K]`` for the probabilities).
    """
    for key, layers in layer_ranges.items():
        try:
            G.mixing_layers(layers)
        except ValueError as err:
            raise ValueError(f"layer_ranges[{key!r}]: {err}") from None
    gen = torch.Generator().manual_seed(seed)
    dev = next(G.parameters()).device
    preds: dict[str, list] = {k: [] for k in ["A", "B", *layer_ranges]}
    bar = tqdm(total=n * len(preds), desc="style swaps", unit="img", disable=not progress)
    for b in batch_sizes(n, batch_size):
        ws_a = G.broadcast(G.mapping(torch.randn(b, G.z_dim, generator=gen).to(dev)))  # [b, L, w_dim]
        ws_b = G.broadcast(G.mapping(torch.randn(b, G.z_dim, generator=gen).to(dev)))
        sources = [("A", ws_a), ("B", ws_b)]
        sources += [(k, G.mix(ws_a, ws_b, layers)) for k, layers in layer_ranges.items()]
        for key, ws in sources:
            preds[key].append(oracle.predict(G.synthesis(ws, noise_mode="fixed").float()))
            bar.update(b)
    bar.close()
    return {k: {f: torch.cat([p[f] for p in v]) for f in v[0]} for k, v in preds.items()}


def mixing_transfer_table(G: Generator, oracle=None, layer_ranges: dict[str, range] | None = None,
                          n: int = 500, batch_size: int = 64, seed: int = 0) -> dict:
    """For each range of layers, how often each factor of the mixed face follows source B or A (chapter 11).

    Args:
        G:            the generator.
        oracle:       reads the factors of every face (None: the shipped oracle).
        layer_ranges: ``{name: range of layer indices taken from B}`` (None: the paper's coarse,
                      middle and fine ranges at ``G``'s resolution,
                      :func:`stylegan_tutorial.lod.style_ranges`).
        n:            how many pairs of faces A, B.
        batch_size:   pairs per forward pass.
        seed:         seeds the latents.

    Faces A and B are drawn from ``G``; the mixed face takes B's styles on the range's layers and
    A's elsewhere (:meth:`~stylegan_tutorial.generator.Generator.mix`; stored noise throughout).
    Continuous factor: the mix *follows B* when its value is closer to B's than to A's (hue: the
    shorter way round; a tie counts half). Categorical factor: only pairs where A and B differ
    count; the mix follows whichever it equals (it may equal neither when there are more than two
    classes); NaN if no pair differs.
    Returns ``{range name: {factor: {"A": fraction, "B": fraction}}}``.
    """
    layer_ranges = style_ranges(G.config.resolution) if layer_ranges is None else layer_ranges
    oracle = load_oracle() if oracle is None else oracle
    names = list(layer_ranges)
    pred = read_swaps(G, oracle, layer_ranges, n, batch_size, seed)
    pred = {k: {f: v[f].double() for f in FACTORS} for k, v in pred.items()}
    table = {}
    for key in names:
        row = {}
        for f, spec in FACTORS.items():
            a, b, m = pred["A"][f], pred["B"][f], pred[key][f]
            if spec.kind == "categorical":
                differ = a != b  # pairs where the factor can tell A from B; none: NaN
                count = int(differ.sum())
                row[f] = {src: float((m == v)[differ].sum()) / count if count else float("nan")
                          for src, v in (("A", a), ("B", b))}
                continue
            if f in CIRCULAR:
                period = spec.high - spec.low
                da = circular_difference(m, a, period).abs()
                db = circular_difference(m, b, period).abs()
            else:
                da, db = (m - a).abs(), (m - b).abs()
            follows_b = (db < da).double() + 0.5 * (db == da).double()
            row[f] = {"A": float(1 - follows_b.mean()), "B": float(follows_b.mean())}
        table[key] = row
    return table


def transfer_table_markdown(table: dict, source: str = "B") -> str:
    """The transfer table as Markdown: a row per factor, a column per range of layers (chapter 11).

    Args:
        table:  :func:`mixing_transfer_table`'s result.
        source: whose share to print, ``"B"`` (the source of the mixed layers) or ``"A"``.
    """
    ranges = list(table)
    rows = [f"| factor | {' | '.join(ranges)} |", "|---|" + "---|" * len(ranges)]
    for f in FACTORS:
        rows.append(f"| `{f}` | " + " | ".join(f"{table[r][f][source]:.2f}" for r in ranges) + " |")
    return "\n".join(rows)
