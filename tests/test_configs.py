"""Named configurations, the ablation switches and the ``configs`` command."""

import math

import pytest
import torch

from stylegan_tutorial import cli
from stylegan_tutorial.configs import (
    ABLATION_ROWS,
    CONFIG_NAMES,
    NetworkConfig,
    ablation_diff,
    apply_ablation,
    get_config,
    mapping_depth_study,
    mixing_study,
    training_config,
)
from stylegan_tutorial.discriminator import Discriminator
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.layers import Blur, NoiseInjection, StyleMod
from stylegan_tutorial.sizes import parameter_counts


def test_paper_1024_is_the_paper_network():
    cfg = get_config("paper-1024")
    assert (cfg.resolution, cfg.z_dim, cfg.w_dim) == (1024, 512, 512)
    assert (cfg.mapping_layers, cfg.mapping_width) == (8, 512)
    assert cfg.mapping_lrmul == 0.01 and cfg.num_layers == 18
    assert [cfg.channels_at(r) for r in cfg.resolutions] == [512, 512, 512, 512, 256, 128, 64, 32, 16]
    assert cfg.style_mixing_prob == 0.9 and cfg.w_avg_beta == 0.995
    assert (cfg.truncation_psi, cfg.truncation_cutoff) == (0.7, 8)
    run = training_config("paper-1024")  # the paper's schedule for this network
    assert run.batch_size_at(1024) == 4 and run.batch_size_at(64) == 32
    assert run.learning_rate_at(64) == 0.001 and run.learning_rate_at(256) == 0.002
    sizes = parameter_counts(cfg)
    assert (sizes["G"], sizes["mapping"], sizes["synthesis"], sizes["to_rgb"]) == (
        26_219_627, 2_101_248, 24_110_720, 7_659)


def test_paper_256_differs_only_in_resolution():
    a, b = get_config("paper-1024"), get_config("paper-256")
    assert b.resolution == 256 and b.num_layers == 14
    assert a.replace(name="x", resolution=256) == b.replace(name="x")


def test_small_configs_are_small_and_complete():
    tiny, colab = get_config("cpu-tiny"), get_config("colab-64")
    assert tiny.resolution in (16, 32) and colab.resolution in (64, 128)
    for cfg in (tiny, colab):
        assert cfg.mapping_layers == 8 and cfg.use_styles and cfg.use_noise and cfg.const_input
        assert max(cfg.channels_at(r) for r in cfg.resolutions) < 512
    assert parameter_counts(tiny)["G"] < parameter_counts(colab)["G"] < 26_219_627


def test_overrides_and_unknown_names():
    assert get_config("cpu-tiny", resolution=16).num_layers == 6
    with pytest.raises(ValueError, match=r"unknown config name 'paper-512'; known: paper-1024, .*cpu-tiny"):
        get_config("paper-512")
    with pytest.raises(ValueError, match=r"unknown NetworkConfig field\(s\) \['resolutoin'\]"):
        get_config("cpu-tiny", resolutoin=16)
    with pytest.raises(ValueError, match=r"resolution must be a power of two >= 4, got 48"):
        get_config("cpu-tiny", resolution=48)
    with pytest.raises(ValueError, match=r"resolution must be a power of two >= 4, got 2"):
        NetworkConfig(resolution=2)
    with pytest.raises(ValueError, match=r"style_mixing_prob must be in \[0, 1\], got 1.5"):
        get_config("cpu-tiny", style_mixing_prob=1.5)
    with pytest.raises(ValueError, match=r"blur_filter must be None or an odd number .*got \(1, 3, 3, 1\)"):
        get_config("cpu-tiny", blur_filter=(1, 3, 3, 1))


def test_channel_formula_matches_the_release():
    cfg = get_config("cpu-tiny", fmap_base=1000, fmap_max=100, fmap_decay=0.5)
    for r in cfg.resolutions:
        stage = int(math.log2(r)) - 1
        assert cfg.channels_at(r) == min(int(1000 / 2 ** (stage * 0.5)), 100)


# ---- the ablation -----------------------------------------------------------------------------


def modules(cfg, kind):
    return [m for m in Generator(cfg).modules() if isinstance(m, kind)]


def test_ablation_rows_are_cumulative_and_build_the_right_networks():
    assert ABLATION_ROWS == ("A", "B", "C", "D", "E", "F")
    rows = {r: get_config(f"ablation-{r}") for r in ABLATION_ROWS}
    a = rows["A"]
    assert (a.use_styles, a.const_input, a.use_noise, a.mapping_layers) == (False, False, False, 0)
    assert (a.use_pixel_norm, a.use_instance_norm) == (True, False)
    assert (a.blur_filter, a.style_mixing_prob) == (None, 0.0)
    # what each row adds, seen in the built generator
    assert not modules(a, StyleMod) and not modules(a, NoiseInjection) and not modules(a, Blur)
    assert len(Generator(a).mapping.layers) == 0 and Generator(a).synthesis.input.dense is not None
    assert modules(rows["B"], Blur) and not modules(rows["B"], StyleMod)
    c = Generator(rows["C"])
    assert len(c.mapping.layers) == 8 and modules(rows["C"], StyleMod) and c.synthesis.input.const is None
    assert not rows["C"].use_pixel_norm and rows["C"].use_instance_norm
    assert Generator(rows["D"]).synthesis.input.const is not None and not modules(rows["D"], NoiseInjection)
    assert modules(rows["E"], NoiseInjection) and rows["E"].style_mixing_prob == 0.0
    assert rows["F"].style_mixing_prob == 0.9
    # row F is the full StyleGAN: the same network as the base config
    assert rows["F"].replace(name="x") == get_config("cpu-tiny").replace(name="x")


@pytest.mark.parametrize("row", ABLATION_ROWS)
def test_every_ablation_row_runs_forward_and_backward(row):
    torch.manual_seed(0)
    cfg = apply_ablation(get_config("cpu-tiny", resolution=16), row)
    G, D = Generator(cfg), Discriminator(cfg)
    img = G(torch.randn(4, cfg.z_dim), alpha=0.5, mixing_prob=cfg.style_mixing_prob)
    assert img.shape == (4, 3, 16, 16) and torch.isfinite(img).all()
    D(img, alpha=0.5).sum().backward()
    assert all(p.grad is not None for p in G.synthesis.layers.parameters())


def test_row_a_pixel_norm_gives_unit_rms_features():
    cfg = get_config("ablation-A", resolution=8)
    G = Generator(cfg)
    feats = []
    G.synthesis.layers[1].register_forward_hook(lambda m, i, o: feats.append(o))
    G(torch.randn(3, cfg.z_dim))
    rms = feats[0].square().mean(dim=1).sqrt()
    torch.testing.assert_close(rms, torch.ones_like(rms), atol=1e-4, rtol=0)


def test_bad_ablation_row():
    with pytest.raises(ValueError, match=r"row must be one of \('A', 'B', 'C', 'D', 'E', 'F'\), got 'G'"):
        apply_ablation(get_config("cpu-tiny"), "G")


def test_ablation_diff_lists_exactly_what_each_row_changes():
    # read against the paper's Table 1: B tunes (blur), C adds mapping + styles, D the constant,
    # E noise, F mixing; A takes all of them away from the full StyleGAN
    assert set(ablation_diff("A")) == {"mapping_layers", "use_styles", "const_input", "use_noise",
                                       "use_pixel_norm", "use_instance_norm", "blur_filter",
                                       "style_mixing_prob"}
    assert ablation_diff("B") == {"blur_filter": (None, (1, 2, 1))}
    assert ablation_diff("C") == {"mapping_layers": (0, 8), "use_styles": (False, True),
                                  "use_pixel_norm": (True, False), "use_instance_norm": (False, True)}
    assert ablation_diff("D") == {"const_input": (False, True)}
    assert ablation_diff("E") == {"use_noise": (False, True)}
    assert ablation_diff("F") == {"style_mixing_prob": (0.0, 0.9)}
    with pytest.raises(ValueError, match="row must be one of"):
        ablation_diff("G")


@pytest.mark.parametrize("name, field, value", [
    ("colab-64/mixing-50", "style_mixing_prob", 0.5),
    ("colab-64/mixing-0", "style_mixing_prob", 0.0),
    ("colab-64/mapping-2", "mapping_layers", 2),
    ("cpu-tiny/mapping-0", "w_dim", 64),
    ("colab-64/ablation-C", "const_input", False),
    ("paper-256/ablation-E", "use_noise", True),
])
def test_study_names_build_the_study_on_the_base_with_its_schedule(name, field, value):
    base = name.split("/")[0]
    cfg = get_config(name)
    assert cfg.name == name and getattr(cfg, field) == value
    assert cfg.resolution == get_config(base).resolution
    # the base's schedule, so a Table 2 or 4 run is the base run with one thing changed
    assert training_config(name).phase_kimg == training_config(base).phase_kimg
    assert training_config(name).batch_sizes == training_config(base).batch_sizes


@pytest.mark.parametrize("name, message", [
    ("colab-64/mixing-500", "'mixing' takes a percentage 0-100, got '500'"),
    ("colab-64/mapping-x", "'mapping' takes a depth 0-16, got 'x'"),
    ("colab-64/ablation-G", "'ablation' takes a row of"),
    ("ablation-A/mixing-50", "BASE one of paper-1024, paper-256, colab-64, cpu-tiny"),
    ("colab-64/dropout-5", "unknown config name 'colab-64/dropout-5'"),
])
def test_bad_study_names_say_what_is_known(name, message):
    with pytest.raises(ValueError, match=message):
        get_config(name)


def test_train_command_rejects_a_bad_study_name_without_writing(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--config", "colab-64/mixing-500", "--out", str(out)]) == 2
    assert "'mixing' takes a percentage 0-100" in capsys.readouterr().err
    assert not out.exists()


def test_mixing_and_mapping_depth_studies():
    base = get_config("cpu-tiny")
    mix = mixing_study(base)
    assert {p: c.style_mixing_prob for p, c in mix.items()} == {0.0: 0.0, 0.5: 0.5, 0.9: 0.9, 1.0: 1.0}
    depths = mapping_depth_study(base)
    assert {d: len(Generator(c).mapping.layers) for d, c in depths.items()} == {0: 0, 1: 1, 2: 2, 8: 8}
    assert depths[0].w_dim == base.z_dim


# ---- the command line --------------------------------------------------------------------------


def test_configs_command_lists_every_config_with_sizes(capsys):
    assert cli.main(["configs"]) == 0
    out = capsys.readouterr().out
    for name in CONFIG_NAMES:
        assert name in out
    assert "26,219,627" in out and "1024²" in out
    assert cli.main(["configs", "--show", "cpu-tiny"]) == 0
    assert "fmap_max" in capsys.readouterr().out
    assert cli.main(["configs", "--show", "nope"]) == 2
    assert "unknown config name 'nope'" in capsys.readouterr().err
