"""Attention figures: electrode-to-electrode arrows on the scalp, and the E x E matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..explain.attention import top_pairs
from ..montage import positions_2d
from ._base import colorscale as _scale
from ._base import figure, margin
from .scales import colorbar, value_range
from .topomap import head_axes, interpolated_note, outline_trace

_LINE_CLASSES = 5  # lines are drawn in this many width classes, one trace each (fast to draw)


def _check_square(att, ch_names) -> np.ndarray:
    att = np.asarray(att, dtype=float)
    n = len(ch_names)
    if att.shape != (n, n):
        raise ValueError(f"expected a ({n}, {n}) attention map for {n} electrodes; got shape "
                         f"{att.shape}")
    return att


#: what the pairs plot shows, attached as its ``layout.meta["caption"]`` and drawn beneath it
LINES_CAPTION = ("Arrow: from the looking electrode to the one it looks at;<br>"
                 "thicker and brighter is more attention.<br>"
                 "Dot size: attention the electrode receives (column sum).<br>"
                 "Mid-point dot colour: the pair's attention (hover it).")
NO_PAIRS = "no pairs above this threshold"


def attention_lines(att_2d, ch_names: Sequence[str], *, k: int = 10,
                    threshold: float | None = None, title: str | None = None,
                    colorscale: str = "Viridis", height: int = 460,
                    interpolated: Sequence[str] = ()) -> go.Figure:
    """The strongest electrode-to-electrode attention pairs as arrows on the head.

    Row i of ``att_2d`` is where electrode i looks. An arrow runs from i to j for each of the
    top ``k`` off-diagonal weights at or above ``threshold`` (:func:`rbt.explain.top_pairs`);
    thicker and brighter is stronger. Hovering the dot in a line's middle names the pair
    ("Fz → Pz": Fz looks at Pz). Sensors are sized by the attention they receive. The figure
    says so beneath the head (:data:`LINES_CAPTION`, also ``layout.meta["caption"]``), and says
    :data:`NO_PAIRS` when no pair passes. Electrodes ``interpolated`` (not measured) are ringed
    twice, say so on hover and are named in a key.
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
    # every strength class has its trace, empty or not, whenever there are pairs: plotly.js
    # redraws a figure whose number of traces changed from scratch (axes, colour bar, hover
    # layer), and updates one with the same traces in place
    for b in range(_LINE_CLASSES if pairs else 0):
        xs, ys = [], []
        for (i, j, _), c in zip(pairs, cls):
            if c == b:
                xs += [pos[i, 0], pos[j, 0], None]
                ys += [pos[i, 1], pos[j, 1], None]
        data.append(dict(type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip",
                         line=dict(width=_width(b), color=colours[b]), opacity=0.85,
                         showlegend=False, name=f"lines {b + 1}"))
    annotations = []
    if pairs:
        data.append(_arrow_heads(pos, pairs, [colours[c] for c in cls],
                                 [_width(c) for c in cls]))
        mid = np.array([(pos[i] + pos[j]) / 2 for i, j, _ in pairs])
        data.append(dict(
            type="scatter", x=mid[:, 0], y=mid[:, 1], mode="markers",
            text=[f"{names[i]} → {names[j]}" for i, j, _ in pairs], customdata=weights,
            hovertemplate="<b>%{text}</b><br>attention %{customdata:.4f}<extra></extra>",
            marker=dict(size=9, color=weights, colorscale=_scale(colorscale), cmin=lo, cmax=hi,
                        colorbar=colorbar("pair's attention"),
                        line=dict(width=0.5, color="#222")),
            showlegend=False, name="pairs"))
    else:
        annotations.append(dict(text=NO_PAIRS if threshold is not None else "no pairs to draw",
                                x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                                font=dict(size=14, color="#555"), bgcolor="white",
                                name="no pairs"))
    received = att.sum(axis=0) - np.diag(att)
    size = 6 + 14 * (received - received.min()) / (np.ptp(received) or 1.0)
    data.append(dict(
        type="scatter", x=pos[:, 0], y=pos[:, 1], mode="markers", text=names,
        customdata=received, showlegend=False, name="sensors",
        hovertemplate="<b>%{text}</b><br>attention received %{customdata:.3f}<extra></extra>",
        marker=dict(size=size, color="white", line=dict(width=1.2, color="#222"))))
    if interpolated:
        made = set(interpolated)
        data[-1]["marker"]["symbol"] = ["circle-dot" if n in made else "circle" for n in names]
        data[-1]["hovertemplate"] = ("<b>%{text}</b>%{hovertext}<br>attention received "
                                     "%{customdata:.3f}<extra></extra>")
        data[-1]["hovertext"] = [" (interpolated)" if n in made else "" for n in names]
        annotations.append(interpolated_note(interpolated))
    # left-aligned under the plot: centred on a plot narrowed by the colour bar, its longest
    # line would reach past the figure's left edge in a narrow column (and be cut off there)
    annotations.append(dict(text=LINES_CAPTION, x=0, y=0, xref="paper", yref="paper",
                            xanchor="left", yanchor="top", yshift=-4, showarrow=False,
                            align="left", font=dict(size=10, color="#444"), name="caption"))
    layout = dict(title=dict(text=title), height=height, plot_bgcolor="white",
                  hovermode="closest", margin=margin(title, bottom=66),
                  annotations=annotations, meta=dict(caption=LINES_CAPTION), **head_axes(1))
    return figure(data, layout)


def _width(cls: int) -> float:
    return 1.5 + 1.5 * cls


# where an arrow head sits on its line, from the looking electrode (0) to the one looked at
# (1): short of the sensor dot there
_HEAD_AT = 0.86


def _arrow_heads(pos, pairs, colours, widths) -> dict:
    """One marker trace of arrow heads, one per pair, on the line from the looking electrode
    to the one it looks at, pointing along it (the head axes have equal aspect, so the data's
    angle is the screen's). Markers rather than arrow annotations: plotly.js lays out each
    annotation on its own, which doubled the chart's redraw time."""
    start = np.array([pos[i] for i, _, _ in pairs])
    end = np.array([pos[j] for _, j, _ in pairs])
    at = start + _HEAD_AT * (end - start)
    d = end - start
    # plotly's marker angle: degrees clockwise from pointing up
    angle = np.degrees(np.arctan2(d[:, 0], d[:, 1]))
    return dict(type="scatter", x=at[:, 0], y=at[:, 1], mode="markers", hoverinfo="skip",
                showlegend=False, name="arrows", opacity=0.9,
                marker=dict(symbol="triangle-up", angle=angle, color=list(colours),
                            size=[7 + 1.6 * w for w in widths], line=dict(width=0)))


def _sample_colorscale(name: str, n: int) -> list[str]:
    from plotly.colors import sample_colorscale

    return sample_colorscale(name, [0.25 + 0.75 * i / max(n - 1, 1) for i in range(n)])


#: the column width (px) the matrix is laid out for: One trial's three columns on a wide screen
MATRIX_WIDTH = 430
_TICK_FONT = 9  # px
#: px a category tick label needs: plotly.js names every category while each has
#: round(1.2 x font size) px of axis and thins the labels (every 2nd, 3rd ...) where they do not
_LABEL_ROOM = round(1.2 * _TICK_FONT)


def matrix_layout(ch_names: Sequence[str], *, width: int = MATRIX_WIDTH,
                  title: bool = True) -> dict:
    """Where the matrix's parts go in a chart ``width`` px wide: the fixed margins (tick labels
    and axis titles; above the plot, ``title`` and a context line, then the colour bar), the
    square plot's ``side``, the figure ``height`` that makes the plot square at that width, the
    ``cell`` size in px and the ``dtick`` plotly.js will label at (1: every electrode).

    32 electrodes in a 430 px column get 11.7 px each, so every one is named in a 9 px font. In
    a narrower column the square shrinks to the column, its cells with it, the labels thin
    out to every other electrode and the space left over lies beneath; the hover always names
    both electrodes of a cell.
    """
    names = list(ch_names)
    n = max(len(names), 1)
    label = 4 + 0.62 * _TICK_FONT * max((len(str(x)) for x in names), default=1)
    left = 10 + 18 + label  # margin, axis title, tick labels
    right = 10
    top = (62 if title else 10) + 34  # title and context line (rbt.viz._base.with_context), bar
    bottom = label + 26  # tick labels, axis title
    side = max(60.0, width - left - right)
    return dict(left=round(left), right=right, top=top, bottom=round(bottom), side=side,
                height=int(round(side + top + bottom)), cell=side / n,
                dtick=max(1, int(np.ceil(n / (side / _LABEL_ROOM)))))


def attention_heatmap(att_2d, ch_names: Sequence[str], *, title: str | None = None,
                      colorscale: str = "Viridis", zrange: tuple[float, float] | None = None,
                      colorbar_title: str = "attention", width: int = MATRIX_WIDTH,
                      height: int | None = None) -> go.Figure:
    """The electrode x electrode attention matrix: row = the electrode that looks (query),
    column = the electrode looked at (key); hover says "row looks at column: value".

    One heatmap trace (the dashboard's chart element reports clicks on it: a clicked cell's
    ``x`` and ``y`` are the two electrodes). The plot is square with square cells (the y axis
    is anchored to x) and laid out for a chart ``width`` px wide (:func:`matrix_layout`): the
    colour bar lies above it, so the matrix takes the column's whole width, and the figure is
    as tall as that needs (``height`` overrides). Every electrode is named on both axes while
    the labels fit (all 32 of DEAP in a 430 px column); plotly.js names every other one in a
    narrower chart.
    """
    att = _check_square(att_2d, ch_names)
    names = list(ch_names)
    n = len(names)
    values = att.astype(np.float32)  # half the bytes of float64
    lo, hi = zrange if zrange is not None else value_range(values.ravel(), symmetric=False)
    box = matrix_layout(names, width=width, title=bool(title))
    if height is None:
        height = box["height"]
    side = min(box["side"], height - box["top"] - box["bottom"])
    # above the matrix, so the matrix takes the column's width; as long as 60 % of its side
    bar = colorbar(colorbar_title, horizontal=True, zrange=(lo, hi), x=0.5, xanchor="center",
                   lenmode="pixels", len=round(0.6 * side), thickness=10, y=1, ypad=4,
                   yanchor="bottom", ticklabelposition="outside top")
    bar["title"]["side"] = "right"  # beside the bar (plotly.js puts it before the bar)
    trace = dict(
        type="heatmap", z=values, x=names, y=names, name="attention",
        hovertemplate="<b>%{y}</b> looks at <b>%{x}</b>: %{z:.4f}<extra></extra>",
        colorscale=_scale(colorscale), zmin=float(lo), zmax=float(hi), colorbar=bar)
    # "auto" ticks on a category axis: every electrode while each has _LABEL_ROOM px
    ticks = dict(type="category", tickmode="auto", tickfont=dict(size=_TICK_FONT), ticklen=2,
                 showgrid=False, zeroline=False, constrain="domain", automargin=False)
    layout = dict(title=dict(text=title), height=height, plot_bgcolor="white",
                  hovermode="closest",
                  margin=dict(l=box["left"], r=box["right"], t=box["top"], b=box["bottom"]),
                  xaxis=dict(title=dict(text="looked at (key)", font=dict(size=12), standoff=4),
                             tickangle=-90, range=[-0.5, n - 0.5], **ticks),
                  yaxis=dict(title=dict(text="looking (query)", font=dict(size=12), standoff=4),
                             range=[n - 0.5, -0.5], scaleanchor="x", scaleratio=1,
                             constraintoward="top", **ticks))  # any room left over: beneath
    return figure([trace], layout)
