"""stylegan_tutorial: StyleGAN built step by step, one module per idea.

The modules follow the book's chapters:

- :mod:`stylegan_tutorial.losses`: the adversarial game's losses and regularisers (chapter 3).
- :mod:`stylegan_tutorial.toy`: two-dimensional GANs and the Dirac-GAN (chapter 3).
- :mod:`stylegan_tutorial.dcgan`: a small DCGAN that trains on digits on a CPU (chapter 3).
- :mod:`stylegan_tutorial.data`: the data sets (generated faces, digits, image folders).
- :mod:`stylegan_tutorial.checks`: check functions for the readers' exercises.

Importing the package imports nothing heavy beyond torch: submodules load on first use.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
