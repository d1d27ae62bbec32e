"""Uploaded recordings kept for one session (app/uploads.py): where the files land and what is
refused. The private store and its sweeps are tested in tests/test_dashboard_security.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
if str(APP) not in sys.path:  # the app's modules, as Streamlit imports them
    sys.path.insert(0, str(APP))
from uploads import save_uploads  # noqa: E402


def test_save_uploads(tmp_path):
    path = save_uploads([("rec.vhdr", b"h"), ("rec.vmrk", b"m"), ("rec.eeg", b"e")],
                        tmp_path, max_mb=200)
    assert path.name == "rec.vhdr" and (path.parent / "rec.eeg").read_bytes() == b"e"
    again = save_uploads([("rec.vhdr", b"h"), ("rec.vmrk", b"m"), ("rec.eeg", b"e")],
                         tmp_path, max_mb=200)
    assert again == path  # same content, same place: the feature cache can find it again
    with pytest.raises(ValueError, match="accepts up to 1 MB"):
        save_uploads([("big.edf", b"\0" * (2 * 1024**2))], tmp_path, max_mb=1)
    with pytest.raises(ValueError, match="expected one EEG recording"):
        save_uploads([("notes.txt", b"x")], tmp_path, max_mb=200)
    with pytest.raises(ValueError, match="not an EEG recording"):
        save_uploads([("a.edf", b"x"), ("b.csv", b"y")], tmp_path, max_mb=200)
    with pytest.raises(ValueError, match="no file"):
        save_uploads([], tmp_path, max_mb=200)
