"""The data's own views, for when the model cannot read the data (other electrodes, bands):
one trial's band power over time and a window's band maps, and the group means of BDE by
the data's labels or by subject. Nothing here needs a model.
"""

from __future__ import annotations

import common
import pandas as pd
import state
import streamlit as st
import trial_parts
from selection import own_labels_of
from serving import plain, plain_message
from trial_sections import bde_caption, choose_window, level_signed

from rbt.montage import UnknownChannelsError


def _maps(draw, what: str) -> bool:
    """Draw maps; when the electrodes have no known positions, say so instead. True if drawn."""
    try:
        draw()
    except (UnknownChannelsError, ValueError) as err:
        st.warning(f"The {what} cannot be drawn on a head: {plain_message(err)}.")
        return False
    return True


def one_trial(loaded) -> None:
    """One trial without a model: its band power over time (click a window to choose it) and
    the chosen window's band maps."""
    from rbt.viz.timeline import band_timeline
    from rbt.viz.topomap import band_topomaps

    fs = loaded.fit.fs
    bands, names = list(fs.bands), list(fs.ch_names)
    st.info(common.DATA_ONLY_NOTE, icon=":material/info:")
    subject, trial, rows, window = choose_window(fs)
    state.selection().show_notes()
    state.sync()
    i = int(rows[window])
    labels = own_labels_of(fs)
    start = int(fs.table["start"].iloc[i])
    label = f", labelled {plain(labels[i])}" if labels is not None else ", without a label"
    st.caption(f"Subject {plain(subject)}, trial {trial[1]}, window {window} (of 0–"
               f"{len(rows) - 1}), starting at sample {start} ({start / fs.sfreq:.1f} s)"
               f"{label}.")
    where = {"subject": subject, "trial": state.trial_text(trial)}
    starts = fs.table["start"].to_numpy()[rows] / fs.sfreq
    power = fs.X[rows].mean(axis=1)
    trial_parts.window_chart(
        band_timeline(starts, power, bands, window_s=fs.params["window"] / fs.sfreq,
                      current=window, labels=None if labels is None else labels[rows],
                      title="This trial's band power, window by window"),
        "band_timeline",
        pd.DataFrame({"window": range(len(rows)), "start_s": starts}
                     | {f"bde_{b}": power[:, k] for k, b in enumerate(bands)}),
        key="fig_timeline", n_windows=len(rows), context=where)
    st.caption("Choose a window on the timeline (click its point) to look at it.")
    st.subheader("Band differential entropy of this window")
    st.caption(bde_caption(fs))
    x = fs.X[i]
    _maps(lambda: common.chart(
        band_topomaps(x, names, bands, colorbar_title="BDE", signed=level_signed(fs),
                      interpolated=fs.interpolated),
        "bde_window",
        common.band_frame(x, names, bands), key="fig_bde", context=where | {"window": window}),
        "band maps")


def group_means(loaded) -> None:
    """Across trials without a model: the windows with their labels, and the mean BDE maps of
    each label (or subject) with the difference of two groups."""
    from rbt.explain import compare_groups
    from rbt.viz.topomap import band_topomaps

    fs = loaded.fit.fs
    bands, names = list(fs.bands), list(fs.ch_names)
    st.info(common.DATA_ONLY_NOTE, icon=":material/info:")
    labels = own_labels_of(fs)
    frame = fs.table[[c for c in ("subject", "session", "trial", "window", "start")
                      if c in fs.table]].copy()
    if labels is not None:
        frame["label"] = labels
    st.subheader("Windows")
    st.dataframe(frame, hide_index=True, height=240)
    st.caption(f"{len(frame):,} windows of {fs.table['subject'].nunique()} subject(s)"
               + ("" if labels is not None else "; the data have no labels") + ".")
    st.subheader("Mean band differential entropy per group")
    options = (["label"] if labels is not None else []) + ["subject"]
    by = st.radio("Group by", options, key="x_data_by", horizontal=True,
                  format_func=lambda o: "the data's labels" if o == "label" else "subject")
    groups = labels if by == "label" else fs.table["subject"].astype(str).to_numpy()
    found = sorted(set(groups))
    if len(found) < 2:
        st.info(f"These data have one {by} only ({plain(found[0])}): its mean is shown, with "
                "no difference.")
        mean = fs.X.mean(axis=0)
        _maps(lambda: common.chart(band_topomaps(mean, names, bands, colorbar_title="BDE",
                                                 signed=level_signed(fs),
                                                 interpolated=fs.interpolated),
                                   "bde_mean", common.band_frame(mean, names, bands),
                                   key="fig_data_mean", context={by: found[0]}), "band maps")
        return
    g1, g2 = st.columns(2)
    a = g1.selectbox("Group A", found, key="x_data_a")
    b = g2.selectbox("Group B", [g for g in found if g != a], key="x_data_b")
    mean_a, mean_b, difference = compare_groups(fs.X, groups, a, b)
    for part, name, values in (("mean_a", a, mean_a), ("mean_b", b, mean_b),
                               ("difference", f"{a} − {b}", difference)):
        what = "difference of the means" if part == "difference" else "mean"
        st.markdown(f"**{plain(name)}** ({what} BDE)")
        _maps(lambda v=values, n=name, p=part: common.chart(
            band_topomaps(v, names, bands, colorbar_title="difference" if p == "difference"
                          else "BDE", signed=True if p == "difference" else level_signed(fs),
                          interpolated=fs.interpolated),
            f"bde_{p}", common.band_frame(v, names, bands), key=f"fig_data_{p}",
            context={by: n}), "band maps")
