"""Long work over many windows behind a progress bar with the time left and a Stop button:
in cached chunks (:func:`run_chunks`, group attributions), or the one pass over every window
that runs in the background once per data and model (:func:`table_pass`,
:func:`attention_pass`): the predictions, and the group sums of BDE and attention serving
every block, head and grouping. The table is drawn at once, its predictions filling in. And
the test of where two groups' BDE differ (:func:`group_test`), kept per groups."""

from __future__ import annotations

import time
from dataclasses import dataclass

import background
import common
import numpy as np
import pandas as pd
import serving
import streamlit as st

from rbt import infer

#: data this small are waited for (up to SMALL_WAIT_S; a second or two on a CPU), so their
#: page is drawn once, complete; larger data's table is drawn at once, predictions filling in
SMALL_WINDOWS = 5000
SMALL_WAIT_S = 15.0
POLL_S = 1.0  # how often the progress of a pass is redrawn
#: how often the page is drawn again while the pass goes on, so the table's predictions fill
#: in (the whole page: a large table costs a second or so to send and draw)
TABLE_REFRESH_S = 15.0
#: the table's columns that come from the predictions (blank until a window is predicted)
PREDICTED_COLUMNS = ("predicted", "confidence", "correct")


def grouping(fit, by: str) -> str:
    """The pass's grouping (:func:`common.pass_groups`) for the page's "class", "subject" or
    "label": the class is the true one when the data have the model's labels, else the
    predicted one."""
    from rbt.explain.groups import PREDICTED

    if by == "class":
        return "true" if fit.y is not None else PREDICTED
    return by


@dataclass
class PassState:
    """Where the predictions of every window stand for the table."""

    result: object | None  # the GroupPass (or a file's predictions) when done
    probs: np.ndarray | None  # while it runs: the probabilities, the first ``done`` rows filled
    done: int = 0
    stopped: bool = False  # the user stopped it


def _settled(job, windows: int):
    """``job`` after waiting for it when the data are small (``windows`` at most
    :data:`SMALL_WINDOWS`); a job that was stopped in another session is started again."""
    if windows <= SMALL_WINDOWS:
        job.wait(SMALL_WAIT_S)
    if job.finished:
        if job.error is not None:
            raise job.error
        if job.result is None:  # stopped elsewhere: again
            return common.whole_pass(*job.key[1:-1])
    return job


def table_pass(loaded, label: str, stop_key: str) -> PassState:
    """The predictions for the table: read from a file, or the one pass over every window
    (:func:`common.whole_pass`, in the background). While the pass runs its progress is
    drawn (redrawn every POLL_S; the page is drawn again when it is done and every
    TABLE_REFRESH_S) with the predictions so far; after the user stopped it
    (``st.session_state[stop_key]``), none."""
    if st.session_state.get(stop_key):  # a file's predictions, or the pass done before Stop
        kept = next((r for r in (background.RESULTS.get(("pass", *loaded.key, last))
                                 for last in (False, True)) if r is not None), None)
        return PassState(kept, None, stopped=kept is None)
    job = _settled(common.whole_pass(*loaded.key, attention=False), len(loaded.fit.X))
    if job.finished and job.result is not None:
        return PassState(job.result, None, job.total)
    _progress(job, label, stop_key, time.monotonic())
    open_predictions(loaded, stop_key)
    return PassState(None, job.partial, job.done)


def attention_pass(loaded, label: str, stop_key: str, drawn: bool):
    """The one pass's result (its attention sums) when done; else None, with its progress
    drawn unless the table's already is (``drawn``)."""
    if st.session_state.get(stop_key):
        return background.RESULTS.get(("pass", *loaded.key, True))
    job = _settled(common.whole_pass(*loaded.key), len(loaded.fit.X))
    if job.finished and job.result is not None:
        return job.result
    if not drawn:
        _progress(job, label, stop_key, None)
    return None


def table_so_far(loaded, state: PassState) -> pd.DataFrame:
    """The predictions table while the pass goes on: where each window is and its true class
    at once, its prediction for the windows predicted so far and blank for the others."""
    f = loaded.fit
    n_classes = len(f.class_names)
    probs = state.probs if state.probs is not None else np.zeros((len(f.X), n_classes),
                                                                 np.float32)
    frame = infer.prediction_table(f, probs, probs.argmax(axis=1))
    known = np.arange(len(frame)) < state.done
    for c in [*PREDICTED_COLUMNS, *(f"p_{n}" for n in f.class_names)]:
        if c == "correct" and c in frame:
            frame[c] = frame[c].astype("boolean").where(known, pd.NA)
        elif c in frame:
            frame[c] = frame[c].where(known, None if c == "predicted" else np.nan)
    return frame


def open_predictions(loaded, stop_key: str) -> None:
    """An expander to take every window's predictions from the CSV ``rbt predict`` wrote
    (computed once, or on another machine) instead of waiting for them."""
    with st.expander("Open the predictions `rbt predict` wrote", icon=":material/upload_file:"):
        st.caption("`rbt predict --out predictions.csv` with this model on these data writes "
                   "every window's prediction; opened here, the table is drawn at once. "
                   "Written with `--attention` (every block and the rollout, its default) "
                   "and opened by its path, the attention beside it gives the attention "
                   "means at once too, with no pass over the windows here.")
        up = st.file_uploader("Predictions (.csv)", type=["csv"], key="x_pred_upload")
        path = serving.typed_path(st, "Or a path on this machine", key="x_pred_path",
                                  placeholder="/data/predictions.csv")
        source = up if up is not None else path
        if source is None:
            return
        try:
            with st.spinner("Reading the predictions"
                            + ("" if up is not None else " and any attention beside them")
                            + "…"):
                common.predictions_from_file(*loaded.key, source)
        except (ValueError, OSError) as err:
            st.error(f"These predictions could not be used: {serving.plain_message(err)}")
            return
        st.session_state.pop(stop_key, None)  # stopped computing them: these replace them
        st.rerun()


def _stop(job, stop_key: str) -> None:
    job.stop()
    st.session_state[stop_key] = True


@st.fragment(run_every=POLL_S)
def _progress(job, label: str, stop_key: str, drawn_at: float | None) -> None:
    if job.finished or (drawn_at is not None and job.done < job.total
                        and time.monotonic() - drawn_at > TABLE_REFRESH_S):
        st.rerun()  # the whole page: the pass is done, or the table fills in
    left = job.seconds_left()
    st.progress(job.fraction, text=f"{label}: {job.done:,} of {job.total or 0:,} windows"
                + ("" if left is None else f", about {left:.0f} s left")
                + ". It goes on in the background if you leave the page.")
    st.button("Stop", key=f"{stop_key}_button", icon=":material/stop_circle:",
              on_click=_stop, args=(job, stop_key))


def run_chunks(chunks, compute, label: str, sizes, stop_key: str):
    """``compute(chunk)`` for each chunk (each cached, so a second run is instant), behind a
    progress bar with the time left and a Stop button; the list of results, or None when
    the user stopped (``st.session_state[stop_key]`` is then set, and the chunks done are
    kept for the next try)."""
    if st.session_state.get(stop_key):
        return None
    total = sum(sizes)
    if len(chunks) == 1:
        with st.spinner(f"{label}…"):
            return [compute(chunks[0])]
    box = st.empty()
    with box.container():
        bar = st.progress(0.0, text=f"{label}…")
        st.button("Stop", key=f"{stop_key}_button", icon=":material/stop_circle:",
                  on_click=lambda: st.session_state.update({stop_key: True}))
    found, done, start = [], 0, time.monotonic()
    for chunk, size in zip(chunks, sizes):
        found.append(compute(chunk))
        done += size
        left = (time.monotonic() - start) / done * (total - done)
        bar.progress(done / total, text=f"{label}: {done:,} of {total:,} windows, about "
                                        f"{left:.0f} s left")
    box.empty()
    return found


@st.cache_data(show_spinner=False, max_entries=64)
def group_test(choice, model_path, stamp, grouping: str, a: str, b: str, within: bool):
    """Where group ``a``'s BDE differs from ``b``'s beyond chance, on trial means
    (:func:`rbt.stats.group_difference`; ``grouping`` one of :func:`common.pass_groups`); kept per
    data, model, grouping, groups and design."""
    from rbt.stats import group_difference

    f = common.fit_resource(choice, model_path, stamp)
    return group_difference(f.X, f.table, common.pass_groups(f)[grouping], a, b, f.ch_names,
                            f.band_names, within_subject=within)


@st.cache_data(show_spinner=False, max_entries=64)
def attribution_test(key, rows: tuple[int, ...], method: str, baseline: str, grouping: str,
                     a: str, b: str, within: bool, _values):
    """:func:`group_test` on the attributions ``_values`` (windows ``rows``, each band and
    their total) of one method and baseline; kept per those (``_values`` follows from them)."""
    from rbt.stats import group_difference

    f = common.fit_resource(*key[:3])
    picked = list(rows)
    values = np.concatenate([_values, _values.sum(axis=-1, keepdims=True)], axis=-1)
    return group_difference(values, f.table.iloc[picked].reset_index(drop=True),
                            common.pass_groups(f)[grouping][picked], a, b, f.ch_names,
                            [*f.band_names, "total"], within_subject=within)
