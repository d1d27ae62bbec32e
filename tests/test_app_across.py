"""AppTest tests for the Across trials page's group maps, filter notes, sampled attributions
and table-row jump, and for what Overview says about the checkpoint's accuracy (the real app
on the demo data with the shipped checkpoint, and a real recording)."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import formats as F
import numpy as np
import pandas as pd
import pytest
import test_app
from test_app import ACROSS, TRIAL, app, assert_fine, by_title, traces, unescape

from rbt.data.deap import EEG_CHANNELS
from rbt.explain import METHOD_REGISTRY

demo_cache = test_app.demo_cache  # its autouse fixture: the demo cache, the server address
parts = importlib.import_module("across_parts")  # an app module: test_app put app/ on sys.path
background = importlib.import_module("background")


def ranges(fig: dict) -> list[tuple[str, float, float]]:
    """Each map's colour axis and its (cmin, cmax)."""
    out = []
    for t in traces(fig, "map"):
        axis = fig["layout"][t["coloraxis"]]
        out.append((t["coloraxis"], axis["cmin"], axis["cmax"]))
    return out


def settle(at, seconds: float = 120):
    """Rerun while a pass over every window is still drawing its progress (it runs in the
    background; the browser's page polls it)."""
    end = time.monotonic() + seconds
    while at.get("progress") and time.monotonic() < end:
        time.sleep(0.3)
        at.run()
    return at


def captions(at) -> str:
    return unescape(" ".join(c.value for c in at.caption))


def test_attention_received_groups_share_a_positive_range_and_the_difference_is_signed():
    at = app(ACROSS)
    settle(at.radio(key="x_quantity").set_value("attention").run())
    assert_fine(at)
    fig = by_title(at, "Attention each electrode receives")
    (ax_a, lo_a, hi_a), (ax_b, lo_b, hi_b), (ax_d, lo_d, hi_d) = ranges(fig)
    assert ax_a == ax_b != ax_d and (lo_a, hi_a) == (lo_b, hi_b)
    assert lo_a >= 0  # attention received is positive: a sequential scale, not one about 0
    assert lo_d == pytest.approx(-hi_d)
    assert fig["layout"][ax_a]["colorbar"]["title"]["text"] == "attention received"
    # the context (groups, attention) is under the title and in the export names
    assert "groups high vs low" in fig["layout"]["title"]["subtitle"]["text"]
    assert fig["layout"]["margin"]["t"] >= 95  # room for it above the maps' own titles


def _ringed(fig: dict, colour: str) -> list[set[str]]:
    """Each band map's electrodes ringed in ``colour`` (the sensors trace of each subplot)."""
    return [{c for c, ring in zip(t["text"], t["marker"]["line"]["color"]) if ring == colour}
            for t in traces(fig, "sensors")]


def test_the_difference_map_rings_where_a_trial_level_test_finds_the_groups_differ():
    at = app(ACROSS)
    assert_fine(at)
    diff = by_title(at, "Mean BDE: high − low")
    theta, alpha, beta, gamma = _ringed(diff, "#f0b400")  # gold: significant clusters
    assert _ringed(by_title(at, "Mean BDE: high"), "#d62728")[0] == {"F3", "AF3", "F7"}
    assert not any(_ringed(diff, "#d62728"))  # red is for the planted ones, in the means
    # the demo plants valence in frontal theta (left) and alpha (right): the test finds both
    assert {"F3", "AF3", "F7"} <= theta and {"F4", "AF4", "F8"} <= alpha
    assert not beta and not gamma
    said = captions(at)
    assert "Ringed in gold on the difference row: electrodes in clusters where the trial " \
        "means of " \
        "high and low differ (p < 0.05): MNE's cluster permutation test per band, 1,000 " \
        "permutations, on 40 trials of high and 40 of low" in said
    assert "each of 5 subjects' own mean removed" in said
    assert at.toggle(key="x_within").value is True
    at.toggle(key="x_within").set_value(False).run()
    assert "subjects not separated, so who is in which group counts too" in captions(at)
    assert at.query_params["within"] == "0"  # in the link, as the other choices
    # subjects against each other: the subjects are the groups, tested as they are
    at.radio(key="x_by").set_value("subject").run()
    assert_fine(at)
    assert at.toggle(key="x_within").disabled
    assert "subjects not separated: the groups are subjects" in captions(at)
    assert by_title(at, "Mean BDE: s01 − s02")


def test_group_attributions_are_tested_on_the_sampled_windows_trials():
    import re

    at = app(ACROSS)
    at.radio(key="x_quantity").set_value("attribution").run()
    at.button(key="x_compute").click().run()
    assert_fine(at)
    diff = by_title(at, "Mean attribution: high − low")
    rings = _ringed(diff, "#f0b400")
    assert len(rings) == 5 and {"F3", "AF3", "F7"} <= rings[0]  # theta, where it is planted
    said = captions(at)
    found = re.search(r"on (\d+) trials of high and (\d+) of low \(one mean per trial", said)
    assert found and 0 < int(found[1]) <= 40 and 0 < int(found[2]) <= 40, said
    assert "Tested on the windows sampled above." in said


@pytest.mark.parametrize("method, signed", [("deeplift", True), ("saliency", False)])
def test_group_attributions_share_one_range_on_a_bounded_stratified_sample(method, signed):
    at = app(ACROSS)
    at.radio(key="x_quantity").set_value("attribution").run()
    at.selectbox(key="x_method").set_value(method).run()
    at.slider(key="x_per_group").set_value(20).run()
    # the sample's size is said before anything is computed
    assert "20 of 720 windows of high, 20 of 720 windows of low" in captions(at)
    assert at.button(key="x_compute").label.endswith("for 40 windows")
    at.button(key="x_compute").click().run()
    assert_fine(at)
    # computed in two chunks behind a progress bar and a Stop button, both gone once done
    assert not [b for b in at.button if b.key == "x_stop"]
    maps = [by_title(at, f"Mean attribution: {n}") for n in ("high", "low", "high − low")]
    (ra,), (rb,), (rd,) = ({r[1:] for r in ranges(f)} for f in maps)
    assert ra == rb  # one range for the two groups' maps
    assert (ra[0] == pytest.approx(-ra[1])) is signed  # saliency is unsigned: not about 0
    if not signed:
        assert ra[0] >= 0
    assert rd[0] == pytest.approx(-rd[1])  # a difference is signed
    label = METHOD_REGISTRY[method].label  # the picker's word, not the code name
    assert f"method {label}" in maps[0]["layout"]["title"]["subtitle"]["text"]
    # every window instead of the sample
    at.toggle(key="x_all").set_value(True).run()
    assert "Means over all windows: 720 of 720 windows of high" in captions(at)
    assert at.slider(key="x_per_group").disabled


def test_means_say_that_the_table_filters_do_not_apply():
    at = app(ACROSS)
    assert "the table's filters do not apply" in captions(at)
    at.multiselect(key="x_subjects").set_value(["s02"]).run()
    at.radio(key="x_outcome").set_value("wrong").run()
    assert_fine(at)
    assert ("the table's filters (subjects, wrong windows only) do not apply to them"
            in captions(at))


def test_wrong_filter_counts_windows_instead_of_a_zero_accuracy():
    at = app(ACROSS)
    at.radio(key="x_outcome").set_value("wrong").run()
    assert_fine(at)
    n = len(at.dataframe[0].value)
    text = captions(at)
    assert "accuracy in this selection 0.0%" not in text
    assert f"{n} wrong window" in text and "of 1440 in the chosen subjects and classes" in text


def test_selection_caption_and_stratified_rows_without_the_app():
    frame = pd.DataFrame({"correct": [True, False, False, True], "subject": list("aabb")})
    shown = frame[~frame["correct"]]
    assert parts.selection_caption(frame, shown, frame, "wrong") == (
        "2 wrong windows of 4 in the chosen subjects and classes (accuracy there 50.0%).")
    assert parts.selection_caption(frame, shown[:1], frame[:2], "wrong") == (
        "1 wrong window of 2 in the chosen subjects and classes (accuracy there 50.0%; 4 "
        "windows in all).")
    labels = np.array(["x"] * 90 + ["y"] * 10)
    strata = np.array(["s1"] * 80 + ["s2"] * 10 + ["s1"] * 10)
    rows = parts.stratified_rows(labels, strata, ["x", "y"], 6)
    assert len(rows) == 12 and rows == parts.stratified_rows(labels, strata, ["x", "y"], 6)
    # the small subject s2 gets half of group x's sample although it has 1/9 of its windows
    assert sum(strata[r] == "s2" for r in rows if labels[r] == "x") == 3


def test_a_clicked_table_row_opens_that_window_on_one_trial():
    """AppTest cannot click a dataframe row, so the handler's pieces are run on the page's
    real table with a selection as Streamlit hands it over, and the selection they make is
    then opened on the real One trial page."""
    from rbt.data import load_features

    at = app(ACROSS)
    at.radio(key="x_outcome").set_value("wrong").run()
    shown = at.dataframe[0].value  # the rows shown, indexed by their rows in the fit's table
    fs = load_features("demo", target="valence", task="binary", progress=False)
    assert parts.clicked_row(shown, {"rows": []}) is None
    pos = len(shown) // 2
    row = parts.clicked_row(shown, {"rows": [pos], "columns": []})
    assert row != pos  # the filtered table's positions are not the fit's rows
    where = ["subject", "session", "trial", "window"]
    assert fs.table[where].iloc[row].astype(str).tolist() == \
        shown[where].iloc[pos].astype(str).tolist()
    chosen = parts.window_of(fs.table, row, fs.trial_rows)
    assert chosen["sel_subject"] == str(fs.table["subject"].iloc[row])
    assert fs.trial_rows(chosen["sel_subject"], *chosen["sel_trial"])[chosen["sel_window"]] == row
    for key, value in chosen.items():
        at.session_state[key] = value
    at.switch_page(TRIAL).run()
    assert_fine(at)
    assert at.selectbox(key="sel_subject").value == chosen["sel_subject"]
    assert at.selectbox(key="sel_trial").value == chosen["sel_trial"]
    assert at.slider(key="sel_window").value == chosen["sel_window"]
    assert ":red-background" in " ".join(m.value for m in at.markdown)  # a wrong window
# --------------------------------------------------------------------------------------------
# Overview: the checkpoint's accuracy and the data's own labels


def test_overview_names_what_the_checkpoint_accuracy_was_measured_on():
    at = app()
    assert_fine(at)
    metric = next(m for m in at.metric if m.label == "Cross-validated accuracy")
    assert "demo" in metric.help and "trial-kfold" in unescape(metric.help)
    text = unescape(" ".join(m.value for m in at.markdown))
    assert "measured on demo" in text


def test_overview_says_a_recording_is_not_what_the_accuracy_was_measured_on(tmp_path):
    raw = F.make_raw(EEG_CHANNELS, seconds=40,
                     annotations=[(1, 12, "calm"), (16, 12, "tense"), (30, 8, "calm")])
    fif = F.save_fif(raw, tmp_path / "session_raw.fif").read_bytes()
    at = app()
    at.selectbox(key="source").set_value("raw").run()
    at.file_uploader(key="upload").set_value([("session_raw.fif", fif, "application/x")]).run()
    assert not at.exception, [e.message for e in at.exception]
    assert "Cross-validated accuracy" not in [m.label for m in at.metric]
    text = unescape(" ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption))
    assert "not an accuracy on these data" in text
    assert "calm (" in text and "tense (" in text  # the recording's own labels
    assert "labelled by its annotations" in text


# --------------------------------------------------------------------------------------------
# an rbt explain file, opened on Across trials


@pytest.fixture
def explain_file(demo_cache, tmp_path):
    """Saliency and attention of two demo subjects, written by the real `rbt explain`."""
    from rbt.cli import main

    out = tmp_path / "explained.npz"
    shipped = Path(test_app.HOME).parents[1] / "assets" / "demo-checkpoint"
    assert main(["explain", "--model", str(shipped), "--source", "demo",
                 "--method", "saliency", "--attention", "--subjects", "s01", "s02",
                 "--device", "cpu", "--out", str(out)]) == 0
    return out


def test_an_explain_file_gives_group_maps_at_once(explain_file, tmp_path):
    at = app(ACROSS)
    at.radio(key="x_ex_how").set_value("Path on this machine").run()
    at.text_input(key="x_ex_path").input(str(explain_file)).run()
    assert_fine(at)
    assert not at.warning  # the file's model is the loaded one
    high, low = (by_title(at, f"Mean attribution from the file: {g}") for g in ("high", "low"))
    assert {r[1:] for r in ranges(high)} == {r[1:] for r in ranges(low)}  # one shared range
    assert ranges(high)[0][1] >= 0  # saliency is unsigned
    diff = by_title(at, "Mean attribution from the file: high − low")
    assert all(lo == pytest.approx(-hi) for _, lo, hi in ranges(diff))
    assert "576 in the file" in captions(at)
    at.selectbox(key="x_ex_by").set_value("subject").run()
    at.radio(key="x_ex_values").set_value("rollout").run()
    assert_fine(at)
    assert by_title(at, "Attention each electrode receives (rollout")
    # the same file uploaded, with its electrodes reordered: drawn, with a warning
    with np.load(explain_file) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["ch_names"] = arrays["ch_names"][::-1]
    other = tmp_path / "reordered.npz"
    np.savez(other, **arrays)
    at.radio(key="x_ex_how").set_value("Upload").run()
    at.file_uploader(key="x_ex_upload").set_value(
        [("reordered.npz", other.read_bytes(), "application/octet-stream")]).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("its electrodes are in another order" in unescape(w.value) for w in at.warning)
    # a file that is not an rbt explain file says so
    at.file_uploader(key="x_ex_upload").set_value(
        [("notes.npz", b"not a zip file", "application/octet-stream")]).run()
    assert not at.exception
    assert any("could not be read as an rbt explain file" in unescape(e.value) for e in at.error)


def test_a_recordings_own_labels_stay_a_column_and_a_grouping(tmp_path):
    raw = F.make_raw(EEG_CHANNELS, seconds=40,
                     annotations=[(1, 12, "calm"), (16, 12, "tense"), (30, 8, "calm")])
    fif = F.save_fif(raw, tmp_path / "session_raw.fif").read_bytes()
    at = app()
    at.selectbox(key="source").set_value("raw").run()
    at.file_uploader(key="upload").set_value([("session_raw.fif", fif, "application/x")]).run()
    # One trial: the window's own label, said not to be scored, and on the timeline
    at.switch_page(TRIAL).run()
    assert not at.exception, [e.message for e in at.exception]
    said = " ".join(unescape(m.value) for m in at.markdown)
    assert "**Label:** calm" in said and "no usable labels" not in said
    assert "not one of the model's classes (low, high), so it is not scored" in " ".join(
        unescape(c.value) for c in at.caption)
    timeline = by_title(at, "This trial, window by window")
    assert "true: calm" in str(timeline["layout"]["annotations"])
    at.switch_page(ACROSS).run()
    assert not at.exception, [e.message for e in at.exception]
    table = at.dataframe[0].value
    assert at.radio(key="x_by").value == "label"  # its own labels, not the model's guesses
    assert set(table["label"]) == {"calm", "tense"} and "true" not in table
    assert "annotation" not in table  # the same labels are not shown twice
    assert any("own labels (calm, tense) are not the model's classes" in unescape(i.value)
               for i in at.info)
    at.multiselect(key="x_classes").set_value(["tense"]).run()
    assert set(at.dataframe[0].value["label"]) == {"tense"}
    at.radio(key="x_by").set_value("label").run()
    assert not at.exception, [e.message for e in at.exception]
    assert by_title(at, "Mean BDE: calm − tense")
    # a recording's BDE is a level: the two means on one sequential range, the difference
    # signed around 0
    calm, tense, diff = (by_title(at, f"Mean BDE: {t}")["layout"]["coloraxis"]
                         for t in ("calm", "tense", "calm − tense"))
    assert (calm["cmin"], calm["cmax"]) == (tense["cmin"], tense["cmax"])
    assert calm["cmin"] != -calm["cmax"] and diff["cmin"] == -diff["cmax"]
    # one recording is one subject: nothing to compare, and the page says what would be
    at.radio(key="x_by").set_value("subject").run()
    said = " ".join(unescape(i.value) for i in at.info)
    assert "Every window here is in one subject group" in said
    assert "group them by class or label instead" in said
    at.radio(key="x_by").set_value("label").run()
    settle(at.radio(key="x_quantity").set_value("attention").run())
    assert not at.exception, [e.message for e in at.exception]
    assert len(traces(by_title(at, "Attention each electrode receives"), "map")) == 3
    # back on the demo, the kept grouping and class filter that it has no labels for are dropped
    at.selectbox(key="source").set_value("demo").run()
    assert_fine(at)
    assert at.radio(key="x_by").value == "class" and at.multiselect(key="x_classes").value == []


def test_group_attention_shows_its_windows_and_can_be_stopped_and_resumed():
    at = app(ACROSS)
    settle(at.radio(key="x_quantity").set_value("attention").run())
    assert_fine(at)
    assert "Means over every window" in captions(at) and "720 windows of high" in captions(at)
    rollout = by_title(at, "Attention each electrode receives")
    # another block and another grouping come from the same pass's sums, drawn at once
    at.selectbox(key="x_block").set_value(1).run()
    assert_fine(at)
    assert by_title(at, "Attention each electrode receives") != rollout
    at.radio(key="x_by").set_value("subject").run()
    assert_fine(at)
    assert "288 windows of s0" in captions(at)
    # the Stop button's effect, before the pass was done: the table without predictions, no
    # maps, a note and a button to go on
    for key in [k for k in background.RESULTS._items if k[0] == "pass"]:
        background.RESULTS.pop(key)
    at.session_state["_x_pass_stopped"] = True
    at.run()
    assert_fine(at)
    assert any("Stopped: predicting every window and averaging its attention" in i.value
               for i in at.info)
    table = at.dataframe[0].value
    assert len(table) == 1440 and table["predicted"].isna().all() and table["true"].notna().all()
    assert not [f for f in test_app.figures(at) if "receives" in str(f["layout"])]
    at.button(key="_x_pass_stopped_resume").click().run()
    settle(at)
    assert_fine(at)
    assert by_title(at, "Attention each electrode receives")
    assert at.dataframe[0].value["predicted"].notna().all()
