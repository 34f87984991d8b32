"""Autoencoders and variational autoencoders: learning a latent space (chapter 2).

Chapter 1's pixel-space generators fail because pixel space is the wrong place to move in. An
**autoencoder** learns a better one: an encoder squeezes an image ``x`` into a short code
``z = enc(x)`` (2 numbers for the digits, so the whole latent space fits on a page) and a
decoder rebuilds it, ``x_hat = dec(z)``; training minimises the reconstruction error
``|x - x_hat|²``. Walking in ``z`` then changes the image in ways the data allows.

A plain autoencoder's codes fill an irregular region, so a random ``z`` decodes to garbage. The
**variational autoencoder** (Kingma and Welling 2014) fixes the region: the encoder gives a
Gaussian ``q(z|x) = N(mu, diag(exp(logvar)))`` per image, a sample of it is decoded (the
*reparameterization* ``z = mu + exp(logvar / 2) eps``, ``eps ~ N(0, I)``, keeps the sampling
differentiable), and the loss adds the Kullback-Leibler divergence of ``q(z|x)`` from the prior
``N(0, I)``::

    KL = -1/2 sum_j (1 + logvar_j - mu_j² - exp(logvar_j))       (one value per image)
    loss = mean over the batch of [ sum over pixels (x - x_hat)²  +  beta · KL ]

The KL term pulls every code towards the prior, so samples ``z ~ N(0, I)`` decode to digits; the
price is blur, which chapter 3's adversarial loss removes. Both terms are *sums* over their
dimensions and *means* over the batch: the sum makes one image's loss a log-likelihood (up to
constants, for a Gaussian decoder of variance 1/2), and the mean makes it independent of the
batch size. ``beta`` weighs the two (Higgins et al. 2017): larger ``beta``, smoother latent
space, blurrier images.

:class:`Autoencoder` and :class:`VAE` are MLPs for the 16² digits; :class:`ConvAutoencoder` is
convolutional, for the 32² faces. :func:`train_autoencoder` trains any of them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from stylegan_tutorial.progress import tqdm
from stylegan_tutorial.runtime import one_thread

Tensor = torch.Tensor


# --------------------------------------------------------------------------------------------
# The losses
# --------------------------------------------------------------------------------------------

def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor | None = None,
                   generator: torch.Generator | None = None) -> Tensor:
    """A differentiable sample of ``N(mu, diag(exp(logvar)))``: ``mu + exp(logvar / 2) eps`` (chapter 2).

    Args:
        mu:        the means ``[N, K]``.
        logvar:    the log-variances ``log sigma²`` ``[N, K]``.
        eps:       the standard normal noise ``[N, K]`` (None: drawn here).
        generator: seeds the draw of ``eps`` (None: torch's global generator).

    Gradients flow to ``mu`` and ``logvar``; the randomness sits in ``eps`` alone.
    """
    if eps is None:
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per image, in closed form (chapter 2).

    Args:
        mu:     the encoder's means ``[N, K]``.
        logvar: its log-variances ``log sigma²`` ``[N, K]``.

    Returns ``[N]``: ``-1/2 sum_j (1 + logvar_j - mu_j² - exp(logvar_j))``, summed over the K
    latent dimensions. Each term is ``>= 0`` and is 0 only at ``mu = 0, logvar = 0``. This is the
    reference of chapter 2's exercise.
    """
    return -0.5 * (1.0 + logvar - mu.square() - logvar.exp()).flatten(1).sum(dim=1)


def reconstruction_loss(x: Tensor, x_hat: Tensor) -> Tensor:
    """Squared error summed over each image's pixels, averaged over the batch: a scalar (chapter 2).

    Args:
        x:     the images ``[N, ...]``.
        x_hat: their reconstructions, the same shape.
    """
    return (x_hat - x).square().flatten(1).sum(dim=1).mean()


def vae_loss(x: Tensor, x_hat: Tensor, mu: Tensor, logvar: Tensor, beta: float = 1.0) -> Tensor:
    """The VAE's loss (the negative ELBO, up to constants): reconstruction + ``beta`` · KL (chapter 2).

    Args:
        x:      the images ``[N, ...]``.
        x_hat:  their reconstructions, the same shape.
        mu:     the encoder's means ``[N, K]``.
        logvar: its log-variances ``[N, K]``.
        beta:   the weight of the KL term (1: the VAE; 0: a plain autoencoder with noisy codes).

    The convention, for both terms: a **sum over dimensions** (pixels, latent dimensions) and a
    **mean over the batch**. Returns a scalar.
    """
    return reconstruction_loss(x, x_hat) + beta * kl_divergence(mu, logvar).mean()


# --------------------------------------------------------------------------------------------
# The networks
# --------------------------------------------------------------------------------------------

def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given widths with LeakyReLU(0.2) between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """An MLP autoencoder: image -> ``latent_dim`` numbers -> image (chapter 2).

    Args:
        image_shape: ``(C, H, W)`` of the images (the digits: ``(1, 16, 16)``).
        latent_dim:  K, the length of the code z (2: a latent space to draw on paper).
        hidden:      the width of the two hidden layers of the encoder and of the decoder.

    Encoder: flatten, D -> hidden -> hidden -> K. Decoder: K -> hidden -> hidden -> D, tanh
    (images live in [-1, 1]), reshaped to ``image_shape``. LeakyReLU(0.2) in between.
    """

    #: how many encoder outputs per latent dimension (the VAE's encoder also gives a variance)
    outputs_per_latent = 1

    def __init__(self, image_shape: tuple[int, int, int] = (1, 16, 16), latent_dim: int = 2,
                 hidden: int = 256):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.latent_dim = latent_dim
        d = math.prod(self.image_shape)
        self.encoder = nn.Sequential(
            nn.Flatten(), _mlp([d, hidden, hidden, self.outputs_per_latent * latent_dim]))
        self.decoder = nn.Sequential(_mlp([latent_dim, hidden, hidden, d]), nn.Tanh())

    def encode(self, x: Tensor) -> Tensor:
        """``x [N, C, H, W]`` -> codes ``z [N, K]`` (chapter 2)."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Codes ``z [N, K]`` -> images ``[N, C, H, W]`` in (-1, 1) (chapter 2)."""
        return self.decoder(z).view(-1, *self.image_shape)

    def forward(self, x: Tensor) -> Tensor:
        """``x [N, C, H, W]`` -> the reconstruction ``x_hat [N, C, H, W]`` (chapter 2)."""
        return self.decode(self.encode(x))


class VAE(Autoencoder):
    """The variational autoencoder: the MLP autoencoder whose encoder gives a Gaussian (chapter 2).

    Args:
        image_shape: ``(C, H, W)`` of the images.
        latent_dim:  K, the dimension of z.
        hidden:      the width of the hidden layers.

    The encoder's last layer has ``2K`` outputs: ``mu`` and ``logvar`` of ``q(z|x)``.
    """

    outputs_per_latent = 2

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x [N, C, H, W]`` -> ``(mu [N, K], logvar [N, K])`` of ``q(z|x)`` (chapter 2)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def forward(self, x: Tensor,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``x [N, C, H, W]`` -> ``(x_hat [N, C, H, W], mu [N, K], logvar [N, K])`` (chapter 2).

        Args:
            x:         the images.
            generator: seeds the sample ``z = mu + exp(logvar / 2) eps`` (None: torch's global
                       generator).

        ``x_hat`` decodes a sample of ``q(z|x)`` (:func:`reparameterize`); ``decode(mu)`` is
        the deterministic reconstruction.
        """
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, generator=generator)), mu, logvar


class ConvAutoencoder(nn.Module):
    """A convolutional autoencoder for the 32² RGB faces (chapter 2).

    Args:
        latent_dim: K, the length of the code z.
        channels:   c, the width of the convolutions at 8² and 4² (half of it at 16²).

    Encoder: three 4x4 convolutions of stride 2, ``[3, 32, 32] -> [c/2, 16, 16] -> [c, 8, 8] ->
    [c, 4, 4]``, then a linear layer to K. Decoder, the mirror: linear to ``[c, 4, 4]``, three
    4x4 transposed convolutions of stride 2 back to ``[3, 32, 32]``, tanh. LeakyReLU(0.2) in
    between. With the defaults (K = 32, c = 32) it has 84k parameters, and
    ``train_autoencoder(model, faces, steps=1500, batch_size=64)`` takes 24 s on 2 CPU cores
    (29 s while another process loads them; the full width c at 16² would take 36 s for a 7 %
    lower loss).
    """

    def __init__(self, latent_dim: int = 32, channels: int = 32):
        super().__init__()
        c, h = channels, max(channels // 2, 1)
        self.image_shape = (3, 32, 32)
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(3, h, 4, 2, 1), nn.LeakyReLU(0.2),  # [N, c/2, 16, 16]
            nn.Conv2d(h, c, 4, 2, 1), nn.LeakyReLU(0.2),  # [N, c, 8, 8]
            nn.Conv2d(c, c, 4, 2, 1), nn.LeakyReLU(0.2),  # [N, c, 4, 4]
            nn.Flatten(), nn.Linear(c * 16, latent_dim),  # [N, K]
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, c * 16), nn.LeakyReLU(0.2), nn.Unflatten(1, (c, 4, 4)),  # [N, c, 4, 4]
            nn.ConvTranspose2d(c, c, 4, 2, 1), nn.LeakyReLU(0.2),  # [N, c, 8, 8]
            nn.ConvTranspose2d(c, h, 4, 2, 1), nn.LeakyReLU(0.2),  # [N, c/2, 16, 16]
            nn.ConvTranspose2d(h, 3, 4, 2, 1), nn.Tanh(),  # [N, 3, 32, 32]
        )

    def encode(self, x: Tensor) -> Tensor:
        """Faces ``x [N, 3, 32, 32]`` -> codes ``z [N, K]`` (chapter 2)."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Codes ``z [N, K]`` -> faces ``[N, 3, 32, 32]`` in (-1, 1) (chapter 2)."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        """Faces ``x [N, 3, 32, 32]`` -> reconstructions ``[N, 3, 32, 32]`` (chapter 2)."""
        return self.decode(self.encode(x))


# --------------------------------------------------------------------------------------------
# Training and decoding
# --------------------------------------------------------------------------------------------

def train_autoencoder(model: nn.Module, images: Tensor, steps: int = 2000, batch_size: int = 128,
                      lr: float = 1e-3, seed: int = 0, beta: float = 1.0, progress: bool = True,
                      desc: str = "autoencoder") -> list[float]:
    """Train an :class:`Autoencoder`, :class:`VAE` or :class:`ConvAutoencoder` on ``images`` (chapter 2).

    Args:
        model:      the network; trained in place, left in eval mode.
        images:     the training images ``[N, C, H, W]`` in [-1, 1], the model's image shape.
        steps:      optimizer steps.
        batch_size: images per step (at most N).
        lr:         Adam's learning rate.
        seed:       seeds the order of the minibatches (a fresh permutation every pass over the
                    data) and the VAE's samples; the model's initial weights are its own.
        beta:       the weight of the KL term (a :class:`VAE` only).
        progress:   show a progress bar.
        desc:       the progress bar's label.

    The loss is :func:`vae_loss` for a :class:`VAE`, else :func:`reconstruction_loss`; both sum
    over the pixels and average over the batch. Runs on one CPU thread
    (:func:`~stylegan_tutorial.runtime.one_thread`), on the device of the model's parameters.
    Returns the loss of every step.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not isinstance(images, Tensor) or images.dim() < 2 or images.shape[0] < 1:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor [N, C, H, W], got {shape}")
    device = next(model.parameters()).device
    images = images.to(device)
    n = images.shape[0]
    batch_size = min(batch_size, n)
    gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator(device=device).manual_seed(seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses: list[float] = []
    order, cursor = torch.randperm(n, generator=gen), 0
    model.train()
    with one_thread(), tqdm(total=steps, desc=desc, disable=not progress) as bar:
        for _ in range(steps):
            if cursor + batch_size > n:
                order, cursor = torch.randperm(n, generator=gen), 0
            x = images[order[cursor:cursor + batch_size].to(device)]
            cursor += batch_size
            if isinstance(model, VAE):
                x_hat, mu, logvar = model(x, generator=noise_gen)
                loss = vae_loss(x, x_hat, mu, logvar, beta)
            else:
                loss = reconstruction_loss(x, model(x))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.update(1)
            if len(losses) % 50 == 0 or len(losses) == steps:
                bar.set_postfix(loss=f"{loss.item():.2f}")
    model.eval()
    return losses


def latent_grid(n: int = 15, lim: float = 3.0) -> Tensor:
    """An ``n x n`` grid of 2-D codes, ``[n*n, 2]``, laid out as a picture (chapter 2).

    Args:
        n:   points per side.
        lim: the grid spans ``[-lim, lim]`` in both coordinates (3: three standard deviations
             of the VAE's prior).

    Row-major: row ``i`` has ``y`` from ``+lim`` (the top row) down to ``-lim``, column ``j``
    has ``x`` from ``-lim`` to ``+lim``; ``z[:, 0]`` is x, ``z[:, 1]`` is y. Decoded, the
    images tile a grid of n rows the way the plane is drawn.
    """
    ys = torch.linspace(lim, -lim, n)
    xs = torch.linspace(-lim, lim, n)
    y, x = torch.meshgrid(ys, xs, indexing="ij")  # [n, n] each
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)


@torch.no_grad()
def decode_latents(model: nn.Module, z: Tensor, batch_size: int = 512) -> Tensor:
    """Decode codes ``z [M, K]`` into images ``[M, C, H, W]``, without gradients (chapter 2).

    Args:
        model:      any of the module's networks (its ``decode``).
        z:          the codes, e.g. :func:`latent_grid` or :func:`sample_latents`.
        batch_size: codes decoded at a time.

    The model is decoded in eval mode, then put back in the mode it was in.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        return torch.cat([model.decode(chunk.to(device)) for chunk in z.split(batch_size)])
    finally:
        model.train(was_training)


def sample_latents(n: int, latent_dim: int, seed: int = 0) -> Tensor:
    """``n`` codes from the prior ``N(0, I)``, ``[n, latent_dim]`` (chapter 2).

    Args:
        n:          how many codes.
        latent_dim: K, their dimension.
        seed:       seeds the draw.
    """
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))
