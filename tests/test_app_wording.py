"""The dashboard's words for the fit's problems (app/wording.py): one sentence per code of
rbt.model_fit.CODES, each produced here by a real fit of the demo features."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

APP = Path(__file__).resolve().parent.parent / "app"
if str(APP) not in sys.path:  # the app's modules, as Streamlit imports them
    sys.path.insert(0, str(APP))
from wording import PHRASES, phrase, what_to_do  # noqa: E402

from rbt.checkpoint import Checkpoint, CheckpointError  # noqa: E402
from rbt.data import with_labels  # noqa: E402
from rbt.data.dreamer import CHANNELS as DREAMER_CHANNELS  # noqa: E402
from rbt.model import RBTransformer, RBTransformerConfig  # noqa: E402
from rbt.model_card import EMPTY_CARD, ModelCard  # noqa: E402
from rbt.model_fit import BLOCKING, CODES, fit_data  # noqa: E402
from rbt.montage import UnknownChannelsError  # noqa: E402


def _checkpoint(meta: dict | None, n_electrodes=32, n_classes=2, bde_dim=4) -> Checkpoint:
    cfg = RBTransformerConfig(num_electrodes=n_electrodes, bde_dim=bde_dim, embed_dim=16,
                              depth=2, heads=2, head_dim=8, mlp_hidden_dim=16,
                              num_classes=n_classes)
    card = EMPTY_CARD if meta is None else ModelCard.from_dict(meta)
    return Checkpoint(model=RBTransformer(cfg).eval(), card=card, path=Path("test"))


@pytest.fixture
def meta(demo_valence):
    fs, _ = demo_valence
    return {"ch_names": list(reversed(fs.ch_names)),
            "bands": {k: list(v) for k, v in fs.bands.items()},
            "class_names": ["low", "high"], "target": "valence", "task": "binary",
            "dataset": "demo"}


def _said(fit) -> str:
    return " ".join(phrase(p, fit) for p in fit.problems)


def test_the_fit_is_explained_in_the_dashboards_words(demo_valence, meta):
    fs, _ = demo_valence
    f = fit_data(_checkpoint(meta), fs)
    assert f.ch_names == meta["ch_names"] and not f.problems
    np.testing.assert_array_equal(f.X[:, 0], fs.X[:, -1])  # reordered to the model's order
    f = fit_data(_checkpoint({**meta, "ch_names": DREAMER_CHANNELS}, 14), fs)
    assert not f.runnable and f.problems[0].severity == BLOCKING
    assert "cannot read this data" in _said(f) and "14 electrodes" in _said(f)
    # names the files; plain text, as the page escapes it whole (no Markdown shown raw)
    assert "cannot read this data (s01.dat and 4 other files)" in _said(f)
    assert "**" not in _said(f) and "`" not in _said(f)
    assert "choose a checkpoint trained on data with these electrodes" in _said(f)
    multi = with_labels(dataclasses.replace(fs), "valence", "multi")
    f = fit_data(_checkpoint(meta), multi)
    assert f.y is None and "predicts 2 classes" in _said(f) and "valence/binary" in _said(f)
    assert "in the sidebar (valence/binary)" in _said(f)
    # a recording labelled by its one kind of marker: no valence to choose, so no such advice
    happy = dataclasses.replace(fs, dataset="raw", target="annotation", task="multi",
                                class_names=["happy"], y=np.zeros(len(fs), int))
    f = fit_data(_checkpoint(meta), happy)
    assert "annotation/multi with 1 class (happy)" in _said(f)
    assert "no valence labels, so none are scored" in _said(f) and "sidebar" not in _said(f)
    arousal = with_labels(dataclasses.replace(fs), "arousal", "binary")
    f = fit_data(_checkpoint(meta), arousal)
    assert f.y is not None and "trained to predict valence/binary" in _said(f)
    f = fit_data(_checkpoint({**meta, "class_names": ["calm", "tense"]}), fs)
    assert f.y is None and f.class_names == ["calm", "tense"] and f.runnable
    assert "classes (low, high) are not the model's (calm, tense)" in _said(f)
    f = fit_data(_checkpoint(None), fs)
    assert "no rbt metadata" in _said(f) and f.class_names == ["low", "high"]


def test_every_problem_code_has_a_phrase(demo_valence, meta):
    """Each code of rbt.model_fit.CODES comes out of a real fit here and is phrased; a code
    added to the library without a phrase here fails the first assertion."""
    fs, _ = demo_valence
    assert set(PHRASES) == set(CODES)
    unlabelled = dataclasses.replace(fs, y=None, target=None, task=None, class_names=None)
    other_bands = {**meta, "bands": {"theta": [4, 8], "alpha": [8, 13], "beta": [13, 30],
                                     "gamma": [30, 45]}}
    fits = [
        fit_data(_checkpoint({**meta, "ch_names": DREAMER_CHANNELS}, 14), fs),  # electrodes
        fit_data(_checkpoint(None, 14), fs),  # electrode_count
        fit_data(_checkpoint(other_bands), fs),  # bands
        fit_data(_checkpoint(None, bde_dim=3), fs),  # band_count (and no_card)
        fit_data(_checkpoint(meta), unlabelled),  # unlabelled
        fit_data(_checkpoint({**meta, "class_names": ["calm", "tense"]}), fs),  # class_names
        fit_data(_checkpoint(meta), with_labels(dataclasses.replace(fs), "valence", "multi")),
        fit_data(_checkpoint(meta), with_labels(dataclasses.replace(fs), "arousal", "binary")),
        fit_data(_checkpoint({**meta, "preprocessing": {"window": 256, "stride": 64,
                                                        "filter_sfreq": 200.0}}), fs),
        fit_data(_checkpoint(None), dataclasses.replace(fs, dataset="seed")),  # SEED, no card
        fit_data(_checkpoint({"target": "valence", "task": "binary"}), fs),  # unnamed_electrodes
        fit_data(_checkpoint(meta), dataclasses.replace(fs, dataset="raw")),  # rest_baseline
    ]
    said = {}
    for fit in fits:
        for p in fit.problems:
            said[p.code] = phrase(p, fit)
    assert set(said) == set(CODES), set(CODES) - set(said)
    for code, text in said.items():
        assert text.endswith(".") and len(text) > 40, (code, text)
        assert text != CODES[code][1], code  # the app's words, not the library's meaning
    assert "band-pass filters designed for 200 Hz (model) vs 128 Hz (data)" in \
        said["preprocessing"] and "window 256 (model) vs 512 (data)" in said["preprocessing"]
    assert "alpha 8-13 Hz" in said["bands"] and "alpha 8-14 Hz" in said["bands"]
    assert "Reference filters (128 Hz)" in said["reference_features"]
    assert "no labels" in said["unlabelled"]
    assert "relative to each trial's rest baseline (demo" in said["rest_baseline"]


def test_errors_say_what_to_do():
    assert what_to_do(CheckpointError("x: no config.json")).startswith(
        "**The model could not be used.**")
    message = what_to_do(UnknownChannelsError(["EEG 1"], source="rec.fif"))
    assert "Rename channels" in message and "Drop channels" in message
    assert what_to_do(FileNotFoundError("nowhere")).startswith("**The data could not be read.**")
    assert what_to_do(RuntimeError("boom")).startswith("**Could not load.** RuntimeError: boom")
