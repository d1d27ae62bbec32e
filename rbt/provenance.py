"""Which trials a model was trained on, so that scores on them are not mistaken for held-out ones.

A checkpoint's metadata keeps one small fingerprint per training trial: two fixed random
projections of the trial's first window of BDE features. Features of the same trial computed
again with the same preprocessing give the same two numbers (to float rounding); different
trials practically never do. Nothing of the data itself is stored.
"""

from __future__ import annotations

import numpy as np

KEY = "training_trials"
_TOLERANCE = 1e-4  # relative; recomputed features agree to about 1e-7


def _first_windows(fs) -> tuple[np.ndarray, np.ndarray]:
    """(the first window's row of each trial, the trial number of every row)."""
    table = fs.table
    keys = (table["subject"].astype(str) + "/" + table["session"].astype(str) + "/"
            + table["trial"].astype(str)).to_numpy()
    _, trial_of_row = np.unique(keys, return_inverse=True)
    order = np.lexsort((table["window"].to_numpy(), trial_of_row))
    trials = trial_of_row[order]
    return order[np.r_[True, trials[1:] != trials[:-1]][: len(order)]], trial_of_row


def _project(X: np.ndarray) -> np.ndarray:
    flat = X.reshape(len(X), -1).astype(np.float64)
    weights = np.random.default_rng(0).standard_normal((flat.shape[1], 2))
    return flat @ weights


def fingerprints(fs, rows: np.ndarray | None = None) -> list[list[float]]:
    """One ``[a, b]`` pair per trial that has a window among ``rows`` (default: every trial),
    taken from the trial's first window whether or not that window is among ``rows``."""
    first, trial_of_row = _first_windows(fs)
    if rows is not None:
        first = first[np.isin(trial_of_row[first], trial_of_row[np.asarray(rows)])]
    return _project(fs.X[first]).round(9).tolist()


def seen_in_training(metadata: dict | None, fs, X: np.ndarray | None = None) -> np.ndarray | None:
    """Per window: was its trial in the model's training data? None when the checkpoint does not
    say (official checkpoints, older rbt ones). ``X`` is the features in the model's electrode
    order when they were reordered (see :func:`rbt.checkpoint.align_features`)."""
    known = (metadata or {}).get(KEY)
    if known is None:
        return None
    first, trial_of_row = _first_windows(fs)
    if not len(first):
        return np.zeros(0, bool)
    X = fs.X if X is None else X
    mine = _project(X[first])
    known = np.asarray(known, dtype=np.float64).reshape(-1, 2)
    seen = np.zeros(len(mine), bool)
    for s in range(0, len(mine), 2048):  # (trials x known) comparisons, in bounded chunks
        part = mine[s: s + 2048, None, :]
        close = np.abs(part - known[None]) <= _TOLERANCE * (1 + np.abs(known[None]))
        seen[s: s + 2048] = close.all(axis=2).any(axis=1)
    trial_seen = np.zeros(trial_of_row.max() + 1, bool)
    trial_seen[trial_of_row[first]] = seen
    return trial_seen[trial_of_row]


def training_note(seen: np.ndarray | None, correct: np.ndarray | None = None) -> str | None:
    """A sentence for users when some windows were training data (with accuracy on the rest)."""
    if seen is None or not seen.any():
        return None
    n, k = len(seen), int(seen.sum())
    if k == n:
        text = (f"all {n} windows come from trials this model was trained on, so the accuracy "
                "here is training accuracy, not a held-out score (see its metrics.json for "
                "cross-validated scores)")
    else:
        text = (f"{k} of {n} windows come from trials this model was trained on; their "
                "accuracy is not a held-out score")
        if correct is not None:
            text += (f" (accuracy on them {correct[seen].mean():.3f}, on the other "
                     f"{n - k} windows {correct[~seen].mean():.3f})")
    return text
