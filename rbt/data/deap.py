"""DEAP ``data_preprocessed_python/sNN.dat``: 40 trials x 40 channels x 8064 samples at 128 Hz."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..safeio import read_content as read_content_of
from ..safeio import require_regular_file
from .recording import DataFormatError, Recording, Trial
from .safe_pickle import NotAnArrayDictError, UnsafePickleError, load_arrays

DATASET = "deap"
SFREQ = 128.0
BASELINE_SAMPLES = 384  # the first 3 s of each trial are pre-stimulus
N_CHANNELS = 40  # 32 EEG + 8 peripheral
EEG_CHANNELS = [
    "Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1",
    "Oz", "Pz", "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2",
    "P4", "P8", "PO4", "O2",
]
RATINGS = ("valence", "arousal", "dominance", "liking")
_NAME = re.compile(r"^s\d{1,9}\.dat$", re.IGNORECASE)
# DEAP's files are about 100 MB each; a pickle is read whole, so anything much larger is refused
# before it is read (1 GiB leaves room for ten times DEAP's samples per trial).
MAX_FILE_BYTES = 1024**3
_EXPECTED = "a DEAP sNN.dat file"


def source_files(path: str | Path) -> list[Path]:
    """The ``sNN.dat`` files of a DEAP folder, or the single file given.

    Two files of one subject (``s1.dat`` and ``s01.dat``) are refused: they would merge."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{path}: no such file or folder (expected DEAP's "
                              "data_preprocessed_python/ folder or one of its sNN.dat files)")
    if not path.is_dir():
        require_regular_file(path, DataFormatError, _EXPECTED)  # a FIFO or device: refused
        return [path]
    files = sorted((p for p in path.iterdir() if _NAME.match(p.name)),
                   key=lambda p: (int(p.stem[1:]), p.name))
    if not files:
        # a count, not the names: a typed path must not list a folder's contents
        found = f"{sum(1 for _ in path.iterdir())} other entries"
        raise DataFormatError(f"{path}: no DEAP files named sNN.dat (s01.dat ... s32.dat) "
                              f"here; found {found}")
    for a, b in zip(files, files[1:]):
        if subject_id(a) == subject_id(b):
            raise DataFormatError(
                f"{path}: {a.name} and {b.name} are both subject {subject_id(a)}; their trials "
                "would be merged into one subject. Keep one of them (or give one file).")
    return files


def key_files(file: Path) -> list[Path]:
    return [file]


def subject_id(file: Path) -> str:
    m = re.search(r"(\d+)", file.stem)
    return f"s{int(m.group(1)):02d}" if m and len(m.group(1)) <= 9 else file.stem


def read_content(file: Path) -> tuple[bytes, os.stat_result]:
    """The file's bytes and ``os.fstat`` from before reading them: a regular file of at most
    MAX_FILE_BYTES, read without blocking. The cache hashes these bytes for its key and
    :func:`read_file` parses them, so a file is read once."""

    class Refused(Exception):
        pass

    try:
        return read_content_of(file, MAX_FILE_BYTES, Refused, _EXPECTED)
    except Refused as err:
        reason = str(err).removeprefix(f"{file}: ")
        if not reason.startswith("cannot read"):
            reason = f"cannot read it: {reason}"
        raise DataFormatError(f"{file}: {reason}") from None


def read_file(file: Path, dataset: str = DATASET, content: bytes | None = None,
              writable: bool = True) -> Recording:
    """One subject's trials: signal from sample 384 on, baseline = the first 3 s.
    ``content``: the file's bytes, when already read (:func:`read_content`). ``writable=False``:
    the signals are read-only views of those bytes, not a copy (for features, which only
    read them)."""
    file = Path(file)
    raw = read_content(file)[0] if content is None else content
    try:
        obj = load_arrays(raw, copy=writable)
    except UnsafePickleError as err:
        raise DataFormatError(f"{file}: {err}") from None
    except NotAnArrayDictError as err:
        raise DataFormatError(f"{file}: expected a DEAP dict with 'data' and 'labels'; found "
                              f"{err.found}") from None
    except Exception as err:  # safe: the restricted unpickler has already refused any code
        raise DataFormatError(
            f"{file}: not a readable DEAP .dat pickle (truncated or corrupt? {type(err).__name__}: "
            f"{err})"
        ) from None
    del raw
    if "data" not in obj or "labels" not in obj:
        raise DataFormatError(f"{file}: expected a DEAP dict with 'data' and 'labels'; found "
                              f"dict with keys {[k[:40] for k in sorted(obj)[:6]]}")
    data, labels = np.asarray(obj["data"]), np.asarray(obj["labels"])
    if data.ndim != 3 or data.shape[1] != N_CHANNELS:
        raise DataFormatError(
            f"{file}: 'data' should be trials x {N_CHANNELS} channels x samples; found shape "
            f"{data.shape}"
        )
    if data.shape[0] == 0:
        raise DataFormatError(f"{file}: 'data' holds no trials (shape {data.shape})")
    if labels.shape != (data.shape[0], len(RATINGS)):
        raise DataFormatError(
            f"{file}: 'labels' should be {data.shape[0]} trials x {len(RATINGS)} ratings; found "
            f"shape {labels.shape}"
        )
    if data.shape[2] < BASELINE_SAMPLES + 1:
        raise DataFormatError(f"{file}: trials have {data.shape[2]} samples; DEAP trials start "
                              f"with a {BASELINE_SAMPLES}-sample baseline")
    subject = subject_id(file)
    trials = [
        Trial(
            subject=subject, session=1, trial=t + 1,
            signal=data[t, :32], baseline=data[t, :32, :BASELINE_SAMPLES],
            ratings=dict(zip(RATINGS, map(float, labels[t]))), start=BASELINE_SAMPLES,
        )
        for t in range(data.shape[0])
    ]
    return Recording(dataset, str(file), list(EEG_CHANNELS), SFREQ, trials)
