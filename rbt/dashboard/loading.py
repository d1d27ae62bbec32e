"""Data and model choices for the dashboard: loading data, fitting a model to it (the
mismatch explained in plain words) and the shipped checkpoint's metrics."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..checkpoint import (
    CheckpointError,
    align_features,
    class_names_for,
    preprocessing_differences,
    target_note,
    uses_reference_filters,
)
from ..data import FeatureSet, load_features
from ..data.labels import RULES
from ..model import RBTransformer
from ..montage import canonical_name
from ..provenance import seen_in_training
from ..safeio import read_json

DEMO_CHECKPOINT = Path(__file__).resolve().parents[2] / "assets" / "demo-checkpoint"


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
    channel_map: tuple[tuple[str, str], ...] = ()  # recordings: (name in file, 10-05 name)
    stamp: tuple = ()  # data_stamp() of the files: caches keyed on the choice see new data
    keep_on_disk: bool = True  # False for uploads: their features stay out of the disk cache

    def describe(self) -> str:
        where = "" if self.source == "demo" else f" from {self.path}"
        return f"{SOURCE_LABELS.get(self.source, self.source)}{where}"


def demo_checkpoint() -> Path:
    """The shipped checkpoint (``$RBT_DEMO_CHECKPOINT`` overrides where it is looked for)."""
    return Path(os.environ.get("RBT_DEMO_CHECKPOINT") or DEMO_CHECKPOINT)


def targets_for(source: str) -> list[str]:
    """The rating names a source can be labelled with (``annotation`` for recordings)."""
    rule = RULES.get(source)
    return list(rule.targets) if rule else ["annotation"]


def tasks_for(source: str) -> list[str]:
    rule = RULES.get(source)
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
                         seed_reference_filters=choice.seed_reference_filters,
                         drop_unknown=choice.drop_unknown,
                         channel_map=dict(choice.channel_map) or None, progress=False,
                         on_file=on_file, use_cache=choice.keep_on_disk)


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


def available_devices() -> list[str]:
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


@dataclass
class Fitted:
    """A model and data that fit: X in the model's electrode order, labels in its classes."""

    fs: FeatureSet
    model: RBTransformer
    meta: dict | None
    X: np.ndarray  # (windows, E, bands), the model's electrode order
    ch_names: list[str]  # the model's electrode order
    band_names: list[str]
    class_names: list[str]  # the model's classes
    y: np.ndarray | None  # true class per window in the model's classes, None when unusable
    #: per window: 1 if its trial was in the model's training data, 0 if not, NaN if that
    #: cannot be told; None when the model does not say (see :mod:`rbt.provenance`)
    in_training: np.ndarray | None = None
    errors: list[str] = field(default_factory=list)  # shown as errors; the app goes on
    warnings: list[str] = field(default_factory=list)

    @property
    def table(self) -> pd.DataFrame:
        return self.fs.table


def fit_model_to_data(model: RBTransformer, meta: dict | None, fs: FeatureSet) -> Fitted:
    """Check that the model can read the data, and explain in plain words where it cannot.

    Raises :class:`~rbt.checkpoint.CheckpointError` when the electrodes or bands differ (the model
    cannot run). Other differences (classes, target, preprocessing) are returned as messages.
    """
    try:
        X = align_features(model, meta, fs)
    except CheckpointError as err:
        trained = (meta or {}).get("dataset")
        hint = (f"it was trained on {trained} data" if trained else
                "it carries no metadata about its training data")
        raise CheckpointError(
            f"This model cannot read this data: {err}. The model ({hint}) needs the same "
            "electrodes and bands it was trained on. Choose a checkpoint trained on this "
            "dataset, or data recorded with the model's electrodes.") from err
    meta = meta or {}
    ch_names = list(meta.get("ch_names") or fs.ch_names)
    k = model.config.num_classes
    names, comparable = class_names_for(model, meta, fs)
    if not names or len(names) != k:
        names = [f"class {i}" for i in range(k)]
    errors, warnings = [], []
    y = fs.y
    what = f"{meta.get('target')}/{meta.get('task')}" if meta.get("target") else "its task"
    if fs.y is None:
        warnings.append("These data have no labels, so there is no true class and no accuracy; "
                        "the predictions are still shown.")
    elif not comparable and fs.n_classes == k:
        y = None
        warnings.append(
            f"The data's classes ({', '.join(map(str, fs.class_names))}) are not the model's "
            f"({', '.join(map(str, names))}), so no true labels or accuracy are shown; the "
            "predictions are.")
    elif not comparable:
        y = None
        errors.append(
            f"The model predicts {k} classes ({', '.join(map(str, names))}) for {what}, but the "
            f"data are labelled {fs.target}/{fs.task} with {fs.n_classes} classes "
            f"({', '.join(map(str, fs.class_names))}). Choose the target and task the model was "
            f"trained for in the sidebar{' (' + what + ')' if meta.get('target') else ''}. "
            "Until then no true labels or accuracy are shown.")
    elif target_note(meta, fs):
        warnings.append(
            f"The model was trained to predict {what}; the labels shown are "
            f"{fs.target}/{fs.task}. Accuracy then compares two different things; choose "
            f"{what} in the sidebar to compare like with like.")
    diffs = preprocessing_differences(meta, fs)
    if diffs:
        hint = (" For SEED, tick 'reference filters (128 Hz)' in the sidebar."
                if fs.dataset == "seed" else "")
        warnings.append("The data were preprocessed differently from the model's training data: "
                        + "; ".join(diffs) + "." + hint)
    if not meta:
        warnings.append("This checkpoint has no rbt metadata (an official RBTransformer "
                        "folder?), so electrode order and class names are assumed to be the "
                        "data's."
                        + (" Official SEED checkpoints expect the reference code's features: "
                           "tick 'reference filters (128 Hz)' in the sidebar."
                           if fs.dataset == "seed" and not uses_reference_filters(fs)
                           else ""))
    return Fitted(fs=fs, model=model, meta=meta or None, X=np.ascontiguousarray(X),
                  ch_names=ch_names, band_names=list(fs.bands), class_names=list(names), y=y,
                  in_training=seen_in_training(meta, fs, X), errors=errors, warnings=warnings)


def planted_electrodes(dataset: str, target: str | None) -> dict[str, list[str]]:
    """Band -> electrodes where the demo plants the effects of ``target`` (empty otherwise)."""
    from ..data.demo import PLANTED_EFFECTS

    if dataset != "demo" or target not in PLANTED_EFFECTS:
        return {}
    out: dict[str, list[str]] = {}
    for effect in PLANTED_EFFECTS[target].values():
        out.setdefault(effect["band"], []).extend(effect["channels"])
    return out


def protocol_metrics(folder: Path) -> pd.DataFrame:
    """Cross-validation accuracy per fold and protocol from a checkpoint's metrics files."""
    rows = []
    for name in ("metrics.json", "metrics_window-kfold.json"):
        path = Path(folder) / name
        if not path.exists():
            continue
        try:
            m = read_json(path, max_bytes=4 * 1024**2)
        except ValueError:
            continue
        folds = m.get("folds") if isinstance(m, dict) else None
        for fold in folds if isinstance(folds, list) else []:
            if not isinstance(fold, dict):
                continue
            rows.append({"protocol": m.get("protocol", name), "fold": fold.get("fold"),
                         "accuracy": fold.get("accuracy"), "macro_f1": fold.get("macro_f1")})
    return pd.DataFrame(rows, columns=["protocol", "fold", "accuracy", "macro_f1"])
