"""Chapter 5: the mapping network."""

from __future__ import annotations

import torch

from stylegan_tutorial.exercises._common import (
    ExerciseError,
    Tensor,
    _call,
    _show,
)
from stylegan_tutorial.mapping import MappingNetwork

# The shapes the mapping grader uses: (label, z_dim, width, w_dim, depth, how z is drawn).
_MAPPING_CASES = [
    ("8 layers, 16 wide", 16, 16, 16, 8, "spread"),
    ("2 layers, 6 -> 10 -> 8", 6, 10, 8, 2, "spread"),
    ("8 layers, 16 wide, a zero z and a huge z", 16, 16, 16, 8, "extreme"),
]
_MAPPING_LRMUL = 0.01


def _mapping_case(z_dim: int, width: int, w_dim: int, depth: int, kind: str,
                  seed: int) -> tuple[MappingNetwork, Tensor]:
    """A package mapping network with non-zero biases, and the ``z [N, z_dim]`` it is checked on.

    The biases are moved off their zero initialisation (to an effective N(0, 0.5²)), so that a
    missing ``lrmul`` on the bias shows; the rows of ``z`` have very different lengths, so that
    a missing or misplaced pixel norm shows.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # leave the reader's random state alone
        torch.manual_seed(seed)
        net = MappingNetwork(z_dim, w_dim, depth, width, lrmul=_MAPPING_LRMUL)
    with torch.no_grad():
        for layer in net.layers:
            layer.bias.copy_(0.5 * torch.randn(layer.bias.shape, generator=gen) / _MAPPING_LRMUL)
    z = torch.randn(6, z_dim, generator=gen)  # [6, z_dim]
    if kind == "spread":
        z = z * torch.tensor([0.05, 0.3, 1.0, 3.0, 10.0, 1.0])[:, None]
    else:  # an all-zero z (pixel norm needs its epsilon) and one a million times too long
        z[0] = 0.0
        z[1] = z[1] * 1e6
    return net, z


def _mapping_variant(z: Tensor, weights: list[Tensor], biases: list[Tensor], lrmul: float,
                     norm: str, act: str, weight: str, bias: bool, transposed: bool) -> Tensor:
    """The mapping network computed with one choice per ingredient: the right one or a known mistake.

    Args:
        norm:       "before" (right), "after", "both", "none", "length" (z / ||z||), "batch"
                    (over dim 0).
        act:        "leaky" (right, 0.2), "relu", "leaky0.01", "last_none" (none after the last
                    layer).
        weight:     "right" (sqrt(2) / sqrt(fan_in) * lrmul), "no_lrmul", "stored" (as stored),
                    "lrmul_only", "gain1".
        bias:       whether the bias is multiplied by lrmul.
        transposed: ``x @ W`` instead of ``x @ W.T`` (square layers only).
    """
    def rms(x: Tensor, dim: int) -> Tensor:
        return x * torch.rsqrt(x.square().mean(dim=dim, keepdim=True) + 1e-8)

    x = z.double()
    if norm in ("before", "both"):
        x = rms(x, 1)
    elif norm == "length":
        x = x / (x.norm(dim=1, keepdim=True) + 1e-8)
    elif norm == "batch":
        x = rms(x, 0)
    for i, (w, b) in enumerate(zip(weights, biases)):
        w, b = w.double(), b.double()
        he = 2 ** 0.5 / w.shape[1] ** 0.5
        scale = {"right": he * lrmul, "no_lrmul": he, "stored": 1.0, "lrmul_only": lrmul,
                 "gain1": lrmul / w.shape[1] ** 0.5}[weight]
        x = x @ (w if transposed else w.T) * scale + (b * lrmul if bias else b)
        if act == "relu":
            x = torch.relu(x)
        elif act == "leaky0.01":
            x = torch.nn.functional.leaky_relu(x, 0.01)
        elif act == "leaky" or i < len(weights) - 1:
            x = torch.nn.functional.leaky_relu(x, 0.2)
    if norm in ("after", "both"):
        x = rms(x, 1)
    return x


_MAPPING_MISTAKES = {
    ("norm", "after"): "you normalised after the layers instead of before them: pixel norm comes "
                       "first, on z, and the layers read the normalised z",
    ("norm", "both"): "you pixel-normalised w at the end as well; only z is normalised, before "
                      "the first layer",
    ("norm", "none"): "z is not pixel-normalised: scale each z to unit root mean square first, "
                      "z * rsqrt(mean(z², dim=1) + 1e-8)",
    ("norm", "length"): "you divided z by its length ||z||; pixel norm divides by its root mean "
                        "square, sqrt(mean(z²) + 1e-8), which leaves ||z|| = sqrt(z_dim)",
    ("norm", "batch"): "you normalised over the batch (dim 0); pixel norm normalises each z over "
                       "its own features (dim 1)",
    ("act", "relu"): "ReLU instead of LeakyReLU: the mapping network uses LeakyReLU with slope "
                     "0.2, which scales negative inputs by 0.2 instead of zeroing them",
    ("act", "leaky0.01"): "LeakyReLU with slope 0.01, the default of torch's leaky_relu; the "
                          "paper's slope is 0.2: F.leaky_relu(x, 0.2)",
    ("act", "last_none"): "the last layer has no activation; the mapping network applies "
                          "LeakyReLU(0.2) after every layer, the last one included",
    ("weight", "no_lrmul"): "you forgot the lrmul on the weights: the run-time scale is "
                            "sqrt(2) / sqrt(fan_in) * lrmul",
    ("weight", "stored"): "the weights are used as stored; an equalized layer multiplies them at "
                          "run time by sqrt(2) / sqrt(fan_in) * lrmul",
    ("weight", "lrmul_only"): "the He constant sqrt(2) / sqrt(fan_in) is missing from the "
                              "weights' scale; it is sqrt(2) / sqrt(fan_in) * lrmul",
    ("weight", "gain1"): "the gain is 1; the mapping's layers use gain sqrt(2): the scale is "
                         "sqrt(2) / sqrt(fan_in) * lrmul",
    ("bias", False): "you forgot the lrmul on the bias: the bias is stored divided by lrmul, "
                     "so the layer adds bias * lrmul",
    ("transposed", True): "each weight is stored [out_features, in_features]: multiply by its "
                          "transpose, x @ W.T",
}
_MAPPING_RIGHT = {"norm": "before", "act": "leaky", "weight": "right", "bias": True, "transposed": False}
_MAPPING_CHOICES = {
    "norm": ["before", "after", "both", "none", "length", "batch"],
    "act": ["leaky", "relu", "leaky0.01", "last_none"],
    "weight": ["right", "no_lrmul", "stored", "lrmul_only", "gain1"],
    "bias": [True, False],
    "transposed": [False, True],
}


def _mapping_diagnosis(got: Tensor, z: Tensor, weights: list[Tensor], biases: list[Tensor]) -> str:
    """The named mistakes whose combination reproduces ``got``, joined; empty if none does."""
    names = list(_MAPPING_CHOICES)
    square = all(w.shape[0] == w.shape[1] for w in weights)
    combos = [{}]
    for key, options in _MAPPING_CHOICES.items():  # every combination of the choices
        combos = [dict(c, **{key: option}) for c in combos for option in options]
    for choice in combos:
        if choice == _MAPPING_RIGHT or (choice["transposed"] and not square):
            continue
        with torch.no_grad():
            wrong = _mapping_variant(z, weights, biases, _MAPPING_LRMUL, **choice)
        if torch.allclose(got, wrong, rtol=1e-4, atol=1e-5, equal_nan=True):
            return "; and ".join(_MAPPING_MISTAKES[(k, choice[k])] for k in names
                                 if choice[k] != _MAPPING_RIGHT[k])
    return ""


def _mapping_reader(fn_or_module, net: MappingNetwork, name: str, where: str):
    """The reader's mapping as ``z -> w`` on ``net``'s stored parameters, and those parameters.

    A function is called as ``fn(z, weights, biases, lrmul)``; an ``nn.Module`` class is built
    as ``cls(z_dim=, w_dim=, depth=, width=, lrmul=)`` and gets ``net``'s stored weights and
    biases copied into its parameters, in order.
    """
    weights = [layer.weight.detach().clone().requires_grad_(True) for layer in net.layers]
    biases = [layer.bias.detach().clone().requires_grad_(True) for layer in net.layers]
    if not (isinstance(fn_or_module, type) and issubclass(fn_or_module, torch.nn.Module)):
        return (lambda z: _call(name, fn_or_module, z, weights, biases, _MAPPING_LRMUL)), weights, biases
    dims = dict(z_dim=net.z_dim, w_dim=net.w_dim, depth=len(net.layers),
                width=net.layers[0].weight.shape[0], lrmul=_MAPPING_LRMUL)
    try:
        module = fn_or_module(**dims)
    except NotImplementedError as err:
        raise ExerciseError(f"{name} is not implemented yet. {err}".strip()) from None
    except TypeError as err:
        raise ExerciseError(f"{name}: constructing {fn_or_module.__name__}(z_dim=..., w_dim=..., "
                            f"depth=..., width=..., lrmul=...) failed: {err}") from None
    params = list(module.parameters())
    expected = [t.shape for pair in zip(weights, biases) for t in pair]
    if [p.shape for p in params] != expected:
        raise ExerciseError(
            f"{name} {where}: the module's parameters, in order, must be each layer's weight "
            f"[out, in] then its bias [out]: expected shapes {[tuple(s) for s in expected]}, got "
            f"{[tuple(p.shape) for p in params]}")
    with torch.no_grad():
        for p, t in zip(params, [t for pair in zip(weights, biases) for t in pair]):
            p.copy_(t)
    return (lambda z: _call(name, module, z)), params[0::2], params[1::2]


def check_mapping_network(fn_or_module) -> None:
    """Check a reader's mapping network ``z -> w`` against the package's (chapter 5).

    Args:
        fn_or_module: either a function ``mapping(z, weights, biases, lrmul)`` that takes
            ``z [N, z_dim]``, the layers' *stored* weights ``[out, in]`` and biases ``[out]`` (as
            :class:`~stylegan_tutorial.layers.EqualizedLinear` stores them: divided by
            ``lrmul``) and returns ``w [N, w_dim]``; or an ``nn.Module`` class, built as
            ``cls(z_dim=..., w_dim=..., depth=..., width=..., lrmul=...)``, whose parameters
            are each layer's weight and bias in order.

    The reference is :class:`~stylegan_tutorial.mapping.MappingNetwork` with ``lrmul = 0.01``
    and its stored parameters handed to the reader's code: 8 layers 16 wide, 2 layers of
    different widths, and latents that are zero or a million times too long. Checks the
    shape, the values, that gradients reach the weights and biases, and names each usual
    mistake (pixel norm after instead of before, ReLU instead of LeakyReLU(0.2), the ``lrmul``
    forgotten on the bias or on the weights...). Prints a pass or raises :class:`ExerciseError`.
    """
    name = "mapping_network"
    for case, (where, z_dim, width, w_dim, depth, kind) in enumerate(_MAPPING_CASES):
        net, z = _mapping_case(z_dim, width, w_dim, depth, kind, seed=50 + case)
        data = f"on {where} (lrmul {_MAPPING_LRMUL})"
        mapping, weights, biases = _mapping_reader(fn_or_module, net, name, data)
        try:
            value = mapping(z.clone())
        except RuntimeError as err:
            raise ExerciseError(f"{name} {data} raised {type(err).__name__}: {str(err).splitlines()[0]}. "
                                "Each weight is stored [out_features, in_features]: x @ W.T") from None
        if not isinstance(value, Tensor):
            raise ExerciseError(f"{name} must return a torch.Tensor w [N, w_dim], got {type(value).__name__}")
        if tuple(value.shape) != (len(z), w_dim):
            raise ExerciseError(f"{name} {data}: expected w of shape ({len(z)}, {w_dim}), got "
                                f"{tuple(value.shape)}")
        with torch.no_grad():
            expected = net(z).double()
        got = value.detach().double()
        if not torch.isfinite(got).all():
            zero_row = kind == "extreme" and torch.isfinite(got[1:]).all()
            raise ExerciseError(
                f"{name} {data}: w is not finite" + (
                    " for the all-zero z (row 0): pixel norm needs its epsilon, "
                    "rsqrt(mean(z²) + 1e-8), to keep a zero z finite" if zero_row else
                    f": expected w[0] starting {_show(expected[0, :4])}, got {_show(got[0, :4])}"))
        if not torch.allclose(got, expected, rtol=1e-4, atol=1e-5):
            why = _mapping_diagnosis(got, z, [w.detach() for w in weights], [b.detach() for b in biases])
            values = f"expected w[0] starting {_show(expected[0, :4])}, got {_show(got[0, :4])}"
            if why:
                raise ExerciseError(f"{name} {data}: {values}: {why}")
            i, j = divmod(int((got - expected).abs().argmax()), w_dim)
            raise ExerciseError(
                f"{name} {data}: {values}; the largest difference is at w[{i}, {j}]: expected "
                f"{expected[i, j].item():.5f}, got {got[i, j].item():.5f}. The mapping is pixel norm "
                "on z, then per layer x @ (W * sqrt(2) / sqrt(fan_in) * lrmul).T + b * lrmul and "
                "LeakyReLU(0.2)")
        _check_mapping_gradients(name, data, net, z, value, weights, biases)
    print(f"✅ {name}: matches stylegan_tutorial.mapping.MappingNetwork (lrmul {_MAPPING_LRMUL}) on 8 "
          "and 2 layers, zero and huge z, values and gradients")


def _check_mapping_gradients(name: str, data: str, net: MappingNetwork, z: Tensor, value: Tensor,
                             weights: list[Tensor], biases: list[Tensor]) -> None:
    """The reader's w must reach the weights and biases with the reference's gradients."""
    if not value.requires_grad:
        raise ExerciseError(f"{name} {data}: the values match but w is detached from the weights "
                            "(no gradient would train the mapping); compute it with torch operations "
                            "on the weights and biases, without torch.no_grad() or .detach()")
    probe = torch.randn(value.shape, generator=torch.Generator().manual_seed(7))  # a fixed direction
    mine = torch.autograd.grad((value * probe).sum(), [*weights, *biases], allow_unused=True)
    ref = torch.autograd.grad((net(z) * probe).sum(), [*(l.weight for l in net.layers),
                                                        *(l.bias for l in net.layers)])
    for k, (a, b) in enumerate(zip(mine, ref)):
        label = f"weights[{k}]" if k < len(weights) else f"biases[{k - len(weights)}]"
        if a is None or not torch.allclose(a.double(), b.double(), rtol=1e-3, atol=1e-6):
            raise ExerciseError(f"{name} {data}: the values match but the gradient with respect to "
                                f"{label} does not; is part of the computation detached?")
