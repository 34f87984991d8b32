"""``stylegan-tutorial train``: build a TrainingConfig from the flags and call ``training.train``.

Every user-settable field of :class:`~stylegan_tutorial.configs.TrainingConfig` has a flag whose
help text comes from the field's metadata. A flag left unset keeps the value of the run being
resumed, else the named configuration's (its schedule), else the dataclass default, so the
defaults are written once, in ``configs.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from stylegan_tutorial import checkpoint as ckpt
from stylegan_tutorial import distributed
from stylegan_tutorial.configs import CONFIG_NAMES, SCHEDULE_FIELDS, TrainingConfig, training_config
from stylegan_tutorial.training import TrainingDiverged, find_resume_source, train

# Fields without a flag: the network comes from --config, and these are given by name below.
_NOT_FLAGS = ("network",)
EXAMPLES = """examples:
  stylegan-tutorial train --config cpu-tiny --kimg 2            # generated faces, CPU
  stylegan-tutorial train --config colab-64 --data faces --out runs/colab --resume auto
  torchrun --nproc_per_node 2 -m stylegan_tutorial train --config colab-64 --out runs/ddp
Ctrl-C stops after the current step and writes a checkpoint; '--resume auto' continues.
Unset options keep the resumed run's values, else the configuration's schedule."""


def _resolution_map(kind):
    """``"4:64,16:32"`` -> ``{4: 64, 16: 32}`` (values parsed with ``kind``)."""
    def parse(text: str) -> dict:
        out = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            res, sep, value = part.partition(":")
            try:
                out[int(res)] = kind(value)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"expected RES:VALUE pairs like '4:64,16:32', got {text!r}") from None
            if not sep:
                raise argparse.ArgumentTypeError(f"expected RES:VALUE pairs like '4:64,16:32', got {text!r}")
        return out
    return parse


def _flag_options(f: dataclasses.Field) -> tuple[str, dict]:
    """The flag name and ``add_argument`` keywords of one TrainingConfig field."""
    meta = f.metadata
    flag = meta.get("flag", "--" + f.name.replace("_", "-"))
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    options: dict = {"default": None, "dest": f.name}
    if f.type in (bool, "bool"):
        options["action"] = argparse.BooleanOptionalAction
    elif f.name in ("batch_sizes", "learning_rates"):
        options.update(type=_resolution_map(int if f.name == "batch_sizes" else float), metavar="RES:N,...")
        default = ",".join(f"{k}:{v}" for k, v in default.items()) or "none"
    elif f.name == "adam_betas":
        options.update(type=float, nargs=2, metavar=("BETA1", "BETA2"))
        default = " ".join(str(b) for b in default)
    else:
        kind = {"int": int, "float": float, "str": str}[str(f.type).split(" ")[0]]
        metavar = "KIMG" if f.name.endswith("kimg") else {int: "N", float: "X", str: "SPEC"}[kind]
        options.update(type=kind, metavar=meta.get("metavar", metavar))
    if "choices" in meta:
        options["choices"] = meta["choices"]
    if f.name in SCHEDULE_FIELDS:  # each named configuration has its own schedule
        default = f"the --config's schedule; the paper's is {default}"
    options["help"] = f"{meta['help']} (default: {default})"
    return flag, options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stylegan-tutorial train``: run options, then one flag per config field."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    run = parser.add_argument_group("the run")
    run.add_argument("--config", default=None, metavar="NAME",
                     help=f"network configuration and its schedule: {', '.join(CONFIG_NAMES)}, "
                          f"or one of the paper's studies on a base configuration, "
                          f"BASE/ablation-ROW, BASE/mixing-PERCENT or BASE/mapping-DEPTH (e.g. "
                          f"colab-64/mixing-50) (default: cpu-tiny, or the checkpoint's when resuming)")
    run.add_argument("--out", default="runs/stylegan", metavar="DIR",
                     help="run directory: checkpoints, samples/, losses.png, log.jsonl "
                          "(default: runs/stylegan)")
    run.add_argument("--resume", default=None, metavar="auto|PATH",
                     help="'auto': continue from the latest checkpoint in --out (a new run if there "
                          "is none); or the path of a checkpoint")
    run.add_argument("--force", action="store_true",
                     help="resume even if the checkpoint's configuration or dataset differ")
    run.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    fields = parser.add_argument_group(
        "the training configuration (stylegan_tutorial.configs.TrainingConfig)")
    for f in dataclasses.fields(TrainingConfig):
        if f.name not in _NOT_FLAGS:
            flag, options = _flag_options(f)
            fields.add_argument(flag, **options)


def config_from_args(args: argparse.Namespace, saved: TrainingConfig | None = None) -> TrainingConfig:
    """The :class:`TrainingConfig` the command line describes (chapter 10).

    Args:
        args:  the parsed options.
        saved: the configuration of the checkpoint being resumed (None: a new run). Options
               left unset keep its values; a different ``--config`` brings its own schedule.
    """
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainingConfig)
             if f.name not in _NOT_FLAGS and getattr(args, f.name) is not None}
    try:
        return _config(args, saved, given)
    except ValueError as err:  # name the flag the user typed, not the dataclass field
        message = str(err)
        for f in dataclasses.fields(TrainingConfig):
            if f.name not in _NOT_FLAGS and message.startswith(f.name + " "):
                message = _flag_options(f)[0] + message[len(f.name):]
                break
        raise ValueError(message) from None


def _config(args: argparse.Namespace, saved: TrainingConfig | None, given: dict) -> TrainingConfig:
    """``config_from_args`` once the given options are collected."""
    if saved is None:
        return training_config(args.config or "cpu-tiny", **given)
    if args.config is not None and args.config != saved.network.name:  # another network: its schedule
        kept = {f.name: getattr(saved, f.name) for f in dataclasses.fields(TrainingConfig)
                if f.name not in (*_NOT_FLAGS, *SCHEDULE_FIELDS)}
        return training_config(args.config, **{**kept, **given})
    return saved.replace(**given)


def run(args: argparse.Namespace) -> int:
    """Train, then print where the results are; return the exit code (130 after Ctrl-C)."""
    source = find_resume_source(Path(args.out), args.resume)  # found once, by headers only
    saved = ckpt.recorded_config(ckpt.read_meta(source), source) if source is not None else None
    config = config_from_args(args, saved)
    resume = str(source) if source is not None else ("auto" if args.resume == "auto" else None)
    try:
        result = train(config, None, args.out, resume=resume, force=args.force, device=args.device,
                       progress=not args.no_progress)
    except TrainingDiverged as err:
        print(f"stylegan-tutorial train: {err}", file=sys.stderr)
        return 1
    state = "interrupted" if result.interrupted else "finished"
    if distributed.current().is_main:  # under torchrun, rank 0 alone reports (and writes)
        print(f"{state} at {result.kimg:.2f} kimg; checkpoint {result.last_checkpoint}; "
              f"samples in {Path(args.out) / 'samples'}")
    return 130 if result.interrupted else 0
