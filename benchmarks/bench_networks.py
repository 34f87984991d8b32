"""How fast are the networks? Median times of G and D forwards and of one full training step.

For ``cpu-tiny`` at its resolution and for every resolution of ``colab-64`` (or the configs
named with ``--configs``), this measures at the configured batch size:

- a G forward and a D forward (inference, ``torch.no_grad``),
- one training step: a G step (non-saturating loss, mixing regularisation, ``w_avg`` update)
  and a D step (logistic loss + R1 with gamma 10 on the reals), each with Adam
  (beta1 0, beta2 0.99, eps 1e-8), as the paper trains,

and reports medians over ``--repeats`` timed runs (after warm-up), images per second, seconds
per thousand images (NVIDIA's sec/kimg) and peak memory. On the CPU the peak is the growth of
the resident set (``ru_maxrss``) of a fresh process that runs only that case; on CUDA it is
``torch.cuda.max_memory_allocated``. On CUDA the step is also timed with mixed precision
(fp16 autocast + loss scaling) and with channels-last memory layout.
The forward FLOPs per image (``torch.utils.flop_counter``, multiply-add = 2) are reported too.

    python benchmarks/bench_networks.py                # the full table (a few minutes on 2 cores)
    python benchmarks/bench_networks.py --quick        # a smoke run: few repeats
    python benchmarks/bench_networks.py --device cuda  # on a GPU, with AMP and channels-last

This is a script, not a test: speed is measured here and never asserted.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import platform
import resource
import statistics
import sys
from pathlib import Path

from _timing import timed_runs  # benchmarks/_timing.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))


def _sync(device) -> None:
    """Wait for queued GPU work so that wall-clock times mean something."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_seconds(fn, repeats: int, warmup: int, device, budget: float) -> tuple[float, int]:
    """Median wall-clock seconds of ``fn()`` and the number of timed runs.

    ``warmup`` untimed runs first; then up to ``repeats`` timed runs, stopping early (after at
    least one) once ``budget`` seconds have been spent on this measurement, so that a slow
    CPU case does not take many minutes.
    """
    times = timed_runs(fn, repeats, warmup, budget, sync=lambda: _sync(device))
    return statistics.median(times), len(times)


def count_flops(fn) -> int:
    """FLOPs of everything ``fn()`` runs, forward and backward (multiply-add = 2).

    Uses the formulas of ``torch.utils.flop_counter`` (convolutions and matrix products) in a
    bare dispatch mode, which, unlike ``FlopCounterMode``, also follows ``autograd.grad``
    (R1's double backward).
    """
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class _Counter(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                self.total += formula(*args, **kwargs, out_val=out)
            return out

    with _Counter() as counter:
        fn()
    return counter.total


def _make_train_step(G, D, cfg, resolution, batch, device, amp=False, channels_last=False, lr=0.001):
    """One G step and one D step of the paper's training (configuration F), as a closure."""
    import torch

    from stylegan_tutorial.losses import d_logistic_loss, g_nonsaturating_loss, r1_penalty

    adam = dict(lr=lr, betas=(0.0, 0.99), eps=1e-8)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), **adam), torch.optim.Adam(D.parameters(), **adam)
    scaler_g = torch.amp.GradScaler("cuda", enabled=amp)
    scaler_d = torch.amp.GradScaler("cuda", enabled=amp)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    reals = torch.rand(batch, cfg.img_channels, resolution, resolution, device=device) * 2 - 1
    reals = reals.contiguous(memory_format=fmt)

    def autocast():
        return torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp)

    def step():
        # G step
        z = torch.randn(batch, cfg.z_dim, device=device)
        with autocast():
            w = G.mapping(z)
            G.update_w_avg(w)
            ws = G.mixing_regularization(w, resolution=resolution)
            fake = G.synthesis(ws, resolution)
            loss_g = g_nonsaturating_loss(D(fake.contiguous(memory_format=fmt)).float())
        opt_g.zero_grad(set_to_none=True)
        scaler_g.scale(loss_g).backward()
        scaler_g.step(opt_g)
        scaler_g.update()
        # D step with R1 on the reals
        z = torch.randn(batch, cfg.z_dim, device=device)
        real = reals.detach().requires_grad_(True)
        with autocast():
            with torch.no_grad():
                fake = G(z, resolution, mixing_prob=cfg.style_mixing_prob)
            real_logits = D(real).float()
            fake_logits = D(fake.contiguous(memory_format=fmt)).float()
            loss_d = d_logistic_loss(real_logits, fake_logits)
        loss_d = loss_d + r1_penalty(real_logits, real, gamma=10.0)
        opt_d.zero_grad(set_to_none=True)
        scaler_d.scale(loss_d).backward()
        scaler_d.step(opt_d)
        scaler_d.update()

    return step


def measure_case(config_name: str, resolution: int, repeats: int, warmup: int, device_name: str,
                 threads: int | None, budget: float) -> list[dict]:
    """Time one (config, resolution) case; meant to run in a fresh process. Returns table rows."""
    import torch

    from stylegan_tutorial.configs import get_config, training_config
    from stylegan_tutorial.discriminator import Discriminator
    from stylegan_tutorial.generator import Generator

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    device = torch.device(device_name)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    cfg = get_config(config_name)
    training = training_config(config_name)
    batch, lr = training.batch_size_at(resolution), training.learning_rate_at(resolution)
    variants = [("fp32", False, False)]
    if device.type == "cuda":
        variants += [("amp", True, False), ("amp+channels_last", True, True)]
    rows = []
    for variant, amp, channels_last in variants:
        G, D = Generator(cfg).to(device), Discriminator(cfg).to(device)
        if channels_last:
            G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        z = torch.randn(batch, cfg.z_dim, device=device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        with torch.no_grad(), torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
            img = G(z, resolution)
            t_g, n_g = _median_seconds(lambda G=G, z=z: G(z, resolution), repeats, warmup, device, budget)
            t_d, n_d = _median_seconds(lambda D=D, img=img: D(img), repeats, warmup, device, budget)
            small = min(batch, 4)  # FLOPs per image do not depend on the batch size
            g_flops = count_flops(lambda G=G, z=z, small=small: G(z[:small], resolution)) / small
        step = _make_train_step(G, D, cfg, resolution, batch, device, amp, channels_last, lr)
        t_step, n_step = _median_seconds(step, repeats, warmup, device, budget)
        small_step = _make_train_step(G, D, cfg, resolution, small, device, amp, channels_last, lr)
        step_flops = count_flops(small_step) / small
        if device.type == "cuda":
            peak_mib = torch.cuda.max_memory_allocated(device) / 2**20
        else:
            peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
        rows.append(dict(config=config_name, resolution=resolution, batch=batch, variant=variant,
                         g_gflop=g_flops / 1e9, step_gflop=step_flops / 1e9, t_g=t_g, t_d=t_d,
                         t_step=t_step, runs=(n_g, n_d, n_step), peak_mib=peak_mib,
                         threads=torch.get_num_threads()))
    return rows


def format_table(rows: list[dict]) -> str:
    """A Markdown table of the measured rows."""
    head = ("| config | res | batch | variant | G fwd ms | G img/s | D fwd ms | D img/s "
            "| train step ms | train img/s | sec/kimg | G fwd GFLOP/img | step GFLOP/img "
            "| step GFLOP/s | peak MiB | runs (G, D, step) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        b = r["batch"]
        lines.append(
            f"| {r['config']} | {r['resolution']}² | {b} | {r['variant']} "
            f"| {1e3 * r['t_g']:.1f} | {b / r['t_g']:.0f} | {1e3 * r['t_d']:.1f} | {b / r['t_d']:.0f} "
            f"| {1e3 * r['t_step']:.0f} | {b / r['t_step']:.1f} | {1e3 * r['t_step'] / b:.0f} "
            f"| {r['g_gflop']:.3f} | {r['step_gflop']:.2f} | {r['step_gflop'] * b / r['t_step']:.1f} "
            f"| {r['peak_mib']:.0f} | {', '.join(map(str, r['runs']))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["cpu-tiny", "colab-64"],
                        help="named configs; cpu-tiny is measured at its top resolution only, "
                             "the others at every resolution")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before timing")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds per measurement after which no further timed run starts")
    parser.add_argument("--quick", action="store_true",
                        help="2 repeats, no warm-up, 5 s budget: a smoke run")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--max-resolution", type=int, default=None,
                        help="skip resolutions above this (e.g. for a quick look)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.warmup, args.budget = 2, 0, 5.0
    if args.repeats < 1:
        raise SystemExit(f"--repeats must be >= 1, got {args.repeats}")

    from stylegan_tutorial.configs import get_config  # no torch import: cheap

    cases = []
    for name in args.configs:
        cfg = get_config(name)
        resolutions = [cfg.resolution] if name == "cpu-tiny" else cfg.resolutions
        cases += [(name, r) for r in resolutions if args.max_resolution is None or r <= args.max_resolution]

    print(f"# python {platform.python_version()}, {platform.processor() or platform.machine()}, "
          f"device {args.device}, repeats {args.repeats}, warmup {args.warmup}, "
          f"budget {args.budget:g} s, {os.cpu_count()} CPUs, load average at start "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    spawn = multiprocessing.get_context("spawn")
    for name, res in cases:
        # a fresh process per case, so that its resident-set growth is its own
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            case_rows = pool.submit(measure_case, name, res, args.repeats, args.warmup,
                                    args.device, args.threads, args.budget).result()
        rows += case_rows
        for r in case_rows:
            print(f"{name:10} {res:5}² {r['variant']:18} batch {r['batch']:3}  G {1e3 * r['t_g']:8.1f} ms  "
                  f"D {1e3 * r['t_d']:8.1f} ms  step {1e3 * r['t_step']:8.0f} ms  "
                  f"{r['batch'] / r['t_step']:7.1f} img/s  peak {r['peak_mib']:6.0f} MiB  "
                  f"(threads {r['threads']})", flush=True)
    print(f"# load average at end {os.getloadavg()[0]:.1f}")
    print()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
