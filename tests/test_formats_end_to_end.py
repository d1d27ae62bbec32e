"""Each format MNE reads, shaped like a real export, through the real command line with the
shipped demo checkpoint: ``rbt features``, ``rbt predict`` (one row per window, the markers
as labels) and ``rbt explain`` on one trial; a BIDS-like folder of BrainVision recordings with
subjects and sessions from the file names (the dashboard: tests/test_app_markers.py).

The recordings carry the demo model's 32 electrodes (read from its card) and what real files
carry beside them: EDF+ type prefixes, an EOG channel, BioSemi's external channels and Status
channel with its system bits, BrainVision's New Segment and Response markers, EEGLAB's
boundary events, a FIF stim channel; one is at 1000 Hz and resampled."""

from __future__ import annotations

import json
from pathlib import Path

import formats as F
import numpy as np
import pandas as pd
import pytest

from rbt.cli import main

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"
pytestmark = pytest.mark.skipif(not DEMO.exists(), reason="assets/demo-checkpoint not built")
CARD = DEMO / "rbt_metadata.json"
ELECTRODES = json.loads(CARD.read_text())["ch_names"] if CARD.exists() else []
WINDOW, STRIDE = 512, 117  # the demo card's, at its 128 Hz


def n_windows(samples: int) -> int:
    return (samples - WINDOW) // STRIDE + 1


def _edf_tal(folder: Path):
    """A clinical EDF+: "EEG Fp1" labels, an EOG channel, TAL point annotations."""
    pytest.importorskip("edfio")
    signals = F.labelled_signals([f"EEG {n}" for n in ELECTRODES] + ["EOG VEOG"], seconds=24.0)
    tal = [(2.0, None, "video 1"), (10.0, None, "video 2"), (17.0, None, "video 1")]
    path = F.write_edf_signals(folder / "patient.edf", signals, annotations=tal)
    return path, [], [(256, 1280, "video 1"), (1280, 2176, "video 2"), (2176, 3072, "video 1")]


def _bdf_status(folder: Path):
    """BioSemi at 512 Hz: EXG1-EXG8 and a Status channel whose bits 16-23 are set."""
    pytest.importorskip("edfio")
    fs, seconds = 512.0, 20.0
    signals = F.labelled_signals(ELECTRODES + F.BIOSEMI_EXTERNAL, sfreq=fs, seconds=seconds)
    status = F.biosemi_status(int(fs * seconds), [(1024, 10, 50), (5120, 20, 50)])
    path = F.write_biosemi_bdf(folder / "biosemi.bdf", signals, sfreq=fs, status=status)
    return path, [], [(256, 1280, "10"), (1280, 2560, "20")]


def _brainvision_1000hz(folder: Path):
    """BrainVision Recorder at 1000 Hz: New Segment, stimuli and a response; the filter keeps
    the stimuli, so the response neither starts nor ends a trial."""
    pytest.importorskip("pybv")
    raw = F.make_raw(ELECTRODES, sfreq=1000.0, seconds=24.0)
    marks = [(2000, "Stimulus", 1), (6500, "Response", 1), (10000, "Stimulus", 2),
             (18000, "Stimulus", 1)]
    path = F.write_brainvision(folder, "sub-07_task-film_eeg", raw, marks)
    spans = [(256, 1280, "Stimulus/S  1"), (1280, 2304, "Stimulus/S  2"),
             (2304, 3072, "Stimulus/S  1")]
    return path, ["--markers", "Stimulus/*"], spans


def _eeglab_events(folder: Path):
    """An EEGLAB .set at 256 Hz with events and a boundary (which cuts no trial)."""
    pytest.importorskip("eeglabio")
    raw = F.make_raw(ELECTRODES, sfreq=256.0, seconds=24.0)
    events = [(1.0, 0.0, "calm"), (9.0, 0.0, "tense"), (12.0, 0.0, "boundary"),
              (17.0, 0.0, "calm")]
    path = F.write_eeglab(folder / "session.set", raw, events)
    return path, [], [(128, 1152, "calm"), (1152, 2176, "tense"), (2176, 3072, "calm")]


def _fif_stim(folder: Path):
    """A FIF with a declared EOG channel and a STI 014 stim channel; fixed 6-s epochs."""
    raw = F.make_raw(ELECTRODES, seconds=30.0, stim_events=[(256, 1), (1536, 2), (2816, 1)])
    raw = F.add_typed_channels(raw, {"EOG 061": "eog"})
    path = F.save_fif(raw, folder / "meg_lab_raw.fif")
    return path, ["--epoch", "6"], [(256, 1024, "1"), (1536, 2304, "2"), (2816, 3584, "1")]


CASES = {"edf_tal": _edf_tal, "bdf_status": _bdf_status, "brainvision_1000hz":
         _brainvision_1000hz, "eeglab_events": _eeglab_events, "fif_stim_epochs": _fif_stim}


def _expected(spans, subject):
    rows = []
    for trial, (a, b, label) in enumerate(spans, 1):
        rows += [(subject, trial, a + w * STRIDE, label) for w in range(n_windows(b - a))]
    return pd.DataFrame(rows, columns=["subject", "trial", "start", "annotation"])


def _run(*argv) -> None:
    assert main([str(a) for a in argv]) == 0


def _check_outputs(tmp_path, path, extra, expected):
    data = ["--source", "raw", "--path", path, *extra]
    _run("features", *data, "--out", tmp_path / "f.npz")
    npz = np.load(tmp_path / "f.npz")
    assert npz["X"].shape == (len(expected), 32, 4) and float(npz["sfreq"]) == 128.0
    assert npz["annotation"].tolist() == expected["annotation"].tolist()
    _run("predict", "--model", DEMO, *data, "--out", tmp_path / "p.csv")
    csv = pd.read_csv(tmp_path / "p.csv", dtype={"subject": str, "annotation": str})
    assert len(csv) == len(expected)  # one row per window
    for col in ("subject", "trial", "start", "annotation"):
        assert csv[col].tolist() == expected[col].tolist(), col
    np.testing.assert_allclose(csv[["p_low", "p_high"]].sum(axis=1), 1, atol=1e-5)
    _run("explain", "--model", DEMO, *data, "--method", "saliency", "--trials", "2",
         "--out", tmp_path / "e.npz")
    attributions = np.load(tmp_path / "e.npz")["attributions"]
    assert attributions.shape == ((expected["trial"] == 2).sum(), 32, 4)
    assert np.isfinite(attributions).all() and np.abs(attributions).sum() > 0


@pytest.mark.parametrize("case", list(CASES))
def test_format_through_features_predict_and_explain(case, tmp_path, capsys):
    path, extra, spans = CASES[case](tmp_path / "data")
    _check_outputs(tmp_path, path, extra, _expected(spans, Path(path).stem))
    err = capsys.readouterr().err
    assert f"{len(spans)} trials from" in err  # the note saying what became trials


def test_bids_like_folder_gives_subjects_and_sessions(tmp_path, capsys):
    pytest.importorskip("pybv")
    folder = tmp_path / "study"
    marks = [(256, "Stimulus", 1), (1536, "Stimulus", 2)]
    names = ["sub-01_ses-1_task-film_eeg", "sub-01_ses-2_task-film_eeg",
             "sub-02_ses-1_task-film_eeg"]
    for i, name in enumerate(names):
        F.write_brainvision(folder, name, F.make_raw(ELECTRODES, seconds=20.0, seed=i), marks)
    pattern = r"sub-(?P<subject>[^_]+)_ses-(?P<session>\d+)"
    _run("predict", "--model", DEMO, "--source", "raw", "--path", folder, "--subject-from",
         pattern, "--out", tmp_path / "p.csv")
    csv = pd.read_csv(tmp_path / "p.csv", dtype={"subject": str})
    per_file = n_windows(1280) + n_windows(1024)
    assert len(csv) == 3 * per_file
    assert csv[["subject", "session"]].drop_duplicates().values.tolist() == [
        ["01", 1], ["01", 2], ["02", 1]]
    _run("explain", "--model", DEMO, "--source", "raw", "--path", folder, "--subject-from",
         pattern, "--subjects", "02", "--trials", "1", "--method", "saliency",
         "--out", tmp_path / "e.npz")
    assert np.load(tmp_path / "e.npz")["attributions"].shape == (n_windows(1280), 32, 4)
    # a pattern that misses one file's name: refused, naming it, without a traceback
    (folder / "notes").mkdir()
    F.write_brainvision(folder, "pilot", F.make_raw(ELECTRODES, seconds=20.0), marks)
    assert main(["features", "--source", "raw", "--path", str(folder), "--subject-from",
                 pattern, "--out", str(tmp_path / "f.npz")]) == 2
    err = capsys.readouterr().err
    assert "pilot.vhdr: the subject pattern" in err and "Traceback" not in err


def test_a_marker_filter_matching_nothing_is_refused_with_the_markers_there(tmp_path, capsys):
    path, _, _ = _brainvision_1000hz(tmp_path / "data")
    code = main(["predict", "--model", str(DEMO), "--source", "raw", "--path", str(path),
                 "--markers", "S 99", "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "sub-07_task-film_eeg.vhdr: no marker matches the marker filter 'S 99'" in err
    assert "its markers are annotations Stimulus/S  1 (2), Response/R  1, Stimulus/S  2" in err
    assert not (tmp_path / "p.csv").exists()
    # a bad epoch is argparse's to refuse; a bad pattern is named
    for epoch in ("0", "-2", "nan"):
        with pytest.raises(SystemExit):
            main(["features", "--source", "raw", "--path", str(path), "--epoch", epoch,
                  "--out", str(tmp_path / "f.npz")])
        assert "--epoch: must be above 0" in capsys.readouterr().err
    assert main(["features", "--source", "raw", "--path", str(path), "--subject-from",
                 "sub-(", "--out", str(tmp_path / "f.npz")]) == 2
    assert "the subject pattern 'sub-(' is not a regular expression" in capsys.readouterr().err
