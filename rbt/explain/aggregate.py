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


#: windows summed at once by :func:`_sums_by_code` (its indicator matrix is at most
#: this many windows by as many groups)
SUM_CHUNK = 1024


def _sums_by_code(v: np.ndarray, code: np.ndarray, n: int) -> np.ndarray:
    """``(n, ...)`` float64 sums of the windows of ``v`` with each ``code`` in ``[0, n)``.

    One matrix product with the groups' indicator matrix per chunk of windows: no sorted copy
    of ``v`` and no loop over groups (numpy has no grouped sum; ``np.add.at`` is many times
    slower). A chunk is summed in ``v``'s own floating precision (float16 in float32) and
    added up in float64.
    """
    flat = v.reshape(len(v), -1)
    # float16 (attention as rbt predict stores it) is summed in float32, integers in float64
    dtype = (flat.dtype if flat.dtype in (np.float32, np.float64) else
             np.float32 if flat.dtype == np.float16 else np.float64)
    out = np.zeros((n, flat.shape[1]), np.float64)
    for s in range(0, len(flat), SUM_CHUNK):
        c = code[s: s + SUM_CHUNK]
        x = flat[s: s + SUM_CHUNK].astype(dtype, copy=False)
        if not np.isfinite(x).all():  # in the product 0 * nan would reach every group
            np.add.at(out, c, x)
            continue
        indicator = np.zeros((n, len(c)), dtype)
        indicator[c, np.arange(len(c))] = 1
        out += indicator @ x
    return out.reshape((n,) + v.shape[1:])


class GroupSums:
    """Running sums of per-window arrays per group, for several groupings at once.

    Each window has one key, a tuple with its group in every grouping (say its true class,
    subject and own label), named by ``groupings``. Sums are kept per key (float64), so the
    sums of any one grouping are those of its keys added up: one pass over the windows serves
    every grouping, and :meth:`mean` any array of it, without another pass.
    """

    def __init__(self, groupings):
        self.groupings = tuple(groupings)
        self._sums: dict[tuple, dict[str, np.ndarray]] = {}
        self._counts: dict[tuple, int] = {}

    def add(self, keys, **values) -> None:
        """Add windows: ``keys[i]`` is window ``i``'s tuple of groups, each of ``values`` an
        array ``(windows, ...)``."""
        keys = [tuple(k) for k in keys]
        for name, v in values.items():
            if len(v) != len(keys):
                raise ValueError(f"{name} has {len(v)} windows and keys {len(keys)}")
        if any(len(k) != len(self.groupings) for k in keys):
            raise ValueError(f"each key names a group in each of {', '.join(self.groupings)}")
        if not keys:
            return
        index: dict[tuple, int] = {}
        code = np.fromiter((index.setdefault(k, len(index)) for k in keys), np.int64, len(keys))
        uniq = list(index)
        for name, v in values.items():
            for key, total in zip(uniq, _sums_by_code(np.asarray(v), code, len(uniq))):
                held = self._sums.setdefault(key, {})
                held[name] = total if name not in held else held[name] + total
        for key, n in zip(uniq, np.bincount(code, minlength=len(uniq))):
            self._counts[key] = self._counts.get(key, 0) + int(n)

    def _axis(self, by: str) -> int:
        if by not in self.groupings:
            raise ValueError(f"group by one of {', '.join(self.groupings)}; got {by!r}")
        return self.groupings.index(by)

    def counts(self, by: str) -> dict:
        """Group -> its number of windows, in the order groups were first met."""
        axis, out = self._axis(by), {}
        for k, n in self._counts.items():
            out[k[axis]] = out.get(k[axis], 0) + n
        return out

    def total(self, by: str, group, name: str) -> np.ndarray:
        """The sum of ``name`` over the windows of ``group`` (in grouping ``by``)."""
        axis = self._axis(by)
        parts = [s[name] for k, s in self._sums.items() if k[axis] == group]
        if not parts:
            raise ValueError(f"no windows in group {group!r} of {by}; groups: "
                             f"{', '.join(map(str, self.counts(by)))}")
        return np.sum(parts, axis=0)

    def mean(self, by: str, group, name: str) -> np.ndarray:
        """The mean of ``name`` over the windows of ``group`` (float64)."""
        return self.total(by, group, name) / self.counts(by)[group]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for s in self._sums.values() for a in s.values())


def group_attention_mean(sums: GroupSums, by: str, group, block="rollout",
                         head="mean") -> np.ndarray:
    """The mean ``(E, E)`` attention map of one group from sums of ``blocks`` (every block and
    head, ``(depth, heads, E, E)``) and ``rollout`` (a window's rollout is not linear in its
    attention, so it is summed on its own): one block and head, their head mean, or the
    rollout (checks and messages as :func:`rbt.explain.select_attention`)."""
    from .attention import select_attention

    blocks = sums.mean(by, group, "blocks")
    if isinstance(block, str):
        select_attention(blocks, block, head)  # the same checks and messages
        return sums.mean(by, group, "rollout").astype(np.float32)
    return select_attention(blocks, block, head).astype(np.float32)
