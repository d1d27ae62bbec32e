"""Across trials and subjects: predictions table, confusion matrix, accuracy per trial, and
class- or subject-mean maps of BDE, attention and attributions, with their differences."""

import across_explain
import across_parts as parts
import common
import data_views
import group_work
import numpy as np
import pandas as pd
import state
import streamlit as st
from selection import filter_frame, group_labels, own_labels
from serving import plain, plain_message
from trial_sections import baseline_label, level_signed

from rbt.data.demo import planted_electrodes
from rbt.explain import (
    BASELINES,
    METHOD_REGISTRY,
    attention_received,
    compare_groups,
    group_attention_mean,
)
from rbt.explain.groups import PREDICTED
from rbt.viz.attention import attention_heatmap
from rbt.viz.prediction import accuracy_per_trial, confusion_matrix_figure
from rbt.viz.topomap import HIGHLIGHT, band_topomaps, topomap_row

CHUNK = 32  # windows per cached attribution call: the progress bar's step
ATTR_STOP = "_x_attr_stopped"  # set by the Stop buttons
PASS_STOP = "_x_pass_stopped"  # the one pass over every window (predictions and attention)
OUTCOMES = ["all", "correct", "wrong"]
SIGNIFICANT = "#f0b400"  # gold rings: a significant cluster (red rings: planted effects)
MAPS = ["BDE", "attention", "attribution"]
ONE_TRIAL = "views/1_One_trial.py"  # the page's path as app/Home.py names it


def _attributions_with_progress(loaded, rows, method, baseline, label):
    """Attributions of ``rows`` in chunks (each cached), with a progress bar, an estimate of
    the time left and a Stop button (:func:`group_work.run_chunks`)."""
    chunks = [rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK)]
    found = group_work.run_chunks(
        chunks, lambda c: common.attributions(*loaded.key, c, method, baseline, "predicted"),
        f"Computing {label} for {len(rows)} windows", [len(c) for c in chunks], ATTR_STOP)
    return np.concatenate(found)


def _stopped(key: str, what: str, kept: bool = True) -> None:
    """Say that ``what`` was stopped, with a button to go on (the chunks done are kept, or
    for a pass over every window, it starts again)."""
    st.info(f"Stopped: {what}. " + ("What was done is kept." if kept else
                                     "Going on starts again from the first window."),
            icon=":material/stop_circle:")
    st.button("Go on", key=f"{key}_resume", icon=":material/play_circle:",
              on_click=lambda: st.session_state.pop(key, None))


def _roomy_chart(fig, *args, **kwargs) -> None:
    """common.chart for a row of maps, with room for its context line (parts.with_room)."""
    common.chart(parts.with_room(fig), *args, **kwargs)


def _difference_test(loaded, grouping: str, by: str, a: str, b: str, attributions=None):
    """The test of A against B on the BDE, or on ``attributions`` (the sampled windows'
    ``(values, rows, method, baseline)``); a toggle chooses within subjects. None where the
    groups are the model's own predictions (testing them would be circular)."""
    if grouping == PREDICTED:
        return None
    state.selection().resolve("x_within", [True, False])
    st.session_state.setdefault("x_within", True)
    within = st.toggle("Test within subjects", key="x_within", disabled=by == "subject",
                       help="Remove each subject's mean before testing, so that the test "
                            "compares the groups inside each person, not who is in which "
                            "group (subjects differ more than emotions do).") \
        and by != "subject"
    with st.spinner(f"Testing where {a} and {b} differ (1,000 permutations)…"):
        if attributions is None:
            return group_work.group_test(*loaded.key[:3], grouping, a, b, within)
        values, rows, method, baseline = attributions
        return group_work.attribution_test(loaded.key, tuple(rows), method, baseline,
                                           grouping, a, b, within, values)


def _opener(fit, shown):
    """The table's on-select callback: a clicked row becomes the One trial selection (its
    subject, trial and window), and the page then opens One trial (:func:`render`)."""
    def open_clicked() -> None:
        event = st.session_state.get("x_table")
        row = parts.clicked_row(shown, event.get("selection") if event else None)
        if row is not None:
            st.session_state.update(parts.window_of(fit.table, row, fit.fs.trial_rows))
            st.session_state["_x_open"] = True
    return open_clicked


def render() -> None:
    """The Across trials page (drawn under the sidebar that Home.py draws)."""
    loaded = common.setup("Across trials", "Across trials and subjects", data_only=True)
    if loaded is None:
        return  # not st.stop(): Home.py writes the URL after the page
    if not loaded.runnable:  # the model cannot read these data: their own views
        data_views.group_means(loaded)
        return
    f = loaded.fit
    work = group_work.table_pass(loaded, "Predicting every window and averaging its attention "
                                  "(one pass for these data and this model)", PASS_STOP)
    done = work.result  # None while the pass goes on: the table is drawn with what is known
    if work.stopped:
        _stopped(PASS_STOP, "predicting every window and averaging its attention", kept=False)
        group_work.open_predictions(loaded, PASS_STOP)
    pred = None if done is None else done.pred
    frame = (common.prediction_table(*loaded.key, done.probs, pred) if done is not None
             else group_work.table_so_far(loaded, work))
    labelled = "correct" in frame  # the data have the model's labels
    scored = labelled and done is not None  # and every window is predicted
    own = own_labels(f)  # the data's own labels, when they are not the model's classes
    if own is not None:
        if "annotation" in frame and (frame["annotation"].astype(str).to_numpy() == own).all():
            frame = frame.drop(columns="annotation")  # the same labels: one column, "label"
        frame.insert(frame.columns.get_loc("predicted"), "label", own)

    # ---- predictions table -----------------------------------------------------------------------
    st.subheader("Predictions per window")
    c1, c2, c3 = st.columns([2, 2, 1])
    sel = state.selection()  # the link's filters and maps, resolved as their widgets are drawn
    sel.resolve("x_subjects", f.fs.subjects())
    subjects = c1.multiselect("Subjects", f.fs.subjects(), key="x_subjects",
                              placeholder="all subjects")
    class_col = "true" if labelled else "label" if own is not None else "predicted"
    class_names = f.fs.class_names if class_col == "label" else f.class_names
    sel.resolve("x_classes", class_names)
    classes = c2.multiselect(f"Classes ({class_col})", class_names, key="x_classes",
                             placeholder="all classes")
    sel.resolve("x_outcome", OUTCOMES)
    outcome = c3.radio("Windows", OUTCOMES, key="x_outcome",
                       disabled=not scored, help=None if done is not None else
                       "Once every window is predicted.")
    sel.show_notes()  # the link's subjects or classes that these data do not have
    shown = filter_frame(frame, subjects, classes, outcome if scored else "all",
                         class_column=class_col)
    chosen = filter_frame(frame, subjects, classes, "all", class_column=class_col)
    st.caption(parts.selection_caption(frame, shown, chosen, outcome if scored else "all")
               if done is not None else parts.predicting_caption(frame, shown, work.done))
    st.dataframe(shown, hide_index=True, height=260, key="x_table", on_select=_opener(f, shown),
                 selection_mode="single-row",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in shown.columns if c.startswith("p_") or c == "confidence"})
    st.caption("Click a row (the box at its left) to open that window on the One trial page."
               + (" label: the data's own labels (annotations), kept although the model "
                  "predicts other classes." if own is not None else ""))
    if st.session_state.pop("_x_open", False):
        st.switch_page(ONE_TRIAL)
    common.export_menu(None, "predictions", shown)

    # ---- confusion matrix and accuracy per trial -----------------------------------------------
    if done is None:
        if not work.stopped:
            st.info("The confusion matrix and the accuracy per trial are drawn when every "
                    "window is predicted (the progress above).", icon=":material/hourglass_top:")
    elif scored:
        left, right = st.columns([1, 2])
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
        if outcome != "all":  # a right/wrong filter would make both trivially 0 or 100 %
            st.caption(f"Both count every window of the chosen subjects and classes, right or "
                       f"wrong ({len(chosen):,}): the Windows filter ({outcome}) narrows the "
                       "table only.")
    elif own is not None:
        st.info(f"These data's own labels ({plain(', '.join(sorted(set(own))))}) are not the "
                f"model's classes ({plain(', '.join(f.class_names))}), so no window is scored: "
                "there is no confusion matrix or accuracy. Group by label below to compare them.")
    else:
        st.info("These data have no usable labels, so there is no confusion matrix or accuracy.")

    # ---- group means and differences ------------------------------------------------------------
    st.subheader("Means and differences")
    across_explain.explanation_section(f)
    st.caption(parts.filter_note(subjects, classes, outcome if scored else "all"))
    g1, g2, g3, g4 = st.columns(4)
    sel.resolve("x_quantity", MAPS)
    quantity = g1.radio("Map", MAPS, key="x_quantity")
    ways = ["class", "subject"] + (["label"] if own is not None else [])
    sel.resolve("x_by", ways)
    if own is not None:  # the data's own labels, rather than the model's guesses
        st.session_state.setdefault("x_by", "label")
    by = g2.radio("Group by", ways, key="x_by",
                  format_func=lambda b: "class (true)" if b == "class" and labelled else
                  "class (predicted)" if b == "class" else
                  "label (the data's own)" if b == "label" else b)
    grouping = group_work.grouping(f, by)  # its name in the pass's group sums
    if done is None and grouping == PREDICTED:
        sel.show_notes()
        st.info("The groups are the predicted classes: drawn when every window is predicted "
                "(the progress above).", icon=":material/hourglass_top:")
        return
    labels = own if by == "label" else group_labels(f, pred, by)
    # the BDE means need no model run where the groups are known without predictions
    sums = done.sums if done is not None else common.feature_group_sums(*loaded.key[:3])
    counts = sums.counts(grouping)
    groups = {"class": f.class_names, "label": f.fs.class_names}.get(by) or f.fs.subjects()
    groups = [g for g in groups if counts.get(g)]
    if len(groups) < 2:
        others = [w for w in ways if w != by]
        one = f" ({plain(groups[0])})" if groups else ""
        st.info(f"Every window here is in one {by} group{one}, so there is nothing to "
                "compare" + (f": group them by {' or '.join(others)} instead." if others else "."))
        sel.show_notes()
        return  # not st.stop(): Home.py writes the URL after the page
    # the last class first (for the demo's valence: high against low), else the first group
    first = groups[-1] if by == "class" else groups[0]
    sel.resolve("x_a", groups, default=first)
    st.session_state.setdefault("x_a", first)
    a = g3.selectbox("Group A", groups, key="x_a")
    sel.resolve("x_b", [g for g in groups if g != a])
    b = g4.selectbox("Group B", [g for g in groups if g != a], key="x_b")
    sel.show_notes()  # the link's values these data do not have
    names = [f"{a}", f"{b}", f"{a} − {b}"]
    highlight = planted_electrodes(f.fs.dataset, f.fs.target) if by == "class" else {}
    pair = f"{a} vs {b}"

    if quantity == "BDE":
        mean_a, mean_b = (sums.mean(grouping, g, "bde").astype(np.float32) for g in (a, b))
        diff = mean_a - mean_b
        # levels (no rest baseline): the two means on one sequential range, so that their
        # colours compare; the difference is signed either way
        level = level_signed(f.fs)
        both = np.concatenate([mean_a.ravel(), mean_b.ravel()])
        means_range = ((float(np.nanmin(both)), float(np.nanmax(both)))
                       if level is False and np.isfinite(both).any() else None)
        test = _difference_test(loaded, grouping, by, a, b)
        marked = [highlight, highlight, {} if test is None else
                  test.significant(f.ch_names, f.band_names)]
        for k, (name, values) in enumerate(zip(names, (mean_a, mean_b, diff))):
            _roomy_chart(band_topomaps(values, f.ch_names, f.band_names, title=f"Mean BDE: {name}",
                                       colorbar_title="BDE", highlight=marked[k],
                                       signed=True if k == 2 else level,
                                       zrange=None if k == 2 else means_range,
                                       interpolated=f.fs.interpolated,
                                       highlight_color=SIGNIFICANT if k == 2 else HIGHLIGHT),
                         f"bde_mean_{name}", common.band_frame(values, f.ch_names, f.band_names),
                         key=f"x_bde_{name}", context={"groups": pair})
        st.caption("The difference row shows where group A has more (red) or less (blue) band "
                   "power than group B." + (" On the demo data the planted electrodes are "
                                             "ringed in red in the two means." if highlight
                                             else ""))
        st.caption(parts.difference_caption(test, a, b, by))
    elif quantity == "attention":
        depth, heads = f.model.config.depth, f.model.config.heads
        h1, h2 = st.columns(2)
        sel.resolve("x_block", ["rollout"] + list(range(depth)))
        sel.resolve("x_head", ["mean"] + list(range(heads)))
        block = h1.selectbox("Block", ["rollout"] + list(range(depth)), key="x_block",
                             format_func=lambda v: "rollout (all blocks)" if v == "rollout"
                             else f"block {v + 1}")
        head = h2.selectbox("Head", ["mean"] + list(range(heads)), key="x_head",
                            disabled=block == "rollout",
                            format_func=lambda v: "mean of heads" if v == "mean"
                            else f"head {v + 1}")
        head = "mean" if block == "rollout" else head
        sel.show_notes()  # the link's block or head that this model does not have
        att = group_work.attention_pass(loaded, f"Averaging attention over {len(f.X):,} "
                                        "windows", PASS_STOP, drawn=done is None)
        if att is None:
            if st.session_state.get(PASS_STOP):
                if not work.stopped:  # the table's predictions are a file's: say it here
                    _stopped(PASS_STOP, "averaging the attention over every window",
                             kept=False)
            else:
                st.info("The attention means come from the pass over every window (the "
                        "progress " + ("above" if done is None else "here") + "): one pass "
                        "serves every block, head and grouping.",
                        icon=":material/hourglass_top:")
            return
        n = att.sums.counts(grouping)
        how = ("from the attention `rbt predict --attention` wrote, every block, head and "
               "grouping" if att.stored else
               "one pass of the model serves every block, head and grouping")
        st.caption(f"Means over every window ({how}): {n[a]:,} windows of {plain(a)}, "
                   f"{n[b]:,} of {plain(b)}.")
        mean_a, mean_b = (group_attention_mean(att.sums, grouping, g, block, head)
                          for g in (a, b))
        diff = mean_a - mean_b
        received = {n: attention_received(m) for n, m in zip(names, (mean_a, mean_b, diff))}
        what = "rollout" if block == "rollout" else f"block {block + 1}, " + (
            "mean of heads" if head == "mean" else f"head {head + 1}")
        context = {"groups": pair, "attention": what}
        # A and B share one sequential range (attention is positive); A − B is signed
        _roomy_chart(topomap_row(received, f.ch_names, scale_groups=["groups", "groups", "diff"],
                                 signed=[False, False, True],
                                 title="Attention each electrode receives (column mean)",
                                 colorbar_title="attention received", height=340,
                                 interpolated=f.fs.interpolated),
                     "attention_received_means",
                     pd.DataFrame(received, index=f.ch_names).rename_axis("electrode")
                     .reset_index(), key="x_att_received", context=context)
        common.chart(attention_heatmap(diff, f.ch_names, colorscale="RdBu_r",
                                       zrange=(-np.abs(diff).max(), np.abs(diff).max()),
                                       title=f"Attention matrix: {a} − {b}"),
                     "attention_matrix_difference",
                     {"mean_a": mean_a, "mean_b": mean_b, "difference": diff,
                      "ch_names": f.ch_names}, key="x_att_diff", context=context)
    else:
        h1, h2, h3 = st.columns(3)
        # DeepLift by default, quick for groups (a link may name another)
        st.session_state.setdefault("x_method", "deeplift")
        method = h1.selectbox("Method", list(METHOD_REGISTRY), key="x_method",
                              format_func=lambda m: METHOD_REGISTRY[m].label)
        record = METHOD_REGISTRY[method]
        baseline = h2.selectbox("Baseline", list(BASELINES), key="x_baseline",
                                format_func=lambda b: baseline_label(b, f.fs),
                                disabled=not record.uses_baseline)
        everything = h3.toggle("All windows", key="x_all",
                               help="Every window of both groups instead of a sample (slow "
                                    "methods can take minutes).")
        per_group = h3.slider("Windows per group", 10, 300, parts.DEFAULT_PER_GROUP, step=10,
                              key="x_per_group", disabled=everything,
                              help="A seeded sample of each group, drawn evenly across "
                                   "subjects, so slow methods stay quick; each selection is "
                                   "computed once.")
        strata = f.table["subject"].astype(str).to_numpy()
        rows = parts.stratified_rows(labels, strata, [a, b], None if everything else per_group)
        st.caption(record.meaning)
        st.caption(parts.sample_note(labels, rows, [a, b], everything))
        job = (loaded.key, rows, method, baseline)
        if st.session_state.pop(ATTR_STOP, False):  # the Stop button: back to Compute
            st.session_state.pop("_x_attr_job", None)
            st.info("Stopped. The windows already done are kept: computing again goes on "
                    "from there.", icon=":material/stop_circle:")
        if st.session_state.get("_x_attr_job") != job:
            st.button(f"Compute {record.label} for {len(rows)} windows",
                      key="x_compute", type="primary",
                      on_click=lambda: st.session_state.update(_x_attr_job=job))
        else:
            try:
                A = _attributions_with_progress(loaded, rows, method, baseline, record.label)
            except common.USER_ERRORS as err:
                st.error("These attributions could not be computed: "
                         f"{plain_message(err)}. Try another "
                         "method or baseline.")
            else:
                mean_a, mean_b, diff = compare_groups(A, labels[list(rows)], a, b)
                signed = record.signed()
                means = {name: {band: values[:, j] for j, band in enumerate(f.band_names)}
                         | {"total": values.sum(axis=1)}
                         for name, values in zip(names, (mean_a, mean_b, diff))}
                # the two groups' maps share one range, so equal colours are equal values
                together = parts.shared_zrange(
                    [v for name in names[:2] for v in means[name].values()], signed)
                context = {"groups": pair, "method": METHOD_REGISTRY[method].label}
                test = _difference_test(loaded, grouping, by, a, b,
                                        attributions=(A, rows, method, baseline))
                marked = [highlight, highlight, {} if test is None else
                          test.significant(f.ch_names, [*f.band_names, "total"])]
                for k, name in enumerate(names):
                    maps = means[name]
                    _roomy_chart(topomap_row(maps, f.ch_names, title=f"Mean attribution: {name}",
                                             colorbar_title="attribution", highlight=marked[k],
                                             signed=signed if k < 2 else True,
                                             zrange=together if k < 2 else None,
                                             interpolated=f.fs.interpolated,
                                             highlight_color=SIGNIFICANT if k == 2
                                             else HIGHLIGHT),
                                 f"attribution_mean_{name}",
                                 pd.DataFrame(maps, index=f.ch_names).rename_axis("electrode")
                                 .reset_index(), key=f"x_attr_{name}", context=context)
                st.caption("Attributions explain each window's predicted class. Compare the maps "
                           "of two classes to see which electrodes and bands each relies on.")
                st.caption(parts.difference_caption(test, a, b, by) + (
                    " Tested on the windows sampled above." if not everything else ""))


if __name__ == "__main__":  # run as a page by st.navigation (app/Home.py)
    render()
