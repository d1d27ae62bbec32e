"""Recordings shaped like public test suites' and clinical exports (issue 13's review): dense
caps with point markers fitted to a model, measured neighbours in interpolation, PhysioNet's
dotted labels, TUH's ear electrodes and extras, what is dropped named, clear refusals."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import formats as F
import mne
import numpy as np
import pytest

from rbt.data import load_features

pytest.importorskip("edfio", reason="EDF files are written with edfio")

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"
MODEL = json.loads((DEMO / "rbt_metadata.json").read_text())["ch_names"]  # 32 electrodes
RATE, SECONDS = 256.0, 30.0
MARKERS = [(2.0, 0.0, "stim"), (12.0, 0.0, "resp"), (22.0, 0.0, "stim")]  # point markers
EGI_129 = [f"E{i}" for i in range(1, 130)]


def features(path, **kw):
    return load_features("raw", path, progress=False, **kw)


def windows(fs):
    return fs.table[["trial", "window", "start", "annotation"]].reset_index(drop=True)


def test_point_markers_survive_interpolation_from_a_dense_cap(tmp_path):
    """EGI 129 in an EDF and in a FIF (starting at a later sample, with a date): interpolated
    onto the model's electrodes, its markers start the same trials as without a cap."""
    named = F.write_edf_signals(tmp_path / "named.edf",
                                F.labelled_signals(MODEL, RATE, SECONDS), RATE, MARKERS)
    expected = windows(features(named))
    assert sorted(set(expected["annotation"])) == ["resp", "stim"]
    edf = F.write_edf_signals(tmp_path / "egi.edf", F.labelled_signals(EGI_129, RATE, SECONDS),
                              RATE, MARKERS)
    raw = mne.io.RawArray(np.vstack(list(F.labelled_signals(EGI_129, RATE, SECONDS).values()))
                          * 1e-6, mne.create_info(EGI_129, RATE, "eeg"), first_samp=777,
                          verbose="error")
    raw.set_meas_date(datetime(2020, 5, 4, 3, 2, 1, tzinfo=timezone.utc))
    raw.set_annotations(mne.Annotations([m[0] + raw.first_samp / RATE for m in MARKERS], 0.0,
                                        [m[2] for m in MARKERS], orig_time=raw.info["meas_date"]))
    fif = F.save_fif(raw, tmp_path / "egi_raw.fif")
    for path in (edf, fif):
        fs = features(path, fit_to=MODEL)
        assert fs.ch_names == MODEL and fs.interpolated == tuple(MODEL)
        assert windows(fs).equals(expected), path.name
        assert any("3 trials from annotations" in n for n in fs.notes)
