"""Prediction figures: class probabilities, confusion matrix, accuracy per trial."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ._base import colorscale, figure, margin, plain

CORRECT, WRONG, NEUTRAL, OTHER = "#2ca02c", "#d62728", "#1f77b4", "#c7c7c7"


def probability_bar(probs, class_names: Sequence[str], *, true: int | None = None,
                    title: str | None = None, height: int | None = None) -> go.Figure:
    """Horizontal bars of the class probabilities. The predicted class is green when it is the
    true class, red when it is not, blue when the true class is unknown; "(true)" marks it."""
    p = np.asarray(probs, dtype=float)
    if p.shape != (len(class_names),):
        raise ValueError(f"expected {len(class_names)} probabilities; got shape {p.shape}")
    pred = int(p.argmax())
    colour = NEUTRAL if true is None else CORRECT if pred == true else WRONG
    labels = [f"{c} (true)" if i == true else str(c) for i, c in enumerate(class_names)]
    trace = dict(type="bar", x=p, y=labels, orientation="h", name="probability",
                 marker=dict(color=[colour if i == pred else OTHER for i in range(len(p))]),
                 text=[f"{v:.2f}" for v in p], textposition="auto",
                 hovertemplate="%{y}: %{x:.4f}<extra></extra>")
    layout = dict(title=dict(text=title), height=height or 90 + 32 * len(p), showlegend=False,
                  xaxis=dict(range=[0, 1], title=dict(text="probability")),
                  yaxis=dict(autorange="reversed", type="category"), margin=margin(title))
    return figure([trace], layout)


def confusion_matrix_figure(y_true, y_pred, class_names: Sequence[str], *,
                            normalize: bool = False, title: str | None = None,
                            height: int = 380) -> go.Figure:
    """Counts (or row-normalised rates) of true class (rows) against predicted class (columns)."""
    k = len(class_names)
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    counts = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    z = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    text = [[f"{z[i, j]:.2f} ({counts[i, j]})" if normalize else str(counts[i, j])
             for j in range(k)] for i in range(k)]
    names = [str(c) for c in class_names]
    trace = dict(type="heatmap", z=z, x=names, y=names, text=text, texttemplate="%{text}",
                 colorscale=colorscale("Blues"), name="confusion",
                 hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>")
    layout = dict(title=dict(text=title), height=height, margin=margin(title),
                  xaxis=dict(title=dict(text="predicted"), type="category"),
                  yaxis=dict(title=dict(text="true"), autorange="reversed", type="category"))
    return figure([trace], layout)


def accuracy_per_trial(frame: pd.DataFrame, *, title: str | None = None,
                       height: int = 300) -> go.Figure:
    """The fraction of each trial's windows predicted right: one bar per trial.

    ``frame`` has one row per window with columns subject, trial and correct (bool), and
    optionally session. The x axis is categorical with "subject/trial" labels
    ("subject/session/trial" when there are several sessions), so a filtered selection shows
    which trials it holds rather than looking like a contiguous run; dotted lines separate the
    subjects. The colour bar has a fixed length, so it stays readable with a single subject.
    """
    keys = ["subject"] + (["session"] if "session" in frame and frame["session"].nunique() > 1
                          else []) + ["trial"]
    acc = frame.groupby(keys, sort=True)["correct"].agg(["mean", "size"]).reset_index()
    where = acc[keys].astype(str)
    labels = ["/".join(row) for row in where.itertuples(index=False)]
    text = [", ".join(f"{k} {plain(v)}" for k, v in zip(keys, row))
            for row in where.itertuples(index=False)]
    trace = dict(
        type="bar", x=labels, y=acc["mean"].to_numpy(dtype=float), name="accuracy",
        customdata=np.column_stack([acc["size"].to_numpy(), text]).tolist(),
        hovertemplate="%{customdata[1]}<br>accuracy %{y:.2f} of %{customdata[0]} "
                      "windows<extra></extra>",
        marker=dict(color=acc["mean"].to_numpy(dtype=float), cmin=0, cmax=1,
                    colorscale=colorscale("RdYlGn"), line=dict(width=0),
                    colorbar=dict(title=dict(text="accuracy"), thickness=12, lenmode="pixels",
                                  len=min(180, height - 80), tickformat=".0%")))
    subjects = where["subject"].to_numpy()
    cuts = [i - 0.5 for i in range(1, len(labels)) if subjects[i] != subjects[i - 1]]
    shapes = [dict(type="line", x0=c, x1=c, y0=0, y1=1, yref="paper", xref="x",
                   line=dict(color="#999", width=1, dash="dot")) for c in cuts]
    axis = "/".join(keys)
    layout = dict(title=dict(text=title), height=height, margin=margin(title, bottom=10),
                  showlegend=False, shapes=shapes, bargap=0.15,
                  xaxis=dict(title=dict(text=axis), type="category"),
                  yaxis=dict(title=dict(text="accuracy"), range=[0, 1.02], tickformat=".0%"))
    return figure([trace], layout)
