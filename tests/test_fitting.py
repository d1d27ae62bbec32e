"""Fitting a recording to a model's electrodes (rbt.data.fitting): the missing ones
interpolated with MNE's spherical splines, within limits, and said everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import formats as F
import mne
import numpy as np
import pandas as pd
import pytest

from rbt import caps
from rbt.cli import main
from rbt.data import DataFormatError, load_features
from rbt.data.raw import read_file
from rbt.montage import head_sphere, positions_3d

pytest.importorskip("edfio", reason="EDF files are written with edfio")

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"
MODEL = json.loads((DEMO / "rbt_metadata.json").read_text())["ch_names"]  # 32 electrodes
MISSING = ["C3", "Pz", "FC6"]  # apart from each other: each lies among measured ones
SECONDS, RATE = 6.0, 256.0


def edf_without(path: Path, missing, extra=()) -> Path:
    names = [n for n in MODEL if n not in missing] + list(extra)
    return F.write_edf_signals(path, F.labelled_signals(names, sfreq=RATE, seconds=SECONDS),
                               sfreq=RATE)


def predict(*args) -> int:
    return main(["predict", "--model", str(DEMO), "--source", "raw", *map(str, args)])


def smooth_field(xyz: np.ndarray, centre: np.ndarray, n_times: int) -> np.ndarray:
    """(sites, times) volts: a few smooth scalp patterns (low-order functions of the direction
    from ``centre``), each with its own rhythm."""
    u = (xyz - centre) / np.linalg.norm(xyz - centre, axis=1)[:, None]
    patterns = np.column_stack([u[:, 0], u[:, 1], u[:, 2], u[:, 0] * u[:, 1],
                                u[:, 2] ** 2 - 1 / 3])
    t = np.arange(n_times) / RATE
    rhythms = np.array([np.sin(2 * np.pi * f * t + p) for f, p in
                        ((6, 0.3), (10, 1.1), (21, 2.0), (33, 0.7), (44, 2.9))])
    return patterns @ rhythms * 20e-6


def test_three_missing_electrodes_are_interpolated_and_named(tmp_path, capsys):
    path = edf_without(tmp_path / "rec.edf", MISSING, extra=["FCz"])
    out = tmp_path / "p.csv"
    assert predict("--path", path, "--out", out) == 2  # without asking: refused, saying how
    assert "--interpolate-missing" in capsys.readouterr().err
    assert predict("--path", path, "--out", out, "--interpolate-missing") == 0
    captured = capsys.readouterr()
    assert ("note: rec.edf: interpolated 3 of the model's electrodes it lacks (C3, Pz, FC6) "
            "from its 30 measured ones (MNE's spherical splines)") in captured.err
    assert "note: rec.edf: left out 1 electrode the model does not read (FCz)" in captured.err
    assert "interpolated electrodes: C3, Pz, FC6; see p.csv.json" in captured.out
    side = json.loads((tmp_path / "p.csv.json").read_text())
    assert side["interpolated"] == [
        n for n in MODEL if n in MISSING]
    assert side["predictions"] == "p.csv" and len(pd.read_csv(out)) > 0
    # the feature set says so too, in the model's order, and the cache keeps it
    for _ in range(2):
        fs = load_features("raw", path, progress=False, fit_to=MODEL)
        assert fs.ch_names == MODEL and fs.interpolated == tuple(n for n in MODEL if n in MISSING)
    assert list(fs.to_npz_dict()["interpolated"]) == list(fs.interpolated)


def test_explain_names_the_interpolated_electrodes(tmp_path, capsys):
    path = edf_without(tmp_path / "rec.edf", MISSING)
    out = tmp_path / "a.npz"
    assert main(["explain", "--model", str(DEMO), "--source", "raw", "--path", str(path),
                 "--method", "saliency", "--out", str(out), "--interpolate-missing"]) == 0
    assert "interpolated 3 of the model's electrodes" in capsys.readouterr().err
    with np.load(out) as z:
        assert list(z["interpolated"]) == [n for n in MODEL if n in MISSING]


def test_too_many_missing_electrodes_are_refused(tmp_path, capsys):
    path = edf_without(tmp_path / "rec.edf", MODEL[:12])
    with pytest.raises(DataFormatError) as err:
        load_features("raw", path, progress=False, fit_to=MODEL)
    text = str(err.value)
    assert str(path) in text and "lacks 12 of the model's 32 electrodes" in text
    assert "at most 8 (a quarter of them)" in text
    assert predict("--path", path, "--out", tmp_path / "p.csv", "--interpolate-missing") == 2
    stderr = capsys.readouterr().err
    assert "lacks 12 of the model's 32" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "p.csv.json").exists()


def test_a_missing_electrode_needs_measured_neighbours(tmp_path):
    # Fp1, AF3 and F3 together: Fp1 keeps only Fp2 and F7 nearby
    path = edf_without(tmp_path / "rec.edf", ["Fp1", "AF3", "F3"])
    with pytest.raises(DataFormatError, match=r"cannot interpolate Fp1: each needs at least 3"):
        load_features("raw", path, progress=False, fit_to=MODEL)


def test_nothing_missing_only_drops_and_reorders(tmp_path):
    path = edf_without(tmp_path / "rec.edf", [], extra=["FCz", "Iz"])
    fs = load_features("raw", path, progress=False, fit_to=list(reversed(MODEL)))
    assert fs.ch_names == list(reversed(MODEL)) and fs.interpolated == ()
    assert fs.notes == ["rec.edf: left out 2 electrodes the model does not read (FCz, Iz)"]


def test_interpolated_values_follow_the_true_signal(tmp_path):
    """A smooth field over the scalp, recorded without three electrodes: the interpolated
    channels follow the field's true values there."""
    n = int(SECONDS * RATE)
    truth = smooth_field(positions_3d(MODEL), head_sphere()[:3], n)
    keep = [i for i, c in enumerate(MODEL) if c not in MISSING]
    raw = mne.io.RawArray(truth[keep], mne.create_info([MODEL[i] for i in keep], RATE, "eeg"),
                          verbose="error")
    path = tmp_path / "field_raw.fif"
    raw.save(path, verbose="error")
    rec = read_file(path, sfreq=None, fit_to=tuple(MODEL))
    assert rec.ch_names == MODEL and rec.interpolated == [c for c in MODEL if c in MISSING]
    signal = rec.trials[0].signal
    for name in MISSING:
        i = MODEL.index(name)
        assert np.corrcoef(signal[i], truth[i])[0, 1] > 0.95, name
    np.testing.assert_allclose(signal[keep], truth[keep], atol=1e-12)  # measured: untouched


def test_cap_interpolation_follows_the_true_signal(tmp_path):
    """The same for a BioSemi 128 cap: the model's 32 sites from the cap's positions."""
    n = int(SECONDS * RATE)
    names = list(caps.numbered_names("biosemi128"))
    info = mne.create_info(names, RATE, "eeg")
    info.set_montage(caps.builtin_montage("biosemi128"))
    _, centre, _ = mne.bem.fit_sphere_to_headshape(info, ("eeg",), units="m", verbose="error")
    field = smooth_field(np.array([ch["loc"][:3] for ch in info["chs"]]), centre, n)
    path = F.write_biosemi_bdf(tmp_path / "b128.bdf", dict(zip(names, field * 1e6)),
                               sfreq=RATE)
    rec = read_file(path, sfreq=None, fit_to=tuple(MODEL))
    truth = smooth_field(positions_3d(MODEL), head_sphere()[:3], n)
    r = [np.corrcoef(rec.trials[0].signal[i], truth[i])[0, 1] for i in range(len(MODEL))]
    assert rec.interpolated == MODEL and min(r) > 0.9, dict(zip(MODEL, np.round(r, 3)))


def test_scalp_maps_mark_the_interpolated_electrodes():
    from rbt.viz.topomap import band_topomaps, scalp_topomap, topomap_row

    values = np.arange(len(MODEL), dtype=float)
    figures = [scalp_topomap(values, MODEL, interpolated=MISSING),
               scalp_topomap(values, MODEL, mode="markers", interpolated=MISSING),
               topomap_row({"a": values, "b": -values}, MODEL, interpolated=MISSING),
               band_topomaps(np.ones((len(MODEL), 2)), MODEL, ["theta", "alpha"],
                             interpolated=MISSING)]
    for fig in figures:
        sensors = [t for t in fig.data if t.name == "sensors"]
        assert sensors
        for trace in sensors:
            ringed = [n for n, s in zip(trace.text, trace.marker.symbol) if s != "circle"]
            assert ringed == [n for n in MODEL if n in MISSING]
            assert [n for n, h in zip(trace.text, trace.hovertext) if "interpolated" in h] \
                == ringed
        keys = [a.text for a in fig.layout.annotations if "interpolated" in a.text]
        assert keys == ["○ interpolated: C3, Pz, FC6"]
    plain = scalp_topomap(values, MODEL)
    assert plain.data[-1].marker.symbol is None and not plain.layout.annotations


def test_features_for_a_model_s_electrodes(tmp_path, capsys):
    path = edf_without(tmp_path / "rec.edf", MISSING)
    out = tmp_path / "f.npz"
    assert main(["features", "--source", "raw", "--path", str(path), "--electrodes-of",
                 str(DEMO), "--out", str(out)]) == 0
    assert "interpolated 3 of the model's electrodes" in capsys.readouterr().err
    with np.load(out) as z:
        assert list(z["ch_names"]) == MODEL
        assert list(z["interpolated"]) == [n for n in MODEL if n in MISSING]


def test_an_explanation_file_keeps_the_interpolated_electrodes(tmp_path):
    from rbt.explain import load_explanation
    from rbt.explain.groups import group_maps

    path = edf_without(tmp_path / "rec.edf", MISSING)
    out = tmp_path / "a.npz"
    assert main(["explain", "--model", str(DEMO), "--source", "raw", "--path", str(path),
                 "--method", "saliency", "--out", str(out), "--interpolate-missing"]) == 0
    explanation = load_explanation(out)
    assert explanation.interpolated == tuple(n for n in MODEL if n in MISSING)
    assert group_maps(explanation, "subject").interpolated == explanation.interpolated
