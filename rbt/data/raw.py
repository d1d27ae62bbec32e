"""Any EEG recording MNE reads (EDF, BDF, FIF, BrainVision, EEGLAB, ...).

Trials come from annotations with a duration of at least one window, else from stim-channel
events (each runs to the next event), else the whole recording is one unlabelled trial cut into
fixed windows. The description (or event id) becomes the ``annotation`` column, which is the
class when training on such files.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from pathlib import Path

import mne
import numpy as np

from ..montage import UnknownChannelsError, canonical_name
from ..safeio import is_inside, read_bytes, require_regular_file
from . import safe_mat
from .features import DEFAULT_WINDOW, MAX_SFREQ  # one bound for every reader
from .recording import DataFormatError, Recording, Trial

DATASET = "raw"
DEFAULT_SFREQ = 128.0  # the rate the published filters and 512-sample windows were made for
MIN_SFREQ = 100.0  # the bands reach 49 Hz

# EEG and stim channels x samples read or resampled: 2 GiB of float64, e.g. 64 channels at
# 1 kHz for 70 minutes
MAX_SAMPLES = 1 << 28
MIN_GZIP_BUDGET, GZIP_FACTOR = 1024**3, 20  # FIF compresses EEG about 1.5-3x
MAX_OVERLAP = 8  # trials from overlapping markers may cover the recording this many times
SUFFIXES = (".edf", ".bdf", ".fif", ".fif.gz", ".vhdr", ".set", ".gdf", ".cnt", ".mff")


def source_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{path}: no such file or folder (expected an EEG recording that "
                              f"MNE reads: {', '.join(SUFFIXES)})")
    if path.name.lower().endswith(".mff") and path.is_dir():  # EGI's recordings are folders
        return [path]
    if not path.is_dir():
        require_regular_file(path, DataFormatError, "an EEG recording or a folder of them")
        return [path]
    files = sorted(p for p in path.iterdir()
                   if p.name.lower().endswith(SUFFIXES) and (p.is_file() or p.is_dir()))
    if not files:
        raise DataFormatError(f"{path}: no EEG recordings ({', '.join(SUFFIXES)}) in this folder")
    return files


def key_files(file: Path) -> list[Path]:
    file = Path(file)
    side = {".vhdr": (".eeg", ".vmrk"), ".set": (".fdt",)}.get(file.suffix.lower(), ())
    return [file] + [p for s in side if (p := file.with_suffix(s)).exists()]


def read_file(
    file: Path,
    sfreq: float | None = DEFAULT_SFREQ,
    window: int = DEFAULT_WINDOW,
    channel_map: dict[str, str] | None = None,
    drop_unknown: bool = False,
) -> Recording:
    """Read, keep EEG channels, resample to ``sfreq`` (None keeps the file's rate), cut trials."""
    file = Path(file)
    if sfreq is not None and not MIN_SFREQ <= sfreq <= MAX_SFREQ:
        raise ValueError(f"the resampling rate must be from {MIN_SFREQ:g} Hz (above twice the "
                         f"gamma band's 49 Hz) to {MAX_SFREQ:g} Hz; got {sfreq:g} Hz")
    raw = open_recording(file)
    if channel_map:
        raw.rename_channels({k: v for k, v in channel_map.items() if k in raw.ch_names})
    if not any(t in ("eeg", "stim") for t in raw.get_channel_types()):
        raise DataFormatError(f"{file}: no EEG channels")
    raw.pick(["eeg", "stim"], exclude="bads")  # before reading: other channels cost nothing
    _check_size(file, len(raw.ch_names) * raw.n_times, "holds")
    with _strict_mne(file):
        raw.load_data(verbose="warning")
    events = _stim_events(raw)
    raw.pick("eeg", exclude="bads")
    if not raw.ch_names:
        raise DataFormatError(f"{file}: no EEG channels")
    unknown = [n for n in raw.ch_names if canonical_name(n) is None]
    if unknown and drop_unknown and len(unknown) == len(raw.ch_names):
        shown = ", ".join(unknown[:6]) + (", ..." if len(unknown) > 6 else "")
        raise DataFormatError(
            f"{file}: none of its {len(unknown)} EEG channels ({shown}) is a 10-05 electrode "
            "name, so dropping the unknown ones leaves nothing. Rename them with a channel map "
            f'(--channel-map map.json, e.g. {{"{unknown[0]}": "Fp1"}}, with the real '
            "electrode of each channel).")
    if unknown and drop_unknown:
        raw.drop_channels(unknown)
    elif unknown:
        raise UnknownChannelsError(unknown, str(file))
    orig_sfreq = raw.info["sfreq"]
    if sfreq and abs(orig_sfreq - sfreq) > 1e-9:
        _check_size(file, len(raw.ch_names) * raw.n_times * sfreq / orig_sfreq,
                    f"would hold at {sfreq:g} Hz (recorded at {orig_sfreq:g} Hz)")
        raw.resample(sfreq, verbose="error")
    fs = raw.info["sfreq"]
    data = raw.get_data()
    trials = _annotation_trials(raw, data, window, fs)
    if not trials and events is not None and len(events):
        trials = _event_trials(events, data, orig_sfreq, fs, window)
    if not trials:
        trials = [Trial(subject=file.stem, session=1, trial=1, signal=data)]
    covered = sum(t.signal.shape[1] for t in trials)
    if covered > MAX_OVERLAP * data.shape[1]:
        raise DataFormatError(
            f"{file}: its {len(trials)} marked trials cover the recording "
            f"{covered / data.shape[1]:.0f} times over (at most {MAX_OVERLAP} is accepted); "
            "are the annotations duplicated?")
    for t in trials:
        t.subject = file.stem
    return Recording(DATASET, str(file), list(raw.ch_names), fs, trials)


def open_recording(file: Path, all_companions: bool = False):
    """MNE's reader, made strict, without reading the samples (``preload=False``).

    Companion files must lie beside the recording (a header may not point elsewhere), the
    size must be within :data:`MAX_SAMPLES`, and a truncated file or a channel without a scale
    is an error. Returns the raw object (``raw.load_data()`` reads its samples).
    ``all_companions``: every file a header names must be there (for uploads, which come
    with their companions), instead of leaving a missing one to MNE's fallbacks."""
    file = Path(file)
    if not (file.suffix.lower() == ".mff" and file.is_dir()):
        require_regular_file(file, DataFormatError, "an EEG recording")
    folder = Path(os.path.realpath(file)).parent
    if file.suffix.lower() == ".vhdr":
        _check_brainvision_header(file, folder, all_companions)
    if file.suffix.lower() == ".set":  # a MATLAB file: MNE's scipy read would inflate bombs
        safe_mat.loadmat(file, "EEGLAB")
    if file.name.lower().endswith(".gz"):
        _check_gzip(file)
    with _strict_mne(file):
        raw = mne.io.read_raw(file, preload=False, verbose="warning")
    for name in raw.filenames:  # what MNE will read the samples from
        if name is not None:
            _check_companion(file, folder, Path(name))
    if file.suffix.lower() in (".edf", ".bdf"):
        _check_edf_records(file, raw)
    return raw


@contextlib.contextmanager
def _strict_mne(file: Path):
    """MNE's errors as DataFormatError, and the warnings that mean a broken file as errors."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    except DataFormatError:
        raise
    except Exception as err:  # MNE raises many types for bad files
        message = " ".join(str(err).split())
        raise DataFormatError(f"{file}: MNE cannot read this file ({type(err).__name__}: "
                              f"{message})") from err
    for warning in caught:
        text = " ".join(str(warning.message).split())
        if "Scaling factor will not be defined" in text:
            chans = text.split(":", 1)[-1].strip()
            raise DataFormatError(f"{file}: channel(s) {chans} have equal digital minimum and "
                                  "maximum in the header, so their samples cannot be scaled "
                                  "to volts. Fix the header or leave those channels out.")


def _check_edf_records(file: Path, raw) -> None:
    """A file holding fewer data records than its header declares was cut short; MNE would
    read what is there and say nothing. (-1, "not known", is allowed, as MNE allows it.)"""
    with open(file, "rb") as fh:  # a regular file: checked by open_recording
        header = fh.read(256)
    try:
        declared, duration = int(header[236:244]), float(header[244:252])
    except ValueError:
        return  # MNE has read the header; leave other oddities to it
    if declared > 0 and duration > 0 and raw.n_times < round(
            declared * duration * raw.info["sfreq"]) - 1:
        raise DataFormatError(
            f"{file}: the file is truncated: its header declares {declared} data records "
            f"({declared * duration:g} s), the file holds {raw.n_times / raw.info['sfreq']:g} s "
            "(an export that did not finish?). Export the recording again.")


def _check_gzip(file: Path) -> None:
    """Inflate a gzipped recording once, counting, before MNE does: a small file of
    compressed zeros would otherwise inflate to hundreds of gigabytes."""
    import gzip
    import zlib

    limit = max(MIN_GZIP_BUDGET, GZIP_FACTOR * file.stat().st_size)
    total = 0
    try:
        with gzip.open(file, "rb") as fh:
            while block := fh.read(1 << 22):
                total += len(block)
                if total > limit:
                    raise DataFormatError(
                        f"{file}: inflates to more than {limit / 1024**3:.1f} GiB "
                        f"({GZIP_FACTOR}x its size; a gzip bomb?); rbt does not read it")
    except (OSError, EOFError, zlib.error) as err:
        raise DataFormatError(f"{file}: not a readable gzip file ({err})") from None


def _check_size(file: Path, samples: float, how: str) -> None:
    if samples > MAX_SAMPLES:
        raise DataFormatError(
            f"{file}: it {how} {samples:.3g} samples (channels x time points), more than the "
            f"{MAX_SAMPLES:.3g} rbt reads from one recording. Cut the recording into parts, "
            "or check its header.")


class CompanionFileError(DataFormatError):
    """A recording names a data or marker file that is not a regular file beside it."""


def _check_companion(file: Path, folder: Path, companion: Path) -> None:
    real = Path(os.path.realpath(companion))
    if not is_inside(companion, folder):
        raise CompanionFileError(f"{file}: refers to a data file outside its own folder "
                                 f"({companion.name}); a recording's companion files must lie "
                                 "beside it")
    require_regular_file(real, CompanionFileError, f"a data file of {file.name}")


def _check_brainvision_header(file: Path, folder: Path, all_companions: bool) -> None:
    """BrainVision headers name their data and marker files (``DataFile=``, ``MarkerFile=``);
    only plain names of files beside the header are allowed."""
    for value in _brainvision_references(file):
        named = folder / value
        # a name of a file that is not there is MNE's to handle (it falls back to the header's
        # own name, as after a BIDS rename); what it would open must lie beside the header
        if all_companions or os.path.lexists(named) or not is_inside(named, folder):
            _check_companion(file, folder, named)


def _brainvision_references(file: Path) -> list[str]:
    """Every DataFile/MarkerFile value of a header, as MNE itself parses it (its codepage,
    ``=`` or ``:``), plus any line that merely looks like one: the union, to be strict."""
    text = read_bytes(file, 16 * 1024**2, DataFormatError, "a BrainVision header").decode(
        "latin-1")
    found = [re.split(r"[=:]", line, maxsplit=1)[1].strip() for line in text.splitlines()
             if re.match(r"\s*(datafile|markerfile)\s*[=:]", line, re.IGNORECASE)]
    try:
        from mne.io.brainvision.brainvision import _aux_hdr_info  # MNE's own header parser
    except ImportError:
        return found
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, cfg, *_ = _aux_hdr_info(file)
    except Exception:  # a header MNE cannot parse names no file MNE would open
        return found
    return found + [cfg.get(section, option).strip() for section in cfg.sections()
                    for option in cfg.options(section) if option in ("datafile", "markerfile")]


def _stim_events(raw) -> np.ndarray | None:
    if not any(t == "stim" for t in raw.get_channel_types()):
        return None
    try:
        events = mne.find_events(raw, verbose="error")
    except ValueError:
        return None
    events[:, 0] -= raw.first_samp  # to indices into the data array
    return events


def _annotation_trials(raw, data, window, fs) -> list[Trial]:
    trials = []
    for ann in raw.annotations:
        if ann["duration"] * fs < window or ann["description"].upper().startswith("BAD"):
            continue
        a = int(round((ann["onset"] - raw.first_time) * fs))
        b = min(data.shape[1], a + int(round(ann["duration"] * fs)))
        if b - a >= window:
            trials.append(Trial(subject="", session=1, trial=len(trials) + 1,
                                signal=data[:, a:b], offset=a,
                                ratings={"annotation": str(ann["description"])}))
    return trials


def _event_trials(events, data, orig_sfreq, fs, window) -> list[Trial]:
    onsets = np.round(events[:, 0] * fs / orig_sfreq).astype(int)
    ends = np.append(onsets[1:], data.shape[1])
    trials = []
    for onset, end, code in zip(onsets, ends, events[:, 2]):
        if end - onset >= window:
            trials.append(Trial(subject="", session=1, trial=len(trials) + 1,
                                signal=data[:, onset:end], offset=int(onset),
                                ratings={"annotation": str(code)}))
    return trials
