"""Builders that write tiny files in the datasets' real on-disk formats.

Every builder writes bytes the way the dataset's authors (or MNE) would, so the tests read them
through the real readers: DEAP's protocol-2 pickles (including the Python-2 flavour the real
files have), DREAMER's MATLAB v5 struct of cells, SEED's per-session ``.mat`` files plus
``label.mat``, and MNE recordings saved as FIF or exported as EDF.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import mne
import numpy as np
import scipy.io

# --------------------------------------------------------------------------------------------
# Shared: an EEG-like signal (a random walk plus white noise plus a few rhythms)


def eeg_like(n_channels: int, n_samples: int, sfreq: float, rng, scale: float = 20.0):
    """(channels, samples) float64 with broadband power in every BDE band."""
    t = np.arange(n_samples) / sfreq
    x = np.cumsum(rng.standard_normal((n_channels, n_samples)), axis=1) * 0.3
    x += rng.standard_normal((n_channels, n_samples))
    for f in (6.0, 10.0, 20.0, 40.0):
        if f < sfreq / 2:
            phase = rng.uniform(0, 2 * np.pi, size=(n_channels, 1))
            x += rng.uniform(0.3, 1.5, size=(n_channels, 1)) * np.sin(2 * np.pi * f * t + phase)
    return x * scale + rng.normal(0, 5, size=(n_channels, 1))


# --------------------------------------------------------------------------------------------
# DEAP: sNN.dat, a pickle of {"data": (trials, 40, samples) float64, "labels": (trials, 4)}

DEAP_SFREQ = 128.0
DEAP_BASELINE = 384
DEAP_SAMPLES = 384 + 512 + 2 * 117  # 3 windows per trial
# valence, arousal, dominance, liking; chosen to sit on and beside the label thresholds
DEAP_LABELS = np.array([
    [4.99, 1.00, 3.2, 7.0],
    [5.00, 9.00, 6.1, 2.5],
    [7.30, 5.50, 8.9, 1.0],
])


def deap_arrays(n_trials: int = 3, n_samples: int = DEAP_SAMPLES, seed: int = 0):
    """``data`` (trials, 40, samples) float64 and ``labels`` (trials, 4) like DEAP's."""
    rng = np.random.default_rng(seed)
    data = np.stack([eeg_like(40, n_samples, DEAP_SFREQ, rng) for _ in range(n_trials)])
    labels = np.resize(DEAP_LABELS, (n_trials, 4)).astype(np.float64)
    return data, labels


def write_deap(path: Path, data, labels, *, py2: bool = False) -> Path:
    """Write ``sNN.dat``: a protocol-2 pickle, or (``py2``) the bytes Python 2's cPickle wrote."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    obj = {"data": np.asarray(data), "labels": np.asarray(labels)}
    path.write_bytes(_py2_pickle(obj) if py2 else pickle.dumps(obj, protocol=2))
    return path


def deap_folder(folder: Path, subjects=(1, 2), n_trials: int = 3,
                n_samples: int = DEAP_SAMPLES) -> Path:
    """A ``data_preprocessed_python/`` folder with one ``sNN.dat`` per subject."""
    folder = Path(folder)
    for s in subjects:
        data, labels = deap_arrays(n_trials, n_samples, seed=s)
        write_deap(folder / f"s{s:02d}.dat", data, labels)
    return folder


def _py2_pickle(obj: dict) -> bytes:
    """A dict of float64 arrays pickled as Python 2.7 + numpy 1.x did (protocol 2).

    Python 3 cannot produce this itself: Python 2 stored the array bytes as a ``str``
    (BINSTRING) and named ``numpy.core.multiarray``; only ``encoding="latin1"`` reads it back.
    """
    def sbs(s: bytes) -> bytes:  # SHORT_BINSTRING
        return b"U" + bytes([len(s)]) + s

    def bint(i: int) -> bytes:
        return b"K" + bytes([i]) if 0 <= i < 256 else b"J" + struct.pack("<i", i)

    def array(a: np.ndarray) -> bytes:
        a = np.ascontiguousarray(a, dtype="<f8")
        out = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
        out += bint(0) + b"\x85" + sbs(b"b") + b"\x87R"
        out += b"(" + bint(1) + b"(" + b"".join(bint(n) for n in a.shape) + b"t"
        out += b"cnumpy\ndtype\n" + sbs(b"f8") + bint(0) + bint(1) + b"\x87R"
        out += b"(" + bint(3) + sbs(b"<") + b"NNN" + bint(-1) + bint(-1) + bint(0) + b"tb"
        raw = a.tobytes()
        out += b"\x89" + b"T" + struct.pack("<I", len(raw)) + raw + b"tb"
        return out

    body = b"".join(sbs(k.encode()) + array(v) for k, v in obj.items())
    return b"\x80\x02}(" + body + b"u."


# --------------------------------------------------------------------------------------------
# DREAMER: DREAMER.mat, a MATLAB v5 struct DREAMER.Data{s}.EEG.stimuli{t} (samples x 14)

DREAMER_SFREQ = 128.0
DREAMER_STIM = 512 + 2 * 117 + 50  # 3 windows per clip, 50 samples left over
DREAMER_BASE = 3 * 128 + 40  # 3 whole seconds; the 40 extra samples are dropped
DREAMER_SCORES = {  # per subject: clip ratings 1-5
    "ScoreValence": [[1, 3, 5], [2, 4, 3]],
    "ScoreArousal": [[5, 2, 3], [3, 1, 4]],
    "ScoreDominance": [[2, 2, 4], [5, 3, 1]],
}


def _struct(**fields) -> np.ndarray:
    """A 1x1 MATLAB struct (scipy: a (1, 1) structured array of objects)."""
    a = np.empty((1, 1), dtype=[(k, object) for k in fields])
    for k, v in fields.items():
        a[0, 0][k] = v
    return a


def _cell(items, shape) -> np.ndarray:
    """A MATLAB cell array (scipy: an object array)."""
    c = np.empty(shape, dtype=object)
    for i, x in enumerate(items):
        c.flat[i] = x
    return c


def dreamer_arrays(n_subjects: int = 2, n_clips: int = 3, stim_samples: int = DREAMER_STIM,
                   base_samples: int = DREAMER_BASE, n_channels: int = 14, seed: int = 0):
    """Per subject, per clip: stimuli and baselines (samples x channels) and the scores."""
    rng = np.random.default_rng(seed)
    stimuli = [[eeg_like(n_channels, stim_samples, DREAMER_SFREQ, rng).T for _ in range(n_clips)]
               for _ in range(n_subjects)]
    baselines = [[eeg_like(n_channels, base_samples, DREAMER_SFREQ, rng).T
                  for _ in range(n_clips)] for _ in range(n_subjects)]
    scores = {k: [[v[s % len(v)][t % len(v[0])] for t in range(n_clips)]
                  for s in range(n_subjects)] for k, v in DREAMER_SCORES.items()}
    return stimuli, baselines, scores


def write_dreamer(path: Path, stimuli, baselines, scores, sfreq: float = DREAMER_SFREQ) -> Path:
    """Write ``DREAMER.mat`` so that ``scipy.io.loadmat`` gives DREAMER's own paths.

    ``Data`` is a 1 x subjects cell of 1x1 structs with ``EEG`` (a struct of two clips x 1
    cells, ``stimuli`` and ``baseline``) and the ``Score*`` columns (clips x 1 doubles).
    """
    subjects = []
    for s, (stim, base) in enumerate(zip(stimuli, baselines)):
        n = len(stim)
        eeg = _struct(stimuli=_cell(stim, (n, 1)), baseline=_cell(base, (n, 1)))
        score_fields = {k: np.asarray(v[s], dtype=np.float64).reshape(n, 1)
                        for k, v in scores.items()}
        subjects.append(_struct(Age="22", Gender="male", EEG=eeg, **score_fields))
    root = _struct(Data=_cell(subjects, (1, len(subjects))), SamplingRate=np.array([[sfreq]]),
                   EEG_Electrodes=_cell(["AF3"] * 14, (1, 14)), noOfSubjects=len(subjects))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"DREAMER": root})
    return path


# --------------------------------------------------------------------------------------------
# SEED: Preprocessed_EEG/<subject>_<yyyymmdd>.mat with <prefix>_eeg1..15 (62 x samples, 200 Hz)

SEED_SFREQ = 200.0
SEED_LABELS = [1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1]
SEED_SAMPLES = 512 + 117 + 30  # 2 windows per trial


def write_seed_labels(folder: Path, labels=SEED_LABELS) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "label.mat"
    scipy.io.savemat(path, {"label": np.asarray(labels, dtype=np.int16).reshape(1, -1)})
    return path


def write_seed_file(path: Path, trials: dict[int, np.ndarray], prefix: str = "djc") -> Path:
    """One subject-session file: ``{prefix}_eeg{t}`` for each trial number ``t``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {f"{prefix}_eeg{t}": np.asarray(x) for t, x in trials.items()})
    return path


def seed_folder(folder: Path, files=("1_20131027.mat", "1_20131030.mat", "2_20140404.mat"),
                trial_numbers=(1, 2, 10), n_samples: int = SEED_SAMPLES,
                n_channels: int = 62) -> dict[str, dict[int, np.ndarray]]:
    """A ``Preprocessed_EEG/`` folder; returns what was written, per file name."""
    folder = Path(folder)
    write_seed_labels(folder)
    written = {}
    for i, name in enumerate(files):
        rng = np.random.default_rng(100 + i)
        trials = {t: eeg_like(n_channels, n_samples + 13 * t, SEED_SFREQ, rng)
                  for t in trial_numbers}
        write_seed_file(folder / name, trials, prefix=f"p{i}")
        written[name] = trials
    return written


# --------------------------------------------------------------------------------------------
# MNE recordings (FIF, EDF)

RAW_CHANNELS = ["FP1", "Fp2", "F3", "f4", "cz", "C3", "C4", "PZ", "O1", "O2"]


def make_raw(ch_names=RAW_CHANNELS, sfreq: float = 128.0, seconds: float = 20.0,
             annotations=(), stim_events=None, seed: int = 0) -> mne.io.RawArray:
    """A RawArray of EEG in volts; ``annotations`` are (onset, duration, description).

    ``stim_events`` (sample, code) pairs add a ``STI 014`` stim channel carrying them.
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sfreq))
    data = eeg_like(len(ch_names), n, sfreq, rng) * 1e-6
    names, types = list(ch_names), ["eeg"] * len(ch_names)
    if stim_events is not None:
        stim = np.zeros((1, n))
        for sample, code in stim_events:
            stim[0, sample : sample + 3] = code
        data = np.vstack([data, stim])
        names.append("STI 014")
        types.append("stim")
    raw = mne.io.RawArray(data, mne.create_info(names, sfreq, types), verbose="error")
    if annotations:
        onset, duration, description = zip(*annotations)
        raw.set_annotations(mne.Annotations(onset, duration, description))
    return raw


def save_fif(raw: mne.io.BaseRaw, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw.save(path, overwrite=True, verbose="error")
    return path


def save_edf(raw: mne.io.BaseRaw, path: Path) -> Path:
    """EDF via MNE's exporter (needs the ``edfio`` package)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="error")
    return path


# --------------------------------------------------------------------------------------------
# EDF and BDF written signal by signal (edfio), with the labels real exports carry: EDF+ type
# prefixes ("EEG Fp1", "EOG VEOG_I", "DIG DTRIG") or BioSemi's names (EXG1-EXG8, Status)

BIOSEMI_32 = ["Fp1", "AF3", "F7", "F3", "FC1", "FC5", "T7", "C3", "CP1", "CP5", "P7", "P3",
              "Pz", "PO3", "O1", "Oz", "O2", "PO4", "P4", "P8", "CP6", "CP2", "C4", "T8", "FC6",
              "FC2", "F4", "F8", "AF4", "Fp2", "Fz", "Cz"]  # BioSemi's 32-channel cap, 10-20 names
BIOSEMI_EXTERNAL = [f"EXG{i}" for i in range(1, 9)]
BIOSEMI_SENSORS = ["GSR1", "GSR2", "Erg1", "Erg2", "Resp", "Plet", "Temp"]  # ActiView's extras


def labelled_signals(labels, sfreq: float = 128.0, seconds: float = 20.0, seed: int = 0):
    """{label: signal in microvolts}, each label's signal drawn from its own seed, so a label
    has the same samples in every file that holds it."""
    n = int(round(seconds * sfreq))
    return {label: eeg_like(1, n, sfreq, np.random.default_rng([seed, i]))[0]
            for i, label in enumerate(labels)}


def write_edf_signals(path: Path, signals: dict, sfreq: float = 128.0, annotations=()) -> Path:
    """An EDF+ file with one signal per ``{label: microvolts}`` as given (labels written
    verbatim), each scaled by its own physical range (its data's min and max, as exporters do)."""
    import edfio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    edf = edfio.Edf([edfio.EdfSignal(np.asarray(x, float), sfreq, label=label,
                                     physical_dimension="uV") for label, x in signals.items()],
                    annotations=[edfio.EdfAnnotation(*a) for a in annotations])
    edf.write(path)
    return path


def write_biosemi_bdf(path: Path, signals: dict, sfreq: float = 256.0, status=None) -> Path:
    """A 24-bit BDF as BioSemi's ActiView writes it: the ``{label: microvolts}`` signals, then
    (when ``status`` is given: one integer per sample) the ``Status`` channel, dimensionless,
    with its digital range as physical range."""
    import edfio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = [edfio.BdfSignal(np.asarray(x, float), sfreq, label=label, physical_dimension="uV",
                           transducer_type="Active Electrode") for label, x in signals.items()]
    if status is not None:
        out.append(edfio.BdfSignal(np.asarray(status, float), sfreq, label="Status",
                                   physical_dimension="Boolean",
                                   physical_range=(-8388608, 8388607),
                                   transducer_type="Triggers and Status"))
    edfio.Bdf(out).write(path)
    return path


def add_typed_channels(raw: mne.io.BaseRaw, types: dict[str, str], seed: int = 1):
    """``raw`` with one more channel per ``{name: MNE type}`` (e.g. ``{"VEOG": "eog"}``),
    declared with that type, as a FIF or BrainVision export would carry it."""
    rng = np.random.default_rng(seed)
    data = eeg_like(len(types), raw.n_times, raw.info["sfreq"], rng) * 1e-6
    info = mne.create_info(list(types), raw.info["sfreq"], list(types.values()))
    extra = mne.io.RawArray(data, info, verbose="error")
    out = raw.copy().load_data()
    out.add_channels([extra], force_update_info=True)
    return out


# --------------------------------------------------------------------------------------------
# BrainVision (pybv) and EEGLAB (eeglabio), with markers as the recording software writes them


def write_brainvision(folder: Path, name: str, raw: mne.io.BaseRaw, markers=(),
                      new_segment: bool = True) -> Path:
    """``name``.vhdr/.vmrk/.eeg as BrainVision Recorder exports them: a ``New Segment``
    marker at the first sample (pybv writes it with the recording's date) and each
    ``(sample, type, code)`` marker (type ``"Stimulus"`` or ``"Response"``, or ``"Comment"``
    with a text) one sample long, so MNE reads ``Stimulus/S  1`` (``Comment/happy``) point
    annotations."""
    import datetime

    import pybv

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    events = [{"onset": int(s), "type": t, "duration": 1,
               "description": c if t == "Comment" else int(c)} for s, t, c in markers]
    date = datetime.datetime(2024, 5, 6, 9, 30, tzinfo=datetime.timezone.utc) \
        if new_segment else None
    pybv.write_brainvision(data=raw.get_data(), sfreq=raw.info["sfreq"],
                           ch_names=raw.ch_names, fname_base=name, folder_out=str(folder),
                           events=events or None, meas_date=date, unit="µV", overwrite=True)
    return folder / f"{name}.vhdr"


def write_eeglab(path: Path, raw: mne.io.BaseRaw, events=()) -> Path:
    """An EEGLAB ``.set`` (eeglabio) whose ``EEG.event`` holds each ``(onset s, duration s,
    type)``; ``boundary`` events mark where EEGLAB cut data out."""
    from eeglabio.raw import export_set

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    annotations = None
    if events:
        onset, duration, kind = (np.asarray(v) for v in zip(*events))
        annotations = (kind.astype(str), onset.astype(float), duration.astype(float))
    export_set(str(path), raw.get_data(), raw.info["sfreq"], raw.ch_names,
               annotations=annotations)
    return path


def biosemi_status(n_samples: int, triggers, system_bits: int = 0xFF0000) -> np.ndarray:
    """A BioSemi Status channel: the ``system_bits`` (CMS in range, battery, ...) in bits
    16-23 of every sample, and each ``(sample, code, samples held)`` trigger in bits 0-15,
    as a signed 24-bit value (as the BDF stores it)."""
    status = np.full(n_samples, system_bits, dtype=np.int64)
    for sample, code, held in triggers:
        status[sample : sample + held] |= code
    return np.where(status >= 1 << 23, status - (1 << 24), status).astype(float)
