"""The evaluate command: a thin layer over metrics.evaluate, checked on a tiny trained run."""

import json
import types

import pytest

from stylegan_tutorial import cli, metrics
from stylegan_tutorial.configs import get_config
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.metrics import report
from stylegan_tutorial.shipped import checkpoint_file

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished cpu-tiny run of 64 images on 64 generated faces."""
    out = tmp_path_factory.mktemp("run") / "tiny"
    mp = pytest.MonkeyPatch()
    mp.setenv("STYLEGAN_TUTORIAL_CACHE", str(tmp_path_factory.mktemp("cache")))
    try:
        code = cli.main(["train", "--config", "cpu-tiny", "--data", "faces:n=64", "--kimg", "0.064",
                         "--out", str(out), "--no-progress"])
    finally:
        mp.undo()
    assert code == 0
    return out


@pytest.mark.slow
def test_evaluate_prints_a_table_and_writes_json(run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STYLEGAN_TUTORIAL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "m.json"
    code = cli.main(["evaluate", "--checkpoint", str(run_dir), "--metrics", "fd,kid,swd",
                     "--n", "32", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["data"] == "faces:n=64" and record["n"] == 32
    for key in ("fd", "kid", "kid_std"):
        assert key in record["metrics"] and f"{key} " in printed
    assert record["metrics"]["fd"] > 0  # an almost untrained generator is far from the faces
    assert "mean" in record["metrics"]["swd"]
    assert "n = 32\n" in printed and "path length" not in printed  # no ppl or mixing asked for


def test_unknown_metric_and_missing_checkpoint_are_clear_errors(tmp_path, capsys):
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path), "--metrics", "fd,fid"]) == 2
    assert "--metrics must be a comma-separated list" in capsys.readouterr().err
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "nope")]) == 2
    assert "no such file or run directory" in capsys.readouterr().err
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path)]) == 2
    assert "no checkpoint in" in capsys.readouterr().err
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path), "--n-ppl", "1"]) == 2
    assert "--n-ppl must be at least 2" in capsys.readouterr().err


def test_pretrained_names_are_checked():
    with pytest.raises(ValueError, match="no pretrained generator named 'faces32'"):
        checkpoint_file("pretrained:faces32")


def test_flatten_and_json_safety():
    nested = {"fd": 1.5, "ppl": {"w_full": 2.0, "z_end": 3.0}}
    assert metrics.flatten(nested) == {"fd": 1.5, "ppl.w_full": 2.0, "ppl.z_end": 3.0}
    assert metrics.json_safe({"a": float("nan"), "b": {"c": 1.0}}) == {"a": None, "b": {"c": 1.0}}


def test_path_length_and_mixing_use_their_own_sample_sizes(monkeypatch):
    asked = {}
    monkeypatch.setattr(report, "path_length",  # the names evaluate calls, in its own module
                        lambda G, s, p, n, **kw: asked.setdefault(f"ppl_{s}_{p}", n))
    monkeypatch.setattr(report, "mixing_transfer_table",
                        lambda G, oracle, n, **kw: asked.setdefault("mixing", n))
    G, oracle = Generator(get_config("cpu-tiny")), types.SimpleNamespace(features=None)
    metrics.evaluate(G, None, metrics=("ppl", "mixing"), n=40, n_ppl=7, n_mix=9, oracle=oracle,
                     progress=False)
    assert asked == {"ppl_z_full": 7, "ppl_z_end": 7, "ppl_w_full": 7, "ppl_w_end": 7, "mixing": 9}
    asked.clear()
    metrics.evaluate(G, None, metrics=("ppl", "mixing"), n=40, oracle=oracle, progress=False)
    assert set(asked.values()) == {40}  # both default to n


def test_evaluate_coverage_counts_what_the_oracle_reads_in_both_sets():
    from stylegan_tutorial.data.faces import make_faces
    from stylegan_tutorial.generate import sample_images
    from stylegan_tutorial.metrics.coverage import combination_shares
    from stylegan_tutorial.oracle import load_oracle
    from stylegan_tutorial.shipped import load_pretrained

    G, oracle = load_pretrained("faces32-cpu"), load_oracle()
    reals, _ = make_faces(400, 32, seed=0)
    out = metrics.evaluate(G, reals, metrics=("coverage",), n=300, oracle=oracle, progress=False)
    assert set(out) == {"coverage", "missing_combinations"}
    # The same sets read again, counted here by hand: the data's combinations at >= 1 %, and those
    # drawn at least a quarter as often.
    picked = report._real_images(reals, 300, 32, 0)
    real = combination_shares(oracle.predict(picked))
    fake = combination_shares(oracle.predict(sample_images(G, 300, seed=1)))
    present = [i for i in range(len(real)) if real[i] >= 0.01]
    covered = [i for i in present if fake[i] >= 0.25 * real[i]]
    assert out["coverage"]["present"] == len(present) and out["coverage"]["covered"] == len(covered)
    assert out["coverage"]["share"] == pytest.approx(len(covered) / len(present))
    assert out["coverage"]["tv"] == pytest.approx(0.5 * float((fake - real).abs().sum()))
    assert len(out["missing_combinations"]) == len(present) - len(covered)
    table = report.format_table(out)
    assert "coverage.share" in table and "coverage.tv" in table
    missing = "; ".join(out["missing_combinations"]) or "none"
    assert f"drawn less than 25% as often as the data shows them: {missing}" in table
    written = json.loads(json.dumps(report.json_safe(out)))
    assert written["missing_combinations"] == out["missing_combinations"]
