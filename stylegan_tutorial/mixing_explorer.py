"""Style mixing at every crossover, and an explorer to drag it (chapter 8).

During training, the mixing regularisation (:meth:`Generator.mixing_regularization
<stylegan_tutorial.generator.Generator.mixing_regularization>`) gives the layers before a random
*crossover* ``c`` the style of one latent and the layers from ``c`` on the style of another.
Sweeping ``c`` over a trained generator shows which layers carry what:

    frame c:  ws[:, l] = w_A  for l < c,   ws[:, l] = w_B  for l >= c,   c = 0, 1, ..., L

so frame 0 is source B itself, frame ``L`` (the number of layers) is source A itself, and frame
``c`` in between is the mix the regularisation would make with that crossover
(:func:`crossover_sweep`). Layers come two per resolution, 4² first
(:func:`stylegan_tutorial.lod.num_layers_at`), so a crossover is also a resolution: below it the
image's coarse structure, from it on the finer scales (:func:`crossover_caption`).

:func:`mixing_explorer` puts the sweep under three controls (seed A, seed B, the crossover) for
Jupyter and Colab; like every widget of the course, it carries a static PNG for the HTML book,
which cannot run widgets.
"""

from __future__ import annotations

import base64

import numpy as np
import torch

from stylegan_tutorial.generate import z_from_seeds
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.images import to_uint8
from stylegan_tutorial.lod import num_layers_at, resolutions_up_to
from stylegan_tutorial.widgets import png_bytes, upscale

Tensor = torch.Tensor


def layer_resolution(G: Generator, layer: int) -> int:
    """The resolution at which layer ``layer`` of ``G``'s synthesis network works (chapter 8).

    Two layers per resolution, 4² first: layers 0–1 are 4², 2–3 are 8², and so on
    (:func:`stylegan_tutorial.lod.num_layers_at`).
    """
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < G.num_layers:
        raise ValueError(f"layer must be an integer in [0, {G.num_layers}), got {layer!r}")
    return next(r for r in resolutions_up_to(G.config.resolution) if num_layers_at(r) > layer)


def check_crossover(G: Generator, crossover) -> int:
    """Return ``crossover`` if it is an integer in ``[0, G.num_layers]``, else ValueError (chapter 8).

    0 means every layer from B, ``G.num_layers`` every layer from A; the mixes of the training
    regularisation are the values in between.
    """
    if isinstance(crossover, bool) or not isinstance(crossover, (int, np.integer)) \
            or not 0 <= crossover <= G.num_layers:
        raise ValueError(f"crossover must be an integer in [0, {G.num_layers}] (0: all from B, "
                         f"{G.num_layers}: all from A), got {crossover!r}")
    return int(crossover)


def crossover_caption(G: Generator, crossover: int) -> str:
    """Which layers, and which resolutions, each source gives at ``crossover`` (chapter 8).

    ``crossover_caption(G, 4)`` for a 64² generator: ``"layers 0–3 (4²–8²) from A, 4–9 (16²–64²)
    from B"``.
    """
    c, n = check_crossover(G, crossover), G.num_layers

    def span(layers: range) -> str:
        lo, hi = layers[0], layers[-1]
        res = [layer_resolution(G, i) for i in (lo, hi)]
        where = f"{res[0]}²" if res[0] == res[1] else f"{res[0]}²–{res[1]}²"
        return (f"{lo}" if lo == hi else f"{lo}–{hi}") + f" ({where})"

    if c == 0:
        return f"every layer from B (0–{n - 1})"
    if c == n:
        return f"every layer from A (0–{n - 1})"
    return f"layers {span(range(0, c))} from A, {span(range(c, n))} from B"


@torch.no_grad()
def crossover_sweep(G: Generator, seed_a: int, seed_b: int, psi: float = 1.0,
                    noise_mode: str = "fixed") -> Tensor:
    """The mix of sources A and B at every crossover, ``c = 0 .. G.num_layers`` (chapter 8).

    Args:
        G:          the generator.
        seed_a:     source A's seed (:func:`stylegan_tutorial.generate.z_from_seeds`): it gives
                    the layers before the crossover.
        seed_b:     source B's seed: it gives the layers from the crossover on.
        psi:        truncation of both sources before mixing (1: none).
        noise_mode: ``"fixed"`` (the stored noise: the same seeds, the same pictures),
                    ``"random"`` or ``"none"``.

    Returns ``[G.num_layers + 1, C, R, R]`` on ``G``'s device: frame ``c`` takes A's ``w`` on
    layers ``< c`` and B's on the rest, so frame 0 is B and the last frame is A; frames
    ``1 .. L-1`` are :meth:`Generator.mix <stylegan_tutorial.generator.Generator.mix>` with the
    crossover ``c``.
    """
    device = next(G.parameters()).device
    ws = G.broadcast(G.mapping(z_from_seeds([seed_a, seed_b], G.z_dim).to(device)))  # [2, L, w_dim]
    if psi != 1.0:
        ws = G.truncate(ws, psi)
    ws_a, ws_b = ws[:1], ws[1:]  # [1, L, w_dim] each
    frames = [ws_b] + [G.mix(ws_a, ws_b, c) for c in range(1, G.num_layers)] + [ws_a]
    return G.synthesis(torch.cat(frames), noise_mode=noise_mode)  # [L + 1, C, R, R]


def mixing_explorer(G: Generator, seed_a: int, seed_b: int, crossover: int, static_png: bytes,
                    psi: float = 1.0, max_seed: int = 9999, scale: int = 3):
    """Seeds A and B and the crossover as controls over A, their mix and B (chapter 8).

    Args:
        G:          the generator.
        seed_a:     source A's first seed (it gives the layers before the crossover).
        seed_b:     source B's first seed (the layers from the crossover on).
        crossover:  the first crossover shown, in ``[0, G.num_layers]``.
        static_png: what the static HTML book shows instead of the live controls, e.g. every
                    crossover of the first seeds
                    (:func:`stylegan_tutorial.widgets.snapshot_strip_png` of
                    :func:`crossover_sweep`).
        psi:        truncation of both sources (1: none).
        max_seed:   the largest seed the seed boxes accept.
        scale:      nearest-neighbour enlargement of the 64² images on screen.

    Changing a seed renders that pair's whole sweep once (``G.num_layers + 1`` images); moving
    the crossover only swaps images. Returns an ipywidgets box whose display bundle also
    carries ``static_png``.
    """
    import ipywidgets as widgets

    check_crossover(G, crossover)
    fallback = base64.b64encode(static_png).decode("ascii")

    class MixingExplorer(widgets.VBox):
        """A VBox whose display bundle also carries the static PNG for the book."""

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs)
            bundle["image/png"] = fallback
            return bundle

    box_a = widgets.BoundedIntText(value=seed_a, min=0, max=max_seed, description="seed A")
    box_b = widgets.BoundedIntText(value=seed_b, min=0, max=max_seed, description="seed B")
    slider = widgets.IntSlider(value=crossover, min=0, max=G.num_layers, description="crossover",
                               continuous_update=True)
    caption = widgets.Label()
    images = [widgets.Image(format="png") for _ in range(3)]  # A, the mix, B
    titles = [widgets.Label(t) for t in ("source A", "the mix", "source B")]
    frames: list[bytes] = []

    def render(_=None) -> None:
        sweep = to_uint8(crossover_sweep(G, box_a.value, box_b.value, psi))  # [L + 1, R, R, 3]
        frames[:] = [png_bytes(upscale(f, scale)) for f in sweep]
        images[0].value, images[2].value = frames[-1], frames[0]
        show()

    def show(_=None) -> None:
        images[1].value = frames[slider.value]
        caption.value = f"crossover {slider.value}: {crossover_caption(G, slider.value)}"

    box_a.observe(render, names="value")
    box_b.observe(render, names="value")
    slider.observe(show, names="value")
    render()
    columns = [widgets.VBox([t, im]) for t, im in zip(titles, images)]
    return MixingExplorer([widgets.HBox([box_a, box_b]), slider, caption, widgets.HBox(columns)])
