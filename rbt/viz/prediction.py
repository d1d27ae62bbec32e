"""Prediction figures: class probabilities, confusion matrix, accuracy per trial."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ._base import colorscale, figure, margin

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
                       height: int | None = None) -> go.Figure:
    """Subjects x trials heatmap of the fraction of each trial's windows predicted right.

    ``frame`` has one row per window with columns subject, trial and correct (bool).
    """
    acc = frame.groupby(["subject", "trial"])["correct"].agg(["mean", "size"]).reset_index()
    grid = acc.pivot(index="subject", columns="trial", values="mean")
    size = acc.pivot(index="subject", columns="trial", values="size")
    trace = dict(
        type="heatmap", z=grid.to_numpy(dtype=float), x=[str(t) for t in grid.columns],
        y=[str(s) for s in grid.index], customdata=size.to_numpy(dtype=float), zmin=0, zmax=1,
        colorscale=colorscale("RdYlGn"), name="accuracy",
        hovertemplate="subject %{y}, trial %{x}<br>accuracy %{z:.2f} of %{customdata} "
                      "windows<extra></extra>",
        colorbar=dict(title=dict(text="accuracy"), thickness=12))
    layout = dict(title=dict(text=title), height=height or 140 + 22 * len(grid),
                  margin=margin(title), xaxis=dict(title=dict(text="trial"), type="category"),
                  yaxis=dict(title=dict(text="subject"), type="category", autorange="reversed"))
    return figure([trace], layout)
