"""Training-trial fingerprints: predictions and explanations say when they score training data."""

import dataclasses
import json
from pathlib import Path

import formats as F
import numpy as np
import pandas as pd

from rbt import provenance
from rbt.cli import main
from rbt.data import load_features
from rbt.train import TrainConfig, fit

SMALL = dict(embed_dim=16, depth=1, heads=2, head_dim=8, mlp_hidden_dim=16, dropout=0.0)


def _trial_keys(fs) -> np.ndarray:
    return (fs.table["subject"].astype(str) + "/" + fs.table["trial"].astype(str)).to_numpy()


def test_only_the_trials_it_was_trained_on_are_recognised(demo_valence, tmp_path):
    fs, _ = demo_valence
    rng = np.random.default_rng(0)
    rows = np.flatnonzero(fs.table["subject"].isin(["s01", "s02"]).to_numpy())
    rows = rows[rng.random(len(rows)) < 0.3]  # any window of a trial makes it a training trial
    meta = provenance.fingerprints(fs, rows)  # what a card keeps
    seen = provenance.seen_in_training(meta, fs)
    trained = np.isin(_trial_keys(fs), np.unique(_trial_keys(fs)[rows]))
    np.testing.assert_array_equal(seen, trained)
    assert 0 < seen.mean() < 1
    # the same trials read in another channel order are still recognised once aligned
    order = np.arange(len(fs.ch_names))[::-1]
    moved = dataclasses.replace(fs, X=fs.X[:, order], ch_names=[fs.ch_names[i] for i in order])
    from rbt.checkpoint import Checkpoint
    from rbt.model import RBTransformer
    from rbt.model_card import ModelCard
    from rbt.model_fit import fit_data

    card = ModelCard(ch_names=tuple(fs.ch_names), training_trials=meta)
    fit = fit_data(Checkpoint(RBTransformer(num_electrodes=32, **SMALL), card, Path("m")), moved)
    np.testing.assert_array_equal(fit.in_training, trained)
    # windows whose trial lacks its first window cannot be checked: unknown, not "held out"
    later = fs.subset((fs.table["window"] > 0).to_numpy())
    assert np.isnan(provenance.seen_in_training(meta, later)).all()
    assert "could not be checked" in provenance.training_note(
        provenance.seen_in_training(meta, later))
    assert provenance.fingerprints(fs, rows=[]) == []
    # other recordings in the same format are not
    other = load_features("deap", F.deap_folder(tmp_path / "deap", subjects=(1, 2)),
                          progress=False)
    assert not provenance.seen_in_training(meta, other).any()
    # checkpoints that do not say (official ones) give None, and no note
    assert provenance.seen_in_training(None, fs) is None
    assert provenance.seen_in_training([[1.0, 2.0]] * 5, fs) is None
    assert provenance.training_note(None) is None


def test_training_note_words():
    seen = np.array([1.0, 1.0, 0.0, 0.0])
    correct = np.array([True, True, True, False])
    note = provenance.training_note(seen, correct)
    assert note.startswith("2 of 4 windows come from trials this model was trained on")
    assert "accuracy on them 1.000, on the 2 windows of other trials 0.500" in note
    assert "training accuracy" in provenance.training_note(np.ones(3))
    assert provenance.training_note(np.zeros(3)) is None
    mixed = provenance.training_note(np.array([1.0, 0.0, np.nan]), np.array([True, False, True]))
    assert mixed.startswith("1 of 3 windows") and "1 windows could not be checked" in mixed
    col = provenance.as_column(np.array([1.0, 0.0, np.nan]))
    assert col[0] and not col[1] and col[2] is pd.NA


def test_trained_models_mark_their_training_windows(demo_valence, tmp_path, capsys,
                                                    monkeypatch):
    fs, folder = demo_valence
    two = fs.subset(fs.table["subject"].isin(["s01", "s02"]).to_numpy())
    out = tmp_path / "model"
    fit(two, split="subject-out", folds=2, config=TrainConfig(epochs=1, model=SMALL), out=out,
        keep_fold_models=True, progress=False)
    meta = json.loads((out / "rbt_metadata.json").read_text())
    assert len(meta[provenance.KEY]) == 32  # 2 subjects x 16 trials
    for fold in (1, 2):  # each fold model knows only its training subject's trials
        fold_meta = json.loads((out / "folds" / f"fold_{fold}" / "rbt_metadata.json").read_text())
        assert len(fold_meta[provenance.KEY]) == 16
    # predicting all demo subjects: the CSV marks the two trained subjects, the note says so
    csv = tmp_path / "pred.csv"
    monkeypatch.setenv("RBT_CACHE_DIR", str(folder))
    assert main(["predict", "--model", str(out), "--source", "demo", "--out", str(csv)]) == 0
    err = capsys.readouterr().err
    assert "576 of 1440 windows come from trials this model was trained on" in err
    df = pd.read_csv(csv)
    np.testing.assert_array_equal(df["in_training"], df["subject"].isin(["s01", "s02"]))


def test_explain_marks_the_shipped_models_training_windows(demo_valence, tmp_path, capsys,
                                                          monkeypatch):
    demo_model = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"
    fs, folder = demo_valence
    monkeypatch.setenv("RBT_CACHE_DIR", str(folder))
    out = tmp_path / "e.npz"
    assert main(["explain", "--model", str(demo_model), "--source", "demo", "--method",
                 "saliency", "--out", str(out)]) == 0
    assert "all 1440 windows come from trials this model was trained on" in \
        capsys.readouterr().err
    with np.load(out) as z:
        assert z["in_training"].all()
