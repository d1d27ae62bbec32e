"""AppTest tests for every dashboard page (Streamlit runs the scripts in-process).

They drive the sidebar and the pages' widgets and check the figures' contents (trace counts,
electrode names in the topomap data, probabilities summing to 1) and that every bad input ends
in an st.error that says what to do, never in an exception. All tests share one demo feature
cache and Streamlit's in-process caches, so only the first one pays for loading.
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

import app_figures
import formats as F
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from rbt.checkpoint import save_checkpoint
from rbt.data.deap import EEG_CHANNELS
from rbt.data.dreamer import CHANNELS as DREAMER_CHANNELS
from rbt.explain import METHODS
from rbt.model import RBTransformer, RBTransformerConfig
from rbt.model_card import ModelCard

HOME = str(Path(__file__).resolve().parent.parent / "app" / "Home.py")
if str(Path(HOME).parent) not in sys.path:  # the app's modules, as Streamlit imports them
    sys.path.insert(0, str(Path(HOME).parent))
TRIAL, ACROSS, LEARN = "views/1_One_trial.py", "views/2_Across_trials.py", "views/3_Learn.py"
BANDS = ["theta", "alpha", "beta", "gamma"]


@pytest.fixture(autouse=True)
def demo_cache(demo_valence, monkeypatch):
    """Every app test reads the demo from the session's shared feature cache, on a server
    with the shipped config's address (``streamlit run`` reads app/.streamlit/config.toml;
    AppTest does not, so it is applied here and restored after)."""
    import streamlit as st
    from locate import server_config

    _, folder = demo_valence
    monkeypatch.setenv("RBT_CACHE_DIR", str(folder))
    monkeypatch.delenv("RBT_DEMO_CHECKPOINT", raising=False)
    before = st.get_option("server.address")
    st.config.set_option("server.address", server_config()["server"]["address"])
    yield folder
    st.config.set_option("server.address", before)


def app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=180).run()
    if page:
        at.switch_page(page).run()
    return at


def unescape(markdown: str) -> str:
    """The text a browser shows for Markdown whose punctuation the app backslash-escaped."""
    return re.sub(r"\\(.)", r"\1", markdown)


def assert_fine(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def decode(value):
    """Plotly's JSON stores numpy arrays as base64 typed arrays."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = [int(n) for n in shape.split(",")]
        return arr.reshape(shape) if shape is not None else arr
    return np.asarray(value)


def figures(at: AppTest) -> list[dict]:
    return app_figures.figures(at)


def traces(fig: dict, name: str) -> list[dict]:
    return [t for t in fig["data"] if t.get("name") == name]


def by_title(at: AppTest, text: str) -> dict:
    found = [f for f in figures(at) if text in ((f["layout"].get("title") or {}).get("text")
                                                or "")]
    assert found, f"no figure titled {text!r}"
    return found[0]


def check_topomaps(fig: dict, n_maps: int, names=EEG_CHANNELS) -> None:
    assert len(traces(fig, "map")) == n_maps
    sensors = traces(fig, "sensors")
    assert len(sensors) == n_maps
    for s in sensors:
        assert s["text"] == list(names)  # electrode names on hover
        assert "%{text}" in s["hovertemplate"]


def probabilities(at: AppTest) -> np.ndarray:
    bars = [f for f in figures(at) if f["data"][0]["type"] == "bar"
            and f["data"][0].get("name") == "probability"]
    return decode(bars[0]["data"][0]["x"])


# --------------------------------------------------------------------------------------------
# Home


def test_home_opens_on_the_demo_with_the_shipped_checkpoint():
    at = app()
    assert_fine(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Windows"] == "1,440" and metrics["Electrodes"] == "32"
    assert float(metrics["Cross-validated accuracy"].rstrip("%")) > 70
    text = unescape(" ".join(m.value for m in at.markdown) + " ".join(i.value for i in at.info))
    assert "synthetic" in text.lower()
    assert "the shipped demo checkpoint" in text and "trial-kfold" in text
    # the shipped model saw every demo trial, and the page says its accuracy is a training one
    assert any(c.value.startswith("All 1440 windows come from trials this model was trained "
                                  "on") for c in at.caption)
    assert at.selectbox(key="source").value == "demo"
    assert at.radio(key="model_kind").value == "Shipped demo checkpoint"


# --------------------------------------------------------------------------------------------
# One trial


def test_trial_view_shows_prediction_maps_attention_and_attributions():
    at = app(TRIAL)
    assert_fine(at)
    figs = figures(at)
    assert len(figs) == 7
    p = probabilities(at)
    assert p.shape == (2,) and p.sum() == pytest.approx(1.0, abs=1e-6)
    check_topomaps(figs[2], 4)  # BDE: one interpolated map per band
    assert [a["text"] for a in figs[2]["layout"]["annotations"]] == [f"<b>{b}</b>" for b in BANDS]
    lines = by_title(at, "Pairs: rollout")
    assert len(traces(lines, "pairs")[0]["text"]) == 12  # top 12 pairs by default
    assert traces(lines, "sensors")[0]["text"] == EEG_CHANNELS
    matrix = by_title(at, "Matrix: rollout")["data"][0]  # a heatmap, row i: where i looks
    assert matrix["x"] == EEG_CHANNELS and matrix["y"] == EEG_CHANNELS
    rows = decode(matrix["z"]).reshape(32, 32).sum(axis=1)
    np.testing.assert_allclose(rows, 1, atol=1e-4)  # rollout rows are distributions
    check_topomaps(by_title(at, "Where Fp1 looks"), 1)
    check_topomaps(figs[6], 5)  # attributions: 4 bands + total
    assert at.markdown[0].value.startswith("**Predicted:**")


def test_trial_view_interactions():
    at = app(TRIAL)
    at.selectbox(key="sel_subject").set_value("s03").run()
    at.selectbox(key="sel_trial").set_value((1, 5)).run()
    at.slider(key="sel_window").set_value(4).run()
    assert_fine(at)
    assert any("Subject s03, trial 5, window 4 (of 0–17)" in c.value for c in at.caption)
    assert probabilities(at).sum() == pytest.approx(1.0, abs=1e-6)
    at.selectbox(key="att_block").set_value(2).run()
    at.selectbox(key="att_head").set_value(3).run()
    assert_fine(at)
    by_title(at, "Pairs: block 3, head 4")
    at.selectbox(key="att_head").set_value("mean").run()
    by_title(at, "Matrix: block 3, mean of heads")
    at.radio(key="att_lines").set_value("above").run()
    at.slider(key="att_threshold").set_value(0.2).run()
    assert_fine(at)
    pairs = traces(by_title(at, "Pairs: block 3"), "pairs")
    assert all(w >= 0.2 for w in decode(pairs[0]["customdata"])) if pairs else True
    at.selectbox(key="att_electrode").set_value("Cz").run()
    by_title(at, "Where Cz looks")
    for method in METHODS:
        at.selectbox(key="attr_method").set_value(method).run()
        assert_fine(at)
        check_topomaps(figures(at)[6], 5)
    at.selectbox(key="attr_baseline").set_value("subject_mean").run()
    at.radio(key="attr_target").set_value("true").run()
    assert_fine(at)
    # map options: markers only (no interpolation), contours, per-band scales
    at.radio(key="map_mode").set_value("markers").run()
    assert not traces(figures(at)[2], "map") and len(traces(figures(at)[2], "sensors")) == 4
    at.radio(key="map_mode").set_value("interpolated").run()
    at.toggle(key="map_contours").set_value(True).run()
    at.radio(key="map_scale").set_value("per band").run()
    assert_fine(at)
    bde = figures(at)[2]
    assert len(traces(bde, "contours")) == 4 and "coloraxis4" in bde["layout"]
    # the selection survives a visit to another page
    at.switch_page(ACROSS).run()
    at.switch_page(TRIAL).run()
    assert at.selectbox(key="sel_subject").value == "s03"
    assert at.selectbox(key="sel_trial").value == (1, 5)


# --------------------------------------------------------------------------------------------
# Across trials


def test_across_table_filters_confusion_and_accuracy():
    at = app(ACROSS)
    assert_fine(at)
    table = at.dataframe[0].value
    assert len(table) == 1440 and {"subject", "trial", "window", "true", "predicted",
                                    "correct", "p_low", "p_high"} <= set(table.columns)
    np.testing.assert_allclose(table[["p_low", "p_high"]].sum(axis=1), 1, atol=1e-5)
    confusion = by_title(at, "Confusion matrix")["data"][0]
    assert decode(confusion["z"]).sum() == 1440
    per_trial = by_title(at, "Accuracy per trial")["data"][0]
    assert sorted({x.split("/")[0] for x in per_trial["x"]}) == ["s01", "s02", "s03", "s04",
                                                                  "s05"]
    at.multiselect(key="x_subjects").set_value(["s02"]).run()
    at.multiselect(key="x_classes").set_value(["high"]).run()
    at.radio(key="x_outcome").set_value("correct").run()
    assert_fine(at)
    table = at.dataframe[0].value
    assert set(table["subject"]) == {"s02"} and set(table["true"]) == {"high"}
    assert table["correct"].all()
    # the confusion matrix covers the chosen subjects and classes, right or wrong, and says so
    assert decode(by_title(at, "Confusion matrix")["data"][0]["z"]).sum() == 144
    assert any("Both count every window of the chosen subjects and classes, right or wrong "
               "(144): the Windows filter (correct) narrows the table only." in c.value
               for c in at.caption)
    at.radio(key="x_outcome").set_value("wrong").run()
    assert not at.dataframe[0].value["correct"].any()


def test_across_group_means_and_differences():
    at = app(ACROSS)
    bde = [f for f in figures(at) if "Mean BDE" in f["layout"]["title"]["text"]]
    assert [f["layout"]["title"]["text"] for f in bde] == [
        "Mean BDE: high", "Mean BDE: low", "Mean BDE: high − low"]
    for f in bde:
        check_topomaps(f, 4)
    at.radio(key="x_by").set_value("subject").run()
    at.selectbox(key="x_a").set_value("s02").run()
    assert_fine(at)
    assert by_title(at, "Mean BDE: s02 − s01")
    at.radio(key="x_quantity").set_value("attention").run()
    while at.get("progress"):  # the pass over every window runs in the background
        at.run()
    at.selectbox(key="x_block").set_value(1).run()
    assert_fine(at)
    check_topomaps(by_title(at, "Attention each electrode receives"), 3)
    diff = by_title(at, "Attention matrix: s02 − s01")["data"][0]
    assert diff["x"][:32] == EEG_CHANNELS
    at.radio(key="x_by").set_value("class").run()
    at.radio(key="x_quantity").set_value("attribution").run()
    at.slider(key="x_per_group").set_value(20).run()
    assert not [f for f in figures(at) if "attribution" in f["layout"]["title"]["text"]]
    at.button(key="x_compute").click().run()
    assert_fine(at)
    maps = [f for f in figures(at) if "Mean attribution" in f["layout"]["title"]["text"]]
    assert len(maps) == 3
    for f in maps:
        check_topomaps(f, 5)


# --------------------------------------------------------------------------------------------
# Learn


def test_learn_page_walks_from_raw_eeg_to_prediction():
    at = app(LEARN)
    assert_fine(at)
    at.toggle(key="l_all").set_value(True).run()  # every step on one page (tests/test_app_learn)
    assert "synthetic" in at.warning[0].value
    headers = [h.value for h in at.main.header]
    assert headers == ["1 · Raw EEG", "2 · Band-pass filtering", "3 · BDE tokens",
                       "4 · Electrode embeddings", "5 · Attention", "6 · Prediction",
                       "7 · How the evaluation protocol changes accuracy"]
    text = " ".join(m.value for m in at.markdown)
    for channel in ("F4, AF4, F8", "F3, AF3, F7"):
        assert channel in text  # points to where the planted effects appear
    match = next(c.value for c in at.caption if "largest difference" in c.value)
    assert float(match.rsplit(" ", 1)[1].rstrip(".")) < 1e-5
    protocols = by_title(at, "cross-validated accuracy")["data"][0]
    assert protocols["x"] == ["trial-kfold", "window-kfold"]
    acc = decode(protocols["y"])
    assert acc[1] > acc[0]  # the leaky protocol scores higher
    check_topomaps(by_title(at, "All windows: mean of high − low"), 4)
    assert probabilities(at).sum() == pytest.approx(1.0, abs=1e-6)
    at.selectbox(key="l_subject").set_value("s04").run()
    at.selectbox(key="l_channel").set_value("F3").run()
    at.slider(key="l_window").set_value(6).run()
    assert_fine(at)
    assert by_title(at, "F3: the window")


# --------------------------------------------------------------------------------------------
# Bad input: every path ends in an st.error that says what to do; the app keeps working


def _switch_source(at, source, path=None):
    at.selectbox(key="source").set_value(source).run()
    if path is not None:
        at.text_input(key=f"path_{source}").input(str(path)).run()
    return at


def _recovers(at):
    """After an error, choosing the demo and the shipped checkpoint works again."""
    at.selectbox(key="source").set_value("demo").run()
    at.radio(key="model_kind").set_value("Shipped demo checkpoint").run()
    assert_fine(at)
    assert app_figures.charts(at)


def _errors(at) -> str:
    assert not at.exception, [e.message for e in at.exception]
    assert at.error, "expected an st.error"
    return unescape(" ".join(e.value for e in at.error))


def test_bad_data_paths(tmp_path):
    at = app(TRIAL)
    _switch_source(at, "deap", tmp_path / "nowhere")
    assert "no such file or folder" in _errors(at)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    _switch_source(at, "deap", tmp_path / "empty")
    assert "no DEAP files named sNN.dat" in _errors(at)
    bad = tmp_path / "s01.dat"
    bad.write_bytes(b"this is not a pickle")
    _switch_source(at, "deap", bad)
    assert "could not be read" in _errors(at)
    mat = tmp_path / "DREAMER.mat"
    mat.write_bytes(b"\x00garbage" * 100)
    _switch_source(at, "dreamer", mat)
    assert "DREAMER" in _errors(at)
    _switch_source(at, "seed", tmp_path / "empty")
    assert "could not be read" in _errors(at)
    text = tmp_path / "recording.edf"
    text.write_text("not an EDF file")
    at.selectbox(key="source").set_value("raw").run()
    at.radio(key="raw_how").set_value("Path on this machine").run()
    at.text_input(key="path_raw").input(str(text)).run()
    assert "not an EDF file: it starts with text ('not an EDF file')" in _errors(at)
    _recovers(at)


def test_a_folder_with_an_unreadable_file_opens_the_rest_and_names_it(tmp_path):
    folder = tmp_path / "lab"
    folder.mkdir()
    for name, label in (("p1", "happy"), ("p2", "sad")):
        F.save_fif(F.make_raw(EEG_CHANNELS, annotations=[(1, 8, label)], seconds=12.0),
                   folder / f"{name}_raw.fif")
    (folder / "p3.edf").write_text("exported by mistake as text")
    at = app(TRIAL)
    at.selectbox(key="source").set_value("raw").run()
    at.radio(key="raw_how").set_value("Path on this machine").run()
    at.text_input(key="path_raw").input(str(folder)).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    warned = unescape(" ".join(w.value for w in at.warning))
    assert "lab: left out 1 of its 3 recordings" in warned and "p3.edf" in warned, warned
    assert at.selectbox(key="sel_subject").options == ["p1_raw", "p2_raw"]
    assert app_figures.charts(at)


def test_the_zero_baseline_speaks_of_rest_only_for_data_relative_to_rest(tmp_path):
    at = app(TRIAL)
    at.selectbox(key="attr_method").set_value("integrated_gradients").run()
    assert "zeros (no change from rest)" in at.selectbox(key="attr_baseline").options
    assert "no change from the pre-stimulus recording" in " ".join(c.value for c in at.caption)
    path = F.save_fif(F.make_raw(EEG_CHANNELS, annotations=[(1, 8, "calm"), (11, 8, "tense")],
                                 seconds=20.0), tmp_path / "calm_raw.fif")
    at.selectbox(key="source").set_value("raw").run()
    at.radio(key="raw_how").set_value("Path on this machine").run()
    at.text_input(key="path_raw").input(str(path)).run()
    assert_fine(at)
    options = at.selectbox(key="attr_baseline").options
    assert "zeros (an arbitrary level for these data)" in options
    assert not any("rest" in o for o in options)
    said = " ".join(c.value for c in at.caption)
    assert "These data's BDE is each band's level, not a change from a baseline, so zero is " \
        "one arbitrary band power" in said
    (baseline,) = [c.value for c in at.caption if "Baseline:" in c.value]
    assert "pre-stimulus" not in baseline and "rest" not in baseline
    assert "zeros (an arbitrary level for these data)" in at.selectbox(key="wi_baseline").options


def test_bad_uploads(tmp_path):
    import streamlit as st

    at = app(TRIAL)
    at.selectbox(key="source").set_value("raw").run()
    assert any("upload" in i.value.lower() for i in at.info)
    upload = at.file_uploader(key="upload")
    upload.set_value([("notes.txt", b"hello", "text/plain")]).run()
    assert "expected one EEG recording" in _errors(at)
    at.file_uploader(key="upload").set_value([("broken.edf", b"0" * 500,
                                               "application/octet-stream")]).run()
    assert "MNE cannot read" in _errors(at)
    raw = F.make_raw(["EEG 001", "EEG 002", "EEG 003", "EEG 004"], seconds=10)
    fif = F.save_fif(raw, tmp_path / "odd_raw.fif").read_bytes()
    at.file_uploader(key="upload").set_value([("odd_raw.fif", fif, "application/x")]).run()
    message = _errors(at)
    assert "not 10-05 electrode names: EEG 001" in message and "Drop channels" in message
    previous = st.get_option("server.maxUploadSize")
    st.config.set_option("server.maxUploadSize", 1)
    try:
        at.file_uploader(key="upload").set_value(
            [("big.edf", b"\0" * (3 * 1024**2 // 2), "application/octet-stream")]).run()
        message = _errors(at)
        assert "accepts up to 1 MB" in message and "Path on this machine" in message
    finally:
        st.config.set_option("server.maxUploadSize", previous)
    _recovers(at)


def test_recording_with_numbered_channels_is_renamed_in_the_sidebar(tmp_path):
    numbered = [f"EEG {i + 1}" for i in range(len(EEG_CHANNELS))]
    raw = F.make_raw(numbered, seconds=30, annotations=[(1, 12, "calm"), (16, 12, "tense")])
    path = F.save_fif(raw, tmp_path / "numbered_raw.fif")
    at = app(TRIAL)
    at.selectbox(key="source").set_value("raw").run()
    at.radio(key="raw_how").set_value("Path on this machine").run()
    at.text_input(key="path_raw").input(str(path)).run()
    assert "Rename channels" in _errors(at) and "EEG 1" in _errors(at)
    at.text_input(key="channel_map").input("EEG 1=Fp1, EEG 2=Nowhere").run()
    assert "'Nowhere' (for 'EEG 2') is not a 10-05 electrode name" in _errors(at)
    renames = ", ".join(f"{n}={c}" for n, c in zip(numbered, EEG_CHANNELS))
    at.text_input(key="channel_map").input(renames).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert probabilities(at).sum() == pytest.approx(1.0, abs=1e-6)
    check_topomaps(figures(at)[2], 4)


def test_uploaded_recording_with_annotations_is_predicted(tmp_path):
    raw = F.make_raw(EEG_CHANNELS, seconds=40,
                     annotations=[(1, 12, "calm"), (16, 12, "tense"), (30, 8, "calm")])
    fif = F.save_fif(raw, tmp_path / "session_raw.fif").read_bytes()
    at = app(TRIAL)
    at.selectbox(key="source").set_value("raw").run()
    at.file_uploader(key="upload").set_value([("session_raw.fif", fif, "application/x")]).run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert any("classes (calm, tense) are not the model's (low, high)" in unescape(w.value)
               for w in at.warning)
    assert probabilities(at).sum() == pytest.approx(1.0, abs=1e-6)
    check_topomaps(figures(at)[2], 4)
    _recovers(at)


def test_deap_folder_and_an_official_checkpoint_folder(tmp_path):
    """Real-format DEAP files through the sidebar, read by a checkpoint without rbt metadata
    (as official RBTransformer folders are): a warning, not an error."""
    deap = F.deap_folder(tmp_path / "data_preprocessed_python", subjects=(1,), n_trials=2)
    official = _tiny_checkpoint(tmp_path / "official", EEG_CHANNELS)
    (official / "rbt_metadata.json").unlink()
    at = app(TRIAL)
    at.selectbox(key="source").set_value("deap").run()
    at.text_input(key="path_deap").input(str(deap)).run()
    # the first read of a folder shows a progress bar, file by file
    assert [(p.proto.value, p.proto.text) for p in at.get("progress")] == [(100, "1 file read")]
    at.selectbox(key="target_deap").set_value("arousal").run()
    at.radio(key="model_kind").set_value("Checkpoint folder").run()
    at.text_input(key="model_path").input(str(official)).run()
    assert_fine(at)
    assert any("no rbt metadata" in unescape(i.value) for i in at.info)  # a note
    assert at.selectbox(key="sel_subject").value == "s01"
    assert probabilities(at).sum() == pytest.approx(1.0, abs=1e-6)
    check_topomaps(figures(at)[2], 4)
    _recovers(at)


def test_data_changed_on_disk_is_read_again(tmp_path):
    deap = F.deap_folder(tmp_path / "data_preprocessed_python", subjects=(1,), n_trials=2)
    at = app(TRIAL)
    at.selectbox(key="source").set_value("deap").run()
    at.text_input(key="path_deap").input(str(deap)).run()
    assert_fine(at)
    assert at.selectbox(key="sel_subject").options == ["s01"]
    F.deap_folder(deap, subjects=(2,), n_trials=2)  # a subject added to the folder
    at.run()
    assert_fine(at)
    assert at.selectbox(key="sel_subject").options == ["s01", "s02"]


def _tiny_checkpoint(folder: Path, ch_names, n_classes=2) -> Path:
    cfg = RBTransformerConfig(num_electrodes=len(ch_names), embed_dim=16, depth=2, heads=2,
                              head_dim=8, mlp_hidden_dim=16, num_classes=n_classes)
    meta = {"ch_names": list(ch_names), "dataset": "dreamer", "target": "valence",
            "task": "binary", "class_names": ["low", "high"],
            "bands": {b: list(v) for b, v in zip(BANDS, [(4, 8), (8, 14), (14, 31), (31, 49)])}}
    return save_checkpoint(RBTransformer(cfg), folder, ModelCard.from_dict(meta))


def test_bad_models(tmp_path):
    at = app(TRIAL)
    at.radio(key="model_kind").set_value("Checkpoint folder").run()
    assert any("checkpoint folder" in i.value for i in at.info)
    at.text_input(key="model_path").input(str(tmp_path / "missing")).run()
    assert "no such checkpoint folder" in _errors(at)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    at.text_input(key="model_path").input(str(broken)).run()
    assert "model could not be used" in _errors(at)
    dreamer_model = _tiny_checkpoint(tmp_path / "dreamer_model", DREAMER_CHANNELS)
    at.text_input(key="model_path").input(str(dreamer_model)).run()
    message = _errors(at)
    assert "cannot read this data" in message and "14 electrodes" in message
    assert "choose a checkpoint trained on data with these electrodes" in message
    assert "rbt train" in message
    _recovers(at)


def test_class_mismatch_is_explained_and_the_page_still_works():
    at = app(TRIAL)
    at.radio(key="task_demo").set_value("multi").run()
    assert not at.exception
    message = unescape(" ".join(w.value for w in at.warning))  # a warning: the model runs
    assert "predicts 2 classes" in message and "valence/binary" in message
    # the window's label in the data's own classes, not scored; still a prediction
    assert any(m.value.startswith("**Label:**") for m in at.markdown)
    assert "so it is not scored" in " ".join(c.value for c in at.caption)
    assert probabilities(at).sum() == pytest.approx(1.0, abs=1e-6)
    at.radio(key="task_demo").set_value("binary").run()
    assert_fine(at)


def test_window_stride_and_labels_follow_the_checkpoint(tmp_path):
    """A checkpoint trained on the demo's arousal with 256-sample windows every 128 samples:
    choosing it selects arousal and computes the features as its training ones were; a
    target chosen afterwards stays."""
    cfg = RBTransformerConfig(num_electrodes=32, embed_dim=16, depth=2, heads=2, head_dim=8,
                              mlp_hidden_dim=16, num_classes=2)
    card = ModelCard.from_dict({
        "ch_names": list(EEG_CHANNELS), "dataset": "demo", "target": "arousal",
        "task": "binary", "class_names": ["low", "high"],
        "bands": {b: list(v) for b, v in zip(BANDS, [(4, 8), (8, 14), (14, 31), (31, 49)])},
        "preprocessing": {"window": 256, "stride": 128, "filter_sfreq": 128.0}})
    model = save_checkpoint(RBTransformer(cfg), tmp_path / "arousal", card)
    at = app(TRIAL)
    assert at.selectbox(key="target_demo").value == "valence"  # the shipped checkpoint's
    at.radio(key="model_kind").set_value("Checkpoint folder").run()
    at.text_input(key="model_path").input(str(model)).run()
    assert_fine(at)
    assert not at.warning, [w.value for w in at.warning]  # no preprocessing difference
    assert at.selectbox(key="target_demo").value == "arousal"
    assert at.slider(key="sel_window").proto.help.startswith("Windows are 256 samples long")
    assert "every 128 samples" in at.slider(key="sel_window").proto.help
    at.selectbox(key="target_demo").set_value("valence").run()
    assert_fine(at)
    assert any("trained to predict arousal/binary" in unescape(w.value) for w in at.warning)
    at.run()
    assert at.selectbox(key="target_demo").value == "valence"  # the user's choice stays


def test_demo_checkpoint_is_the_default_model():
    import common

    assert common.demo_checkpoint() == Path(__file__).resolve().parent.parent / "assets" / \
        "demo-checkpoint"
