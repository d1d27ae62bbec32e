"""Reading back the predictions ``rbt predict --out file.csv`` wrote, aligned to a
:class:`~rbt.model_fit.DataFit`'s windows, so that a whole dataset's predictions computed once
(or elsewhere, on a GPU machine) need not be computed again; and the attention
``rbt predict --attention`` wrote beside them (:func:`read_attention`), memory-mapped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

#: the columns that name a window in both the file and a fit's table
WINDOW_COLUMNS = ("subject", "session", "trial", "window")


def read_predictions(source, fit) -> tuple[np.ndarray, np.ndarray]:
    """(probs, pred) of every window of ``fit`` from a predictions CSV (a path or a file
    object), in the fit's window order and the model's class order. A ValueError names what
    does not match: a column, a class, or windows the file lacks."""
    probs, pred, _ = read_predictions_rows(source, fit)
    return probs, pred


def read_predictions_rows(source, fit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`read_predictions` and, for each window of ``fit``, its row in the file (so
    what was written beside it, row for row, can be aligned too)."""
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
    return probs, probs.argmax(axis=1).astype(np.int64), where


def attention_files(csv_path) -> dict[str, Path]:
    """Where ``rbt predict --out OUT.csv --attention`` writes beside the predictions (the
    names of :func:`rbt.cli.predict.attention_paths`): OUT.attention.npy, OUT.rollout.npy
    and OUT.attention.json."""
    path = Path(csv_path)
    stem = path.with_suffix("") if path.suffix else path
    return {k: stem.with_name(f"{stem.name}.{k}.npy") for k in ("attention", "rollout")} | {
        "json": stem.with_name(f"{stem.name}.attention.json")}


def read_attention(csv_path, fit, rows: np.ndarray):
    """``(attention, rollout)`` that ``rbt predict --attention`` wrote beside the predictions
    CSV at ``csv_path``: every block's ``(n, depth, heads, E, E)`` float16 and the rollout
    ``(n, E, E)`` float32 of its ``n`` rows, read on demand (:class:`NpyRows`), in the file's
    row order (``rows``:
    each window's row, from :func:`read_predictions_rows`); None when they are not both
    there (say ``--attention rollout`` only). A ValueError names the file and what does not
    match the model or the predictions."""
    files = attention_files(csv_path)
    if not all(files[k].is_file() for k in files):
        return None
    cfg = fit.model.config
    try:
        record = json.loads(files["json"].read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{files['json']}: not the record rbt predict --attention writes "
                         f"({err})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{files['json']}: expected a JSON object; found "
                         f"{type(record).__name__}")
    if record.get("blocks") != list(range(cfg.depth)):
        return None  # chosen blocks only: not every block's means can be drawn from it
    if list(record.get("electrodes") or []) != list(fit.ch_names):
        raise ValueError(f"{files['json']}: the attention is over other electrodes "
                         f"({', '.join(map(str, record.get('electrodes') or []))}) than the "
                         f"model's ({', '.join(fit.ch_names)})")
    e, n = len(fit.ch_names), record.get("windows")
    if not isinstance(n, int) or (len(rows) and n <= int(rows.max())):
        raise ValueError(f"{files['json']}: the attention of {n} windows, written with other "
                         "predictions than these; run rbt predict --attention again")
    want = {"attention": ((n, cfg.depth, cfg.heads, e, e), np.float16),
            "rollout": ((n, e, e), np.float32)}
    out = []
    for k, (shape, dtype) in want.items():
        a = NpyRows(files[k])
        if a.shape != shape or a.dtype != dtype:
            raise ValueError(f"{files[k]}: expected {np.dtype(dtype).name} of shape {shape} "
                             f"(the predictions' {n:,} windows, this model); found "
                             f"{a.dtype} of shape {a.shape}")
        out.append(a)
    return tuple(out)


class NpyRows:
    """Rows of a ``.npy`` file read on demand (``rows[a:b]`` or an index array): each read
    is a plain file read into new memory, so a pass over a file larger than memory keeps one
    chunk resident (a memory map's pages, once touched, count as the process's).
    numpy's own reader (``np.lib.format``) parses the header; no pickles are read."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            with open(self.path, "rb") as f:
                version = np.lib.format.read_magic(f)
                header = {(1, 0): np.lib.format.read_array_header_1_0,
                          (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if header is None:
                    raise ValueError(f".npy format version {version} is not read here")
                shape, fortran, dtype = header(f)
                self.offset = f.tell()
        except (OSError, ValueError) as err:
            raise ValueError(f"{self.path}: not an array rbt predict wrote ({err})") from None
        if fortran or dtype.hasobject or not shape:
            raise ValueError(f"{self.path}: expected a C-ordered numeric array with rows; "
                             f"found {'Fortran order' if fortran else dtype}")
        self.shape, self.dtype = tuple(shape), dtype
        self.row = int(np.prod(shape[1:], dtype=np.int64))
        if self.path.stat().st_size < self.offset + shape[0] * self.row * dtype.itemsize:
            raise ValueError(f"{self.path}: shorter than its header says (cut off?)")

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, f, start: int, stop: int) -> np.ndarray:
        f.seek(self.offset + start * self.row * self.dtype.itemsize)
        return np.fromfile(f, self.dtype, (stop - start) * self.row).reshape(
            (stop - start,) + self.shape[1:])

    def __getitem__(self, which) -> np.ndarray:
        with open(self.path, "rb") as f:
            if isinstance(which, slice):
                start, stop, step = which.indices(self.shape[0])
                if step != 1:
                    raise ValueError("rows are read in steps of 1")
                return self._read(f, start, max(start, stop))
            rows = np.asarray(which, dtype=np.int64)
            if not len(rows):
                return np.zeros((0,) + self.shape[1:], self.dtype)
            cut = np.flatnonzero(np.diff(rows) != 1) + 1  # runs of consecutive rows
            return np.concatenate([self._read(f, int(r[0]), int(r[-1]) + 1)
                                   for r in np.split(rows, cut)])
