"""Selecting windows for the dashboard: per-window prediction tables, filters, subjects,
trials and groups."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..provenance import as_column
from .loading import Fitted


def prediction_frame(fitted: Fitted, probs: np.ndarray, pred: np.ndarray) -> pd.DataFrame:
    """One row per window: where it is, true and predicted class, right or not, probabilities."""
    t = fitted.table
    df = t[["subject", "session", "trial", "window", "start"]].copy()
    names = fitted.class_names
    df["predicted"] = [names[i] for i in pred]
    df["confidence"] = probs.max(axis=1)
    if fitted.y is not None:
        df.insert(5, "true", [names[i] for i in fitted.y])
        df["correct"] = fitted.y == pred
    for i, n in enumerate(names):
        df[f"p_{n}"] = probs[:, i]
    if fitted.in_training is not None:
        df["in_training"] = as_column(fitted.in_training)
    return df


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


def subjects_of(table: pd.DataFrame) -> list[str]:
    return sorted(table["subject"].astype(str).unique(), key=_natural)


def trials_of(table: pd.DataFrame, subject: str) -> list[tuple[int, int]]:
    """(session, trial) pairs of one subject."""
    rows = table[table["subject"].astype(str) == str(subject)]
    return sorted({(int(s), int(t)) for s, t in zip(rows["session"], rows["trial"])})


def trial_rows(table: pd.DataFrame, subject: str, session: int, trial: int) -> np.ndarray:
    """Indices of one trial's windows, in window order."""
    mask = ((table["subject"].astype(str) == str(subject)) & (table["session"] == session)
            & (table["trial"] == trial)).to_numpy()
    idx = np.flatnonzero(mask)
    return idx[np.argsort(table["window"].to_numpy()[idx], kind="stable")]


def _natural(s: str):
    digits = "".join(ch for ch in s if ch.isdigit())
    return (int(digits) if digits else 0, s)


def group_labels(fitted: Fitted, pred: np.ndarray | None, by: str) -> np.ndarray:
    """Each window's group: its true class (predicted when unlabelled) or its subject."""
    if by == "subject":
        return fitted.table["subject"].astype(str).to_numpy()
    if by != "class":
        raise ValueError(f"group by 'class' or 'subject'; got {by!r}")
    y = fitted.y if fitted.y is not None else pred
    return np.asarray(fitted.class_names, dtype=object)[y].astype(str)


def compare_groups(values: np.ndarray, labels: np.ndarray, a: str, b: str):
    """(mean of group a, mean of group b, a - b) over the first axis of ``values``."""
    out = []
    for g in (a, b):
        mask = labels == g
        if not mask.any():
            raise ValueError(f"no windows in group {g!r}")
        out.append(values[mask].mean(axis=0))
    return out[0], out[1], out[0] - out[1]


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
