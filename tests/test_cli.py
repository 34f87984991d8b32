"""The command line and the package as a user installs it."""

import hashlib
import json
import subprocess
import sys
import venv
import zipfile

import pytest

from conftest import ROOT
from stylegan_tutorial import __version__, cli


def run(*args, **kw):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, **kw)


def test_import_is_silent_and_light():
    code = ("import sys, stylegan_tutorial; "
            "heavy = [m for m in ('torch', 'matplotlib', 'sklearn', 'PIL', 'ipywidgets') "
            "if m in sys.modules]; "
            "print(heavy)")
    result = run("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n" and result.stderr == ""


def test_help_and_version(capsys):
    assert cli.main([]) == 0
    assert "usage: stylegan-tutorial" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"stylegan-tutorial {__version__}"


def test_python_dash_m():
    result = run("-m", "stylegan_tutorial", "--help")
    assert result.returncode == 0 and "student" in result.stdout


def test_every_command_has_help():
    for name in cli.COMMANDS:
        result = run("-m", "stylegan_tutorial", name, "--help")
        assert result.returncode == 0, f"{name} --help failed: {result.stderr}"
        assert f"usage: stylegan-tutorial {name}" in result.stdout


def test_unknown_command_is_an_error():
    result = run("-m", "stylegan_tutorial", "no-such-command")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_student_command_reports_a_missing_file(tmp_path):
    result = run("-m", "stylegan_tutorial", "student", str(tmp_path / "nope.ipynb"), "--out", str(tmp_path))
    assert result.returncode != 0


@pytest.mark.slow
def test_wheel_installs_into_a_clean_venv(tmp_path):
    """`pip wheel .` builds; the wheel installs into a new venv and its console script runs."""
    wheels = tmp_path / "wheels"
    built = run("-m", "pip", "wheel", "--no-deps", "-w", str(wheels), ".")
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("stylegan_tutorial-*.whl")
    # the shipped weights travel inside the wheel, byte for byte what their manifests promise
    with zipfile.ZipFile(wheel) as zf:
        for stem in ("generator-faces64", "oracle-faces32"):
            manifest = json.loads(zf.read(f"stylegan_tutorial/pretrained/{stem}.json"))
            weights = zf.read(f"stylegan_tutorial/pretrained/{manifest['file']}")
            assert hashlib.sha256(weights).hexdigest() == manifest["sha256"], stem
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    pip = env_dir / "bin" / "pip"
    # --no-deps: the clean venv has no torch; the command line's --help must not need it.
    inst = subprocess.run([pip, "install", "--no-deps", "--no-index", str(wheel)],
                          capture_output=True, text=True)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    out = subprocess.run([env_dir / "bin" / "stylegan-tutorial", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: stylegan-tutorial" in out.stdout
    out = subprocess.run([env_dir / "bin" / "stylegan-tutorial", "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == f"stylegan-tutorial {__version__}"


def test_out_of_gpu_memory_is_one_line_that_says_what_to_do(monkeypatch, capsys):
    import torch

    from stylegan_tutorial import cli
    from stylegan_tutorial.commands import check_data

    def run(args):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(check_data, "run", run)
    assert cli.main(["check-data", "anything"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ran out of memory" in err and "--batch-sizes" in err
    monkeypatch.setattr(check_data, "run", lambda args: (_ for _ in ()).throw(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):  # any other RuntimeError is a bug: its traceback shows
        cli.main(["check-data", "anything"])
