"""Subject and session of a recording from its file name.

By default a recording is its own subject, named by the file's stem (``rec.edf``: ``rec``). A
pattern (a Python regular expression, searched in the file's name) names them instead: its
group ``subject`` (else its first group, else the whole match) is the subject, and a group
``session``, when there is one, the session (a number):
``sub-(?P<subject>[^_]+)_ses-(?P<session>\\d+)`` gives ``sub-01_ses-2_eeg.vhdr`` subject
``01``, session 2.
"""

from __future__ import annotations

import re
from pathlib import Path

from .recording import DataFormatError

MAX_PATTERN = 500  # characters


def compile_pattern(pattern: str | None) -> re.Pattern | None:
    """The subject pattern, checked: a ValueError says what is wrong with it."""
    if pattern is None or pattern == "":
        return None
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        raise ValueError(f"the subject pattern must be a regular expression of at most "
                         f"{MAX_PATTERN} characters; got {str(pattern)[:60]!r}")
    try:
        return re.compile(pattern)
    except re.error as err:
        raise ValueError(f"the subject pattern '{pattern}' is not a regular expression "
                         f"({err}); e.g. 'sub-(?P<subject>[^_]+)(_ses-(?P<session>\\d+))?'"
                         ) from None


def subject_of(file: Path, pattern: str | None) -> tuple[str, int]:
    """(subject, session) of ``file``: its stem and 1, or what ``pattern`` finds in its name."""
    file = Path(file)
    rx = compile_pattern(pattern)
    if rx is None:
        return file.stem, 1
    found = rx.search(file.name)
    if found is None:
        raise DataFormatError(f"{file}: the subject pattern '{pattern}' does not match this "
                              f"file's name ({file.name}). Change the pattern so that it "
                              "matches every file's name, or leave it out to take each file "
                              "as its own subject.")
    groups = found.groupdict()
    subject = groups.get("subject") if "subject" in groups else (
        found.group(1) if rx.groups else found.group(0))
    if not subject:
        raise DataFormatError(f"{file}: the subject pattern '{pattern}' matches "
                              f"{found.group(0)!r} in the name, but its subject group is "
                              "empty; make the group match the subject's label")
    session = groups.get("session")
    if session is None:
        return subject, 1
    if not session.isdigit():
        raise DataFormatError(f"{file}: the session the subject pattern finds ({session!r}) "
                              "is not a number; sessions are numbered (ses-1, ses-2). Match "
                              "only digits in the session group, or leave that group out.")
    return subject, int(session)
