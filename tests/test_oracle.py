"""The oracle: head layout, target coding, input resizing, shipped weights, hashes and accuracy."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stylegan_tutorial import oracle as O
from stylegan_tutorial import shipped as S
from stylegan_tutorial.data.faces import FACTORS, make_faces, sample_factors
from stylegan_tutorial.files import sha256_of

# The oracle's files, as stylegan_tutorial.shipped registers them (the fixture `shipped` is the model).
MANIFEST = S.manifest_path(O.NAME)
WEIGHTS_NAME = S.weights_path(O.NAME).name
MANIFEST_NAME = MANIFEST.name

# Held-out floors for the shipped oracle on fresh faces (seed 123, never seen in training):
# categorical accuracy and continuous R². The measured values are in benchmarks/oracle.md.
FLOORS = {
    "head_x": 0.95, "head_y": 0.95, "head_size": 0.9, "head_aspect": 0.8, "skin_tone": 0.95,
    "hair_style": 0.95, "hair_colour": 0.9, "eye_size": 0.75, "eyes_open": 0.95,
    "mouth_curve": 0.75, "glasses": 0.95, "background_hue": 0.95,
}


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def test_head_layout_gives_each_factor_its_outputs():
    layout = O.head_layout()
    assert list(layout) == list(FACTORS)
    widths = {k: s.stop - s.start for k, s in layout.items()}
    assert widths["hair_style"] == 4 and widths["glasses"] == 2 and widths["eyes_open"] == 2
    assert widths["background_hue"] == 2 and widths["head_x"] == 1
    # contiguous, no overlap: 9 continuous (one of them 2 wide) + 4 + 2 + 2 logits
    assert sum(widths.values()) == 8 + 2 + 4 + 2 + 2
    assert all(a.stop == b.start for a, b in zip(list(layout.values()), list(layout.values())[1:]))


def test_decoding_the_ideal_head_output_recovers_the_factors():
    factors = sample_factors(64, seed=5)
    targets = O.encode_targets(factors)
    layout = O.head_layout()
    out = torch.zeros(64, max(s.stop for s in layout.values()))
    for name, sl in layout.items():
        if FACTORS[name].kind == "categorical":
            out[:, sl] = 10 * F.one_hot(targets[name], sl.stop - sl.start).float()
        else:
            out[:, sl] = targets[name].view(64, -1)
    pred = O.decode(out, layout)
    for name in FACTORS:
        truth = torch.as_tensor(factors[name]).double()
        if name in O.CIRCULAR:
            assert O.circular_difference(pred[name].double(), truth).abs().max() < 1e-5
        else:
            assert torch.allclose(pred[name].double(), truth, atol=1e-5)
    assert torch.allclose(pred["glasses_prob"].sum(1), torch.ones(64))


def test_scores_by_hand():
    factors = sample_factors(2000, seed=1)
    perfect = {k: torch.as_tensor(v) for k, v in factors.items()}
    assert all(abs(s - 1.0) < 1e-12 for s in O.factor_scores(perfect, factors).values())
    guess = {k: torch.full((2000,), float(np.mean(v))) for k, v in factors.items()}
    scores = O.factor_scores(guess, factors)
    assert scores["head_x"] == pytest.approx(0.0, abs=1e-9)  # the mean itself: R² = 0
    # A constant hue on a uniform circle misses by U(-1/2, 1/2): mean square 1/12, R² ~ 0.
    assert scores["background_hue"] == pytest.approx(0.0, abs=0.1)
    # Hue predictions that are right but wrapped round the circle still score 1.
    wrapped = dict(perfect, background_hue=perfect["background_hue"] - 1.0)
    assert O.factor_scores(wrapped, factors)["background_hue"] == pytest.approx(1.0)


def test_larger_inputs_are_box_averaged_and_bad_inputs_rejected():
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    expected = x.view(2, 3, 32, 2, 32, 2).mean(dim=(3, 5))
    assert torch.allclose(O.to_oracle_input(x), expected, atol=1e-6)
    assert O.to_oracle_input(torch.full((1, 3, 32, 32), 3.0)).max() == 1.0  # clamped
    assert O.to_oracle_input(torch.zeros(1, 3, 16, 16)).shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="images"):
        O.to_oracle_input(torch.zeros(3, 32, 32))
    with pytest.raises(ValueError, match="square"):
        O.to_oracle_input(torch.zeros(1, 3, 32, 16))


def test_the_network_is_small_and_its_features_are_penultimate():
    torch.manual_seed(0)
    model = O.Oracle().eval()
    assert sum(p.numel() for p in model.parameters()) < 300_000
    x = torch.rand(5, 3, 32, 32) * 2 - 1
    feats = model.features(x)
    assert feats.shape == (5, 128)
    # the head is linear in the features: the logits come from them alone
    _, out = model(x)
    assert torch.allclose(model.head(feats), out, atol=1e-5)


@pytest.fixture(scope="module")
def shipped():
    return O.load_oracle()


def test_shipped_weights_match_their_manifest(shipped):
    manifest = json.loads(MANIFEST.read_text())
    weights = S.PRETRAINED_DIR / manifest["file"]
    assert weights.stat().st_size < 2_000_000
    assert sha256_of(weights) == manifest["sha256"]
    for key in ("command", "seed", "held_out", "wall_time_s", "machine"):
        assert key in manifest
    assert set(manifest["held_out"]) == set(FACTORS)
    assert not shipped.training


@pytest.mark.slow
def test_shipped_oracle_reads_fresh_faces_above_the_floors(shipped):
    images, factors = make_faces(1000, 32, seed=123)
    scores = O.factor_scores(shipped.predict(images), factors)
    low = {k: round(v, 3) for k, v in scores.items() if v < FLOORS[k]}
    assert not low, f"below the floors {FLOORS}: {low}"
    # 64² faces, box-averaged to 32², are read nearly as well (slightly different anti-aliasing).
    images64, factors64 = make_faces(300, 64, seed=124)
    scores64 = O.factor_scores(shipped.predict(images64), factors64)
    assert all(scores64[k] > FLOORS[k] - 0.05 for k in FLOORS), scores64


def test_a_damaged_weight_file_is_refused_with_both_hashes(tmp_path):
    for name in (WEIGHTS_NAME, MANIFEST_NAME):
        shutil.copy(S.PRETRAINED_DIR / name, tmp_path / name)
    expected = json.loads((tmp_path / MANIFEST_NAME).read_text())["sha256"]
    data = bytearray((tmp_path / WEIGHTS_NAME).read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / WEIGHTS_NAME).write_bytes(bytes(data))
    with pytest.raises(ValueError) as info:
        O.load_oracle(tmp_path)
    message = str(info.value)
    assert WEIGHTS_NAME in message and expected in message
    assert sha256_of(tmp_path / WEIGHTS_NAME) in message


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest"):
        O.load_oracle(tmp_path)
    shutil.copy(S.PRETRAINED_DIR / MANIFEST_NAME, tmp_path / MANIFEST_NAME)
    with pytest.raises(FileNotFoundError, match=WEIGHTS_NAME):
        O.load_oracle(tmp_path)


@pytest.mark.slow
def test_train_oracle_writes_weights_that_load(tmp_path):
    manifest = O.train_oracle(tmp_path, seed=3, n_train=256, n_test=64, epochs=1,
                              batch_size=64, share64=0.25, progress=False)
    assert manifest["sha256"] == sha256_of(tmp_path / WEIGHTS_NAME)
    assert manifest["n_train"] == 256 and set(manifest["held_out"]) == set(FACTORS)
    assert set(manifest["held_out_64"]) == set(FACTORS)
    model = O.load_oracle(tmp_path)
    x, _ = make_faces(4, 32, seed=9)
    assert torch.isfinite(model.features(x)).all()
    with pytest.raises(ValueError, match="n_train"):
        O.train_oracle(tmp_path, n_train=0)
    with pytest.raises(ValueError, match="share64"):
        O.train_oracle(tmp_path, n_train=8, share64=1.5)


def test_training_faces_drawn_large_are_the_same_faces_pooled():
    images, factors = O.draw_training_faces(8, seed=4, share64=0.5)
    small, same_factors = make_faces(8, 32, seed=4)
    large, _ = make_faces(8, 64, seed=4)
    assert all(np.array_equal(factors[k], same_factors[k]) for k in FACTORS)
    assert torch.allclose(images[:4], large[:4].view(4, 3, 32, 2, 32, 2).mean(dim=(3, 5)), atol=1e-6)
    assert torch.equal(images[4:], small[4:])


def test_features_are_deterministic_in_eval_mode(shipped):
    x, _ = make_faces(8, 32, seed=2)
    a, b = shipped.features(x), shipped.features(x[:4])
    assert torch.allclose(a[:4], b, atol=1e-5)  # batch size does not change a face's features
    assert math.isfinite(float(a.abs().sum()))
