"""Which trials a model was trained on, so that scores on them are not mistaken for held-out ones.

A checkpoint's metadata keeps one small fingerprint per training trial: the index of the trial's
first window and four fixed random projections of that window's BDE features. Features of the
same trial computed again with the same preprocessing give the same numbers (to float
rounding); different trials practically never do. Nothing of the data itself is stored.

A trial of new data whose first window is not among the fingerprinted first windows (a subset
of windows without window 0, another window length) cannot be checked: its windows are marked
unknown (NaN) rather than "not trained on".
"""

from __future__ import annotations

import numpy as np

KEY = "training_trials"
_N_PROJECTIONS = 4
_TOLERANCE = 1e-4  # relative; recomputed features agree to about 1e-7
_CANDIDATES = 8  # nearest stored fingerprints checked per trial


def _first_windows(fs) -> tuple[np.ndarray, np.ndarray]:
    """(the first window's row of each trial, the trial number of every row)."""
    table = fs.table
    if not len(table):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, trial_of_row = np.unique(fs.trial_keys(), return_inverse=True)
    order = np.lexsort((table["window"].to_numpy(), trial_of_row))
    trials = trial_of_row[order]
    return order[np.r_[True, trials[1:] != trials[:-1]]], trial_of_row


def _project(X: np.ndarray) -> np.ndarray:
    flat = X.reshape(len(X), -1).astype(np.float64)
    weights = np.random.default_rng(0).standard_normal((flat.shape[1], _N_PROJECTIONS))
    return flat @ weights


def fingerprints(fs, rows: np.ndarray | None = None) -> list[list[float]]:
    """``[first window index, p1, p2, p3, p4]`` per trial with a window among ``rows`` (default:
    every trial), from the trial's first window whether or not that window is among ``rows``."""
    first, trial_of_row = _first_windows(fs)
    if rows is not None:
        first = first[np.isin(trial_of_row[first], trial_of_row[np.asarray(rows, dtype=int)])]
    if not len(first):
        return []
    windows = fs.table["window"].to_numpy()[first]
    return [[int(w), *(float(f"{v:.8g}") for v in p)]
            for w, p in zip(windows, _project(fs.X[first]))]


def seen_in_training(known, fs, X: np.ndarray | None = None) -> np.ndarray | None:
    """Per window: 1.0 if its trial was in the model's training data, 0.0 if not, NaN if it
    cannot be told (see the module notes). ``known`` is a model card's ``training_trials``;
    None (official checkpoints, older rbt ones) gives None. ``X`` is the features in the
    model's electrode order when they were reordered (see :func:`rbt.model_fit.fit_data`)."""
    if known is None:
        return None
    try:
        known = np.asarray(known, dtype=np.float64).reshape(len(known), 1 + _N_PROJECTIONS)
    except (TypeError, ValueError):  # absent, or written in another layout: cannot tell
        return None
    if not np.isfinite(known).all():  # rbt.model_card refuses these; a list may come from anywhere
        return None
    first, trial_of_row = _first_windows(fs)
    if not len(first):
        return np.zeros(0, np.float32)
    X = fs.X if X is None else X
    mine = _project(X[first])
    seen = _matches(mine, known[:, 1:])
    checkable = np.isin(fs.table["window"].to_numpy()[first], known[:, 0])
    seen[~checkable] = np.nan
    per_trial = np.zeros(trial_of_row.max() + 1)
    per_trial[trial_of_row[first]] = seen
    return per_trial[trial_of_row].astype(np.float32)


def _matches(mine: np.ndarray, known: np.ndarray) -> np.ndarray:
    """1.0 where a row of ``mine`` equals some row of ``known`` within the relative tolerance.

    A k-d tree finds the nearest few candidates, so time and memory grow with trials + known, not
    trials x known (a checkpoint may fingerprint 200,000 trials). Within the tolerance,
    ``|a - b| <= tol (1 + |b|)`` implies ``|a - b| <= tol (1 + |a|) / (1 - tol)``: a Chebyshev
    ball of that radius around ``a`` holds every match, and each candidate is then checked."""
    from scipy.spatial import cKDTree

    seen = np.zeros(len(mine))
    if not len(known) or not len(mine):
        return seen
    radius = _TOLERANCE * (1 + np.abs(mine).max(axis=1)) / (1 - _TOLERANCE)
    known = np.unique(known, axis=0)
    k = min(_CANDIDATES, len(known))  # the nearest few: bounded even for piled-up fingerprints
    _, rows = cKDTree(known).query(mine, k=k, p=np.inf, distance_upper_bound=radius.max())
    rows = rows.reshape(len(mine), k)
    for i in np.flatnonzero((rows < len(known)).any(axis=1)):
        b = known[rows[i][rows[i] < len(known)]]
        seen[i] = (np.abs(mine[i] - b) <= _TOLERANCE * (1 + np.abs(b))).all(axis=1).any()
    return seen


def training_note(seen: np.ndarray | None, correct: np.ndarray | None = None,
                  where: str = " (see its metrics.json for cross-validated scores)"
                  ) -> str | None:
    """A sentence for users when some windows were training data (with accuracy on the rest);
    ``where`` points to the held-out scores."""
    if seen is None or not len(seen):
        return None
    yes, unknown = seen == 1, np.isnan(seen)
    n, k, u = len(seen), int(yes.sum()), int(unknown.sum())
    if not k and not u:
        return None
    if k == n:
        text = (f"all {n} windows come from trials this model was trained on, so the accuracy "
                f"here is training accuracy, not a held-out score{where}")
    elif k:
        text = (f"{k} of {n} windows come from trials this model was trained on; their "
                "accuracy is not a held-out score")
        no = ~yes & ~unknown
        if correct is not None and no.any():
            text += (f" (accuracy on them {correct[yes].mean():.3f}, on the "
                     f"{int(no.sum())} windows of other trials {correct[no].mean():.3f})")
    else:
        text = f"{u} of {n} windows could not be checked against the model's training trials"
    if k and u:
        text += f"; {u} windows could not be checked (their trial's first window is missing)"
    return text


def as_column(seen: np.ndarray):
    """``seen`` as a nullable boolean column (True, False or <NA>) for tables and CSV files."""
    import pandas as pd

    out = pd.array(seen == 1, dtype="boolean")
    out[np.isnan(seen)] = pd.NA
    return out
