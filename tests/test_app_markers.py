"""The dashboard on a recording's path whose trials come from point markers (BrainVision at
1000 Hz, as tests/test_formats_end_to_end.py writes it): its trials, the sidebar's marker
filter and epoch, and a filter that matches nothing (AppTest, the shipped checkpoint)."""

from __future__ import annotations

import pytest
from test_app import TRIAL, _errors, app, assert_fine, demo_cache  # noqa: F401
from test_formats_end_to_end import _brainvision_1000hz


def test_dashboard_reads_point_markers_of_a_recording_path(tmp_path):
    path, _, _ = _brainvision_1000hz(tmp_path / "data")
    at = app(TRIAL)
    at.selectbox(key="source").set_value("raw").run()
    at.radio(key="raw_how").set_value("Path on this machine").run()
    at.text_input(key="path_raw").input(str(path)).run()
    assert_fine(at)
    assert at.selectbox(key="sel_subject").value == "sub-07_task-film_eeg"
    # S 1 to the response (4.5 s: one window), the response to S 2 (3.5 s: too short), S 2, S 1
    assert len(at.selectbox(key="sel_trial").options) == 3
    assert at.slider(key="sel_window").proto.disabled  # trial 1 has one window
    at.text_input(key="markers").input("Stimulus/*").run()  # the response ends no trial
    assert_fine(at)
    assert len(at.selectbox(key="sel_trial").options) == 3
    assert at.slider(key="sel_window").max == 4  # trial 1 runs 2-10 s: 5 windows
    at.number_input(key="epoch").set_value(5.0).run()
    assert_fine(at)
    assert at.slider(key="sel_window").max == 1  # 5 s at 128 Hz: 2 windows
    at.text_input(key="markers").input("S 99").run()
    message = _errors(at)
    assert "no marker matches the marker filter" in message and "Stimulus/S" in message


def test_dashboard_names_subjects_and_sessions_of_a_folder_from_its_file_names(tmp_path):
    import formats as F
    from test_formats_end_to_end import ELECTRODES

    pytest.importorskip("pybv")
    folder = tmp_path / "study"
    for i, name in enumerate(["sub-01_ses-1_eeg", "sub-01_ses-2_eeg", "sub-02_ses-1_eeg"]):
        F.write_brainvision(folder, name, F.make_raw(ELECTRODES, seconds=12.0, seed=i),
                            [(256, "Stimulus", 1)])
    at = app(TRIAL)
    at.selectbox(key="source").set_value("raw").run()
    at.radio(key="raw_how").set_value("Path on this machine").run()
    at.text_input(key="path_raw").input(str(folder)).run()
    assert_fine(at)
    assert at.selectbox(key="sel_subject").options == [
        "sub-01_ses-1_eeg", "sub-01_ses-2_eeg", "sub-02_ses-1_eeg"]
    at.text_input(key="subject_from").input(
        r"sub-(?P<subject>[^_]+)_ses-(?P<session>\d+)").run()
    assert_fine(at)
    assert at.selectbox(key="sel_subject").options == ["01", "02"]
    at.selectbox(key="sel_subject").set_value("01").run()
    assert at.selectbox(key="sel_trial").options == ["session 1, trial 1", "session 2, trial 1"]
    at.text_input(key="subject_from").input(r"subj(\d+)").run()
    assert "does not match this file's name" in _errors(at)
