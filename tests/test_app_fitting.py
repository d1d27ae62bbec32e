"""The dashboard on recordings that need fitting to the model: one lacking three of the shipped
model's electrodes (the sidebar's interpolation box, the ringed electrodes on the maps) and a
BioSemi BDF numbered A1..A32 (the cap layout box). AppTest, the shipped checkpoint."""

from __future__ import annotations

import formats as F
from test_app import (  # noqa: F401
    TRIAL,
    _errors,
    app,
    assert_fine,
    demo_cache,  # noqa: F401
    figures,
    probabilities,
    traces,
    unescape,
)

from rbt.data.deap import EEG_CHANNELS

MISSING = ["C3", "Pz", "FC6"]


def _open(at, path) -> None:
    at.selectbox(key="source").set_value("raw").run()
    at.radio(key="raw_how").set_value("Path on this machine").run()
    at.text_input(key="path_raw").input(str(path)).run()


def test_missing_electrodes_interpolated_and_ringed_on_the_maps(tmp_path):
    names = [c for c in EEG_CHANNELS if c not in MISSING]
    path = F.save_fif(F.make_raw(names, seconds=12), tmp_path / "rec_raw.fif")
    at = app(TRIAL)
    _open(at, path)
    assert "C3" in _errors(at) and "Interpolate missing model electrodes" in _errors(at)
    at.checkbox(key="interpolate").check().run()
    assert_fine(at)
    assert abs(probabilities(at).sum() - 1) < 1e-6
    assert any("interpolated 3 of the model's electrodes it lacks (C3, Pz, FC6)"
               in unescape(w.value) for w in at.warning), [w.value for w in at.warning]
    maps = [f for f in figures(at) if traces(f, "sensors")]
    assert maps
    for fig in maps:
        for sensors in traces(fig, "sensors"):
            symbols = sensors["marker"]["symbol"]
            ringed = [n for n, s in zip(sensors["text"], symbols) if s != "circle"]
            assert ringed == [c for c in EEG_CHANNELS if c in MISSING]
        assert any("interpolated: C3, Pz, FC6" in a["text"]
                   for a in fig["layout"].get("annotations", []))


def test_biosemi_numbers_read_through_the_cap_layout_box(tmp_path):
    numbered = [f"A{i}" for i in range(1, 31)]  # a 32 cap without A31, A32: no montage matches
    signals = F.labelled_signals(numbered, sfreq=256.0, seconds=12.0)
    path = F.write_biosemi_bdf(tmp_path / "b32.bdf", signals)
    at = app(TRIAL)
    _open(at, path)
    assert "numbered in BioSemi's cap layout" in _errors(at) and "Cap layout" in _errors(at)
    at.selectbox(key="cap_layout").set_value("BioSemi 32").run()
    assert "Fz" in _errors(at) and "Cz" in _errors(at)  # the model's two the cap lacks
    at.checkbox(key="interpolate").check().run()
    assert_fine(at)
    assert abs(probabilities(at).sum() - 1) < 1e-6


def test_a_dense_cap_is_refused_until_interpolated(tmp_path):
    from rbt import caps

    names = list(caps.numbered_names("biosemi128"))
    path = F.write_biosemi_bdf(tmp_path / "b128.bdf",
                               F.labelled_signals(names, sfreq=256.0, seconds=12.0))
    at = app(TRIAL)
    _open(at, path)
    message = _errors(at)
    assert "BioSemi 128 cap layout" in message
    assert "Interpolate missing model electrodes" in message
    at.checkbox(key="interpolate").check().run()
    assert_fine(at)
    assert abs(probabilities(at).sum() - 1) < 1e-6


def test_too_many_missing_to_interpolate_keeps_the_recordings_own_views(tmp_path):
    """Ticking interpolation for a recording that lacks too many of the model's electrodes
    says why it cannot be done and keeps showing the recording as it is (not 'could not be
    read'), its data views included."""
    names = EEG_CHANNELS[:20]  # 12 of the model's 32 missing; at most 8 are interpolated
    path = F.save_fif(F.make_raw(names, seconds=12), tmp_path / "rec20_raw.fif")
    at = app(TRIAL)
    _open(at, path)
    at.checkbox(key="interpolate").check().run()
    assert not at.exception, [e.message for e in at.exception]
    warned = " ".join(unescape(w.value) for w in at.warning)
    assert "cannot be interpolated" in warned and "lacks 12 of the model's 32" in warned
    assert "could not be read" not in _errors(at)
    assert "cannot read this data (rec20_raw.fif)" in _errors(at)  # the model, not the file
    assert any("need no model" in i.value for i in at.info)  # the data's own views
    assert [f for f in figures(at) if traces(f, "map")]
    at.run()  # a rerun keeps it so, without reading the file again
    assert "cannot be interpolated" in " ".join(unescape(w.value) for w in at.warning)
    at.checkbox(key="interpolate").uncheck().run()
    assert "cannot be interpolated" not in " ".join(unescape(w.value) for w in at.warning)
    assert any("need no model" in i.value for i in at.info)
