"""The generator and discriminator: sizes, fade-in, truncation, mixing, noise and bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from stylegan_tutorial.configs import get_config
from stylegan_tutorial.discriminator import Discriminator
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.layers import instance_norm
from stylegan_tutorial.lod import lod_to_resolution, resolution_to_lod, style_ranges
from stylegan_tutorial.mapping import MappingNetwork


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def count(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def tiny(**overrides):
    """cpu-tiny (32²) with noise scales and biases made non-zero so every path matters."""
    cfg = get_config("cpu-tiny", **overrides)
    G, D = Generator(cfg), Discriminator(cfg)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise.scale") or name.endswith(".bias"):
                p.normal_(0, 0.3)
    return cfg, G.eval(), D.eval()


# ---- sizes ------------------------------------------------------------------------------------


def nf(stage):
    return min(8192 // 2**stage, 512)


def test_paper_generator_has_exactly_26219627_parameters():
    with torch.device("meta"):
        G = Generator(get_config("paper-1024"))
    w_dim, L = 512, 18
    mapping = 8 * (512 * 512 + 512)
    # per layer: noise scale C + bias C + style affine (w_dim -> 2C, with bias) (+ 3x3 conv)
    epilogue = lambda c: c + c + (w_dim * 2 * c + 2 * c)
    synthesis = nf(1) * 16 + epilogue(nf(1)) + 9 * nf(1) * nf(1) + epilogue(nf(1))  # const, 4x4
    for r in range(3, 11):
        c_in, c = nf(r - 2), nf(r - 1)
        synthesis += 9 * c_in * c + epilogue(c) + 9 * c * c + epilogue(c)
    to_rgb = sum(nf(r - 1) * 3 + 3 for r in range(2, 11))
    assert (mapping, synthesis, to_rgb) == (2_101_248, 24_110_720, 7_659)
    assert G.num_layers == L
    assert count(G.mapping) == mapping
    assert count(G.synthesis.to_rgb) == to_rgb
    assert count(G.synthesis) - to_rgb == synthesis
    assert count(G) == 26_219_627
    # noise images and w_avg are buffers, not parameters
    buffers = dict(G.named_buffers())
    assert "w_avg" in buffers and sum(k.endswith("noise.noise") for k in buffers) == L
    assert all(not k.endswith("noise.noise") for k, _ in G.named_parameters())


def test_paper_discriminator_count_follows_the_architecture():
    with torch.device("meta"):
        D = Discriminator(get_config("paper-1024"))
    from_rgb = sum(3 * nf(r - 1) + nf(r - 1) for r in range(2, 11))
    blocks = sum((9 * nf(r - 1) ** 2 + nf(r - 1)) + (9 * nf(r - 1) * nf(r - 2) + nf(r - 2))
                 for r in range(3, 11))
    head = 9 * (nf(1) + 1) * nf(1) + nf(1) + 16 * nf(1) * nf(0) + nf(0) + nf(0) + 1
    assert count(D) == from_rgb + blocks + head


def test_mapping_network_layers_and_lrmul():
    m = MappingNetwork(z_dim=16, w_dim=8, depth=3, width=12, lrmul=0.01)
    assert [tuple(l.weight.shape) for l in m.layers] == [(12, 16), (12, 12), (8, 12)]
    z = torch.randn(4, 16)
    x = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)
    for layer in m.layers:
        x = F.leaky_relu(x @ (layer.weight * math.sqrt(2) * 0.01 / math.sqrt(layer.weight.shape[1])).T
                         + layer.bias * 0.01, 0.2)
    torch.testing.assert_close(m(z), x)
    # depth 0: w is the normalised z
    z = torch.randn(3, 8) * 7
    torch.testing.assert_close(MappingNetwork(8, 8, depth=0)(z).square().mean(1), torch.ones(3))


# ---- the synthesis layer and its epilogue order ----------------------------------------------------


def test_synthesis_layer_epilogue_order_by_hand():
    cfg, G, _ = tiny()
    layer = G.synthesis.layers[3]  # 8x8, the second (plain conv) layer
    x = torch.randn(2, cfg.channels_at(8), 8, 8)
    w = torch.randn(2, cfg.w_dim)
    h = F.conv2d(x, layer.conv.weight * layer.conv.scale, padding=1)  # conv
    h = h + layer.noise.noise * layer.noise.scale.view(1, -1, 1, 1)  # noise
    h = F.leaky_relu(h + layer.bias.view(1, -1, 1, 1), 0.2)  # bias, act
    h = instance_norm(h)  # instance norm
    ys, yb = layer.style.styles(w)
    h = h * (ys + 1)[..., None, None] + yb[..., None, None]  # style
    torch.testing.assert_close(layer(x, w, "fixed"), h)


def test_initial_state_matches_the_paper():
    cfg = get_config("cpu-tiny")
    G = Generator(cfg)
    assert torch.equal(G.synthesis.input.const, torch.ones(1, cfg.channels_at(4), 4, 4))
    assert G.synthesis.layers[0].conv is None and G.synthesis.layers[1].conv is not None
    assert all(torch.equal(l.noise.scale, torch.zeros_like(l.noise.scale)) for l in G.synthesis.layers)
    ups = [l.conv.resample for l in G.synthesis.layers[1:]]
    assert ups == [None, "up", None, "up", None, "up", None]


def test_fused_resampling_from_128_on():
    with torch.device("meta"):
        cfg = get_config("paper-256")
        G, D = Generator(cfg), Discriminator(cfg)
    fused_up = [l.conv.fused for l in G.synthesis.layers if l.conv is not None and l.conv.resample]
    assert fused_up == [False, False, False, False, True, True]  # 8, 16, 32, 64 | 128, 256
    assert [b.conv1.fused for b in D.blocks] == [False, False, False, False, True, True]


# ---- fade-in ------------------------------------------------------------------------------------


@pytest.mark.parametrize("res", [8, 16, 32])
def test_generator_fade_in_endpoints_and_midpoint(res):
    cfg, G, _ = tiny()
    ws = G.broadcast(G.mapping(torch.randn(3, cfg.z_dim)))
    low = G.synthesis(ws, res // 2, 1.0, "fixed")
    old = G.synthesis(ws, res, 0.0, "fixed")
    assert torch.equal(old, F.interpolate(low, scale_factor=2, mode="nearest"))
    # alpha = 1: the full path by hand, layer by layer
    x = G.synthesis.input(ws[:, 0])
    for i in range(2 * int(math.log2(res)) - 2):
        x = G.synthesis.layers[i](x, ws[:, i], "fixed")
    new = G.synthesis.to_rgb[int(math.log2(res)) - 2](x)
    assert torch.equal(G.synthesis(ws, res, 1.0, "fixed"), new)
    assert not torch.allclose(new, old, atol=1e-3)
    mid = G.synthesis(ws, res, 0.25, "fixed")
    torch.testing.assert_close(mid, 0.75 * old + 0.25 * new)


@pytest.mark.parametrize("res", [8, 16, 32])
def test_discriminator_fade_in_endpoints_and_midpoint(res):
    _, _, D = tiny()
    img = torch.randn(4, 3, res, res)
    low = F.avg_pool2d(img, 2)
    assert torch.equal(D(img, res, 0.0), D(low, res // 2, 1.0))
    level = int(math.log2(res)) - 2

    def head(x, lvl):  # blocks below level lvl, then the 4x4 epilogue
        for b in reversed(D.blocks[: lvl - 1]):
            x = b(x)
        return D.epilogue(x)

    new = D.blocks[level - 1](D.from_rgb[level](img))
    torch.testing.assert_close(D(img, res, 1.0), head(new, level))
    old = D.from_rgb[level - 1](low)
    torch.testing.assert_close(D(img, res, 0.3), head(0.7 * old + 0.3 * new, level))
    assert not torch.allclose(D(img, res, 0.3), D(img, res, 1.0))


def test_lod_helpers_follow_the_release_convention():
    assert lod_to_resolution(0, 1024) == (1024, 1.0)
    assert lod_to_resolution(1.25, 1024) == (512, 0.75)
    assert lod_to_resolution(8, 1024) == (4, 1.0)
    assert resolution_to_lod(512, 0.75, 1024) == pytest.approx(1.25)
    with pytest.raises(ValueError, match=r"lod must be a number in \[0, 8\] for 1024², got 9"):
        lod_to_resolution(9, 1024)


# ---- w space: w_avg, truncation, mixing --------------------------------------------------------------


def test_update_w_avg_is_an_exponential_moving_average():
    _, G, _ = tiny()
    w = torch.randn(6, G.w_dim)
    G.update_w_avg(w, beta=0.995)
    torch.testing.assert_close(G.w_avg, 0.005 * w.mean(0))
    before = G.w_avg.clone()
    G.update_w_avg(w + 1.0)
    torch.testing.assert_close(G.w_avg, 0.995 * before + 0.005 * (w.mean(0) + 1.0))


def test_truncation_identity_and_collapse_below_cutoff_only():
    _, G, _ = tiny()
    G.w_avg.normal_()
    ws = torch.randn(2, G.num_layers, G.w_dim)
    torch.testing.assert_close(G.truncate(ws, 1.0, 3), ws)
    t = G.truncate(ws, 0.0, cutoff=3)
    torch.testing.assert_close(t[:, :3], G.w_avg.expand(2, 3, -1))
    assert torch.equal(t[:, 3:], ws[:, 3:])
    half = G.truncate(ws, 0.5)  # cutoff None: all layers
    torch.testing.assert_close(half, (G.w_avg + ws) / 2)


def test_forward_with_psi_zero_renders_w_avg_for_every_z():
    cfg, G, _ = tiny()
    G.w_avg.normal_()
    a = G(torch.randn(2, cfg.z_dim), psi=0.0, noise_mode="fixed")
    b = G.synthesis(G.w_avg.expand(2, -1), noise_mode="fixed")
    torch.testing.assert_close(a, b)


def test_mixing_takes_w1_before_the_crossover_and_w2_from_it_on():
    _, G, _ = tiny()
    w1, w2 = torch.randn(3, G.w_dim), torch.randn(3, G.w_dim)
    ws = G.mix(w1, w2, 2)  # an int is a crossover: layers 2, 3, ... from w2
    assert ws.shape == (3, G.num_layers, G.w_dim)
    for i in range(G.num_layers):
        assert torch.equal(ws[:, i], w1 if i < 2 else w2)
    assert torch.equal(G.mix(w1, w2, range(2, G.num_layers)), ws)  # the same as its range
    # and it reaches the image: the crossover changes the output
    img_a = G.synthesis(G.mix(w1, w2, 2), noise_mode="fixed")
    img_b = G.synthesis(G.mix(w1, w2, 5), noise_mode="fixed")
    assert not torch.allclose(img_a, img_b)


def test_mixing_a_range_takes_b_only_inside_the_range():
    _, G, _ = tiny()  # 8 layers
    a, b = torch.zeros(2, G.num_layers, G.w_dim), torch.ones(2, G.num_layers, G.w_dim)
    mixed = G.mix(a, b, range(2, 4))
    assert mixed[:, :, 0].tolist() == [[0, 0, 1, 1, 0, 0, 0, 0]] * 2
    fine = G.mix(a, b, style_ranges(32)["fine"])  # layers 6-7 at 32²
    assert fine[:, :, 0].tolist() == [[0, 0, 0, 0, 0, 0, 1, 1]] * 2


def test_mixing_regularization_probability_and_crossover_range():
    _, G, _ = tiny()
    w = torch.randn(2, G.w_dim)
    assert torch.equal(G.mixing_regularization(w, prob=0.0), G.broadcast(w))
    crossovers = set()
    for _ in range(200):
        ws = G.mixing_regularization(w, prob=1.0, resolution=16)  # 6 layers in use
        same = (ws == w[:, None]).all(dim=(0, 2))
        first_diff = int((~same).nonzero()[0])
        assert same[:first_diff].all() and not same[first_diff:].any()
        crossovers.add(first_diff)
    assert crossovers == {1, 2, 3, 4, 5}


# ---- noise control -----------------------------------------------------------------------------


def test_fixed_noise_and_seed_make_the_generator_deterministic():
    cfg, G, _ = tiny()
    z = torch.randn(2, cfg.z_dim)
    assert torch.equal(G(z, noise_mode="fixed"), G(z, noise_mode="fixed"))
    torch.manual_seed(5)
    a = G(z)
    torch.manual_seed(5)
    assert torch.equal(G(z), a)
    assert not torch.allclose(G(z), a)  # a fresh draw of random noise differs


def test_per_layer_noise_mode_and_strength():
    cfg, G, _ = tiny()
    ws = G.broadcast(G.mapping(torch.randn(2, cfg.z_dim)))
    L = G.num_layers
    none = G.synthesis(ws, noise_mode="none")
    assert torch.equal(G.synthesis(ws, noise_mode="fixed", noise_strength=0.0), none)
    assert torch.equal(G.synthesis(ws, noise_mode=["none"] * L), none)
    only_fine = ["none"] * 4 + ["fixed"] * (L - 4)
    assert not torch.equal(G.synthesis(ws, noise_mode=only_fine), none)
    assert torch.equal(G.synthesis(ws, noise_mode="fixed", noise_strength=[0.0] * L), none)
    message = rf"noise_strength must be a single value or one per layer \({L}\), got 3"
    with pytest.raises(ValueError, match=message):
        G.synthesis(ws, noise_strength=[1.0, 1.0, 1.0])


# ---- every resolution, forward and backward --------------------------------------------------------------


@pytest.mark.slow
def test_paper_networks_run_at_every_resolution():
    cfg = get_config("paper-1024")
    G, D = Generator(cfg).eval(), Discriminator(cfg).eval()
    z = torch.randn(1, 512)
    with torch.no_grad():
        w = G.mapping(z)
        for res in cfg.resolutions:
            img = G.synthesis(w, res, alpha=0.5)
            assert img.shape == (1, 3, res, res) and torch.isfinite(img).all()
            logits = D(img, alpha=0.5)
            assert logits.shape == (1,) and torch.isfinite(logits).all()


@pytest.mark.parametrize("res", [4, 8, 16])
def test_backward_reaches_every_parameter_in_use(res):
    cfg = get_config("cpu-tiny", mapping_width=32, w_dim=32, z_dim=32)
    G, D = Generator(cfg), Discriminator(cfg)
    logits = D(G(torch.randn(4, cfg.z_dim), res, alpha=0.5), alpha=0.5)
    F.softplus(-logits).mean().backward()
    level = int(math.log2(res)) - 2
    n_use = 2 * level + 2
    used = ["mapping.", "synthesis.input."] + [f"synthesis.layers.{i}." for i in range(n_use)]
    used += [f"synthesis.to_rgb.{level}."] + ([f"synthesis.to_rgb.{level - 1}."] if res > 4 else [])
    for name, p in G.named_parameters():
        if any(name.startswith(u) for u in used) and "noise.scale" not in name:
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
        elif not any(name.startswith(u) for u in used):
            assert p.grad is None, name
    assert all(p.grad is not None for p in D.epilogue.parameters())


# ---- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("res", [12, 2, 0, 64, 4.0])
def test_bad_resolution_is_a_value_error(res):
    _, G, D = tiny()
    with pytest.raises(ValueError, match=rf"resolution must be a power of two .*got {res!r}"):
        G(torch.randn(1, 64), resolution=res)
    with pytest.raises(ValueError, match=rf"resolution must be a power of two .*got {res!r}"):
        D(torch.randn(4, 3, 32, 32), resolution=res)


def test_bad_generator_inputs_are_value_errors():
    _, G, D = tiny()
    w = torch.randn(2, G.w_dim)
    with pytest.raises(ValueError, match=r"crossover must be an integer in \[1, 6\) .* got 6"):
        G.mix(w, w, 6, resolution=16)
    with pytest.raises(ValueError, match=r"crossover must be an integer in \[1, 8\) .* got 0"):
        G.mix(w, w, 0)
    with pytest.raises(ValueError, match=r"non-empty range of layer indices within 0-7, got range\(6, 9\)"):
        G.mix(w, w, range(6, 9))
    with pytest.raises(ValueError, match=r"within 0-5, got range\(3, 3\)"):
        G.mix(w, w, range(3, 3), resolution=16)
    with pytest.raises(ValueError, match=r"psi must be a finite number, got nan"):
        G.truncate(w, float("nan"))
    with pytest.raises(ValueError, match=r"psi must be a finite number, got inf"):
        G(torch.randn(2, 64), psi=float("inf"))
    with pytest.raises(ValueError, match=r"ws must have shape \[N, 8, 64\] .*got \(2, 7, 64\)"):
        G.synthesis(torch.randn(2, 7, 64))
    with pytest.raises(ValueError,
                       match=r"w must have shape \[N, 64\] \(mapping outputs\), got \(2, 8, 64\)"):
        G.update_w_avg(G.broadcast(w))
    with pytest.raises(ValueError, match=r"z must have shape \[N, 64\], got \(2, 3\)"):
        G(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\], got 1.5"):
        G.synthesis(w, alpha=1.5)
    with pytest.raises(ValueError, match=r"img must have shape \[N, 3, 16, 16\], got \(2, 3, 32, 32\)"):
        D(torch.randn(2, 3, 32, 32), resolution=16)


def test_zero_channels_is_a_value_error():
    with pytest.raises(ValueError, match=r"fmap_max must be a positive integer, got 0"):
        get_config("cpu-tiny", fmap_max=0)
    with pytest.raises(ValueError, match=r"fmap_base=4 gives zero channels at 16²"):
        get_config("cpu-tiny", fmap_base=4)
