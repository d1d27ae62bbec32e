"""The session's selection (app/state.py): one sidebar for every page, the view in the URL.

AppTest runs app/Home.py (the st.navigation entry point) with query parameters, as a link or a
reload would, and checks what is selected; changing widgets must write the URL, and values the
data do not have are left out with a note, never an error.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest
from test_app import HOME, TRIAL, assert_fine, demo_cache, unescape  # noqa: F401 (autouse)

LINK = {"subject": "s02", "trial": "3", "window": "5", "block": "2", "head": "3",
        "electrode": "Cz", "method": "saliency", "baseline": "subject_mean"}


def opened(params: dict, page: str | None = TRIAL) -> AppTest:
    """The app opened from a URL with ``params`` (a link, or a reload of that URL)."""
    at = AppTest.from_file(HOME, default_timeout=180)
    at.query_params = dict(params)
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def test_selection_from_and_to_the_url_without_streamlit():
    from state import Selection

    sel = Selection.from_url({"source": "demo", "target": "arousal", "task": "nope",
                              "method": "saliency", "trial": "2-7", "model": "shipped"})
    assert sel.values == {"source": "demo", "target_demo": "arousal", "attr_method": "saliency",
                          "x_method": "saliency", "model_kind": "Shipped demo checkpoint"}
    assert sel.pinned == {"target_demo", "attr_method"}  # the card's defaults do not override
    assert sel.pending == {"sel_trial": "2-7"}  # checked once the data's trials are known
    assert sel.notes == ["task 'nope'"]
    url = sel.url()
    assert url == {"source": "demo", "model": "shipped", "target": "arousal", "trial": "2-7",
                   "method": "saliency"}
    sel.values.update(sel_trial=(1, 3), att_block=1, att_head="mean", sel_window=0)
    sel.pending.clear()
    assert {k: sel.url()[k] for k in ("trial", "block", "head", "window")} == {
        "trial": "3", "block": "2", "head": "mean", "window": "0"}
    # a typed path is part of the view; an upload is not (it stays on the server)
    sel.values.update(source="raw", raw_how="Upload", path_raw="/data/x.edf",
                      sel_subject="patient_x")
    assert "path" not in sel.url() and "subject" not in sel.url()
    sel.values["raw_how"] = "Path on this machine"
    assert sel.url()["path"] == "/data/x.edf"


def test_the_url_sets_the_view():
    at = opened(LINK)
    assert_fine(at)
    assert at.selectbox(key="sel_subject").value == "s02"
    assert at.selectbox(key="sel_trial").value == (1, 3)
    assert at.slider(key="sel_window").value == 5
    assert at.selectbox(key="att_block").value == 1  # "block 2"
    assert at.selectbox(key="att_head").value == 2  # "head 3"
    assert at.selectbox(key="att_electrode").value == "Cz"
    assert at.selectbox(key="attr_method").value == "saliency"
    assert at.selectbox(key="attr_baseline").value == "subject_mean"
    assert any("Subject s02, trial 3, window 5 (of 0–" in c.value for c in at.caption)
    assert {k: at.query_params[k] for k in LINK} == LINK  # the URL still names the view


def test_a_link_to_home_keeps_the_view_for_the_trial_page():
    at = opened(LINK, page=None)
    assert_fine(at)
    assert at.query_params["subject"] == "s02" and at.query_params["window"] == "5"
    at.switch_page(TRIAL).run()
    assert at.selectbox(key="sel_subject").value == "s02"
    assert at.slider(key="sel_window").value == 5


def test_unknown_values_in_the_url_are_ignored_with_a_note():
    at = opened({"source": "nowhere", "subject": "s99", "trial": "x", "window": "500",
                 "block": "9", "electrode": "Zz", "method": "magic", "baseline": "zeros"},
                page=None)
    notes = " ".join(t.value for t in at.warning)  # what can be checked before the data
    at.switch_page(TRIAL).run()
    assert_fine(at)
    assert at.selectbox(key="source").value == "demo"
    assert at.selectbox(key="sel_subject").value == "s01"
    assert at.slider(key="sel_window").value == 0
    assert at.selectbox(key="att_block").value == "rollout"
    assert at.selectbox(key="attr_method").value == "integrated_gradients"
    assert at.selectbox(key="attr_baseline").value == "zeros"
    notes += " ".join(t.value for t in at.warning)
    for bad in ("source 'nowhere'", "method 'magic'", "subject 's99'", "window '500'",
                "block '9'", "electrode 'Zz'"):
        assert bad in notes, notes
    assert at.query_params["subject"] == "s01"  # the URL now names what is shown


def test_changing_widgets_writes_the_url_and_the_url_reopens_the_view():
    at = opened({})
    at.selectbox(key="sel_subject").set_value("s03").run()
    at.selectbox(key="sel_trial").set_value((1, 4)).run()
    at.slider(key="sel_window").set_value(7).run()
    at.selectbox(key="att_block").set_value(0).run()
    at.selectbox(key="attr_method").set_value("saliency").run()
    assert_fine(at)
    url = dict(at.query_params)
    assert {k: url[k] for k in ("subject", "trial", "window", "block", "method")} == {
        "subject": "s03", "trial": "4", "window": "7", "block": "1", "method": "saliency"}
    again = opened(url)  # a reload: a new session from the same URL
    assert again.selectbox(key="sel_subject").value == "s03"
    assert again.selectbox(key="sel_trial").value == (1, 4)
    assert again.slider(key="sel_window").value == 7
    assert again.selectbox(key="att_block").value == 0
    assert again.selectbox(key="attr_method").value == "saliency"


def test_a_choice_made_after_a_link_is_kept_across_pages():
    """A value a link set (through the session state API) does not come back in place of
    the user's later choice once its widget is off the page."""
    from test_app import ACROSS

    at = opened({"method": "saliency", "subject": "s02"})
    at.selectbox(key="attr_method").set_value("deeplift").run()
    at.selectbox(key="sel_subject").set_value("s04").run()
    at.switch_page(ACROSS).run()
    assert at.query_params["method"] == "deeplift"
    at.switch_page(TRIAL).run()
    assert_fine(at)
    assert at.selectbox(key="attr_method").value == "deeplift"
    assert at.selectbox(key="sel_subject").value == "s04"
    assert (at.query_params["method"], at.query_params["subject"]) == ("deeplift", "s04")


def test_one_sidebar_for_every_page_keeps_its_choices():
    at = opened({})
    at.radio(key="image_format").set_value("svg").run()
    for page in ("views/2_Across_trials.py", "views/3_Learn.py", "views/0_Overview.py", TRIAL):
        at.switch_page(page).run()
        assert_fine(at)
        assert at.radio(key="image_format").value == "svg"
        if page != "views/3_Learn.py":  # the lesson hides the data choices (test_app_learn)
            assert at.selectbox(key="source").value == "demo"


def test_an_upload_stays_across_pages_and_a_second_recording_replaces_it(tmp_path):
    import formats as F

    from rbt.data.deap import EEG_CHANNELS

    raw = F.make_raw(EEG_CHANNELS, seconds=40,
                     annotations=[(1, 12, "calm"), (16, 12, "tense"), (30, 8, "calm")])
    first = F.save_fif(raw, tmp_path / "first_raw.fif").read_bytes()
    second = F.save_fif(raw, tmp_path / "second_raw.fif").read_bytes()
    at = opened({"source": "raw"})
    at.file_uploader(key="upload").set_value([("first_raw.fif", first, "application/x")]).run()
    assert not at.exception and at.selectbox(key="sel_subject").value == "first_raw"
    for page in ("views/2_Across_trials.py", TRIAL):
        at.switch_page(page).run()
        assert not at.exception, [e.message for e in at.exception]
        assert not any("Choose the data" in i.value for i in at.info)
    assert at.selectbox(key="sel_subject").value == "first_raw"
    assert "first_raw" not in str(at.query_params)  # an upload is not part of the link
    at.file_uploader(key="upload").set_value([("first_raw.fif", first, "application/x"),
                                              ("second_raw.fif", second, "application/x")]
                                             ).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="sel_subject").value == "second_raw"


def test_a_link_to_an_uploaded_recording_says_the_upload_stayed_in_its_session():
    """A link copied while a recording was uploaded names no file (uploads are never in the
    URL): the new session says so, once, instead of a bare 'choose the data'."""
    at = opened({"source": "raw", "subject": "rec", "trial": "1", "window": "0"})
    assert not at.exception, [e.message for e in at.exception]
    said = [i.value for i in at.info]
    assert any("uploaded in another session" in s and "Upload the recording again" in s
               for s in said), said
    assert not any("Nothing is loaded" in s for s in said)  # one message, not two


def test_how_a_recording_is_read_is_in_the_url_and_back_without_streamlit():
    from state import Selection

    sel = Selection.from_url({"source": "raw", "path": "/data/rec.edf", "drop": "1",
                              "rename": "EEG 1=Fp1", "cap": "BioSemi 32", "interpolate": "1",
                              "markers": "S*", "epoch": "4", "subject_from": "sub-(\\d+)",
                              "prep": "0"})
    assert not sel.notes
    assert {k: sel.values[k] for k in ("drop_unknown", "channel_map", "cap_layout",
                                       "interpolate", "markers", "epoch", "subject_from",
                                       "apply_prep")} == {
        "drop_unknown": True, "channel_map": "EEG 1=Fp1", "cap_layout": "BioSemi 32",
        "interpolate": True, "markers": "S*", "epoch": 4.0, "subject_from": "sub-(\\d+)",
        "apply_prep": False}
    url = sel.url()
    assert {k: url[k] for k in ("drop", "rename", "cap", "interpolate", "epoch", "prep")} == {
        "drop": "1", "rename": "EEG 1=Fp1", "cap": "BioSemi 32", "interpolate": "1",
        "epoch": "4", "prep": "0"}
    # defaults are left out, and so is a reading option of another source
    sel.values.update(drop_unknown=False, channel_map="", apply_prep=True, epoch=0.0)
    assert not {"drop", "rename", "prep", "epoch"} & set(sel.url())
    sel.values["source"] = "demo"
    assert not {"cap", "interpolate", "markers"} & set(sel.url())
    # what cannot be a value of its widget is left out with a note
    bad = Selection.from_url({"source": "raw", "cap": "Nope 12", "epoch": "-3",
                              "interpolate": "maybe"})
    assert bad.notes == ["cap 'Nope 12'", "interpolate 'maybe'", "epoch '-3'"]
    assert not {"cap_layout", "epoch", "interpolate"} & set(bad.values)
    # SEED's filters box is kept and wins over the checkpoint's default
    seed = Selection.from_url({"source": "seed", "reference_filters": "1"})
    assert seed.values["seed_ref"] is True and "seed_ref" in seed.pinned
    assert seed.url()["reference_filters"] == "1"


def test_across_trials_method_follows_a_link_and_is_written_where_it_differs():
    from state import Selection

    one = Selection.from_url({"method": "saliency"})
    assert one.values["x_method"] == "saliency"  # both pages start at the link's method
    assert "across_method" not in one.url()
    one.values["x_method"] = "deeplift"
    assert one.url()["across_method"] == "deeplift"
    two = Selection.from_url(one.url())
    assert (two.values["attr_method"], two.values["x_method"]) == ("saliency", "deeplift")


def test_a_link_opens_across_trials_on_the_method_it_names():
    from test_app import ACROSS

    at = opened({"method": "saliency"}, page=ACROSS)
    at.radio(key="x_quantity").set_value("attribution").run()
    assert_fine(at)
    assert at.selectbox(key="x_method").value == "saliency"
    at.selectbox(key="x_method").set_value("gradient_shap").run()
    assert at.query_params["across_method"] == "gradient_shap"
    again = opened(dict(at.query_params), page=ACROSS)
    again.radio(key="x_quantity").set_value("attribution").run()
    assert again.selectbox(key="x_method").value == "gradient_shap"
    assert again.query_params["method"] == "saliency"


def test_a_reload_keeps_how_a_typed_recording_is_read(tmp_path):
    import formats as F

    from rbt.data.deap import EEG_CHANNELS

    names = [c for c in EEG_CHANNELS if c not in ("C3", "Pz")] + ["EEG 1"]
    path = F.save_fif(F.make_raw(names, seconds=12), tmp_path / "rec_raw.fif")
    at = opened({"source": "raw"})
    at.radio(key="raw_how").set_value("Path on this machine").run()
    at.text_input(key="path_raw").input(str(path)).run()
    at.checkbox(key="drop_unknown").check().run()
    at.checkbox(key="interpolate").check().run()
    assert_fine(at)
    url = dict(at.query_params)
    assert url["path"] == str(path) and url["drop"] == "1" and url["interpolate"] == "1"
    again = opened(url)  # a reload: a new session from the same URL
    assert_fine(again)
    assert again.checkbox(key="interpolate").value and again.checkbox(key="drop_unknown").value
    said = [unescape(w.value) for w in again.warning]
    assert any("interpolated 2 of the model's electrodes it lacks (C3, Pz)" in w for w in said)
    assert any("dropped 1 channel that is not a 10-05 electrode: EEG 1" in w for w in said)


def test_across_trials_filters_and_maps_to_and_from_the_url_without_streamlit():
    from state import Selection, _pieces

    sel = Selection.from_url({"subjects": "s01,s03", "windows": "wrong", "map": "attention",
                              "group_by": "subject", "group_a": "s02", "across_block": "2",
                              "across_head": "mean"})
    assert sel.pending == {"x_subjects": "s01,s03", "x_outcome": "wrong",
                           "x_quantity": "attention", "x_by": "subject", "x_a": "s02",
                           "x_block": "2", "x_head": "mean"}
    sel.pending.clear()
    # at their defaults (every subject, every window, BDE, by class, rollout) they stay out
    sel.values.update(x_subjects=[], x_classes=[], x_outcome="all", x_quantity="BDE",
                      x_by="class", x_block="rollout", x_head="mean")
    assert not {"subjects", "classes", "windows", "map", "group_by", "across_block",
                "across_head"} & set(sel.url())
    sel.values.update(x_subjects=["s01", "s03"], x_outcome="wrong", x_quantity="attention",
                      x_by="subject", x_a="s02", x_b="s01", x_block=1, x_head=0)
    assert {k: v for k, v in sel.url().items() if k in
            ("subjects", "windows", "map", "group_by", "group_a", "group_b", "across_block",
             "across_head")} == {
        "subjects": "s01,s03", "windows": "wrong", "map": "attention", "group_by": "subject",
        "group_a": "s02", "group_b": "s01", "across_block": "2", "across_head": "1"}
    # an upload's subject (its file's name) stays out of the URL, in a filter or a group too
    sel.values.update(source="raw", raw_how="Upload")
    assert not {"subjects", "group_a", "group_b"} & set(sel.url())
    sel.values["x_by"] = "class"  # classes are not file names
    assert sel.url()["group_a"] == "s02"
    # names with commas of their own are found whole; an unknown name does not hide the rest
    options = ["a,b.edf", "c.edf", "s01"]
    assert _pieces("a,b.edf,s99,c.edf", options) == (["a,b.edf", "c.edf"], ["s99"])
    assert _pieces("s01", options) == (["s01"], [])


def test_across_trials_filters_and_maps_follow_a_link_are_written_and_kept_across_pages():
    from test_app import ACROSS
    from test_app_across import settle

    at = settle(opened({"subjects": "s02,s99", "classes": "high", "map": "attention",
                        "group_by": "subject", "group_a": "s03", "group_b": "s01",
                        "across_block": "2", "across_head": "1"}, page=ACROSS))
    assert_fine(at)
    assert at.multiselect(key="x_subjects").value == ["s02"]
    assert at.multiselect(key="x_classes").value == ["high"]
    assert set(at.dataframe[0].value["subject"]) == {"s02"}
    assert at.radio(key="x_quantity").value == "attention"
    assert at.radio(key="x_by").value == "subject"
    assert (at.selectbox(key="x_a").value, at.selectbox(key="x_b").value) == ("s03", "s01")
    assert (at.selectbox(key="x_block").value, at.selectbox(key="x_head").value) == (1, 0)
    notes = " ".join(w.value for w in at.warning)
    assert "subjects 's99'" in notes, notes
    url = dict(at.query_params)
    assert {k: url.get(k) for k in ("subjects", "map", "group_by", "group_a", "across_block")} \
        == {"subjects": "s02", "map": "attention", "group_by": "subject", "group_a": "s03",
            "across_block": "2"}
    # a change is written; another page and back keep every choice
    before = dict(at.query_params)
    at.radio(key="x_outcome").set_value("wrong").run()
    assert at.query_params["windows"] == "wrong"
    # Back: the address before the change, where the default (every window) is left out,
    # sets it back (not the newer choice written again)
    at.query_params.clear()
    at.query_params.update(before)
    settle(at.run())
    assert at.radio(key="x_outcome").value == "all" and "windows" not in at.query_params
    at.radio(key="x_outcome").set_value("wrong").run()
    at.switch_page(TRIAL).run()
    assert_fine(at)
    assert at.query_params["windows"] == "wrong"  # the URL still names the Across view
    settle(at.switch_page(ACROSS).run())
    assert at.multiselect(key="x_subjects").value == ["s02"]
    assert at.radio(key="x_outcome").value == "wrong"
    assert (at.selectbox(key="x_a").value, at.selectbox(key="x_block").value) == ("s03", 1)
    # a link can name the test's design too
    across = settle(opened({"within": "0"}, page=ACROSS))
    assert across.toggle(key="x_within").value is False
    # a reload of that URL opens the same view
    again = settle(opened(dict(at.query_params), page=ACROSS))
    assert again.multiselect(key="x_subjects").value == ["s02"]
    assert again.radio(key="x_outcome").value == "wrong"
    assert again.selectbox(key="x_a").value == "s03"
