"""Hostile checkpoints: configs, weights and metadata are checked before anything big is built.

Every hostile file is built here, and every test that could allocate runs under
``memory_limit``, so a blow-up fails the test instead of exhausting the machine.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import resource
import struct
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from rbt import provenance
from rbt.checkpoint import MAX_WEIGHTS_BYTES, CheckpointError, load_checkpoint, save_checkpoint
from rbt.data import FeatureSet
from rbt.model import RBTransformer, RBTransformerConfig
from rbt.model_card import MetadataError, ModelCard, read_card, validate_metadata

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"
SIZES = dict(num_electrodes=3, bde_dim=4, embed_dim=8, depth=1, heads=2, head_dim=4,
             mlp_hidden_dim=8, dropout=0.1, num_classes=2)
BANDS = {"theta": [4.0, 8.0], "alpha": [8.0, 14.0], "beta": [14.0, 31.0], "gamma": [31.0, 49.0]}
META = {"rbt_version": "0.2.0", "ch_names": ["Fp1", "Cz", "O2"], "bands": BANDS,
        "sfreq": 128.0, "dataset": "deap", "target": "valence", "task": "binary",
        "class_names": ["low", "high"], "label_rule": "rating >= 5 is high",
        "split": "trial-kfold", "train_config": {"epochs": 1},
        "preprocessing": {"window": 512, "stride": 117, "order": 5, "filter_sfreq": None,
                          "sfreq": 128.0},
        "metrics": {"protocol": "trial-kfold", "accuracy": {"mean": 0.7, "std": 0.1},
                    "macro_f1": {"mean": 0.6, "std": 0.1}},
        "training_trials": [[0, 1.5, -2.0, 3.25, 4.0]]}


def model(**changes) -> RBTransformer:
    torch.manual_seed(0)
    return RBTransformer(RBTransformerConfig(**{**SIZES, **changes})).eval()


def checkpoint(folder: Path, meta: dict | None = META, **changes) -> Path:
    card = None if meta is None else ModelCard.from_dict(meta)
    return save_checkpoint(model(**changes), folder, card)


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- config.json --------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [SIZES, {**SIZES, "depth": 3, "num_classes": 7},
                                   RBTransformerConfig().to_dict()])
def test_parameter_shapes_are_the_models(sizes):
    cfg = RBTransformerConfig(**sizes)
    real = {k: tuple(v.shape) for k, v in RBTransformer(cfg).state_dict().items()}
    assert cfg.parameter_shapes() == real
    assert cfg.n_parameters() == sum(p.numel() for p in RBTransformer(cfg).parameters())


@pytest.mark.parametrize("change, message", [
    ({"embed_dim": 10**9}, "embed_dim must be at most 8192; got 1000000000"),
    ({"depth": 10**6}, "depth must be at most 128; got 1000000"),
    ({"num_electrodes": 10**400}, "num_electrodes must be at most 1024"),
    ({"embed_dim": 8192, "depth": 128, "mlp_hidden_dim": 65536}, "more than the 100,000,000"),
    ({"embed_dim": 64, "heads": 64, "head_dim": 4096, "depth": 16}, "more than the 100,000,000"),
])
def test_huge_configs_are_refused_fast_without_allocating(tmp_path, memory_limit, change,
                                                          message):
    folder = checkpoint(tmp_path / "c")
    write_json(folder / "config.json", {**SIZES, **change})
    before, start = peak_rss_mb(), time.perf_counter()
    with pytest.raises(CheckpointError, match=message) as err:
        load_checkpoint(folder)
    assert time.perf_counter() - start < 1.0
    assert peak_rss_mb() - before < 50
    assert str(folder / "config.json") in str(err.value)


@pytest.mark.parametrize("field", ["num_electrodes", "bde_dim", "embed_dim", "depth", "heads",
                                   "head_dim", "mlp_hidden_dim", "num_classes"])
@pytest.mark.parametrize("value", ["3", 2.0, 2.5, True, None, [3], {"v": 3}, 0, -3])
def test_wrong_typed_config_fields(tmp_path, field, value):
    folder = checkpoint(tmp_path / "c")
    write_json(folder / "config.json", {**SIZES, field: value})
    with pytest.raises(CheckpointError, match=f"config.json: not an RBTransformer config "
                                              f"\\({field} must be a positive integer; got"):
        load_checkpoint(folder)


@pytest.mark.parametrize("value", ["0.1", True, 1.0, -0.1, 1e400, None, [0.1]])
def test_wrong_dropout(tmp_path, value):
    folder = checkpoint(tmp_path / "c")
    write_json(folder / "config.json", {**SIZES, "dropout": value})
    with pytest.raises(CheckpointError, match=r"dropout must be a number in \[0, 1\)"):
        load_checkpoint(folder)


@pytest.mark.parametrize("content, message", [
    ("[1, 2, 3]", "expected a JSON object of hyper-parameters; found list"),
    ('"embed_dim"', "found str"),
    ('{"embed_dim": 8}', "config is missing depth, head_dim, heads, mlp_hidden_dim"),
    ("{", "not valid JSON"),
    ("\xff", "not UTF-8 text"),
])
def test_config_that_is_not_a_config(tmp_path, content, message):
    folder = checkpoint(tmp_path / "c")
    (folder / "config.json").write_text(content, encoding="latin-1")
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)


def test_extra_config_fields_are_ignored_and_dropout_zero_is_a_float(tmp_path):
    folder = checkpoint(tmp_path / "c")
    write_json(folder / "config.json", {**SIZES, "dropout": 0, "extra": {"a": [1, 2]}})
    loaded = load_checkpoint(folder).model
    assert loaded.config.dropout == 0.0 and isinstance(loaded.config.dropout, float)


@pytest.mark.parametrize("name", ["config.json", "rbt_metadata.json"])
def test_deeply_nested_json(tmp_path, memory_limit, name):
    folder = checkpoint(tmp_path / "c")
    (folder / name).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match=f"{name}: JSON nested too deeply"):
        load_checkpoint(folder)


@pytest.mark.parametrize("name", ["config.json", "rbt_metadata.json"])
def test_a_fifo_is_refused_without_blocking(tmp_path, name):
    folder = checkpoint(tmp_path / "c")
    (folder / name).unlink()
    os.mkfifo(folder / name)
    with pytest.raises(CheckpointError, match=f"{name}: is a FIFO"):
        load_checkpoint(folder)


# --- weights ------------------------------------------------------------------------------


def test_config_and_weights_that_do_not_fit(tmp_path):
    folder = checkpoint(tmp_path / "c")
    write_json(folder / "config.json", {**SIZES, "embed_dim": 16})
    with pytest.raises(CheckpointError, match=r"model.safetensors: the weights do not fit "
                       r"config.json \(.*embed_dim 16.*\): size mismatch for "
                       r"bde_proj_layer.linear.weight: expected \[16, 4\] from config.json, "
                       r"found \[8, 4\]"):
        load_checkpoint(folder)
    write_json(folder / "config.json", {**SIZES, "depth": 2})
    with pytest.raises(CheckpointError, match="missing intercortical_attention_blocks.1."):
        load_checkpoint(folder)
    state = {k: v.contiguous() for k, v in model().state_dict().items()}
    write_json(folder / "config.json", SIZES)
    save_file({**state, "extra.weight": torch.zeros(2)}, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match="missing none; unexpected extra.weight"):
        load_checkpoint(folder)


@pytest.mark.parametrize("dtype, name", [(torch.int64, "I64"), (torch.int32, "I32"),
                                         (torch.bool, "BOOL"), (torch.uint8, "U8")])
def test_int_or_bool_weights_are_refused_not_cast(tmp_path, dtype, name):
    folder = checkpoint(tmp_path / "c")
    state = {k: v.contiguous() for k, v in model().state_dict().items()}
    key = "classification_head.mlp.9.bias"
    save_file({**state, key: state[key].to(dtype)}, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=f"{key}: expected floating-point weights "
                                              f"\\(F16, BF16, F32, F64\\), found {name}"):
        load_checkpoint(folder)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_float_weights_load(tmp_path, dtype):
    folder = checkpoint(tmp_path / "c")
    state = {k: v.to(dtype).contiguous() for k, v in model().state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    loaded = load_checkpoint(folder).model
    for k, v in loaded.state_dict().items():
        torch.testing.assert_close(v, state[k].float())


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_weights_are_refused(tmp_path, bad):
    folder = checkpoint(tmp_path / "c")
    state = {k: v.contiguous() for k, v in model().state_dict().items()}
    key = "intercortical_attention_blocks.0.attention.fn.to_qkv.weight"
    state[key] = state[key].clone()
    state[key][1, 2] = bad
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=f"{key}: 1 of 192 weights are NaN or infinite"):
        load_checkpoint(folder)


def _header(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8: 8 + n]), data[8 + n:]


def _write(path: Path, header: dict | bytes, body: bytes, length: int | None = None) -> None:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + body)


def test_safetensors_headers_that_lie(tmp_path, memory_limit):
    folder = checkpoint(tmp_path / "c")
    weights = folder / "model.safetensors"
    header, body = _header(weights)
    key = "classification_head.mlp.9.weight"
    cases = [
        (dict(length=2**62), "declare a 4,611,686,018,427,387,904-byte header"),
        (dict(length=0), "declare a 0-byte header"),
        (dict(header={**header, key: {**header[key], "shape": [10**6, 10**6]}}),
         "not a readable safetensors file"),
        (dict(header={**header, key: {**header[key], "data_offsets": [0, 2**40]}}),
         "not a readable safetensors file"),
        (dict(header=b"{" * 200_000), "not a readable safetensors file"),
        (dict(header={**header, key: {**header[key], "dtype": "I32"}}), "found I32"),
    ]
    for changes, message in cases:
        _write(weights, changes.get("header", header), body, changes.get("length"))
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(folder)
    weights.write_bytes(b"\x01\x02")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(folder)


def test_a_weights_file_past_the_size_budget_is_not_read(tmp_path, memory_limit):
    folder = checkpoint(tmp_path / "c")
    os.truncate(folder / "model.safetensors", MAX_WEIGHTS_BYTES + 1)  # sparse: no disk used
    with pytest.raises(CheckpointError, match="is more than the weights of the largest model"):
        load_checkpoint(folder)


def _pickled_folder(tmp_path: Path, state, **save) -> Path:
    folder = tmp_path / "pt"
    folder.mkdir(exist_ok=True)
    write_json(folder / "config.json", SIZES)
    torch.save(state, folder / "pytorch_model.bin", **save)
    return folder


def test_pickled_weights_are_validated_like_safetensors(tmp_path, memory_limit):
    state = model().state_dict()
    folder = _pickled_folder(tmp_path, {**state, "classification_head.norm.bias":
                                        torch.ones(8, dtype=torch.bool)})
    with pytest.raises(CheckpointError, match="classification_head.norm.bias: expected "
                                              "floating-point weights.*found torch.bool"):
        load_checkpoint(folder)
    nan = state["bde_proj_layer.linear.bias"].clone()
    nan[0] = math.nan
    _pickled_folder(tmp_path, {**state, "bde_proj_layer.linear.bias": nan})
    with pytest.raises(CheckpointError, match="bde_proj_layer.linear.bias: 1 of 8 weights"):
        load_checkpoint(folder)
    _pickled_folder(tmp_path, {**state, "bde_proj_layer.linear.bias": torch.zeros(9)})
    with pytest.raises(CheckpointError, match="size mismatch for bde_proj_layer.linear.bias"):
        load_checkpoint(folder)
    _pickled_folder(tmp_path, [1, 2, 3])
    with pytest.raises(CheckpointError, match="expected a state dict"):
        load_checkpoint(folder)


def test_pickled_weights_in_a_compressed_or_legacy_file_are_refused(tmp_path, memory_limit):
    folder = _pickled_folder(tmp_path, model().state_dict())
    path = folder / "pytorch_model.bin"
    assert load_checkpoint(folder).config == RBTransformerConfig(**SIZES)
    # a compressed record could inflate to any size: refused before torch.load reads it
    with zipfile.ZipFile(path) as src:
        records = [(i.filename, src.read(i)) for i in src.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name, data in records:
            dst.writestr(name, data)
    with pytest.raises(CheckpointError, match="data.pkl is compressed"):
        load_checkpoint(folder)
    # the legacy format allocates what its pickle declares: refused
    _pickled_folder(tmp_path, model().state_dict(), _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="not a torch.save zip"):
        load_checkpoint(folder)
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError, match="not a torch.save zip"):
        load_checkpoint(folder)


def test_a_zip_whose_directory_is_huge_is_refused_before_parsing(tmp_path, memory_limit):
    folder = _pickled_folder(tmp_path, model().state_dict())
    path = folder / "pytorch_model.bin"
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x06\x06")  # torch.save writes ZIP64 end records
    data[at + 40: at + 48] = (10**9).to_bytes(8, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="zip directory of 1,000,000,000 bytes"):
        load_checkpoint(folder)


# --- rbt_metadata.json ----------------------------------------------------------------------


def test_the_demo_checkpoint_card_reads_back_unchanged():
    raw = json.loads((DEMO / "rbt_metadata.json").read_text())
    assert read_card(DEMO / "rbt_metadata.json").to_dict() == raw
    assert load_checkpoint(DEMO).card.to_dict() == raw


def test_a_full_card_and_unknown_fields(tmp_path):
    folder = checkpoint(tmp_path / "c", {**META, "future_field": {"x": [1, 2]}})
    card = load_checkpoint(folder).card
    assert card.to_dict() == {**META, "future_field": {"x": [1, 2]}}
    assert card.extra == {"future_field": {"x": [1, 2]}}
    assert validate_metadata({}, "m.json") == {} and ModelCard.from_dict({}).is_empty
    assert validate_metadata({"bands": {"a": [4, 8]}})["bands"] == {"a": [4.0, 8.0]}


def _set(obj: dict, path: str, value) -> dict:
    out = json.loads(json.dumps(obj))
    keys = path.split(".")
    inner = out
    for key in keys[:-1]:
        inner = inner[key]
    inner[keys[-1]] = value
    return out


@pytest.mark.parametrize("path, value, message", [
    ("class_names", ["low", "high", 3], "class_names[2]: expected a string, found 3"),
    ("class_names", "low,high", "class_names: expected a list of names, found 'low,high'"),
    ("class_names", ["high", "high"], "class_names[1]: expected names that differ from each "
                                      "other (the same as class_names[0] 'high'), found 'high'"),
    ("class_names", ["low", ""], "class_names[1]: expected a non-empty string"),
    ("class_names", ["low", "x" * 201], "at most 200 characters, found 201 characters"),
    ("class_names", [], "class_names: expected a list of 1 to 1024 names, found 0"),
    ("class_names", ["a", "b", "c"], "class_names: expected 2 entries (num_classes in "
                                     "config.json), found 3"),
    ("ch_names", ["Fp1", "Cz"], "ch_names: expected 3 entries (num_electrodes"),
    ("ch_names", ["Fp1", "FP1", "O2"], "ch_names[1]: expected names that differ"),
    ("ch_names", ["Fp1", "T3", "T7"], "ch_names[2]: expected names that differ"),
    ("ch_names", {"Fp1": 1}, "ch_names: expected a list of names, found {'Fp1': 1}"),
    ("ch_names", ["Fp1", None, "O2"], "ch_names[1]: expected a string, found None"),
    ("bands", [[4, 8]], "bands: expected a JSON object of band name -> [low Hz, high Hz]"),
    ("bands", {"theta": [8, 4]}, "bands.theta: expected [low Hz, high Hz] with low < high"),
    ("bands", {"theta": [4, "8"]}, "bands.theta[1]: expected a number from 0 to 50000"),
    ("bands", {"theta": [4, math.nan]}, "bands.theta[1]: expected a number"),
    ("bands", {"theta": [4, 8, 12]}, "bands.theta: expected [low Hz, high Hz]"),
    ("bands", {"theta": [4, 8]}, "bands: expected 4 entries (bde_dim in config.json), found 1"),
    ("sfreq", "128", "sfreq: expected a rate in Hz above 0"),
    ("sfreq", 0, "sfreq: expected a rate in Hz above 0"),
    ("sfreq", math.inf, "sfreq: expected a rate in Hz"),
    ("sfreq", 10**6, "sfreq: expected a rate in Hz above 0 and at most 100000, found 1000000"),
    ("sfreq", True, "sfreq: expected a rate"),
    ("preprocessing", [512, 117], "preprocessing: expected a JSON object"),
    ("preprocessing.window", "512", "preprocessing.window: expected an integer from 2 to 65536"),
    ("preprocessing.window", 512.0, "preprocessing.window: expected an integer"),
    ("preprocessing.window", 1, "preprocessing.window: expected an integer from 2"),
    ("preprocessing.window", 10**7, "preprocessing.window: expected an integer"),
    ("preprocessing.stride", 0, "preprocessing.stride: expected an integer from 1"),
    ("preprocessing.stride", 1, "preprocessing.stride: expected at least window / 64 = 8 for "
                                "window 512 (so that each sample is in at most 64 windows), "
                                "found 1"),
    ("preprocessing.stride", 7, "preprocessing.stride: expected at least window / 64 = 8"),
    ("preprocessing.order", 10**6, "preprocessing.order: expected an integer from 1 to 32"),
    ("preprocessing.filter_sfreq", -128, "preprocessing.filter_sfreq: expected a rate"),
    ("preprocessing.sfreq", "x", "preprocessing.sfreq: expected a rate"),
    ("target", 3, "target: expected a string, found 3"),
    ("task", ["binary"], "task: expected a string"),
    ("dataset", "", "dataset: expected a non-empty string"),
    ("label_rule", "x" * 5000, "label_rule: expected a non-empty string of at most 4000"),
    ("split", {}, "split: expected a string"),
    ("rbt_version", 2, "rbt_version: expected a string"),
    ("train_config", [1], "train_config: expected a JSON object"),
    ("metrics", 0.8, "metrics: expected a JSON object, found 0.8"),
    ("metrics.accuracy", 0.8, 'metrics.accuracy: expected {"mean": score, "std": spread}'),
    ("metrics.accuracy", {"mean": "0.8", "std": 0.1}, "metrics.accuracy.mean: expected a "
                                                      "number from 0 to 1, found '0.8'"),
    ("metrics.macro_f1", {"mean": 0.8, "std": 2}, "metrics.macro_f1.std: expected a number"),
    ("metrics.protocol", 5, "metrics.protocol: expected a string"),
    ("training_trials", {"0": 1}, "training_trials: expected a list of trial fingerprints"),
    ("training_trials", [[0, 1, 2, 3]], "training_trials[0]: expected [first window index, "
                                        "4 numbers]"),
    ("training_trials", [[0.5, 1, 2, 3, 4]], "training_trials[0][0]: expected an integer"),
    ("training_trials", [[-1, 1, 2, 3, 4]], "training_trials[0][0]: expected an integer"),
    ("training_trials", [[0, 1, 2, 3, 4], [0, 1, "2", 3, 4]],
     "training_trials[1][2]: expected a finite number, found '2'"),
    ("training_trials", [[0, 1, 2, math.nan, 4]], "training_trials[0][3]: expected a finite"),
    ("training_trials", [[0, 1, 2, 3, [4]]], "training_trials[0][4]: expected a finite"),
])
def test_metadata_of_the_wrong_type(tmp_path, path, value, message):
    folder = checkpoint(tmp_path / "c")
    write_json(folder / "rbt_metadata.json", _set(META, path, value))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(folder)
    assert str(err.value).startswith(f"{folder / 'rbt_metadata.json'}: ")
    assert message in str(err.value)


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "expected a JSON object, found [1, 2]"),
    ("null", "expected a JSON object, found None"),
    ('{"ch_names": ', "not valid JSON"),
])
def test_metadata_that_is_not_a_card(tmp_path, content, message):
    folder = checkpoint(tmp_path / "c")
    (folder / "rbt_metadata.json").write_text(content)
    with pytest.raises(CheckpointError, match=re.escape(message)):
        load_checkpoint(folder)


def test_stride_at_the_bound_is_accepted():
    card = validate_metadata(_set(META, "preprocessing.stride", 8))
    assert card["preprocessing"]["stride"] == 8
    # no window: front ends use 512, so the stride must suit it
    assert validate_metadata(_set(META, "preprocessing.window", None))  # stride 117
    only_stride = _set(_set(META, "preprocessing.window", None), "preprocessing.stride", 1)
    with pytest.raises(MetadataError, match="preprocessing.stride: expected at least window / 64"
                                            " = 8 for window 512"):
        validate_metadata(only_stride)
    # no stride: front ends use 117, so the window may be at most 64 x 117
    only_window = _set(_set(META, "preprocessing.stride", None), "preprocessing.window", 65536)
    with pytest.raises(MetadataError, match=r"preprocessing.window: expected a window of at "
                                            r"most 64 x the default stride 117"):
        validate_metadata(only_window)
    assert validate_metadata(_set(only_window, "preprocessing.window", 64 * 117))


def test_a_million_training_trials_are_refused_within_memory(tmp_path, memory_limit):
    folder = checkpoint(tmp_path / "c")
    with open(folder / "rbt_metadata.json", "w") as fh:
        fh.write('{"training_trials": [' + ",".join(["[0,1,2,3,4]"] * 10**6) + "]}")
    before, start = peak_rss_mb(), time.perf_counter()
    with pytest.raises(CheckpointError, match="training_trials: expected at most 200,000 "
                                              "trials, found 1,000,000"):
        load_checkpoint(folder)
    assert time.perf_counter() - start < 5
    assert peak_rss_mb() - before < 1024
    (folder / "rbt_metadata.json").write_text(" " * (33 * 1024**2))
    with pytest.raises(CheckpointError, match="more than the 32 MB"):
        load_checkpoint(folder)


def test_matching_many_fingerprints_stays_small(memory_limit):
    """200,000 known trials against 2,000 trials of data: the old all-pairs comparison needed
    6.5 GB per chunk; the k-d tree a few MB. The trained trials are still found."""
    rng = np.random.default_rng(0)
    n_trials = 2000
    X = rng.standard_normal((2 * n_trials, 3, 4)).astype(np.float32)
    table = pd.DataFrame({"subject": "s01", "session": 1, "trial": np.repeat(range(n_trials), 2),
                          "window": np.tile([0, 1], n_trials)})
    fs = FeatureSet(X=X, table=table, ch_names=["Fp1", "Cz", "O2"], sfreq=128.0,
                    bands=dict(BANDS), dataset="deap", source="test", params={})
    trained = np.arange(0, 2 * n_trials, 4)  # every other trial
    known = provenance.fingerprints(fs, trained)
    noise = rng.standard_normal((200_000 - len(known), 4)) * 10
    known += [[0, *map(float, row)] for row in noise]
    card = ModelCard.from_dict({provenance.KEY: known})
    start = time.perf_counter()
    seen = provenance.seen_in_training(card.training_trials, fs)
    assert time.perf_counter() - start < 10
    np.testing.assert_array_equal(seen, np.repeat(np.arange(n_trials) % 2 == 0, 2))


def test_cards_written_by_training_read_back(tmp_path):
    from rbt.train import TrainConfig, _card

    rng = np.random.default_rng(1)
    table = pd.DataFrame({"subject": "s01", "session": 1, "trial": [1, 1, 2, 2],
                          "window": [0, 1, 0, 1]})
    fs = FeatureSet(X=rng.standard_normal((4, 3, 4)).astype(np.float32), table=table,
                    ch_names=["Fp1", "Cz", "O2"], sfreq=128.0, bands=dict(BANDS), dataset="deap",
                    source="test", params={"window": 512, "stride": 117, "order": 5,
                                           "filter_sfreq": 128.0, "sfreq": 128.0},
                    target="valence", task="binary", y=np.array([0, 0, 1, 1]),
                    class_names=["low", "high"])
    card = _card(fs, "trial-kfold", TrainConfig(), None)
    folder = save_checkpoint(model(), tmp_path / "c", card)
    assert load_checkpoint(folder).card == card


# --- saving on a full disk ----------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 200 KB tmpfs, unmounted after the test; skipped where mounting is not permitted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here to fill a disk: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_save_is_a_clear_error_and_leaves_things_as_they_were(small_disk):
    big = RBTransformer(RBTransformerConfig(num_electrodes=3, embed_dim=64, depth=4))
    with pytest.raises(CheckpointError, match=f"{small_disk / 'new'}: could not write the "
                                              "checkpoint .*nothing was written there"):
        save_checkpoint(big, small_disk / "new", ModelCard.from_dict(META))
    assert list(small_disk.iterdir()) == []  # no partial folder, no temporary one
    good = checkpoint(small_disk / "good")
    before = {p.name: p.read_bytes() for p in good.iterdir()}
    with pytest.raises(CheckpointError, match="the checkpoint already there is unchanged"):
        save_checkpoint(big, good, ModelCard.from_dict(META), overwrite=True)
    assert {p.name: p.read_bytes() for p in good.iterdir()} == before
    assert [p.name for p in small_disk.iterdir()] == ["good"]
    torch.testing.assert_close(load_checkpoint(good).model.state_dict(), model().state_dict())


def test_overwriting_without_a_card_removes_the_stale_card(tmp_path):
    folder = checkpoint(tmp_path / "c")
    save_checkpoint(model(), folder, None, overwrite=True)
    assert load_checkpoint(folder).card.is_empty


def test_metadata_that_json_cannot_hold_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="cannot store the metadata as JSON"):
        save_checkpoint(model(), tmp_path / "c", ModelCard(extra={"x": object()}))
    assert not (tmp_path / "c").exists()


# --- fuzzing --------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=12)


def _field(name, good):
    """Often the valid value, else a small or huge integer, or any JSON value, or absent."""
    return st.one_of(st.just(good), st.just(good), st.just(good), st.integers(-3, 40),
                     st.integers(0, 10**12), st.floats(-2, 2), json_values, st.just(_ABSENT))


_ABSENT = object()
configs = st.builds(
    lambda fields, extra: {**extra, **{k: v for k, v in fields.items() if v is not _ABSENT}},
    st.fixed_dictionaries({k: _field(k, v) for k, v in SIZES.items()}),
    st.dictionaries(st.text(max_size=10), json_values, max_size=3),
)
configs = st.tuples(st.integers(0, 3), configs, json_values).map(  # 1 in 4: any JSON value
    lambda drawn: drawn[1] if drawn[0] else drawn[2])


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(configs)
def test_fuzz_config_json(tmp_path, memory_limit, config):
    folder = tmp_path / "fuzz"
    if not folder.exists():
        checkpoint(folder)
    write_json(folder / "config.json", config)
    try:
        loaded = load_checkpoint(folder).model
    except CheckpointError:
        return
    assert loaded.config == RBTransformerConfig.from_dict(config)
    assert loaded(torch.zeros(1, 3, 4)).shape == (1, loaded.config.num_classes)


@st.composite
def headers(draw, good: dict):
    """A header JSON near the real one, or any bytes. "consistent" edits keep the byte
    offsets valid (swapped tensors, same-size dtypes, permuted shapes), so they reach rbt's
    own checks; the others mostly meet safetensors' validation."""
    kind = draw(st.sampled_from(["edit", "consistent", "consistent", "bytes", "json", "good"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    header = json.loads(json.dumps(good))
    names = sorted(k for k in header if k != "__metadata__")
    for _ in range(draw(st.integers(1, 3)) if kind in ("edit", "consistent") else 0):
        name = draw(st.sampled_from(names))
        if kind == "consistent":
            how = draw(st.sampled_from(["swap", "dtype", "shape"]))
            if how == "swap":
                other = draw(st.sampled_from(names))
                header[name], header[other] = header[other], header[name]
            elif how == "dtype":
                header[name]["dtype"] = draw(st.sampled_from(["I32", "U32", "F32"]))
            else:
                header[name]["shape"] = draw(st.permutations(header[name]["shape"]))
            continue
        what = draw(st.sampled_from(["dtype", "shape", "data_offsets", "drop", "value"]))
        if what == "drop":
            header.pop(name, None)
        elif what == "value":
            header[name] = draw(json_values)
        elif isinstance(header.get(name), dict):
            header[name][what] = draw(
                st.sampled_from(["F16", "BF16", "F64", "I64", "BOOL", "U8", "F8_E5M2", "x"])
                if what == "dtype" else
                st.lists(st.integers(-2, 10**13), max_size=4 if what == "shape" else 3))
    return json.dumps(header).encode()


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_safetensors_header(tmp_path, memory_limit, data):
    folder = tmp_path / "fuzz"
    if not folder.exists():
        checkpoint(folder)
        (folder / "good.bin").write_bytes((folder / "model.safetensors").read_bytes())
    good, body = _header(folder / "good.bin")
    raw = data.draw(headers(good))
    length = data.draw(st.one_of(st.just(len(raw)), st.integers(0, 2**64 - 1)))
    cut = data.draw(st.one_of(st.just(len(body)), st.integers(0, len(body))))
    _write(folder / "model.safetensors", raw, body[:cut], length)
    try:
        loaded = load_checkpoint(folder).model
    except CheckpointError:
        return
    assert loaded(torch.zeros(1, 3, 4)).isfinite().all()


def test_piled_up_fingerprints_cannot_blow_up_matching(memory_limit):
    """200,000 fingerprints all (nearly) at the data's trials: each trial checks a few nearest
    candidates, never a list of all of them (about 9 GB of Python ints before)."""
    rng = np.random.default_rng(2)
    n_trials = 1000
    X = (rng.standard_normal((n_trials, 3, 4)) * 1e-3).astype(np.float32)
    table = pd.DataFrame({"subject": "s01", "session": 1, "trial": range(n_trials),
                          "window": 0})
    fs = FeatureSet(X=X, table=table, ch_names=["Fp1", "Cz", "O2"], sfreq=128.0,
                    bands=dict(BANDS), dataset="deap", source="test", params={})
    one = provenance.fingerprints(fs, [0])[0]
    piled = [[0, *(float(v) + 1e-9 * i for v in one[1:])] for i in range(200_000)]
    card = ModelCard.from_dict({provenance.KEY: piled})
    start = time.perf_counter()
    seen = provenance.seen_in_training(card.training_trials, fs)
    assert time.perf_counter() - start < 20
    assert seen[0] == 1


def test_config_asking_for_gigabytes_of_attention_is_refused(memory_limit):
    from rbt.model import ConfigError, RBTransformerConfig

    with pytest.raises(ConfigError, match="attention weights per window"):
        RBTransformerConfig(num_electrodes=256, depth=32, heads=64, head_dim=1)
    RBTransformerConfig(num_electrodes=62)  # SEED at the paper's size is fine
