"""Network configurations: the paper's networks, smaller ones that train here, and the ablation.

One dataclass, :class:`NetworkConfig`, describes a generator and a discriminator completely.
The same code builds the CPU-sized ``cpu-tiny`` and the paper's 1024² network; only the numbers
change. The switches behind the paper's Table 1 (rows A to F), Table 2 (mixing rate) and
Table 4 (mapping depth) are fields too, so an ablation is just another configuration:

====  ======================================================================================
row   what changes (cumulative)
====  ======================================================================================
A     ProGAN baseline: latent at the input, pixel norm, no styles, no mapping, no noise, no
      blur, no mixing
B     + blurred (bilinear-like) up/down-sampling
C     + 8-layer mapping network and styles (instance norm + style step instead of pixel norm)
D     + learned constant input instead of the latent
E     + noise inputs
F     + mixing regularisation (90 %): the paper's StyleGAN
====  ======================================================================================

Use :func:`get_config` (``get_config("paper-1024")``, ``get_config("cpu-tiny", resolution=16)``)
or :func:`apply_ablation` to turn any configuration into a row of Table 1.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

# The paper's one-GPU minibatch per resolution (4 at 1024²).
PAPER_BATCH_SIZES = {4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4, 1024: 4}
# The paper's learning rate per resolution (0.001 below 128²).
PAPER_LEARNING_RATES = {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}


def check_resolution(resolution: int, name: str = "resolution", maximum: int | None = None) -> int:
    """Return ``resolution`` if it is a power of two >= 4 (and <= ``maximum``), else ValueError."""
    ok = (isinstance(resolution, int) and not isinstance(resolution, bool) and resolution >= 4
          and resolution & (resolution - 1) == 0)
    if not ok:
        raise ValueError(f"{name} must be a power of two >= 4, got {resolution!r}")
    if maximum is not None and resolution > maximum:
        raise ValueError(
            f"{name} must be a power of two between 4 and the network's resolution {maximum}, "
            f"got {resolution!r}"
        )
    return resolution


@dataclass
class NetworkConfig:
    """Everything that defines a StyleGAN v1 generator and discriminator (defaults: the paper).

    Channels follow the release: stage ``s`` (resolution ``2**(s+1)``) has
    ``nf(s) = min(int(fmap_base / 2**(s * fmap_decay)), fmap_max)`` feature maps.
    """

    name: str = "paper-1024"
    resolution: int = 1024
    img_channels: int = 3
    # latents and mapping network
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    mapping_width: int = 512
    mapping_lrmul: float = 0.01
    normalize_z: bool = True
    # channel counts
    fmap_base: int = 8192
    fmap_decay: float = 1.0
    fmap_max: int = 512
    # the switches of Table 1
    use_styles: bool = True
    const_input: bool = True
    use_noise: bool = True
    use_pixel_norm: bool = False
    use_instance_norm: bool = True
    blur_filter: tuple[int, ...] | None = (1, 2, 1)
    style_mixing_prob: float = 0.9
    # resampling and discriminator details
    fused_resolution: int | None = 128
    mbstd_group_size: int = 4
    mbstd_num_features: int = 1
    # generator-side statistics
    w_avg_beta: float = 0.995
    truncation_psi: float = 0.7
    truncation_cutoff: int = 8
    # training facts the networks are sized for (used by the benchmark and the trainer)
    batch_sizes: dict[int, int] = field(default_factory=lambda: dict(PAPER_BATCH_SIZES))
    learning_rates: dict[int, float] = field(default_factory=lambda: dict(PAPER_LEARNING_RATES))
    base_learning_rate: float = 0.001
    phase_kimg: int = 600
    total_kimg: int = 25000

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise a ValueError naming the first field whose value makes no network."""
        check_resolution(self.resolution)
        for name in ("img_channels", "z_dim", "w_dim", "mapping_width", "fmap_base", "fmap_max"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.mapping_layers, int) or self.mapping_layers < 0:
            raise ValueError(f"mapping_layers must be an integer >= 0, got {self.mapping_layers!r}")
        if self.mapping_layers == 0 and self.z_dim != self.w_dim:
            raise ValueError(
                f"with mapping_layers=0, w is the normalised z, so w_dim must equal z_dim "
                f"({self.z_dim}), got w_dim={self.w_dim!r}"
            )
        if not 0.0 <= self.style_mixing_prob <= 1.0:
            raise ValueError(f"style_mixing_prob must be in [0, 1], got {self.style_mixing_prob!r}")
        if not 0.0 < self.mapping_lrmul:
            raise ValueError(f"mapping_lrmul must be positive, got {self.mapping_lrmul!r}")
        if self.fused_resolution is not None:
            check_resolution(self.fused_resolution, "fused_resolution")
        if self.mbstd_group_size < 0 or self.mbstd_num_features < 1:
            raise ValueError(
                f"mbstd_group_size must be >= 0 and mbstd_num_features >= 1, got "
                f"{self.mbstd_group_size!r} and {self.mbstd_num_features!r}"
            )
        if self.blur_filter is not None and len(self.blur_filter) % 2 == 0:
            raise ValueError(
                f"blur_filter must be None or an odd number of taps (it keeps the size), "
                f"got {self.blur_filter!r}"
            )
        for res in range(2, self.log2_resolution + 1):
            if self.channels_at(2**res) < 1:
                raise ValueError(
                    f"fmap_base={self.fmap_base} gives zero channels at {2**res}²; "
                    f"raise fmap_base or lower fmap_decay"
                )

    # ---- derived numbers ----------------------------------------------------------------

    @property
    def log2_resolution(self) -> int:
        """``log2(resolution)``: 10 for 1024²."""
        return int(math.log2(self.resolution))

    @property
    def num_layers(self) -> int:
        """Synthesis layers (and entries of ``ws``): two per resolution, ``2 log2(res) - 2``."""
        return 2 * self.log2_resolution - 2

    @property
    def resolutions(self) -> list[int]:
        """Every level of detail, ``[4, 8, ..., resolution]``."""
        return [2**r for r in range(2, self.log2_resolution + 1)]

    def nf(self, stage: int) -> int:
        """Feature maps at ``stage``: ``min(int(fmap_base / 2**(stage * fmap_decay)), fmap_max)``."""
        return min(int(self.fmap_base / (2.0 ** (stage * self.fmap_decay))), self.fmap_max)

    def channels_at(self, resolution: int) -> int:
        """Feature maps of the synthesis layers (and discriminator block) at ``resolution``."""
        return self.nf(int(math.log2(resolution)) - 1)

    def batch_size_at(self, resolution: int) -> int:
        """Minibatch size while training at ``resolution`` (the largest listed one below it)."""
        known = [r for r in sorted(self.batch_sizes) if r <= resolution]
        return self.batch_sizes[known[-1]] if known else self.batch_sizes[min(self.batch_sizes)]

    def learning_rate_at(self, resolution: int) -> float:
        """Adam's learning rate at ``resolution`` (``base_learning_rate`` unless listed)."""
        return self.learning_rates.get(resolution, self.base_learning_rate)

    def fused_at(self, resolution: int) -> bool:
        """Whether resampling convolutions producing/consuming ``resolution``² are fused."""
        return self.fused_resolution is not None and resolution >= self.fused_resolution

    def replace(self, **overrides) -> "NetworkConfig":
        """A copy with some fields changed (validated); unknown field names raise ValueError."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown NetworkConfig field(s) {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **overrides)


# --------------------------------------------------------------------------------------------
# The ablation (Table 1), mixing rate (Table 2) and mapping depth (Table 4)
# --------------------------------------------------------------------------------------------

# Each row's changes, applied cumulatively A, B, ..., F.
_ABLATION_STEPS: dict[str, dict] = {
    "A": dict(use_styles=False, const_input=False, use_noise=False, use_pixel_norm=True,
              use_instance_norm=False, blur_filter=None, style_mixing_prob=0.0,
              mapping_layers=0),
    "B": dict(blur_filter=(1, 2, 1)),
    "C": dict(use_styles=True, use_pixel_norm=False, use_instance_norm=True, mapping_layers=8),
    "D": dict(const_input=True),
    "E": dict(use_noise=True),
    "F": dict(style_mixing_prob=0.9),
}
ABLATION_ROWS = tuple(_ABLATION_STEPS)


def apply_ablation(config: NetworkConfig, row: str) -> NetworkConfig:
    """``config`` turned into row ``row`` ("A" ... "F") of the paper's Table 1.

    Row A has no mapping network, so ``w`` is the pixel-normalised ``z`` and ``w_dim`` is set to
    ``z_dim``; rows C to F restore the config's mapping width.
    """
    if row not in _ABLATION_STEPS:
        raise ValueError(f"row must be one of {ABLATION_ROWS}, got {row!r}")
    changes: dict = {}
    for step in ABLATION_ROWS[: ABLATION_ROWS.index(row) + 1]:
        changes.update(_ABLATION_STEPS[step])
    if changes["mapping_layers"] == 0:
        changes["w_dim"] = config.z_dim
    return config.replace(name=f"{config.name}/ablation-{row}", **changes)


def mixing_study(config: NetworkConfig, probs=(0.0, 0.5, 0.9, 1.0)) -> dict[float, NetworkConfig]:
    """Table 2: ``config`` with each style-mixing probability in ``probs``."""
    return {p: config.replace(name=f"{config.name}/mixing-{round(100 * p)}", style_mixing_prob=p)
            for p in probs}


def mapping_depth_study(config: NetworkConfig, depths=(0, 1, 2, 8)) -> dict[int, NetworkConfig]:
    """Table 4: ``config`` with each mapping-network depth in ``depths`` (0 = w is normalised z)."""
    out = {}
    for d in depths:
        extra = {"w_dim": config.z_dim} if d == 0 else {}
        out[d] = config.replace(name=f"{config.name}/mapping-{d}", mapping_layers=d, **extra)
    return out


# --------------------------------------------------------------------------------------------
# Named configurations
# --------------------------------------------------------------------------------------------


def _paper_1024() -> NetworkConfig:
    """Exactly the paper's FFHQ network: 26,219,627 generator parameters."""
    return NetworkConfig(name="paper-1024")


def _paper_256() -> NetworkConfig:
    """The paper's network at 256² (LSUN bedrooms/cars/cats used this size class)."""
    return NetworkConfig(name="paper-256", resolution=256)


def _colab_64() -> NetworkConfig:
    """A 64² StyleGAN for a Colab T4, about an hour of training.

    All of the paper's structure (8-layer mapping with lrmul 0.01, styles, noise, mixing,
    blur, growing from 4²) at a quarter of its width: ``z``, ``w`` and the mapping are 256
    wide, the synthesis has 128 channels up to 32² and 64 at 64² (G 2.27 M parameters,
    D 1.41 M). Schedule: ``phase_kimg = 120`` per level of detail (the first half steady, the
    second half fading the next level in), 5 levels, 600 kimg in all; batch 64 up to 16²,
    then 32.

    Why an hour on a T4: counting every multiply-add of one training step (G step with
    mixing, D step with R1's double backward; ``benchmarks/bench_networks.py`` counts them
    with PyTorch's FLOP counter) gives 0.09, 0.70, 3.1, 12.8 and 27.4 GFLOP per image at
    4², 8², 16², 32² and 64², about 16 times the generator's forward pass. 120 kimg at each
    level is 120,000 * 44.1 GFLOP = 5.3 PFLOP. A T4 peaks at 8.1 TFLOP/s in FP32; GAN
    training with small channel counts and many small kernels reaches roughly a quarter of
    that, ~2 TFLOP/s (the paper's 41 days on one V100 for ~2e19 FLOP is about a third of
    the V100's peak), which gives 2,650 s, ~45 minutes, plus data loading, checkpoints and
    samples: about an hour. This is an estimate from FLOPs: no GPU was available to measure
    it. On one CPU core the same step runs at 22-43 GFLOP/s, 0.9 img/s at 64² (see
    ``benchmarks/networks.md``): the full schedule would take days there.

    Measured on one H100: the 600-kimg schedule took 21 minutes (1,635 img/s at 4², 312 at
    64²). The network is too small to fill such a GPU, so launches, not FLOPs, set the pace, and
    fp16 mixed precision was slower, not faster (``benchmarks/training.md``). The generator
    that ships as ``pretrained:faces64`` is this configuration trained for 656 kimg.
    """
    return NetworkConfig(
        name="colab-64", resolution=64, z_dim=256, w_dim=256, mapping_width=256,
        fmap_base=2048, fmap_max=128,
        batch_sizes={4: 64, 8: 64, 16: 64, 32: 32, 64: 32},
        learning_rates={}, phase_kimg=120, total_kimg=600,
    )


def _cpu_tiny() -> NetworkConfig:
    """A 32² StyleGAN for a laptop CPU: 64/64/32/16 channels, ``z`` and ``w`` of 64.

    Every part of the paper's structure is present (8-layer mapping with lrmul 0.01, learned
    constant, noise, styles, blur, mixing, minibatch stddev); only widths are small.
    A training step costs 0.02, 0.17, 0.40 and 0.63 GFLOP per image at 4², 8², 16² and 32²;
    at the ~22 GFLOP/s measured on one CPU core (35 img/s at 32²) the 80 kimg schedule
    (20 kimg per level) takes about 20 minutes.
    """
    return NetworkConfig(
        name="cpu-tiny", resolution=32, z_dim=64, w_dim=64, mapping_width=64,
        fmap_base=256, fmap_max=64,
        batch_sizes={4: 32, 8: 32, 16: 16, 32: 16},
        learning_rates={}, base_learning_rate=0.002, phase_kimg=20, total_kimg=80,
    )


_BUILDERS = {
    "paper-1024": _paper_1024,
    "paper-256": _paper_256,
    "colab-64": _colab_64,
    "cpu-tiny": _cpu_tiny,
}
for _row in ABLATION_ROWS:
    _BUILDERS[f"ablation-{_row}"] = (
        lambda row=_row: apply_ablation(_cpu_tiny(), row).replace(name=f"ablation-{row}")
    )

CONFIG_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def get_config(name: str, **overrides) -> NetworkConfig:
    """The named configuration, with ``overrides`` applied (e.g. ``resolution=16``).

    Names: ``paper-1024``, ``paper-256``, ``colab-64``, ``cpu-tiny`` and ``ablation-A`` ...
    ``ablation-F`` (Table 1's rows on the ``cpu-tiny`` widths).
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown config name {name!r}; known: {', '.join(CONFIG_NAMES)}")
    config = _BUILDERS[name]()
    return config.replace(**overrides) if overrides else config


# --------------------------------------------------------------------------------------------
# Sizes, and the ``stylegan-tutorial configs`` command
# --------------------------------------------------------------------------------------------


def parameter_counts(config: NetworkConfig) -> dict[str, int]:
    """Trainable parameters of the generator (``G``, ``mapping``, ``synthesis``, ``to_rgb``) and ``D``.

    The networks are built on PyTorch's ``meta`` device: shapes only, no memory, so even the
    1024² networks are counted instantly.
    """
    import torch  # here, so that importing the configs stays free of torch

    from stylegan_tutorial.discriminator import Discriminator
    from stylegan_tutorial.generator import Generator

    def count(module) -> int:
        return sum(p.numel() for p in module.parameters() if p.requires_grad)

    with torch.device("meta"):
        G, D = Generator(config), Discriminator(config)
    to_rgb = count(G.synthesis.to_rgb)
    return {"G": count(G), "mapping": count(G.mapping), "synthesis": count(G.synthesis) - to_rgb,
            "to_rgb": to_rgb, "D": count(D)}


def describe(names: Sequence[str] = CONFIG_NAMES) -> str:
    """A table of the named configurations: resolution, layers, channels per resolution, sizes."""
    rows = [("name", "res", "layers", "channels 4² → top", "G params", "D params")]
    for name in names:
        cfg = get_config(name)
        sizes = parameter_counts(cfg)
        channels = " ".join(str(cfg.channels_at(r)) for r in cfg.resolutions)
        rows.append((name, f"{cfg.resolution}²", str(cfg.num_layers), channels,
                     f"{sizes['G']:,}", f"{sizes['D']:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    align = ["<", ">", ">", "<", ">", ">"]
    return "\n".join("  ".join(f"{c:{a}{w}}" for c, a, w in zip(r, align, widths)) for r in rows)


def add_arguments(parser) -> None:
    """Options of ``stylegan-tutorial configs``."""
    parser.add_argument("--show", metavar="NAME",
                        help="print every field of one configuration instead of the table")


def run(args) -> int:
    """List the named configurations (or show one in full); return the exit code."""
    if args.show:
        cfg = get_config(args.show)
        for f in dataclasses.fields(cfg):
            print(f"{f.name:20} {getattr(cfg, f.name)!r}")
        sizes = parameter_counts(cfg)
        print("parameters           " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
        return 0
    print(describe())
    return 0
