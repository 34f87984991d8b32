"""Chapter 7's grader: a right noise injection passes, each common mistake fails with its own message."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stylegan_tutorial import layers
from stylegan_tutorial.configs import get_config
from stylegan_tutorial.exercises import ExerciseError, check_noise_injection, noise_epilogue_reference
from stylegan_tutorial.synthesis import SynthesisLayer


def make_epilogue(per_channel=False, shared=False, per_layer=False, after_style=False,
                  after_act=False, scale=1.0, global_rng=False, reseed=False, detach=False):
    """A reader's layer epilogue with the chosen mistakes (the defaults: the chapter's solution)."""

    def layer_epilogue(x, noise_scale, bias, ys, yb, generator):
        n, c, h, w = x.shape
        if reseed:
            generator = torch.Generator().manual_seed(0)
        shape = (1 if shared else n, c if per_channel else 1, h, w)
        noise = torch.randn(*shape, generator=None if global_rng else generator)
        factor = noise_scale.mean() if per_layer else noise_scale.view(1, -1, 1, 1)
        term = noise * factor * scale
        if not (after_style or after_act):
            x = x + term
        x = F.leaky_relu(x + bias.view(1, -1, 1, 1), 0.2)
        if after_act:
            x = x + term
        out = layers.adain(x, ys, yb)
        if after_style:
            out = out + term
        return out.detach() if detach else out

    return layer_epilogue


def test_the_chapters_solution_passes(capsys):
    check_noise_injection(make_epilogue())
    assert "✅ layer_epilogue" in capsys.readouterr().out


def test_another_right_answer_passes(capsys):
    def written_out(x, noise_scale, bias, ys, yb, generator):
        noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], generator=generator, dtype=x.dtype)
        x = x + noise_scale[None, :, None, None] * noise
        x = x + bias[:, None, None]
        x = torch.where(x > 0, x, 0.2 * x)
        var = x.var((2, 3), keepdim=True, unbiased=False)
        x = (x - x.mean((2, 3), keepdim=True)) * torch.rsqrt(var + 1e-8)
        return x * (1 + ys[:, :, None, None]) + yb[:, :, None, None]

    check_noise_injection(written_out)
    assert "✅" in capsys.readouterr().out


NOISE_MISTAKES = {
    "one noise image per channel": (dict(per_channel=True), "one noise image per channel instead of "
                                                            "one broadcast over the channels"),
    "shared across the batch": (dict(shared=True), "the noise is shared across the batch"),
    "scale per layer": (dict(per_layer=True), "the scale is applied per layer instead of per channel"),
    "after the style": (dict(after_style=True), "the noise is added after the style instead of before"),
}


@pytest.mark.parametrize("case", list(NOISE_MISTAKES))
def test_each_named_mistake_has_its_message(case):
    kwargs, message = NOISE_MISTAKES[case]
    with pytest.raises(ExerciseError, match="^layer_epilogue on ") as err:
        check_noise_injection(make_epilogue(**kwargs))
    text = str(err.value)
    assert message in text
    assert "expected (image 1, channel 1, first row) [" in text and "got [" in text
    assert "; and " not in text, "a single mistake is named alone"


def test_two_mistakes_at_once_are_both_named():
    with pytest.raises(ExerciseError) as err:
        check_noise_injection(make_epilogue(per_channel=True, shared=True))
    text = str(err.value)
    assert "one noise image per channel" in text and "shared across the batch" in text


def test_noise_after_the_activation_is_named():
    with pytest.raises(ExerciseError, match="added after the bias and the LeakyReLU"):
        check_noise_injection(make_epilogue(after_act=True))


def test_an_epilogue_three_percent_off_fails_with_expected_and_got():
    with pytest.raises(ExerciseError) as err:
        check_noise_injection(make_epilogue(scale=1.03))
    text = str(err.value)
    assert "expected (image 1, channel 1, first row) [" in text and "largest difference" in text


def test_noise_not_drawn_from_the_generator_is_refused():
    with pytest.raises(ExerciseError, match="does not come from the generator"):
        check_noise_injection(make_epilogue(global_rng=True))
    with pytest.raises(ExerciseError, match="fresh on every call"):
        check_noise_injection(make_epilogue(reseed=True))


def test_no_noise_at_all_is_named():
    with pytest.raises(ExerciseError, match="no noise reaches the output"):
        check_noise_injection(lambda x, s, b, ys, yb, g: make_epilogue()(x, s * 0, b, ys, yb, g))


def test_a_broken_epilogue_without_noise_is_refused_first():
    def no_norm(x, noise_scale, bias, ys, yb, generator):
        return layers.apply_style(F.leaky_relu(x + bias.view(1, -1, 1, 1), 0.2), ys, yb)

    with pytest.raises(ExerciseError, match="noise_scale all 0: expected chapter 6's epilogue"):
        check_noise_injection(no_norm)


def test_an_unreshaped_scale_is_explained():
    def flat_scale(x, noise_scale, bias, ys, yb, generator):
        noise = torch.randn(x.shape[0], 1, *x.shape[2:], generator=generator)
        return make_epilogue()(x + noise * noise_scale, noise_scale * 0, bias, ys, yb, generator)

    with pytest.raises(ExerciseError, match=r"noise_scale.view\(1, -1, 1, 1\)"):
        check_noise_injection(flat_scale)


def test_a_detached_result_is_refused():
    with pytest.raises(ExerciseError, match="detached"):
        check_noise_injection(make_epilogue(detach=True))


def test_a_stubbed_epilogue_fails_with_its_hint():
    def stub(x, noise_scale, bias, ys, yb, generator):
        raise NotImplementedError("Draw torch.randn(N, 1, H, W, generator=generator).")

    with pytest.raises(ExerciseError, match="not implemented yet. Draw torch.randn"):
        check_noise_injection(stub)


def test_the_check_leaves_the_readers_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    check_noise_injection(make_epilogue())
    assert torch.equal(torch.get_rng_state(), before)


def test_the_reference_is_the_packages_synthesis_layer():
    config = get_config("cpu-tiny")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        layer = SynthesisLayer(16, 16, 8, None, config).eval()  # no convolution: the epilogue alone
    with torch.no_grad():
        layer.noise.scale.normal_()
        layer.bias.normal_()
    x, w = torch.randn(1, 16, 8, 8), torch.randn(1, config.w_dim)
    layer.noise.noise.copy_(torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(5)))
    with torch.no_grad():
        ys, yb = layer.style.styles(w)
        expected = layer(x, w, noise_mode="fixed")
        got = noise_epilogue_reference(x, layer.noise.scale, layer.bias, ys, yb,
                                       torch.Generator().manual_seed(5))
    torch.testing.assert_close(got, expected)
