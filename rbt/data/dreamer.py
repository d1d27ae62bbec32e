"""DREAMER ``DREAMER.mat``: 23 subjects x 18 clips, 14 channels at 128 Hz, 61-s baselines.

The file is read with :func:`rbt.data.safe_mat.loadmat` (sizes checked before inflating), and
every step down its structure checks what it finds, so a malformed file is an error naming the
file and the MATLAB path (``DREAMER.Data{2}.EEG.stimuli{3}``), never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..safeio import require_regular_file
from .recording import DataFormatError, Recording, Trial
from .safe_mat import describe, loadmat

DATASET = "dreamer"
SFREQ = 128.0
CHANNELS = ["AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8",
            "AF4"]
SCORES = {"valence": "ScoreValence", "arousal": "ScoreArousal", "dominance": "ScoreDominance"}


def source_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if path.is_dir() and (path / "DREAMER.mat").exists():
        path = path / "DREAMER.mat"
    require_regular_file(path, DataFormatError, "DREAMER.mat")
    return [path]


def key_files(file: Path) -> list[Path]:
    return [file]


# --------------------------------------------------------------------------------------------
# Checked steps through scipy's view of the MATLAB structure


class _Reader:
    def __init__(self, file: Path):
        self.file = file

    def fail(self, where: str, message: str) -> DataFormatError:
        return DataFormatError(f"{self.file}: {where} {message}")

    def struct(self, value, where: str) -> np.void:
        """The one record of a 1x1 MATLAB struct."""
        if isinstance(value, np.void) and value.dtype.names is not None:
            return value
        if isinstance(value, np.ndarray) and value.dtype.names is not None and value.size == 1:
            return value.reshape(-1)[0]
        raise self.fail(where, f"should be a 1x1 MATLAB struct; found {describe(value)}")

    def field(self, record: np.void, name: str, where: str):
        if name not in record.dtype.names:
            raise self.fail(where, f"has no field {name!r}; not a DREAMER.mat?")
        return record[name]

    def cell(self, value, where: str) -> list:
        """The elements of a MATLAB cell vector, in order."""
        if not (isinstance(value, np.ndarray) and value.dtype == object
                and value.dtype.names is None):
            raise self.fail(where, f"should be a cell array; found {describe(value)}")
        if value.ndim > 2 or min(value.shape, default=1) > 1:
            raise self.fail(where, f"should be a cell vector; found {describe(value)}")
        return list(value.reshape(-1, order="F"))

    def signal(self, value, where: str) -> np.ndarray:
        """A samples x 14 channels numeric matrix, as float64."""
        if not (isinstance(value, np.ndarray) and value.dtype.kind in "biuf"):
            raise self.fail(where, f"should be a samples x {len(CHANNELS)} channels matrix of "
                                   f"numbers; found {describe(value)}")
        if value.ndim != 2 or value.shape[1] != len(CHANNELS):
            raise self.fail(where, f"should be samples x {len(CHANNELS)} channels; found shape "
                                   f"{value.shape}")
        return np.asarray(value, dtype=np.float64)

    def scores(self, value, where: str) -> list:
        """A score vector's entries (numbers, or a cell of numbers)."""
        if isinstance(value, np.ndarray) and value.dtype.names is None and (
                value.dtype.kind in "biufUSO"):
            if value.ndim > 2 or min(value.shape, default=1) > 1:
                raise self.fail(where, f"should be a vector of ratings; found "
                                       f"{describe(value)}")
            return list(value.reshape(-1, order="F"))
        raise self.fail(where, f"should be a vector of ratings; found {describe(value)}")

    def rating(self, value, where: str) -> float:
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size == 1:
            value = value.reshape(-1)[0]
        if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
            return float(value)
        raise self.fail(where, f"should be a number; found {describe(value)}")

    def sfreq(self, root: np.void) -> float:
        for key in ("EEG_SamplingRate", "SamplingRate"):  # the released file names the former
            if key in root.dtype.names:
                where = f"DREAMER.{key}"
                value = root[key]
                if not (isinstance(value, np.ndarray) and value.dtype.kind in "biuf"
                        and value.size == 1):
                    raise self.fail(where, f"should be a number; found {describe(value)}")
                rate = float(value.reshape(-1)[0])
                if not (np.isfinite(rate) and rate > 0):
                    raise self.fail(where, f"should be a positive sampling rate; found {rate:g}")
                return rate
        return SFREQ


def read_file(file: Path) -> Recording:
    """Every subject's clips, with the separate 61-s baseline recording of each clip."""
    file = Path(file)
    mat = loadmat(file, "DREAMER")
    if "DREAMER" not in mat:
        keys = [k[:40] for k in mat if not k.startswith("__")][:8]
        raise DataFormatError(f"{file}: no 'DREAMER' variable; found {', '.join(keys) or 'none'}"
                              " - is this DREAMER.mat?")
    r = _Reader(file)
    root = r.struct(mat["DREAMER"], "DREAMER")
    sfreq = r.sfreq(root)
    subjects = r.cell(r.field(root, "Data", "DREAMER"), "DREAMER.Data")
    trials = []
    for s, value in enumerate(subjects):
        at = f"DREAMER.Data{{{s + 1}}}"
        subject = f"{s + 1:02d}"
        subj = r.struct(value, at)
        eeg = r.struct(r.field(subj, "EEG", at), f"{at}.EEG")
        stimuli = r.cell(r.field(eeg, "stimuli", f"{at}.EEG"), f"{at}.EEG.stimuli")
        baselines = r.cell(r.field(eeg, "baseline", f"{at}.EEG"), f"{at}.EEG.baseline")
        n = len(stimuli)
        if len(baselines) != n:
            raise DataFormatError(f"{file}: subject {subject} has {n} clips ({at}.EEG.stimuli) "
                                  f"but {len(baselines)} baselines ({at}.EEG.baseline)")
        scores = {}
        for key, name in SCORES.items():
            entries = r.scores(r.field(subj, name, at), f"{at}.{name}")
            if len(entries) != n:
                raise DataFormatError(f"{file}: subject {subject} has {n} clips but {at}.{name} "
                                      f"has {len(entries)} ratings")
            scores[key] = entries
        for t in range(n):
            clip = f"subject {subject} clip {t + 1}"
            sig = r.signal(stimuli[t], f"{clip} stimuli ({at}.EEG.stimuli{{{t + 1}}})")
            base = r.signal(baselines[t], f"{clip} baseline ({at}.EEG.baseline{{{t + 1}}})")
            ratings = {k: r.rating(v[t], f"{clip} rating {at}.{SCORES[k]}({t + 1})")
                       for k, v in scores.items()}
            trials.append(Trial(subject=subject, session=1, trial=t + 1, signal=sig.T,
                                baseline=base.T, ratings=ratings))
    if not trials:
        raise DataFormatError(f"{file}: DREAMER.mat holds no subjects")
    return Recording(DATASET, str(file), list(CHANNELS), sfreq, trials)
