"""Reading back the predictions ``rbt predict --out file.csv`` wrote, aligned to a
:class:`~rbt.model_fit.DataFit`'s windows, so that a whole dataset's predictions computed once
(or elsewhere, on a GPU machine) need not be computed again."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: the columns that name a window in both the file and a fit's table
WINDOW_COLUMNS = ("subject", "session", "trial", "window")


def read_predictions(source, fit) -> tuple[np.ndarray, np.ndarray]:
    """(probs, pred) of every window of ``fit`` from a predictions CSV (a path or a file
    object), in the fit's window order and the model's class order. A ValueError names what
    does not match: a column, a class, or windows the file lacks."""
    name = getattr(source, "name", source)
    try:
        frame = pd.read_csv(source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{name}: not a predictions CSV written by rbt predict ({err})") from None
    want = [f"p_{c}" for c in fit.class_names]
    missing = [c for c in (*WINDOW_COLUMNS, *want) if c not in frame]
    if missing:
        have = [c for c in frame.columns if str(c).startswith("p_")]
        raise ValueError(f"{name}: expected the columns rbt predict writes "
                         f"({', '.join((*WINDOW_COLUMNS, *want))}); missing "
                         f"{', '.join(missing)}" + (f" (its classes: {', '.join(have)}; "
                                                    "another model's predictions?)" if have
                                                    else "") +
                         ". Run rbt predict with this model on these data.")
    frame = frame.copy()
    frame["subject"] = frame["subject"].astype(str).str.removeprefix("'")
    table = fit.table.reset_index(drop=True)
    keys = pd.MultiIndex.from_frame(table[list(WINDOW_COLUMNS)].astype(
        {"subject": str, "session": int, "trial": int, "window": int}))
    found = pd.MultiIndex.from_frame(frame[list(WINDOW_COLUMNS)].astype(
        {"subject": str, "session": int, "trial": int, "window": int}))
    if found.has_duplicates:
        raise ValueError(f"{name}: some windows appear twice; use the file rbt predict wrote")
    where = found.get_indexer(keys)
    if (where < 0).any():
        lost = table[where < 0].iloc[0]
        raise ValueError(f"{name}: has no prediction for {(where < 0).sum():,} of the "
                         f"{len(table):,} windows (the first: subject {lost['subject']}, "
                         f"session {lost['session']}, trial {lost['trial']}, window "
                         f"{lost['window']}); these predictions are of other data or "
                         "another window and stride. Run rbt predict on these data.")
    probs = frame[want].to_numpy(np.float32)[where]
    if not np.isfinite(probs).all():
        raise ValueError(f"{name}: some probabilities are not numbers")
    return probs, probs.argmax(axis=1).astype(np.int64)
