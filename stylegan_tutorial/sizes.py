"""How big the networks are: parameter counts of a configuration (chapter 10).

The networks are built on PyTorch's ``meta`` device: shapes only, no memory, so even the 1024²
networks of the paper are counted instantly. ``stylegan-tutorial configs`` prints these counts
for every named configuration.
"""

from __future__ import annotations

import torch

from stylegan_tutorial.configs import NetworkConfig
from stylegan_tutorial.discriminator import Discriminator
from stylegan_tutorial.generator import Generator


def count_parameters(module: torch.nn.Module) -> int:
    """Trainable parameters of ``module``: the sum of ``numel`` of those with a gradient (chapter 10)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def parameter_counts(config: NetworkConfig) -> dict[str, int]:
    """Trainable parameters of the generator and the discriminator of ``config`` (chapter 10).

    Returns ``{"G", "mapping", "synthesis", "to_rgb", "D"}``: the whole generator, its mapping
    network, its synthesis network without the ToRGB layers, the ToRGB layers, and D.
    """
    with torch.device("meta"):
        G, D = Generator(config), Discriminator(config)
    to_rgb = count_parameters(G.synthesis.to_rgb)
    return {"G": count_parameters(G), "mapping": count_parameters(G.mapping),
            "synthesis": count_parameters(G.synthesis) - to_rgb, "to_rgb": to_rgb,
            "D": count_parameters(D)}
