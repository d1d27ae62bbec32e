"""The ``rbt`` command line as a package: its words for every fit problem, the card's loading
defaults (explicit flags win), ``python -m rbt``, and what ``rbt dashboard`` runs (that the
library never imports the CLI is tests/test_layout.py's)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
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
    "unnamed_electrodes": (_checkpoint(ModelCard(target="valence", task="binary")), _features(),
                           ["names no electrodes", "assumed to be its training order"]),
    "reference_features": (_checkpoint(EMPTY_CARD),
                           _features(dataset="seed", sfreq=200.0, params={}),
                           ["official SEED checkpoints", "pass --seed-reference-filters"]),
    "rest_baseline": (_checkpoint(), _features(dataset="raw"),
                      ["relative to each trial's rest baseline (deap)", "these raw features"]),
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
    assert list(pd.read_csv(out).columns) == ["subject", "session", "trial", "window", "start",
                                              "true", "predicted", "confidence", "correct",
                                              "p_low", "p_high"]
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
    assert "warning: the features were computed differently from the model's training features: " \
           "window 256 (model) vs 512 (data)\n" in err  # the stride changes no window


def test_python_dash_m_rbt():
    result = subprocess.run([sys.executable, "-m", "rbt", "--version"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("rbt ")
    result = subprocess.run([sys.executable, "-m", "rbt", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    for command in ("features", "train", "predict", "explain", "dashboard"):
        assert command in result.stdout


# ---- rbt dashboard -----------------------------------------------------------------------------

def _dashboard_args(*argv):
    from rbt.cli import build_parser

    return build_parser().parse_args(["dashboard", *argv])


def test_dashboard_runs_the_app_with_the_config_as_flags():
    from rbt.cli.dashboard import app_folder, command

    sys.path.insert(0, str(ROOT / "app"))
    try:
        import locate
    finally:
        sys.path.remove(str(ROOT / "app"))
    assert app_folder() == ROOT / "app"  # a clone: the app beside the package
    config = locate.server_config()
    assert config["server"]["address"] == "127.0.0.1" and config["server"]["maxUploadSize"] > 0
    argv, message = command(_dashboard_args())
    assert argv[1:5] == ["-m", "streamlit", "run", str(ROOT / "app" / "Home.py")]
    flags = dict(zip(argv[5::2], argv[6::2]))
    assert flags["--server.maxUploadSize"] == str(config["server"]["maxUploadSize"])
    assert flags["--server.headless"] == "true" and flags["--runner.magicEnabled"] == "false"
    assert argv.count("--server.port") == argv.count("--server.address") == 1  # given last
    assert argv[-4:] == ["--server.port", "8501", "--server.address", "127.0.0.1"]
    assert message.startswith("rbt dashboard: http://localhost:8501  (this machine only")
    assert "WARNING" not in message


def test_dashboard_on_a_network_address_warns(monkeypatch):
    from rbt.cli.dashboard import command

    monkeypatch.delenv("RBT_DATA_ROOTS", raising=False)
    argv, message = command(_dashboard_args("--port", "9000", "--address", "0.0.0.0", "--",
                                            "--server.fileWatcherType", "none"))
    assert argv[-6:] == ["--server.port", "9000", "--server.address", "0.0.0.0",
                         "--server.fileWatcherType", "none"]
    assert "rbt dashboard: http://<this machine's address>:9000" in message
    assert "WARNING: listening on 0.0.0.0: anyone who can reach this address" in message
    assert "none set: typed paths are off" in message
    monkeypatch.setenv("RBT_DATA_ROOTS", "/data/eeg")
    _, message = command(_dashboard_args("--address", "10.1.2.3"))
    assert "http://10.1.2.3:8501" in message and "RBT_DATA_ROOTS (/data/eeg)" in message


def test_dashboard_without_streamlit_says_what_to_install():
    code = ("import sys; sys.modules['streamlit'] = None\n"  # what Python does for a missing one
            "from rbt.cli import main; sys.exit(main(['dashboard']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert "rbt dashboard: error: the dashboard needs Streamlit" in result.stderr
    assert "pip install 'rbt[app]'" in result.stderr


def test_streamlit_run_from_the_repository_root_listens_on_loopback(tmp_path):
    """The config beside Home.py is read by Streamlit itself (no flags): still 127.0.0.1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RBT_CACHE_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app/Home.py",
                             "--server.port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(120, proc.kill)  # a server that never says where it is
    watchdog.start()
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if f":{port}" in line:
                break
        text = "".join(lines)
        assert f"127.0.0.1:{port}" in text and "0.0.0.0" not in text, text
    finally:
        watchdog.cancel()
        proc.terminate()
        proc.wait(timeout=30)


def test_the_command_in_its_own_process_writes_the_features_it_computes(tmp_path):
    # `python -m rbt` freezes the collector as it returns (its exit then skips 0.3 s of
    # module teardown); what it wrote is the library's features all the same
    import formats as F

    data, labels = F.deap_arrays(2, 2000, seed=8)
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    out = tmp_path / "f.npz"
    result = subprocess.run([sys.executable, "-m", "rbt", "features", "--source", "deap",
                             "--path", str(path), "--out", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    with np.load(out, allow_pickle=False) as written:
        np.testing.assert_array_equal(written["X"], load_features("deap", path,
                                                                  progress=False).X)
