"""Checkpoint folders: round trips, unsafe pickles and broken files."""

import json
import pickle

import pytest
import torch

from rbt.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from rbt.model import RBTransformer, RBTransformerConfig
from rbt.model_card import EMPTY_CARD, ModelCard

CFG = RBTransformerConfig(num_electrodes=3, embed_dim=16, depth=2, heads=2, head_dim=8,
                          mlp_hidden_dim=16, num_classes=2)
META = {"ch_names": ["Fp1", "Cz", "O2"], "bands": {"theta": [4.0, 8.0], "alpha": [8.0, 14.0],
                                                    "beta": [14.0, 31.0], "gamma": [31.0, 49.0]},
        "class_names": ["low", "high"]}


CARD = ModelCard.from_dict(META)


def test_rbt_checkpoint_round_trip(tmp_path):
    model = RBTransformer(CFG).eval()
    folder = save_checkpoint(model, tmp_path / "ckpt", CARD)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors",
                                                        "rbt_metadata.json"]
    checkpoint = load_checkpoint(folder)
    loaded = checkpoint.model
    assert checkpoint.card == CARD and checkpoint.card.ch_names == ("Fp1", "Cz", "O2")
    assert checkpoint.card.bands["alpha"] == (8.0, 14.0)
    x = torch.randn(4, 3, 4)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), model(x), atol=0, rtol=0)


def test_save_refuses_to_overwrite(tmp_path):
    model = RBTransformer(CFG)
    save_checkpoint(model, tmp_path / "ckpt", CARD)
    with pytest.raises(FileExistsError, match="not empty"):
        save_checkpoint(model, tmp_path / "ckpt", CARD)
    save_checkpoint(model, tmp_path / "ckpt", CARD, overwrite=True)


def test_pickled_weights_only_with_weights_only(tmp_path):
    model = RBTransformer(CFG).eval()
    folder = tmp_path / "pt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CFG.to_dict()))
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    checkpoint = load_checkpoint(folder)
    assert checkpoint.card is EMPTY_CARD and checkpoint.card.is_empty  # an official layout
    loaded = checkpoint.model
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(loaded(x), model(x))


class _Exploit:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.path}",))


def test_malicious_pickle_is_refused_without_running(tmp_path):
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CFG.to_dict()))
    sentinel = tmp_path / "PWNED"
    with open(folder / "model.pt", "wb") as fh:
        pickle.dump({"weights": _Exploit(sentinel)}, fh)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(folder / "model.pt")
    assert not sentinel.exists()


def test_missing_or_broken_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="no such"):
        load_checkpoint(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        load_checkpoint(tmp_path / "empty")
    folder = save_checkpoint(RBTransformer(CFG), tmp_path / "c", CARD)
    (folder / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_checkpoint(folder)
    other = RBTransformer(RBTransformerConfig(num_electrodes=3, embed_dim=16, depth=1, heads=2,
                                              head_dim=8, mlp_hidden_dim=16))
    folder2 = save_checkpoint(other, tmp_path / "d")
    (folder2 / "config.json").write_text(json.dumps(CFG.to_dict()))  # says depth 2
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(folder2)
    # a config whose sizes do not fit the weights, or with values of the wrong type
    (folder2 / "config.json").write_text(json.dumps({**other.config.to_dict(),
                                                     "num_classes": 3}))
    with pytest.raises(CheckpointError, match="weights do not fit config.json.*size mismatch"):
        load_checkpoint(folder2)
    (folder2 / "config.json").write_text(json.dumps({**other.config.to_dict(), "depth": "1"}))
    with pytest.raises(CheckpointError, match="depth must be a positive integer; got '1'"):
        load_checkpoint(folder2)


def test_fold_scores(tmp_path):
    from rbt.checkpoint import fold_scores

    for name, protocol, accs in [("metrics.json", "trial-kfold", [0.6, 0.7]),
                                 ("metrics_window-kfold.json", "window-kfold", [0.9, 0.95])]:
        (tmp_path / name).write_text(json.dumps(
            {"protocol": protocol, "folds": [{"fold": i + 1, "accuracy": a, "macro_f1": a}
                                             for i, a in enumerate(accs)]}))
    df = fold_scores(tmp_path)
    assert list(df["protocol"].unique()) == ["trial-kfold", "window-kfold"]
    assert fold_scores(tmp_path / "missing").empty
    (tmp_path / "metrics.json").write_text("{not json")
    assert list(fold_scores(tmp_path)["protocol"].unique()) == ["window-kfold"]
