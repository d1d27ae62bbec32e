"""Long work over many windows behind a progress bar with the time left and a Stop button:
in cached chunks (:func:`run_chunks`, group attributions), or the pass over every window that
runs in the background once per data and model (:func:`pass_result`): the predictions, and the
group sums of BDE and attention serving every block, head and grouping."""

from __future__ import annotations

import time

import common
import serving
import streamlit as st

#: wait up to this long for a pass that looks like finishing by then before drawing its
#: progress (small data are done by then; a large dataset's progress is drawn at once)
FIRST_WAIT_S = 2.0
POLL_S = 1.0  # how often the progress of a pass is redrawn


def grouping(fit, by: str) -> str:
    """The pass's grouping (:func:`common.pass_groups`) for the page's "class", "subject" or
    "label": the class is the true one when the data have the model's labels, else the
    predicted one."""
    from rbt.explain.groups import PREDICTED

    if by == "class":
        return "true" if fit.y is not None else PREDICTED
    return by


def pass_result(loaded, attention: bool, label: str, stop_key: str):
    """The pass over every window (:func:`common.whole_pass`, in the background) when it is
    done; else None, with its progress drawn (redrawn every POLL_S, the page rerun when it is
    done) or, when the user stopped it (``st.session_state[stop_key]``), nothing."""
    if st.session_state.get(stop_key):
        return None
    job = common.whole_pass(*loaded.key, attention=attention)
    end = time.monotonic() + FIRST_WAIT_S  # wait while it looks like finishing by then
    while not job.wait(0.1) and time.monotonic() < end:
        left = job.seconds_left()
        if left is not None and time.monotonic() + left > end:
            break
    if job.finished:
        if job.error is not None:
            raise job.error
        if job.result is not None:
            return job.result
        job = common.whole_pass(*loaded.key, attention=attention)  # stopped elsewhere: again
    _progress(job, label, stop_key)
    if not attention:
        open_predictions(loaded, stop_key)
    return None


def open_predictions(loaded, stop_key: str) -> None:
    """An expander to take every window's predictions from the CSV ``rbt predict`` wrote
    (computed once, or on another machine) instead of waiting for them."""
    with st.expander("Open the predictions `rbt predict` wrote", icon=":material/upload_file:"):
        st.caption("`rbt predict --out predictions.csv` with this model on these data writes "
                   "every window's prediction; opened here, the table is drawn at once.")
        up = st.file_uploader("Predictions (.csv)", type=["csv"], key="x_pred_upload")
        path = serving.typed_path(st, "Or a path on this machine", key="x_pred_path",
                                  placeholder="/data/predictions.csv")
        source = up if up is not None else path
        if source is None:
            return
        try:
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
def _progress(job, label: str, stop_key: str) -> None:
    if job.finished:
        st.rerun()
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
