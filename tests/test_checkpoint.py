"""Checkpoint folders: round trips, unsafe pickles, and data that does not fit."""

import json
import pickle

import numpy as np
import pytest
import torch

from rbt.checkpoint import CheckpointError, align_features, load_model, save_checkpoint
from rbt.data import FeatureSet
from rbt.model import RBTransformer, RBTransformerConfig

CFG = RBTransformerConfig(num_electrodes=3, embed_dim=16, depth=2, heads=2, head_dim=8,
                          mlp_hidden_dim=16, num_classes=2)
META = {"ch_names": ["Fp1", "Cz", "O2"], "bands": {"theta": [4.0, 8.0], "alpha": [8.0, 14.0],
                                                    "beta": [14.0, 31.0], "gamma": [31.0, 49.0]},
        "class_names": ["low", "high"]}


def features(ch_names, bands=None, n=6, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    bands = bands or {k: tuple(v) for k, v in META["bands"].items()}
    X = rng.standard_normal((n, len(ch_names), len(bands))).astype(np.float32)
    table = pd.DataFrame({"subject": "s01", "session": 1, "trial": 1, "window": range(n)})
    return FeatureSet(X=X, table=table, ch_names=list(ch_names), sfreq=128.0, bands=bands,
                      dataset="deap", source="test", params={})


def test_rbt_checkpoint_round_trip(tmp_path):
    model = RBTransformer(CFG).eval()
    folder = save_checkpoint(model, tmp_path / "ckpt", META)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors",
                                                        "rbt_metadata.json"]
    loaded, meta = load_model(folder)
    assert meta["ch_names"] == META["ch_names"]
    x = torch.randn(4, 3, 4)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), model(x), atol=0, rtol=0)


def test_save_refuses_to_overwrite(tmp_path):
    model = RBTransformer(CFG)
    save_checkpoint(model, tmp_path / "ckpt", META)
    with pytest.raises(FileExistsError, match="not empty"):
        save_checkpoint(model, tmp_path / "ckpt", META)
    save_checkpoint(model, tmp_path / "ckpt", META, overwrite=True)


def test_pickled_weights_only_with_weights_only(tmp_path):
    model = RBTransformer(CFG).eval()
    folder = tmp_path / "pt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CFG.to_dict()))
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    loaded, _ = load_model(folder)
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
        load_model(folder / "model.pt")
    assert not sentinel.exists()


def test_missing_or_broken_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="no such"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        load_model(tmp_path / "empty")
    folder = save_checkpoint(RBTransformer(CFG), tmp_path / "c", META)
    (folder / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_model(folder)
    other = RBTransformer(RBTransformerConfig(num_electrodes=3, embed_dim=16, depth=1, heads=2,
                                              head_dim=8, mlp_hidden_dim=16))
    folder2 = save_checkpoint(other, tmp_path / "d")
    (folder2 / "config.json").write_text(json.dumps(CFG.to_dict()))  # says depth 2
    with pytest.raises(CheckpointError, match="missing"):
        load_model(folder2)
    # a config whose sizes do not fit the weights, or with values of the wrong type
    (folder2 / "config.json").write_text(json.dumps({**other.config.to_dict(),
                                                     "num_classes": 3}))
    with pytest.raises(CheckpointError, match="weights do not fit config.json.*size mismatch"):
        load_model(folder2)
    (folder2 / "config.json").write_text(json.dumps({**other.config.to_dict(), "depth": "1"}))
    with pytest.raises(CheckpointError, match="depth must be a positive integer; got '1'"):
        load_model(folder2)


def test_channels_in_another_order_are_reordered_by_name():
    model = RBTransformer(CFG)
    fs = features(["O2", "fp1", "CZ"])  # same electrodes, other order and case
    X = align_features(model, META, fs)
    np.testing.assert_array_equal(X, fs.X[:, [1, 2, 0]])


@pytest.mark.parametrize("names, message", [
    (["Fp1", "Cz"], "3 electrodes and the data has 2"),
    (["Fp1", "Cz", "Pz"], "missing from the data: O2"),
])
def test_electrode_mismatch_is_explained(names, message):
    with pytest.raises(CheckpointError, match=message):
        align_features(RBTransformer(CFG), META, features(names))


def test_band_mismatch_is_explained():
    bands = {"theta": (4.0, 7.0), "alpha": (8.0, 13.0), "beta": (14.0, 30.0),
             "gamma": (31.0, 45.0)}
    with pytest.raises(CheckpointError, match="bands"):
        align_features(RBTransformer(CFG), META, features(META["ch_names"], bands=bands))


def test_official_checkpoint_checks_the_count_only():
    with pytest.raises(CheckpointError, match="expects 3 electrodes"):
        align_features(RBTransformer(CFG), None, features(["Fp1", "Cz", "O2", "Pz"]))
    fs = features(["Fp1", "Cz", "O2"])
    np.testing.assert_array_equal(align_features(RBTransformer(CFG), None, fs), fs.X)


def test_notes_for_other_targets_preprocessing_and_official_checkpoints():
    import dataclasses

    from rbt.checkpoint import data_notes

    fs = dataclasses.replace(features(["Fp1", "Cz", "O2"]), target="arousal", task="binary",
                             y=np.zeros(6, np.int64), class_names=["low", "high"])
    meta = {**META, "target": "valence", "task": "binary", "sfreq": 128.0,
            "preprocessing": {"window": 512, "stride": 117, "filter_sfreq": None}}
    notes = data_notes(meta, dataclasses.replace(fs, params={"window": 512, "stride": 64}))
    assert "trained to predict valence/binary, but these labels are arousal/binary" in notes[0]
    assert "stride 117 (model) vs 64 (data)" in notes[1]
    assert data_notes({**meta, "target": "arousal"}, fs) == []
    assert not any("valence" in n for n in data_notes(meta, fs, scored=False))  # no accuracy
    # SEED: the reference's 128-Hz filters against the true 200 Hz, both ways
    seed = dataclasses.replace(fs, dataset="seed", sfreq=200.0, y=None, params={})
    ref = {**meta, "sfreq": 200.0, "preprocessing": {"filter_sfreq": 128.0}}
    assert "filters designed for 128 Hz (model) vs 200 Hz (data)" in data_notes(ref, seed)[0]
    assert data_notes(ref, dataclasses.replace(seed, params={"filter_sfreq": 128.0})) == []
    official = data_notes(None, dataclasses.replace(seed, params={"filter_sfreq": 200.0}))
    assert "no rbt metadata" in official[0] and "--seed-reference-filters" in official[1]
