"""Exporting figures and the numbers behind them, as bytes ready to save or download."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def figure_html(fig: go.Figure) -> bytes:
    """A self-contained HTML file (plotly.js embedded, so it opens offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode()


def figure_image(fig: go.Figure, fmt: str = "png", scale: float = 2.0) -> bytes:
    """PNG or SVG bytes through kaleido, which needs a local Chrome or Chromium.

    Raises RuntimeError saying what to do when kaleido or a browser is missing; in the dashboard
    the chart toolbar's camera button renders PNG or SVG in the browser instead.
    """
    if fmt not in ("png", "svg"):
        raise ValueError(f"image format must be 'png' or 'svg'; got {fmt!r}")
    try:
        return fig.to_image(format=fmt, scale=scale)
    except Exception as err:  # kaleido missing, or no browser for it to drive
        raise RuntimeError(
            f"cannot write {fmt.upper()} here ({type(err).__name__}: {err}). Install kaleido "
            "(pip install kaleido) with Chrome or Chromium, or save the HTML and use its "
            "camera button.") from err


def table_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def arrays_npz(arrays: Mapping[str, object]) -> bytes:
    """An ``.npz`` of named arrays (lists of names become string arrays)."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def export_name(name: str, context: Mapping[str, object] | str | None = None) -> str:
    """A file name (without extension) for an export: ``name`` and then the context, e.g.
    ``attribution_subject-s01_trial-3_window-5_method-saliency`` for
    ``{"subject": "s01", "trial": 3, "window": 5, "method": "saliency"}``. Exports of
    different views so get different names instead of overwriting each other. Only letters,
    digits, ``.``, ``_`` and ``-`` are kept; None values are left out."""
    if isinstance(context, Mapping):
        parts = [f"{k}-{v}" for k, v in context.items() if v is not None and v != ""]
    else:
        parts = [str(context)] if context else []
    text = "_".join([str(name), *parts])
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._-")[:150] or "figure"


def context_text(context: Mapping[str, object] | str | None) -> str:
    """The context as a line for a figure's title: "subject s01 · trial 3 · window 5"."""
    if isinstance(context, Mapping):
        return " · ".join(f"{k} {v}" for k, v in context.items() if v is not None and v != "")
    return str(context or "")
