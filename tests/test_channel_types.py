"""Channel types first: only EEG channels become electrodes.

Files are written in their real formats (EDF+ and BDF through edfio, FIF through MNE) the way
clinical and BioSemi exports label them, and read through ``load_features`` and the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import formats as F
import numpy as np
import pytest

from rbt.data import DataFormatError, load_features
from rbt.data import raw as R
from rbt.montage import template_montage

pytest.importorskip("edfio", reason="EDF and BDF files are written with edfio")

ATOL = 1e-4  # float32 features of the same samples
EEG = ["Fp1", "Fp2", "C3", "Cz", "C4", "O1"]
# a clinical export: EDF+ type prefixes, the non-EEG channels among the EEG ones
CLINICAL = {
    "EEG Fp1": "Fp1", "EEG Fp2": "Fp2", "EOG VEOG_I": None, "EEG C3": "C3", "EEG Cz": "Cz",
    "ECG ECG1": None, "EEG C4": "C4", "EMG Chin1": None, "DIG DTRIG": None,
    "REF_EEG REF_EEG": None, "EEG O1": "O1", "Resp": None, "SpO2": None,
}
CLINICAL_NOTE = ("clinical.edf: left out 7 non-EEG channels (EOG: VEOG_I; ECG: ECG1; EMG: Chin1; "
                 "stim: DTRIG; misc: REF_EEG; respiration: Resp; bio: SpO2)")
ANNOTATIONS = [(1.0, 6.0, "rest"), (8.0, 7.0, "task")]


def clinical_files(folder: Path, signals=None) -> tuple[Path, Path]:
    """The clinical EDF and the same EEG alone, labelled plainly (the reference)."""
    eeg = F.labelled_signals(EEG)
    extra = F.labelled_signals([k for k, v in CLINICAL.items() if v is None], seed=9)
    extra["DIG DTRIG"] = np.zeros_like(extra["DIG DTRIG"])  # no trigger pulses: same trials
    full = {label: eeg[name] if name else extra[label] for label, name in CLINICAL.items()}
    return (F.write_edf_signals(folder / "clinical.edf", signals or full,
                                annotations=ANNOTATIONS),
            F.write_edf_signals(folder / "plain.edf", eeg, annotations=ANNOTATIONS))


def features(path, **kw):
    return load_features("raw", path, progress=False, **kw)


def assert_same_features(fs, ref):
    assert fs.ch_names == ref.ch_names
    columns = [c for c in ("trial", "window", "start", "annotation") if c in ref.table]
    assert list(fs.table.columns) == list(ref.table.columns)
    assert fs.table[columns].equals(ref.table[columns])
    np.testing.assert_allclose(fs.X, ref.X, rtol=0, atol=ATOL)


def run_cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "rbt", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


# --------------------------------------------------------------------------------------------
# EDF with type prefixes


def test_edf_type_prefixes_keep_only_the_eeg_with_prefixes_stripped(tmp_path):
    path, plain = clinical_files(tmp_path)
    fs = features(path, task="multi")
    assert fs.ch_names == EEG
    assert fs.notes == [CLINICAL_NOTE]
    assert fs.class_names == ["rest", "task"]
    assert_same_features(fs, features(plain, task="multi"))
    # nothing non-EEG reaches the electrode matching, so dropping unknown ones changes nothing
    dropped = features(path, task="multi", drop_unknown=True)
    assert dropped.notes == [CLINICAL_NOTE]
    assert_same_features(dropped, fs)


def test_open_recording_types_the_channels_for_every_reader(tmp_path):
    path, _ = clinical_files(tmp_path)
    raw = R.open_recording(path)
    assert dict(zip(raw.ch_names, raw.get_channel_types())) == {
        "Fp1": "eeg", "Fp2": "eeg", "VEOG_I": "eog", "C3": "eeg", "Cz": "eeg", "ECG1": "ecg",
        "C4": "eeg", "Chin1": "emg", "DTRIG": "stim", "REF_EEG": "misc", "O1": "eeg",
        "Resp": "resp", "SpO2": "bio"}


def test_names_known_as_non_eeg_without_prefixes(tmp_path):
    names = ["LEOG", "REOG", "HEOG", "VEOG", "EKG", "ECG", "EMG", "Status", "Trigger", "Pleth",
             "Fz"]
    path = F.write_edf_signals(tmp_path / "named.edf", F.labelled_signals(names))
    raw = R.open_recording(path)
    kinds = dict(zip(raw.ch_names, raw.get_channel_types()))
    assert kinds == {"LEOG": "eog", "REOG": "eog", "HEOG": "eog", "VEOG": "eog", "EKG": "ecg",
                     "ECG": "ecg", "EMG": "emg", "Status": "stim", "Trigger": "stim",
                     "Pleth": "bio", "Fz": "eeg"}
    fs = features(path)
    assert fs.ch_names == ["Fz"]
    assert fs.notes == ["named.edf: left out 10 non-EEG channels (EOG: LEOG, REOG, HEOG, VEOG; "
                        "ECG: EKG, ECG; EMG: EMG; stim: Status, Trigger; bio: Pleth)"]


def test_no_10_05_electrode_name_is_taken_for_a_non_eeg_channel():
    names = template_montage().ch_names
    taken = [n for n in names for pattern, _ in R._NAMED_TYPES if pattern.fullmatch(n)]
    assert not taken
    assert all(n.split(" ")[0].upper() not in R._PREFIX_TYPES for n in names)


def test_channel_map_keys_may_be_the_labels_and_make_a_channel_an_electrode(tmp_path):
    path, _ = clinical_files(tmp_path)
    # "EOG VEOG_I" is the label as written; it records AF7 here, so it becomes EEG
    fs = features(path, channel_map={"EOG VEOG_I": "AF7", "EEG O1": "Oz"})
    assert fs.ch_names == ["Fp1", "Fp2", "AF7", "C3", "Cz", "C4", "Oz"]
    assert fs.notes == [CLINICAL_NOTE.replace("7 non-EEG", "6 non-EEG")
                        .replace("EOG: VEOG_I; ", "")]


# --------------------------------------------------------------------------------------------
# BioSemi BDF


def test_biosemi_bdf_external_sensor_and_status_channels_are_left_out(tmp_path):
    eeg = F.labelled_signals(F.BIOSEMI_32, sfreq=256.0, seconds=12.0)
    extra = F.labelled_signals(F.BIOSEMI_EXTERNAL + F.BIOSEMI_SENSORS, sfreq=256.0,
                               seconds=12.0, seed=5)
    n = 12 * 256
    path = F.write_biosemi_bdf(tmp_path / "biosemi.bdf", {**eeg, **extra},
                               status=np.zeros(n))
    plain = F.write_biosemi_bdf(tmp_path / "plain.bdf", eeg)
    raw = R.open_recording(path)
    kinds = dict(zip(raw.ch_names, raw.get_channel_types()))
    assert [kinds[c] for c in F.BIOSEMI_EXTERNAL] == ["misc"] * 8
    assert kinds["Status"] == "stim" and kinds["Resp"] == "resp" and kinds["GSR1"] == "gsr"
    fs = features(path)
    assert fs.ch_names == F.BIOSEMI_32 and fs.sfreq == 128.0
    assert fs.notes == [
        "biosemi.bdf: left out 16 non-EEG channels (misc: EXG1, EXG2, EXG3, EXG4, EXG5, EXG6, "
        "EXG7, EXG8, Erg1, Erg2; GSR: GSR1, GSR2; respiration: Resp; bio: Plet; "
        "temperature: Temp; stim: Status)"]
    assert_same_features(fs, features(plain))
    # mastoids recorded on EXG1 and EXG2: a channel map makes them electrodes
    mapped = features(path, channel_map={"EXG1": "M1", "EXG2": "M2"})
    assert mapped.ch_names == F.BIOSEMI_32 + ["M1", "M2"]
    assert "misc: EXG3, EXG4, EXG5, EXG6, EXG7, EXG8, Erg1" in mapped.notes[0]


def test_biosemi_status_triggers_still_make_trials(tmp_path):
    eeg = F.labelled_signals(["Fz", "Cz", "Pz"], sfreq=256.0, seconds=12.0)
    status = np.zeros(12 * 256)
    status[512:520], status[1792:1800] = 1, 2
    fs = features(F.write_biosemi_bdf(tmp_path / "events.bdf", eeg, status=status),
                  task="multi")
    assert fs.class_names == ["1", "2"] and fs.table["trial"].unique().tolist() == [1, 2]
    assert fs.notes == ["events.bdf: left out 1 non-EEG channel (stim: Status)",
                        "events.bdf: 2 trials from stim events (each to the next marker): 1, 2"]


# --------------------------------------------------------------------------------------------
# Types a file declares (FIF)


def test_fif_declared_eog_ecg_types_are_left_out(tmp_path):
    base = F.make_raw(F.RAW_CHANNELS, annotations=ANNOTATIONS)
    typed = F.add_typed_channels(base, {"VEOG": "eog", "EOG 061": "eog", "ECG 063": "ecg",
                                        "EMG left": "emg", "X1": "misc"})
    path = F.save_fif(typed, tmp_path / "typed_raw.fif")
    plain = F.save_fif(base, tmp_path / "plain_raw.fif")
    fs = features(path, task="multi")
    assert fs.ch_names == F.RAW_CHANNELS
    assert fs.notes == ["typed_raw.fif: left out 5 non-EEG channels (EOG: VEOG, EOG 061; "
                        "ECG: ECG 063; EMG: EMG left; misc: X1)"]
    assert_same_features(fs, features(plain, task="multi"))


def test_channels_marked_bad_are_said_with_the_rest(tmp_path):
    raw = F.add_typed_channels(F.make_raw(["Fp1", "Cz", "O2"]), {"ECG": "ecg"})
    raw.info["bads"] = ["O2"]
    fs = features(F.save_fif(raw, tmp_path / "bads_raw.fif"))
    assert fs.ch_names == ["Fp1", "Cz"]
    assert fs.notes == ["bads_raw.fif: left out 1 non-EEG channel (ECG: ECG) and 1 EEG channel "
                        "the file marks bad (O2)"]


def test_only_bad_eeg_channels_are_refused_saying_so(tmp_path):
    raw = F.add_typed_channels(F.make_raw(["Cz"]), {"ECG": "ecg"})
    raw.info["bads"] = ["Cz"]
    path = F.save_fif(raw, tmp_path / "all_bad_raw.fif")
    with pytest.raises(DataFormatError, match=r"all_bad_raw.fif: no EEG channels .* 1 non-EEG "
                       r"channel \(ECG: ECG\) and 1 EEG channel the file marks bad \(Cz\), "
                       r"typed as the file declares them.*clear those marks"):
        features(path)


def test_notes_survive_the_feature_cache(tmp_path, rbt_cache):
    path, _ = clinical_files(tmp_path)
    first = features(path)
    assert len(list((rbt_cache / "features").glob("*.npz"))) == 1
    again = features(path)
    assert again.notes == first.notes == [CLINICAL_NOTE]
    np.testing.assert_array_equal(again.X, first.X)


# --------------------------------------------------------------------------------------------
# No EEG at all: a clear refusal


def test_a_file_of_only_non_eeg_channels_is_refused_with_what_to_do(tmp_path):
    signals = F.labelled_signals(["EOG VEOG_I", "ECG ECG1", "EXG1"])
    path = F.write_edf_signals(tmp_path / "polygraphy.edf", signals)
    with pytest.raises(DataFormatError) as info:
        features(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: no EEG channels")
    assert "3 non-EEG channels (EOG: VEOG_I; ECG: ECG1; misc: EXG1)" in msg
    assert "--channel-map" in msg and "10-05 name" in msg


# --------------------------------------------------------------------------------------------
# The CLI


def test_cli_features_names_the_left_out_channels_once(tmp_path):
    path, plain = clinical_files(tmp_path)
    out = run_cli("features", "--source", "raw", "--path", path, "--out", tmp_path / "f.npz",
                  "--target", "annotation", "--task", "multi", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("left out") == 1
    assert f"note: {CLINICAL_NOTE}" in out.stderr
    assert "6 electrodes" in out.stdout
    with np.load(tmp_path / "f.npz") as z:
        assert z["ch_names"].tolist() == EEG
        np.testing.assert_allclose(z["X"], features(plain, task="multi").X, rtol=0, atol=ATOL)


def test_cli_refuses_a_file_without_eeg_without_a_traceback(tmp_path):
    signals = F.labelled_signals(["EOG VEOG_I", "ECG ECG1", "DIG DTRIG"])
    path = F.write_edf_signals(tmp_path / "no_eeg.edf", signals)
    out = run_cli("features", "--source", "raw", "--path", path, "--out", tmp_path / "f.npz",
                  cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"rbt features: error: {path}: no EEG channels" in out.stderr
    assert "EOG: VEOG_I; ECG: ECG1; stim: DTRIG" in out.stderr and "--channel-map" in out.stderr
    assert not (tmp_path / "f.npz").exists()
