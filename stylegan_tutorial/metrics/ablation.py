"""The paper's Table 1, measured: the six shipped rows A-F side by side (chapter 12).

Each row of the StyleGAN paper's Table 1 ships as ``pretrained:ablation-A`` ...
``pretrained:ablation-F``: the ``cpu-tiny`` widths with the row's switches, trained by the
package's own ``train`` command on the generated faces at 32² with the same data, schedule and
seed. :func:`measure_rows` runs the offline metrics of chapter 11 on each of them, and
:func:`ablation_table_markdown` prints the result beside the paper's FID column.
"""

from __future__ import annotations

import torch

from stylegan_tutorial.configs import ABLATION_ROWS
from stylegan_tutorial.generate import sample_images
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.metrics.frechet import frechet_distance, kid
from stylegan_tutorial.metrics.path_length import path_length
from stylegan_tutorial.metrics.separability import separability
from stylegan_tutorial.metrics.swd import sliced_wasserstein
from stylegan_tutorial.progress import tqdm
from stylegan_tutorial.shipped import load_generator

# The paper's Table 1: FID of each row on CelebA-HQ and FFHQ at 1024², 50,000 images, Inception.
PAPER_TABLE1_FID: dict[str, tuple[float, float]] = {
    "A": (7.79, 8.04),  # baseline progressive GAN
    "B": (6.11, 5.25),  # + tuning (incl. bilinear up/down)
    "C": (5.34, 4.85),  # + mapping network and styles
    "D": (5.07, 4.88),  # + remove traditional input
    "E": (5.06, 4.42),  # + noise inputs
    "F": (5.17, 4.40),  # + mixing regularisation
}
# What each row adds, in the paper's words.
ROW_NAMES: dict[str, str] = {
    "A": "baseline progressive GAN",
    "B": "+ tuning (blurred up/down)",
    "C": "+ mapping and styles",
    "D": "+ learned constant input",
    "E": "+ noise inputs",
    "F": "+ mixing regularisation",
}


def load_rows(rows=ABLATION_ROWS, device: str | torch.device = "cpu") -> dict[str, Generator]:
    """The shipped generators of Table 1's rows, ``{row: G}`` in eval mode (chapter 12)."""
    return {row: load_generator(f"pretrained:ablation-{row}", device=device).eval() for row in rows}


@torch.no_grad()
def measure_row(G: Generator, real_images: torch.Tensor, real_feats: torch.Tensor, oracle,
                n: int = 500, n_ppl: int = 200, seed: int = 0, batch_size: int = 50) -> dict:
    """One row's numbers: distances to the real faces, path lengths, separability, mixing (chapter 12).

    Args:
        G:           the row's generator.
        real_images: ``[n, 3, R, R]`` real faces at ``G``'s resolution (for SWD).
        real_feats:  the oracle's features of ``real_images`` ``[n, F]`` (for FD and KID).
        oracle:      the judge whose features the distances use.
        n:           generated images (and separability samples).
        n_ppl:       paths per path-length variant.
        seed:        seeds every draw, so two rows see the same latents.
        batch_size:  images per forward pass; also the size of the groups that share one
                     crossover when two latents are mixed.

    Returns ``fd``, ``kid``, ``swd`` (the mean over the pyramid's levels), ``ppl_z`` and
    ``ppl_w`` (full paths), ``sep_z`` and ``sep_w``, and ``fd_mixed``: the Fréchet distance of
    images drawn from two latents with a random crossover (Table 2's test), None for the rows
    without styles.
    """
    fakes = sample_images(G, n, seed=seed + 1, batch_size=batch_size)  # [n, 3, R, R]
    fake_feats = oracle.features(fakes)  # [n, F]
    out = {"fd": frechet_distance(real_feats, fake_feats),
           "kid": kid(real_feats, fake_feats, subsets=50, subset_size=min(n, 250), seed=seed)[0],
           "swd": sliced_wasserstein(real_images, fakes, seed=seed)["mean"]}
    for space in ("z", "w"):
        out[f"ppl_{space}"] = path_length(G, space, "full", n_ppl, feature_fn=oracle.features,
                                          batch_size=batch_size, seed=seed)
    sep = separability(G, oracle, n, batch_size, seed)
    out["sep_z"], out["sep_w"] = sep["z"]["score"], sep["w"]["score"]
    out["fd_mixed"] = None
    if G.config.use_styles:
        mixed = sample_images(G, n, seed=seed + 1, batch_size=batch_size // 2, mixing_prob=1.0)
        out["fd_mixed"] = frechet_distance(real_feats, oracle.features(mixed))
    return out


def measure_rows(generators: dict[str, Generator], real_images: torch.Tensor, oracle,
                 n: int = 500, n_ppl: int = 200, seed: int = 0, progress: bool = True) -> dict[str, dict]:
    """:func:`measure_row` for every row of ``generators``, ``{row: numbers}`` (chapter 12)."""
    real_images = real_images[:n]
    real_feats = oracle.features(real_images)  # [n, F]
    return {row: measure_row(G, real_images, real_feats, oracle, n, n_ppl, seed)
            for row, G in tqdm(list(generators.items()), desc="rows", disable=not progress)}


def ablation_table_markdown(results: dict[str, dict]) -> str:
    """The measured rows beside the paper's FID on FFHQ, as a Markdown table (chapter 12)."""
    header = ("| row | what it adds | paper FID (FFHQ) | FD | KID | SWD ×10³ | PPL Z | PPL W | "
              "sep. Z | sep. W | FD, 2 latents |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [header]
    for row, r in results.items():
        mixed = "–" if r["fd_mixed"] is None else f"{r['fd_mixed']:.2f}"
        lines.append(f"| {row} | {ROW_NAMES[row]} | {PAPER_TABLE1_FID[row][1]:.2f} | {r['fd']:.2f} | "
                     f"{r['kid']:.3f} | {r['swd']:.1f} | {r['ppl_z']:.0f} | {r['ppl_w']:.0f} | "
                     f"{r['sep_z']:.2f} | {r['sep_w']:.2f} | {mixed} |")
    return "\n".join(lines)
