"""Progress bars for every loop that takes more than a few seconds.

In Jupyter and Colab, ``tqdm`` draws a live widget. When the book is built, the executed
notebook must keep a readable final bar instead of a widget the static page cannot show, so
``scripts/execute_notebooks.py`` sets ``STYLEGAN_TUTORIAL_TEXT_PROGRESS=1`` and bars fall back
to plain text.
"""

from __future__ import annotations

import os

if os.environ.get("STYLEGAN_TUTORIAL_TEXT_PROGRESS"):
    from tqdm.std import tqdm
else:
    from tqdm.auto import tqdm

__all__ = ["tqdm"]
