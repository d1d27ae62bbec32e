"""SEED ``Preprocessed_EEG/``: ``<subject>_<yyyymmdd>.mat`` (15 trials, 62 x samples at 200 Hz)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import scipy.io

from .recording import DataFormatError, Recording, Trial

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
_TRIAL_KEY = re.compile(r"^.+_eeg(\d+)$")


def source_files(path: str | Path) -> list[Path]:
    """The subject-session files of a ``Preprocessed_EEG`` folder (``label.mat`` beside them)."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{path}: no such file or folder (expected SEED's "
                              "Preprocessed_EEG/ folder)")
    folder = path.parent if path.is_file() else path
    if path.is_file() and not _NAME.match(path.name):
        raise DataFormatError(f"{path}: not a SEED subject file (<subject>_<yyyymmdd>.mat); "
                              "expected SEED's Preprocessed_EEG/ folder or one of its files")
    files = [path] if path.is_file() else sorted(
        (p for p in folder.iterdir() if _NAME.match(p.name)),
        key=lambda p: (int(_NAME.match(p.name).group(1)), p.name),
    )
    if not files:
        found = ", ".join(sorted(p.name for p in folder.iterdir())[:8]) or "nothing"
        raise DataFormatError(f"{folder}: no SEED files named <subject>_<yyyymmdd>.mat here; "
                              f"found {found}")
    if not (folder / "label.mat").exists():
        raise DataFormatError(f"{folder}: label.mat is missing; SEED's labels live there")
    return files


def key_files(file: Path) -> list[Path]:
    return [file, file.parent / "label.mat"]


def _loadmat(file: Path) -> dict:
    try:
        return scipy.io.loadmat(file)
    except NotImplementedError as err:
        raise DataFormatError(f"{file}: MATLAB v7.3 files are not SEED's format ({err})") from err
    except (OSError, ValueError, TypeError, IndexError, MemoryError, EOFError,
            scipy.io.matlab.MatReadError) as err:
        raise DataFormatError(f"{file}: not a readable MATLAB file (truncated or corrupt? "
                              f"{type(err).__name__}: {err})") from err


def read_labels(folder: Path) -> np.ndarray:
    mat = _loadmat(folder / "label.mat")
    if "label" not in mat:
        raise DataFormatError(f"{folder / 'label.mat'}: no 'label' variable")
    return np.asarray(mat["label"]).ravel().astype(int)


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
        found = [k for k in mat if not k.startswith("__")]
        raise DataFormatError(f"{file}: no SEED trial variables named <prefix>_eeg1 ... "
                              f"<prefix>_eeg15; found {', '.join(found[:8]) or 'none'}")
    if len(keys) > len(labels):
        raise DataFormatError(f"{file}: {len(keys)} trials but label.mat has {len(labels)} labels")
    m = _NAME.match(file.name)
    subject = f"{int(m.group(1)):02d}" if m else file.stem
    trials = []
    for key in keys:
        t = int(_TRIAL_KEY.match(key).group(1))
        sig = np.asarray(mat[key], dtype=np.float64)
        if sig.ndim != 2 or sig.shape[0] != len(CHANNELS):
            raise DataFormatError(f"{file}: {key} should be {len(CHANNELS)} channels x samples; "
                                  f"found shape {sig.shape}")
        trials.append(Trial(subject=subject, session=session_of(file), trial=t, signal=sig,
                            ratings={"emotion": float(labels[t - 1])}))
    return Recording(DATASET, str(file), list(CHANNELS), SFREQ, trials)
