"""The model's preprocessing, applied: a recording scored by a model trained on DEAP gets DEAP's
average reference and 4-45 Hz band-pass through MNE before it is resampled, and says so;
``--preprocess none`` turns it off; model cards record the steps."""

from __future__ import annotations

import json

import formats as F
import mne
import numpy as np
import pandas as pd
import pytest
import torch

from rbt.checkpoint import save_checkpoint
from rbt.cli import main
from rbt.data import load_features
from rbt.data.deap import EEG_CHANNELS
from rbt.data.features import DEFAULT_BANDS
from rbt.data.preprocess import AS_RECORDED, DATASET_STEPS, SignalSteps, steps_for
from rbt.model import RBTransformer, RBTransformerConfig
from rbt.model_card import MetadataError, ModelCard, Preprocessing
from rbt.train import TrainConfig, fit

SFREQ = 256.0
SMALL = {"embed_dim": 16, "depth": 1, "heads": 2, "head_dim": 8, "mlp_hidden_dim": 16}
DEAP_PREP = Preprocessing(window=512, stride=117, order=5, filter_sfreq=128.0, sfreq=128.0)


def _recording(seconds: float = 12.0) -> mne.io.RawArray:
    """DEAP's 32 electrodes at 256 Hz: EEG-like signals plus what DEAP's release removed: a
    1 Hz drift, a 60 Hz line and an offset common to every electrode."""
    raw = F.make_raw(EEG_CHANNELS, sfreq=SFREQ, seconds=seconds)
    t = raw.times
    rng = np.random.default_rng(3)
    drift = rng.uniform(20, 60, (len(EEG_CHANNELS), 1)) * np.sin(2 * np.pi * 1.0 * t)
    line = 15 * np.sin(2 * np.pi * 60.0 * t)
    common = 40 + 25 * np.sin(2 * np.pi * 11.0 * t + 0.3)  # the reference electrode's own
    raw._data += (drift + line + common) * 1e-6
    return raw


@pytest.fixture
def files(tmp_path):
    """The recording as it came, and the same signal preprocessed by hand with MNE."""
    raw = _recording()
    rec = tmp_path / "rec_raw.fif"
    raw.save(rec, fmt="double", verbose="error")
    hand = raw.copy().set_eeg_reference("average", projection=False, verbose="error")
    hand.filter(4.0, 45.0, verbose="error")  # MNE's defaults: zero-phase FIR, firwin
    done = tmp_path / "hand" / "rec_raw.fif"  # same name: same subject in the tables
    done.parent.mkdir()
    hand.save(done, fmt="double", verbose="error")
    return rec, done


def _deap_card(**prep) -> ModelCard:
    return ModelCard(ch_names=tuple(EEG_CHANNELS), bands=dict(DEFAULT_BANDS), sfreq=128.0,
                     preprocessing=Preprocessing(**{**vars(DEAP_PREP), **prep}),
                     dataset="deap", target="valence", task="binary",
                     class_names=("low", "high"))


def _checkpoint(folder, card):
    torch.manual_seed(0)
    model = RBTransformer(RBTransformerConfig(num_electrodes=32, num_classes=2, **SMALL))
    return save_checkpoint(model, folder, card)


def test_deap_steps_give_the_features_of_the_signal_preprocessed_by_hand(files):
    rec, hand = files
    steps = steps_for(_deap_card(reference="average", band_pass=(4.0, 45.0)))
    assert steps == DATASET_STEPS["deap"]
    applied = load_features("raw", rec, preprocess=steps, progress=False)
    by_hand = load_features("raw", hand, progress=False)
    untouched = load_features("raw", rec, progress=False)
    assert applied.X.shape == by_hand.X.shape == untouched.X.shape
    np.testing.assert_allclose(applied.X, by_hand.X, rtol=1e-6, atol=1e-6)
    assert np.abs(applied.X - untouched.X).max() > 0.2  # the steps change what a model sees
    assert applied.params["reference"] == "average" and applied.params["band_pass"] == [4, 45]
    assert untouched.params["reference"] == AS_RECORDED and untouched.params["band_pass"] is None
    note = next(n for n in applied.notes if "preprocessed" in n)
    assert note.startswith("rec_raw.fif: preprocessed as DEAP's released data were: "
                           "re-referenced to the average of its 32 EEG electrodes; band-pass "
                           "4-45 Hz (MNE's zero-phase FIR filter, at the recording's 256 Hz)")
    assert "EOG artefact removal is not reproduced" in note
    # a dataset's name does the same (the Python API's preprocess="deap")
    again = load_features("raw", rec, preprocess="deap", progress=False, use_cache=False)
    np.testing.assert_array_equal(again.X, applied.X)


def test_predict_applies_the_models_steps_and_says_so(files, tmp_path, capsys):
    rec, hand = files
    model = _checkpoint(tmp_path / "deap_model", _deap_card())  # an older card: no steps
    out = {k: tmp_path / f"{k}.csv" for k in ("model", "hand", "none")}
    assert main(["predict", "--model", str(model), "--source", "raw", "--path", str(rec),
                 "--out", str(out["model"])]) == 0
    err = capsys.readouterr().err
    assert "note: rec_raw.fif: preprocessed as DEAP's released data were: re-referenced" in err
    assert "band-pass 4-45 Hz" in err and "--preprocess none reads the recordings" in err
    assert "features were computed differently" not in err
    assert main(["predict", "--model", str(model), "--source", "raw", "--path", str(hand),
                 "--preprocess", "none", "--out", str(out["hand"])]) == 0
    capsys.readouterr()
    assert main(["predict", "--model", str(model), "--source", "raw", "--path", str(rec),
                 "--preprocess", "none", "--out", str(out["none"])]) == 0
    err = capsys.readouterr().err
    assert "preprocessed as" not in err
    assert "not average-referenced as the training data were" in err
    assert "no band-pass 4-45 Hz filter, which the training data had" in err
    assert "--preprocess model, the default, does the model's signal steps" in err
    p = {k: pd.read_csv(v)[["p_low", "p_high"]].to_numpy() for k, v in out.items()}
    np.testing.assert_allclose(p["model"], p["hand"], atol=1e-5)
    assert np.abs(p["model"] - p["none"]).max() > 1e-4


def test_official_checkpoint_applies_nothing_unless_asked(files, tmp_path, capsys):
    rec, _ = files
    official = _checkpoint(tmp_path / "official", None)  # no card
    args = ["predict", "--model", str(official), "--source", "raw", "--path", str(rec)]
    assert main([*args, "--out", str(tmp_path / "a.csv")]) == 0
    err = capsys.readouterr().err
    assert "card does not say how its training signals were preprocessed" in err
    assert "preprocessed as" not in err
    assert main([*args, "--preprocess", "seed", "--out", str(tmp_path / "b.csv")]) == 0
    err = capsys.readouterr().err
    assert "preprocessed as SEED's released data were: low-pass 75 Hz" in err


def test_steps_that_cannot_be_done_are_refused_plainly(tmp_path, capsys):
    raw = F.make_raw(["Cz"], sfreq=128.0, seconds=8.0)
    path = F.save_fif(raw, tmp_path / "one_raw.fif")
    assert main(["features", "--source", "raw", "--path", str(path), "--preprocess", "deap",
                 "--out", str(tmp_path / "f.npz")]) == 2
    err = capsys.readouterr().err
    assert "one_raw.fif: cannot preprocess it as DEAP's released data" in err
    assert "an average reference needs at least 2 EEG electrodes; it has 1" in err
    assert "Traceback" not in err


def test_a_low_pass_above_the_recordings_nyquist_is_left_out(tmp_path):
    path = F.save_fif(F.make_raw(EEG_CHANNELS, sfreq=128.0, seconds=8.0), tmp_path / "r_raw.fif")
    fs = load_features("raw", path, preprocess="seed", progress=False)
    plain = load_features("raw", path, progress=False)
    np.testing.assert_allclose(fs.X, plain.X)  # at 128 Hz there is nothing above 75 Hz
    assert any("no low-pass at 75 Hz needed: at 128 Hz the recording holds nothing above "
               "64 Hz" in n for n in fs.notes)


def test_old_cards_load_and_fall_back_on_their_datasets_recipe():
    old = {"ch_names": list(EEG_CHANNELS), "dataset": "deap",
           "preprocessing": {"window": 512, "stride": 117, "order": 5, "filter_sfreq": 128.0,
                             "sfreq": 128.0}}
    card = ModelCard.from_dict(old)
    assert card.preprocessing.reference is None and card.preprocessing.band_pass is None
    assert steps_for(card) is DATASET_STEPS["deap"]
    assert steps_for(ModelCard.from_dict({**old, "dataset": "raw"})) is None  # not said
    assert steps_for(ModelCard()) is None  # an official checkpoint
    shipped = json.loads(open("assets/demo-checkpoint/rbt_metadata.json").read())
    assert steps_for(ModelCard.from_dict(shipped)) is DATASET_STEPS["demo"]
    mine = ModelCard.from_dict({**old, "dataset": "raw", "preprocessing": {
        "reference": "average", "band_pass": [1, 40]}})
    assert steps_for(mine) == SignalSteps("average", (1.0, 40.0),
                                          origin="the model's training data")
    assert mine.to_dict()["preprocessing"]["band_pass"] == [1.0, 40.0]
    assert ModelCard.from_dict(mine.to_dict()) == mine


@pytest.mark.parametrize("value, found", [
    ([45, 4], "found [45, 4]"), ("4-45", "found '4-45'"), ([4], "found [4]"),
    ([4, "45"], "band_pass[1]: expected a number"), ([-1, 45], "band_pass[0]: expected"),
])
def test_card_refuses_a_malformed_band_pass(value, found):
    with pytest.raises(MetadataError) as err:
        ModelCard.from_dict({"preprocessing": {"band_pass": value}}, "m/rbt_metadata.json")
    assert str(err.value).startswith("m/rbt_metadata.json: preprocessing.band_pass")
    assert found in str(err.value)
    with pytest.raises(MetadataError, match="reference: expected 'average' or 'as recorded', "
                                            "found 'Cz'"):
        ModelCard.from_dict({"preprocessing": {"reference": "Cz"}})


def test_training_records_the_datasets_recipe(tmp_path):
    folder = F.deap_folder(tmp_path / "deap", n_trials=4)
    fs = load_features("deap", folder, progress=False)
    out = tmp_path / "model"
    fit(fs, folds=2, config=TrainConfig(epochs=1, model=SMALL), out=out, progress=False)
    prep = json.loads((out / "rbt_metadata.json").read_text())["preprocessing"]
    assert prep["reference"] == "average" and prep["band_pass"] == [4.0, 45.0]
    # recordings: what was done to them (here nothing, then SEED's steps)
    rec = F.save_fif(F.make_raw(EEG_CHANNELS, sfreq=SFREQ, seconds=8.0), tmp_path / "r_raw.fif")
    assert load_features("raw", rec, progress=False).params["reference"] == AS_RECORDED
    seed = load_features("raw", rec, preprocess="seed", progress=False).params
    assert (seed["reference"], seed["band_pass"]) == (AS_RECORDED, [0.0, 75.0])


def test_models_whose_data_had_no_steps_say_so(files, tmp_path, capsys):
    rec, _ = files
    for name, words in (("demo", "(the synthetic demo data) were not re-referenced"),
                        ("dreamer", "(DREAMER's released data) were not re-referenced or "
                                    "filtered (only the Emotiv EPOC headset's own band limit")):
        card = ModelCard(ch_names=tuple(EEG_CHANNELS), dataset=name)
        model = _checkpoint(tmp_path / name, card)
        assert main(["predict", "--model", str(model), "--source", "raw", "--path", str(rec),
                     "--out", str(tmp_path / f"{name}.csv")]) == 0
        err = capsys.readouterr().err
        assert words in err and "so the recordings are only resampled" in err
        assert "preprocessed as" not in err and "features were computed differently" not in err


def test_the_dashboard_applies_the_models_steps_to_a_recording(files, tmp_path, demo_valence,
                                                               monkeypatch):
    import sys
    from pathlib import Path

    home = Path(__file__).resolve().parent.parent / "app" / "Home.py"
    monkeypatch.syspath_prepend(str(home.parent))
    monkeypatch.setenv("RBT_CACHE_DIR", str(demo_valence[1]))
    assert str(home.parent) in sys.path
    import streamlit as st
    from locate import server_config

    before = st.get_option("server.address")  # typed paths: the shipped config's address
    st.config.set_option("server.address", server_config()["server"]["address"])
    try:
        _dashboard_steps(files, tmp_path, home)
    finally:
        st.config.set_option("server.address", before)


def _dashboard_steps(files, tmp_path, home):
    from streamlit.testing.v1 import AppTest

    rec, _ = files
    model = _checkpoint(tmp_path / "deap_model", _deap_card(reference="average",
                                                            band_pass=(4.0, 45.0)))
    at = AppTest.from_file(str(home), default_timeout=180).run()
    at.switch_page("views/1_One_trial.py").run()
    at.selectbox(key="source").set_value("raw").run()
    at.radio(key="raw_how").set_value("Path on this machine").run()
    at.text_input(key="path_raw").input(str(rec)).run()
    at.radio(key="model_kind").set_value("Checkpoint folder").run()
    at.text_input(key="model_path").input(str(model)).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    box = at.checkbox(key="apply_prep")
    assert box.label == "Apply the model's preprocessing" and box.value is True
    said = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "preprocessed as DEAP's released data were: re-referenced to the average" in said
    box.uncheck().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    said = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "preprocessed as" not in said
    assert "not average-referenced as the training data were" in said
    assert "no band-pass 4-45 Hz filter, which the training data had" in said
    assert "Tick 'Apply the model's preprocessing' in the sidebar" in said
