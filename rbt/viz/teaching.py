"""Figures for the teaching page: raw traces, band-pass filtering, tokens, embeddings, protocols."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ._base import colorscale as _scale
from ._base import figure, margin, plain

BAND_COLOURS = {"theta": "#1f77b4", "alpha": "#2ca02c", "beta": "#ff7f0e", "gamma": "#d62728"}


def eeg_traces(sig: np.ndarray, ch_names: Sequence[str], sfreq: float, *,
               picks: Sequence[str] | None = None, seconds: float | None = None,
               baseline_s: float | None = None, window: tuple[float, float] | None = None,
               title: str | None = None, height: int = 420) -> go.Figure:
    """Stacked EEG traces (one row per channel), with the pre-stimulus baseline shaded and one
    window outlined (times in seconds from the trial's start).

    ``seconds`` limits the traces to the first seconds, but never ends them before ``window``
    does: an outlined window always has its signal under it.
    """
    names = list(ch_names)
    picks = list(picks or names)
    n = sig.shape[1]
    if seconds is not None:
        end = max(seconds, window[1] if window else 0.0)
        n = min(n, int(np.ceil(end * sfreq)))
    t = np.arange(n) / sfreq
    spread = 4 * float(np.median([np.std(sig[names.index(c), :n]) for c in picks]) or 1.0)
    data = []
    for k, c in enumerate(picks):
        y = sig[names.index(c), :n]
        data.append(dict(type="scatter", x=t, y=(y - y.mean()) - k * spread, mode="lines",
                         line=dict(width=1, color="#333"), name=c,
                         hovertemplate=f"{plain(c)}<br>%{{x:.2f}} s<extra></extra>",
                         showlegend=False))
    shapes = []
    if baseline_s:
        shapes.append(dict(type="rect", x0=0, x1=baseline_s, y0=0, y1=1, yref="paper",
                           fillcolor="rgba(31,119,180,0.12)", line=dict(width=0), layer="below"))
    if window:
        shapes.append(dict(type="rect", x0=window[0], x1=window[1], y0=0, y1=1, yref="paper",
                           fillcolor="rgba(255,127,14,0.10)", line=dict(color="#ff7f0e", width=2),
                           layer="below"))
    layout = dict(title=dict(text=title), height=height, margin=margin(title), shapes=shapes,
                  xaxis=dict(title=dict(text="time from trial start (s)")),
                  yaxis=dict(tickvals=[-k * spread for k in range(len(picks))], ticktext=picks,
                             zeroline=False, showgrid=False), plot_bgcolor="white")
    return figure(data, layout)


def band_pass_figure(zscored: np.ndarray, filtered: Mapping[str, np.ndarray], sfreq: float,
                     de: Mapping[str, float], *, channel: str, title: str | None = None,
                     height: int = 520) -> go.Figure:
    """One channel's z-scored window above its band-passed versions, each labelled with its
    variance and differential entropy."""
    rows = 1 + len(filtered)
    gap = 0.03
    h = (1 - gap * (rows - 1)) / rows
    t = np.arange(len(zscored)) / sfreq
    data = [dict(type="scatter", x=t, y=zscored, mode="lines", line=dict(width=1, color="#333"),
                 name=f"{channel} (z-scored)", xaxis="x", yaxis="y")]
    layout: dict = dict(title=dict(text=title), height=height, margin=margin(title),
                        showlegend=False, plot_bgcolor="white", annotations=[])
    layout["yaxis"] = dict(domain=[1 - h, 1], title=dict(text="z"), zeroline=False)
    layout["annotations"].append(dict(text=f"<b>{plain(channel)}</b>, z-scored window", x=0,
                                      y=1, xref="paper", yref="paper", xanchor="left",
                                      yanchor="bottom", showarrow=False))
    for k, (band, y) in enumerate(filtered.items(), start=2):
        top = 1 - (k - 1) * (h + gap)
        axis = str(k)
        data.append(dict(type="scatter", x=t, y=y, mode="lines", name=band,
                         line=dict(width=1, color=BAND_COLOURS.get(band, "#555")),
                         xaxis=f"x{axis}", yaxis=f"y{axis}"))
        layout[f"yaxis{axis}"] = dict(domain=[top - h, top], zeroline=False, anchor=f"x{axis}")
        layout[f"xaxis{axis}"] = dict(matches="x", anchor=f"y{axis}",
                                      showticklabels=k == rows)
        layout["annotations"].append(dict(
            text=f"<b>{plain(band)}</b>: var {np.var(y):.3f}, DE {de[band]:.3f} bits", x=0,
            y=top,
            xref="paper", yref="paper", xanchor="left", yanchor="bottom", showarrow=False))
    layout["xaxis"] = dict(showticklabels=False, anchor="y")
    layout[f"xaxis{rows}"]["title"] = dict(text="time in the window (s)")
    return figure(data, layout)


def token_heatmap(tokens: np.ndarray, ch_names: Sequence[str], columns: Sequence[str], *,
                  title: str | None = None, colorscale: str = "RdBu_r", symmetric: bool = True,
                  value_label: str = "BDE", height: int = 520) -> go.Figure:
    """An (electrodes x columns) matrix: BDE tokens (columns = bands) or embeddings."""
    z = np.asarray(tokens, dtype=float)
    m = float(np.nanmax(np.abs(z))) or 1.0
    trace = dict(type="heatmap", z=z, x=[str(c) for c in columns], y=list(ch_names),
                 colorscale=_scale(colorscale), name=value_label,
                 hovertemplate=f"%{{y}}, %{{x}}: %{{z:.3f}}<extra>{plain(value_label)}</extra>",
                 colorbar=dict(title=dict(text=value_label), thickness=12))
    if symmetric:
        trace.update(zmin=-m, zmax=m)
    layout = dict(title=dict(text=title), height=height, margin=margin(title),
                  xaxis=dict(type="category"),
                  yaxis=dict(autorange="reversed", type="category", tickfont=dict(size=9),
                             tickmode="array", tickvals=list(ch_names)))  # every name
    return figure([trace], layout)


def similarity_heatmap(sim: np.ndarray, ch_names: Sequence[str], *, title: str | None = None,
                       height: int = 460) -> go.Figure:
    """Electrode x electrode cosine similarity (e.g. of the learned identity embeddings)."""
    names = list(ch_names)
    trace = dict(type="heatmap", z=np.asarray(sim, float), x=names, y=names, zmin=-1, zmax=1,
                 colorscale=_scale("RdBu_r"), name="similarity",
                 hovertemplate="%{y} and %{x}: %{z:.2f}<extra>cosine similarity</extra>",
                 colorbar=dict(title=dict(text="cosine"), thickness=12))
    layout = dict(title=dict(text=title), height=height, margin=margin(title),
                  xaxis=dict(type="category", tickfont=dict(size=9), tickmode="array",
                             tickvals=names),
                  yaxis=dict(type="category", autorange="reversed", tickfont=dict(size=9),
                             tickmode="array", tickvals=names))
    return figure([trace], layout)


def protocol_comparison(folds: pd.DataFrame, *, chance: float | None = None,
                        title: str | None = None, height: int = 360) -> go.Figure:
    """Cross-validated accuracy per evaluation protocol: mean ± std bars with each fold as a
    dot, and chance level as a labelled dashed line. The bars' values sit at their base, so
    the fold dots (near the top) do not cover them."""
    data = []
    protocols = list(dict.fromkeys(folds["protocol"]))
    means = [folds.loc[folds["protocol"] == p, "accuracy"].mean() for p in protocols]
    stds = [folds.loc[folds["protocol"] == p, "accuracy"].std(ddof=0) for p in protocols]
    data.append(dict(type="bar", x=protocols, y=means, name="mean",
                     error_y=dict(type="data", array=stds, visible=True),
                     marker=dict(color=["#ff7f0e" if "window" in p else "#1f77b4"
                                        for p in protocols]),
                     text=[f"mean {m:.1%}" for m in means], textposition="inside",
                     insidetextanchor="start", textfont=dict(color="white"),
                     hovertemplate="%{x}: mean accuracy %{y:.3f}<extra></extra>"))
    data.append(dict(type="scatter", x=folds["protocol"], y=folds["accuracy"], mode="markers",
                     name="folds", marker=dict(color="#222", size=7,
                                               line=dict(width=1, color="white")),
                     text=[f"fold {f}" for f in folds["fold"]],
                     hovertemplate="%{x}, %{text}: %{y:.3f}<extra></extra>"))
    shapes, annotations = [], []
    if chance is not None:
        shapes.append(dict(type="line", x0=-0.5, x1=len(protocols) - 0.5, y0=chance, y1=chance,
                           line=dict(dash="dash", color="#888")))
        annotations.append(dict(text=f"chance {chance:.0%}", x=1, y=chance, xref="paper",
                                yref="y", xanchor="right", yanchor="bottom", showarrow=False,
                                font=dict(size=11, color="#555"), bgcolor="white",
                                name="chance"))
    layout = dict(title=dict(text=title), height=height, margin=margin(title), shapes=shapes,
                  annotations=annotations, showlegend=False,
                  yaxis=dict(range=[0, 1.08], title=dict(text="accuracy"), tickformat=".0%"),
                  xaxis=dict(type="category"))
    return figure(data, layout)


def similarity_by_distance(distance: np.ndarray, similarity: np.ndarray,
                           pairs: Sequence[tuple[str, str]], *, random_spread: float | None = None,
                           title: str | None = None, height: int = 440) -> go.Figure:
    """One dot per pair of electrodes: their identity embeddings' cosine similarity against
    their distance on the scalp (cm), with the band that random vectors would fill (± 2 of
    their spread) shaded. Neighbours that the model treats alike would make the dots fall
    from left to right."""
    d = np.asarray(distance, float) * 100
    s = np.asarray(similarity, float)
    data = [dict(type="scatter", x=d, y=s, mode="markers", name="pairs",
                 text=[f"{plain(a)}–{plain(b)}" for a, b in pairs],
                 marker=dict(size=5, color="#1f77b4", opacity=0.6),
                 hovertemplate="%{text}: %{x:.1f} cm apart, cosine %{y:.2f}<extra></extra>")]
    shapes, annotations = [], []
    if random_spread:
        w = 2 * random_spread
        shapes.append(dict(type="rect", x0=0, x1=1, xref="paper", y0=-w, y1=w, yref="y",
                           fillcolor="rgba(128,128,128,0.15)", line=dict(width=0),
                           layer="below"))
        annotations.append(dict(text="where random vectors would fall", x=1, y=w, xref="paper",
                                yref="y", xanchor="right", yanchor="bottom", showarrow=False,
                                font=dict(size=11, color="#555"), bgcolor="rgba(255,255,255,0.8)",
                                name="random"))
    if len(d) > 1:  # a straight-line fit, to show the trend (or its absence)
        slope, icept = np.polyfit(d, s, 1)
        xs = np.array([d.min(), d.max()])
        data.append(dict(type="scatter", x=xs, y=slope * xs + icept, mode="lines", name="trend",
                         line=dict(color="#d62728", width=2),
                         hovertemplate="straight-line fit<extra></extra>"))
    layout = dict(title=dict(text=title), height=height, margin=margin(title), shapes=shapes,
                  annotations=annotations, showlegend=False, plot_bgcolor="white",
                  xaxis=dict(title=dict(text="distance on the scalp (cm)"), showgrid=True,
                             gridcolor="#eee"),
                  yaxis=dict(title=dict(text="cosine similarity"), range=[-1, 1],
                             zeroline=True, zerolinecolor="#bbb", showgrid=True, gridcolor="#eee"))
    return figure(data, layout)
