"""Configurations: the networks, the training run, named sizes and the ablation (chapters 10, 12).

Two dataclasses hold every number of the course's StyleGAN. :class:`NetworkConfig` describes a
generator and a discriminator completely; :class:`TrainingConfig` describes one training run:
the network, the data, the schedule of progressive growing (images per level, batch size and
learning rate per resolution), the losses, the optimizer, and how the run reports and saves.
Each is validated once, when it is made.
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
or :func:`apply_ablation` to turn any configuration into a row of Table 1, and
:func:`training_config` (``training_config("colab-64", total_kimg=100)``) for a whole run with
that configuration's own schedule.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass, field

from stylegan_tutorial.lod import check_resolution, resolutions_up_to

# The paper's one-GPU minibatch per resolution (4 at 1024²).
PAPER_BATCH_SIZES = {4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4, 1024: 4}
# The paper's learning rate per resolution (0.001 below 128²).
PAPER_LEARNING_RATES = {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}



@dataclass
class NetworkConfig:
    """Everything that defines a StyleGAN v1 generator and discriminator; defaults: the paper (chapter 10).

    Channels follow the release: stage ``s`` (resolution ``2**(s+1)``) has
    ``nf(s) = min(int(fmap_base / 2**(s * fmap_decay)), fmap_max)`` feature maps.

    Args:
        name:               the configuration's name (``"paper-1024"``, ``"cpu-tiny/ablation-C"``).
        resolution:         the top resolution, a power of two >= 4: images are
                            ``[N, img_channels, resolution, resolution]``.
        img_channels:       channels of an image (3: RGB, 1: grey).
        z_dim:              width of the input latent ``z [N, z_dim]``.
        w_dim:              width of the intermediate latent ``w [N, w_dim]``; must equal
                            ``z_dim`` when ``mapping_layers`` is 0.
        mapping_layers:     dense layers of the mapping network (0: ``w`` is the normalised ``z``).
        mapping_width:      width of the mapping network's hidden layers.
        mapping_lrmul:      the mapping network's learning-rate multiplier, > 0 (0.01).
        normalize_z:        pixel-normalise ``z`` before the mapping (False: use it as drawn).
        fmap_base:          feature maps of stage 0 before the cap, in ``nf(s)`` above.
        fmap_decay:         how fast ``nf(s)`` halves with the stage (1: once per stage).
        fmap_max:           the cap on feature maps at every stage.
        use_styles:         a style step from ``ws`` in every synthesis layer (False: rows A, B).
        const_input:        start from the learned 4×4 constant (False: ProGAN's dense layer on
                            ``w``, rows A to C).
        use_noise:          per-layer noise inputs (False: rows A to D).
        use_pixel_norm:     pixel norm in every synthesis layer's epilogue (ProGAN, rows A, B).
        use_instance_norm:  instance norm in every synthesis layer's epilogue (rows C to F).
        blur_filter:        taps of the blur after each upsampling and before each downsampling
                            (None: no blur, row A).
        style_mixing_prob:  the chance of mixing regularisation per training minibatch (0: none).
        fused_resolution:   resampling convolutions at this resolution and above are fused
                            (None: never).
        mbstd_group_size:   group size of D's minibatch stddev (0 or 1: no minibatch stddev).
        mbstd_num_features: channel groups of the minibatch stddev, each with its own map.
        w_avg_beta:         decay per training step of the running mean ``w_avg`` (chapter 9).
        truncation_psi:     the truncation of the paper's figures, kept for reference: the
                            package applies none unless asked (``--psi`` defaults to 1).
        truncation_cutoff:  layers the ``generate`` command truncates unless ``--cutoff`` says.
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

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise a ValueError naming the first field whose value makes no network (chapter 10)."""
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
        if not self.mapping_lrmul > 0.0:
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
        """``log2(resolution)``: 10 for 1024² (chapter 4)."""
        return int(math.log2(self.resolution))

    @property
    def num_layers(self) -> int:
        """Synthesis layers and entries of ``ws``: two per resolution, ``2 log2(res) - 2`` (chapter 6)."""
        return 2 * self.log2_resolution - 2

    @property
    def resolutions(self) -> list[int]:
        """Every level of detail, ``[4, 8, ..., resolution]`` (chapter 4)."""
        return resolutions_up_to(self.resolution)

    def nf(self, stage: int) -> int:
        """Feature maps at ``stage`` (chapter 4).

        ``min(int(fmap_base / 2**(stage * fmap_decay)), fmap_max)``; stage ``s`` is the
        resolution ``2**(s+1)``.
        """
        return min(int(self.fmap_base / (2.0 ** (stage * self.fmap_decay))), self.fmap_max)

    def channels_at(self, resolution: int) -> int:
        """Feature maps of the synthesis layers and discriminator block at ``resolution`` (chapter 4)."""
        return self.nf(int(math.log2(resolution)) - 1)

    def fused_at(self, resolution: int) -> bool:
        """Whether resampling convolutions producing/consuming ``resolution``² are fused (chapter 4)."""
        return self.fused_resolution is not None and resolution >= self.fused_resolution

    def replace(self, **overrides) -> NetworkConfig:
        """A copy with some fields changed, validated (chapter 10); unknown field names raise ValueError."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown NetworkConfig field(s) {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **overrides)


# --------------------------------------------------------------------------------------------
# The ablation (Table 1), mixing rate (Table 2) and mapping depth (Table 4)
# --------------------------------------------------------------------------------------------

# Each row's own changes (Table 1), applied cumulatively A, B, ..., F by apply_ablation (chapter 12).
ABLATION_STEPS: dict[str, dict] = {
    "A": dict(use_styles=False, const_input=False, use_noise=False, use_pixel_norm=True,
              use_instance_norm=False, blur_filter=None, style_mixing_prob=0.0,
              mapping_layers=0),
    "B": dict(blur_filter=(1, 2, 1)),
    "C": dict(use_styles=True, use_pixel_norm=False, use_instance_norm=True, mapping_layers=8),
    "D": dict(const_input=True),
    "E": dict(use_noise=True),
    "F": dict(style_mixing_prob=0.9),
}
ABLATION_ROWS = tuple(ABLATION_STEPS)


def apply_ablation(config: NetworkConfig, row: str) -> NetworkConfig:
    """``config`` turned into row ``row`` ("A" ... "F") of the paper's Table 1 (chapter 12).

    Row A has no mapping network, so ``w`` is the pixel-normalised ``z`` and ``w_dim`` is set to
    ``z_dim``; rows C to F restore the config's mapping width.
    """
    if row not in ABLATION_STEPS:
        raise ValueError(f"row must be one of {ABLATION_ROWS}, got {row!r}")
    changes: dict = {}
    for step in ABLATION_ROWS[: ABLATION_ROWS.index(row) + 1]:
        changes.update(ABLATION_STEPS[step])
    if changes["mapping_layers"] == 0:
        changes["w_dim"] = config.z_dim
    return config.replace(name=f"{config.name}/ablation-{row}", **changes)


def mixing_study(config: NetworkConfig, probs=(0.0, 0.5, 0.9, 1.0)) -> dict[float, NetworkConfig]:
    """Table 2: ``config`` with each style-mixing probability in ``probs`` (chapter 12).

    Returns ``{prob: config}``, each named ``NAME/mixing-PERCENT``.
    """
    return {p: config.replace(name=f"{config.name}/mixing-{round(100 * p)}", style_mixing_prob=p)
            for p in probs}


def mapping_depth_study(config: NetworkConfig, depths=(0, 1, 2, 8)) -> dict[int, NetworkConfig]:
    """Table 4: ``config`` with each mapping-network depth in ``depths`` (chapter 12).

    Returns ``{depth: config}``, each named ``NAME/mapping-DEPTH``; depth 0 means ``w`` is the
    normalised ``z``, so its ``w_dim`` is set to ``z_dim``.
    """
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
    """The named network configuration, with ``overrides`` applied (chapter 10).

    Args:
        name:      ``paper-1024``, ``paper-256``, ``colab-64``, ``cpu-tiny`` or ``ablation-A``
                   ... ``ablation-F`` (Table 1's rows on the ``cpu-tiny`` widths); or a study
                   of the paper on one of the first four, ``BASE/ablation-ROW`` (Table 1),
                   ``BASE/mixing-PERCENT`` (Table 2) or ``BASE/mapping-DEPTH`` (Table 4), e.g.
                   ``colab-64/mixing-50``, trained with BASE's schedule.
        overrides: :class:`NetworkConfig` fields to change, e.g. ``resolution=16``.
    """
    base, variant = _split_name(name)
    config = _BUILDERS[base]()
    if variant is not None:
        kind, value = variant
        config = _VARIANTS[kind](config, value)
    return config.replace(**overrides) if overrides else config


def _split_name(name: str) -> tuple[str, tuple[str, str] | None]:
    """``"colab-64/mixing-50"`` -> ``("colab-64", ("mixing", "50"))``; a plain name -> ``(name, None)``.

    Raises ValueError naming the known forms when ``name`` is neither.
    """
    forms = (f"known: {', '.join(CONFIG_NAMES)}, or BASE/ablation-A ... BASE/ablation-F, "
             f"BASE/mixing-PERCENT or BASE/mapping-DEPTH with BASE one of {', '.join(_BASES)}")
    if name in _BUILDERS:
        return name, None
    base, _, variant = str(name).partition("/")
    kind, _, value = variant.partition("-")
    if base not in _BASES or kind not in _VARIANTS:
        raise ValueError(f"unknown config name {name!r}; {forms}")
    valid = {"ablation": value in ABLATION_ROWS,
             "mixing": value.isdigit() and int(value) <= 100,
             "mapping": value.isdigit() and int(value) <= 16}[kind]
    if not valid:
        raise ValueError(f"config name {name!r}: {kind!r} takes "
                         + {"ablation": f"a row of {ABLATION_ROWS}", "mixing": "a percentage 0-100",
                            "mapping": "a depth 0-16"}[kind] + f", got {value!r}")
    return base, (kind, value)


def _mixing_variant(config: NetworkConfig, percent: str) -> NetworkConfig:
    return mixing_study(config, probs=(int(percent) / 100,))[int(percent) / 100]


def _mapping_variant(config: NetworkConfig, depth: str) -> NetworkConfig:
    return mapping_depth_study(config, depths=(int(depth),))[int(depth)]


# The studies of the paper's Tables 1, 2 and 4 on any base configuration, by name (chapter 12):
# ``colab-64/ablation-C``, ``colab-64/mixing-50``, ``colab-64/mapping-2``.
_VARIANTS = {"ablation": apply_ablation, "mixing": _mixing_variant, "mapping": _mapping_variant}
_BASES = ("paper-1024", "paper-256", "colab-64", "cpu-tiny")


def ablation_diff(row: str) -> dict[str, tuple]:
    """What row ``row`` of Table 1 changes against the row before it (chapter 12).

    Returns ``{field: (before, after)}`` for every :class:`NetworkConfig` field that differs
    between ``ablation-<previous row>`` and ``ablation-<row>``; row A is compared with
    ``cpu-tiny``, the full StyleGAN, so its diff lists everything the baseline takes away.
    """
    if row not in ABLATION_ROWS:
        raise ValueError(f"row must be one of {ABLATION_ROWS}, got {row!r}")
    i = ABLATION_ROWS.index(row)
    before = get_config("cpu-tiny" if i == 0 else f"ablation-{ABLATION_ROWS[i - 1]}")
    after = get_config(f"ablation-{row}")
    return {f.name: (getattr(before, f.name), getattr(after, f.name))
            for f in dataclasses.fields(NetworkConfig)
            if f.name != "name" and getattr(before, f.name) != getattr(after, f.name)}


# --------------------------------------------------------------------------------------------
# The training run
# --------------------------------------------------------------------------------------------

LOSSES = ("logistic", "wgan-gp")

# Each named configuration's schedule (the TrainingConfig fields it sets); the paper's otherwise.
# colab-64: 120 kimg per level, 600 in all, batch 64 up to 16² then 32 (about an hour on a T4).
# cpu-tiny: 20 kimg per level, 80 in all, batch 32 then 16, lr 0.002 (about 20 min on a CPU core).
_CPU_TINY_SCHEDULE = dict(batch_sizes={4: 32, 8: 32, 16: 16, 32: 16}, learning_rates={},
                          base_learning_rate=0.002, phase_kimg=20, total_kimg=80)
_SCHEDULES: dict[str, dict] = {
    "paper-1024": {},
    "paper-256": {},
    "colab-64": dict(batch_sizes={4: 64, 8: 64, 16: 64, 32: 32, 64: 32}, learning_rates={},
                     phase_kimg=120, total_kimg=600),
    "cpu-tiny": _CPU_TINY_SCHEDULE,
    **{f"ablation-{row}": _CPU_TINY_SCHEDULE for row in ABLATION_ROWS},
}
# Fields that may change when a run is resumed: where it stops, how it reports, how fast it runs.
RESUMABLE_CHANGES = ("total_kimg", "tick_kimg", "snapshot_kimg", "keep_last", "max_bad_steps",
                     "tensorboard", "data", "channels_last", "cudnn_benchmark", "compile", "amp",
                     "amp_resolutions", "tf32", "fused_adam", "data_on_device")


def _help(text: str, **extra) -> dict:
    """Field metadata: the help text of the field's command-line flag (``commands/train.py``)."""
    return {"help": text, **extra}


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def check_phase_kimg(phase_kimg) -> float:
    """``phase_kimg`` must be a positive, finite number of thousands of images (chapter 4)."""
    if not _is_number(phase_kimg) or phase_kimg <= 0:
        raise ValueError(f"phase_kimg must be a positive number of thousands of images, "
                         f"got {phase_kimg!r}")
    return float(phase_kimg)


@dataclass
class TrainingConfig:
    """Everything that defines a training run; saved (as JSON) inside every checkpoint (chapter 10).

    Defaults are the paper's configuration F with its FFHQ schedule: logistic loss with R1
    (gamma 10, every step), mixing 0.9 (from the network), G_ema half-life 10 kimg,
    Adam(0, 0.99, 1e-8), mirror augmentation, 600 kimg per level of detail. The named
    configurations change the schedule to their size (:func:`training_config`).

    Args:
        network: the generator's and discriminator's :class:`NetworkConfig` (default: the
                 paper's ``paper-1024``).

    Every other field is documented where it is declared, one per line, by its ``help``
    metadata; that text is also the help of its ``stylegan-tutorial train`` flag
    (``--phase-kimg`` for ``phase_kimg``).
    """

    network: NetworkConfig = field(default_factory=lambda: get_config("paper-1024"))
    data: str = field(default="faces", metadata=_help(
        "'faces' (generated faces), 'faces:n=5000', 'digits' or a .npy written by prepare-data"))
    # ---- the schedule of progressive growing (chapter 4) -----------------------------------
    total_kimg: float = field(default=25000.0, metadata=_help(
        "train until this many thousand images have been shown", flag="--kimg"))
    phase_kimg: float = field(default=600.0, metadata=_help(
        "thousands of images per level of detail: the first half trains it, the second fades "
        "the next one in"))
    batch_sizes: dict[int, int] = field(default_factory=lambda: dict(PAPER_BATCH_SIZES), metadata=_help(
        "minibatch per resolution, e.g. '4:64,16:32' (a resolution not listed takes the "
        "largest listed one below it)"))
    learning_rates: dict[int, float] = field(default_factory=lambda: dict(PAPER_LEARNING_RATES),
                                             metadata=_help("Adam's learning rate per resolution, "
                                                            "e.g. '128:0.0015' "
                                                            "(others: --base-learning-rate)"))
    base_learning_rate: float = field(default=0.001, metadata=_help(
        "Adam's learning rate at resolutions not in --learning-rates"))
    # ---- losses and optimizer (chapters 3 and 10) -----------------------------------------
    seed: int = field(default=0, metadata=_help("random seed of weights, latents and data order"))
    loss: str = field(default="logistic", metadata=_help(
        "logistic + R1 (the paper's configuration F) or wgan-gp", choices=LOSSES))
    r1_gamma: float = field(default=10.0, metadata=_help("R1 weight gamma", metavar="GAMMA"))
    r1_interval: int = field(default=1, metadata=_help(
        "apply R1 every K steps, K times as strong (1: every step)"))
    wgan_gp_weight: float = field(default=10.0, metadata=_help("gradient-penalty weight of wgan-gp"))
    wgan_drift: float = field(default=0.001, metadata=_help("drift penalty of wgan-gp"))
    ema_kimg: float = field(default=10.0, metadata=_help(
        "G_ema half-life in kimg (lower it for runs of a few kimg, whose G_ema would still "
        "look like its initialisation)"))
    adam_betas: tuple[float, float] = field(default=(0.0, 0.99), metadata=_help("Adam's beta1 beta2"))
    adam_eps: float = field(default=1e-8, metadata=_help("Adam's epsilon"))
    mirror: bool = field(default=True, metadata=_help("left-right mirror augmentation"))
    max_bad_steps: int = field(default=20, metadata=_help(
        "stop after this many steps in a row with non-finite gradients"))
    # ---- reporting and saving --------------------------------------------------------------
    tick_kimg: float = field(default=1.0, metadata=_help("kimg between sample grids and log lines"))
    snapshot_kimg: float = field(default=10.0, metadata=_help("kimg between checkpoints"))
    keep_last: int = field(default=3, metadata=_help("checkpoints to keep"))
    grid_size: int = field(default=16, metadata=_help("images in each sample grid"))
    tensorboard: bool = field(default=False, metadata=_help(
        "also log to OUT/tensorboard (if tensorboard is installed)"))
    # ---- speed switches (stylegan_tutorial.speed; benchmarks/training.md measures each) -----
    amp: bool = field(default=False, metadata=_help(
        "mixed precision on the top --amp-resolutions levels (fp16 on CUDA, bf16 on the CPU)"))
    amp_resolutions: int = field(default=4, metadata=_help("levels of detail that --amp covers"))
    channels_last: bool = field(default=False, metadata=_help("channels-last memory layout"))
    cudnn_benchmark: bool = field(default=True, metadata=_help("CUDA only: cudnn.benchmark"))
    compile: bool = field(default=False, metadata=_help(
        "CUDA only: torch.compile G's synthesis network (used while no fade runs)"))
    tf32: bool = field(default=False, metadata=_help(
        "CUDA only: TensorFloat-32 matrix products and convolutions (off: PyTorch's defaults)"))
    fused_adam: bool = field(default=True, metadata=_help(
        "Adam's fused kernel (CUDA; the CPU from PyTorch 2.4): faster, the same updates"))
    data_on_device: bool = field(default=False, metadata=_help(
        "hold the training images on the device as uint8 and draw batches there"))

    def __post_init__(self) -> None:
        self.adam_betas = tuple(self.adam_betas)
        self.batch_sizes = {int(k): v for k, v in self.batch_sizes.items()}
        self.learning_rates = {int(k): v for k, v in self.learning_rates.items()}
        self.validate()

    def validate(self) -> None:
        """Raise a ValueError naming the first field with a value that cannot train (chapter 10)."""
        if not isinstance(self.network, NetworkConfig):
            raise ValueError(f"network must be a NetworkConfig, got {type(self.network).__name__}")
        if not _is_number(self.total_kimg) or self.total_kimg < 0:
            raise ValueError(f"total_kimg must be a number >= 0 (thousands of images), "
                             f"got {self.total_kimg!r}")
        check_phase_kimg(self.phase_kimg)
        if not self.batch_sizes:
            raise ValueError("batch_sizes must list at least one resolution")
        for res, batch in self.batch_sizes.items():
            check_resolution(res, "a resolution of batch_sizes")
            if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
                raise ValueError(f"batch_sizes[{res}] must be an integer >= 1, got {batch!r}")
        for res, lr in self.learning_rates.items():
            check_resolution(res, "a resolution of learning_rates")
            if not _is_number(lr) or lr <= 0:
                raise ValueError(f"learning_rates[{res}] must be a positive number, got {lr!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("r1_gamma", "wgan_gp_weight", "wgan_drift"):
            if not _is_number(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a number >= 0, got {getattr(self, name)!r}")
        for name in ("tick_kimg", "snapshot_kimg", "ema_kimg", "base_learning_rate", "adam_eps"):
            if not _is_number(getattr(self, name)) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")
        for name in ("r1_interval", "max_bad_steps", "keep_last", "grid_size", "amp_resolutions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if len(self.adam_betas) != 2 or not all(_is_number(b) and 0 <= b < 1 for b in self.adam_betas):
            raise ValueError(f"adam_betas must be two numbers in [0, 1), got {self.adam_betas!r}")

    # ---- the schedule's numbers per resolution ---------------------------------------------

    def batch_size_at(self, resolution: int) -> int:
        """Minibatch size while training at ``resolution`` (chapters 4 and 10).

        A resolution not in ``batch_sizes`` takes the largest listed one below it (the smallest
        listed one if none is below).
        """
        known = [r for r in sorted(self.batch_sizes) if r <= resolution]
        return self.batch_sizes[known[-1]] if known else self.batch_sizes[min(self.batch_sizes)]

    def learning_rate_at(self, resolution: int) -> float:
        """Adam's learning rate at ``resolution``: ``base_learning_rate`` unless listed (chapter 10)."""
        return self.learning_rates.get(resolution, self.base_learning_rate)

    # ---- JSON, as stored in checkpoints ----------------------------------------------------

    def to_dict(self) -> dict:
        """A JSON-able dict, as stored in checkpoints (chapter 10).

        Integer dict keys become strings, tuples lists.
        """
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, d: dict) -> TrainingConfig:
        """Inverse of :meth:`to_dict`; also reads older checkpoints, whose network held the schedule.

        A document of the wrong shape (not an object, no network, unknown network fields)
        raises a ValueError that says what is wrong.
        """
        if not isinstance(d, dict) or not isinstance(d.get("network"), dict):
            raise ValueError("the training configuration must be a JSON object with a 'network' "
                             f"object, got {type(d).__name__}"
                             + ("" if not isinstance(d, dict) else f" with keys {sorted(d)}"))
        d = dict(d)
        net = dict(d.pop("network"))
        for key in SCHEDULE_FIELDS:  # older checkpoints kept the schedule inside the network configuration
            if key in net:
                value = net.pop(key)
                d.setdefault(key, value)
        unknown = sorted(set(net) - {f.name for f in dataclasses.fields(NetworkConfig)})
        if unknown:
            raise ValueError(f"the network configuration has unknown fields {unknown}")
        if net.get("blur_filter") is not None:
            net["blur_filter"] = tuple(net["blur_filter"])
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(network=NetworkConfig(**net), **{k: v for k, v in d.items() if k in known})
        except (TypeError, AttributeError) as err:  # a value of the wrong type
            raise ValueError(f"the training configuration has a value of the wrong type ({err})") from None

    def replace(self, **changes) -> TrainingConfig:
        """A copy with some fields changed, validated (chapter 10); unknown field names raise ValueError."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown TrainingConfig field(s) {unknown}; known: "
                             f"{sorted(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **changes)


SCHEDULE_FIELDS = ("batch_sizes", "learning_rates", "base_learning_rate", "phase_kimg", "total_kimg")


def training_config(name: str = "cpu-tiny", *, network_overrides: dict | None = None,
                    **fields) -> TrainingConfig:
    """A :class:`TrainingConfig` for the named configuration, with its own schedule (chapter 10).

    Args:
        name:              a name of :data:`CONFIG_NAMES`: the network and its schedule.
        network_overrides: :class:`NetworkConfig` fields to change (None: none), e.g.
                           ``{"resolution": 16}``.
        fields:            :class:`TrainingConfig` fields to change, e.g. ``total_kimg=2``.

    Example: ``training_config("cpu-tiny", total_kimg=2, phase_kimg=0.2)``.
    """
    known = {f.name for f in dataclasses.fields(TrainingConfig)} - {"network"}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"unknown TrainingConfig field(s) {unknown}; known: {sorted(known)}")
    network = get_config(name, **(network_overrides or {}))
    return TrainingConfig(network=network, **{**_SCHEDULES[_split_name(name)[0]], **fields})
