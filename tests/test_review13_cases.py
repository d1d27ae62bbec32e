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
from test_fitting import smooth_field

from rbt.data import load_features
from rbt.data.raw import read_file
from rbt.montage import head_sphere, make_info, positions_3d, template_montage

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


def test_stim_events_survive_interpolation_from_a_biosemi_128_cap(tmp_path):
    from rbt import caps

    n = int(SECONDS * RATE)
    status = F.biosemi_status(n, [(int(m[0] * RATE), code, 20) for m, code in
                                  zip(MARKERS, (1, 2, 1))])
    named = F.write_biosemi_bdf(tmp_path / "named.bdf", F.labelled_signals(MODEL, RATE, SECONDS),
                                RATE, status)
    b128 = F.write_biosemi_bdf(tmp_path / "b128.bdf", F.labelled_signals(
        caps.numbered_names("biosemi128"), RATE, SECONDS), RATE, status)
    expected = windows(features(named))
    assert sorted(set(expected["annotation"])) == ["1", "2"]
    fs = features(b128, fit_to=MODEL)
    assert fs.interpolated == tuple(MODEL) and windows(fs).equals(expected)


def test_interpolation_uses_every_measured_electrode(tmp_path):
    """Fp1, AF3 and F3 missing: from the model's electrodes alone Fp1 has too few neighbours
    (tests/test_fitting.py), but the recording's Fpz, AF7 and F1 lie around it. They count
    as neighbours and feed the splines (the result is MNE's interpolate_bads over all the
    recording's electrodes), and are dropped afterwards."""
    missing, extra = ["Fp1", "AF3", "F3"], ["Fpz", "AF7", "F1"]
    names = [c for c in MODEL if c not in missing] + extra
    n = int(10 * RATE)
    truth = smooth_field(positions_3d(MODEL + extra), head_sphere()[:3], n)
    measured = [i for i, c in enumerate(MODEL + extra) if c not in missing]
    raw = mne.io.RawArray(truth[measured], mne.create_info(names, RATE, "eeg"), verbose="error")
    path = F.save_fif(raw, tmp_path / "front_raw.fif")
    rec = read_file(path, sfreq=None, fit_to=tuple(MODEL))
    assert rec.ch_names == MODEL and rec.interpolated == missing
    assert ("front_raw.fif: interpolated 3 of the model's electrodes it lacks (Fp1, AF3, F3) "
            "from its 32 measured ones (MNE's spherical splines)") in rec.notes
    assert "front_raw.fif: left out 3 electrodes the model does not read (Fpz, AF7, F1)" \
        in rec.notes
    signal = rec.trials[0].signal
    for name in missing:
        assert np.corrcoef(signal[MODEL.index(name)], truth[MODEL.index(name)])[0, 1] > 0.95
    # what MNE gives from all 32 measured electrodes at the template's sites
    full = mne.io.RawArray(np.vstack([truth[measured], np.zeros((3, n))]),
                           make_info(names + missing, RATE), verbose="error")
    full.set_montage(template_montage(), verbose="error")
    full.info["bads"] = missing
    full.interpolate_bads(reset_bads=True, verbose="error")
    np.testing.assert_allclose(signal[[MODEL.index(m) for m in missing]],
                               full.get_data(picks=missing), rtol=1e-6, atol=1e-12)


# PhysioNet's EEG Motor Movement/Imagery database (eegmmidb): 64 labels padded with dots
EEGMMIDB = ("Fc5. Fc3. Fc1. Fcz. Fc2. Fc4. Fc6. C5.. C3.. C1.. Cz.. C2.. C4.. C6.. Cp5. Cp3. "
            "Cp1. Cpz. Cp2. Cp4. Cp6. Fp1. Fpz. Fp2. Af7. Af3. Afz. Af4. Af8. F7.. F5.. F3.. "
            "F1.. Fz.. F2.. F4.. F6.. F8.. Ft7. Ft8. T7.. T8.. T9.. T10. Tp7. Tp8. P7.. P5.. "
            "P3.. P1.. Pz.. P2.. P4.. P6.. P8.. Po7. Po3. Poz. Po4. Po8. O1.. Oz.. O2.. "
            "Iz..").split()


def test_physionet_dotted_labels_are_10_05_electrodes(tmp_path):
    from rbt.montage import canonical_name

    assert [canonical_name(n) for n in ("Fc5.", "Cz..", "T10.", "Iz..", "Fp1.")] == [
        "FC5", "Cz", "T10", "Iz", "Fp1"]
    assert canonical_name("..") is None and canonical_name("Xy1.") is None
    runs = [(4.2 * i, 4.2 if i % 2 == 0 else 4.1, "T0" if i % 2 == 0 else f"T{1 + i // 2 % 2}")
            for i in range(6)]
    path = F.write_edf_signals(tmp_path / "S001R04.edf",
                               F.labelled_signals(EEGMMIDB, 160.0, 30.0), 160.0, runs)
    fs = features(path)
    assert len(fs.ch_names) == 64 and sorted(set(fs.table["annotation"])) == ["T0", "T1", "T2"]
    fitted = features(path, fit_to=MODEL)  # every model electrode measured: none interpolated
    assert fitted.ch_names == MODEL and fitted.interpolated == ()
    assert any("left out 32 electrodes the model does not read" in n for n in fitted.notes)


# Temple University Hospital's EEG corpus: referential labels against a common "REF"
TUH_EEG = ["EEG FP1-REF", "EEG FP2-REF", "EEG F3-REF", "EEG F4-REF", "EEG C3-REF",
           "EEG C4-REF", "EEG P3-REF", "EEG P4-REF", "EEG O1-REF", "EEG O2-REF", "EEG F7-REF",
           "EEG F8-REF", "EEG T3-REF", "EEG T4-REF", "EEG T5-REF", "EEG T6-REF", "EEG A1-REF",
           "EEG A2-REF", "EEG FZ-REF", "EEG CZ-REF", "EEG PZ-REF"]


def test_tuh_ear_electrodes_against_ref_are_a1_and_a2(tmp_path):
    from rbt.montage import UnknownChannelsError, canonical_name

    assert [canonical_name(n) for n in ("EEG A1-REF", "EEG A2-REF", "M1-REF")] == [
        "A1", "A2", "M1"]
    assert [canonical_name(n) for n in ("A1-A2", "M1-A2", "EEG A1-LE")] == [None] * 3
    path = F.write_edf_signals(tmp_path / "tuh.edf", F.labelled_signals(TUH_EEG, RATE, 20.0),
                               RATE)
    fs = features(path)
    assert [canonical_name(n) for n in fs.ch_names][16:18] == ["A1", "A2"]
    assert len(fs.ch_names) == 21
    pair = F.write_edf_signals(tmp_path / "pair.edf",
                               F.labelled_signals(TUH_EEG[:16] + ["A1-A2"], RATE, 20.0), RATE)
    with pytest.raises(UnknownChannelsError, match=r"not 10-05 electrode names: A1-A2\."):
        features(pair)


def test_tuh_and_neuroscan_extras_are_typed_by_name(tmp_path):
    """TUH's photic stimulator and its burst-suppression tracks, and Neuroscan's eye channels,
    never reach electrode matching; the channels TUH numbers (26-REF) stay unknown."""
    from rbt.montage import UnknownChannelsError

    extras = ["EEG ROC-REF", "EEG LOC-REF", "EEG EKG1-REF", "PHOTIC-REF", "IBI", "BURSTS",
              "SUPPR", "HEO", "VEO", "LOC-LE"]
    path = F.write_edf_signals(tmp_path / "tuh.edf",
                               F.labelled_signals(TUH_EEG + extras, RATE, 20.0), RATE)
    fs = features(path)
    assert len(fs.ch_names) == 21
    assert fs.notes[0] == ("tuh.edf: left out 10 non-EEG channels (EOG: ROC-REF, LOC-REF, HEO, "
                           "VEO, LOC-LE; ECG: EKG1-REF; misc: PHOTIC-REF, IBI, BURSTS, SUPPR)")
    numbered = F.write_edf_signals(tmp_path / "tuh26.edf", F.labelled_signals(
        TUH_EEG + extras + ["EEG 26-REF", "EEG 27-REF"], RATE, 20.0), RATE)
    with pytest.raises(UnknownChannelsError, match=r"not 10-05 electrode names: 26-REF, "
                                                   r"27-REF\."):
        features(numbered)


def test_drop_unknown_names_what_it_drops(tmp_path, capsys):
    from rbt.cli import main

    numbered = ["EEG 26-REF", "EEG 27-REF", "EEG 28-REF"]
    path = F.write_edf_signals(tmp_path / "tuh.edf", F.labelled_signals(
        TUH_EEG + ["PHOTIC-REF"] + numbered, RATE, 20.0), RATE)
    fs = features(path, drop_unknown=True)
    assert len(fs.ch_names) == 21
    assert "tuh.edf: dropped 3 channels that are not 10-05 electrodes: 26-REF, 27-REF, " \
        "28-REF" in fs.notes
    assert main(["features", "--source", "raw", "--path", str(path), "--drop-unknown",
                 "--out", str(tmp_path / "f.npz")]) == 0
    assert "note: tuh.edf: dropped 3 channels that are not 10-05 electrodes: 26-REF" \
        in capsys.readouterr().err
    # a refusal after dropping says what was dropped
    assert main(["predict", "--model", str(DEMO), "--source", "raw", "--path", str(path),
                 "--drop-unknown", "--interpolate-missing", "--out",
                 str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert "lacks 13 of the model's 32 electrodes" in err and "Traceback" not in err
    assert "With --drop-unknown it dropped 3 channels that are not 10-05 electrodes" in err


def test_unknown_names_are_named_before_fitting_and_repeated_names_as_such(tmp_path, capsys):
    from rbt.cli import main
    from rbt.data import DataFormatError
    from rbt.montage import UnknownChannelsError

    def predict(path):
        return main(["predict", "--model", str(DEMO), "--source", "raw", "--path", str(path),
                     "--interpolate-missing", "--out", str(tmp_path / "p.csv")])

    odd = [f"Sig{i}" for i in range(1, 33)]  # no name a 10-05 electrode
    path = F.write_edf_signals(tmp_path / "odd.edf", F.labelled_signals(odd, RATE, 10.0), RATE)
    with pytest.raises(UnknownChannelsError, match="32 channel name"):
        features(path, fit_to=MODEL)
    assert predict(path) == 2
    err = capsys.readouterr().err
    assert "are not 10-05 electrode names: Sig1, Sig2" in err and "--channel-map" in err
    assert "lacks" not in err
    # a label written twice: MNE reads Fp1-0 and Fp1-1
    import edfio

    twice = tmp_path / "twice.edf"
    signals = F.labelled_signals(MODEL + ["Fp1 again"], RATE, 10.0)
    edfio.Edf([edfio.EdfSignal(x, RATE, label=label.replace(" again", ""),
                               physical_dimension="uV")
               for label, x in signals.items()]).write(twice)
    with pytest.raises(DataFormatError, match=r"twice.edf: the file has Fp1 twice \(read as "
                                              r"Fp1-0, Fp1-1\)"):
        features(twice)
    assert predict(twice) == 2
    err = capsys.readouterr().err
    assert "the file has Fp1 twice" in err and "Traceback" not in err


def test_the_electrodes_mismatch_names_the_file_and_the_folder(tmp_path, capsys):
    from rbt.cli import main

    names = [c for c in MODEL if c not in ("AF3", "PO4")]
    path = F.write_edf_signals(tmp_path / "rec" / "s01.edf",
                               F.labelled_signals(names, RATE, 10.0), RATE)
    for source in (path, path.parent):
        assert main(["predict", "--model", str(DEMO), "--source", "raw", "--path",
                     str(source), "--out", str(tmp_path / "p.csv")]) == 2
        err = capsys.readouterr().err
        assert (f"error: {source}: the model was trained on 32 electrodes and the data has 30; "
                "missing from the data: AF3, PO4") in err
