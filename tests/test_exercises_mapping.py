"""Chapter 5's grader: a right mapping network passes, each classic mistake fails with its own message."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stylegan_tutorial.exercises import ExerciseError, check_mapping_network
from stylegan_tutorial.mapping import MappingNetwork


def make_mapping(norm="before", act="leaky", weight_lrmul=True, bias_lrmul=True, eps=1e-8,
                 transposed=False, scale=1.0):
    """A reader's ``mapping_network`` with the chosen mistakes (the defaults: the chapter's solution)."""

    def pixel_norm(x, dim=1):
        return x * torch.rsqrt(x.square().mean(dim=dim, keepdim=True) + eps)

    def mapping_network(z, weights, biases, lrmul=0.01):
        x = z
        if norm == "before":
            x = pixel_norm(x)
        elif norm == "length":
            x = x / x.norm(dim=1, keepdim=True)
        elif norm == "batch":
            x = pixel_norm(x, dim=0)
        for i, (w, b) in enumerate(zip(weights, biases)):
            c = math.sqrt(2) / math.sqrt(w.shape[1]) * (lrmul if weight_lrmul else 1.0)
            x = x @ (w * c if transposed else (w * c).T) + (b * lrmul if bias_lrmul else b)
            if act == "relu":
                x = F.relu(x)
            elif act == "default_leaky":
                x = F.leaky_relu(x)  # torch's default slope, 0.01
            elif act == "leaky" or i < len(weights) - 1:
                x = F.leaky_relu(x, 0.2)
        if norm == "after":
            x = pixel_norm(x)
        return x * scale

    return mapping_network


class ReadersMapping(nn.Module):
    """A reader's mapping network as a module: per layer a weight and a bias, stored as the package does."""

    def __init__(self, z_dim, w_dim, depth, width, lrmul):
        super().__init__()
        sizes = [z_dim] + [width] * (depth - 1) + [w_dim]
        self.layers = nn.ModuleList()
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            layer = nn.Module()
            layer.weight = nn.Parameter(torch.randn(fan_out, fan_in) / lrmul)
            layer.bias = nn.Parameter(torch.zeros(fan_out))
            self.layers.append(layer)
        self.lrmul = lrmul

    def forward(self, z):
        return make_mapping()(z, [l.weight for l in self.layers], [l.bias for l in self.layers], self.lrmul)


def test_the_chapters_solution_passes(capsys):
    check_mapping_network(make_mapping())
    assert "✅ mapping_network" in capsys.readouterr().out


def test_the_package_and_a_readers_module_pass(capsys):
    check_mapping_network(MappingNetwork)
    check_mapping_network(ReadersMapping)
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("mistake, message", [
    (dict(norm="after"), "you normalised after the layers instead of before them"),
    (dict(act="relu"), "ReLU instead of LeakyReLU"),
    (dict(bias_lrmul=False), "you forgot the lrmul on the bias"),
    (dict(norm="none"), "z is not pixel-normalised"),
    (dict(norm="length"), "you divided z by its length"),
    (dict(norm="batch"), "you normalised over the batch (dim 0)"),
    (dict(act="default_leaky"), "LeakyReLU with slope 0.01, the default of torch's leaky_relu"),
    (dict(act="last_none"), "the last layer has no activation"),
    (dict(weight_lrmul=False), "you forgot the lrmul on the weights"),
    (dict(transposed=True), "multiply by its transpose, x @ W.T"),
    (dict(eps=0.0), "pixel norm needs its epsilon"),
])
def test_each_named_mistake_has_its_message(mistake, message):
    with pytest.raises(ExerciseError) as err:
        check_mapping_network(make_mapping(**mistake))
    assert message in str(err.value)


def test_two_mistakes_at_once_are_both_named():
    with pytest.raises(ExerciseError) as err:
        check_mapping_network(make_mapping(act="relu", bias_lrmul=False))
    text = str(err.value)
    assert "ReLU instead of LeakyReLU" in text and "forgot the lrmul on the bias" in text


def test_an_answer_three_percent_off_fails_with_expected_and_got():
    with pytest.raises(ExerciseError) as err:
        check_mapping_network(make_mapping(scale=1.03))
    text = str(err.value)
    assert "expected" in text and "got" in text and "largest difference" in text


def test_a_stubbed_mapping_fails_with_its_hint():
    def mapping_network(z, weights, biases, lrmul=0.01):
        raise NotImplementedError("Exercise: normalise z first")

    with pytest.raises(ExerciseError, match="not implemented yet. Exercise: normalise z first"):
        check_mapping_network(mapping_network)


def test_a_detached_mapping_fails():
    right = make_mapping()

    def mapping_network(z, weights, biases, lrmul=0.01):
        return right(z, weights, biases, lrmul).detach()

    with pytest.raises(ExerciseError, match="detached from the weights"):
        check_mapping_network(mapping_network)


def test_a_wrong_shape_and_a_wrong_type_fail():
    right = make_mapping()
    with pytest.raises(ExerciseError, match="expected w of shape"):
        check_mapping_network(lambda z, weights, biases, lrmul: right(z, weights, biases, lrmul)[:, :3])
    with pytest.raises(ExerciseError, match="must return a torch.Tensor"):
        check_mapping_network(lambda z, weights, biases, lrmul: 0.0)


def test_a_module_with_other_parameters_is_told_the_expected_shapes():
    class NoBias(nn.Module):
        def __init__(self, z_dim, w_dim, depth, width, lrmul):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(z_dim, w_dim, bias=False) for _ in range(depth))

    with pytest.raises(ExerciseError, match="each layer's weight"):
        check_mapping_network(NoBias)


def test_the_readers_random_state_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_mapping_network(make_mapping())
    assert torch.equal(torch.rand(3), expected)
