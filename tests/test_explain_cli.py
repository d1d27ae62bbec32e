"""``rbt explain`` and ``explain_features`` on the demo data with a small saved model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rbt.checkpoint import Checkpoint, save_checkpoint
from rbt.cli import main
from rbt.data import with_labels
from rbt.explain import aggregate, attribute, explain_features, load_explanation
from rbt.model import RBTransformer
from rbt.model_card import ModelCard
from rbt.model_fit import fit_data
from rbt.train import TrainConfig, _card


@pytest.fixture
def demo_cache(demo_valence, monkeypatch):
    """The session's demo features, found by the CLI through the cache."""
    fs, folder = demo_valence
    monkeypatch.setenv("RBT_CACHE_DIR", str(folder))
    return fs


def _save_model(fs, folder, target="valence"):
    torch.manual_seed(0)
    model = RBTransformer(num_electrodes=32, embed_dim=16, depth=2, heads=2, head_dim=8,
                          mlp_hidden_dim=16).eval()
    labelled = with_labels(dataclasses.replace(fs), target, "binary")
    save_checkpoint(model, folder, _card(labelled, "trial-kfold", TrainConfig(), None))
    return model, labelled


def test_cli_writes_the_documented_keys(demo_cache, tmp_path, capsys):
    model, fs = _save_model(demo_cache, tmp_path / "model")
    out = tmp_path / "explained.npz"
    code = main(["explain", "--model", str(tmp_path / "model"), "--source", "demo",
                 "--method", "integrated_gradients", "--n-steps", "4", "--attention",
                 "--out", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "integrated_gradients" in captured.err and "window" in captured.err  # progress bar
    assert f"wrote {out}" in captured.out
    n = len(fs)
    with np.load(out) as z:
        assert {"attributions", "ch_names", "bands", "y", "pred", "probs", "attention",
                "rollout", "class_names", "target", "subject", "trial"} <= set(z.files)
        assert z["attributions"].shape == (n, 32, 4) and z["attributions"].dtype == np.float32
        assert list(z["ch_names"]) == fs.ch_names
        assert list(z["bands"]) == ["theta", "alpha", "beta", "gamma"]
        np.testing.assert_array_equal(z["y"], fs.y)
        assert z["probs"].shape == (n, 2)
        np.testing.assert_array_equal(z["pred"], z["probs"].argmax(axis=1))
        np.testing.assert_array_equal(z["target"], z["pred"])  # the predicted class by default
        assert z["attention"].shape == (n, 2, 2, 32, 32) and z["attention"].dtype == np.float16
        np.testing.assert_allclose(z["attention"].astype(np.float32).sum(axis=-1), 1.0,
                                   atol=5e-3)
        np.testing.assert_allclose(z["rollout"].sum(axis=-1), 1.0, atol=1e-4)
        # the same numbers as the library gives for a few windows
        idx = [0, 500, n - 1]
        np.testing.assert_allclose(
            z["attributions"][idx],
            attribute(model, fs.X[idx], target=z["pred"][idx], n_steps=4), rtol=1e-4, atol=1e-7)
    # read back as an Explanation, its table ready for aggregation
    back = load_explanation(out)
    np.testing.assert_array_equal(back.attributions, np.load(out)["attributions"])
    assert back.class_names == ["low", "high"] and back.ch_names == fs.ch_names
    assert {"subject", "trial", "true", "predicted", "correct"} <= set(back.table.columns)
    means = aggregate(back.attributions, back.table, by="true", where={"correct": True})
    assert set(means) <= {"low", "high"} and all(m.shape == (32, 4) for m in means.values())
    assert back.attention.dtype == np.float16 and back.rollout.shape == (n, 32, 32)
    bad = tmp_path / "other.npz"
    np.savez(bad, X=np.zeros(3))
    with pytest.raises(ValueError, match="not an rbt explain file"):
        load_explanation(bad)


def test_cli_refuses_to_overwrite_without_force(demo_cache, tmp_path, capsys):
    _save_model(demo_cache, tmp_path / "model")
    out = tmp_path / "explained.npz"
    out.write_bytes(b"keep me")
    args = ["explain", "--model", str(tmp_path / "model"), "--method", "saliency",
            "--out", str(out)]
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert main(args + ["--force"]) == 0
    with np.load(out) as z:
        assert "attention" not in z.files and "rollout" not in z.files
        assert (z["attributions"] >= 0).all()  # saliency is a magnitude


def test_cli_target_and_task_default_to_the_models(demo_cache, tmp_path, capsys):
    _, arousal = _save_model(demo_cache, tmp_path / "model", target="arousal")
    valence = with_labels(dataclasses.replace(demo_cache), "valence", "binary")
    assert (arousal.y != valence.y).any()
    out = tmp_path / "a.npz"
    assert main(["explain", "--model", str(tmp_path / "model"), "--method", "feature_ablation",
                 "--mask", "band", "--class", "high", "--out", str(out)]) == 0
    with np.load(out) as z:
        np.testing.assert_array_equal(z["y"], arousal.y)
        assert (z["target"] == 1).all()
        assert (np.ptp(z["attributions"], axis=1) == 0).all()
    capsys.readouterr()
    assert main(["explain", "--model", str(tmp_path / "model"), "--target", "valence",
                 "--method", "grad", "--out", str(out), "--force"]) == 0  # a short name
    captured = capsys.readouterr()
    assert "trained to predict arousal/binary, but these labels are valence/binary" in \
        captured.err
    assert "(saliency)" in captured.out and "baseline" not in captured.out  # it has none
    with np.load(out) as z:
        np.testing.assert_array_equal(z["y"], valence.y)
        assert str(z["method"]) == "saliency"
    with pytest.raises(SystemExit):
        main(["explain", "--model", str(tmp_path / "model"), "--method", "lime",
              "--out", str(out), "--force"])
    assert "unknown method 'lime'" in capsys.readouterr().err


def test_cli_explains_chosen_subjects_and_trials(demo_cache, tmp_path, capsys):
    _save_model(demo_cache, tmp_path / "model")
    out = tmp_path / "some.npz"
    base = ["explain", "--model", str(tmp_path / "model"), "--method", "saliency"]
    assert main(base + ["--subjects", "s02", "s04", "--trials", "3", "5", "--out",
                        str(out)]) == 0
    t = demo_cache.table
    want = t["subject"].isin(["s02", "s04"]) & t["trial"].isin([3, 5])
    with np.load(out) as z:
        np.testing.assert_array_equal(z["index"], np.flatnonzero(want.to_numpy()))
        assert set(z["subject"]) == {"s02", "s04"} and set(z["trial"]) == {3, 5}
    assert main(base + ["--subjects", "s9", "--out", str(tmp_path / "x.npz")]) == 2
    assert "no subject s9 in these data; they have s01, s02" in capsys.readouterr().err
    assert main(base + ["--trials", "99", "--out", str(tmp_path / "x.npz")]) == 2
    assert "no windows of trial(s) 99" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_cli_rejects_an_unknown_class(demo_cache, tmp_path, capsys):
    _save_model(demo_cache, tmp_path / "model")
    code = main(["explain", "--model", str(tmp_path / "model"), "--method", "saliency",
                 "--class", "ecstatic", "--out", str(tmp_path / "x.npz")])
    assert code == 2
    assert "unknown class 'ecstatic'" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_explain_features_for_selected_windows(demo_cache, tmp_path):
    model, fs = _save_model(demo_cache, tmp_path / "model")
    card = ModelCard(ch_names=tuple(reversed(fs.ch_names)), class_names=tuple(fs.class_names))
    fit = fit_data(Checkpoint(model=model, card=card, path=tmp_path / "model"), fs)
    idx = np.array([3, 700, 1200])
    result = explain_features(fit, method="integrated_gradients", index=idx,
                              target="true", baseline="subject_mean", attention=True,
                              n_steps=8)
    X = fs.X[:, ::-1]  # the model's electrode order, as the card says
    subjects = fs.table["subject"].to_numpy()
    own_mean = X[subjects == subjects[700]].mean(axis=0)
    expected = attribute(model, X[[700]], target=fs.y[[700]], baseline=own_mean, n_steps=8)
    np.testing.assert_allclose(result.attributions[1], expected[0], rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(result.target, fs.y[idx])
    assert result.ch_names == list(card.ch_names)
    assert result.rollout.shape == (3, 32, 32) and result.attention.shape == (3, 2, 2, 32, 32)
    assert list(result.table["true"]) == [fs.class_names[c] for c in fs.y[idx]]
    assert list(result.table["correct"]) == list(result.pred == fs.y[idx])
    with pytest.raises(ValueError, match="unknown class"):
        explain_features(fit, method="saliency", target="neutral")
