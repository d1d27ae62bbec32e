"""Across trials and subjects: predictions table, confusion matrix, accuracy per trial, and
class- or subject-mean maps of BDE, attention and attributions, with their differences."""

import common
import numpy as np
import pandas as pd
import streamlit as st
from selection import filter_frame, group_labels, sample_rows
from serving import plain_message

from rbt.data.demo import planted_electrodes
from rbt.explain import BASELINES, METHOD_REGISTRY, attention_received, compare_groups
from rbt.viz.attention import attention_heatmap
from rbt.viz.prediction import accuracy_per_trial, confusion_matrix_figure
from rbt.viz.topomap import band_topomaps, topomap_row


def render() -> None:
    """The Across trials page (drawn under the sidebar that Home.py draws)."""
    loaded = common.setup("Across trials", "Across trials and subjects")
    if loaded is None:
        st.stop()
    f = loaded.fit
    frame = common.prediction_table(*loaded.key)
    _, pred = loaded.predictions()
    labelled = "correct" in frame

    # ---- predictions table -----------------------------------------------------------------------
    st.subheader("Predictions per window")
    c1, c2, c3 = st.columns([2, 2, 1])
    subjects = c1.multiselect("Subjects", f.fs.subjects(), key="x_subjects",
                              placeholder="all subjects")
    class_col = "true" if labelled else "predicted"
    classes = c2.multiselect(f"Classes ({class_col})", f.class_names, key="x_classes",
                             placeholder="all classes")
    outcome = c3.radio("Windows", ["all", "correct", "wrong"], key="x_outcome",
                       disabled=not labelled)
    shown = filter_frame(frame, subjects, classes, outcome if labelled else "all",
                              class_column=class_col)
    if labelled and len(shown):
        seen = int(shown["in_training"].sum()) if "in_training" in shown else 0
        st.caption(f"{len(shown)} of {len(frame)} windows; accuracy in this selection "
                   f"{shown['correct'].mean():.1%}"
                   + (f" ({'all' if seen == len(shown) else seen} from trials the model was "
                      "trained on: a training score, not a held-out one)." if seen else "."))
    else:
        st.caption(f"{len(shown)} of {len(frame)} windows.")
    st.dataframe(shown, hide_index=True, height=260, key="x_table",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in shown.columns if c.startswith("p_") or c == "confidence"})
    common.export_menu(None, "predictions", shown)

    # ---- confusion matrix and accuracy per trial -----------------------------------------------
    if labelled:
        left, right = st.columns([1, 2])
        chosen = filter_frame(frame, subjects, classes, "all", class_column=class_col)
        idx = chosen.index.to_numpy()
        with left:
            normalize = st.toggle("Rates per true class", key="x_normalize")
            fig = confusion_matrix_figure(f.y[idx], pred[idx], f.class_names,
                                          normalize=normalize, title="Confusion matrix")
            common.chart(fig, "confusion_matrix",
                         pd.crosstab(chosen["true"], chosen["predicted"]).reset_index(),
                         key="x_confusion")
        with right:
            per_trial = chosen.groupby(["subject", "trial"])["correct"].mean().reset_index()
            common.chart(accuracy_per_trial(chosen, title="Accuracy per trial"),
                         "accuracy_per_trial",
                         per_trial.rename(columns={"correct": "accuracy"}), key="x_per_trial")
    else:
        st.info("These data have no usable labels, so there is no confusion matrix or accuracy.")

    # ---- group means and differences ------------------------------------------------------------
    st.subheader("Means and differences")
    g1, g2, g3, g4 = st.columns(4)
    quantity = g1.radio("Map", ["BDE", "attention", "attribution"], key="x_quantity")
    by = g2.radio("Group by", ["class", "subject"], key="x_by",
                  format_func=lambda b: "class (true)" if b == "class" and labelled else b)
    labels = group_labels(f, pred, by)
    groups = f.class_names if by == "class" else f.fs.subjects()
    groups = [g for g in groups if (labels == g).any()]
    if len(groups) < 2:
        st.info("There is only one group here, so there is nothing to compare.")
        st.stop()
    a = g3.selectbox("Group A", groups, index=len(groups) - 1 if by == "class" else 0, key="x_a")
    b = g4.selectbox("Group B", [g for g in groups if g != a], key="x_b")
    names = [f"{a}", f"{b}", f"{a} − {b}"]
    highlight = planted_electrodes(f.fs.dataset, f.fs.target) if by == "class" else {}

    if quantity == "BDE":
        mean_a, mean_b, diff = compare_groups(f.X, labels, a, b)
        for name, values in zip(names, (mean_a, mean_b, diff)):
            common.chart(band_topomaps(values, f.ch_names, f.band_names, title=f"Mean BDE: {name}",
                                       colorbar_title="BDE", highlight=highlight),
                         f"bde_mean_{name}", common.band_frame(values, f.ch_names, f.band_names),
                         key=f"x_bde_{name}")
        st.caption("The difference row shows where group A has more (red) or less (blue) band "
                   "power than group B. On the demo data the planted electrodes are ringed.")
    elif quantity == "attention":
        depth, heads = f.model.config.depth, f.model.config.heads
        h1, h2 = st.columns(2)
        block = h1.selectbox("Block", ["rollout"] + list(range(depth)), key="x_block",
                             format_func=lambda v: "rollout (all blocks)" if v == "rollout"
                             else f"block {v + 1}")
        head = h2.selectbox("Head", ["mean"] + list(range(heads)), key="x_head",
                            disabled=block == "rollout",
                            format_func=lambda v: "mean of heads" if v == "mean"
                            else f"head {v + 1}")
        head = "mean" if block == "rollout" else head
        with st.spinner(f"Averaging attention over all {len(f.X)} windows (once per block, head "
                        "and grouping)…"):
            means = common.group_attention(*loaded.key, block, head, by)
        mean_a, mean_b = means[a], means[b]
        diff = mean_a - mean_b
        received = {n: attention_received(m) for n, m in zip(names, (mean_a, mean_b, diff))}
        common.chart(topomap_row(received, f.ch_names, shared_scale=False,
                                 colorscale=["Viridis", "Viridis", "RdBu_r"],
                                 title="Attention each electrode receives (column mean)",
                                 colorbar_title="attention", height=320),
                     "attention_received_means",
                     pd.DataFrame(received, index=f.ch_names).rename_axis("electrode")
                     .reset_index(), key="x_att_received")
        common.chart(attention_heatmap(diff, f.ch_names, colorscale="RdBu_r",
                                       zrange=(-np.abs(diff).max(), np.abs(diff).max()),
                                       title=f"Attention matrix: {a} − {b}"),
                     "attention_matrix_difference",
                     {"mean_a": mean_a, "mean_b": mean_b, "difference": diff,
                      "ch_names": f.ch_names}, key="x_att_diff")
    else:
        h1, h2, h3 = st.columns(3)
        method = h1.selectbox("Method", list(METHOD_REGISTRY), key="x_method",
                              index=list(METHOD_REGISTRY).index("deeplift"),
                              format_func=lambda m: METHOD_REGISTRY[m].label)
        record = METHOD_REGISTRY[method]
        baseline = h2.selectbox("Baseline", list(BASELINES), key="x_baseline",
                                format_func=lambda b: BASELINES[b].label,
                                disabled=not record.uses_baseline)
        per_group = h3.slider("Windows per group", 10, 300, 60, step=10, key="x_per_group",
                              help="A seeded random sample of each group, so slow methods stay "
                                   "quick; each selection is computed once.")
        rows = sample_rows(labels, [a, b], per_group)
        st.caption(record.meaning)
        job = (loaded.key, rows, method, baseline)
        if st.session_state.get("_x_attr_job") != job:
            st.button(f"Compute {record.label} for {len(rows)} windows",
                      key="x_compute", type="primary",
                      on_click=lambda: st.session_state.update(_x_attr_job=job))
        else:
            try:
                with st.spinner(f"Computing {record.label} for {len(rows)} windows…"):
                    A = common.attributions(*loaded.key, rows, method, baseline, "predicted")
            except common.USER_ERRORS as err:
                st.error("These attributions could not be computed: "
                         f"{plain_message(err)}. Try another "
                         "method or baseline.")
            else:
                mean_a, mean_b, diff = compare_groups(A, labels[list(rows)], a, b)
                for name, values in zip(names, (mean_a, mean_b, diff)):
                    maps = {band: values[:, j] for j, band in enumerate(f.band_names)}
                    maps["total"] = values.sum(axis=1)
                    common.chart(topomap_row(maps, f.ch_names, title=f"Mean attribution: {name}",
                                             colorbar_title="attribution", highlight=highlight),
                                 f"attribution_mean_{name}",
                                 pd.DataFrame(maps, index=f.ch_names).rename_axis("electrode")
                                 .reset_index(), key=f"x_attr_{name}")
                st.caption("Attributions explain each window's predicted class. Compare the maps "
                           "of two classes to see which electrodes and bands each relies on.")


if __name__ == "__main__":  # run as a page by st.navigation (app/Home.py)
    render()
