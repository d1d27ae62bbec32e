"""Long work over many windows, in cached chunks behind a progress bar with the time left
and a Stop button (:func:`run_chunks`): the group attention of every window, one pass of the
model per chunk serving every block, head and grouping (:func:`group_attention`)."""

from __future__ import annotations

import time

import common
import numpy as np
import streamlit as st
from selection import group_labels, own_labels_of

ATTENTION_CHUNK = 1024  # windows per cached pass of the group attention: the progress step
GROUPINGS = ("class", "subject", "label")
_SEP = "\x1f"  # joins a window's groups into one key (no label contains it)


def window_groups(fit, pred, by: str) -> np.ndarray:
    """Each window's group: its class (true, else predicted), subject or own label ("" when
    the data have no labels of their own)."""
    if by == "label":
        own = own_labels_of(fit.fs)
        return np.full(len(fit.fs), "", dtype=object) if own is None else own
    return group_labels(fit, pred, by)


@st.cache_data(show_spinner=False, max_entries=512)
def attention_chunk(choice, model_path, stamp, device, start: int, stop: int) -> dict:
    """The attention sums (:class:`rbt.infer.AttentionSum`) of windows ``start:stop`` per
    combination of their class, subject and own label: one pass of the model that serves
    every block, head and grouping."""
    from rbt.infer import attention_sums

    f = common.fit_resource(choice, model_path, stamp)
    pred = None if f.y is not None else common.predictions(choice, model_path, stamp, device)[1]
    keys = [_SEP.join(map(str, k)) for k in zip(
        *(window_groups(f, pred, g)[start:stop] for g in GROUPINGS))]
    return attention_sums(common.device_model(model_path, stamp, device), f.X[start:stop], keys,
                          device=device)


def group_attention(loaded, by: str, stop_key: str) -> dict | None:
    """Group -> :class:`rbt.infer.AttentionSum` over every window, grouped ``by`` "class",
    "subject" or "label", computed chunk by chunk behind a progress bar (None: stopped)."""
    n = len(loaded.fit.X)
    starts = list(range(0, n, ATTENTION_CHUNK))
    parts = run_chunks(
        [(s, min(s + ATTENTION_CHUNK, n)) for s in starts],
        lambda c: attention_chunk(*loaded.key, *c), f"Averaging attention over {n:,} windows",
        [c - s for s, c in zip(starts, starts[1:] + [n])], stop_key)
    if parts is None:
        return None
    which = GROUPINGS.index(by)
    out: dict = {}
    for part in parts:
        for key, total in part.items():
            g = key.split(_SEP)[which]
            out[g] = out[g] + total if g in out else total
    return out


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
