"""Means of per-window maps over any selection, group-versus-group differences, and group
means of attention streamed over a whole dataset.

Needs neither pandas nor torch to import: tables arrive as DataFrames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def explanation_table(table: pd.DataFrame, y=None, pred=None,
                      class_names: list[str] | None = None) -> pd.DataFrame:
    """A copy of a window table with ``true``, ``predicted`` and ``correct`` columns.

    Classes are given by name when ``class_names`` is given, else by index; ``correct`` is
    only added when both ``y`` and ``pred`` are known.
    """
    out = table.reset_index(drop=True).copy()

    def named(v):
        v = np.asarray(v)
        if len(v) != len(out):
            raise ValueError(f"expected one class per window ({len(out)}); got {len(v)}")
        return [class_names[i] for i in v] if class_names is not None else v

    if y is not None:
        out["true"] = named(y)
    if pred is not None:
        out["predicted"] = named(pred)
    if y is not None and pred is not None:
        out["correct"] = np.asarray(y) == np.asarray(pred)
    return out


def _selection(table: pd.DataFrame, where) -> np.ndarray:
    if where is None:
        return np.ones(len(table), dtype=bool)
    if isinstance(where, dict):
        keep = np.ones(len(table), dtype=bool)
        for col, want in where.items():
            _need(table, col)
            values = want if isinstance(want, list | tuple | set | np.ndarray) else [want]
            keep &= table[col].isin(list(values)).to_numpy()
        return keep
    keep = np.asarray(where)
    if keep.dtype != bool or keep.shape != (len(table),):
        raise ValueError(f"where must be None, a dict of column -> value(s) or a boolean mask "
                         f"of length {len(table)}; got {keep.dtype} of shape {keep.shape}")
    return keep


def _need(table: pd.DataFrame, col) -> None:
    if col not in table.columns:
        raise ValueError(f"no column {col!r}; the table has {', '.join(map(str, table.columns))}")


def aggregate(values, table: pd.DataFrame, by, where=None) -> dict:
    """Mean of ``values`` per group of windows.

    Parameters
    ----------
    values : array, shape (windows, ...)
        Per-window maps, e.g. attributions (windows, E, bands) or attention (windows, E, E).
    table : DataFrame
        One row per window, e.g. :func:`explanation_table`: subject, trial, true, predicted,
        correct...
    by : str or list of str
        Column(s) to group by; with several, the groups are tuples.
    where : None, dict or boolean mask
        Which windows count: ``{"correct": True, "true": "high"}`` (a value or a list of
        values per column) or a mask.

    Returns
    -------
    dict
        group -> mean over its windows, groups in sorted order; empty groups are left out.
    """
    values = np.asarray(values)
    if len(values) != len(table):
        raise ValueError(f"values has {len(values)} windows and the table {len(table)}")
    cols = [by] if isinstance(by, str) else list(by)
    for col in cols:
        _need(table, col)
    keep = _selection(table, where)
    frame = table.reset_index(drop=True)[cols]
    groups = frame[keep].groupby(cols, sort=True).indices
    # pandas gives 1-tuples for a one-element list of keys; unwrap them for a single column
    return {(k[0] if isinstance(k, tuple) and isinstance(by, str) else k):
            values[np.flatnonzero(keep)[idx]].mean(axis=0) for k, idx in groups.items()}


def compare_groups(values, labels, a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean of group a, mean of group b, a - b)`` over the first axis of ``values``.

    ``labels`` gives each window's group (a class, a subject, "correct"...); ``a`` and ``b``
    are two of them. A group without windows is a ValueError that lists the labels present.
    """
    values, labels = np.asarray(values), np.asarray(labels)
    if len(values) != len(labels):
        raise ValueError(f"values has {len(values)} windows and labels {len(labels)}")
    means = []
    for g in (a, b):
        mask = labels == g
        if not mask.any():
            raise ValueError(f"no windows labelled {g!r}; labels present: "
                             f"{', '.join(map(str, np.unique(labels)))}")
        means.append(values[mask].mean(axis=0))
    return means[0], means[1], means[0] - means[1]


def class_difference(values, labels, a, b) -> np.ndarray:
    """``mean(values[labels == a]) - mean(values[labels == b])``: what separates class a from b
    (the last of :func:`compare_groups`)."""
    return compare_groups(values, labels, a, b)[2]
