"""stylegan_tutorial: StyleGAN built step by step, one module per idea.

Each module is named after its idea, and the book's chapters import it by that name.
``ARCHITECTURE.md`` draws the layers (a module imports only its own layer or lower ones).

Foundation
    :mod:`~stylegan_tutorial.lod` (levels of detail, alpha, style ranges; chapters 4, 8),
    :mod:`~stylegan_tutorial.images` (the [-1, 1] convention, 2×2 resampling, grids; chapter 1),
    :mod:`~stylegan_tutorial.files` (atomic writes, sha256; chapter 10),
    :mod:`~stylegan_tutorial.runtime` (device, seeds) and :mod:`~stylegan_tutorial.progress`
    (progress bars) for every chapter.
Data
    :mod:`~stylegan_tutorial.data`: generated faces with known factors (chapter 1), digits
    (chapters 2, 3), prepared image folders and downloads (the instructor's guide), the
    training order (chapter 10).
Networks
    :mod:`~stylegan_tutorial.configs` (network and training configurations, the ablation;
    chapters 10, 12), :mod:`~stylegan_tutorial.layers` (equalized learning rate, blur, noise,
    AdaIN; chapters 4, 6, 7), :mod:`~stylegan_tutorial.mapping` (z → w; chapter 5),
    :mod:`~stylegan_tutorial.synthesis` (ws → image; chapters 4, 6, 7),
    :mod:`~stylegan_tutorial.generator` (mixing, truncation; chapters 5, 8, 9),
    :mod:`~stylegan_tutorial.discriminator` (chapter 4), :mod:`~stylegan_tutorial.sizes`
    (parameter counts; chapter 10).
Training
    :mod:`~stylegan_tutorial.baselines` (naive generators in pixel space; chapter 1),
    :mod:`~stylegan_tutorial.autoencoders` (autoencoders and the VAE; chapter 2),
    :mod:`~stylegan_tutorial.losses`, :mod:`~stylegan_tutorial.toy`,
    :mod:`~stylegan_tutorial.dcgan` (the adversarial game; chapter 3),
    :mod:`~stylegan_tutorial.schedule` (progressive growing; chapters 4, 10),
    :mod:`~stylegan_tutorial.training` (the loop), :mod:`~stylegan_tutorial.speed` (speed
    switches), :mod:`~stylegan_tutorial.monitor` (grids, plots, logs),
    :mod:`~stylegan_tutorial.checkpoint` (safe checkpoints), :mod:`~stylegan_tutorial.distributed`
    (several GPUs), all chapter 10; :mod:`~stylegan_tutorial.shipped` (weights inside the
    package; chapters 10, 11); :mod:`~stylegan_tutorial.generate` (images from a generator;
    chapters 7, 8, 9).
Evaluation
    :mod:`~stylegan_tutorial.oracle` and :mod:`~stylegan_tutorial.metrics` (chapter 11; the
    first baseline table of chapter 1 and the digit judges of chapter 2 too).
Course helpers
    :mod:`~stylegan_tutorial.viz`, :mod:`~stylegan_tutorial.widgets` (figures),
    :mod:`~stylegan_tutorial.exercises` (graders of the readers' exercises),
    :mod:`~stylegan_tutorial.student` (student versions of the chapters).
Commands
    :mod:`~stylegan_tutorial.cli` and :mod:`~stylegan_tutorial.commands`: ``stylegan-tutorial``.

Importing the package imports nothing heavy: submodules load on first use.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
