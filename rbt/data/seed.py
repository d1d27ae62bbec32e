"""SEED ``Preprocessed_EEG/``: ``<subject>_<yyyymmdd>.mat`` (15 trials, 62 x samples at 200 Hz)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..safeio import require_regular_file
from .recording import DataFormatError, Recording, Trial
from .safe_mat import describe, loadmat

DATASET = "seed"
SFREQ = 200.0
REFERENCE_FILTER_SFREQ = 128.0  # the reference designed its filters for 128 Hz
CHANNELS = [
    "FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8",
    "FT7", "FC5", "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ",
    "C2", "C4", "C6", "T8", "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "P7",
    "P5", "P3", "P1", "PZ", "P2", "P4", "P6", "P8", "PO7", "PO5", "PO3", "POZ", "PO4", "PO6",
    "PO8", "CB1", "O1", "OZ", "O2", "CB2",
]
_NAME = re.compile(r"^(\d+)_(\d{8})\.mat$")
_TRIAL_KEY = re.compile(r"^.+_eeg(\d{1,9})$")
_LABELS = (-1, 0, 1)  # negative, neutral, positive


def source_files(path: str | Path) -> list[Path]:
    """The subject-session files of a ``Preprocessed_EEG`` folder (``label.mat`` beside them)."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{path}: no such file or folder (expected SEED's "
                              "Preprocessed_EEG/ folder)")
    if not path.is_dir():
        require_regular_file(path, DataFormatError, "a SEED subject file or folder")
    folder = path.parent if path.is_file() else path
    if path.is_file() and not _NAME.match(path.name):
        raise DataFormatError(f"{path}: not a SEED subject file (<subject>_<yyyymmdd>.mat); "
                              "expected SEED's Preprocessed_EEG/ folder or one of its files")
    files = [path] if path.is_file() else sorted(
        (p for p in folder.iterdir() if _NAME.match(p.name)),
        key=lambda p: (int(_NAME.match(p.name).group(1)), p.name),
    )
    if not files:
        # a count, not the names: a typed path must not list a folder's contents
        found = f"{sum(1 for _ in folder.iterdir())} other entries"
        raise DataFormatError(f"{folder}: no SEED files named <subject>_<yyyymmdd>.mat here; "
                              f"found {found}")
    if not (folder / "label.mat").exists():
        raise DataFormatError(f"{folder}: label.mat is missing; SEED's labels live there")
    return files


def key_files(file: Path) -> list[Path]:
    return [file, file.parent / "label.mat"]


def _loadmat(file: Path) -> dict:
    return loadmat(file, "SEED")


def read_labels(folder: Path) -> np.ndarray:
    """SEED's 15 labels, each -1, 0 or 1 (anything else is an error naming its position)."""
    file = folder / "label.mat"
    mat = _loadmat(file)
    if "label" not in mat:
        raise DataFormatError(f"{file}: no 'label' variable")
    label = mat["label"]
    if not (isinstance(label, np.ndarray) and label.dtype.kind in "biuf") or label.ndim > 2 \
            or label.size == 0 or min(label.shape) > 1:
        raise DataFormatError(f"{file}: 'label' should be a vector of numbers -1, 0 or 1; found "
                              f"{describe(label)}")
    values = label.reshape(-1, order="F")
    for i, v in enumerate(values.tolist()):
        if v not in _LABELS:  # also NaN, inf and fractions
            raise DataFormatError(f"{file}: label {i + 1} is {v!r}; SEED's labels are -1 "
                                  "(negative), 0 (neutral) or 1 (positive)")
    return values.astype(int)


def session_of(file: Path) -> int:
    """1, 2 or 3: the rank of this file's date among the subject's files."""
    m = _NAME.match(file.name)
    if not m:
        return 1
    dates = sorted(p.name for p in file.parent.iterdir()
                   if (q := _NAME.match(p.name)) and q.group(1) == m.group(1))
    return dates.index(file.name) + 1


def read_file(file: Path) -> Recording:
    """One subject-session: 15 trials with no baseline, labels from ``label.mat``."""
    file = Path(file)
    labels = read_labels(file.parent)
    mat = _loadmat(file)
    keys = sorted((k for k in mat if _TRIAL_KEY.match(k)),
                  key=lambda k: int(_TRIAL_KEY.match(k).group(1)))
    if not keys:
        found = [k[:40] for k in mat if not k.startswith("__")]
        raise DataFormatError(f"{file}: no SEED trial variables named <prefix>_eeg1 ... "
                              f"<prefix>_eeg15; found {', '.join(found[:8]) or 'none'}")
    if len(keys) > len(labels):
        raise DataFormatError(f"{file}: {len(keys)} trials but label.mat has {len(labels)} labels")
    m = _NAME.match(file.name)
    subject = f"{int(m.group(1)):02d}" if m else file.stem
    trials, seen = [], {}
    for key in keys:
        t = int(_TRIAL_KEY.match(key).group(1))
        if not 1 <= t <= len(labels):
            raise DataFormatError(f"{file}: {key[:60]} is trial {t}, but label.mat labels trials "
                                  f"1 to {len(labels)} only")
        if t in seen:
            raise DataFormatError(f"{file}: {seen[t][:60]} and {key[:60]} are both trial {t}")
        seen[t] = key
        value = mat[key]
        if not (isinstance(value, np.ndarray) and value.dtype.kind in "biuf"):
            raise DataFormatError(f"{file}: {key[:60]} should be a {len(CHANNELS)} channels x "
                                  f"samples matrix of numbers; found {describe(value)}")
        if value.ndim != 2 or value.shape[0] != len(CHANNELS):
            raise DataFormatError(f"{file}: {key[:60]} should be {len(CHANNELS)} channels x "
                                  f"samples; found shape {value.shape}")
        trials.append(Trial(subject=subject, session=session_of(file), trial=t,
                            signal=np.asarray(value, dtype=np.float64),
                            ratings={"emotion": float(labels[t - 1])}))
    return Recording(DATASET, str(file), list(CHANNELS), SFREQ, trials)
