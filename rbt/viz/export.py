"""Exporting figures and the numbers behind them, as bytes ready to save or download."""

from __future__ import annotations

import io
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
