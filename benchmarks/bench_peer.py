"""Side by side on the CPU: the package's training step against rosinality/style-based-gan-pytorch.

The peer is the best-known PyTorch StyleGAN v1. This script times one training step of each at
the paper's widths (512 channels up to 32²), batch 16, α = 1 (no fade), with the same losses
(non-saturating logistic, R1 γ = 10 on reals), style mixing with probability 0.9, Adam
(β = 0, 0.99; the mapping network at 1/100 of the learning rate) and the EMA of G:

- **project**: :func:`stylegan_tutorial.training._train_step`, the step ``train`` runs, on a
  ``paper-256`` configuration with batch 16 at every resolution;
- **peer**: its ``model.py`` imported unmodified from ``--peer`` (a checkout you fetched, never
  copied into this repository), driven by the body of its ``train.py`` loop for
  ``--loss r1 --mixing`` (D on reals with R1, D on fakes, G step, ``accumulate``), re-typed
  here because ``train.py`` itself needs CUDA, a dataset and torchvision.

The two run alternately (A B A B ...) so that load on the machine hits both alike, and the
medians are compared.

    git clone https://github.com/rosinality/style-based-gan-pytorch /tmp/peer
    python benchmarks/bench_peer.py --peer /tmp/peer --threads 1 --resolutions 8,16 --pairs 7

Speed is measured here and never asserted in a test.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

BATCH = 16


def project_step(resolution: int, fields: dict | None = None):
    """A closure running one step of the package's training loop at ``resolution``, α = 1.

    ``fields`` are :class:`~stylegan_tutorial.configs.TrainingConfig` fields to set (speed
    switches such as ``fused_adam``); none: the defaults.
    """
    import torch

    from stylegan_tutorial.configs import training_config
    from stylegan_tutorial.data.dataset import ImageDataset
    from stylegan_tutorial.data.sampler import EpochSampler
    from stylegan_tutorial.schedule import phase_at, phase_boundaries
    from stylegan_tutorial.training import _train_step, prepare_run

    cfg = training_config("paper-256", **(fields or {}))
    cfg = cfg.replace(batch_sizes={r: BATCH for r in cfg.network.resolutions})
    pixels = torch.randint(0, 256, (256, resolution, resolution, 3), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    # a dataset stored at the step's resolution: the network is the paper's, only the data is small
    cfg = cfg.replace(network=cfg.network.replace(resolution=resolution))
    run, data = prepare_run(cfg, ImageDataset(pixels.numpy()), device=torch.device("cpu"))
    start = next(k for k, r, what in phase_boundaries(cfg) if r == resolution and what == "train")
    phase = phase_at(round(start * 1000), cfg)
    run.nimg = phase.nimg
    sampler = EpochSampler(len(data), 0)
    assert phase.alpha == 1.0 and phase.batch_size == BATCH, phase
    return lambda: _train_step(run, data, sampler, phase)


def peer_step(peer: Path, resolution: int):
    """A closure running the body of the peer's ``train.py`` loop (``--loss r1 --mixing``)."""
    import torch
    import torch.nn.functional as F
    from torch import optim
    from torch.autograd import grad

    sys.path.insert(0, str(peer))
    try:
        import model  # the peer's model.py, unmodified
    finally:
        sys.path.remove(str(peer))
    code_size, lr = 512, 0.001
    generator = model.StyledGenerator(code_size)
    discriminator = model.Discriminator(from_rgb_activate=True)
    g_running = model.StyledGenerator(code_size).train(False)
    g_optimizer = optim.Adam(generator.generator.parameters(), lr=lr, betas=(0.0, 0.99))
    g_optimizer.add_param_group({"params": generator.style.parameters(), "lr": lr * 0.01, "mult": 0.01})
    d_optimizer = optim.Adam(discriminator.parameters(), lr=lr, betas=(0.0, 0.99))
    step, alpha = int(math.log2(resolution)) - 2, 1.0
    reals = torch.randn(256, 3, resolution, resolution, generator=torch.Generator().manual_seed(0))
    rng = random.Random(0)

    def requires_grad(module, flag):
        for p in module.parameters():
            p.requires_grad = flag

    def accumulate(decay=0.999):
        par1, par2 = dict(g_running.named_parameters()), dict(generator.named_parameters())
        for k in par1:  # the peer's ``add_(1 - decay, t)`` in today's spelling
            par1[k].data.mul_(decay).add_(par2[k].data, alpha=1 - decay)

    requires_grad(generator, False)
    requires_grad(discriminator, True)

    def one_step():
        discriminator.zero_grad()
        real_image = reals[torch.randint(0, len(reals), (BATCH,))].clone()
        real_image.requires_grad = True
        real_scores = discriminator(real_image, step=step, alpha=alpha)
        real_predict = F.softplus(-real_scores).mean()
        real_predict.backward(retain_graph=True)
        grad_real = grad(outputs=real_scores.sum(), inputs=real_image, create_graph=True)[0]
        grad_penalty = (grad_real.view(grad_real.size(0), -1).norm(2, dim=1) ** 2).mean()
        (10 / 2 * grad_penalty).backward()
        if rng.random() < 0.9:
            g11, g12, g21, g22 = torch.randn(4, BATCH, code_size).chunk(4, 0)
            gen_in1, gen_in2 = [g11.squeeze(0), g12.squeeze(0)], [g21.squeeze(0), g22.squeeze(0)]
        else:
            gen_in1, gen_in2 = (t.squeeze(0) for t in torch.randn(2, BATCH, code_size).chunk(2, 0))
        fake_image = generator(gen_in1, step=step, alpha=alpha)
        fake_predict = discriminator(fake_image, step=step, alpha=alpha)
        F.softplus(fake_predict).mean().backward()
        d_optimizer.step()

        generator.zero_grad()
        requires_grad(generator, True)
        requires_grad(discriminator, False)
        predict = discriminator(generator(gen_in2, step=step, alpha=alpha), step=step, alpha=alpha)
        F.softplus(-predict).mean().backward()
        g_optimizer.step()
        accumulate()
        requires_grad(generator, False)
        requires_grad(discriminator, True)

    return one_step


def alternate(steps: dict, pairs: int, warmup: int) -> dict[str, list[float]]:
    """Seconds of ``pairs`` runs of each step, run in turn (A B A B ...) after ``warmup`` rounds."""
    times = {name: [] for name in steps}
    for i in range(warmup + pairs):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            fn()
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", type=Path, required=True,
                        help="a checkout of rosinality/style-based-gan-pytorch")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resolutions", default="8,16")
    parser.add_argument("--pairs", type=int, default=7, help="timed runs of each (median)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--switches", default="", help="comma-separated TrainingConfig switches to turn on "
                        "for the project besides its defaults (e.g. channels_last)")
    args = parser.parse_args(argv)
    if not (args.peer / "model.py").is_file():
        parser.error(f"{args.peer}/model.py not found: clone the peer there first")

    import torch

    switches = [s for s in args.switches.split(",") if s]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"CPU ({platform.processor() or platform.machine()}), {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, python {platform.python_version()}, "
          f"load average at start {os.getloadavg()[0]:.2f}; project: the package's defaults"
          f"{' + ' + ', '.join(switches) if switches else ''} (fused_adam is on by default)\n")
    print("| res | batch | project ms | peer ms | project img/s | peer img/s | project / peer | pairs |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for res in (int(r) for r in args.resolutions.split(",")):
        steps = {"project": project_step(res, dict.fromkeys(switches, True)),
                 "peer": peer_step(args.peer, res)}
        times = alternate(steps, args.pairs, args.warmup)
        a, b = statistics.median(times["project"]), statistics.median(times["peer"])
        print(f"| {res}² | {BATCH} | {1000 * a:.0f} | {1000 * b:.0f} | {BATCH / a:.1f} | {BATCH / b:.1f} | "
              f"{b / a:.2f} | {args.pairs} |", flush=True)
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
