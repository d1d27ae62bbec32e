"""Trials from a recording's markers: its annotations, else its stim-channel events.

An annotation lasting at least one window is a *span*: its trial is that span. A shorter one (a
*point marker*: BrainVision's stimulus markers, EDF+ TAL events, EEGLAB events) and a
stim-channel event start a trial that runs to the next trial's onset (the next point marker or
span used), or to the recording's end; with ``epoch`` seconds it runs that long after its
marker instead (never past the end). Stim events are used only when the annotations start no
trial (a FIF file often carries the same events in both). The description (or event code)
is the trial's label, the ``annotation`` column.

Never trials, and never the end of one: bad spans (``BAD_...``, MNE's ``EDGE ...``),
BrainVision's ``New Segment`` and ``SyncStatus`` markers and EEGLAB's ``boundary``.

A marker filter (``markers``) is a comma-separated list of descriptions or glob patterns
(``*``, ``?``, ``[...]``), matched ignoring case and runs of spaces, against the whole
description or the part after its type (``Stimulus/S  1`` is matched by ``S 1`` and
``Stimulus/S*``); event codes are matched as numbers written out (``1``, ``2*``). A marker it
leaves out neither starts nor ends a trial. Trials shorter than a window are left out, and a
note counts them.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from pathlib import Path

import numpy as np

from .recording import DataFormatError, Trial

# descriptions that mark the recording, not a trial (matched as the filter matches)
NOT_TRIALS = ("bad*", "edge*", "new segment*", "syncstatus*", "boundary")
MAX_EPOCH = 3600.0  # seconds; a trial longer than an hour is not an epoch


def parse_filter(text: str | None) -> tuple[str, ...]:
    """The patterns of a marker filter, ``"Stimulus/S  1, Stimulus/S  2"`` or ``"S*"``
    (empty or None: no filter)."""
    if text is None:
        return ()
    if not isinstance(text, str):
        raise ValueError(f"the marker filter must be text such as 'Stimulus/S  1,S  2' or "
                         f"'S*'; got {type(text).__name__}")
    return tuple(p for p in (_plain(part) for part in text.split(",")) if p)


def check_epoch(epoch: float | None) -> None:
    """An epoch is a number of seconds, above 0 and at most :data:`MAX_EPOCH`."""
    if epoch is None:
        return
    if not isinstance(epoch, (int, float)) or not np.isfinite(epoch) or not 0 < epoch <= MAX_EPOCH:
        raise ValueError(f"the epoch (trial length after each marker) must be a number of "
                         f"seconds above 0 and at most {MAX_EPOCH:g}; got {epoch!r}")


def matches(patterns: tuple[str, ...], description: str) -> bool:
    """Whether a marker's description is matched by one of ``patterns`` (see the module)."""
    text = _plain(description)
    names = [text] + ([text.split("/", 1)[1].strip()] if "/" in text else [])
    return any(fnmatch.fnmatchcase(name, p) for p in patterns for name in names)


def marker_trials(file: Path, raw, data: np.ndarray, events, events_sfreq: float,
                  window: int, epoch: float | None = None,
                  markers: str | None = None) -> tuple[list[Trial], list[str]]:
    """The trials ``data`` (channels x samples of ``raw``, at ``raw``'s rate) holds by its
    markers, and notes on what was used and left out; no trials when it has no markers.

    ``events``: stim events (sample at ``events_sfreq``, from the data's first sample; code),
    or None. A filter that matches no marker is an error listing the markers there are."""
    check_epoch(epoch)
    patterns = parse_filter(markers)
    fs, n = raw.info["sfreq"], data.shape[1]
    found = []  # (onset, samples or None for a point, description)
    for ann in raw.annotations:
        desc = str(ann["description"])
        onset = int(round((ann["onset"] - raw.first_time) * fs))
        length = int(round(ann["duration"] * fs))
        found.append((onset, length if length >= window else None, desc))
    found = [m for m in found if 0 <= m[0] < n]
    skipped = Counter(d for _, _, d in found if matches(NOT_TRIALS, d))
    usable = [m for m in found if not matches(NOT_TRIALS, m[2])]
    codes = []
    if events is not None and len(events):
        onsets = np.round(np.asarray(events[:, 0]) * fs / events_sfreq).astype(int)
        codes = [(int(o), None, str(int(c))) for o, c in zip(onsets, events[:, 2]) if 0 <= o < n]
    chosen = [m for m in usable if not patterns or matches(patterns, m[2])]
    kind = "annotations"
    if not chosen:
        chosen = [m for m in codes if not patterns or matches(patterns, m[2])]
        kind = "stim events"
    if patterns and not chosen:
        raise DataFormatError(_no_match(file, markers, usable, skipped, codes))
    if not chosen:
        return [], ([f"{file.name}: no markers, so the epoch of {epoch:g} s is not used; the "
                     "whole recording is one unlabelled trial"] if epoch else [])
    left_out = Counter(d for _, _, d in (usable if kind == "annotations" else codes)
                       if patterns and not matches(patterns, d))
    chosen.sort(key=lambda m: m[0])
    starts = np.array([m[0] for m in chosen])
    trials, short = [], Counter()
    for onset, length, desc in chosen:
        if length is not None:  # a span keeps its own
            end = min(n, onset + length)
        elif epoch:
            end = min(n, onset + int(round(epoch * fs)))
        else:  # to the next trial's onset
            later = starts[starts > onset]
            end = int(later[0]) if len(later) else n
        if end - onset < window:
            short[desc] += 1
            continue
        trials.append(Trial(subject="", session=1, trial=len(trials) + 1,
                            signal=data[:, onset:end], offset=onset,
                            ratings={"annotation": label(desc)}))
    how = _how(chosen, epoch)
    if not trials:
        plural = "s" if len(chosen) != 1 else ""
        message = (f"{file}: no trial of at least one window ({window} samples, "
                   f"{window / fs:g} s) from its {len(chosen)} marker{plural} ({kind}, {how})")
        if patterns or epoch:
            raise DataFormatError(f"{message}. Give a longer epoch (--epoch SECONDS, at least "
                                  f"{window / fs:g}), or choose other markers.")
        return [], [f"{message}, so the whole recording is one unlabelled trial; --epoch "
                    "SECONDS gives each marker a trial of that length"]
    if not (short or left_out or skipped) and all(m[1] is not None for m in chosen):
        # spans as annotated, nothing left out: as expected, nothing to say, but that an
        # epoch asked for was not used
        return trials, ([f"{file.name}: every marker is an annotation lasting a window or "
                         f"more, so each of the {len(trials)} trials keeps its annotation's "
                         f"span; the trial length of {epoch:g} s is for point markers and is "
                         "not used"] if epoch else [])
    used = Counter(t.ratings["annotation"] for t in trials)
    note = f"{file.name}: {len(trials)} trials from {kind} ({how}): {_counts(used)}"
    if short:
        note += (f"; left out {sum(short.values())} shorter than a window "
                 f"({window / fs:g} s): {_counts(short)}")
    if left_out:
        note += f"; not chosen by the marker filter: {_counts(left_out)}"
    if skipped:
        note += f"; not trials: {_counts(skipped)}"
    return trials, [note]


def label(description: str) -> str:
    """A trial's label from its marker's description: as written, except that BrainVision's
    comment markers lose the type MNE puts before them (``Comment/happy`` is ``happy``, as the
    same recording exported to EDF or FIF says). Stimulus and response markers keep theirs:
    ``Stimulus/S  1`` and ``Response/R  1`` are different events."""
    return description[len("Comment/"):] if description.startswith("Comment/") else description


def _how(chosen, epoch) -> str:
    points = (f"{epoch:g} s from its marker" if epoch else "to the next marker")
    kinds = {m[1] is None for m in chosen}
    return ("each " + points if kinds == {True} else "each its annotation's span"
            if kinds == {False} else "spans as annotated, point markers " + points)


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().lower()


def _counts(counter: Counter, most: int = 8) -> str:
    items = [f"{d} ({c})" if c > 1 else d for d, c in counter.most_common(most)]
    more = len(counter) - most
    return ", ".join(items) + (f", ... ({more} more kinds)" if more > 0 else "")


def _no_match(file, markers, usable, skipped, codes) -> str:
    present = []
    if usable:
        present.append(f"annotations {_counts(Counter(d for _, _, d in usable), 20)}")
    if codes:
        present.append(f"stim event codes {_counts(Counter(d for _, _, d in codes), 20)}")
    if skipped:
        present.append(f"and, never trials, {_counts(skipped, 20)}")
    there = ("its markers are " + "; ".join(present)) if present else "it has no markers"
    return (f"{file}: no marker matches the marker filter {markers!r} (descriptions or "
            f"patterns such as S*, separated by commas); {there}. Choose from those, or leave "
            "the filter out to use every marker.")
