"""One trial's window sections, each a fragment: a widget reruns only its own section.

:func:`window_views` (the map options, BDE maps, attention and attributions of one window)
reruns alone when a map option changes or an electrode is chosen on its BDE maps; inside it,
:func:`attention_section` reruns alone for a block, head, line or electrode change and
:func:`attribution_section` for a method, baseline or target change. The window itself (the
slider, the timeline) reruns One trial's whole body (``trial_body``, a fragment too, so not
the sidebar): every section shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import common
import numpy as np
import pandas as pd
import prefetch
import state
import streamlit as st
import trial_parts
from serving import plain_message

from rbt.data.demo import planted_electrodes
from rbt.data.features import REST_BASELINE_SOURCES


@dataclass(frozen=True)
class Shown:
    """The window that One trial shows: the loaded data and model, the trial's rows and the
    window's position in it."""

    loaded: common.Loaded
    subject: str
    trial: tuple
    rows: tuple[int, ...]
    window: int

    @property
    def fit(self):
        return self.loaded.fit

    @property
    def row(self) -> int:
        """The window's row in the data."""
        return self.rows[self.window]

    @property
    def true(self) -> int | None:
        return None if self.fit.y is None else int(self.fit.y[self.row])

    @property
    def where(self) -> dict:
        """What the trial's figures show, under their titles and in their file names."""
        return {"subject": self.subject, "trial": state.trial_text(self.trial)}

    @property
    def here(self) -> dict:
        """What the window's figures show."""
        return self.where | {"window": self.window}


def bde_caption(fs) -> str:
    """What a window's band maps show, for these data."""
    if fs.dataset in REST_BASELINE_SOURCES:
        return ("Each map is one band's BDE per electrode, relative to the trial's "
                "pre-stimulus rest: red is more band power than at rest, blue less.")
    rate = (f" The recording is read at {fs.sfreq:g} Hz (files at other rates are resampled "
            "to it)." if fs.dataset == "raw" else "")
    return ("Each map is one band's BDE per electrode. These data have no rest baseline, so "
            "the maps show each band's level (the log of its power), not a change from rest."
            + rate)


def baseline_label(name: str, fs) -> str:
    """An attribution baseline's name in the pickers, for these data: zeros means 'no
    change' only for BDE relative to a baseline recording."""
    from rbt.explain import BASELINES

    if name == "zeros" and fs.dataset not in REST_BASELINE_SOURCES:
        return "zeros (an arbitrary level for these data)"
    return BASELINES[name].label


def baseline_meaning(name: str, fs) -> str:
    """What an attribution baseline means, for these data."""
    from rbt.explain import BASELINES

    if name == "zeros" and fs.dataset not in REST_BASELINE_SOURCES:
        return ("all zeros. These data's BDE is each band's level, not a change from a "
                "baseline, so zero is one arbitrary band power, the same for every band and "
                "electrode; the subject's mean window is the more telling reference here.")
    return BASELINES[name].meaning


def level_signed(fs) -> bool | None:
    """BDE without a rest baseline is a level: a sequential scale (None: from the values)."""
    return None if fs.dataset in REST_BASELINE_SOURCES else False


def choose_window(fs) -> tuple[str, tuple, np.ndarray, int]:
    """The subject, trial and window pickers (kept across pages and in the URL):
    (subject, (session, trial), the trial's rows, the window's position in them)."""
    sel = state.selection()  # what the URL or an earlier page chose, checked against the data
    c1, c2, c3 = st.columns([1, 1, 3])
    sel.resolve("sel_subject", fs.subjects())
    subject = c1.selectbox("Subject", fs.subjects(), key="sel_subject")
    trials = fs.trials(subject)
    sel.resolve("sel_trial", trials)
    multi_session = len({s for s, _ in trials}) > 1
    trial = c2.selectbox("Trial", trials, key="sel_trial",
                         format_func=lambda t: f"session {t[0]}, trial {t[1]}"
                         if multi_session else f"trial {t[1]}")
    rows = np.asarray(fs.trial_rows(subject, *trial))
    sel.resolve("sel_window", range(max(len(rows) - 1, 1) + 1))
    if st.session_state.get("sel_window", 0) >= len(rows):
        st.session_state["sel_window"] = 0
    window = c3.slider("Window", 0, max(len(rows) - 1, 1), key="sel_window",
                       disabled=len(rows) < 2,
                       help=f"Windows are {fs.params['window']} samples long "
                            f"({fs.params['window'] / fs.sfreq:.1f} s) and start every "
                            f"{fs.params['stride']} samples, so neighbours overlap.")
    sel.show_notes()  # the link's subject, trial or window that these data do not have
    return subject, trial, rows, min(window, len(rows) - 1)


def block_text(block, head) -> str:
    return "rollout" if block == "rollout" else (
        f"block {block + 1}, " + ("mean of heads" if head == "mean" else f"head {head + 1}"))


@st.fragment
def window_views(shown: Shown) -> None:
    """Map options, then the window's BDE maps, attention and attributions."""
    from rbt.viz.topomap import band_topomaps

    f = shown.fit
    with st.expander("Map options", icon=":material/tune:"):
        o1, o2, o3, o4 = st.columns(4)
        mode = o1.radio("Drawing", ["interpolated", "markers"], key="map_mode", horizontal=True,
                        help="markers: the sensors only, no interpolation between them")
        contours = o2.toggle("Contours", key="map_contours")
        shared = o3.radio("Colour scale", ["shared", "per band"], key="map_scale",
                          horizontal=True) == "shared"
        st.session_state.setdefault("map_planted", True)
        planted = o4.toggle("Ring planted electrodes (demo)", key="map_planted",
                            disabled=f.fs.dataset != "demo")
    opts = dict(mode=mode, contours=contours)
    highlight = planted_electrodes(f.fs.dataset, f.fs.target) if planted else {}

    st.subheader("Band differential entropy of this window")
    st.caption(bde_caption(f.fs))
    x = f.X[shown.row]
    trial_parts.electrode_chart(
        band_topomaps(x, f.ch_names, f.band_names, shared_scale=shared, colorbar_title="BDE",
                      highlight=highlight, signed=level_signed(f.fs), **opts,
                      interpolated=f.fs.interpolated),
        "bde_window", common.band_frame(x, f.ch_names, f.band_names), "fig_bde", f.ch_names,
        context=shown.here)
    attention_section(shown, opts)
    attribution_section(shown, opts, shared, highlight)
    state.sync()


@st.fragment
def attention_section(shown: Shown, opts: dict) -> None:
    """Attention pairs, matrix and the chosen electrode's row, for a block and head."""
    from rbt.explain import select_attention
    from rbt.viz.attention import attention_heatmap, attention_lines
    from rbt.viz.topomap import scalp_topomap

    f, sel = shown.fit, state.selection()
    st.subheader("Attention between electrodes")
    att = common.trial_attention(*shown.loaded.key, shown.rows)[shown.window]
    depth, heads = att.shape[0], att.shape[1]
    a1, a2, a3, a4, a5 = st.columns([1.2, 1, 1, 1.2, 1])
    sel.resolve("att_block", ["rollout"] + list(range(depth)))
    sel.resolve("att_head", ["mean"] + list(range(heads)))
    block = a1.selectbox("Block", ["rollout"] + list(range(depth)), key="att_block",
                         format_func=lambda b: "rollout (all blocks)" if b == "rollout"
                         else f"block {b + 1}")
    head = a2.selectbox("Head", ["mean"] + list(range(heads)), key="att_head",
                        format_func=lambda h: "mean of heads" if h == "mean" else f"head {h + 1}",
                        disabled=block == "rollout")
    lines = a3.radio("Lines", ["top k", "above"], key="att_lines", horizontal=True)
    if lines == "top k":
        st.session_state.setdefault("att_k", 12)
        k = a4.slider("Strongest pairs", 1, 60, key="att_k")
        threshold = None
    else:
        k = len(f.ch_names) ** 2
        st.session_state.setdefault("att_threshold", 0.08)
        threshold = a4.slider("Threshold", 0.0, 0.5, step=0.005, format="%.3f",
                              key="att_threshold")
    sel.resolve("att_electrode", f.ch_names)
    electrode = a5.selectbox("Electrode", f.ch_names, key="att_electrode")
    sel.show_notes()  # the link's values these data do not have
    a2d = select_attention(att, block=block, head="mean" if block == "rollout" else head)
    what = block_text(block, head)
    e = f.ch_names.index(electrode)
    seen = shown.here | ({"block": "rollout"} if block == "rollout" else
                         {"block": block + 1, "head": head if head == "mean" else head + 1})
    g1, g2, g3 = st.columns(3)
    with g1:
        fig = attention_lines(a2d, f.ch_names, k=k, threshold=threshold, title=f"Pairs: {what}",
                              interpolated=f.fs.interpolated)
        trial_parts.electrode_chart(fig, "attention_lines",
                                    common.pairs_frame(a2d, f.ch_names, k, threshold),
                                    "fig_lines", f.ch_names, context=seen)
    with g2:
        trial_parts.electrode_chart(attention_heatmap(a2d, f.ch_names, title=f"Matrix: {what}"),
                                    "attention_matrix",
                                    {"attention": a2d, "ch_names": f.ch_names}, "fig_matrix",
                                    f.ch_names, context=seen)
    with g3:
        trial_parts.electrode_chart(
            scalp_topomap(a2d[e], f.ch_names, title=f"Where {electrode} looks", symmetric=False,
                          colorscale="Viridis", colorbar_title="attention",
                          highlight=[electrode], **opts, interpolated=f.fs.interpolated),
            "attention_row", pd.DataFrame({"electrode": f.ch_names, "attention": a2d[e]}),
            "fig_row", f.ch_names, context=seen | {"electrode": electrode})
    st.caption("Choose an electrode on any map, on the lines or in the matrix (its row) to see "
               "where it looks. "
               "Row i of the matrix is where electrode i looks; each row sums to 1. The rollout "
               "multiplies the blocks' head-mean attention (with the residual path) to follow "
               "attention from the input to the last block.")
    state.sync()


@st.fragment
def attribution_section(shown: Shown, opts: dict, shared: bool, highlight) -> None:
    """The window's attribution maps for a method, baseline and target, with trust numbers."""
    from rbt.explain import BASELINES, METHOD_REGISTRY
    from rbt.viz.topomap import topomap_row

    trial_parts.follow_electrode_pick()  # an electrode chosen here is shown by the attention
    f = shown.fit
    st.subheader("Attributions")
    m1, m2, m3 = st.columns(3)
    method = m1.selectbox("Method", list(METHOD_REGISTRY), key="attr_method",
                          format_func=lambda m: METHOD_REGISTRY[m].label)
    record = METHOD_REGISTRY[method]
    baseline = m2.selectbox("Baseline", list(BASELINES), key="attr_baseline",
                            format_func=lambda b: baseline_label(b, f.fs),
                            disabled=not record.uses_baseline)
    explain = m3.radio("Explain the", ["predicted", "true"], key="attr_target", horizontal=True,
                       disabled=f.y is None, format_func=lambda t: f"{t} class")
    st.caption(record.meaning + (f" Baseline: {baseline_meaning(baseline, f.fs)}"
                                 if record.uses_baseline else ""))
    key, rows = shown.loaded.key, (shown.row,)
    try:
        with st.spinner(f"Computing {record.label} for this window…"):
            found = common.attributions(*key, rows, method, baseline, explain)[0]
            trust = common.trust(*key, rows, method, baseline, explain)
    except common.USER_ERRORS as err:
        st.error(f"These attributions could not be computed: {plain_message(err)}. Try another "
                 "method or baseline.")
        return
    maps = {b: found[:, j] for j, b in enumerate(f.band_names)} | {"total": found.sum(axis=1)}
    left, right = st.columns([5, 1])
    with left:
        trial_parts.electrode_chart(
            topomap_row(maps, f.ch_names, shared_scale=shared, highlight=highlight,
                        colorbar_title="attribution", signed=record.signed(), **opts,
                        interpolated=f.fs.interpolated),
            f"attribution_{method}",
            pd.DataFrame(maps, index=f.ch_names).rename_axis("electrode").reset_index(),
            "fig_attr", f.ch_names, context=shown.here | {"method": record.label} | (
                {"baseline": baseline_label(baseline, f.fs)} if record.uses_baseline else {}),
            outside=True)
    with right:
        common.trust_panel(trust)
    st.caption((f"{record.label.capitalize()} is unsigned: larger means the output is more "
                "sensitive there. " if not record.signed() else
                "Red: the electrode and band pushed the model towards the explained class; "
                "blue: away from it. ")
               + "The total map sums the four bands. Each method runs once per window and is "
               "then remembered.")
    state.sync()
    # the next window's, while the user looks at this one: after a window step and after a
    # method, baseline or target change alike (this section reruns alone for those)
    if shown.window + 1 < len(shown.rows):
        prefetch.ahead((common.trust, *key, (shown.rows[shown.window + 1],), method, baseline,
                        explain))
