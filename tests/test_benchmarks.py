"""The benchmark scripts still run against today's package (they are not imported by it, so
nothing else would notice when an API they use moves). Speed itself is never asserted."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, *map(str, args)], cwd=BENCH, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_bench_training_prints_a_row_per_variant():
    out = _run(BENCH / "bench_training.py", "--threads", "1", "--steps", "1", "--warmup", "0",
               "--resolutions", "4", "--variants", "default,fused_adam")
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| cpu-tiny | 4²")]
    assert [row.split("|")[4].strip() for row in rows] == ["default", "fused_adam"]


@pytest.mark.slow
def test_bench_networks_quick_run_counts_flops():
    out = _run(BENCH / "bench_networks.py", "--quick", "--configs", "cpu-tiny", "--threads", "1")
    assert out.returncode == 0, out.stderr
    assert "cpu-tiny" in out.stdout and "32²" in out.stdout


def test_bench_peer_refuses_a_folder_without_the_peer():
    out = _run(BENCH / "bench_peer.py", "--peer", BENCH)
    assert out.returncode == 2 and "model.py not found" in out.stderr


def test_instructor_schedule_adds_up_to_the_configuration():
    sys.path.insert(0, str(BENCH))
    try:
        import instructor
    finally:
        sys.path.remove(str(BENCH))
    from stylegan_tutorial.configs import training_config

    for name in ("cpu-tiny", "colab-64", "paper-1024"):
        cfg = training_config(name)
        kimg = instructor.kimg_per_resolution(cfg)
        assert list(kimg) == cfg.network.resolutions
        assert sum(kimg.values()) == pytest.approx(cfg.total_kimg)
        assert kimg[4] == pytest.approx(cfg.phase_kimg / 2)  # 4² trains alone for half a phase
    # twice the peak halves a compute-bound estimate; the launch floor stops it
    args = ({64: 10.0}, {64: 500.0}, {64: 32})
    assert instructor.estimate_seconds(*args, 10.0, {}) == pytest.approx(
        2 * instructor.estimate_seconds(*args, 20.0, {}))
    assert instructor.estimate_seconds(*args, 1e6, {64: 0.1}) == pytest.approx(10 * 1000 * 0.1 / 32)
