"""Overview: what the dashboard shows, what is loaded, and the pages."""

import common
import streamlit as st
from choices import SOURCE_LABELS
from serving import plain, plain_message

from rbt.data.demo import PLANTED_EFFECTS
from rbt.provenance import training_note


def render() -> None:
    """The Overview page (the default page of app/Home.py)."""
    loaded = common.setup("Overview", "RBTransformer: what the model looks at")
    st.markdown(
        "Each electrode's EEG window becomes a token of four **band differential entropy** (BDE) "
        "values (theta, alpha, beta, gamma). Stacked attention blocks let every electrode look at "
        "every other one, and a small network turns the result into a prediction, here of a rating "
        "such as valence.")
    if loaded is None:
        st.stop()
    f = loaded.fit
    if loaded.choice.source == "demo":
        st.info(common.SYNTHETIC_NOTE, icon=":material/science:")
    cfg = f.model.config
    card = f.card
    cols = st.columns(5)
    cols[0].metric("Windows", f"{len(f.X):,}")
    cols[1].metric("Subjects", f.table["subject"].nunique())
    cols[2].metric("Electrodes", len(f.ch_names))
    cols[3].metric("Blocks × heads", f"{cfg.depth} × {cfg.heads}")
    cv = card.scores.accuracy if card.scores else None
    protocol = plain(card.scores.protocol) if card.scores else ""
    if cv:
        cols[4].metric("Cross-validated accuracy", f"{cv.mean:.1%}",
                       help=f"{protocol}, from the checkpoint's model card")
    trained = (f", trained on {plain(card.dataset)} for {plain(card.target)}/{plain(card.task)}"
               if card.target else "")
    honest = (f"; cross-validated accuracy {cv.mean:.1%} ± {cv.std:.1%} under {protocol}"
              if cv else "")
    model = ("the shipped demo checkpoint"
             if loaded.model_path == str(common.demo_checkpoint())
             else plain_message(loaded.model_path))
    labels = plain(f"{f.fs.target or 'without labels'}{'/' + f.fs.task if f.fs.task else ''} "
                   f"({', '.join(map(str, f.class_names))})")
    st.markdown(
        f"**Data:** {SOURCE_LABELS[loaded.choice.source]}, labelled {labels}.  \n"
        f"**Model:** {model}{trained}{honest}.")
    seen_note = training_note(f.in_training, where="") if f.y is not None else None
    if seen_note:
        st.caption(f"{seen_note[0].upper()}{seen_note[1:]}. The Learn page shows how the "
                   "evaluation protocol changes accuracy.")
    elif loaded.choice.source == "demo" and card.dataset == "demo":
        st.caption("The shipped checkpoint was trained on all demo windows, so its accuracy on "
                   "them (Across trials page) is a training score; the cross-validated number is "
                   "the honest one (the Learn page compares evaluation protocols).")
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
