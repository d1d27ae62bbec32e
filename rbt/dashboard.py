"""What the dashboard computes, without Streamlit: data and model choices, fitting a model to
data (with the mismatch explained in plain words), predictions, selections and uploads.

The Streamlit pages in ``app/`` only pick inputs, cache these results and draw ``rbt.viz``
figures.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .checkpoint import CheckpointError, align_features, class_names_for
from .data import FeatureSet, load_features
from .data.labels import RULES
from .data.raw import SUFFIXES as RECORDING_SUFFIXES
from .infer import predict_array
from .model import RBTransformer

DEMO_CHECKPOINT = Path(__file__).resolve().parent.parent / "assets" / "demo-checkpoint"
MAX_UPLOAD_MB = 200  # keep in step with server.maxUploadSize in .streamlit/config.toml
SOURCE_LABELS = {
    "demo": "Demo data (synthetic)",
    "deap": "DEAP folder (data_preprocessed_python/)",
    "dreamer": "DREAMER.mat",
    "seed": "SEED folder (Preprocessed_EEG/)",
    "raw": "EEG recording (EDF, BDF, FIF, BrainVision, EEGLAB, ...)",
}
# companion files that a recording's main file needs beside it
_SIDECARS = (".eeg", ".vmrk", ".fdt")


@dataclass(frozen=True)
class DataChoice:
    """Which data to load; hashable, so it can key caches."""

    source: str = "demo"
    path: str | None = None
    target: str | None = None
    task: str | None = None
    seed_reference_filters: bool = False
    drop_unknown: bool = False

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
                         drop_unknown=choice.drop_unknown, progress=False, on_file=on_file)


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
    elif meta.get("target") and (meta["target"], meta.get("task")) != (fs.target, fs.task):
        warnings.append(
            f"The model was trained to predict {what}; the labels shown are "
            f"{fs.target}/{fs.task}. Accuracy then compares two different things; choose "
            f"{what} in the sidebar to compare like with like.")
    prep = meta.get("preprocessing") or {}
    diffs = [f"{key} {prep[key]} (model) vs {fs.params.get(key)} (data)"
             for key in ("window", "stride", "filter_sfreq")
             if prep.get(key) is not None and fs.params.get(key) is not None
             and float(prep[key]) != float(fs.params[key])]
    if diffs:
        hint = (" For SEED, tick 'reference filters (128 Hz)' in the sidebar."
                if fs.dataset == "seed" else "")
        warnings.append("The data were preprocessed differently from the model's training data: "
                        + "; ".join(diffs) + "." + hint)
    if not meta:
        warnings.append("This checkpoint has no rbt metadata (an official RBTransformer "
                        "folder?), so electrode order and class names are assumed to be the "
                        "data's.")
    return Fitted(fs=fs, model=model, meta=meta or None, X=np.ascontiguousarray(X),
                  ch_names=ch_names, band_names=list(fs.bands), class_names=list(names), y=y,
                  errors=errors, warnings=warnings)


def predict_windows(model: RBTransformer, X: np.ndarray, device="auto"):
    """(probs, pred) for a few windows (one torch thread)."""
    with few_threads(len(X)):
        p = predict_array(model, X, device=device, batch_size=max(len(X), 1))
    return p.probs, p.pred


def predict_all(model: RBTransformer, X: np.ndarray, device="auto", batch_size: int = 256,
                on_progress: Callable[[float], None] | None = None):
    """(probs, pred) for every window, reporting the fraction done to ``on_progress``."""
    probs = []
    for s in range(0, len(X), batch_size):
        probs.append(predict_array(model, X[s: s + batch_size], device=device,
                                   batch_size=batch_size).probs)
        if on_progress:
            on_progress(min(1.0, (s + batch_size) / len(X)))
    p = np.concatenate(probs) if probs else np.zeros((0, model.config.num_classes), np.float32)
    return p, p.argmax(axis=1)


@contextmanager
def few_threads(n_windows: int, limit: int = 64):
    """One torch thread for small jobs: their tiny matrix products gain nothing from more, and
    on a busy machine the extra threads only wait for each other."""
    if n_windows > limit:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def window_attention(model: RBTransformer, X: np.ndarray, device="auto") -> np.ndarray:
    """(windows, depth, heads, E, E) attention for a few windows."""
    with few_threads(len(X)):
        return predict_array(model, X, device=device, batch_size=max(len(X), 1),
                             attention=True).attention


def attribute_windows(model: RBTransformer, X: np.ndarray, method: str, *, target=None,
                      baseline: str = "zeros", device="auto", subject_ids=None, reference=None,
                      reference_subject_ids=None) -> np.ndarray:
    """:func:`rbt.explain.attribute` for a selection of windows (one thread when it is small)."""
    from .explain import attribute

    with few_threads(len(X)):
        return attribute(model, X, target=target, method=method, baseline=baseline,
                         device=device, subject_ids=subject_ids, reference=reference,
                         reference_subject_ids=reference_subject_ids)


def group_mean_attention(model: RBTransformer, X: np.ndarray, labels: np.ndarray, block, head,
                         device="auto", batch_size: int = 256,
                         on_progress: Callable[[float], None] | None = None) -> dict:
    """Group -> mean (E, E) map of one block and head (or their mean, or the rollout).

    Streams the windows in batches and keeps only running sums, so the (windows, depth, heads,
    E, E) attention of a large dataset is never held in memory.
    """
    from .explain import select_attention

    labels = np.asarray(labels)
    groups = list(dict.fromkeys(labels.tolist()))
    sums = {g: 0.0 for g in groups}
    for s in range(0, len(X), batch_size):
        att = window_attention(model, X[s: s + batch_size], device)
        maps = np.asarray(select_attention(att, block=block, head=head), dtype=np.float64)
        part = labels[s: s + batch_size]
        for g in np.unique(part):
            sums[g] = sums[g] + maps[part == g].sum(axis=0)
        if on_progress:
            on_progress(min(1.0, (s + batch_size) / len(X)))
    counts = {g: int((labels == g).sum()) for g in groups}
    return {g: (sums[g] / counts[g]).astype(np.float32) for g in groups}


def trust_numbers(model: RBTransformer, X: np.ndarray, attributions: np.ndarray, method: str,
                  *, target=None, baseline: str = "zeros", device="auto",
                  n_perturb_samples: int = 16, n_sensitivity_samples: int = 2,
                  **attribute_options) -> list[dict]:
    """:func:`rbt.explain.trust_metrics` for a few windows, kept interactive (fewer samples),
    with the attention rollout agreement; plain dicts for caching and display."""
    from .explain import trust_metrics

    attention = window_attention(model, X, device)
    with few_threads(len(X)):
        metrics = trust_metrics(model, X, attributions, method, target=target,
                                baseline=baseline, attention=attention, device=device,
                                n_perturb_samples=n_perturb_samples,
                                n_sensitivity_samples=n_sensitivity_samples, **attribute_options)
    return [{"name": m.name, "value": float(m.value), "meaning": m.meaning,
             "healthy": m.healthy, "ok": m.ok} for m in metrics.values()]


def planted_electrodes(dataset: str, target: str | None) -> dict[str, list[str]]:
    """Band -> electrodes where the demo plants the effects of ``target`` (empty otherwise)."""
    from .data.demo import PLANTED_EFFECTS

    if dataset != "demo" or target not in PLANTED_EFFECTS:
        return {}
    out: dict[str, list[str]] = {}
    for effect in PLANTED_EFFECTS[target].values():
        out.setdefault(effect["band"], []).extend(effect["channels"])
    return out


def prediction_frame(fitted: Fitted, probs: np.ndarray, pred: np.ndarray) -> pd.DataFrame:
    """One row per window: where it is, true and predicted class, right or not, probabilities."""
    t = fitted.table
    df = t[["subject", "session", "trial", "window", "start"]].copy()
    names = fitted.class_names
    df["predicted"] = [names[i] for i in pred]
    df["confidence"] = probs.max(axis=1)
    if fitted.y is not None:
        df.insert(5, "true", [names[i] for i in fitted.y])
        df["correct"] = fitted.y == pred
    for i, n in enumerate(names):
        df[f"p_{n}"] = probs[:, i]
    return df


def filter_frame(frame: pd.DataFrame, subjects: Sequence[str] = (),
                 classes: Sequence[str] = (), outcome: str = "all",
                 class_column: str = "true") -> pd.DataFrame:
    """Rows of the given subjects and classes (empty: all); outcome "all", "correct", "wrong"."""
    keep = np.ones(len(frame), bool)
    if subjects:
        keep &= frame["subject"].astype(str).isin([str(s) for s in subjects]).to_numpy()
    if classes and class_column in frame:
        keep &= frame[class_column].isin(list(classes)).to_numpy()
    if outcome != "all":
        if "correct" not in frame:
            raise ValueError("these data have no labels, so no window is correct or wrong")
        keep &= frame["correct"].to_numpy() == (outcome == "correct")
    return frame[keep]


def subjects_of(table: pd.DataFrame) -> list[str]:
    return sorted(table["subject"].astype(str).unique(), key=_natural)


def trials_of(table: pd.DataFrame, subject: str) -> list[tuple[int, int]]:
    """(session, trial) pairs of one subject."""
    rows = table[table["subject"].astype(str) == str(subject)]
    return sorted({(int(s), int(t)) for s, t in zip(rows["session"], rows["trial"])})


def trial_rows(table: pd.DataFrame, subject: str, session: int, trial: int) -> np.ndarray:
    """Indices of one trial's windows, in window order."""
    mask = ((table["subject"].astype(str) == str(subject)) & (table["session"] == session)
            & (table["trial"] == trial)).to_numpy()
    idx = np.flatnonzero(mask)
    return idx[np.argsort(table["window"].to_numpy()[idx], kind="stable")]


def _natural(s: str):
    digits = "".join(ch for ch in s if ch.isdigit())
    return (int(digits) if digits else 0, s)


def group_labels(fitted: Fitted, pred: np.ndarray | None, by: str) -> np.ndarray:
    """Each window's group: its true class (predicted when unlabelled) or its subject."""
    if by == "subject":
        return fitted.table["subject"].astype(str).to_numpy()
    if by != "class":
        raise ValueError(f"group by 'class' or 'subject'; got {by!r}")
    y = fitted.y if fitted.y is not None else pred
    return np.asarray(fitted.class_names, dtype=object)[y].astype(str)


def compare_groups(values: np.ndarray, labels: np.ndarray, a: str, b: str):
    """(mean of group a, mean of group b, a - b) over the first axis of ``values``."""
    out = []
    for g in (a, b):
        mask = labels == g
        if not mask.any():
            raise ValueError(f"no windows in group {g!r}")
        out.append(values[mask].mean(axis=0))
    return out[0], out[1], out[0] - out[1]


def sample_rows(labels: np.ndarray, groups: Sequence[str], per_group: int,
                seed: int = 0) -> tuple[int, ...]:
    """Up to ``per_group`` windows of each group, drawn with a fixed seed (sorted indices)."""
    rng = np.random.default_rng(seed)
    picked = []
    for g in groups:
        idx = np.flatnonzero(labels == g)
        if len(idx) > per_group:
            idx = rng.choice(idx, per_group, replace=False)
        picked.extend(int(i) for i in idx)
    return tuple(sorted(set(picked)))


def save_uploads(files: Sequence[tuple[str, bytes]], folder: Path,
                 max_mb: float = MAX_UPLOAD_MB) -> Path:
    """Write uploaded recording file(s) to ``folder/<digest>/`` and return the main file.

    Several files are allowed where a format needs them together (BrainVision .vhdr + .vmrk +
    .eeg, EEGLAB .set + .fdt). Raises ValueError saying what to do for an oversized upload or
    a file type MNE recordings do not use.
    """
    if not files:
        raise ValueError("no file was uploaded")
    total = sum(len(data) for _, data in files)
    if total > max_mb * 1024**2:
        raise ValueError(
            f"the upload is {total / 1024**2:.0f} MB; the dashboard accepts up to {max_mb:.0f} MB. "
            "Choose 'Path on this machine' in the sidebar and enter the file's path instead.")
    main = [n for n, _ in files if n.lower().endswith(RECORDING_SUFFIXES)]
    if len(main) != 1:
        names = ", ".join(n for n, _ in files)
        raise ValueError(
            f"{names}: expected one EEG recording ({', '.join(RECORDING_SUFFIXES)}) plus its "
            "companion files if the format has them (.vmrk/.eeg, .fdt). For DEAP, DREAMER or "
            "SEED choose that source and enter the folder or file path instead.")
    for name, _ in files:
        if not name.lower().endswith(RECORDING_SUFFIXES + _SIDECARS):
            raise ValueError(f"{name}: not an EEG recording or a companion file "
                             f"({', '.join(RECORDING_SUFFIXES + _SIDECARS)})")
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    target = Path(folder) / digest.hexdigest()[:16]
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        path = target / Path(name).name
        if not path.exists() or path.stat().st_size != len(data):
            path.write_bytes(data)
    return target / Path(main[0]).name


def protocol_metrics(folder: Path) -> pd.DataFrame:
    """Cross-validation accuracy per fold and protocol from a checkpoint's metrics files."""
    rows = []
    for name in ("metrics.json", "metrics_window-kfold.json"):
        path = Path(folder) / name
        if not path.exists():
            continue
        try:
            m = json.loads(path.read_text())
        except ValueError:
            continue
        for fold in m.get("folds", []):
            rows.append({"protocol": m.get("protocol", name), "fold": fold.get("fold"),
                         "accuracy": fold.get("accuracy"), "macro_f1": fold.get("macro_f1")})
    return pd.DataFrame(rows, columns=["protocol", "fold", "accuracy", "macro_f1"])
