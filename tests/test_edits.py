"""Edits along measured directions and the entanglement matrix (chapter 13)."""

from __future__ import annotations

import math

import pytest
import torch

from stylegan_tutorial.configs import get_config
from stylegan_tutorial.data.faces import FACTORS
from stylegan_tutorial.edits import (
    EDITS,
    Directions,
    check_edit,
    direction,
    edit,
    entanglement_matrix,
    fit_directions,
    format_entanglement,
    read_latents,
    ridge,
)
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.oracle import load_oracle
from stylegan_tutorial.shipped import load_pretrained

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def test_every_factor_has_an_edit_and_unknown_names_list_them():
    factors = {factor for factor, _ in EDITS.values()}
    assert factors == set(FACTORS)
    assert EDITS["glasses"] == ("glasses", 1) and EDITS["mouth_curve"] == ("mouth_curve", None)
    assert [e for e in EDITS if e.startswith("hair_style=")] == [
        f"hair_style={v}" for v in FACTORS["hair_style"].values]
    with pytest.raises(ValueError, match="unknown factor 'smile'.*hair_style=bun.*mouth_curve.*glasses"):
        check_edit("smile")


def test_ridge_recovers_a_known_linear_model():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 6, generator=g) * torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])
    true = torch.tensor([[1.0], [-2.0], [0.0], [0.5], [0.0], [3.0]])
    y = x @ true + 0.7 + 0.01 * torch.randn(500, 1, generator=g)
    coef, b = ridge(x, y, alpha=1e-6)
    assert torch.allclose(coef.float(), true, atol=0.01) and float(b) == pytest.approx(0.7, abs=0.01)


def _toy_directions(dim: int = 4) -> Directions:
    vectors = {e: torch.eye(dim)[0] for e in EDITS}
    vectors["background_hue"] = torch.eye(dim)[1:3]  # cos along x1, sin along x2
    return Directions("w", vectors, 2.0, torch.zeros(2), 10)


def test_edit_moves_w_and_every_layer_of_w_plus_alike():
    d = _toy_directions()
    G = type("G", (), {"num_layers": 3, "w_dim": 4})()
    w = torch.zeros(2, 4)
    moved = edit(G, w, "mouth_curve", 1.5, d)
    assert torch.allclose(moved, torch.tensor([[3.0, 0, 0, 0]] * 2))  # 1.5 units of 2 along x0
    assert torch.equal(edit(G, w, "mouth_curve", 0.0, d), w)
    plus = torch.zeros(2, 3, 4)
    assert torch.allclose(edit(G, plus, "glasses", -1.0, d), torch.tensor([-2.0, 0, 0, 0]).expand(2, 3, 4))
    with pytest.raises(ValueError, match="unknown factor"):
        edit(G, w, "beard", 1.0, d)
    with pytest.raises(ValueError, match="finite"):
        edit(G, w, "glasses", math.nan, d)


def test_the_hue_moves_along_its_circle():
    d = _toy_directions()
    # At hue angle 0 (cos = 1, sin = 0) the hue grows along +sin; at angle pi/2 along -cos.
    at0 = direction(d, "background_hue", torch.tensor([[0.0, 1.0, 0.0, 0.0]]))
    at90 = direction(d, "background_hue", torch.tensor([[0.0, 0.0, 1.0, 0.0]]))
    assert torch.allclose(at0, torch.tensor([[0.0, 0.0, 1.0, 0.0]]), atol=1e-6)
    assert torch.allclose(at90, torch.tensor([[0.0, -1.0, 0.0, 0.0]]), atol=1e-6)


def test_fit_directions_gives_unit_vectors_in_w_and_z():
    torch.manual_seed(0)
    G = Generator(get_config("cpu-tiny", resolution=16)).eval().requires_grad_(False)
    oracle = load_oracle()
    read = read_latents(G, 60, oracle=oracle)
    for space, dim in (("w", G.w_dim), ("z", G.z_dim)):
        try:
            d = fit_directions(G, space, oracle=oracle, read=read)
        except ValueError as err:  # an untrained G's faces may all read as one class
            assert "read no face with" in str(err)
            continue
        assert d.space == space and set(d.vectors) == set(EDITS)
        for e, v in d.vectors.items():
            if e != "background_hue":
                assert v.shape == (dim,) and float(v.norm()) == pytest.approx(1.0, abs=1e-5)
        assert d.unit > 0
    with pytest.raises(ValueError, match="space"):
        fit_directions(G, "s", read=read)


@pytest.fixture(scope="module")
def faces64_directions():
    G = load_pretrained("faces64")
    oracle = load_oracle()
    read = read_latents(G, 400, seed=0, oracle=oracle)
    return G, oracle, {s: fit_directions(G, s, oracle=oracle, read=read) for s in ("w", "z")}


def _own_against_others(result) -> tuple[torch.Tensor, torch.Tensor]:
    """Per edit: its own factor's change over the mean, and over the largest, of the others' changes."""
    others = result.matrix.clone()
    for i, e in enumerate(result.edits):
        others[i, result.factors.index(EDITS[e][0])] = float("nan")
    return result.own / others.nanmean(dim=1), result.own / others.nan_to_num(0).max(dim=1).values


@pytest.mark.slow
def test_an_edit_moves_its_own_factor_more_than_the_others_and_more_cleanly_in_w(faces64_directions):
    G, oracle, directions = faces64_directions
    found = {s: entanglement_matrix(G, s, step=2.0, n=32, seed=5, directions=directions[s], oracle=oracle)
             for s in ("w", "z")}
    w, z = found["w"], found["z"]
    assert w.matrix.shape == (len(EDITS), len(FACTORS)) and w.edits == list(EDITS)
    to_mean, to_max = _own_against_others(w)
    ratios = dict(zip(w.edits, to_mean.tolist()))
    # Measured on faces64 (directions from 400 faces, 32 edited faces, step 2): every edit moved its
    # own factor more than the mean of the others (15 of 15; 14 of 15 with 1000 and 64 faces, where
    # hair_style=long fell to 0.9), median 2.06 times (2.0 with 1000 and 64). Only the clearest edits
    # beat every other factor: glasses (2.0, 5.2) and the background hue (2.2, 2.8). The margins
    # below leave room for the small samples.
    assert int((to_mean > 1.0).sum()) >= 12, ratios
    assert float(to_mean.median()) > 1.5, ratios
    for e in ("glasses", "background_hue"):
        assert to_max[w.edits.index(e)] > 1.3, dict(zip(w.edits, to_max.tolist()))
    # W is the more disentangled space (the paper's claim): Z's median was 1.30 (1.3 with 1000 and 64).
    z_to_mean, _ = _own_against_others(z)
    assert float(to_mean.median()) > float(z_to_mean.median()) + 0.3, (ratios, z_to_mean.tolist())
    assert "**" in format_entanglement(w)


@pytest.mark.slow
def test_the_sign_of_an_edit_follows_the_factor(faces64_directions):
    G, oracle, directions = faces64_directions
    w = G.mapping(torch.randn(32, G.z_dim, generator=torch.Generator().manual_seed(9)))
    reads = {a: oracle.predict(G.synthesis(edit(G, w, "mouth_curve", a, directions["w"]), noise_mode="fixed"))
             for a in (-2.0, 0.0, 2.0)}
    smile = [float(reads[a]["mouth_curve"].mean()) for a in (-2.0, 0.0, 2.0)]
    assert smile[0] < smile[1] < smile[2], smile
    on = oracle.predict(G.synthesis(edit(G, w, "glasses", 3.0, directions["w"]), noise_mode="fixed"))
    assert on["glasses"].float().mean() > reads[0.0]["glasses"].float().mean()
