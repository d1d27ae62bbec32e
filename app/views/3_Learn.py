"""Learn: from raw EEG to a prediction, step by step, on the demo data."""

import common
import numpy as np
import pandas as pd
import streamlit as st
from selection import group_labels
from serving import plain

from rbt import teaching
from rbt.checkpoint import fold_scores
from rbt.data.demo import PLANTED_EFFECTS, planted_electrodes
from rbt.explain import attention_received, compare_groups, select_attention
from rbt.viz.attention import attention_lines
from rbt.viz.prediction import probability_bar
from rbt.viz.teaching import (
    band_pass_figure,
    eeg_traces,
    protocol_comparison,
    similarity_heatmap,
    token_heatmap,
)
from rbt.viz.topomap import band_topomaps, scalp_topomap


def render() -> None:
    """The Learn page (drawn under the sidebar that Home.py draws)."""
    common.setup("Learn", "Learn: how RBTransformer reads EEG", load_data=False)
    st.warning(common.SYNTHETIC_NOTE + " This page always uses the demo data and the shipped "
               "checkpoint, whatever the sidebar says.", icon=":material/science:")

    demo = common.demo_bundle()
    if demo is None:
        st.stop()
    f, key = demo
    if f.y is None or f.fs.target not in PLANTED_EFFECTS:
        st.error("This page needs a checkpoint trained on the demo's planted targets "
                 f"({', '.join(PLANTED_EFFECTS)}) whose classes are the demo's; the demo "
                 "checkpoint "
                 f"in use ({plain(str(common.demo_checkpoint()))}) is not one. Unset "
                 "RBT_DEMO_CHECKPOINT or rebuild it with scripts/build_demo_checkpoint.sh.")
        st.stop()
    effects = PLANTED_EFFECTS[f.fs.target]
    st.markdown(
        "The demo has 5 subjects × 16 trials of 32-channel EEG at 128 Hz: a 3-s rest before each "
        "stimulus, then 20 s of stimulus. Background activity falls off as 1/f, an alpha rhythm "
        "sits over the back of the head, and neighbouring electrodes share signal (volume "
        "conduction). During the stimulus only, extra band power is planted:")
    st.dataframe(pd.DataFrame([{"target": t, "class": c, "band": e["band"],
                                "electrodes": ", ".join(e["channels"])}
                               for t, cl in PLANTED_EFFECTS.items() for c, e in cl.items()]),
                 hide_index=True)
    st.markdown(f"The shipped model predicts **{f.fs.target}** (low or high), so watch "
                + " and ".join(f"**{e['band']} at {', '.join(e['channels'])}** ({c} {f.fs.target})"
                               for c, e in effects.items()) + ".")

    c1, c2, c3 = st.columns(3)
    subject = c1.selectbox("Subject", f.fs.subjects(), key="l_subject")
    trials = f.fs.trials(subject)
    trial_class = {(s, t): f.class_names[int(f.y[f.fs.trial_rows(subject, s, t)[0]])]
                   for s, t in trials}
    session, trial = c2.selectbox(
        "Trial", list(trial_class), key="l_trial",
        format_func=lambda st_: f"trial {st_[1]} ({trial_class[st_]} {f.fs.target})")
    rows = f.fs.trial_rows(subject, session, trial)
    window = c3.slider("Window", 0, len(rows) - 1, 0, key="l_window")
    i = int(rows[window])
    rec = common.demo_recording(subject)
    sfreq = rec.sfreq
    length, stride = f.fs.params["window"], f.fs.params["stride"]
    steps = teaching.window_steps(rec, trial, window, f.fs.bands, length=length, stride=stride)
    cls = f.class_names[int(f.y[i])]

    # ---- 1 raw ----------------------------------------------------------------------------------
    st.header("1 · Raw EEG")
    tr = next(t for t in rec.trials if t.trial == trial)
    picks = ["AF3", "F3", "F7", "AF4", "F4", "F8", "Cz", "Pz", "O1", "O2"]
    w0 = steps.start / sfreq
    common.chart(eeg_traces(tr.signal, rec.ch_names, sfreq, picks=picks, seconds=12,
                            baseline_s=tr.start / sfreq, window=(w0, w0 + length / sfreq),
                            title=f"Subject {subject}, trial {trial}: the first 12 s"),
                 "raw_eeg", {"signal": tr.signal[[rec.ch_names.index(c) for c in picks]],
                             "ch_names": picks, "sfreq": sfreq}, key="l_raw")
    st.markdown("**How to read it.** Each row is one electrode. The blue band is the 3-s rest "
                f"before the stimulus (the *baseline*); the orange box is the {length / sfreq:g}-s "
                "window the model "
                "reads next. Raw EEG hides the planted effects: they are a small change of "
                "power in "
                "one frequency band, which the next step isolates.")

    # ---- 2 band-pass ----------------------------------------------------------------------------
    st.header("2 · Band-pass filtering")
    planted_chs = [ch for e in effects.values() for ch in e["channels"]]
    channel = st.selectbox("Electrode", rec.ch_names, key="l_channel",
                           index=rec.ch_names.index(effects["high"]["channels"][0]))
    c = rec.ch_names.index(channel)
    de = {b: float(steps.de[c, j]) for j, b in enumerate(f.band_names)}
    common.chart(band_pass_figure(steps.zscored[c], {b: v[c] for b, v in steps.filtered.items()},
                                  sfreq, de, channel=channel,
                                  title=f"{channel}: the window and its four bands"),
                 "band_pass", {b: v[c] for b, v in steps.filtered.items()}, key="l_bandpass")
    st.markdown(
        "The window is first **z-scored** (all channels together: one mean, one standard "
        "deviation), then filtered into **theta 4–8, alpha 8–14, beta 14–31 and gamma 31–49 Hz** "
        "with order-5 Butterworth band-passes, causal and starting from rest, as in the "
        "RBTransformer reference. A band with more power has a larger variance.")

    # ---- 3 BDE ----------------------------------------------------------------------------------
    st.header("3 · BDE tokens")
    st.latex(r"\mathrm{DE} = \tfrac12 \log_2\!\left(2\pi e\,\sigma^2\right)")
    table = pd.DataFrame({"band": f.band_names, "window DE": steps.de[c],
                          "baseline DE": steps.baseline_de[c],
                          "token = difference": steps.token[c]})
    left, right = st.columns([1, 2])
    with left:
        st.dataframe(table, hide_index=True, column_config={
            k: st.column_config.NumberColumn(format="%.3f") for k in table.columns[1:]})
        ordered = teaching.in_order(steps.token, rec.ch_names, f.ch_names)
        match = float(np.abs(ordered - f.X[i]).max())
        st.caption(f"Recomputed here from the raw signal; largest difference from the cached "
                   f"features the model reads: {match:.1e}.")
    with right:
        common.chart(token_heatmap(steps.token, rec.ch_names, f.band_names,
                                   title="This window's tokens: 32 electrodes × 4 bands",
                                   height=420),
                     "tokens", common.band_frame(steps.token, rec.ch_names, f.band_names),
                     key="l_tokens")
    st.markdown(
        "Each electrode becomes one **token** of four numbers: its differential entropy in each "
        "band minus that of the rest period (averaged into one 1-s segment). Positive means more "
        "power than at rest. On a scalp map:")
    highlight = planted_electrodes("demo", f.fs.target)
    common.chart(band_topomaps(f.X[i], f.ch_names, f.band_names, highlight=highlight,
                               colorbar_title="BDE", title=f"This window ({cls} {f.fs.target})"),
                 "tokens_topomap", common.band_frame(f.X[i], f.ch_names, f.band_names),
                 key="l_tokens_map")
    mean_hi, mean_lo, diff = compare_groups(f.X, group_labels(f, None, "class"),
                                            f.class_names[-1], f.class_names[0])
    common.chart(band_topomaps(diff, f.ch_names, f.band_names, highlight=highlight,
                               colorbar_title="BDE",
                               title=f"All windows: mean of {f.class_names[-1]} − "
                                     f"{f.class_names[0]} {f.fs.target}"),
                 "class_difference", common.band_frame(diff, f.ch_names, f.band_names),
                 key="l_class_diff")
    hi, lo = effects["high"], effects["low"]
    st.markdown(
        f"**How to read a topomap.** The head is seen from above, nose up, left ear left. Red "
        f"means more, blue less; the dots are electrodes (hover for names) and the ringed ones are "
        f"where the demo planted its effects. One window is noisy; the class difference shows the "
        f"planted effects clearly: **{hi['band']} is higher at {', '.join(hi['channels'])}** in "
        f"high-{f.fs.target} trials (red in the {hi['band']} map) and **{lo['band']} is higher at "
        f"{', '.join(lo['channels'])}** in low-{f.fs.target} trials (blue in the {lo['band']} "
        "map). Volume conduction spreads each effect to the neighbours.")

    # ---- 4 embeddings ---------------------------------------------------------------------------
    st.header("4 · Electrode embeddings")
    emb = teaching.token_embeddings(f.model, f.X[i])
    left, right = st.columns(2)
    with left:
        common.chart(token_heatmap(emb, f.ch_names, range(emb.shape[1]), value_label="value",
                                   title=f"Embedded tokens: 32 × {emb.shape[1]}", height=440),
                     "embedded_tokens", {"embedded": emb, "ch_names": f.ch_names},
                     key="l_embedded")
    with right:
        sim = teaching.identity_similarity(f.model)
        common.chart(similarity_heatmap(sim, f.ch_names, title="Identity embeddings: similarity",
                                        height=440),
                     "identity_similarity", {"similarity": sim, "ch_names": f.ch_names},
                     key="l_identity")
    st.markdown(
        "A linear layer maps each token's 4 numbers to a longer vector, and a learned **identity "
        "embedding** is added per electrode, so the model knows which electrode a token came "
        "from (attention by itself ignores order). The right map compares those identities: "
        "electrodes the model treats alike have similar vectors (red).")

    # ---- 5 attention ----------------------------------------------------------------------------
    st.header("5 · Attention")
    att = common.trial_attention(*key, tuple(int(r) for r in rows))[window]
    rollout = select_attention(att, block="rollout")
    left, right = st.columns(2)
    with left:
        common.chart(attention_lines(rollout, f.ch_names, k=12, title="Strongest pairs (rollout)"),
                     "attention_lines_rollout", {"rollout": rollout, "ch_names": f.ch_names},
                     key="l_lines")
    with right:
        received = attention_received(rollout)
        common.chart(scalp_topomap(received, f.ch_names, symmetric=False, colorscale="Viridis",
                                   colorbar_title="attention", highlight=planted_chs,
                                   title="Attention each electrode receives"),
                     "attention_received", pd.DataFrame({"electrode": f.ch_names,
                                                         "received": received}),
                     key="l_received")
    st.markdown(
        "In each of the model's blocks every electrode's token **looks at** every other one "
        "(a row of attention weights summing to 1) and mixes in what it sees. The **rollout** "
        "follows this through all blocks. Lines join the pairs with the most attention; the right "
        "map shows which electrodes are looked at most. Attention says where information flows, "
        "not why the model decided: compare it with the attributions on the One trial page.")

    # ---- 6 prediction ---------------------------------------------------------------------------
    st.header("6 · Prediction")
    probs, pred = common.window_predictions(*key, (i,))
    probs, pred = probs[0], int(pred[0])
    left, right = st.columns([2, 1])
    with left:
        common.chart(probability_bar(probs, f.class_names, true=int(f.y[i])), "probabilities",
                     pd.DataFrame({"class": f.class_names, "probability": probs}),
                     key="l_prob")
    with right:
        ok = pred == int(f.y[i])
        st.markdown(f"Predicted **{plain(f.class_names[pred])}**, true **{plain(cls)}**: "
                    + ("right." if ok else "wrong."))
    st.markdown("The final tokens are averaged over electrodes and a small network turns the "
                "average into one score per class; softmax makes them probabilities that sum to 1.")

    # ---- 7 protocols ----------------------------------------------------------------------------
    st.header("7 · How the evaluation protocol changes accuracy")
    folds = fold_scores(common.demo_checkpoint())
    if folds.empty or folds["protocol"].nunique() < 2:
        st.info("The shipped checkpoint's cross-validation results (metrics.json and "
                "metrics_window-kfold.json) are not there, so the comparison cannot be shown. "
                "scripts/build_demo_checkpoint.sh writes them.")
    else:
        common.chart(protocol_comparison(folds, chance=1 / len(f.class_names),
                                         title="5-fold cross-validated accuracy on the demo"),
                     "protocols", folds, key="l_protocols")
        means = folds.groupby("protocol")["accuracy"].mean()
        st.markdown(
            "The published code splits **windows** at random into folds (`window-kfold`). Windows "
            f"start every {stride} samples but are {length} long, so each shares up to "
            f"{max(length - stride, 0) / length:.0%} of its samples "
            "with its neighbours, and a trial's windows land in both training and test folds: the "
            "model is partly tested on what it has seen. Holding **whole trials** out "
            "(`trial-kfold`) removes that leak"
            + (f"; here the score moves from {means.max():.1%} to {means.min():.1%}" if len(means)
               else "") + ". Report the protocol with every accuracy, and prefer trial- or "
            "subject-level splits.")


if __name__ == "__main__":  # run as a page by st.navigation (app/Home.py)
    render()
