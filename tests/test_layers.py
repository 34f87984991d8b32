"""Each building block of StyleGAN against a hand computation or a closed form."""

import math

import pytest
import torch
import torch.nn.functional as F

from stylegan_tutorial.images import downsample_2x, upsample_2x
from stylegan_tutorial.layers import (
    Blur,
    EqualizedConv2d,
    EqualizedLinear,
    NoiseInjection,
    StyleMod,
    adain,
    apply_style,
    blur_kernel,
    conv2d_same,
    equalized_scale,
    input_gradients_only,
    instance_norm,
    minibatch_stddev,
    pixel_norm,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# ---- equalized learning rate ---------------------------------------------------------------


def test_equalized_scale_is_gain_over_sqrt_fan_in_times_lrmul():
    assert equalized_scale(512, math.sqrt(2), 0.01) == pytest.approx(math.sqrt(2) / math.sqrt(512) * 0.01)
    assert equalized_scale(9 * 64, 1.0) == pytest.approx(1 / 24)


def test_equalized_linear_matches_hand_computation_and_lrmul_storage():
    layer = EqualizedLinear(4, 3, gain=2.0, lrmul=0.5)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([1.0, -2.0, 4.0]))
    x = torch.randn(5, 4)
    expected = x @ (layer.weight * (2.0 / 2.0 * 0.5)).T + torch.tensor([0.5, -1.0, 2.0])
    torch.testing.assert_close(layer(x), expected)


def test_equalized_linear_stores_weights_with_std_one_over_lrmul():
    layer = EqualizedLinear(256, 256, lrmul=0.01)
    assert layer.weight.std().item() == pytest.approx(100.0, rel=0.02)
    # and the effective weight is He-initialised: std gain / sqrt(fan_in)
    effective = (layer.weight * layer.scale).std().item()
    assert effective == pytest.approx(math.sqrt(2) / 16, rel=0.02)


def test_equalized_conv_is_a_scaled_conv_plus_bias():
    conv = EqualizedConv2d(3, 5, 3, gain=1.5)
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(2, 3, 6, 6)
    expected = F.conv2d(x, conv.weight * 1.5 / math.sqrt(27), conv.bias, padding=1)
    torch.testing.assert_close(conv(x), expected)


@pytest.mark.parametrize("resample", ["up", "down"])
def test_fused_resampling_conv_equals_the_separate_ops(resample):
    plain = EqualizedConv2d(4, 6, 3, resample=resample, fused=False)
    fused = EqualizedConv2d(4, 6, 3, resample=resample, fused=True)
    fused.load_state_dict(plain.state_dict())
    x = torch.randn(2, 4, 8, 8)
    w = plain.weight * plain.scale
    if resample == "up":
        expected = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, padding=1)
    else:
        expected = F.avg_pool2d(F.conv2d(x, w, padding=1), 2)
    torch.testing.assert_close(plain(x), expected)
    torch.testing.assert_close(fused(x), expected, atol=1e-5, rtol=1e-5)


def test_bad_channels_raise_value_errors_naming_the_argument():
    with pytest.raises(ValueError, match=r"out_channels must be a positive integer, got 0"):
        EqualizedConv2d(3, 0)
    with pytest.raises(ValueError, match=r"in_features must be a positive integer, got 0"):
        EqualizedLinear(0, 3)
    with pytest.raises(ValueError, match=r"channels must be a positive integer, got -1"):
        NoiseInjection(-1, 4)


# ---- blur and resampling -------------------------------------------------------------------


def test_blur_kernel_sums_to_one_and_is_separable():
    k = blur_kernel()
    f = torch.tensor([1.0, 2.0, 1.0]) / 4
    assert k.sum().item() == pytest.approx(1.0)
    torch.testing.assert_close(k, torch.outer(f, f))
    assert k[1, 1].item() == pytest.approx(4 / 16) and k[0, 0].item() == pytest.approx(1 / 16)


def test_blur_of_an_impulse_is_the_kernel_and_constants_survive_inside():
    x = torch.zeros(1, 2, 5, 5)
    x[:, :, 2, 2] = 1.0
    y = Blur()(x)
    torch.testing.assert_close(y[0, 1, 1:4, 1:4], blur_kernel())
    const = Blur()(torch.full((1, 1, 6, 6), 3.0))
    torch.testing.assert_close(const[0, 0, 1:5, 1:5], torch.full((4, 4), 3.0))


def test_upsample_and_downsample_by_hand():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    up = upsample_2x(x)
    assert up[0, 0].tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    torch.testing.assert_close(downsample_2x(up), x)
    assert downsample_2x(x).item() == pytest.approx(2.5)


# ---- normalisations and styles --------------------------------------------------------------


def test_pixel_norm_gives_unit_rms_feature_vectors():
    x = torch.randn(3, 7, 2, 2) * 5
    rms = pixel_norm(x).square().mean(dim=1).sqrt()
    torch.testing.assert_close(rms, torch.ones(3, 2, 2), atol=1e-5, rtol=0)


def test_instance_norm_zero_mean_unit_std_per_channel():
    x = torch.randn(2, 3, 8, 8) * 4 + 7
    y = instance_norm(x)
    torch.testing.assert_close(y.mean(dim=(2, 3)), torch.zeros(2, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(dim=(2, 3), unbiased=False), torch.ones(2, 3), atol=1e-4, rtol=0)


def test_style_step_sets_each_channel_mean_to_yb_and_std_to_ys_plus_one():
    x = torch.randn(2, 4, 8, 8) * 3 - 1
    ys = torch.tensor([[0.5, -0.5, 1.0, 0.0], [2.0, 0.25, -0.75, 3.0]])
    yb = torch.tensor([[1.0, -2.0, 0.0, 3.0], [0.5, 0.5, -1.0, 2.0]])
    y = adain(x, ys, yb)
    torch.testing.assert_close(y.mean(dim=(2, 3)), yb, atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(dim=(2, 3), unbiased=False), ys + 1, atol=1e-4, rtol=0)


def test_style_mod_uses_affine_outputs_as_ys_then_yb():
    mod = StyleMod(w_dim=5, channels=3)
    with torch.no_grad():
        mod.affine.bias.copy_(torch.arange(6.0))
    w = torch.randn(2, 5)
    style = w @ (mod.affine.weight * mod.affine.scale).T + torch.arange(6.0)  # gain 1: scale 1/sqrt(5)
    assert mod.affine.scale == pytest.approx(1 / math.sqrt(5))
    x = torch.randn(2, 3, 4, 4)
    expected = x * (style[:, :3] + 1).view(2, 3, 1, 1) + style[:, 3:].view(2, 3, 1, 1)
    torch.testing.assert_close(mod(x, w), expected)
    torch.testing.assert_close(apply_style(x, torch.zeros(2, 3), torch.zeros(2, 3)), x)


# ---- noise ----------------------------------------------------------------------------------


def test_noise_with_zero_scale_changes_nothing():
    noise = NoiseInjection(4, 8)
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(noise(x, "random"), x)


def test_noise_is_one_image_per_sample_broadcast_over_channels():
    noise = NoiseInjection(3, 8)
    with torch.no_grad():
        noise.scale.copy_(torch.tensor([1.0, 2.0, -0.5]))
    x = torch.zeros(2, 3, 8, 8)
    y = noise(x, "random")
    per_channel = y / torch.tensor([1.0, 2.0, -0.5]).view(1, 3, 1, 1)
    torch.testing.assert_close(per_channel[:, 0], per_channel[:, 1])
    torch.testing.assert_close(per_channel[:, 0], per_channel[:, 2])
    assert not torch.allclose(per_channel[0], per_channel[1])  # each image gets its own


def test_noise_modes_fixed_none_and_strength():
    noise = NoiseInjection(2, 4)
    with torch.no_grad():
        noise.scale.fill_(1.0)
    x = torch.randn(3, 2, 4, 4)
    fixed = noise(x, "fixed")
    torch.testing.assert_close(fixed, x + noise.noise)
    assert torch.equal(noise(x, "fixed"), fixed)
    assert torch.equal(noise(x, "none"), x)
    torch.testing.assert_close(noise(x, "fixed", strength=0.5), x + 0.5 * noise.noise)
    with pytest.raises(ValueError, match=r"noise_mode must be one of .*got 'const'"):
        noise(x, "const")


# ---- minibatch standard deviation -----------------------------------------------------------


def test_minibatch_stddev_equals_the_group_std_computed_by_hand():
    x = torch.randn(8, 3, 2, 2)
    y = minibatch_stddev(x, group_size=4)
    assert y.shape == (8, 4, 2, 2)
    torch.testing.assert_close(y[:, :3], x)
    # groups are images {m, m + 2, m + 4, m + 6} for m in {0, 1}
    for m in range(2):
        members = x[m::2]  # [4, 3, 2, 2]
        std = ((members - members.mean(0)).square().mean(0) + 1e-8).sqrt()
        expected = std.mean().item()
        for i in range(m, 8, 2):
            torch.testing.assert_close(y[i, 3], torch.full((2, 2), expected))


def test_minibatch_stddev_of_identical_images_is_tiny():
    x = torch.randn(1, 3, 4, 4).repeat(4, 1, 1, 1)
    assert minibatch_stddev(x)[:, 3].max().item() == pytest.approx(1e-4, rel=1e-3)


def test_minibatch_stddev_rejects_an_indivisible_batch():
    with pytest.raises(ValueError, match=r"batch 6 and group_size 4"):
        minibatch_stddev(torch.randn(6, 2, 4, 4), group_size=4)


# ---- the fast paths: the same numbers as the plain operations, to every order R1 needs ----


def _r1_weight_gradients(conv, x, w):
    """d/dw of ||d sum(conv(x, w)²)/dx||² + sum(conv(x, w)²): the shape of R1's loss."""
    x = x.detach().clone().requires_grad_()
    y = conv(x, w).square().sum()
    with input_gradients_only():
        (g,) = torch.autograd.grad(y, x, create_graph=True)
    return torch.autograd.grad(g.square().sum() + y, w)[0]


def test_conv2d_same_matches_f_conv2d_to_the_second_derivative():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 6, 6, dtype=torch.double, generator=g, requires_grad=True)
    w = torch.randn(4, 3, 3, 3, dtype=torch.double, generator=g, requires_grad=True)
    torch.testing.assert_close(conv2d_same(x, w), F.conv2d(x, w, padding=1))
    assert torch.autograd.gradcheck(conv2d_same, (x, w))
    assert torch.autograd.gradgradcheck(conv2d_same, (x, w))
    torch.testing.assert_close(_r1_weight_gradients(conv2d_same, x, w),
                               _r1_weight_gradients(lambda x, w: F.conv2d(x, w, padding=1), x, w))


def test_input_gradients_only_skips_the_weight_gradient_and_nothing_else():
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    y = conv2d_same(x, w).sum()
    with input_gradients_only():
        gx, gw = torch.autograd.grad(y, (x, w), allow_unused=True)
    assert gw is None  # asked for, and skipped: the block promises it is not needed
    torch.testing.assert_close(gx, torch.autograd.grad(F.conv2d(x, w, padding=1).sum(), x)[0])
    gx2, gw2 = torch.autograd.grad(conv2d_same(x, w).sum(), (x, w))  # outside the block: both
    torch.testing.assert_close(gw2, torch.autograd.grad(F.conv2d(x, w, padding=1).sum(), w)[0])


def test_blur_matches_a_depthwise_conv_to_the_second_derivative_for_asymmetric_taps():
    blur = Blur((1, 3, 2)).double()  # asymmetric: the backward must flip the kernel
    x = torch.randn(2, 3, 5, 5, dtype=torch.double, requires_grad=True)
    k = blur.kernel.to(x.dtype).expand(3, 1, 3, 3)
    plain = F.conv2d(x, k, padding=1, groups=3)
    torch.testing.assert_close(blur(x), plain)
    assert torch.autograd.gradcheck(blur, (x,)) and torch.autograd.gradgradcheck(blur, (x,))


def test_equalized_layers_scale_the_smaller_of_weight_and_output_to_the_same_result():
    torch.manual_seed(0)
    conv = EqualizedConv2d(8, 16, 3)
    for batch, size in ((1, 4), (64, 32)):  # output smaller than the weight, then larger
        x = torch.randn(batch, 8, size, size)
        expected = F.conv2d(x, conv.weight * conv.scale, conv.bias, padding=1)
        torch.testing.assert_close(conv(x), expected, atol=1e-5, rtol=1e-5)
    dense = EqualizedLinear(64, 32, lrmul=0.01)
    for batch in (2, 200):
        x = torch.randn(batch, 64)
        expected = F.linear(x, dense.weight * dense.scale, dense.bias * dense.lrmul)
        torch.testing.assert_close(dense(x), expected, atol=1e-5, rtol=1e-5)


def test_instance_norm_is_the_two_line_formula():
    x = torch.randn(3, 5, 7, 7) * 4 + 2
    centred = x - x.mean(dim=(2, 3), keepdim=True)
    expected = centred * torch.rsqrt(centred.square().mean(dim=(2, 3), keepdim=True) + 1e-8)
    torch.testing.assert_close(instance_norm(x), expected, atol=1e-5, rtol=1e-5)


def test_layers_run_on_the_meta_device_for_shapes_and_flop_counts():
    conv = EqualizedConv2d(4, 6, 3).to("meta")
    x = torch.empty(2, 4, 8, 8, device="meta", requires_grad=True)
    y = conv(x)
    assert y.shape == (2, 6, 8, 8) and y.device.type == "meta"
