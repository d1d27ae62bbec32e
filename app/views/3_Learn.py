"""Learn: from raw EEG to a prediction, step by step, on the demo data.

A lesson to present: one step at a time (Previous / Next, or a step picker), the step in the
URL (``?step=3``) so a link opens it, or every step on one page for reading. Each step is a
fragment, so its own widgets (the electrode) redraw that step only; the subject, trial and
window above the steps rerun the page.
"""

from dataclasses import dataclass

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
    similarity_by_distance,
    similarity_heatmap,
    token_heatmap,
)
from rbt.viz.topomap import band_topomaps, scalp_topomap

PICKS = ["AF3", "F3", "F7", "AF4", "F4", "F8", "Cz", "Pz", "O1", "O2"]


@dataclass
class Lesson:
    """What every step draws from: the demo, the chosen window and its pipeline steps."""

    f: object  # the fit (demo features and the shipped model)
    key: tuple  # its cache key
    subject: str
    trial: int
    window: int
    rows: np.ndarray  # the trial's feature rows
    rec: object  # the subject's raw recording
    steps: teaching.WindowSteps
    effects: dict  # class -> planted band and electrodes

    @property
    def i(self) -> int:
        return int(self.rows[self.window])

    @property
    def cls(self) -> str:
        return self.f.class_names[int(self.f.y[self.i])]

    @property
    def planted(self) -> list[str]:
        return [ch for e in self.effects.values() for ch in e["channels"]]


def _electrode(where, key: str, names: list[str], default: str) -> str:
    """An electrode picker whose choice every step shares (kept while other steps are
    shown)."""
    state = st.session_state
    if state.get("l_electrode") not in names:
        state["l_electrode"] = default
    state[key] = state["l_electrode"]

    def chosen():
        state["l_electrode"] = state[key]

    return where.selectbox("Electrode", names, key=key, on_change=chosen)


# ---- the steps ------------------------------------------------------------------------------


@st.fragment
def raw_step(ls: Lesson) -> None:
    st.header("1 · Raw EEG")
    rec, f = ls.rec, ls.f
    sfreq, length = rec.sfreq, f.fs.params["window"]
    tr = next(t for t in rec.trials if t.trial == ls.trial)
    w0 = ls.steps.start / sfreq
    total = tr.signal.shape[1] / sfreq
    common.chart(eeg_traces(tr.signal, rec.ch_names, sfreq, picks=PICKS,
                            baseline_s=tr.start / sfreq, window=(w0, w0 + length / sfreq),
                            title=f"Subject {ls.subject}, trial {ls.trial}: the whole trial "
                                  f"({total:.0f} s), window {ls.window} outlined"),
                 "raw_eeg", {"signal": tr.signal[[rec.ch_names.index(c) for c in PICKS]],
                             "ch_names": PICKS, "sfreq": sfreq}, key="l_raw")
    st.markdown("**How to read it.** Each row is one electrode. The blue band is the 3-s rest "
                f"before the stimulus (the *baseline*); the orange box is the {length / sfreq:g}-s "
                f"window {ls.window} that the model reads next (move it with the Window slider "
                "above). Raw EEG hides the planted effects: they are a small change of power in "
                "one frequency band, which the next step isolates.")


@st.fragment
def band_pass_step(ls: Lesson) -> None:
    st.header("2 · Band-pass filtering")
    f, rec, steps = ls.f, ls.rec, ls.steps
    channel = _electrode(st, "l_channel", rec.ch_names, ls.effects["high"]["channels"][0])
    c = rec.ch_names.index(channel)
    de = {b: float(steps.de[c, j]) for j, b in enumerate(f.band_names)}
    common.chart(band_pass_figure(steps.zscored[c], {b: v[c] for b, v in steps.filtered.items()},
                                  rec.sfreq, de, channel=channel,
                                  title=f"{channel}: the window and its four bands"),
                 "band_pass", {b: v[c] for b, v in steps.filtered.items()}, key="l_bandpass")
    st.markdown(
        "The window is first **z-scored** (all channels together: one mean, one standard "
        "deviation), then filtered into **theta 4–8, alpha 8–14, beta 14–31 and gamma 31–49 Hz** "
        "with order-5 Butterworth band-passes, causal and starting from rest, as in the "
        "RBTransformer reference. A band with more power has a larger variance.")


@st.fragment
def token_step(ls: Lesson) -> None:
    st.header("3 · BDE tokens")
    f, rec, steps = ls.f, ls.rec, ls.steps
    left, right = st.columns([2, 3])
    with left:
        st.latex(r"\mathrm{DE} = \tfrac12 \log_2\!\left(2\pi e\,\sigma^2\right)")
        channel = _electrode(st, "l_channel_tokens", rec.ch_names,
                             ls.effects["high"]["channels"][0])
        c = rec.ch_names.index(channel)
        st.markdown(f"**{plain(channel)}, window {ls.window}**: its four numbers")
        table = pd.DataFrame({"band": f.band_names, "window DE": steps.de[c],
                              "rest DE": steps.baseline_de[c], "token": steps.token[c]})
        st.dataframe(table, hide_index=True, width="stretch", column_config={
            k: st.column_config.NumberColumn(format="%.3f") for k in table.columns[1:]})
        ordered = teaching.in_order(steps.token, rec.ch_names, f.ch_names)
        match = float(np.abs(ordered - f.X[ls.i]).max())
        st.caption(f"token = window DE − rest DE. Recomputed here from the raw signal; largest "
                   f"difference from the cached features the model reads: {match:.1e}.")
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
    common.chart(band_topomaps(f.X[ls.i], f.ch_names, f.band_names, highlight=highlight,
                               colorbar_title="BDE", labels=True, height=340,
                               title=f"This window ({ls.cls} {f.fs.target})"),
                 "tokens_topomap", common.band_frame(f.X[ls.i], f.ch_names, f.band_names),
                 key="l_tokens_map")
    _, _, diff = compare_groups(f.X, group_labels(f, None, "class"), f.class_names[-1],
                                f.class_names[0])
    common.chart(band_topomaps(diff, f.ch_names, f.band_names, highlight=highlight,
                               colorbar_title="BDE", labels=True, height=340,
                               title=f"All windows: mean of {f.class_names[-1]} − "
                                     f"{f.class_names[0]} {f.fs.target}"),
                 "class_difference", common.band_frame(diff, f.ch_names, f.band_names),
                 key="l_class_diff")
    hi, lo = ls.effects["high"], ls.effects["low"]
    st.markdown(
        f"**How to read a topomap.** The head is seen from above, nose up, left ear left. Red "
        f"means more, blue less; the dots are electrodes and the ringed ones are where the demo "
        f"planted its effects. One window is noisy; the class difference shows the planted "
        f"effects clearly: **{hi['band']} is higher at {', '.join(hi['channels'])}** in "
        f"high-{f.fs.target} trials (red in the {hi['band']} map) and **{lo['band']} is higher at "
        f"{', '.join(lo['channels'])}** in low-{f.fs.target} trials (blue in the {lo['band']} "
        "map). Volume conduction spreads each effect to the neighbours.")


@st.fragment
def embedding_step(ls: Lesson) -> None:
    st.header("4 · Electrode embeddings")
    f = ls.f
    emb = teaching.token_embeddings(f.model, f.X[ls.i])
    layout = teaching.identity_layout(f.model, list(f.ch_names))
    st.markdown(
        "A linear layer maps each token's 4 numbers to a longer vector, and a learned **identity "
        "embedding** is added per electrode, so the model knows which electrode a token came "
        "from (attention by itself ignores order).")
    flat = abs(layout.rank_correlation) < 0.2
    near = layout.spread < 1.5 * layout.random_spread
    st.info(
        "**What to look for:** are neighbouring electrodes' identities alike? "
        + ("In this checkpoint they are not: " if flat else "In this checkpoint: ")
        + f"similarity and distance on the scalp have a rank correlation of "
        f"{layout.rank_correlation:+.2f}"
        + (" (the trend line on the right is flat)" if flat else "")
        + f", and the similarities spread by {layout.spread:.2f} (standard deviation), "
        + (f"about what random vectors of this length give ({layout.random_spread:.2f}; the "
           "grey band, ± twice that, is where they would fall). " if near else
           f"more than random vectors of this length would ({layout.random_spread:.2f}). ")
        + ("So the identities are distinct name tags, nearly at right angles to each other, "
           "and carry no map of the head: the model learns where electrodes are only through "
           "what their tokens contain." if flat and near else
           "The identities carry some structure beyond name tags."),
        icon=":material/visibility:")
    left, right = st.columns(2)
    with left:
        sim = teaching.identity_similarity(f.model)
        common.chart(similarity_heatmap(sim, f.ch_names, title="Identity embeddings: similarity",
                                        height=460),
                     "identity_similarity", {"similarity": sim, "ch_names": f.ch_names},
                     key="l_identity")
    with right:
        common.chart(similarity_by_distance(layout.distance, layout.similarity, layout.pairs,
                                            random_spread=layout.random_spread, height=460,
                                            title="Each pair of electrodes: similarity by "
                                                  "distance"),
                     "identity_by_distance",
                     pd.DataFrame({"pair": ["–".join(p) for p in layout.pairs],
                                   "distance_m": layout.distance,
                                   "similarity": layout.similarity}),
                     key="l_identity_distance")
    with st.expander(f"The embedded tokens of this window (32 × {emb.shape[1]})"):
        common.chart(token_heatmap(emb, f.ch_names, range(emb.shape[1]), value_label="value",
                                   title=f"Embedded tokens: 32 × {emb.shape[1]}", height=440),
                     "embedded_tokens", {"embedded": emb, "ch_names": f.ch_names},
                     key="l_embedded")


@st.fragment
def attention_step(ls: Lesson) -> None:
    st.header("5 · Attention")
    f = ls.f
    att = common.trial_attention(*ls.key, tuple(int(r) for r in ls.rows))[ls.window]
    rollout = select_attention(att, block="rollout")
    left, right = st.columns(2)
    with left:
        common.chart(attention_lines(rollout, f.ch_names, k=12, title="Strongest pairs (rollout)"),
                     "attention_lines_rollout", {"rollout": rollout, "ch_names": f.ch_names},
                     key="l_lines")
    with right:
        received = attention_received(rollout)
        common.chart(scalp_topomap(received, f.ch_names, symmetric=False, colorscale="Viridis",
                                   colorbar_title="attention", highlight=ls.planted, labels=True,
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


@st.fragment
def prediction_step(ls: Lesson) -> None:
    st.header("6 · Prediction")
    f = ls.f
    probs, pred = common.window_predictions(*ls.key, (ls.i,))
    probs, pred = probs[0], int(pred[0])
    left, right = st.columns([2, 1])
    with left:
        common.chart(probability_bar(probs, f.class_names, true=int(f.y[ls.i])), "probabilities",
                     pd.DataFrame({"class": f.class_names, "probability": probs}),
                     key="l_prob")
    with right:
        ok = pred == int(f.y[ls.i])
        st.markdown(f"Predicted **{plain(f.class_names[pred])}**, true **{plain(ls.cls)}**: "
                    + ("right." if ok else "wrong."))
    st.markdown("The final tokens are averaged over electrodes and a small network turns the "
                "average into one score per class; softmax makes them probabilities that sum to 1.")


@st.fragment
def protocol_step(ls: Lesson) -> None:
    st.header("7 · How the evaluation protocol changes accuracy")
    f = ls.f
    length, stride = f.fs.params["window"], f.fs.params["stride"]
    folds = fold_scores(common.demo_checkpoint())
    if folds.empty or folds["protocol"].nunique() < 2:
        st.info("The shipped checkpoint's cross-validation results (metrics.json and "
                "metrics_window-kfold.json) are not there, so the comparison cannot be shown. "
                "scripts/build_demo_checkpoint.sh writes them.")
        return
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


STEPS = {"Raw EEG": raw_step, "Band-pass": band_pass_step, "BDE tokens": token_step,
         "Embeddings": embedding_step, "Attention": attention_step,
         "Prediction": prediction_step, "Protocols": protocol_step}
TITLES = list(STEPS)


# ---- the navigator --------------------------------------------------------------------------


def current_step() -> int:
    """The step shown (1-based): the session's, else the URL's ``step``, else 1."""
    state = st.session_state
    if "l_step" not in state:
        try:
            step = int(st.query_params.get("step", 1))
        except ValueError:
            step = 1
        state["l_step"] = step if 1 <= step <= len(STEPS) else 1
    return state["l_step"]


def _go(step: int) -> None:
    st.session_state["l_step"] = step


def _picked() -> None:
    chosen = st.session_state.get("l_pick")
    if chosen is not None:  # a click on the chosen step unselects it: stay there
        st.session_state["l_step"] = chosen


def navigator(step: int, where: str) -> None:
    """Previous, the step picker (top only) and Next."""
    n = len(STEPS)
    if where == "top":  # the picker on a row of its own: beside the buttons it cut both short
        st.session_state["l_pick"] = step
        st.segmented_control("Step", list(range(1, n + 1)), key="l_pick",
                             format_func=lambda k: f"{k} {TITLES[k - 1]}",
                             on_change=_picked, label_visibility="collapsed")
    prev, _, nxt = st.columns([2, 6, 2], vertical_alignment="center")
    prev.button("Previous", key=f"l_prev_{where}", icon=":material/arrow_back:",
                disabled=step <= 1, on_click=_go, args=(step - 1,), width="stretch")
    label = "Next" if where == "top" or step >= n else f"Next: {TITLES[step]}"
    nxt.button(label, key=f"l_next_{where}", icon=":material/arrow_forward:",
               icon_position="right", disabled=step >= n, on_click=_go, args=(step + 1,),
               width="stretch")


def render() -> None:
    """The Learn page (drawn under the sidebar that Home.py draws)."""
    common.setup("Learn", "Learn: how RBTransformer reads EEG", load_data=False)
    st.warning(common.SYNTHETIC_NOTE + " This page always uses the demo data and the shipped "
               "checkpoint.", icon=":material/science:")

    demo = common.demo_bundle()
    if demo is None:
        return  # not st.stop(): Home.py writes the URL after the page
    f, key = demo
    if f.y is None or f.fs.target not in PLANTED_EFFECTS:
        st.error("This page needs a checkpoint trained on the demo's planted targets "
                 f"({', '.join(PLANTED_EFFECTS)}) whose classes are the demo's; the demo "
                 "checkpoint "
                 f"in use ({plain(str(common.demo_checkpoint()))}) is not one. Unset "
                 "RBT_DEMO_CHECKPOINT or rebuild it with scripts/build_demo_checkpoint.sh.")
        return  # not st.stop(): Home.py writes the URL after the page
    effects = PLANTED_EFFECTS[f.fs.target]
    st.markdown(
        "The demo has 5 subjects × 16 trials of 32-channel EEG at 128 Hz: a 3-s rest before each "
        "stimulus, then 20 s of stimulus, with extra band power planted during the stimulus. "
        f"The shipped model predicts **{f.fs.target}** (low or high), so watch "
        + " and ".join(f"**{e['band']} at {', '.join(e['channels'])}** ({c} {f.fs.target})"
                       for c, e in effects.items()) + ".")
    with st.expander("What the demo contains"):
        st.markdown(
            "Background activity falls off as 1/f, an alpha rhythm sits over the back of the "
            "head, and neighbouring electrodes share signal (volume conduction). During the "
            "stimulus only, extra band power is planted:")
        st.dataframe(pd.DataFrame([{"target": t, "class": c, "band": e["band"],
                                    "electrodes": ", ".join(e["channels"])}
                                   for t, cl in PLANTED_EFFECTS.items() for c, e in cl.items()]),
                     hide_index=True)

    c1, c2, c3, c4 = st.columns([2, 3, 3, 3], vertical_alignment="bottom")
    subject = c1.selectbox("Subject", f.fs.subjects(), key="l_subject")
    trials = f.fs.trials(subject)
    trial_class = {(s, t): f.class_names[int(f.y[f.fs.trial_rows(subject, s, t)[0]])]
                   for s, t in trials}
    session, trial = c2.selectbox(
        "Trial", list(trial_class), key="l_trial",
        format_func=lambda st_: f"trial {st_[1]} ({trial_class[st_]} {f.fs.target})")
    rows = f.fs.trial_rows(subject, session, trial)
    window = c3.slider("Window", 0, len(rows) - 1, 0, key="l_window")
    everything = c4.toggle("All steps on one page", key="l_all",
                           help="For reading: every step below the other. Off, the lesson "
                                "shows one step at a time, to present.")
    rec = common.demo_recording(subject)
    steps = teaching.window_steps(rec, trial, window, f.fs.bands, length=f.fs.params["window"],
                                  stride=f.fs.params["stride"])
    lesson = Lesson(f=f, key=key, subject=subject, trial=trial, window=window, rows=rows,
                    rec=rec, steps=steps, effects=effects)

    if everything:
        for draw in STEPS.values():
            draw(lesson)
        return
    step = current_step()
    if st.query_params.get("step") != str(step):
        st.query_params["step"] = str(step)  # a link opens this step
    navigator(step, "top")
    STEPS[TITLES[step - 1]](lesson)
    st.divider()
    navigator(step, "bottom")


if __name__ == "__main__":  # run as a page by st.navigation (app/Home.py)
    render()
