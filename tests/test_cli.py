"""The ``rbt`` command line as a package: its words for every fit problem, the card's loading
defaults (explicit flags win), ``python -m rbt`` and imports that run one way."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rbt.checkpoint import Checkpoint, save_checkpoint
from rbt.cli import main
from rbt.cli.problems import PHRASES, blocking_message, phrase
from rbt.data import FeatureParams, FeatureSet, load_features
from rbt.model import RBTransformer, RBTransformerConfig
from rbt.model_card import EMPTY_CARD, ModelCard, Preprocessing
from rbt.model_fit import CODES, fit_data

ROOT = Path(__file__).resolve().parents[1]
BANDS = {"theta": (4.0, 8.0), "alpha": (8.0, 14.0), "beta": (14.0, 31.0),
         "gamma": (31.0, 49.0)}
CARD = ModelCard(ch_names=("Fp1", "Cz", "O2"), bands=BANDS, class_names=("low", "high"),
                 dataset="deap", target="valence", task="binary", sfreq=128.0,
                 preprocessing=Preprocessing(window=512, stride=117))
SMALL = {"embed_dim": 16, "depth": 1, "heads": 2, "head_dim": 8, "mlp_hidden_dim": 16}


def _checkpoint(card=CARD, electrodes=3, bands=4, classes=2) -> Checkpoint:
    config = RBTransformerConfig(num_electrodes=electrodes, bde_dim=bands, num_classes=classes,
                                 **SMALL)
    return Checkpoint(model=RBTransformer(config).eval(), card=card, path=Path("test"))


def _features(ch_names=("Fp1", "Cz", "O2"), bands=BANDS, labels=("valence", "binary",
              ("low", "high")), **kw) -> FeatureSet:
    X = np.random.default_rng(0).standard_normal((6, len(ch_names), len(bands)))
    table = pd.DataFrame({"subject": "s01", "session": 1, "trial": 1, "window": range(6)})
    fs = FeatureSet(X=X.astype(np.float32), table=table, ch_names=list(ch_names), sfreq=128.0,
                    bands=bands, dataset="deap", source="test",
                    params={"window": 512, "stride": 117})
    if labels:
        target, task, names = labels
        fs = dataclasses.replace(fs, target=target, task=task, class_names=list(names),
                                 y=np.arange(6) % len(names))
    return dataclasses.replace(fs, **kw)


THREE_BANDS = dict(list(BANDS.items())[:3])
#: code -> (checkpoint, features, words the CLI's sentence must hold)
CASES = {
    "electrodes": (_checkpoint(), _features(["Fp1", "Cz", "Pz"]),
                   ["trained on 3 electrodes and the data has 3", "missing from the data: O2",
                    "not in the model: Pz"]),
    "electrode_count": (_checkpoint(EMPTY_CARD), _features(["Fp1", "Cz", "O2", "Pz"]),
                        ["the model expects 3 electrodes; the data has 4 (deap)"]),
    "bands": (_checkpoint(), _features(bands={**BANDS, "gamma": (31.0, 45.0)}),
              ["expects bands theta 4-8 Hz", "gamma 31-49 Hz; the data has", "gamma 31-45 Hz"]),
    "band_count": (_checkpoint(dataclasses.replace(CARD, bands=None)),
                   _features(bands=THREE_BANDS),
                   ["the model expects 4 bands per electrode; the data has 3"]),
    "unlabelled": (_checkpoint(), _features(labels=None),
                   ["no labels", "without a true-label column"]),
    "class_names": (_checkpoint(), _features(labels=("valence", "binary", ("neg", "pos"))),
                    ["the data's valence/binary labels (neg, pos) are not the model's classes "
                     "(low, high)"]),
    "class_count": (_checkpoint(), _features(labels=("valence", "multi", ("a", "b", "c"))),
                    ["the data's valence/multi labels (a, b, c) are not the model's classes"]),
    "target": (_checkpoint(), _features(labels=("arousal", "binary", ("low", "high"))),
               ["trained to predict valence/binary, but these labels are arousal/binary"]),
    "preprocessing": (_checkpoint(dataclasses.replace(
        CARD, preprocessing=Preprocessing(window=256, stride=117, filter_sfreq=200.0))),
        _features(), ["computed differently", "window 256 (model) vs 512 (data)",
                      "band-pass filters designed for 200 Hz (model) vs 128 Hz (data)"]),
    "no_card": (_checkpoint(EMPTY_CARD), _features(), ["no rbt metadata (an official folder?)"]),
    "reference_features": (_checkpoint(EMPTY_CARD),
                           _features(dataset="seed", sfreq=200.0, params={}),
                           ["official SEED checkpoints", "pass --seed-reference-filters"]),
}


def test_every_fit_problem_has_the_clis_words():
    assert set(PHRASES) == set(CODES)
    assert set(CASES) == set(CODES)  # and each is shown below on a real fit


@pytest.mark.parametrize("code", sorted(CODES))
def test_each_problem_reads_as_the_cli_says_it(code):
    checkpoint, fs, words = CASES[code]
    fit = fit_data(checkpoint, fs)
    problem = fit.problem(code)
    assert problem is not None, fit.codes
    text = phrase(problem, fs, "predictions")
    for w in words:
        assert w in text, text
    assert (blocking_message(fit) is None) == fit.runnable
    if problem.severity == "blocking":
        assert text in blocking_message(fit)


@pytest.fixture
def demo_cache(demo_valence, monkeypatch):
    fs, folder = demo_valence
    monkeypatch.setenv("RBT_CACHE_DIR", str(folder))
    return fs


def _save(folder, card=None, electrodes=32, classes=2) -> Path:
    torch.manual_seed(0)
    model = RBTransformer(RBTransformerConfig(num_electrodes=electrodes, num_classes=classes,
                                              **SMALL))
    return save_checkpoint(model, folder, card)


def test_official_checkpoint_is_noted_and_a_blocking_one_exits_2(demo_cache, tmp_path, capsys):
    official = _save(tmp_path / "official")  # no card: config.json + model.safetensors
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(official), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "note: this checkpoint has no rbt metadata" in captured.err
    # the data's classes are taken for the model's: scored, with the CSV's usual columns
    assert "accuracy" in captured.out
    assert list(pd.read_csv(out).columns) == ["subject", "session", "trial", "window", "true",
                                              "predicted", "p_low", "p_high"]
    small = _save(tmp_path / "fourteen", electrodes=14)
    for command in (["predict"], ["explain", "--method", "saliency"]):
        out = tmp_path / ("x.csv" if command == ["predict"] else "x.npz")
        assert main([*command, "--model", str(small), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"rbt {command[0]}: error: the model expects 14 electrodes; the data has 32 " \
               "(demo)" in err
        assert not out.exists()


def test_windows_follow_the_card_unless_given(demo_cache, tmp_path, capsys):
    card = ModelCard(ch_names=tuple(demo_cache.ch_names), bands=demo_cache.bands,
                     class_names=("low", "high"), dataset="demo", target="valence",
                     task="binary", sfreq=demo_cache.sfreq,
                     preprocessing=Preprocessing(window=256, stride=256))
    folder = _save(tmp_path / "model", card)
    short = load_features("demo", target="valence", task="binary", progress=False,
                          params=FeatureParams(window=256, stride=256))
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(folder), "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == len(short) != len(demo_cache)
    assert "computed differently" not in capsys.readouterr().err
    assert main(["predict", "--model", str(folder), "--window", "512", "--stride", "117",
                 "--out", str(out), "--force"]) == 0
    assert len(pd.read_csv(out)) == len(demo_cache)
    err = capsys.readouterr().err
    assert "note: the features were computed differently from the model's training features: " \
           "window 256 (model) vs 512 (data); stride 256 (model) vs 117 (data)" in err


def test_python_dash_m_rbt():
    result = subprocess.run([sys.executable, "-m", "rbt", "--version"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("rbt ")
    result = subprocess.run([sys.executable, "-m", "rbt", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    for command in ("features", "train", "predict", "explain"):
        assert command in result.stdout


def _imported(path: Path) -> set[str]:
    """Absolute names of the rbt modules a file imports (relative imports resolved)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    package = parts[:-1]  # a module's package, or an __init__'s own
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = (node.module or "").split(".") if node.module else []
            if node.level:
                base = package[: len(package) - node.level + 1] + base
            out.add(".".join(base))
            out |= {".".join([*base, a.name]) for a in node.names}
    return out


def test_the_library_never_imports_the_cli():
    for path in (ROOT / "rbt").rglob("*.py"):
        if (ROOT / "rbt" / "cli") in path.parents or path.name == "__main__.py":
            continue
        clash = {m for m in _imported(path) if m == "rbt.cli" or m.startswith("rbt.cli.")}
        assert not clash, f"{path.relative_to(ROOT)} imports {clash}"
