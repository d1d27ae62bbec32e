"""The dashboard's data choice: which source, path, labels and windows to load, and loading it.

:class:`DataChoice` is what the sidebar chose, hashable so that it keys the caches. Its window
and stride are the checkpoint's (:func:`rbt.model_fit.loading_defaults`), so the features are
always computed as the model's training features were.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rbt.caps import layout_renames, ten_twenty_layouts
from rbt.data import FeatureSet, load_features
from rbt.data.features import DEFAULT_STRIDE, DEFAULT_WINDOW, FeatureParams
from rbt.data.labels import RULES
from rbt.data.preprocess import SignalSteps
from rbt.data.raw import DEFAULT_SFREQ
from rbt.montage import canonical_name

SOURCE_LABELS = {
    "demo": "Demo data (synthetic)",
    "deap": "DEAP folder (data_preprocessed_python/)",
    "dreamer": "DREAMER.mat",
    "seed": "SEED folder (Preprocessed_EEG/)",
    "raw": "EEG recording (EDF, BDF, FIF, BrainVision, EEGLAB, ...)",
}


@dataclass(frozen=True)
class DataChoice:
    """Which data to load; hashable, so it can key caches."""

    source: str = "demo"
    path: str | None = None
    target: str | None = None
    task: str | None = None
    seed_reference_filters: bool = False
    drop_unknown: bool = False
    preprocess: SignalSteps | None = None  # recordings: the model's signal steps (None: none)
    channel_map: tuple[tuple[str, str], ...] = ()  # recordings: (name in file, 10-05 name)
    fit_to: tuple[str, ...] = ()  # recordings: the model's electrodes, missing interpolated
    window: int = DEFAULT_WINDOW  # samples; the checkpoint's
    stride: int = DEFAULT_STRIDE
    raw_sfreq: float = DEFAULT_SFREQ  # recordings are resampled to this rate; the checkpoint's
    epoch: float | None = None  # recordings: seconds after each point marker (None: to the next)
    markers: str | None = None  # recordings: which markers are trials (None: all)
    subject_from: str | None = None  # recordings: a regex naming subjects in file names
    stamp: tuple = ()  # data_stamp() of the files: caches keyed on the choice see new data
    keep_on_disk: bool = True  # False for uploads: their features stay out of the disk cache

    def describe(self) -> str:
        where = "" if self.source == "demo" else f" from {self.path}"
        return f"{SOURCE_LABELS.get(self.source, self.source)}{where}"


def targets_for(source: str) -> list[str]:
    """The rating names a source can be labelled with (``annotation`` for recordings)."""
    rule = RULES.get(source)
    return list(rule.targets) if rule else ["annotation"]


def tasks_for(source: str) -> list[str]:
    rule = RULES.get(source)
    if rule is None:  # recordings: their markers may be of any number of kinds (as in the CLI)
        return ["multi", "binary"]
    return ["multi"] if rule and rule.binary_threshold is None else ["binary", "multi"]


def load_data(choice: DataChoice, on_file=None) -> FeatureSet:
    """Features for ``choice`` (cached on disk by rbt); raises rbt's errors with what to do.

    ``on_file(done, total, name)`` reports progress file by file (see ``load_features``)."""
    if choice.source != "demo" and not choice.path:
        raise ValueError(f"{SOURCE_LABELS[choice.source]}: enter its path in the sidebar "
                         "(or upload a recording)")
    if choice.path and not Path(choice.path).expanduser().exists():
        raise FileNotFoundError(f"{choice.path}: no such file or folder. Check the path; it is "
                                "read on the machine that runs the dashboard.")
    path = None if choice.source == "demo" else str(Path(choice.path).expanduser())
    return load_features(choice.source, path, target=choice.target, task=choice.task,
                         params=FeatureParams(window=choice.window, stride=choice.stride),
                         fit_to=choice.fit_to or None,
                         seed_reference_filters=choice.seed_reference_filters,
                         preprocess=choice.preprocess,
                         raw_sfreq=choice.raw_sfreq, drop_unknown=choice.drop_unknown,
                         channel_map=dict(choice.channel_map) or None, progress=False,
                         on_file=on_file, use_cache=choice.keep_on_disk,
                         epoch=choice.epoch, markers=choice.markers,
                         subject_from=choice.subject_from,
                         skip_unreadable=True)  # a folder's bad file: a warning, not nothing


def data_stamp(choice: DataChoice) -> tuple:
    """Names, sizes and modification times of the files behind ``choice`` (a folder's own
    files, not its subfolders): cheap, and it changes when the data on disk change."""
    if choice.source == "demo" or not choice.path:
        return ()
    path = Path(choice.path).expanduser()
    try:
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    except OSError:
        return ()


def parse_channel_map(text: str) -> tuple[tuple[str, str], ...]:
    """Renames typed in the dashboard, ``"EEG 1=Fp1, EEG 2=Fp2"`` (commas or new lines), as
    pairs; every target must be a 10-05 name. A ValueError says which entry is wrong."""
    pairs = []
    for entry in (e.strip() for e in text.replace("\n", ",").split(",")):
        if not entry:
            continue
        old, sep, new = entry.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ValueError(f"channel renames are 'name in file=10-05 name', separated by "
                             f"commas; {entry!r} is not")
        if canonical_name(new.strip()) is None:
            raise ValueError(f"{new.strip()!r} (for {old.strip()!r}) is not a 10-05 "
                             "electrode name")
        if old.strip() in dict(pairs):
            raise ValueError(f"{old.strip()!r} is renamed twice")
        pairs.append((old.strip(), new.strip()))
    return tuple(pairs)


AS_NAMED = "as named"
#: the sidebar's cap layouts: the file's names as they are, or a numbered cap's as 10-20 names
CAP_LAYOUTS = (AS_NAMED, *ten_twenty_layouts())


def with_layout(layout: str, renames: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The renames of a cap layout (rbt.caps), then the typed ones (which win)."""
    typed = dict(renames)
    chosen = {} if layout == AS_NAMED else layout_renames(layout)
    return tuple((k, v) for k, v in chosen.items() if k not in typed) + tuple(renames)
