"""Linear separability of the factors of variation in Z and in W (chapter 11).

The paper asks whether each attribute of a face can be read off the latent by a *linear*
classifier: if W is disentangled, a hyperplane splits smiling from not smiling. It labels
generated faces with attribute classifiers, fits a linear SVM on the latents to the labels and
reports how much uncertainty about the labels the SVM leaves, ``H(Y | X)``. Here the labels
come from the oracle, which reads every factor of a face.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from stylegan_tutorial.data.faces import FACTORS
from stylegan_tutorial.generate import batch_sizes
from stylegan_tutorial.generator import Generator
from stylegan_tutorial.oracle import CIRCULAR, load_oracle

Tensor = torch.Tensor


def oracle_attributes(pred: dict[str, Tensor]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Binary or categorical attributes from oracle predictions, with a confidence for each (chapter 11).

    Args:
        pred: :meth:`~stylegan_tutorial.oracle.Oracle.predict`'s output: ``{factor: [N]}`` plus
              ``{factor_prob: [N, K]}`` for each categorical factor.

    Categorical factors are their predicted class (confidence: its probability); a continuous
    factor is "above the middle of its range" (confidence: the distance to that middle, as a
    fraction of the half-range). The circular hue is split into halves at 0 and 0.5; its
    confidence is the distance to the nearer cut. Returns ``{name: (labels [N], confidence [N])}``.
    """
    attrs = {}
    for name, f in FACTORS.items():
        if f.kind == "categorical":
            prob = pred[f"{name}_prob"]
            conf, label = prob.max(dim=1)
        else:
            unit = (pred[name].double() - f.low) / (f.high - f.low)  # [N], ~[0, 1]
            if name in CIRCULAR:
                unit = unit % 1.0
                label = (unit >= 0.5).long()
                conf = torch.minimum((unit - 0.5).abs(), torch.minimum(unit, 1 - unit)) * 4
            else:
                label = (unit >= 0.5).long()
                conf = (unit - 0.5).abs() * 2
        attrs[name] = (label.cpu().numpy(), conf.double().cpu().numpy())
    return attrs


def conditional_entropy(y: np.ndarray, x: np.ndarray) -> float:
    """``H(Y | X)`` in nats from paired discrete samples: how uncertain Y stays once X is known (chapter 11).

    Args:
        y: labels ``[N]``.
        x: what is known about each, e.g. a classifier's predictions ``[N]``.
    """
    y, x = np.asarray(y), np.asarray(x)
    _, yi = np.unique(y, return_inverse=True)
    _, xi = np.unique(x, return_inverse=True)
    joint = np.zeros((xi.max() + 1, yi.max() + 1))
    np.add.at(joint, (xi, yi), 1.0)
    joint /= joint.sum()  # p(x, y)
    px = joint.sum(axis=1, keepdims=True)  # p(x)
    nz = joint > 0
    return float(-(joint[nz] * np.log((joint / px)[nz])).sum())


def linear_separability(latents, attributes: dict, keep: float = 0.5, C: float = 1.0,
                        seed: int = 0) -> dict:
    """The paper's separability: how well a linear classifier on latents predicts each attribute (chapter 11).

    Args:
        latents:    ``[N, D]``, e.g. the ``z`` or ``w`` of N generated faces.
        attributes: ``{name: labels [N]}`` or ``{name: (labels [N], confidence [N])}``; with a
                    confidence only the most confident ``keep`` fraction is used.
        keep:       the fraction kept, in (0, 1] (the paper keeps half).
        C:          the SVM's regularisation constant.
        seed:       the SVM's random state.

    Per attribute: fit a linear SVM on the latents to the labels, then ``H(Y | X)`` of the
    labels ``Y`` given the SVM's predictions ``X`` (fit and scored on the same samples, as the
    paper does). Returns ``{"entropy": {name: H}, "score": exp(sum of H)}``; lower is more
    linear, 1.0 is perfect. An attribute with a single label in the kept set has ``H = 0``.
    """
    from sklearn.svm import LinearSVC

    latents = np.asarray(torch.as_tensor(latents).double().cpu())
    if latents.ndim != 2:
        raise ValueError(f"latents must be [N, D], got shape {latents.shape}")
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep!r}")
    entropy = {}
    for name, value in attributes.items():
        labels, conf = value if isinstance(value, tuple) else (value, None)
        labels = np.asarray(labels)
        if labels.shape != (len(latents),):
            raise ValueError(f"attributes[{name!r}] must have {len(latents)} labels, "
                             f"got shape {labels.shape}")
        idx = np.arange(len(labels))
        if conf is not None:
            idx = np.argsort(-np.asarray(conf), kind="stable")[:max(2, int(keep * len(labels)))]
        x, y = latents[idx], labels[idx]
        if len(np.unique(y)) < 2:
            entropy[name] = 0.0
            continue
        svm = LinearSVC(C=C, max_iter=5000, random_state=seed).fit(x, y)
        entropy[name] = conditional_entropy(y, svm.predict(x))
    return {"entropy": entropy, "score": float(math.exp(sum(entropy.values())))}


@torch.no_grad()
def separability(G: Generator, oracle=None, n: int = 2000, batch_size: int = 64, seed: int = 0,
                 keep: float = 0.5) -> dict:
    """Linear separability of the oracle's attributes in Z and in W (chapter 11).

    Args:
        G:          the generator.
        oracle:     labels the faces (None: the shipped oracle).
        n:          how many generated faces (the stored noise, so labels follow the latent).
        batch_size: faces per forward pass.
        seed:       seeds the latents and the SVMs.
        keep:       the fraction of the most confidently labelled faces used per attribute.

    Returns ``{"z": {...}, "w": {...}}`` as :func:`linear_separability` does for each space.
    """
    sizes = batch_sizes(n, batch_size)
    oracle = load_oracle() if oracle is None else oracle
    gen = torch.Generator().manual_seed(seed)
    dev = next(G.parameters()).device
    zs, ws, preds = [], [], []
    for b in sizes:
        z = torch.randn(b, G.z_dim, generator=gen).to(dev)
        w = G.mapping(z)  # [b, w_dim]
        img = G.synthesis(w, noise_mode="fixed")  # the labels should not depend on the noise
        zs.append(z.cpu()), ws.append(w.cpu()), preds.append(oracle.predict(img.float()))
    pred = {k: torch.cat([p[k] for p in preds]) for k in preds[0]}
    attrs = oracle_attributes(pred)
    return {"z": linear_separability(torch.cat(zs), attrs, keep, seed=seed),
            "w": linear_separability(torch.cat(ws), attrs, keep, seed=seed)}
