"""Do StyleGAN2's droplet artefacts appear in the course's shipped 64² generator? (page "Beyond StyleGAN")

    python scripts/beyond_droplets.py            # about 4 s on two CPU cores; downloads nothing

StyleGAN2 (Karras et al. 2020) traced the blob-shaped "droplets" of StyleGAN's images to instance
normalisation: because it divides every feature map by its own standard deviation, the
generator can still pass a map's overall strength on by making a sharp local spike that
dominates the map's statistics. This script looks for such spikes in ``pretrained:faces64``.

For 16 faces (seeds 0-15, stored noise) it records, in every synthesis layer, the activation
that enters instance normalisation (the output of ``layer.act``, the LeakyReLU: see
``SynthesisLayer.forward``) and measures for every map, after removing its mean as instance
norm does:

- ``peak/RMS``: the largest absolute value divided by the standard deviation;
- ``3x3 share``: the part of the map's energy (sum of squares) held by the 3×3 pixels around
  the peak;
- where the peak is, and whether the other channels of the same face peak at the same spot.

The baseline is white noise: Gaussian maps of the same shape, measured by the same code. Their
peak/RMS is about ``sqrt(2 ln N)`` for N pixels (4.1 at 64²). As a control, the same numbers
are printed for the 32² generators of chapter 12's ablation, rows A and B (pixel norm, no
instance norm) and C to F (instance norm), and for ``faces32-cpu``.

It prints the tables and writes one figure, ``book/_static/beyond/droplets.png``.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from stylegan_tutorial.generate import z_from_seeds  # noqa: E402
from stylegan_tutorial.shipped import load_pretrained  # noqa: E402

SEEDS = range(16)
SPIKY = 8.0  # a map counts as spiky above this peak/RMS: about twice sqrt(2 ln N) = 4.1 at 64²
NEAR = 2  # a peak "at the same spot" lies within this many pixels (Chebyshev) of the face's strongest
CROP = 20  # side of the square cut out around a spike for the figure (px)
OUT = ROOT / "book" / "_static" / "beyond" / "droplets.png"
Tensor = torch.Tensor


@torch.no_grad()
def record_pre_norm(G, seeds) -> tuple[Tensor, list[Tensor]]:
    """The images of ``seeds`` and, per layer, the activation that enters instance normalisation.

    Returns ``images [N, 3, R, R]`` in [-1, 1] and a list with one ``[N, C, H, W]`` per layer.
    """
    assert G.config.use_instance_norm and not G.config.use_pixel_norm, "expects AdaIN layers"
    acts: dict[int, Tensor] = {}
    hooks = [layer.act.register_forward_hook(lambda m, i, out, k=k: acts.__setitem__(k, out.float()))
             for k, layer in enumerate(G.synthesis.layers)]
    try:
        images = G(z_from_seeds(seeds, G.z_dim), noise_mode="fixed").float()  # [N, 3, R, R]
    finally:
        for h in hooks:
            h.remove()
    return images, [acts[k] for k in sorted(acts)]


def map_stats(x: Tensor) -> dict[str, Tensor]:
    """Peak/RMS, 3×3 energy share and peak position of every map of ``x [N, C, H, W]``.

    The mean of each map is removed first, as instance normalisation removes it. Returns tensors
    ``ratio [N, C]``, ``share [N, C]``, ``row [N, C]`` and ``col [N, C]``.
    """
    n, c, h, w = x.shape
    xc = x - x.mean(dim=(2, 3), keepdim=True)
    energy = xc.square()  # [N, C, H, W]
    rms = energy.mean(dim=(2, 3)).sqrt().clamp_min(1e-12)  # [N, C]
    peak = energy.flatten(2).argmax(dim=2)  # [N, C], index into H*W
    ratio = energy.flatten(2).amax(dim=2).sqrt() / rms
    box = F.avg_pool2d(energy.view(n * c, 1, h, w), 3, stride=1, padding=1, count_include_pad=True) * 9
    near_peak = box.flatten(1).gather(1, peak.view(-1, 1)).view(n, c)  # [N, C]: energy of the 3×3 box
    share = near_peak / energy.sum(dim=(2, 3)).clamp_min(1e-24)
    return {"ratio": ratio, "share": share, "row": peak // w, "col": peak % w}


def colocated(stats: dict[str, Tensor]) -> Tensor:
    """Per face, the fraction of channels whose peak lies within ``NEAR`` px of the strongest map's peak.

    Returns ``[N]``.
    """
    top = stats["ratio"].argmax(dim=1, keepdim=True)  # [N, 1], the most spiky channel of each face
    r0, c0 = stats["row"].gather(1, top), stats["col"].gather(1, top)  # [N, 1]
    dist = torch.maximum((stats["row"] - r0).abs(), (stats["col"] - c0).abs())  # [N, C]
    return (dist <= NEAR).float().mean(dim=1)


def white_noise_like(x: Tensor, seed: int = 0) -> Tensor:
    """Gaussian maps with the shape of ``x [N, C, H, W]``: the baseline without any structure."""
    return torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))


def layer_table(acts: list[Tensor]) -> list[dict]:
    """One row per layer: the maps' statistics beside white noise's, and the raw stats for later."""
    rows = []
    for k, x in enumerate(acts):
        s, s0 = map_stats(x), map_stats(white_noise_like(x, seed=k))
        rows.append({
            "layer": k, "res": x.shape[-1], "channels": x.shape[1], "stats": s, "noise": s0,
            "median": s["ratio"].median().item(), "p99": s["ratio"].quantile(0.99).item(),
            "noise_median": s0["ratio"].median().item(), "noise_max": s0["ratio"].max().item(),
            "spiky": (s["ratio"] > SPIKY).float().mean().item(),
            "noise_spiky": (s0["ratio"] > SPIKY).float().mean().item(),
            "share": s["share"].median().item(), "noise_share": s0["share"].median().item(),
            "coloc": colocated(s).mean().item(), "noise_coloc": colocated(s0).mean().item(),
        })
    return rows


def print_layers(rows: list[dict]) -> None:
    """Print the per-layer table (all maps of all faces)."""
    print(f"Per layer, {len(SEEDS)} faces x C channels, every map's mean removed (as instance norm does).")
    print(f"spiky: peak/RMS > {SPIKY:g}; same spot: peak within {NEAR} px of the peak of the face's most")
    print("spiky map; ceiling: the largest peak/RMS an H x W map can have, sqrt(HW - 1);")
    print("in brackets: white noise of the same shape, measured the same way")
    print(f"{'res':>5} {'layer':>5} {'C':>4} | {'peak/RMS median':>16} {'p99':>5} {'noise max':>9}"
          f" {'ceiling':>7} | {'spiky':>11} | {'3x3 share (median)':>18} | {'same spot':>11}")
    for r in rows:
        ceiling = math.sqrt(r["res"] ** 2 - 1)
        print(f"{r['res']:>3}² {r['layer']:>5} {r['channels']:>4} |"
              f" {r['median']:>6.1f} ({r['noise_median']:>4.1f})    {r['p99']:>5.1f} {r['noise_max']:>9.1f}"
              f" {ceiling:>7.1f} | {r['spiky']:>4.0%} ({r['noise_spiky']:>3.0%}) |"
              f" {r['share']:>7.3f} ({r['noise_share']:.3f}) | {r['coloc']:>4.0%} ({r['noise_coloc']:>3.0%})")


def top_channels(rows: list[dict], res: int, k: int = 3) -> list[tuple[int, int, dict]]:
    """The ``k`` maps at resolution ``res`` with the highest median peak/RMS over the faces.

    Returns ``(layer, channel, numbers)`` tuples, most spiky first.
    """
    found = []
    for r in rows:
        if r["res"] != res:
            continue
        s = r["stats"]
        for c in range(r["channels"]):
            ratio = s["ratio"][:, c]  # [N], one value per face
            found.append((r["layer"], c, {
                "median": ratio.median().item(), "min": ratio.min().item(),
                "faces_spiky": int((ratio > SPIKY).sum()), "share": s["share"][:, c].median().item(),
                "row_sd": s["row"][:, c].float().std().item(), "col_sd": s["col"][:, c].float().std().item(),
            }))
    return sorted(found, key=lambda t: -t[2]["median"])[:k]


def print_top(rows: list[dict]) -> dict[int, list]:
    """Print, per resolution, the most spiky channels and how far their peak moves between faces."""
    print(f"\nMost spiky channels per resolution (over the {len(SEEDS)} faces)")
    print(f"{'res':>5} {'layer':>5} {'ch':>4} | {'peak/RMS median':>15} {'min':>5} | {'faces spiky':>11}"
          f" | {'3x3 share':>9} | {'peak position sd (rows, cols)':>29}")
    tops = {}
    for res in sorted({r["res"] for r in rows}):
        tops[res] = top_channels(rows, res)
        for layer, c, t in tops[res]:
            print(f"{res:>3}² {layer:>5} {c:>4} | {t['median']:>15.1f} {t['min']:>5.1f} |"
                  f" {t['faces_spiky']:>5}/{len(SEEDS):<5} | {t['share']:>9.3f} |"
                  f" {t['row_sd']:>13.1f} px, {t['col_sd']:.1f} px")
    return tops


def print_peak_places(rows: list[dict], layer: int) -> None:
    """Per face, where the most spiky map of ``layer`` peaks and how many channels share that spot."""
    s = rows[layer]["stats"]
    top = s["ratio"].argmax(dim=1)  # [N]
    frac = colocated(s)  # [N]
    places = [f"({s['row'][n, top[n]].item()},{s['col'][n, top[n]].item()}) {frac[n]:.0%}"
              for n in range(len(SEEDS))]
    print(f"\nLayer {layer}: per face, the strongest spike's (row, col) and the channels peaking within"
          f" {NEAR} px of it")
    for i in range(0, len(places), 4):
        line = "   ".join(f"seed {i + j:>2}: {p:<15}" for j, p in enumerate(places[i:i + 4]))
        print(("  " + line).rstrip())


def control_rows() -> None:
    """The same two numbers at 32² in chapter 12's ablation generators and in faces32-cpu."""
    print("\nControl: the last 32² layer of the shipped 32² generators (same seeds)")
    print(f"{'generator':>14} {'norm':>14} {'kimg':>5} | {'peak/RMS median':>15} {'p99':>5} | {'spiky':>5}"
          f" | {'same spot':>9}")
    for name in [f"ablation-{row}" for row in "ABCDEF"] + ["faces32-cpu"]:
        G = load_pretrained(name).eval()
        acts: dict[int, Tensor] = {}
        last = G.synthesis.layers[-1]
        hook = last.act.register_forward_hook(lambda m, i, out, store=acts: store.__setitem__(0, out.float()))
        with torch.no_grad():
            G(z_from_seeds(SEEDS, G.z_dim), noise_mode="fixed")
        hook.remove()
        s = map_stats(acts[0])  # acts[0]: [N, C, 32, 32]
        norm = "instance norm" if G.config.use_instance_norm else "pixel norm"
        print(f"{name:>14} {norm:>14} {G.trained_kimg:>5.0f} | {s['ratio'].median():>15.1f}"
              f" {s['ratio'].quantile(0.99):>5.1f} | {(s['ratio'] > SPIKY).float().mean():>5.0%}"
              f" | {colocated(s).mean():>9.0%}")


def pick_faces(ratio: Tensor, row: Tensor, col: Tensor, k: int = 3) -> list[int]:
    """``k`` faces whose peaks lie far apart: the most spiky face first, then greedy farthest points.

    ``ratio``, ``row`` and ``col`` are one channel's ``[N]`` peak/RMS and peak position.
    """
    pos = torch.stack([row, col], dim=1).float()  # [N, 2]
    chosen = [int(ratio.argmax())]
    while len(chosen) < k:
        dist = torch.cdist(pos, pos[chosen]).amin(dim=1)  # [N], distance to the nearest chosen peak
        chosen.append(int(dist.argmax()))
    return chosen


def crop_box(r: int, c: int, res: int, size: int = CROP) -> tuple[int, int]:
    """Top-left corner of the ``size``-pixel square centred on ``(r, c)``, moved inside the image."""
    return min(max(r - size // 2, 0), res - size), min(max(c - size // 2, 0), res - size)


def to_rgb(image: Tensor) -> Tensor:
    """``[3, R, R]`` in [-1, 1] -> ``[R, R, 3]`` in [0, 1], for imshow."""
    return ((image.permute(1, 2, 0) + 1) / 2).clamp(0, 1)


def plot_faces_and_maps(fig, grid, images: Tensor, maps: Tensor, s: dict, channel: int, faces: list[int]):
    """Rows 1 and 2: three faces (the square: row 3's crop) and the channel's map before instance norm."""
    res = images.shape[-1]
    x = maps[:, channel]  # [N, H, W]
    x = (x - x.mean(dim=(1, 2), keepdim=True)) / x.std(dim=(1, 2), unbiased=False, keepdim=True)
    vmax = float(x[faces].abs().max())
    for j, n in enumerate(faces):
        top, left = crop_box(int(s["row"][n, channel]), int(s["col"][n, channel]), res)
        ax = fig.add_subplot(grid[0, j])
        ax.imshow(to_rgb(images[n]).numpy())
        ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), CROP, CROP, fill=False, color="red", lw=1.2))
        ax.set_title(f"seed {SEEDS[n]}: the image")
        ax = fig.add_subplot(grid[1, j])
        im = ax.imshow(x[n].numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(f"channel {channel} before norm\npeak/RMS {float(s['ratio'][n, channel]):.1f}")
        for ax in fig.axes[-2:]:
            ax.set_xlabel("column (px)")
            if j == 0:
                ax.set_ylabel("row (px)")
    cax = fig.axes[-1].inset_axes([1.05, 0.0, 0.06, 1.0])
    fig.colorbar(im, cax=cax, label="value / RMS")


def plot_mosaic(ax, images: Tensor, s: dict, per_row: int = 8, gap: int = 2, label_gap: int = 9) -> None:
    """Row 3: the ``CROP``-pixel square around each face's strongest spike, all faces, enlarged."""
    n_faces, res = images.shape[0], images.shape[-1]
    n_rows = math.ceil(n_faces / per_row)
    step, step_y = CROP + gap, CROP + label_gap  # room for the labels between the rows
    mosaic = torch.ones(n_rows * step_y - label_gap, per_row * step - gap, 3)  # white gaps between crops
    top_ch = s["ratio"].argmax(dim=1)  # [N], each face's most spiky channel
    for n in range(n_faces):
        c = int(top_ch[n])
        top, left = crop_box(int(s["row"][n, c]), int(s["col"][n, c]), res)
        i, j = divmod(n, per_row)
        patch = to_rgb(images[n])[top:top + CROP, left:left + CROP]  # [CROP, CROP, 3]
        mosaic[i * step_y:i * step_y + CROP, j * step:j * step + CROP] = patch
        ax.text(j * step + CROP / 2, i * step_y - 0.8, f"seed {SEEDS[n]}", ha="center", va="bottom",
                fontsize=12)
    ax.imshow(mosaic.numpy(), interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"All {n_faces} faces: the {CROP}×{CROP} px around each face's strongest spike", pad=24)


def pooled(rows: list[dict], res: int, key: str):
    """Every map's peak/RMS at resolution ``res`` (both layers) as one array; ``key``: stats or noise."""
    return torch.cat([r[key]["ratio"].flatten() for r in rows if r["res"] == res]).numpy()


def plot_boxes(ax, rows: list[dict]) -> None:
    """Row 4: peak/RMS of every map per resolution, beside white noise maps of the same shape."""
    resolutions = sorted({r["res"] for r in rows})
    pos = torch.arange(len(resolutions)).float()
    flier, median = {"markersize": 2, "alpha": 0.5}, {"color": "black"}
    boxes = []
    for key, shift, colour in (("stats", -0.18, "tab:orange"), ("noise", 0.18, "lightgrey")):
        b = ax.boxplot([pooled(rows, q, key) for q in resolutions], positions=(pos + shift).tolist(),
                       widths=0.3, patch_artist=True, flierprops=flier, medianprops=median)
        for box in b["boxes"]:
            box.set_facecolor(colour)
        boxes.append(b["boxes"][0])
    ax.axhline(SPIKY, color="red", ls="--", lw=1)
    ax.set_xticks(pos.tolist(), [f"{q}²" for q in resolutions])
    ax.set_xlabel("resolution of the layer (two layers each)")
    ax.set_ylabel("peak / RMS of a map")
    ax.set_title(f"Every map of the {len(SEEDS)} faces, before instance norm")
    ax.legend(boxes + [ax.lines[-1]], ["faces64", "white noise, same shape", f"spiky: > {SPIKY:g}"],
              loc="upper left")


def plot(images: Tensor, acts: list[Tensor], rows: list[dict], layer: int, channel: int, path: Path) -> None:
    """The figure: three faces and one spiky map each, all faces' spike spots, peak/RMS vs white noise."""
    plt.rcParams.update({"font.size": 12, "axes.titlesize": 13})
    s = rows[layer]["stats"]
    faces = pick_faces(s["ratio"][:, channel], s["row"][:, channel], s["col"][:, channel])
    fig = plt.figure(figsize=(10, 15))
    grid = fig.add_gridspec(4, 3, height_ratios=[1, 1, 0.8, 1.1], hspace=0.5, wspace=0.3)
    plot_faces_and_maps(fig, grid, images, acts[layer], s, channel, faces)
    plot_mosaic(fig.add_subplot(grid[2, :]), images, s)
    plot_boxes(fig.add_subplot(grid[3, :]), rows)
    fig.suptitle(f"pretrained:faces64: spikes before instance norm (layer {layer}, {images.shape[-1]}²)",
                 fontsize=15, y=0.93)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)



def main() -> None:
    """Measure, print the tables and write the figure."""
    t0 = time.perf_counter()
    torch.set_grad_enabled(False)
    G = load_pretrained("faces64").eval()
    images, acts = record_pre_norm(G, SEEDS)  # images [16, 3, 64, 64]; acts: 10 × [16, C, H, W]
    print(f"pretrained:faces64 ({G.trained_kimg:.0f} kimg), seeds {SEEDS.start}-{SEEDS.stop - 1};"
          f" white noise's sqrt(2 ln N) at 64²: {math.sqrt(2 * math.log(64 * 64)):.1f}\n")
    rows = layer_table(acts)
    print_layers(rows)
    tops = print_top(rows)
    layer, channel, _ = tops[G.config.resolution][0]
    print_peak_places(rows, layer)
    control_rows()
    plot(images, acts, rows, layer, channel, OUT)
    print(f"\nwrote {OUT.relative_to(ROOT)} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
