"""The dashboard on a recording's path whose trials come from point markers (BrainVision at
1000 Hz, as tests/test_formats_end_to_end.py writes it): its trials, the sidebar's marker
filter and epoch, and a filter that matches nothing (AppTest, the shipped checkpoint)."""

from __future__ import annotations

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
