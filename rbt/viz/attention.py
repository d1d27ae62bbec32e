"""Attention figures: electrode-to-electrode lines on the scalp, and the E x E heatmap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..explain.attention import top_pairs
from ..montage import positions_2d
from ._base import colorscale as _scale
from ._base import figure, margin
from .topomap import head_axes, outline_trace

_LINE_CLASSES = 5  # lines are drawn in this many width classes, one trace each (fast to draw)


def _check_square(att, ch_names) -> np.ndarray:
    att = np.asarray(att, dtype=float)
    n = len(ch_names)
    if att.shape != (n, n):
        raise ValueError(f"expected a ({n}, {n}) attention map for {n} electrodes; got shape "
                         f"{att.shape}")
    return att


def attention_lines(att_2d, ch_names: Sequence[str], *, k: int = 10,
                    threshold: float | None = None, title: str | None = None,
                    colorscale: str = "Viridis", height: int = 420) -> go.Figure:
    """The strongest electrode-to-electrode attention pairs as lines on the head.

    Row i of ``att_2d`` is where electrode i looks. A line joins i and j for each of the top
    ``k`` off-diagonal weights at or above ``threshold`` (:func:`rbt.explain.top_pairs`);
    thicker and brighter is stronger. Hovering the dot in a line's middle names the pair
    ("Fz → Pz": Fz looks at Pz). Sensors are sized by the attention they receive.
    """
    att = _check_square(att_2d, ch_names)
    names = list(ch_names)
    pos = positions_2d(names)
    pairs = top_pairs(att, k=k, threshold=threshold, exclude_self=True)
    data = [outline_trace()]
    weights = np.array([w for _, _, w in pairs], dtype=float)
    lo, hi = (float(weights.min()), float(weights.max())) if pairs else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    colours = _sample_colorscale(colorscale, _LINE_CLASSES)
    cls = [min(int((w - lo) / span * _LINE_CLASSES), _LINE_CLASSES - 1) for w in weights]
    for b in range(_LINE_CLASSES):
        xs, ys = [], []
        for (i, j, _), c in zip(pairs, cls):
            if c == b:
                xs += [pos[i, 0], pos[j, 0], None]
                ys += [pos[i, 1], pos[j, 1], None]
        if xs:
            data.append(dict(type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip",
                             line=dict(width=1.5 + 1.5 * b, color=colours[b]), opacity=0.85,
                             showlegend=False, name=f"lines {b + 1}"))
    if pairs:
        mid = np.array([(pos[i] + pos[j]) / 2 for i, j, _ in pairs])
        data.append(dict(
            type="scatter", x=mid[:, 0], y=mid[:, 1], mode="markers",
            text=[f"{names[i]} → {names[j]}" for i, j, _ in pairs], customdata=weights,
            hovertemplate="<b>%{text}</b><br>attention %{customdata:.4f}<extra></extra>",
            marker=dict(size=9, color=weights, colorscale=_scale(colorscale), cmin=lo, cmax=hi,
                        colorbar=dict(title=dict(text="attention"), thickness=12),
                        line=dict(width=0.5, color="#222")),
            showlegend=False, name="pairs"))
    received = att.sum(axis=0) - np.diag(att)
    size = 6 + 14 * (received - received.min()) / (np.ptp(received) or 1.0)
    data.append(dict(
        type="scatter", x=pos[:, 0], y=pos[:, 1], mode="markers", text=names,
        customdata=received, showlegend=False, name="sensors",
        hovertemplate="<b>%{text}</b><br>attention received %{customdata:.3f}<extra></extra>",
        marker=dict(size=size, color="white", line=dict(width=1.2, color="#222"))))
    layout = dict(title=dict(text=title), height=height, plot_bgcolor="white",
                  hovermode="closest", margin=margin(title), **head_axes(1))
    return figure(data, layout)


def _sample_colorscale(name: str, n: int) -> list[str]:
    from plotly.colors import sample_colorscale

    return sample_colorscale(name, [0.25 + 0.75 * i / max(n - 1, 1) for i in range(n)])


def attention_heatmap(att_2d, ch_names: Sequence[str], *, title: str | None = None,
                      colorscale: str = "Viridis", zrange: tuple[float, float] | None = None,
                      height: int = 440) -> go.Figure:
    """The electrode x electrode attention matrix: row = the electrode that looks (query),
    column = the electrode looked at (key). Hover names both."""
    att = _check_square(att_2d, ch_names)
    names = list(ch_names)
    trace = dict(
        type="heatmap", z=att, x=names, y=names, colorscale=_scale(colorscale), name="attention",
        hovertemplate="<b>%{y}</b> looks at <b>%{x}</b><br>attention %{z:.4f}<extra></extra>",
        colorbar=dict(title=dict(text="attention"), thickness=12))
    if zrange is not None:
        trace.update(zmin=float(zrange[0]), zmax=float(zrange[1]))
    layout = dict(title=dict(text=title), height=height, margin=margin(title),
                  xaxis=dict(title=dict(text="looked at (key)"), tickfont=dict(size=9),
                             type="category"),
                  yaxis=dict(title=dict(text="looking (query)"), tickfont=dict(size=9),
                             autorange="reversed", type="category"))
    return figure([trace], layout)
