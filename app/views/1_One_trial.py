"""One trial: prediction, BDE band maps, attention on the scalp and attributions, together."""

import common
import pandas as pd
import state
import streamlit as st
import trial_parts
from serving import plain, plain_message

from rbt.data.demo import planted_electrodes
from rbt.explain import BASELINES, METHOD_REGISTRY, select_attention
from rbt.viz.attention import attention_heatmap, attention_lines
from rbt.viz.prediction import probability_bar
from rbt.viz.timeline import trial_timeline
from rbt.viz.topomap import band_topomaps, scalp_topomap, topomap_row


def render() -> None:
    """The One trial page (drawn under the sidebar that Home.py draws)."""
    loaded = common.setup("One trial")
    if loaded is None:
        st.stop()
    f = loaded.fit
    table = f.table

    # ---- selection: subject, trial, window (kept in session state across pages) ----------------
    sel = state.selection()  # what the URL or an earlier page chose, checked against the data
    c1, c2, c3 = st.columns([1, 1, 3])
    sel.resolve("sel_subject", f.fs.subjects())
    subject = c1.selectbox("Subject", f.fs.subjects(), key="sel_subject")
    trials = f.fs.trials(subject)
    sel.resolve("sel_trial", trials)
    multi_session = len({s for s, _ in trials}) > 1
    trial = c2.selectbox("Trial", trials, key="sel_trial",
                         format_func=lambda st_: f"session {st_[0]}, trial {st_[1]}"
                         if multi_session
                         else f"trial {st_[1]}")
    rows = f.fs.trial_rows(subject, *trial)
    sel.resolve("sel_window", range(max(len(rows) - 1, 1) + 1))
    if st.session_state.get("sel_window", 0) >= len(rows):
        st.session_state["sel_window"] = 0
    window = c3.slider("Window", 0, max(len(rows) - 1, 1), key="sel_window",
                       disabled=len(rows) < 2,
                       help=f"Windows are {f.fs.params['window']} samples long "
                            f"({f.fs.params['window'] / f.fs.sfreq:.1f} s) and start every "
                            f"{f.fs.params['stride']} samples, so neighbours overlap.")
    window = min(window, len(rows) - 1)
    i = int(rows[window])
    key = loaded.key
    row_key = tuple(int(r) for r in rows)
    # what every figure shows, under its title and in its exports' file names
    where = {"subject": subject, "trial": state.trial_text(trial)}
    here = where | {"window": window}

    # ---- prediction ------------------------------------------------------------------------------
    trial_probs, trial_pred = loaded.window_predictions(rows)
    probs, pred = trial_probs[window], int(trial_pred[window])
    true = None if f.y is None else int(f.y[i])
    st.subheader("Prediction")
    left, right = st.columns([1, 2])
    with left:
        st.markdown(f"**Predicted:** {plain(f.class_names[pred])} (p = {probs[pred]:.2f})")
        if true is None:
            st.markdown("**True:** unknown (no usable labels)")
        else:
            st.markdown(f"**True:** {plain(f.class_names[true])}")
            st.markdown(":green-background[:material/check_circle: **Right**]" if true == pred
                        else ":red-background[:material/cancel: **Wrong**]")
        start = int(table["start"].iloc[i])
        st.caption(f"Subject {plain(subject)}, trial {trial[1]}, window {window + 1} of "
                   f"{len(rows)}, starting at sample {start} ({start / f.fs.sfreq:.1f} s).")
    with right:
        common.chart(probability_bar(probs, f.class_names, true=true), "probabilities",
                     pd.DataFrame({"class": f.class_names, "probability": probs}), key="fig_prob",
                     context=here)

    # ---- the trial's timeline: every window's prediction; choosing one selects it --------------
    starts = table["start"].to_numpy()[rows] / f.fs.sfreq
    power = f.X[rows].mean(axis=1)  # (windows, bands): each band's BDE over the electrodes
    timeline = trial_timeline(
        starts, trial_probs, f.class_names, window_s=f.fs.params["window"] / f.fs.sfreq,
        current=window, true=None if f.y is None else f.y[rows], band_power=power,
        band_names=f.band_names, title="This trial, window by window")
    trial_parts.window_chart(
        timeline, "timeline",
        pd.DataFrame({"window": range(len(rows)), "start_s": starts}
                     | {f"p_{c}": trial_probs[:, k] for k, c in enumerate(f.class_names)}
                     | {f"bde_{b}": power[:, k] for k, b in enumerate(f.band_names)}),
        key="fig_timeline", n_windows=len(rows), context=where)
    st.caption("Choose a window on the timeline (click its point) to look at it. Dots: the "
               "predicted class's probability, green when right, red when wrong; the shaded "
               "band is the window shown below.")

    # ---- map options -----------------------------------------------------------------------------
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

    # ---- BDE -------------------------------------------------------------------------------------
    st.subheader("Band differential entropy of this window")
    st.caption("Each map is one band's BDE per electrode, relative to the trial's pre-stimulus "
               "baseline where there is one: red is more band power than at rest, blue less.")
    x = f.X[i]
    trial_parts.electrode_chart(
        band_topomaps(x, f.ch_names, f.band_names, shared_scale=shared, colorbar_title="BDE",
                      highlight=highlight, **opts),
        "bde_window", common.band_frame(x, f.ch_names, f.band_names), "fig_bde", f.ch_names,
        context=here)

    # ---- attention -------------------------------------------------------------------------------
    st.subheader("Attention between electrodes")
    att = common.trial_attention(*key, row_key)[window]  # (depth, heads, E, E)
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
    state.sync()
    a2d = select_attention(att, block=block, head="mean" if block == "rollout" else head)
    what = "rollout" if block == "rollout" else (
        f"block {block + 1}, " + ("mean of heads" if head == "mean" else f"head {head + 1}"))
    e = f.ch_names.index(electrode)
    seen = here | ({"block": "rollout"} if block == "rollout" else
                   {"block": block + 1, "head": head if head == "mean" else head + 1})
    g1, g2, g3 = st.columns(3)
    with g1:
        fig = attention_lines(a2d, f.ch_names, k=k, threshold=threshold, title=f"Pairs: {what}")
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
                          highlight=[electrode], **opts),
            "attention_row", pd.DataFrame({"electrode": f.ch_names, "attention": a2d[e]}),
            "fig_row", f.ch_names, context=seen | {"electrode": electrode})
    st.caption("Choose an electrode on any map, on the lines or in the matrix (its row) to see "
               "where it looks. "
               "Row i of the matrix is where electrode i looks; each row sums to 1. The rollout "
               "multiplies the blocks' head-mean attention (with the residual path) to follow "
               "attention from the input to the last block.")

    # ---- attributions ----------------------------------------------------------------------------
    st.subheader("Attributions")
    m1, m2, m3 = st.columns(3)
    method = m1.selectbox("Method", list(METHOD_REGISTRY), key="attr_method",
                          format_func=lambda m: METHOD_REGISTRY[m].label)
    record = METHOD_REGISTRY[method]
    baseline = m2.selectbox("Baseline", list(BASELINES), key="attr_baseline",
                            format_func=lambda b: BASELINES[b].label,
                            disabled=not record.uses_baseline)
    explain = m3.radio("Explain the", ["predicted", "true"], key="attr_target", horizontal=True,
                       disabled=f.y is None, format_func=lambda t: f"{t} class")
    st.caption(record.meaning + (f" Baseline: {BASELINES[baseline].meaning}"
                                 if record.uses_baseline else ""))
    try:
        with st.spinner(f"Computing {record.label} for this window…"):
            Ai = common.attributions(*key, (i,), method, baseline, explain)[0]
            trust = common.trust(*key, (i,), method, baseline, explain)
    except common.USER_ERRORS as err:
        st.error(f"These attributions could not be computed: {plain_message(err)}. Try another "
                 "method or baseline.")
    else:
        maps = {b: Ai[:, j] for j, b in enumerate(f.band_names)} | {"total": Ai.sum(axis=1)}
        left, right = st.columns([5, 1])
        with left:
            trial_parts.electrode_chart(
                topomap_row(maps, f.ch_names, shared_scale=shared, highlight=highlight,
                            colorbar_title="attribution", signed=record.signed(), **opts),
                f"attribution_{method}",
                pd.DataFrame(maps, index=f.ch_names).rename_axis("electrode").reset_index(),
                "fig_attr", f.ch_names, context=here | {"method": method} | (
                    {"baseline": baseline} if record.uses_baseline else {}))
        with right:
            common.trust_panel(trust)
        st.caption((f"{record.label.capitalize()} is unsigned: larger means the output is more "
                    "sensitive there. " if not record.signed() else
                    "Red: the electrode and band pushed the model towards the explained class; "
                    "blue: away from it. ")
                   + "The total map sums the four bands. Each method runs once per window and is "
                   "then remembered.")

    # ---- what if ---------------------------------------------------------------------------------
    trial_parts.what_if_section(
        f, i, baseline, block, head, k, threshold, true=true, context=here,
        planted=[e for es in planted_electrodes(f.fs.dataset, f.fs.target).values() for e in es])


if __name__ == "__main__":  # run as a page by st.navigation (app/Home.py)
    render()
