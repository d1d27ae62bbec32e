"""Any EEG recording MNE reads (EDF, BDF, FIF, BrainVision, EEGLAB, ...).

Trials come from the recording's markers (:mod:`rbt.data.markers`): annotations lasting at
least one window keep their span; point markers and stim-channel events each start a trial that
runs to the next marker, or ``epoch`` seconds; a marker filter chooses which. With no markers
the whole recording is one unlabelled trial cut into fixed windows. The description (or event
code) becomes the ``annotation`` column, which is the class when training on such files. Each
file is one subject, named by its stem or by a pattern (:mod:`rbt.data.subjects`).

Only EEG channels become electrodes. The types a file declares are used (FIF, BrainVision's
EOG names, EEGLAB, EGI); EDF, BDF and GDF declare none, so their labels' type prefixes are
read ("EEG Fp1" is the EEG channel Fp1, "EOG VEOG_I" an EOG channel), and channels known by
name (BioSemi's EXG1-EXG8, LEOG, REOG and Status, Resp, SpO2, ...) get their type
(:func:`type_channels`). What is left out is said once, in the recording's ``notes``.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from pathlib import Path

import mne
import numpy as np

from ..caps import apply_layout
from ..montage import UnknownChannelsError, canonical_name
from ..safeio import is_inside, read_bytes, require_regular_file
from . import safe_mat
from .features import DEFAULT_WINDOW, MAX_SFREQ  # one bound for every reader
from .fitting import CannotInterpolate, fit_electrodes
from .markers import check_epoch, marker_trials, parse_filter
from .recording import DataFormatError, Recording, Trial
from .subjects import compile_pattern, subject_of

DATASET = "raw"
DEFAULT_SFREQ = 128.0  # the rate the published filters and 512-sample windows were made for
MIN_SFREQ = 100.0  # the bands reach 49 Hz

# EEG and stim channels x samples read or resampled: 2 GiB of float64, e.g. 64 channels at
# 1 kHz for 70 minutes
MAX_SAMPLES = 1 << 28
MIN_GZIP_BUDGET, GZIP_FACTOR = 1024**3, 20  # FIF compresses EEG about 1.5-3x
MAX_OVERLAP = 8  # trials from overlapping markers may cover the recording this many times
SUFFIXES = (".edf", ".bdf", ".fif", ".fif.gz", ".vhdr", ".set", ".gdf", ".cnt", ".mff")
# bump when reading a file gives other channels or samples than before (part of the cache key):
# 2: channel types from EDF/BDF/GDF label prefixes and known names; non-EEG channels left out
# 3: numbered cap layouts (rbt.caps) recognised, never read as 10-05 names
# 4: point markers and every stim event (BDF: its 16 trigger bits) start trials
# 5: annotations kept when a cap is interpolated onto a model's electrodes
# 6: interpolation from every measured 10-05 electrode, not only the model's
# 7: Neuroscan's HEO/VEO and TUH's PHOTIC, IBI, BURSTS, SUPPR (also with -REF) typed by name
# 8: unknown names refused (or dropped, and named) before fitting; a repeated label named
READER_VERSION = 8

# EDF+ label prefixes ("type sensor") and the MNE type they mean: MNE's own (its
# ``infer_types`` strips these from EDF and BDF labels) and the other ones clinical exports write
_PREFIX_TYPES = {
    "EEG": "eeg", "SEEG": "seeg", "ECOG": "ecog", "DBS": "dbs", "EOG": "eog", "ECG": "ecg",
    "EKG": "ecg", "EMG": "emg", "BIO": "bio", "RESP": "resp", "TEMP": "temperature",
    "MISC": "misc", "SAO2": "bio", "SPO2": "bio", "STIM": "stim", "DIG": "stim", "TRIG": "stim",
    "EVENT": "stim", "REF_EEG": "misc", "REF": "misc", "POL": "misc", "ERG": "misc",
    "EP": "misc", "LIGHT": "misc", "SOUND": "misc", "MCG": "misc", "GSR": "gsr",
}
# channels known by name (whole name, any case); never a 10-05 electrode (checked on use)
_NAMED_TYPES = [(re.compile(pattern, re.IGNORECASE), kind) for pattern, kind in (
    (r"[hvlr]?eog[\w\s-]*|eog[\w\s-]*|[lr]oc([\s_-]?ref)?", "eog"),
    (r"[hv]eo[lrud]?", "eog"),  # Neuroscan's HEO, VEO
    (r"ibi|bursts?|suppr", "misc"),  # TUH's inter-burst interval, burst and suppression tracks
    (r"(ecg|ekg)[\w\s-]*", "ecg"),
    (r"emg[\w\s-]*|chin\d*", "emg"),
    (r"status|trigger\w*|trig\d*|dtrig\w*|sti\s?\d+|events?|markers?", "stim"),
    (r"exg\d+|erg\d*|ana\d+|aux\d*|ref_eeg|photic\w*|acc(el\w*)?[xyz]?\d*", "misc"),
    (r"resp\w*|thor(ax)?\w*|abdo(men)?\w*|airflow|nasal\w*", "resp"),
    (r"spo2|sao2|plet(h|hysmo\w*)?\d*|pulse\w*|hr", "bio"),
    (r"gsr\d*|eda\d*", "gsr"),
    (r"temp\d*|temperature\w*", "temperature"),
)]
# a reference written after a channel's name ("PHOTIC-REF", "LOC-LE"), as clinical EDFs do
_REF_SUFFIX = re.compile(r"[\s_-]+(?:ref|le|re|avg|ar)$", re.IGNORECASE)
# how the notes name each type
_TYPE_WORDS = {"eog": "EOG", "ecg": "ECG", "emg": "EMG", "seeg": "sEEG", "ecog": "ECoG",
               "dbs": "DBS", "resp": "respiration", "gsr": "GSR", "bio": "bio",
               "temperature": "temperature", "stim": "stim", "misc": "misc"}


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
    epoch: float | None = None,
    markers: str | None = None,
    subject_from: str | None = None,
    fit_to: tuple[str, ...] | None = None,  # a model's electrodes (rbt.data.fitting)
    preprocess=None,  # rbt.data.preprocess.SignalSteps done before resampling; None: none
) -> Recording:
    """Read, keep EEG channels, resample to ``sfreq`` (None keeps the file's rate), cut trials.

    ``epoch`` (seconds) and ``markers`` (a filter): how markers become trials
    (:func:`rbt.data.markers.marker_trials`); ``subject_from``: a pattern naming the subject
    and session in the file's name (:func:`rbt.data.subjects.subject_of`)."""
    file = Path(file)
    if sfreq is not None and not MIN_SFREQ <= sfreq <= MAX_SFREQ:
        raise ValueError(f"the resampling rate must be from {MIN_SFREQ:g} Hz (above twice the "
                         f"gamma band's 49 Hz) to {MAX_SFREQ:g} Hz; got {sfreq:g} Hz")
    check_epoch(epoch)
    parse_filter(markers)
    compile_pattern(subject_from)
    raw = open_recording(file)
    if channel_map:
        _apply_channel_map(raw, channel_map)
    cap = apply_layout(raw, str(file))  # numbered caps: BioSemi, EGI (rbt.caps)
    left_out = left_out_channels(raw)
    if not [n for n, t in zip(raw.ch_names, raw.get_channel_types())
            if t == "eeg" and n not in raw.info["bads"]]:
        raise DataFormatError(_no_eeg_message(file, raw))
    raw.pick(["eeg", "stim"], exclude="bads")  # before reading: other channels cost nothing
    _check_size(file, len(raw.ch_names) * raw.n_times, "holds")
    with _strict_mne(file):
        raw.load_data(verbose="warning")
    events = _stim_events(raw, biosemi=file.suffix.lower() == ".bdf")
    raw.pick("eeg", exclude="bads")
    if not raw.ch_names:
        raise DataFormatError(f"{file}: no EEG channels")
    positioned = cap is not None and not cap.named  # its channels are placed by the layout
    dropped = None if positioned else _unknown_channels(file, raw, drop_unknown)
    try:
        raw, fitted = fit_electrodes(raw, file, cap, fit_to)  # interpolate, drop extras
    except DataFormatError as err:
        if dropped and type(err) in (DataFormatError, CannotInterpolate):
            # say what --drop-unknown took away (the same kind of error)
            raise type(err)(f"{err} (With --drop-unknown it {dropped}; if some of them are "
                            "electrodes, map them with --channel-map.)") from None
        raise
    done = _preprocess(file, raw, preprocess)  # the model's signal steps, at the file's rate
    orig_sfreq = raw.info["sfreq"]
    if sfreq and abs(orig_sfreq - sfreq) > 1e-9:
        _check_size(file, len(raw.ch_names) * raw.n_times * sfreq / orig_sfreq,
                    f"would hold at {sfreq:g} Hz (recorded at {orig_sfreq:g} Hz)")
        raw.resample(sfreq, verbose="error")
    fs = raw.info["sfreq"]
    data = raw.get_data()
    trials, trial_notes = marker_trials(file, raw, data, events, orig_sfreq, window,
                                        epoch=epoch, markers=markers)
    if not trials:
        trials = [Trial(subject=file.stem, session=1, trial=1, signal=data)]
    covered = sum(t.signal.shape[1] for t in trials)
    if covered > MAX_OVERLAP * data.shape[1]:
        raise DataFormatError(
            f"{file}: its {len(trials)} marked trials cover the recording "
            f"{covered / data.shape[1]:.0f} times over (at most {MAX_OVERLAP} is accepted); "
            "are the markers duplicated, or the epoch (--epoch) longer than their spacing?")
    subject, session = subject_of(file, subject_from)
    for t in trials:
        t.subject, t.session = subject, session
    notes = [f"{file.name}: {left_out}"] if left_out else []
    notes += [f"{file.name}: {dropped}"] if dropped else []
    notes += [done] if done else []
    notes += fitted.notes
    return Recording(DATASET, str(file), list(raw.ch_names), fs, trials,
                     interpolated=list(fitted.interpolated),
                     notes=notes + trial_notes)


def _unknown_channels(file: Path, raw, drop_unknown: bool) -> str | None:
    """Refuse EEG channels whose names are no 10-05 electrodes, naming them (a name the file
    has twice, which MNE reads as "Fp1-0" and "Fp1-1", as such); with ``drop_unknown`` drop
    them instead, returning the note that names them (None: none)."""
    unknown = [n for n in raw.ch_names if canonical_name(n) is None]
    if not unknown:
        return None
    if drop_unknown and len(unknown) == len(raw.ch_names):
        shown = ", ".join(unknown[:6]) + (", ..." if len(unknown) > 6 else "")
        raise DataFormatError(
            f"{file}: none of its {len(unknown)} EEG channels ({shown}) is a 10-05 electrode "
            "name, so dropping the unknown ones leaves nothing. Rename them with a channel map "
            f'(--channel-map map.json, e.g. {{"{unknown[0]}": "Fp1"}}, with the real '
            "electrode of each channel).")
    if drop_unknown:
        raw.drop_channels(unknown)
        return (f"dropped {len(unknown)} channels that are not 10-05 electrodes: "
                if len(unknown) != 1 else "dropped 1 channel that is not a 10-05 electrode: "
                ) + _some(unknown)
    twice: dict[str, list[str]] = {}  # MNE's renaming of a repeated label: Fp1 -> Fp1-0, Fp1-1
    for n in unknown:
        base, dash, number = n.rpartition("-")
        if dash and number.isdigit() and canonical_name(base) is not None:
            twice.setdefault(base, []).append(n)
    twice = {b: names for b, names in twice.items() if len(names) > 1}
    if twice:
        which = "; ".join(f"{b} {len(v)} times (read as {', '.join(v)})" if len(v) > 2 else
                          f"{b} twice (read as {', '.join(v)})" for b, v in twice.items())
        first = next(iter(twice.values()))[-1]
        raise DataFormatError(
            f"{file}: the file has {which}: which channel is which electrode cannot be told. "
            "Give each the electrode it records with a channel map (--channel-map map.json, "
            f'e.g. {{"{first}": "<its 10-05 name>"}}), or drop them (--drop-unknown; with '
            "--interpolate-missing a model's electrode among them is then interpolated).")
    raise UnknownChannelsError(unknown, str(file))


def _preprocess(file: Path, raw, steps) -> str | None:
    """Do ``steps`` (:class:`~rbt.data.preprocess.SignalSteps`, or None: nothing) to the
    loaded EEG channels of ``raw``; the recording's note saying what was done."""
    from . import preprocess

    if steps is None or not steps.does_something:
        return None
    try:
        words = preprocess.apply(raw, steps)
    except ValueError as err:
        raise DataFormatError(f"{file}: cannot preprocess it as {steps.origin or 'asked'} "
                              f"({err}); pass --preprocess none to read it as it is") from None
    return preprocess.note(file.name, steps, words)


def open_recording(file: Path, all_companions: bool = False):
    """MNE's reader, made strict, without reading the samples (``preload=False``).

    Companion files must lie beside the recording (a header may not point elsewhere), the
    size must be within :data:`MAX_SAMPLES`, and a truncated file or a channel without a scale
    is an error. Channels have their types (:func:`type_channels`). Returns the raw object
    (``raw.load_data()`` reads its samples). ``all_companions``: every file a header names
    must be there (for uploads, which come with their companions), instead of leaving a
    missing one to MNE's fallbacks."""
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
    if file.suffix.lower() in (".edf", ".bdf"):
        _check_edf_start(file)
    # EDF and BDF: MNE reads the labels' type prefixes and strips them ("EEG Fp1" -> "Fp1")
    infer = {"infer_types": True} if file.suffix.lower() in (".edf", ".bdf") else {}
    with _strict_mne(file):
        raw = mne.io.read_raw(file, preload=False, verbose="warning", **infer)
        type_channels(raw, prefixes=file.suffix.lower() in (".edf", ".bdf", ".gdf"))
    for name in raw.filenames:  # what MNE will read the samples from
        if name is not None:
            _check_companion(file, folder, Path(name))
    if file.suffix.lower() in (".edf", ".bdf"):
        _check_edf_records(file, raw)
    return raw


def type_channels(raw, prefixes: bool = False) -> None:
    """Give non-EEG channels their types, in place, before any electrode matching.

    ``prefixes`` (EDF, BDF, GDF, whose channels have no types): a label "TYPE name" whose
    TYPE is an EDF+ type prefix (:data:`_PREFIX_TYPES`; MNE has already stripped the ones it
    knows from EDF and BDF labels) has that type and is renamed to its name, unless that name
    is taken. Then EEG channels whose names are known non-EEG channels (:data:`_NAMED_TYPES`:
    BioSemi's EXG1-EXG8, LEOG, REOG, Status, Erg1, GSR1, Resp, Plet, Temp; VEOG, ECG, SpO2,
    Neuroscan's HEO and VEO, TUH's PHOTIC-REF, IBI, BURSTS and SUPPR, ...; also with a
    reference suffix, "-REF", "-LE") get their type. A name that is a 10-05 electrode is
    never retyped."""
    from ..montage import canonical_name

    kinds = dict(zip(raw.ch_names, raw.get_channel_types()))
    retype, renames = {}, {}
    if prefixes:
        for name in raw.ch_names:
            prefix, _, rest = name.partition(" ")
            kind = _PREFIX_TYPES.get(prefix.upper())
            if kinds[name] == "eeg" and rest.strip() and kind:
                retype[name] = kind
                renames[name] = rest.strip()
        taken = set(raw.ch_names) - set(renames)
        new = list(renames.values())
        renames = {k: v for k, v in renames.items() if v not in taken and new.count(v) == 1}
    for name in raw.ch_names:
        kind = retype.get(name, kinds[name])
        bare = renames.get(name, name).strip()
        if kind == "eeg" and canonical_name(bare) is None:
            plain = _REF_SUFFIX.sub("", bare) or bare  # TUH's "PHOTIC-REF", "ROC-LE"
            kind = next((k for pattern, k in _NAMED_TYPES
                         if pattern.fullmatch(bare) or pattern.fullmatch(plain)), kind)
        if kind != kinds[name]:
            retype[name] = kind
        elif name in retype:
            del retype[name]
    if retype:
        raw.set_channel_types(retype, on_unit_change="ignore", verbose="error")
    if renames:
        raw.rename_channels(renames, verbose="error")


def left_out_channels(raw) -> str:
    """What reading leaves out of the electrodes, e.g. "left out 2 non-EEG channels (EOG:
    VEOG; stim: Status)", plus channels the file marks bad; "" when nothing."""
    groups: dict[str, list[str]] = {}
    for name, kind in zip(raw.ch_names, raw.get_channel_types()):
        if kind != "eeg":
            groups.setdefault(_TYPE_WORDS.get(kind, kind), []).append(name)
    bads = [n for n, k in zip(raw.ch_names, raw.get_channel_types())
            if k == "eeg" and n in raw.info["bads"]]
    parts = []
    if groups:
        n = sum(len(v) for v in groups.values())
        parts.append(f"left out {n} non-EEG channel{'s' if n != 1 else ''} ("
                     + "; ".join(f"{k}: {_some(v)}" for k, v in groups.items()) + ")")
    if bads:
        parts.append(f"{'and ' if parts else 'left out '}{len(bads)} EEG channel"
                     f"{'s' if len(bads) != 1 else ''} the file marks bad ({_some(bads)})")
    return " ".join(parts)


def _some(names: list[str], most: int = 12) -> str:
    more = len(names) - most
    return ", ".join(names[:most]) + (f", ... ({more} more)" if more > 0 else "")


def _no_eeg_message(file: Path, raw) -> str:
    found = left_out_channels(raw).replace("left out ", "", 1) or "no channels"
    example = next((n for n, k in zip(raw.ch_names, raw.get_channel_types()) if k != "stim"),
                   "EXG1")
    how = ("as the file declares them" if file.suffix.lower() not in (".edf", ".bdf", ".gdf")
           else "from their labels' type prefixes and names")
    return (f"{file}: no EEG channels to use as electrodes: it has {found}, typed {how}. "
            "If some of them are EEG electrodes, give each the 10-05 name of the electrode it "
            "records with a channel map "
            f'(--channel-map map.json, e.g. {{"{example}": "Fp1"}}, or channel_map= in Python), '
            "and they are read as EEG"
            + (" (channels the file marks bad stay out: clear those marks to use them)."
               if raw.info["bads"] else "."))


def _apply_channel_map(raw, channel_map: dict[str, str]) -> None:
    """Rename channels by ``channel_map``, whose keys may be the names as read or the labels
    as the file writes them ("EEG Fp1" for the channel read as "Fp1"). A channel of another
    type (not stim) renamed to a 10-05 electrode name becomes an EEG channel."""
    from ..montage import canonical_name

    renames = {}
    for key, value in channel_map.items():
        prefix, _, rest = key.partition(" ")
        name = key if key in raw.ch_names else (
            rest.strip() if prefix.upper() in _PREFIX_TYPES else key)
        if name in raw.ch_names and name not in renames:
            renames[name] = value
    if not renames:
        return
    raw.rename_channels(renames)
    kinds = dict(zip(raw.ch_names, raw.get_channel_types()))
    to_eeg = {v: "eeg" for v in renames.values()
              if kinds.get(v) not in ("eeg", "stim", None) and canonical_name(v) is not None}
    if to_eeg:
        raw.set_channel_types(to_eeg, on_unit_change="ignore", verbose="error")


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


def _check_edf_start(file: Path) -> None:
    """An empty file, one shorter than the fixed header, or one that does not start as an
    EDF ("0" and spaces) or BDF (byte 255, "BIOSEMI") header is said to be so, before MNE
    reads it and fails on a header field with a message that does not say why."""
    kind = file.suffix.lower()[1:].upper()
    size = file.stat().st_size
    if size == 0:
        raise DataFormatError(f"{file}: the file is empty (0 bytes)")
    with open(file, "rb") as fh:
        start = fh.read(256)
    expected = (b"\xff" if kind == "BDF" else b"0")
    if not start.startswith(expected):
        text = start[:64].decode("latin-1")
        looks = ("text" if all(c.isprintable() or c in "\r\n\t" for c in text)
                 else "other data")
        raise DataFormatError(
            f"{file}: not an {kind} file: it starts with {looks} ({text[:24]!r}), not the "
            + ("BDF header (byte 255 and 'BIOSEMI')" if kind == "BDF" else
               "EDF header (version '0' and spaces)")
            + ". Was it saved in another format and renamed?")
    if size < 256:
        raise DataFormatError(f"{file}: the file is {size} bytes, shorter than an {kind} "
                              "header (256 bytes): an export that did not finish?")


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
    """A recording names a data or marker file that is not a regular file beside it (its
    name: ``companion``, when known)."""

    companion: str | None = None


def _check_companion(file: Path, folder: Path, companion: Path) -> None:
    real = Path(os.path.realpath(companion))
    try:
        if not is_inside(companion, folder):
            raise CompanionFileError(f"{file}: refers to a data file outside its own folder "
                                     f"({companion.name}); a recording's companion files must "
                                     "lie beside it")
        require_regular_file(real, CompanionFileError, f"a data file of {file.name}")
    except CompanionFileError as err:
        err.companion = companion.name
        raise


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


def _stim_events(raw, biosemi: bool = False) -> np.ndarray | None:
    """Every change of the stim channels to a nonzero code, as (sample from the data's start,
    0, code) rows; BioSemi's Status channel keeps its system bits above the 16 trigger bits,
    which are masked off. None when there is no stim channel, no event, or the stim channels
    hold an analog signal rather than codes (other values than whole numbers, or a change
    every few samples): each of its samples would be an event."""
    if not any(t == "stim" for t in raw.get_channel_types()):
        return None
    codes = raw.get_data(picks="stim")
    if not np.allclose(codes, np.round(codes), rtol=0, atol=1e-6):
        return None
    mask = {"mask": 0xFFFF, "mask_type": "and"} if biosemi else {}
    try:  # a one-sample pulse is an event too; so is a step from one code to another
        events = mne.find_events(raw, shortest_event=1, consecutive=True, verbose="error",
                                 **mask)
    except ValueError:
        return None
    if len(events) > raw.n_times / 4:
        return None
    events[:, 0] -= raw.first_samp  # to indices into the data array
    return events
