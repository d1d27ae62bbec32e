"""Choosing windows in the dashboard: filters of the predictions table, the group of each
window and seeded samples of groups (their means and differences are
:func:`rbt.explain.compare_groups`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def filter_frame(frame: pd.DataFrame, subjects: Sequence[str] = (),
                 classes: Sequence[str] = (), outcome: str = "all",
                 class_column: str = "true") -> pd.DataFrame:
    """Rows of the given subjects and classes (empty: all); outcome "all", "correct", "wrong"."""
    keep = np.ones(len(frame), bool)
    if subjects:
        keep &= frame["subject"].astype(str).isin([str(s) for s in subjects]).to_numpy()
    if classes and class_column in frame:
        keep &= frame[class_column].isin(list(classes)).to_numpy()
    if outcome != "all":
        if "correct" not in frame:
            raise ValueError("these data have no labels, so no window is correct or wrong")
        keep &= frame["correct"].to_numpy() == (outcome == "correct")
    return frame[keep]


def own_labels_of(fs) -> np.ndarray | None:
    """Each window's label in the data's own classes (annotations, ratings); None if none."""
    if fs.y is None or not fs.class_names:
        return None
    return np.asarray(fs.class_names, dtype=object)[np.asarray(fs.y, dtype=int)].astype(str)


def own_labels(fit) -> np.ndarray | None:
    """Each window's label in the data's own classes (a recording's annotations) when they
    are not the model's classes, so they stay a column, a grouping and a trial's label; None
    otherwise."""
    return None if fit.y is not None else own_labels_of(fit.fs)


def group_labels(fit, pred: np.ndarray | None, by: str) -> np.ndarray:
    """Each window's group: its true class (predicted when unlabelled) or its subject."""
    if by == "subject":
        return fit.table["subject"].astype(str).to_numpy()
    if by != "class":
        raise ValueError(f"group by 'class' or 'subject'; got {by!r}")
    y = fit.y if fit.y is not None else pred
    return np.asarray(fit.class_names, dtype=object)[y].astype(str)


def sample_rows(labels: np.ndarray, groups: Sequence[str], per_group: int,
                seed: int = 0) -> tuple[int, ...]:
    """Up to ``per_group`` windows of each group, drawn with a fixed seed (sorted indices)."""
    rng = np.random.default_rng(seed)
    picked = []
    for g in groups:
        idx = np.flatnonzero(labels == g)
        if len(idx) > per_group:
            idx = rng.choice(idx, per_group, replace=False)
        picked.extend(int(i) for i in idx)
    return tuple(sorted(set(picked)))

