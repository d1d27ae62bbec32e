"""The CLI and the dashboard report the same problems for the same model and data: both take
them from rbt.model_fit.fit_data and phrase each code in their own words."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rbt.checkpoint import load_checkpoint, save_checkpoint
from rbt.cli import main
from rbt.cli import problems as cli_words
from rbt.data import FeatureParams, load_features
from rbt.data.deap import EEG_CHANNELS
from rbt.data.dreamer import CHANNELS as DREAMER_CHANNELS
from rbt.model import RBTransformer, RBTransformerConfig
from rbt.model_card import ModelCard
from rbt.model_fit import fit_data, loading_defaults

APP = Path(__file__).resolve().parent.parent / "app"
if str(APP) not in sys.path:  # the app's modules, as Streamlit imports them
    sys.path.insert(0, str(APP))
import wording as app_words  # noqa: E402
from test_app import unescape  # noqa: E402

BANDS = {"theta": [4, 8], "alpha": [8, 14], "beta": [14, 31], "gamma": [31, 49]}
DEMO = APP.parent / "assets" / "demo-checkpoint"


def _tiny(folder: Path, card: ModelCard | None, n_electrodes: int = 32) -> Path:
    cfg = RBTransformerConfig(num_electrodes=n_electrodes, embed_dim=16, depth=1, heads=2,
                              head_dim=8, mlp_hidden_dim=16, num_classes=2)
    return save_checkpoint(RBTransformer(cfg), folder, card)


def _card(**changes) -> ModelCard:
    return dataclasses.replace(ModelCard.from_dict({
        "ch_names": list(EEG_CHANNELS), "dataset": "demo", "target": "valence",
        "task": "binary", "class_names": ["low", "high"], "bands": BANDS, "sfreq": 128.0,
        "preprocessing": {"window": 512, "stride": 117, "filter_sfreq": 128.0}}), **changes)


def _scenario(name: str, tmp: Path) -> tuple[Path, str]:
    """(checkpoint folder, demo target) of each case the issue names."""
    if name == "other electrodes":
        card = _card(ch_names=tuple(DREAMER_CHANNELS))
        return _tiny(tmp / "dreamer", card, n_electrodes=len(DREAMER_CHANNELS)), "valence"
    if name == "another target":
        return DEMO, "arousal"
    if name == "other preprocessing":  # trained on 256 Hz data: filters for another rate
        card = _card(sfreq=256.0, preprocessing=dataclasses.replace(
            _card().preprocessing, filter_sfreq=256.0, sfreq=256.0))
        return _tiny(tmp / "256hz", card), "valence"
    return _tiny(tmp / "official", None), "valence"  # an official folder: no card


def _expected_fit(folder: Path, target: str):
    checkpoint = load_checkpoint(folder)
    d = loading_defaults(checkpoint.card, "demo")
    fs = load_features("demo", target=target, task="binary", progress=False,
                       params=FeatureParams(window=d["window"], stride=d["stride"]))
    return fit_data(checkpoint, fs)


def _cli(folder: Path, target: str, out: Path, capsys) -> tuple[int, str]:
    code = main(["predict", "--model", str(folder), "--source", "demo", "--target", target,
                 "--out", str(out)])
    return code, capsys.readouterr().err


def _app(folder: Path, target: str) -> tuple[list[str], list[str], list[str]]:
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=180).run()
    at.switch_page("views/1_One_trial.py").run()
    if folder != DEMO:
        at.radio(key="model_kind").set_value("Checkpoint folder").run()
        at.text_input(key="model_path").input(str(folder)).run()
    at.selectbox(key="target_demo").set_value(target).run()
    assert not at.exception, [e.message for e in at.exception]
    return ([unescape(e.value) for e in at.error], [unescape(w.value) for w in at.warning],
            [unescape(i.value) for i in at.info])


@pytest.mark.parametrize("name, codes", [
    ("other electrodes", ["electrodes"]),
    ("another target", ["target"]),
    ("other preprocessing", ["preprocessing"]),
    ("official without a card", ["no_card"]),
])
def test_cli_and_dashboard_report_the_same_problems(name, codes, tmp_path, demo_valence,
                                                    monkeypatch, capsys):
    import streamlit as st
    from locate import server_config

    monkeypatch.setenv("RBT_CACHE_DIR", str(demo_valence[1]))
    before = st.get_option("server.address")  # as `streamlit run` would read it
    st.config.set_option("server.address", server_config()["server"]["address"])
    try:
        folder, target = _scenario(name, tmp_path)
        fit = _expected_fit(folder, target)
        assert fit.codes == codes
        status, stderr = _cli(folder, target, tmp_path / "p.csv", capsys)
        errors, warnings, infos = _app(folder, target)
    finally:
        st.config.set_option("server.address", before)
    blocking = fit.problems[0].severity == "blocking"
    assert status == (2 if blocking else 0), stderr
    shown = {"blocking": errors, "warning": warnings, "note": infos}
    for problem in fit.problems:
        cli = raw = cli_words.phrase(problem, fit.fs)
        if not blocking:  # with its severity: "warning: ..." or "note: ..."
            cli = f"{problem.severity}: {cli}"
        assert cli in " ".join(stderr.split()), (cli, stderr)  # argparse-free: one line each
        words = app_words.phrase(problem, fit)
        assert any(words in m for m in shown[problem.severity]), (words, shown)
        assert raw != words  # each front end in its own words
    if not blocking:  # nothing else was reported (but whether windows were training data)
        notes = [line for line in stderr.splitlines()
                 if line.startswith(("note: ", "warning: "))
                 and "come from trials this model was trained on" not in line]
        assert len(notes) == len(fit.problems), stderr
        assert errors == []
