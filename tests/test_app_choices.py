"""The dashboard's data choice (app/choices.py): renames typed in the sidebar, labels per
source, and the checkpoint's window and stride reaching the features."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
if str(APP) not in sys.path:  # the app's modules, as Streamlit imports them
    sys.path.insert(0, str(APP))
from choices import DataChoice, load_data, parse_channel_map, targets_for, tasks_for  # noqa: E402

from rbt.model_card import ModelCard, Preprocessing  # noqa: E402
from rbt.model_fit import loading_defaults  # noqa: E402


def test_channel_renames_typed_in_the_sidebar():
    assert parse_channel_map("") == ()
    assert parse_channel_map("EEG 1=Fp1,\n EEG 2 = fp2") == (("EEG 1", "Fp1"), ("EEG 2", "fp2"))
    for bad, message in [("EEG 1", "not"), ("EEG 1=Nowhere", "not a 10-05 electrode name"),
                         ("EEG 1=Fp1, EEG 1=Fp2", "renamed twice")]:
        with pytest.raises(ValueError, match=message):
            parse_channel_map(bad)


def test_labels_offered_per_source():
    assert targets_for("deap")[0] == "valence" and "arousal" in targets_for("deap")
    assert targets_for("raw") == ["annotation"]
    assert tasks_for("seed") == ["multi"] and tasks_for("deap") == ["binary", "multi"]


def test_the_checkpoints_window_and_stride_make_the_features(demo_valence, monkeypatch):
    _, cache = demo_valence
    monkeypatch.setenv("RBT_CACHE_DIR", str(cache))
    card = ModelCard(dataset="demo", target="arousal", task="binary",
                     preprocessing=Preprocessing(window=256, stride=128))
    d = loading_defaults(card, "demo")
    fs = load_data(DataChoice("demo", target=d["target"], task=d["task"], window=d["window"],
                              stride=d["stride"]))
    assert (fs.params["window"], fs.params["stride"]) == (256, 128)
    assert fs.target == "arousal"
    first = fs.table[fs.table["window"] == 1]["start"].iloc[0] - \
        fs.table[fs.table["window"] == 0]["start"].iloc[0]
    assert first == 128
    with pytest.raises(ValueError, match="enter its path in the sidebar"):
        load_data(DataChoice("deap"))
