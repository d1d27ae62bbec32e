"""DREAMER ``DREAMER.mat``: 23 subjects x 18 clips, 14 channels at 128 Hz, 61-s baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from .recording import DataFormatError, Recording, Trial

DATASET = "dreamer"
SFREQ = 128.0
CHANNELS = ["AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8",
            "AF4"]
SCORES = {"valence": "ScoreValence", "arousal": "ScoreArousal", "dominance": "ScoreDominance"}


def source_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if path.is_dir() and (path / "DREAMER.mat").exists():
        path = path / "DREAMER.mat"
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file (expected DREAMER.mat)")
    return [path]


def key_files(file: Path) -> list[Path]:
    return [file]


def _field(struct, name: str, file: Path, where: str):
    try:
        return struct[name]
    except (ValueError, KeyError, IndexError) as err:
        raise DataFormatError(f"{file}: missing field {name!r} at {where}; not a DREAMER.mat?"
                              ) from err


def read_file(file: Path) -> Recording:
    """Every subject's clips, with the separate 61-s baseline recording of each clip."""
    file = Path(file)
    try:
        mat = scipy.io.loadmat(file)
    except NotImplementedError as err:  # MATLAB v7.3 (HDF5)
        raise DataFormatError(f"{file}: MATLAB v7.3 files are not DREAMER's format ({err})"
                              ) from err
    except (OSError, ValueError, TypeError, IndexError, MemoryError, EOFError,
            scipy.io.matlab.MatReadError) as err:
        raise DataFormatError(f"{file}: not a readable MATLAB file (truncated or corrupt? "
                              f"{type(err).__name__}: {err})") from err
    if "DREAMER" not in mat:
        keys = [k for k in mat if not k.startswith("__")]
        raise DataFormatError(f"{file}: no 'DREAMER' variable; found {', '.join(keys) or 'none'}"
                              " - is this DREAMER.mat?")
    root = mat["DREAMER"][0, 0]
    data = _field(root, "Data", file, "DREAMER")
    sfreq = SFREQ
    for key in ("EEG_SamplingRate", "SamplingRate"):  # the released file names the former
        try:
            sfreq = float(np.squeeze(root[key]))
            break
        except (ValueError, KeyError, TypeError, IndexError):
            continue
    trials = []
    for s in range(data.shape[1]):
        subj = data[0, s]
        eeg = _field(subj, "EEG", file, f"Data[{s}]")[0, 0]
        stimuli = _field(eeg, "stimuli", file, f"Data[{s}].EEG")[0, 0]
        baselines = _field(eeg, "baseline", file, f"Data[{s}].EEG")[0, 0]
        scores = {k: _field(subj, v, file, f"Data[{s}]")[0, 0] for k, v in SCORES.items()}
        for t in range(stimuli.shape[0]):
            sig = np.asarray(stimuli[t, 0], dtype=np.float64)
            base = np.asarray(baselines[t, 0], dtype=np.float64)
            for part, arr in (("stimuli", sig), ("baseline", base)):
                if arr.ndim != 2 or arr.shape[1] != len(CHANNELS):
                    raise DataFormatError(
                        f"{file}: subject {s + 1} clip {t + 1} {part} should be samples x "
                        f"{len(CHANNELS)} channels; found shape {arr.shape}"
                    )
            trials.append(Trial(
                subject=f"{s + 1:02d}", session=1, trial=t + 1, signal=sig.T, baseline=base.T,
                ratings={k: float(np.squeeze(v[t, 0])) for k, v in scores.items()},
            ))
    if not trials:
        raise DataFormatError(f"{file}: DREAMER.mat holds no subjects")
    return Recording(DATASET, str(file), list(CHANNELS), sfreq, trials)
