"""Chapter 12: the six shipped rows of Table 1, their manifests, and measuring them side by side."""

import dataclasses
import json

import pytest
import torch

from stylegan_tutorial import cli
from stylegan_tutorial import shipped as S
from stylegan_tutorial.configs import ABLATION_ROWS, get_config
from stylegan_tutorial.data.faces import make_faces
from stylegan_tutorial.generate import sample_images
from stylegan_tutorial.metrics import ablation
from stylegan_tutorial.metrics.frechet import frechet_distance
from stylegan_tutorial.oracle import load_oracle

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def fields(config):
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


@pytest.mark.parametrize("row", ABLATION_ROWS)
def test_each_row_ships_verified_with_its_own_configuration_and_provenance(row):
    G = S.load_pretrained(f"ablation-{row}")
    assert fields(G.config) == fields(get_config(f"ablation-{row}"))
    m = S.load_manifest(f"ablation-{row}")
    assert m["config"] == f"ablation-{row}"
    # the same schedule for every row: the row is the only difference
    assert m["kimg"] == S.load_manifest("ablation-A")["kimg"]
    command = m["training_commands"][-1]
    assert f"train --config ablation-{row} " in command and "--kimg" in command
    assert m["hardware"] and sum(m["wall_time_seconds"].values()) > 0
    assert m["metrics_at_export"]["fd"] > 0 and "evaluate" in m["metrics_at_export"]["command"]
    with torch.no_grad():
        img = G(torch.randn(3, G.z_dim))
    assert img.shape == (3, 3, 32, 32) and torch.isfinite(img).all()


@pytest.mark.parametrize("row", ABLATION_ROWS)
def test_evaluate_runs_on_every_shipped_row(row, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STYLEGAN_TUTORIAL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "metrics.json"
    code = cli.main(["evaluate", "--checkpoint", f"pretrained:ablation-{row}", "--data", "faces:n=96",
                     "--n", "64", "--metrics", "fd,kid", "--no-progress", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    record = json.loads(out.read_text())
    assert record["metrics"]["fd"] > 0 and "kid" in record["metrics"]


def test_sample_images_mixes_two_latents_only_when_asked():
    G = S.load_pretrained("ablation-F")
    one = sample_images(G, 8, seed=3, batch_size=4, noise_mode="fixed")
    again = sample_images(G, 8, seed=3, batch_size=4, noise_mode="fixed", mixing_prob=0.0)
    mixed = sample_images(G, 8, seed=3, batch_size=4, noise_mode="fixed", mixing_prob=1.0)
    assert torch.equal(one, again)
    assert not torch.allclose(one, mixed)
    # the same draw every time, and the caller's random state untouched
    state = torch.get_rng_state()
    assert torch.equal(mixed, sample_images(G, 8, seed=3, batch_size=4, noise_mode="fixed", mixing_prob=1.0))
    assert torch.equal(state, torch.get_rng_state())


@pytest.fixture(scope="module")
def small_results():
    generators = {row: S.load_pretrained(f"ablation-{row}").eval() for row in ("A", "E", "F")}
    reals, _ = make_faces(64, resolution=32, seed=5)
    return ablation.measure_rows(generators, reals, load_oracle(), n=64, n_ppl=16, progress=False), reals


def test_measure_rows_gives_every_number_and_no_mixing_without_styles(small_results):
    results, _ = small_results
    assert list(results) == ["A", "E", "F"]
    for r in results.values():
        assert set(r) == {"fd", "kid", "swd", "ppl_z", "ppl_w", "sep_z", "sep_w", "fd_mixed"}
        assert all(v > 0 for k, v in r.items() if k != "fd_mixed" and k != "kid")
    assert results["A"]["fd_mixed"] is None
    assert results["E"]["fd_mixed"] > 0 and results["F"]["fd_mixed"] > 0


def test_measure_row_fd_is_the_package_fd_of_the_same_draw(small_results):
    results, reals = small_results
    oracle = load_oracle()
    G = S.load_pretrained("ablation-E").eval()
    fakes = sample_images(G, 64, seed=1, batch_size=50)
    expected = frechet_distance(oracle.features(reals), oracle.features(fakes))
    assert results["E"]["fd"] == pytest.approx(expected, rel=1e-6)


def test_the_table_sits_beside_the_papers_fid(small_results):
    results, _ = small_results
    table = ablation.ablation_table_markdown(results)
    lines = table.splitlines()
    assert len(lines) == 2 + 3 and "paper FID (FFHQ)" in lines[0]
    assert lines[2].startswith("| A | baseline progressive GAN | 8.04 |")
    assert lines[2].rstrip().endswith("| – |")  # row A has no styles to mix
    assert f"{results['F']['fd']:.2f}" in lines[4]


def test_the_papers_numbers_are_its_table_1():
    # FFHQ falls from A to F overall, with the one step up at D that the paper reports
    ffhq = [ablation.PAPER_TABLE1_FID[r][1] for r in ABLATION_ROWS]
    assert ffhq[0] == 8.04 and ffhq[-1] == 4.40
    assert ffhq[3] > ffhq[2]
    assert set(ablation.ROW_NAMES) == set(ABLATION_ROWS)
