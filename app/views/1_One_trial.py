"""One trial: prediction, BDE band maps, attention on the scalp and attributions, together."""

import common
import data_views
import pandas as pd
import prefetch
import state
import streamlit as st
import trial_parts
import trial_sections
import what_if_part
from selection import own_labels
from serving import plain

from rbt.data.demo import planted_electrodes
from rbt.explain import BASELINES, METHOD_REGISTRY
from rbt.viz.prediction import probability_bar
from rbt.viz.timeline import trial_timeline


def render() -> None:
    """The One trial page (drawn under the sidebar that Home.py draws)."""
    loaded = common.setup("One trial", data_only=True)
    if loaded is None:
        return  # not st.stop(): Home.py writes the URL after the page
    if not loaded.runnable:  # the model cannot read these data: their own views
        data_views.one_trial(loaded)
        return
    trial_body(loaded)


@st.fragment
def trial_body(loaded: common.Loaded) -> None:
    """Everything under the page's title: a window, trial or subject change reruns this
    alone, not the sidebar (whose changes rerun the whole page)."""
    f = loaded.fit
    table = f.table

    # ---- selection: subject, trial, window (kept in session state across pages) ----------------
    subject, trial, rows, window = trial_sections.choose_window(f.fs)
    i = int(rows[window])
    # the trial's attention and the window's attributions with their trust checks, computed
    # beside the drawing of the sections above them (the values the widgets hold now)
    explained = (st.session_state.get("attr_method", next(iter(METHOD_REGISTRY))),
                 st.session_state.get("attr_baseline", next(iter(BASELINES))),
                 st.session_state.get("attr_target", "predicted"))
    prefetch.start((common.trial_attention, *loaded.key, tuple(int(r) for r in rows)),
                   (common.trust, *loaded.key, (i,), *explained))
    # what every figure shows, under its title and in its exports' file names
    where = {"subject": subject, "trial": state.trial_text(trial)}
    here = where | {"window": window}
    state.sync()

    # ---- prediction ------------------------------------------------------------------------------
    trial_probs, trial_pred = loaded.window_predictions(rows)
    probs, pred = trial_probs[window], int(trial_pred[window])
    true = None if f.y is None else int(f.y[i])
    own = own_labels(f)  # the data's own labels, when they are not the model's classes
    st.subheader("Prediction")
    left, right = st.columns([1, 2])
    with left:
        st.markdown(f"**Predicted:** {plain(f.class_names[pred])} (p = {probs[pred]:.2f})")
        if true is None and own is not None:
            st.markdown(f"**Label:** {plain(own[i])}")
            st.caption("The data's own label, not one of the model's classes "
                       f"({plain(', '.join(f.class_names))}), so it is not scored.")
        elif true is None:
            st.markdown("**True:** unknown (no usable labels)")
        else:
            st.markdown(f"**True:** {plain(f.class_names[true])}")
            st.markdown(":green-background[:material/check_circle: **Right**]" if true == pred
                        else ":red-background[:material/cancel: **Wrong**]")
        start = int(table["start"].iloc[i])
        st.caption(f"Subject {plain(subject)}, trial {trial[1]}, window {window} (of 0–"
                   f"{len(rows) - 1}), starting at sample {start} ({start / f.fs.sfreq:.1f} s).")
    with right:
        common.chart(probability_bar(probs, f.class_names, true=true), "probabilities",
                     pd.DataFrame({"class": f.class_names, "probability": probs}), key="fig_prob",
                     context=here)

    # ---- the trial's timeline: every window's prediction; choosing one selects it --------------
    starts = table["start"].to_numpy()[rows] / f.fs.sfreq
    power = f.X[rows].mean(axis=1)  # (windows, bands): each band's BDE over the electrodes
    timeline = trial_timeline(
        starts, trial_probs, f.class_names, window_s=f.fs.params["window"] / f.fs.sfreq,
        current=window, true=(f.y[rows] if f.y is not None else
                              None if own is None else own[rows]), band_power=power,
        band_names=f.band_names, title="This trial, window by window")
    trial_parts.window_chart(
        timeline, "timeline",
        pd.DataFrame({"window": range(len(rows)), "start_s": starts}
                     | {f"p_{c}": trial_probs[:, k] for k, c in enumerate(f.class_names)}
                     | {f"bde_{b}": power[:, k] for k, b in enumerate(f.band_names)}),
        key="fig_timeline", n_windows=len(rows), context=where)
    st.caption("Choose a window on the timeline (click its point) to look at it. Dots: the "
               "predicted class's probability" + (", green when right, red when wrong"
                                                  if f.y is not None else "")
               + "; the shaded band is the window shown below.")

    # ---- the window's sections: each reruns alone when only its own widgets change ---------
    shown = trial_sections.Shown(loaded, subject, trial, tuple(int(r) for r in rows),
                                   window)
    trial_sections.window_views(shown)
    what_if_part.what_if_section(
        shown, planted=[e for es in planted_electrodes(f.fs.dataset, f.fs.target).values()
                        for e in es])


if __name__ == "__main__":  # run as a page by st.navigation (app/Home.py)
    render()
