"""The mapping network ``f: Z -> W`` (chapter 5).

``z`` is drawn from a fixed Gaussian, so the space ``Z`` must follow the training data's
density: if some combination of factors is missing from the data, ``Z`` has to warp around
the hole. The intermediate latent ``w = f(z)`` has no fixed density, so ``W`` is free to be
flat. ``f`` is an MLP: pixel-normalise ``z``, then ``depth`` equalized dense layers with
LeakyReLU(0.2), all with a learning-rate multiplier of 0.01 (the paper's choice, which keeps
the mapping from racing ahead of the synthesis network).
"""

from __future__ import annotations

import torch
from torch import nn

from stylegan_tutorial.layers import EqualizedLinear, pixel_norm

Tensor = torch.Tensor


class MappingNetwork(nn.Module):
    """``z [N, z_dim] -> w [N, w_dim]``: pixel norm, then ``depth`` dense layers (chapter 5).

    Args:
        z_dim:       width of the input latent ``z [N, z_dim]``.
        w_dim:       width of the intermediate latent ``w [N, w_dim]``.
        depth:       dense layers, each followed by LeakyReLU(0.2) (0: no layer, ``w`` is ``z``).
        width:       width of the hidden layers (unused when ``depth`` < 2).
        lrmul:       learning-rate multiplier of every layer (the paper's 0.01).
        normalize_z: pixel-normalise ``z`` first (False: use ``z`` as it is).

    ``depth = 0`` returns the normalised ``z`` itself (then ``w_dim`` must equal ``z_dim``):
    the paper's Table 4 and the ProGAN baseline use it.
    """

    def __init__(
        self,
        z_dim: int = 512,
        w_dim: int = 512,
        depth: int = 8,
        width: int = 512,
        lrmul: float = 0.01,
        normalize_z: bool = True,
    ):
        super().__init__()
        if not isinstance(depth, int) or depth < 0:
            raise ValueError(f"depth must be an integer >= 0, got {depth!r}")
        if depth == 0 and z_dim != w_dim:
            raise ValueError(f"with depth=0, w_dim must equal z_dim={z_dim}, got {w_dim!r}")
        self.z_dim, self.w_dim, self.normalize_z = z_dim, w_dim, normalize_z
        features = [z_dim] + [width] * (depth - 1) + [w_dim] if depth else []
        self.layers = nn.ModuleList(
            EqualizedLinear(f_in, f_out, lrmul=lrmul) for f_in, f_out in zip(features, features[1:])
        )
        self.act = nn.LeakyReLU(0.2)

    def forward(self, z: Tensor) -> Tensor:
        """``z [N, z_dim] -> w [N, w_dim]`` (chapter 5)."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape [N, {self.z_dim}], got {tuple(z.shape)}")
        x = pixel_norm(z) if self.normalize_z else z
        for layer in self.layers:
            x = self.act(layer(x))
        return x
