"""A trial's timeline: the class probabilities of every window, the true label, one window marked,
and raw EEG or band power below on the same time axis.

Each window is one point of the ``"windows"`` trace (and of each class's line and band's
line), whose ``customdata`` is the window's id (``windows``, by default its position in the
trial). Shown with Streamlit as
``event = st.plotly_chart(fig, on_select="rerun", selection_mode="points")``, a point chosen
on the chart comes back in ``event.selection``; :func:`selected_window` reads the id from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from ._base import figure, margin, plain
from .prediction import CORRECT, NEUTRAL, WRONG

#: one colour per class (Plotly's default sequence), for the lines and the true-label strip
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf")
TRACE_COLOUR = "#333"
WINDOW_FILL, WINDOW_LINE = "rgba(255,127,14,0.10)", "#ff7f0e"
_STRIP = (1.03, 1.11)  # the true-label strip above the probabilities (in probability units)


def _colour(i: int) -> str:
    return CLASS_COLOURS[i % len(CLASS_COLOURS)]


def _runs(labels: list) -> list[tuple[int, int, object]]:
    """(first, last, label) of each run of equal consecutive labels."""
    runs, first = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[first]:
            runs.append((first, i - 1, labels[first]))
            first = i
    return runs


def _true_labels(true, n: int, class_names: list[str]) -> list | None:
    if true is None:
        return None
    values = [true] * n if np.ndim(true) == 0 else list(np.asarray(true).tolist())
    if len(values) != n:
        raise ValueError(f"true must be one label or one per window ({n}); got {len(values)}")
    return [class_names[v] if isinstance(v, (int, np.integer)) and not isinstance(v, bool)
            and 0 <= v < len(class_names) else None if v is None else str(v) for v in values]


def _current_window(starts, current: int, window_s: float, top: float) -> dict:
    """The band over the current window's extent, from the bottom of the plot to ``top``."""
    return dict(type="rect", xref="x", yref="paper", x0=float(starts[current]),
                x1=float(starts[current] + window_s), y0=0, y1=top, layer="below",
                fillcolor=WINDOW_FILL, line=dict(color=WINDOW_LINE, width=2),
                name="current window")


def _label_strips(labels: list, starts, window_s: float, colour, text, y0: float, y1: float,
                  yref: str, name: str) -> tuple[list, list]:
    """(shapes, annotations): a strip per run of equal labels, each ending where the next one
    starts (windows overlap), the last with its window; ``colour`` and ``text`` of a label."""
    shapes, annotations = [], []
    runs = _runs(labels)
    for j, (first, last, label) in enumerate(runs):
        if label is None:
            continue
        x0 = float(starts[first])
        x1 = float(starts[runs[j + 1][0]] if j + 1 < len(runs) else starts[last] + window_s)
        shapes.append(dict(type="rect", xref="x", yref=yref, x0=x0, x1=x1, y0=y0, y1=y1,
                           fillcolor=colour(label), opacity=0.35 if yref == "y" else 0.3,
                           line=dict(width=0), name=name))
        annotations.append(dict(x=(x0 + x1) / 2, y=(y0 + y1) / 2, xref="x", yref=yref,
                                text=text(label), showarrow=False, font=dict(size=11)))
    return shapes, annotations


def _decimate(sig: np.ndarray, max_points: int) -> tuple[np.ndarray, int]:
    step = max(1, int(np.ceil(sig.shape[1] / max_points)))
    return sig[:, ::step], step


def trial_timeline(starts, probs, class_names: Sequence[str], *, window_s: float,
                   current: int | None = None, true=None, windows=None, signals=None,
                   signal_names: Sequence[str] | None = None, sfreq: float | None = None,
                   signal_start_s: float = 0.0, band_power=None,
                   band_names: Sequence[str] | None = None,
                   band_label: str = "mean over electrodes", max_points: int = 5000,
                   title: str | None = None, height: int | None = None) -> go.Figure:
    """One trial over time: each class's probability per window, and below either raw traces
    or band power, the two panels sharing one time axis (zoom one, the other follows).

    Parameters
    ----------
    starts : (n,) float
        Each window's start in seconds (a window is drawn at its start).
    probs : (n, classes)
        The predicted probabilities.
    window_s : float
        The windows' length in seconds (the marked window's extent).
    current : int, optional
        The position (0..n-1) of the window to mark with a band over its extent.
    true : optional
        The true label: one for the trial or one per window, each a class index (named
        through ``class_names``) or a label of its own (an annotation such as "happy"); drawn
        as a strip above the probabilities.
    windows : (n,) int, optional
        The ids put in the window points' ``customdata`` (default ``0..n-1``).
    signals, signal_names, sfreq, signal_start_s
        A few raw traces ``(channels, samples)``, their names, rate and the time of their
        first sample on the windows' clock; at most ``max_points`` samples per trace are drawn
        (every k-th).
    band_power, band_names, band_label
        Instead of traces: ``(n, bands)`` per window (e.g. the BDE averaged over electrodes,
        or one electrode's, said by ``band_label``).
    """
    starts = np.asarray(starts, dtype=float)
    p = np.asarray(probs, dtype=float)
    names = [str(c) for c in class_names]
    n = len(starts)
    if starts.ndim != 1 or p.shape != (n, len(names)):
        raise ValueError(f"expected starts (windows,) and probs (windows, {len(names)} classes); "
                         f"got {starts.shape} and {p.shape}")
    if not np.isfinite(window_s) or window_s <= 0:
        raise ValueError(f"window_s must be a positive number of seconds; got {window_s!r}")
    ids = np.arange(n) if windows is None else np.asarray(windows)
    if ids.shape != (n,):
        raise ValueError(f"windows must be one id per window ({n}); got shape {ids.shape}")
    if current is not None and not 0 <= current < n:
        raise ValueError(f"current must be a window position in [0, {n}); got {current}")
    if signals is not None and band_power is not None:
        raise ValueError("draw either raw signals or band power below, not both")
    labels = _true_labels(true, n, names)
    lower = signals is not None or band_power is not None
    pred = p.argmax(axis=1) if n else np.zeros(0, int)

    data: list[dict] = []
    at = "window %{customdata} at %{x:.2f} s<extra></extra>"
    for k, c in enumerate(names):
        # markers, so that a point of a line is a window one can choose too (Plotly selects
        # only marker points, and a click on a window goes to the nearest, often a line's)
        data.append(dict(type="scatter", x=starts, y=p[:, k], mode="lines+markers", name=c,
                         line=dict(color=_colour(k), width=2), marker=dict(size=4),
                         customdata=ids, xaxis="x",
                         yaxis="y", hovertemplate=f"{plain(c)}: %{{y:.3f}}<br>{at}"))
    # right or wrong only where the label is one of the model's classes
    right = [None if labels is None or labels[i] not in names else names[pred[i]] == labels[i]
             for i in range(n)]
    data.append(dict(
        type="scatter", x=starts, y=p[np.arange(n), pred] if n else [], mode="markers",
        name="windows", customdata=ids, text=[names[k] for k in pred], showlegend=False,
        marker=dict(size=9, color=[NEUTRAL if r is None else CORRECT if r else WRONG
                                   for r in right], line=dict(width=1, color="white")),
        xaxis="x", yaxis="y",
        hovertemplate="window %{customdata} at %{x:.2f} s<br>predicted %{text} "
                      "(%{y:.2f})<extra></extra>"))

    shapes = [] if current is None else [_current_window(starts, current, window_s, 1)]
    annotations: list = []
    if labels is not None:
        more, annotations = _label_strips(
            labels, starts, window_s,
            lambda c: _colour(names.index(c)) if c in names else "#7f7f7f",
            lambda c: f"true: {plain(c)}", *_STRIP, "y", "true label")
        shapes += more

    top = (0.45, 1.0) if lower else (0.0, 1.0)
    layout: dict = dict(
        title=dict(text=title), height=height or (460 if lower else 280), margin=margin(title),
        plot_bgcolor="white", shapes=shapes, annotations=annotations,
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
        xaxis=dict(anchor="y", showgrid=True, gridcolor="#eee",
                   **({} if lower else {"title": dict(text="time (s)")})),
        yaxis=dict(domain=list(top), range=[0, _STRIP[1] + 0.01 if labels else 1.0],
                   tickvals=[0, 0.25, 0.5, 0.75, 1], title=dict(text="probability"),
                   gridcolor="#eee"),
    )
    if lower:
        below = dict(domain=[0.0, 0.36], zeroline=False, gridcolor="#eee")
        layout["xaxis2"] = dict(anchor="y2", matches="x", title=dict(text="time (s)"),
                                showgrid=True, gridcolor="#eee")
        layout["xaxis"]["showticklabels"] = False
        if signals is not None:
            data += _signal_traces(signals, signal_names, sfreq, signal_start_s, max_points,
                                   below)
        else:
            data += _band_traces(band_power, band_names, starts, ids, n, band_label, below)
        layout["yaxis2"] = below
    return figure(data, layout)


def _signal_traces(signals, signal_names, sfreq, start_s, max_points, axis: dict) -> list[dict]:
    sig = np.asarray(signals, dtype=float)
    names = [str(c) for c in (signal_names or [])]
    if sig.ndim != 2 or len(names) != len(sig):
        raise ValueError(f"signals must be (channels, samples) with one name per channel; got "
                         f"{sig.shape} and {len(names)} name(s)")
    if sfreq is None or not np.isfinite(sfreq) or sfreq <= 0:
        raise ValueError(f"signals need their sampling rate sfreq (Hz); got {sfreq!r}")
    shown, step = _decimate(sig, max_points)
    t = start_s + np.arange(shown.shape[1]) * step / sfreq
    spread = 4 * float(np.median(np.std(sig, axis=1)) or 1.0)
    out = []
    for k, c in enumerate(names):
        y = shown[k] - shown[k].mean() - k * spread
        out.append(dict(type="scatter", x=t, y=y, mode="lines", name=c, showlegend=False,
                        line=dict(width=1, color=TRACE_COLOUR), xaxis="x2", yaxis="y2",
                        hovertemplate=f"{plain(c)}<br>%{{x:.2f}} s<extra></extra>"))
    axis.update(tickvals=[-k * spread for k in range(len(names))], ticktext=names,
                showgrid=False, title=dict(text="EEG"))
    return out


def _band_traces(power, band_names, starts, ids, n: int, label: str,
                 axis: dict) -> list[dict]:
    bp = np.asarray(power, dtype=float)
    names = [str(b) for b in (band_names or [])]
    if bp.shape != (n, len(names)):
        raise ValueError(f"band_power must be (windows, bands) = ({n}, {len(names)}) with one "
                         f"name per band; got {bp.shape}")
    axis.update(title=dict(text=f"BDE, {label}"))
    return [dict(type="scatter", x=starts, y=bp[:, k], mode="lines+markers", name=b,
                 line=dict(width=1.5, dash="dot", color=_colour(-1 - k)), marker=dict(size=4),
                 customdata=ids,
                 xaxis="x2", yaxis="y2",
                 hovertemplate=f"{plain(b)}: %{{y:.3f}}<br>window %{{customdata}} at "
                               f"%{{x:.2f}} s<extra></extra>") for k, b in enumerate(names)]


def selected_window(selection: Mapping | None) -> int | None:
    """The id of the window chosen on a :func:`trial_timeline` (its ``customdata``), from a
    Plotly selection such as Streamlit's ``event.selection``; None when no window point is in it
    (the last one when several are)."""
    points = (selection or {}).get("points") or []
    for point in reversed(points):
        value = point.get("customdata") if isinstance(point, Mapping) else None
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if value is not None:
            try:
                return int(value)
            except (TypeError, ValueError):
                continue
    return None


def band_timeline(starts, band_power, band_names: Sequence[str], *, window_s: float,
                  current: int | None = None, labels=None, windows=None,
                  band_label: str = "mean over electrodes", title: str | None = None,
                  height: int = 300) -> go.Figure:
    """One trial's band power over time, without a model: each band's BDE per window (its
    points clickable like :func:`trial_timeline`'s), the current window marked and the
    trial's label (one, or one per window, such as an annotation) as a strip along the top."""
    starts = np.asarray(starts, dtype=float)
    n = len(starts)
    if starts.ndim != 1:
        raise ValueError(f"expected starts (windows,); got {starts.shape}")
    if not np.isfinite(window_s) or window_s <= 0:
        raise ValueError(f"window_s must be a positive number of seconds; got {window_s!r}")
    if current is not None and not 0 <= current < n:
        raise ValueError(f"current must be a window position in [0, {n}); got {current}")
    ids = np.arange(n) if windows is None else np.asarray(windows)
    if ids.shape != (n,):
        raise ValueError(f"windows must be one id per window ({n}); got shape {ids.shape}")
    axis: dict = dict(zeroline=False, gridcolor="#eee", domain=[0.0, 0.86])
    data = _band_traces(band_power, band_names, starts, ids, n, band_label, axis)
    for trace in data:
        trace.update(xaxis="x", yaxis="y", line=dict(width=2, color=trace["line"]["color"]))
    shapes = [] if current is None else [_current_window(starts, current, window_s, 0.86)]
    annotations: list = []
    found = _true_labels(labels, n, [])
    if found is not None:
        more, annotations = _label_strips(found, starts, window_s, lambda _: "#7f7f7f", plain,
                                          0.89, 0.97, "paper", "label")
        shapes += more
    layout = dict(title=dict(text=title), height=height, margin=margin(title),
                  plot_bgcolor="white", shapes=shapes, annotations=annotations,
                  legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right"),
                  xaxis=dict(title=dict(text="time (s)"), showgrid=True, gridcolor="#eee"),
                  yaxis=axis)
    return figure(data, layout)
