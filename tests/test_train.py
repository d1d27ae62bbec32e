"""Evaluation protocols, training, resume, metrics and the train/predict commands."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from rbt.cli import main
from rbt.data import load_features
from rbt.train import TrainConfig, fit, split_folds

SMALL = dict(embed_dim=32, depth=1, heads=2, head_dim=16, mlp_hidden_dim=32, dropout=0.0)
SMALL_ARGS = ["--embed-dim", "32", "--depth", "1", "--heads", "2", "--head-dim", "16",
              "--mlp-hidden-dim", "32", "--dropout", "0", "--lr", "0.003"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    os.environ["RBT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    return load_features("demo", progress=False)


@pytest.fixture
def two_subjects(demo):
    return demo.subset(demo.table["subject"].isin(["s01", "s02"]).to_numpy())


def groups(fs, cols):
    return fs.table[cols].astype(str).agg("/".join, axis=1).to_numpy()


@pytest.mark.parametrize("split, cols", [("trial-kfold", ["subject", "session", "trial"]),
                                         ("subject-out", ["subject"])])
def test_each_split_keeps_every_group_on_one_side(demo, split, cols):
    g = groups(demo, cols)
    folds = split_folds(demo, split, 5, seed=0)
    assert len(folds) == 5
    seen = np.zeros(len(demo), int)
    for tr, te in folds:
        assert not set(g[tr]) & set(g[te])
        seen[te] += 1
    assert (seen == 1).all()  # every window is tested exactly once


def test_window_kfold_mixes_windows_of_one_trial(demo):
    g = groups(demo, ["subject", "trial"])
    tr, te = split_folds(demo, "window-kfold", 5, seed=0)[0]
    assert set(g[tr]) & set(g[te])  # the leak the paper's protocol has


def test_trial_kfold_is_stratified(demo):
    for _, te in split_folds(demo, "trial-kfold", 4, seed=1):
        assert 0.3 < demo.y[te].mean() < 0.7


def test_bad_protocols_are_refused(demo, two_subjects):
    with pytest.raises(ValueError, match="split must be one of"):
        split_folds(demo, "random", 5)
    one = demo.subset((demo.table["subject"] == "s01").to_numpy())
    with pytest.raises(ValueError, match="at least 2 subjects"):
        split_folds(one, "subject-out", 5)
    with pytest.raises(ValueError, match="per-subject"):
        fit(two_subjects, split="subject-out", per_subject=True, progress=False)


def test_training_beats_chance_under_trial_kfold_and_is_seeded(demo, tmp_path):
    cfg = TrainConfig(epochs=10, lr=3e-3, model=SMALL)
    model, metrics = fit(demo, split="trial-kfold", folds=4, config=cfg,
                         out=tmp_path / "run", progress=False, command="test")
    assert metrics["accuracy"]["mean"] > 0.7
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["protocol"] == "trial-kfold" and saved["command"] == "test"
    assert len(saved["folds"]) == 4
    for f in saved["folds"]:
        assert np.array(f["confusion"]).sum() == f["n_test"]
        assert 0 <= f["macro_f1"] <= 1
    accs = [f["accuracy"] for f in saved["folds"]]
    assert saved["accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert saved["accuracy"]["std"] == pytest.approx(np.std(accs))
    meta = json.loads((tmp_path / "run" / "rbt_metadata.json").read_text())
    assert meta["ch_names"] == demo.ch_names and meta["class_names"] == ["low", "high"]
    assert meta["split"] == "trial-kfold" and meta["target"] == "valence"
    # the same settings give the same numbers
    _, again = fit(demo, split="trial-kfold", folds=4, config=cfg, progress=False,
                   train_final=False)
    assert [f["accuracy"] for f in again["folds"]] == accs
    # and refuse to overwrite a finished run
    with pytest.raises(FileExistsError, match="already holds"):
        fit(demo, split="trial-kfold", folds=4, config=cfg, out=tmp_path / "run",
            progress=False)


def test_per_subject_trains_one_model_per_subject(two_subjects):
    _, metrics = fit(two_subjects, split="trial-kfold", folds=2, per_subject=True,
                     config=TrainConfig(epochs=1, model=SMALL), progress=False,
                     train_final=False)
    assert [f["subject"] for f in metrics["folds"]] == ["s01", "s01", "s02", "s02"]


def test_interrupted_run_resumes_after_the_last_finished_fold(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--source", "demo", "--split", "trial-kfold", "--folds", "3",
            "--epochs", "3", "--out", str(out), *SMALL_ARGS]
    env = {**os.environ, "RBT_CACHE_DIR": os.environ["RBT_CACHE_DIR"]}
    proc = subprocess.Popen([sys.executable, "-m", "rbt.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    progress = out / "progress.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if progress.exists() and json.loads(progress.read_text())["folds"]:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    done = json.loads(progress.read_text())["folds"]
    assert 1 <= len(done) < 3
    assert not (out / "metrics.json").exists()
    # run the same command again: it reports the resume and keeps the finished folds
    result = subprocess.run([sys.executable, "-m", "rbt.cli", *args], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{len(done)} fold(s) already finished" in result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["folds"]) == 3
    for key, fold in done.items():
        assert metrics["folds"][int(key)] == fold
    assert not progress.exists()


def test_train_and_predict_commands(tmp_path, capsys, demo):
    out = tmp_path / "model"
    assert main(["train", "--source", "demo", "--folds", "2", "--epochs", "2", "--out", str(out),
                 *SMALL_ARGS]) == 0
    assert "accuracy" in capsys.readouterr().out
    command = json.loads((out / "metrics.json").read_text())["command"]
    assert command.startswith(f"cd {os.getcwd()} && rbt ")  # reruns from any folder
    csv = tmp_path / "pred.csv"
    # labels of another target with the same class names: predicted, with a note
    assert main(["predict", "--model", str(out), "--source", "demo", "--target", "arousal",
                 "--out", str(tmp_path / "arousal.csv")]) == 0
    assert "trained to predict valence/binary, but these labels are arousal/binary" in \
        capsys.readouterr().err
    assert main(["predict", "--model", str(out), "--source", "demo", "--out", str(csv)]) == 0
    err = capsys.readouterr().err
    assert "trained to predict" not in err and "all 1440 windows come from trials" in err
    df = pd.read_csv(csv)
    assert len(df) == len(demo)
    assert list(df.columns) == ["subject", "session", "trial", "window", "start", "true",
                                "predicted", "confidence", "correct", "p_low", "p_high",
                                "in_training"]
    assert (df["correct"] == (df["true"] == df["predicted"])).all()
    np.testing.assert_allclose(df["confidence"], df[["p_low", "p_high"]].max(axis=1))
    assert df["in_training"].all()  # the final model saw every window
    np.testing.assert_allclose(df[["p_low", "p_high"]].sum(axis=1), 1, atol=1e-5)
    assert set(df["predicted"]) <= {"low", "high"}
    # predict refuses to overwrite, and a model that does not fit the data is explained
    assert main(["predict", "--model", str(out), "--source", "demo", "--out", str(csv)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path / "missing"), "--source", "demo",
                 "--out", str(tmp_path / "x.csv")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_predict_with_labels_that_are_not_the_models_classes(tmp_path, capsys):
    from pathlib import Path

    demo_model = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"
    if not demo_model.exists():
        pytest.skip("assets/demo-checkpoint not built yet")
    csv = tmp_path / "pred.csv"
    # the demo model predicts binary valence; ask for 9-class valence labels
    assert main(["predict", "--model", str(demo_model), "--source", "demo", "--task", "multi",
                 "--out", str(csv)]) == 0
    assert "not the model's classes" in capsys.readouterr().err
    df = pd.read_csv(csv)
    assert "true" not in df.columns and set(df["predicted"]) <= {"low", "high"}


def test_train_does_not_replace_an_existing_checkpoint(tmp_path, demo):
    from rbt.checkpoint import save_checkpoint
    from rbt.model import RBTransformer, RBTransformerConfig

    folder = save_checkpoint(RBTransformer(RBTransformerConfig(**SMALL)), tmp_path / "official")
    before = (folder / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="already holds"):
        fit(demo, folds=2, config=TrainConfig(epochs=1, model=SMALL), out=folder,
            progress=False)
    assert (folder / "model.safetensors").read_bytes() == before


def test_full_run_after_cv_only_reuses_the_folds(tmp_path, two_subjects, capsys):
    cfg = TrainConfig(epochs=2, model=SMALL)
    out = tmp_path / "run"
    _, cv = fit(two_subjects, folds=2, config=cfg, out=out, progress=False, train_final=False)
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json"]
    with pytest.raises(FileExistsError, match="results .* of other data or settings"):
        fit(two_subjects, folds=3, config=cfg, out=out, progress=False)
    with pytest.raises(FileExistsError, match="of this run; pass --overwrite"):  # cv-only again,
        fit(two_subjects, folds=2, config=cfg, out=out, progress=False, train_final=False)
    with pytest.raises(FileExistsError, match="of this run"):  # or fold models, never kept
        fit(two_subjects, folds=2, config=cfg, out=out, progress=False, keep_fold_models=True)
    model, full = fit(two_subjects, folds=2, config=cfg, out=out, progress=False)
    assert "cross-validation already done" in capsys.readouterr().err
    assert model is not None and (out / "model.safetensors").exists()
    assert full["folds"] == cv["folds"]
    assert json.loads((out / "rbt_metadata.json").read_text())["metrics"]["accuracy"] == cv[
        "accuracy"]
