"""The speed switches of a training run, each with the plain path beside it (chapter 10).

Every switch is a field of :class:`~stylegan_tutorial.configs.TrainingConfig` and off unless a
measurement in ``benchmarks/training.md`` shows that it helps where it is turned on. With every
switch off, a run is plain PyTorch: the training step in :mod:`~stylegan_tutorial.training`
calls :meth:`SpeedSwitches.synthesis` and :meth:`SpeedSwitches.memory_format`, which then do
nothing but call the network and hand the tensor back.

- ``amp``: the top ``amp_resolutions`` levels of G and D run under ``torch.autocast`` (fp16 on
  CUDA, bf16 on the CPU) and hand on float32 outputs clamped to ±256, as StyleGAN2-ADA does;
- ``channels_last``: the networks' weights and the real images in NHWC memory layout;
- ``cudnn_benchmark`` (CUDA): cuDNN times its algorithms once per shape and keeps the fastest;
- ``compile`` (CUDA): ``torch.compile`` of G's synthesis network, used while no fade runs
  (``alpha`` is a Python float that changes every step of a fade, and a compiled graph is
  specialised on it). D is never compiled: R1 differentiates D's gradient (a double backward),
  which compiled autograd graphs do not support;
- ``tf32`` (CUDA): TensorFloat-32 for matrix products and convolutions (off: PyTorch's own
  defaults, which already allow it for convolutions);
- ``fused_adam`` (**on** by default): one fused kernel per Adam step instead of several per
  parameter (CUDA, and the CPU from PyTorch 2.4, where it is about 2.8× faster than the
  default Adam for the paper's networks); the plain Adam with ``fused_adam=False``;
- ``data_on_device``: the training images held on the device as uint8, batches drawn there
  (:class:`~stylegan_tutorial.data.dataset.DeviceDataset`).
"""

from __future__ import annotations

import warnings

import torch

from stylegan_tutorial.configs import TrainingConfig
from stylegan_tutorial.data.dataset import DeviceDataset, ImageDataset
from stylegan_tutorial.discriminator import Discriminator
from stylegan_tutorial.generator import Generator

Tensor = torch.Tensor
AMP_CLAMP = 256.0  # the largest activation a reduced-precision layer may hand on


def resolution_modules(G: Generator, D: Discriminator) -> list[tuple[int, torch.nn.Module]]:
    """Every per-resolution part of G and D with its resolution (chapter 10).

    The parts are G's synthesis layers and ToRGB layers, and D's FromRGB layers and blocks:
    ``[(resolution, module), ...]``, for switching precision by level of detail.
    """
    res = G.config.resolutions
    out = [(4 << (i // 2), layer) for i, layer in enumerate(G.synthesis.layers)]
    out += list(zip(res, G.synthesis.to_rgb)) + list(zip(res, D.from_rgb)) + list(zip(res[1:], D.blocks))
    return out


def enable_mixed_precision(G: Generator, D: Discriminator, levels: int, device: torch.device) -> list:
    """Run the top ``levels`` resolutions of G and D in reduced precision (chapter 10).

    Args:
        G:      the generator.
        D:      the discriminator.
        levels: how many levels of detail, counted down from the top resolution, run in
                reduced precision.
        device: where the networks run: fp16 on CUDA, bf16 elsewhere.

    Returns the hook handles (``handle.remove()`` undoes the switch).

    Each such module runs under ``torch.autocast`` (fp16 on CUDA, bf16 on the CPU) and hands
    on a float32 output clamped to ±256, so a large activation cannot overflow fp16 and the low
    resolutions keep full precision. Parameters and gradients stay float32, so no loss scaling
    is needed; a rare step that still overflows is skipped like any non-finite step.
    """
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    lowest = G.config.resolution >> (levels - 1)
    active: dict[int, torch.autocast] = {}  # module id -> its autocast context while it runs

    def enter(module, args):
        active[id(module)] = torch.autocast(device.type, dtype=dtype)
        active[id(module)].__enter__()

    def leave(module, args, output):
        active.pop(id(module)).__exit__(None, None, None)
        return output.float().clamp(-AMP_CLAMP, AMP_CLAMP)

    handles = []
    for res, module in resolution_modules(G, D):
        if res >= lowest:
            handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
    return handles


class SpeedSwitches:
    """The switches of one run, applied once to its networks (chapter 10).

    Args:
        config: the run's configuration (``amp``, ``amp_resolutions``, ``channels_last``,
                ``cudnn_benchmark``, ``compile``, ``tf32``, ``fused_adam``, ``data_on_device``).
        G:      the generator being trained (G_ema only ever renders sample grids: left plain).
        D:      the discriminator being trained.
        device: where they live; the CUDA-only switches do nothing elsewhere.
    """

    def __init__(self, config: TrainingConfig, G: Generator, D: Discriminator, device: torch.device):
        self.G, self.channels_last = G, config.channels_last
        self.device, self.data_on_device = device, config.data_on_device
        self.fused_adam = config.fused_adam
        self.amp_hooks = enable_mixed_precision(G, D, config.amp_resolutions, device) if config.amp else []
        if config.channels_last:
            for module in (G, D):
                module.to(memory_format=torch.channels_last)
        self.compiled_synthesis = None
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = config.cudnn_benchmark
            if config.tf32:
                torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
            if config.compile:
                self.compiled_synthesis = torch.compile(G.synthesis)

    def dataset(self, data: ImageDataset) -> ImageDataset | DeviceDataset:
        """The training data: copied to the device with ``data_on_device``, else as given (chapter 10)."""
        if self.data_on_device:
            return DeviceDataset(data, self.device)  # fast path
        return data  # plain path

    def adam(self, params, lr: float, betas: tuple[float, float], eps: float) -> torch.optim.Adam:
        """Adam with the given settings: the fused kernel with ``fused_adam``, else the default (chapter 10).

        Args:
            params: the parameters to optimise.
            lr:     the learning rate.
            betas:  Adam's beta1 and beta2.
            eps:    Adam's epsilon.
        """
        params = list(params)
        if self.fused_adam:
            try:
                return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, fused=True)  # fast path
            except RuntimeError as error:  # an older PyTorch without a fused kernel for this device
                warnings.warn(f"fused_adam is not available here ({error}); using the default Adam",
                              stacklevel=2)
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps)  # plain path

    def synthesis(self, ws: Tensor, resolution: int, alpha: float) -> Tensor:
        """``G.synthesis(ws, resolution, alpha)``, compiled when ``compile`` is on, unfaded (chapter 10).

        Args:
            ws:         the styles ``[N, num_layers, w_dim]``.
            resolution: the level of detail to render.
            alpha:      how far it has faded in (only 1.0 takes the compiled graph).

        Returns images ``[N, img_channels, resolution, resolution]``.
        """
        if self.compiled_synthesis is not None and alpha == 1.0:
            return self.compiled_synthesis(ws, resolution, alpha)  # fast path
        return self.G.synthesis(ws, resolution, alpha)  # plain path

    def memory_format(self, images: Tensor) -> Tensor:
        """``images [N, C, H, W]`` in the networks' layout: NHWC with ``channels_last`` (chapter 10).

        Without ``channels_last`` they are handed back as given.
        """
        if self.channels_last:
            return images.contiguous(memory_format=torch.channels_last)  # fast path
        return images  # plain path
