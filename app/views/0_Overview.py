"""Overview: what the dashboard shows, what is loaded, and the pages."""

import common
import numpy as np
import streamlit as st
from choices import SOURCE_LABELS
from serving import plain, plain_message

from rbt.data.demo import PLANTED_EFFECTS
from rbt.provenance import training_note


def data_labels(f) -> str:
    """The labels the data themselves have (a recording's annotations, a dataset's rated
    classes), with how many windows carry each, and the model's classes when they differ."""
    fs = f.fs
    if fs.y is None or not fs.class_names:
        text = "without labels"
    else:
        counts = np.bincount(np.asarray(fs.y, dtype=int), minlength=len(fs.class_names))
        what = ("by its annotations" if not fs.target or fs.target.startswith("annotation")
                else f"{fs.target}{'/' + fs.task if fs.task else ''}")
        text = (f"labelled {what}: " + ", ".join(f"{c} ({n} windows)" for c, n in
                                                   zip(fs.class_names, counts)))
    if list(fs.class_names or []) != list(f.class_names):
        text += f"; the model predicts {', '.join(map(str, f.class_names))}"
    return plain(text)


def render() -> None:
    """The Overview page (the default page of app/Home.py)."""
    loaded = common.setup("Overview", "RBTransformer: what the model looks at", data_only=True)
    st.markdown(
        "Each electrode's EEG window becomes a token of four **band differential entropy** (BDE) "
        "values (theta, alpha, beta, gamma). Stacked attention blocks let every electrode look at "
        "every other one, and a small network turns the result into a prediction, here of a rating "
        "such as valence.")
    if loaded is None:
        return  # not st.stop(): Home.py writes the URL after the page
    f = loaded.fit
    if loaded.choice.source == "demo":
        st.info(common.SYNTHETIC_NOTE, icon=":material/science:")
    cfg = f.model.config
    card = f.card
    cols = st.columns(5)
    cols[0].metric("Windows", f"{len(f.fs):,}")
    cols[1].metric("Subjects", f.table["subject"].nunique())
    cols[2].metric("Electrodes", len(f.ch_names if loaded.runnable else f.fs.ch_names))
    cols[3].metric("Blocks × heads", f"{cfg.depth} × {cfg.heads}")
    cv = card.scores.accuracy if card.scores else None
    protocol = plain(card.scores.protocol) if card.scores else ""
    measured_on = plain(card.dataset) if card.dataset else "data its card does not name"
    # the card's score is about the data it was measured on; only there is it this data's score
    same_data = bool(card.dataset) and card.dataset == f.fs.dataset
    if cv and same_data:
        cols[4].metric("Cross-validated accuracy", f"{cv.mean:.1%}",
                       help=f"Measured on {measured_on} under {protocol}, from the "
                            "checkpoint's model card")
    elif cv:
        cols[4].metric(f"CV accuracy on {measured_on}", f"{cv.mean:.1%}",
                       help=f"The checkpoint's cross-validated accuracy, measured on "
                            f"{measured_on} under {protocol}: not an accuracy on these data")
    trained = (f", trained on {plain(card.dataset)} for {plain(card.target)}/{plain(card.task)}"
               if card.target else "")
    honest = (f"; cross-validated accuracy {cv.mean:.1%} ± {cv.std:.1%} under {protocol}, "
              f"measured on {measured_on}" + ("" if same_data else
                                               " (not an accuracy on these data)")
              if cv else "")
    model = ("the shipped demo checkpoint"
             if loaded.model_path == str(common.demo_checkpoint())
             else plain_message(loaded.model_path))
    st.markdown(
        f"**Data:** {SOURCE_LABELS[loaded.choice.source]}, {data_labels(f)}.  \n"
        f"**Model:** {model}{trained}{honest}.")
    if cv and not same_data:
        st.caption(f"The checkpoint's cross-validated accuracy ({cv.mean:.1%}) was measured on "
                   f"{measured_on} under {protocol}: it is not an accuracy on these data. The "
                   "Across trials page scores the model on these data's labels where they are "
                   "the model's classes.")
    seen_note = training_note(f.in_training, where="") if f.y is not None else None
    if seen_note:
        st.caption(f"{seen_note[0].upper()}{seen_note[1:]}. The Learn page shows how the "
                   "evaluation protocol changes accuracy.")
    elif loaded.choice.source == "demo" and card.dataset == "demo":
        st.caption("The shipped checkpoint was trained on all demo windows, so its accuracy on "
                   "them (Across trials page) is a training score; the cross-validated number is "
                   "the honest one (the Learn page compares evaluation protocols).")
    if not loaded.runnable:
        st.info("This model cannot read these data (see above), so there are no predictions "
                "or explanations. One trial and Across trials still show the data's own band "
                "maps, band power over time and group means by label.", icon=":material/info:")
    if loaded.choice.source == "demo":
        st.subheader("Where the demo's effects are planted")
        st.dataframe([{"target": t, "class": c, "band": e["band"],
                       "electrodes": ", ".join(e["channels"])}
                      for t, classes in PLANTED_EFFECTS.items() for c, e in classes.items()],
                     hide_index=True)
    st.subheader("Pages")
    st.page_link("views/1_One_trial.py", icon=":material/search:",
                 label="One trial: prediction, BDE maps, attention and attributions for one window")
    st.page_link("views/2_Across_trials.py", icon=":material/grid_view:",
                 label="Across trials: predictions table, confusion matrix, accuracy per trial, "
                       "class and subject means and their differences")
    st.page_link("views/3_Learn.py", icon=":material/school:",
                 label="Learn: from raw EEG to a prediction, step by step")


if __name__ == "__main__":  # run as a page by st.navigation (app/Home.py)
    render()
