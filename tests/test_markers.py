"""Markers as trials: point annotations (BrainVision's stimulus markers, EDF+ TAL events,
EEGLAB events) and stim-channel events (FIF's STI 014, BioSemi's Status) each start a trial
that runs to the next marker or for ``epoch`` seconds; a marker filter chooses which ones;
spans keep their own; New Segment, boundary and BAD_ are never trials. And the subject and
session of each recording of a folder, from its file name. Files written with pybv, edfio,
eeglabio and MNE, read through the real reader."""

from __future__ import annotations

import re

import formats as F
import mne
import numpy as np
import pytest
from test_readers import ATOL, n_windows, ref_trial

from rbt.data import DataFormatError, load_features
from rbt.data.markers import NOT_TRIALS, matches, parse_filter

NAMES = ["Fp1", "Fz", "Cz", "Pz", "O1", "O2"]
STIM, RESP = "Stimulus/S  1", "Response/R  1"
# (sample at 128 Hz, type, code): S 1, a button press, S 2, S 1, S 2 in a 40-s recording
MARKS = [(256, "Stimulus", 1), (1000, "Response", 1), (1536, "Stimulus", 2),
         (3072, "Stimulus", 1), (4096, "Stimulus", 2)]


@pytest.fixture
def vhdr(tmp_path):
    pytest.importorskip("pybv")
    raw = F.make_raw(NAMES, seconds=40.0)
    return F.write_brainvision(tmp_path, "task", raw, MARKS)


def _load(path, **kw):
    return load_features("raw", path, progress=False, **kw)


def test_brainvision_point_markers_each_run_to_the_next(vhdr):
    fs = _load(vhdr)
    t = fs.table
    spans = [(256, 1000), (1000, 1536), (1536, 3072), (3072, 4096), (4096, 5120)]
    assert t.groupby("trial")["start"].min().tolist() == [a for a, _ in spans]
    assert t.groupby("trial").size().tolist() == [n_windows(b - a) for a, b in spans]
    labels = t.groupby("trial")["annotation"].first().tolist()
    assert labels == [STIM, RESP, "Stimulus/S  2", STIM, "Stimulus/S  2"]
    assert fs.target == "annotation" and fs.class_names == sorted(set(labels))
    assert any("5 trials from annotations (each to the next marker)" in n for n in fs.notes)
    data = mne.io.read_raw(vhdr, preload=True, verbose="error").get_data()
    trial3 = t["trial"].to_numpy() == 3
    np.testing.assert_allclose(fs.X[trial3], ref_trial(data[:, 1536:3072], 0, 128.0),
                               rtol=0, atol=ATOL)


def test_brainvision_comments_are_labelled_as_written(tmp_path):
    """A lab's comment markers (happy, sad) are the labels the same recording has in EDF or
    FIF, without the type MNE reads before them; stimulus markers keep theirs."""
    pytest.importorskip("pybv")
    raw = F.make_raw(NAMES, seconds=40.0)
    marks = [(256, "Comment", "happy"), (1536, "Comment", "sad"), (3072, "Stimulus", 1)]
    path = F.write_brainvision(tmp_path, "mood", raw, marks)
    read = mne.io.read_raw(path, verbose="error").annotations.description
    assert "Comment/happy" in read  # what MNE gives
    labels = _load(path).table.groupby("trial")["annotation"].first().tolist()
    assert labels == ["happy", "sad", STIM]


def test_a_marker_filter_neither_starts_nor_ends_trials_with_the_others(vhdr):
    fs = _load(vhdr, markers="S 1, s  2")  # case and spaces ignored; the part after the type
    t = fs.table
    spans = [(256, 1536), (1536, 3072), (3072, 4096), (4096, 5120)]  # across the button press
    assert t.groupby("trial")["start"].min().tolist() == [a for a, _ in spans]
    assert t.groupby("trial").size().tolist() == [n_windows(b - a) for a, b in spans]
    assert RESP not in set(t["annotation"])
    assert any("not chosen by the marker filter: Response/R  1" in n for n in fs.notes)
    # a glob, and a fixed epoch after each marker
    fixed = _load(vhdr, markers="Stimulus/*", epoch=5.0)
    assert fixed.table.groupby("trial").size().tolist() == [n_windows(640)] * 4
    assert fixed.table.groupby("trial")["start"].min().tolist() == [256, 1536, 3072, 4096]
    assert any("each 5 s from its marker" in n for n in fixed.notes)


def test_a_filter_matching_nothing_lists_the_markers_there_are(vhdr):
    with pytest.raises(DataFormatError) as info:
        _load(vhdr, markers="S 9")
    message = str(info.value)
    assert str(vhdr) in message and "'S 9'" in message
    assert "Stimulus/S  1 (2)" in message and "Response/R  1" in message
    assert "leave the filter out" in message


def test_trials_shorter_than_a_window_are_left_out_and_counted(tmp_path):
    pytest.importorskip("pybv")
    marks = [(256, "Stimulus", 1), (400, "Stimulus", 3), (1536, "Stimulus", 2)]
    path = F.write_brainvision(tmp_path, "short", F.make_raw(NAMES, seconds=20.0), marks)
    fs = _load(path)
    assert fs.table.groupby("trial")["start"].min().tolist() == [400, 1536]
    assert any("left out 1 shorter than a window (4 s): Stimulus/S  1" in n for n in fs.notes)
    # markers too close for any trial: asked for markers, refused with what to do
    with pytest.raises(DataFormatError, match=r"short.vhdr: no trial of at least one window "
                       r"\(512 samples, 4 s\) from its 2 markers .*--epoch SECONDS, at least 4"):
        _load(path, markers="S 1, S 3", epoch=2.0)


def test_edf_tal_point_annotations_are_trials(tmp_path):
    pytest.importorskip("edfio")
    signals = F.labelled_signals(NAMES, seconds=30.0)
    tal = [(2.0, None, "eyes open"), (12.0, None, "eyes closed"), (22.0, None, "eyes open"),
           (0.0, None, "Recording starts")]
    path = F.write_edf_signals(tmp_path / "rest.edf", signals, annotations=tal)
    fs = _load(path, markers="eyes*")
    t = fs.table
    assert t.groupby("trial")["start"].min().tolist() == [256, 1536, 2816]
    assert t.groupby("trial").size().tolist() == [n_windows(1280)] * 2 + [n_windows(1024)]
    assert fs.class_names == ["eyes closed", "eyes open"]
    # without a filter, "Recording starts" is a marker too: its trial ends at 2 s, too short
    every = _load(path)
    assert "Recording starts" not in set(every.table["annotation"])
    assert any("left out 1 shorter than a window" in n for n in every.notes)


def test_eeglab_boundary_is_no_trial_and_cuts_none(tmp_path):
    pytest.importorskip("eeglabio")
    raw = F.make_raw(NAMES, seconds=30.0)
    events = [(2.0, 0.0, "video"), (10.0, 0.0, "rest"), (14.0, 0.0, "boundary"),
              (20.0, 0.0, "video")]
    path = F.write_eeglab(tmp_path / "sub-01_task.set", raw, events)
    fs = _load(path)
    t = fs.table
    assert t.groupby("trial")["start"].min().tolist() == [256, 1280, 2560]
    assert t.groupby("trial").size().tolist() == [n_windows(1024), n_windows(1280),
                                                  n_windows(1280)]
    assert "boundary" not in set(t["annotation"])
    assert any("not trials: boundary" in n for n in fs.notes)


def test_spans_keep_their_own_and_point_markers_stop_at_them(tmp_path):
    raw = F.make_raw(NAMES, seconds=40.0,
                     annotations=[(2.0, 10.0, "film"), (20.0, 0.0, "probe"),
                                  (26.0, 12.0, "film"), (5.0, 3.0, "BAD_blink"),
                                  (21.0, 0.0, "New Segment/"), (22.0, 0.0, "boundary"),
                                  (23.0, 1.0, "EDGE boundary")])
    fs = _load(F.save_fif(raw, tmp_path / "mixed_raw.fif"))
    t = fs.table
    # film 2-12 s (its span), probe 20 s to the next onset (26 s), film 26-38 s
    assert t.groupby("trial")["start"].min().tolist() == [256, 2560, 3328]
    assert t.groupby("trial").size().tolist() == [n_windows(1280), n_windows(768),
                                                  n_windows(1536)]
    assert t.groupby("trial")["annotation"].first().tolist() == ["film", "probe", "film"]
    assert any("spans as annotated, point markers to the next marker" in n for n in fs.notes)
    never = "not trials: BAD_blink, New Segment/, boundary, EDGE boundary"  # nor ends of one
    assert any(never in n for n in fs.notes)


def test_an_epoch_that_only_spans_would_meet_is_said_to_be_unused(tmp_path):
    raw = F.make_raw(NAMES, seconds=40.0,
                     annotations=[(2.0, 10.0, "film"), (20.0, 12.0, "rest")])
    path = F.save_fif(raw, tmp_path / "spans_raw.fif")
    assert _load(path).notes == []  # spans as annotated: nothing to say
    fs = _load(path, epoch=5.0)
    assert fs.table.groupby("trial").size().tolist() == [n_windows(1280), n_windows(1536)]
    assert any("each of the 2 trials keeps its annotation's span; the trial length of 5 s "
               "is for point markers and is not used" in n for n in fs.notes), fs.notes


def test_an_epoch_longer_than_the_markers_spacing_is_refused(tmp_path):
    marks = [(float(t), 0.0, "tick") for t in range(1, 29)]
    path = F.save_fif(F.make_raw(NAMES, seconds=30.0, annotations=marks), tmp_path / "t_raw.fif")
    assert len(_load(path, epoch=4.0)) == 26 * n_windows(512)  # the last two reach the end
    with pytest.raises(DataFormatError, match=r"t_raw.fif: its 26 marked trials cover the "
                       r"recording 13 times over .* the epoch \(--epoch\) longer"):
        _load(path, epoch=20.0)


def test_fif_stim_pulses_and_steps_are_events(tmp_path):
    """One-sample pulses (which mne.find_events refuses by default) and a step from one code
    to another (no return to 0) are events too."""
    raw = F.make_raw(NAMES, seconds=30.0, stim_events=[(256, 1), (1536, 2)])
    stim = raw.get_data(picks="STI 014")
    stim[0, 256:259] = 0
    stim[0, 256] = 1  # a one-sample pulse
    stim[0, 2560:2600] = 2
    stim[0, 2600:2700] = 4  # a step from 2 to 4
    raw._data[raw.ch_names.index("STI 014")] = stim[0]
    fs = _load(F.save_fif(raw, tmp_path / "pulses_raw.fif"))
    t = fs.table
    # 256-1536 (code 1), 1536-2560 (2), 2560-2600 (2: too short), 2600 to the end (4)
    assert t.groupby("trial")["start"].min().tolist() == [256, 1536, 2600]
    assert t.groupby("trial")["annotation"].first().tolist() == ["1", "2", "4"]
    assert any("from stim events" in n for n in fs.notes)
    picked = _load(tmp_path / "pulses_raw.fif", markers="2")
    assert picked.table.groupby("trial")["start"].min().tolist() == [1536, 2560]


def test_biosemi_status_trigger_bits_are_the_codes(tmp_path):
    pytest.importorskip("edfio")
    fs_hz, n = 256.0, 256 * 30
    signals = F.labelled_signals(F.BIOSEMI_32, sfreq=fs_hz, seconds=30.0)
    status = F.biosemi_status(n, [(512, 3, 20), (3072, 5, 20), (5120, 3, 20)])
    path = F.write_biosemi_bdf(tmp_path / "sub-02.bdf", signals, sfreq=fs_hz, status=status)
    fs = _load(path)  # resampled to 128 Hz: the onsets halve
    t = fs.table
    assert t.groupby("trial")["start"].min().tolist() == [256, 1536, 2560]
    assert t.groupby("trial")["annotation"].first().tolist() == ["3", "5", "3"]


def test_filter_syntax():
    assert parse_filter(" Stimulus/S  1 ,, S*  ") == ("stimulus/s 1", "s*")
    assert parse_filter(None) == () and parse_filter("") == ()
    assert matches(parse_filter("S 1"), "Stimulus/S  1")
    assert matches(parse_filter("stimulus/s  1"), "Stimulus/S  1")
    assert not matches(parse_filter("S 1"), "Stimulus/S 11")
    assert matches(parse_filter("S 1?"), "Stimulus/S 11")
    assert matches(parse_filter("New Segment*"), "New Segment/")
    never = [d for d in ("New Segment/", "SyncStatus/Sync On", "boundary", "BAD_ACQ_SKIP",
                         "EDGE boundary", "Stimulus/S  1", "Comment/eyes closed")
             if matches(NOT_TRIALS, d)]
    assert never == ["New Segment/", "SyncStatus/Sync On", "boundary", "BAD_ACQ_SKIP",
                     "EDGE boundary"]


# --------------------------------------------------------------------------------------------
# Subjects from file names


def test_subject_and_session_from_bids_like_names(tmp_path):
    folder = tmp_path / "study"
    for i, name in enumerate(["sub-01_ses-1_task-emo_eeg", "sub-01_ses-2_task-emo_eeg",
                              "sub-02_ses-1_task-emo_eeg"]):
        raw = F.make_raw(NAMES, seconds=8.0, seed=i)
        F.save_fif(raw, folder / f"{name}.fif")
    default = _load(folder)
    assert default.table["subject"].unique().tolist() == [
        "sub-01_ses-1_task-emo_eeg", "sub-01_ses-2_task-emo_eeg", "sub-02_ses-1_task-emo_eeg"]
    named = _load(folder, subject_from=r"sub-(?P<subject>[^_]+)_ses-(?P<session>\d+)")
    pairs = named.table[["subject", "session"]].drop_duplicates().values.tolist()
    assert pairs == [["01", 1], ["01", 2], ["02", 1]]
    first_group = _load(folder, subject_from=r"sub-(\d+)")
    assert first_group.table["subject"].unique().tolist() == ["01", "02"]
    with pytest.raises(DataFormatError, match=re.escape(
            "sub-01_ses-1_task-emo_eeg.fif: the subject pattern 'subj([0-9]+)' does not match "
            "this file's name")):
        _load(folder, subject_from="subj([0-9]+)")
    with pytest.raises(ValueError, match="is not a regular expression"):
        _load(folder, subject_from="sub-(")
    with pytest.raises(DataFormatError, match=r"\('emo'\) is not a number"):
        _load(folder, subject_from=r"sub-(?P<subject>\d+).*task-(?P<session>[a-z]+)")
