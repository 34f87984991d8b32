"""``stylegan-tutorial train``: flags from the dataclass, defaults from one place, resume read once."""

import argparse
import dataclasses

import pytest

from stylegan_tutorial import checkpoint as ckpt
from stylegan_tutorial.commands import train as command
from stylegan_tutorial.configs import TrainingConfig, training_config
from stylegan_tutorial.training import find_resume_source


def parse(*argv):
    parser = argparse.ArgumentParser(prog="stylegan-tutorial train")
    command.add_arguments(parser)
    return parser, parser.parse_args(list(argv))


def test_every_field_has_a_flag_with_the_dataclass_help():
    parser, _ = parse()
    text = parser.format_help().replace("\n", " ")
    for f in dataclasses.fields(TrainingConfig):
        if f.name == "network":
            continue
        flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
        assert flag in text, f"TrainingConfig.{f.name} has no flag"
        assert " ".join(f.metadata["help"].split()[:4]) in " ".join(text.split()), f.name


def test_unset_flags_take_the_configs_schedule_and_defaults():
    _, args = parse("--config", "colab-64")
    assert command.config_from_args(args) == training_config("colab-64")
    _, args = parse("--kimg", "2", "--no-mirror", "--batch-sizes", "4:8,8:4", "--adam-betas", "0", "0.9",
                    "--r1-interval", "4", "--data-on-device")
    cfg = command.config_from_args(args)
    assert cfg == training_config("cpu-tiny", total_kimg=2.0, mirror=False, batch_sizes={4: 8, 8: 4},
                                  adam_betas=(0.0, 0.9), r1_interval=4, data_on_device=True)


def test_a_resumed_run_keeps_its_values_unless_a_flag_changes_them():
    saved = training_config("cpu-tiny", seed=3, r1_gamma=5.0, total_kimg=1.0)
    _, args = parse("--kimg", "2")
    cfg = command.config_from_args(args, saved)
    assert (cfg.seed, cfg.r1_gamma, cfg.total_kimg) == (3, 5.0, 2.0)
    _, args = parse("--config", "colab-64")  # another network: its own schedule, the run's options
    cfg = command.config_from_args(args, saved)
    assert (cfg.network.name, cfg.total_kimg, cfg.seed, cfg.r1_gamma) == ("colab-64", 600, 3, 5.0)


@pytest.mark.parametrize("argv, message", [
    (["--kimg", "-1"], "--kimg must be a number >= 0"),
    (["--r1-interval", "0"], "--r1-interval must be an integer >= 1"),
    (["--batch-sizes", "6:32"], "a resolution of batch_sizes must be a power of two"),
])
def test_bad_values_name_the_flag(argv, message):
    _, args = parse(*argv)
    with pytest.raises(ValueError, match=message):
        command.config_from_args(args)


def test_bad_map_syntax_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit):
        parse("--batch-sizes", "4-32")
    assert "expected RES:VALUE pairs" in capsys.readouterr().err


def test_finding_the_latest_checkpoint_reads_headers_only(tmp_path, monkeypatch):
    import torch

    for nimg in (8, 16):
        ckpt.save_checkpoint(tmp_path / ckpt.checkpoint_name(nimg), {"x": torch.zeros(3)},
                             {"config": training_config().to_dict(), "nimg": nimg})
    (tmp_path / ckpt.checkpoint_name(24)).write_bytes(
        (tmp_path / ckpt.checkpoint_name(16)).read_bytes()[:-4])  # cut short: skipped
    monkeypatch.setattr(ckpt, "load_checkpoint", lambda path: pytest.fail("read every tensor"))
    with pytest.warns(UserWarning, match="is truncated"):
        found = find_resume_source(tmp_path, "auto")
    assert found == tmp_path / ckpt.checkpoint_name(16)
    assert ckpt.read_meta(found)["nimg"] == 16


def test_old_checkpoints_whose_network_held_the_schedule_still_read():
    old = training_config("colab-64").to_dict()
    schedule = {k: old.pop(k) for k in ("batch_sizes", "learning_rates", "base_learning_rate",
                                        "phase_kimg", "total_kimg")}
    old["network"].update(schedule)  # the older layout, as in the shipped generator's metadata
    assert TrainingConfig.from_dict(old) == training_config("colab-64")
