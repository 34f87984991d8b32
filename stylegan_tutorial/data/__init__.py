"""The data sets of the course. Every source yields float images in [-1, 1], shaped [N, C, H, W].

- :mod:`~stylegan_tutorial.data.digits`: scikit-learn's bundled handwritten digits (no download).
"""
