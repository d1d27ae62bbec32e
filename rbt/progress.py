"""Progress bars (tqdm) that also read well in logs.

In a terminal or a notebook every bar is drawn as tqdm draws it. When stderr is a file or a
pipe (CI, batch jobs, ``nohup``), nested inner bars (per trial, per epoch) are left out and the
others redraw at most every 10 s, so a log gets a few lines instead of thousands of carriage
returns.
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def progress_bar(iterable=None, *, inner: bool = False, disable: bool = False, **kwargs):
    """``tqdm(iterable, **kwargs)``; ``inner`` marks a bar nested inside another."""
    interactive = getattr(sys.stderr, "isatty", lambda: False)() or "ipykernel" in sys.modules
    if not interactive:
        disable = disable or inner
        kwargs.setdefault("mininterval", 10.0)
    return tqdm(iterable, disable=disable, **kwargs)
