"""Inference: batching, devices and the shipped demo checkpoint."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rbt.checkpoint import load_checkpoint
from rbt.data import load_features
from rbt.device import resolve_device
from rbt.infer import CPU_BATCH, GPU_BATCH, default_batch_size, predict, predict_array
from rbt.model import RBTransformer, RBTransformerConfig
from rbt.model_fit import fit_data

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"


def test_batches_stream_and_agree():
    torch.manual_seed(0)
    model = RBTransformer(RBTransformerConfig(num_electrodes=5, embed_dim=16, depth=2, heads=2,
                                              head_dim=8, mlp_hidden_dim=16, num_classes=3))
    X = np.random.default_rng(0).standard_normal((37, 5, 4)).astype(np.float32)
    whole = predict_array(model, X, batch_size=64, attention=True)
    parts = predict_array(model, X, batch_size=4, attention=True)
    np.testing.assert_allclose(whole.probs, parts.probs, atol=1e-6)
    np.testing.assert_allclose(whole.attention, parts.attention, atol=1e-6)
    assert whole.attention.shape == (37, 2, 2, 5, 5)
    np.testing.assert_allclose(whole.probs.sum(1), 1, atol=1e-6)
    np.testing.assert_array_equal(whole.pred, whole.probs.argmax(1))
    assert predict_array(model, X).attention is None


def test_the_default_batch_is_the_devices():
    """On a CPU a forward pass takes CPU_BATCH windows (its products stay in cache), on a GPU
    GPU_BATCH; the default gives what those batches given by hand give."""
    assert default_batch_size("cpu") == CPU_BATCH < GPU_BATCH == default_batch_size("cuda:0")
    assert GPU_BATCH % CPU_BATCH == 0  # a cluster's blocks of GPU batches hold whole CPU ones
    torch.manual_seed(0)
    model = RBTransformer(RBTransformerConfig(num_electrodes=5, embed_dim=16, depth=1, heads=2,
                                              head_dim=8, mlp_hidden_dim=16))
    X = np.random.default_rng(1).standard_normal((2 * CPU_BATCH + 3, 5, 4)).astype(np.float32)
    fractions = []
    default = predict_array(model, X, device="cpu", on_progress=fractions.append)
    assert len(fractions) == 3  # batches of 128, 128 and 3
    by_hand = predict_array(model, X, device="cpu", batch_size=CPU_BATCH)
    np.testing.assert_array_equal(default.probs, by_hand.probs)
    with pytest.raises(ValueError, match="batch_size must be >= 1; got 0"):
        predict_array(model, X, batch_size=0)


def test_device_choice():
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="auto, cpu, cuda or mps"):
        resolve_device("tpu")


@pytest.mark.skipif(not DEMO.exists(), reason="assets/demo-checkpoint not built yet")
def test_shipped_demo_checkpoint_predicts_at_the_accuracy_it_claims():
    size = sum(p.stat().st_size for p in DEMO.iterdir())
    assert size < 5e6
    checkpoint = load_checkpoint(DEMO)
    metrics = json.loads((DEMO / "metrics.json").read_text())
    assert metrics["protocol"] == "trial-kfold" == checkpoint.card.scores.protocol
    card = checkpoint.card
    fs = load_features("demo", target=card.target, task=card.task, progress=False)
    result = predict(fit_data(checkpoint, fs))
    accuracy = float((result.pred == fs.y).mean())
    assert accuracy == pytest.approx(metrics["final_model_accuracy_on_all_demo_windows"],
                                     abs=1e-3)
    assert metrics["accuracy"]["mean"] > 0.7  # held-out trials, not just training data


@pytest.mark.skipif(not DEMO.exists(), reason="assets/demo-checkpoint not built yet")
def test_bfloat16_predictions_stay_close_to_float32(recwarn):
    checkpoint = load_checkpoint(DEMO)
    card = checkpoint.card
    fit = fit_data(checkpoint, load_features("demo", target=card.target, task=card.task,
                                             progress=False))
    exact = predict(fit)
    fast = predict(fit, precision="bfloat16")
    assert fast.probs.dtype == np.float32
    gap = np.abs(fast.probs - exact.probs)
    assert 0 < gap.max() < 0.05  # really ran in bfloat16, and stayed close
    assert (fast.pred == exact.pred).mean() > 0.99
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16"):
        predict(fit, precision="float16")


def test_frames_when_model_and_data_count_classes_differently():
    import pandas as pd

    from rbt.checkpoint import Checkpoint
    from rbt.data import FeatureSet
    from rbt.infer import prediction_table
    from rbt.model_card import EMPTY_CARD

    rng = np.random.default_rng(0)
    table = pd.DataFrame({"subject": "s01", "session": 1, "trial": np.arange(9) // 3 + 1,
                          "window": np.arange(9) % 3})
    for n_model, n_data in ((2, 3), (5, 2)):  # official checkpoints: no class names
        torch.manual_seed(n_model)
        model = RBTransformer(RBTransformerConfig(num_electrodes=3, embed_dim=8, depth=1,
                                                  heads=1, head_dim=4, mlp_hidden_dim=8,
                                                  num_classes=n_model))
        data_names = [f"c{i}" for i in range(n_data)]
        fs = FeatureSet(X=rng.standard_normal((9, 3, 4)).astype(np.float32), table=table,
                        ch_names=["Fz", "Cz", "Pz"], sfreq=128.0,
                        bands={"theta": (4, 8), "alpha": (8, 14), "beta": (14, 31),
                               "gamma": (31, 49)}, dataset="raw", source="test", params={},
                        y=np.arange(9) % n_data, class_names=data_names)
        fit = fit_data(Checkpoint(model, EMPTY_CARD, Path("official")), fs)
        assert fit.y is None and fit.codes == ["class_count", "no_card"]
        assert fit.class_names == [f"class {i}" for i in range(n_model)]
        result = predict(fit)
        df = prediction_table(fit, result.probs, result.pred)
        assert [c for c in df.columns if c.startswith("p_")] == [
            f"p_class {i}" for i in range(n_model)]
        assert set(df["predicted"]) <= {f"class {i}" for i in range(n_model)}
        assert "true" not in df  # the data's classes are not the model's
