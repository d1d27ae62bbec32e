"""Training with a chosen evaluation protocol, per-fold metrics, resume, and a final model.

Protocols (scikit-learn splitters):

* ``window-kfold``: shuffled k-fold over windows, as the paper's code. Windows overlap (stride
  117 < 512), so near-identical windows land in train and test: optimistic.
* ``trial-kfold``: whole trials held out (StratifiedGroupKFold over subject+trial).
* ``subject-out``: whole subjects held out (GroupKFold over subjects).

``per_subject=True`` trains one model per subject (the paper's "subject-dependent" wording),
splitting each subject's windows with ``window-kfold`` or ``trial-kfold``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from sklearn.metrics import confusion_matrix, f1_score
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold
from torch import nn

from . import __version__, provenance
from .cache import atomic_write_bytes
from .checkpoint import CheckpointError, save_checkpoint
from .data.labels import RULES
from .model import RBTransformer, RBTransformerConfig
from .model_card import ModelCard, Preprocessing, Score, Scores, stride_problem
from .options import DEFAULT_EPOCHS, SPLITS  # noqa: F401 (rbt.train.SPLITS, as before)
from .progress import progress_bar


@dataclass
class TrainConfig:
    """Optimiser and schedule; defaults follow the paper except the number of epochs."""

    epochs: int = DEFAULT_EPOCHS
    lr: float = 1e-3
    weight_decay: float = 1e-3
    min_lr: float = 1e-6
    label_smoothing: float = 0.12
    batch_size: int = 256
    late_batch_size: int = 64  # used for the second half of the epochs
    oversample: bool = False  # SMOTE on each training fold
    seed: int = 0
    model: dict = field(default_factory=dict)  # RBTransformerConfig overrides

    def __post_init__(self):
        for name in ("epochs", "batch_size", "late_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        for name, low, high in (("lr", 0.0, 10.0), ("weight_decay", 0.0, 10.0),
                                ("min_lr", 0.0, 10.0), ("label_smoothing", 0.0, 0.99)):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not low <= value <= high or (
                    name == "lr" and value == 0):
                raise ValueError(f"{name} must be a number from {low:g} to {high:g}"
                                 f"{' (not 0)' if name == 'lr' else ''}; got {value!r}")


def split_folds(fs, split: str, folds: int, seed: int = 0):
    """Train/test index pairs for the protocol; every group stays on one side."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    n = len(fs)
    if split == "window-kfold":
        return list(KFold(folds, shuffle=True, random_state=seed).split(np.zeros(n)))
    if split == "trial-kfold":
        groups = fs.trial_keys()
        n_groups = len(np.unique(groups))
        if n_groups < folds:
            raise ValueError(f"trial-kfold needs at least {folds} trials; found {n_groups}")
        splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(n), fs.y, groups))
    groups = fs.table["subject"].astype(str).to_numpy()
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError("subject-out needs at least 2 subjects; found 1")
    return list(GroupKFold(min(folds, n_groups)).split(np.zeros(n), fs.y, groups))


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)


#: the initial weights and dropout draw from torch's global generator, which a process's
#: threads share: one model trains at a time per process (a Dask worker running several
#: tasks in threads), so each is seeded by ``cfg.seed`` alone, whatever runs beside it
_GLOBAL_GENERATOR = threading.RLock()


def train_model(X: np.ndarray, y: np.ndarray, n_classes: int, cfg: TrainConfig,
                device, desc: str = "train", progress: bool = True,
                inner: bool = False) -> RBTransformer:
    """Train one RBTransformer on windows ``X`` with labels ``y``, seeded by ``cfg.seed``."""
    with _GLOBAL_GENERATOR:
        return _train_model(X, y, n_classes, cfg, device, desc, progress, inner)


def _train_model(X, y, n_classes, cfg, device, desc, progress, inner) -> RBTransformer:
    _seed_everything(cfg.seed)
    if cfg.oversample:
        X, y = _smote(X, y, cfg.seed)
    model_cfg = RBTransformerConfig(num_electrodes=X.shape[1], bde_dim=X.shape[2],
                                    num_classes=n_classes, **cfg.model)
    model = RBTransformer(model_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1),
                                                       eta_min=cfg.min_lr)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.long, device=device)
    gen = torch.Generator().manual_seed(cfg.seed)
    bar = progress_bar(range(cfg.epochs), desc=desc, unit="epoch", leave=False, inner=inner,
                       disable=not progress)
    for epoch in bar:
        model.train()
        bs = cfg.batch_size if epoch < cfg.epochs / 2 else cfg.late_batch_size
        order = torch.randperm(len(Xt), generator=gen).to(device)
        total = 0.0
        for s in range(0, len(order), bs):
            idx = order[s: s + bs]
            loss = loss_fn(model(Xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        bar.set_postfix(loss=f"{total / len(Xt):.3f}")
    return model.eval()


def _smote(X, y, seed):
    try:
        from imblearn.over_sampling import SMOTE
    except ImportError as err:
        raise ImportError("oversampling needs imbalanced-learn: pip install 'rbt[train]'") from err
    counts = np.bincount(y)
    k = int(min(5, counts[counts > 0].min() - 1))
    if k < 1 or len(counts[counts > 0]) < 2:
        return X, y
    Xr, yr = SMOTE(random_state=seed, k_neighbors=k).fit_resample(X.reshape(len(X), -1), y)
    return Xr.reshape(-1, *X.shape[1:]).astype(np.float32), yr


def evaluate(model, X, y, n_classes, device) -> dict:
    from .infer import predict_array

    pred = predict_array(model, X, device=device).pred
    return {
        "accuracy": float((pred == y).mean()),
        "macro_f1": float(f1_score(y, pred, average="macro", labels=list(range(n_classes)),
                                   zero_division=0)),
        "confusion": confusion_matrix(y, pred, labels=list(range(n_classes))).tolist(),
        "n_test": int(len(y)),
    }


def fold_task(X: np.ndarray, y: np.ndarray, train, test, n_classes: int, cfg: TrainConfig,
              device, keep_model: bool = False, desc: str = "train",
              progress: bool = False, inner: bool = True):
    """One task of :func:`fit`: train on the windows ``train`` (None: all), evaluate on
    ``test`` (None: no scores, else with ``device``: the type of device they were computed
    on). Returns ``(scores, model)``; the model (on the CPU) only with ``keep_model``. The
    same call in-process and as a Dask task, so both give the same; ``device`` ("auto",
    "cuda", ... or a torch device) is resolved where it runs."""
    from .device import resolve_device

    dev = resolve_device(device)
    Xtr, ytr = (X, y) if train is None else (X[train], y[train])
    model = train_model(Xtr, ytr, n_classes, cfg, dev, desc=desc, progress=progress,
                        inner=inner)
    scores = None if test is None else {
        "n_train": int(len(Xtr)), **evaluate(model, X[test], y[test], n_classes, dev),
        "device": dev.type}
    return scores, (model.cpu() if keep_model else None)


def _summary(folds: list[dict]) -> dict:
    out = {}
    for key in ("accuracy", "macro_f1"):
        vals = np.array([f[key] for f in folds])
        out[key] = {"mean": float(vals.mean()), "std": float(vals.std())}
    return out


def fit(fs, *, split: str = "trial-kfold", folds: int = 5, per_subject: bool = False,
        config: TrainConfig | None = None, device="auto", out=None,
        keep_fold_models: bool = False, overwrite: bool = False, progress: bool = True,
        command: str | None = None, train_final: bool = True,
        cluster=None) -> tuple[RBTransformer, dict]:
    """Cross-validate under ``split``, then train the final model on all data.

    With ``out``, writes the checkpoint (config.json, model.safetensors, rbt_metadata.json) and
    metrics.json there, and keeps progress so that an interrupted run resumes after the last
    finished fold. Returns ``(final model, metrics)``; with ``train_final=False`` only the
    cross-validation runs (the model is None and only metrics.json is written).

    With ``cluster`` (:func:`rbt.cluster.connect`) each fold, and the final model, is one Dask
    task (asking for a GPU when the device is cuda, or "auto" on a cluster with GPU workers);
    every fold is computed by :func:`fold_task` either way, seeded by ``config.seed`` alone, so
    the metrics are the same. On a cluster ``device`` is resolved on the workers, never here
    (:func:`rbt.cluster.task_device`), and the final model comes back on the CPU, since this
    machine may lack the workers' device (in-process it is on ``device``): move it with
    ``model.to(...)``. Each fold's scores say which device type computed them (``device``).
    """
    cfg = config or TrainConfig()
    if fs.y is None:
        raise ValueError("these features have no labels; choose a target to train on")
    if per_subject and split == "subject-out":
        raise ValueError("per-subject training cannot hold subjects out; use window-kfold or "
                         "trial-kfold")
    window, stride = fs.params.get("window"), fs.params.get("stride")
    if window and stride and (problem := stride_problem(int(window), int(stride))):
        raise ValueError(f"stride {stride} is too small for a checkpoint: it must be {problem}")
    from .cluster import run_tasks, task_device

    dev = task_device(device, cluster)  # in-process resolved here; on a cluster, a name
    n_classes = fs.n_classes
    out = _writable_folder(Path(out)) if out else None
    run_key = _run_key(fs, split, folds, per_subject, cfg)
    state = _load_progress(out, run_key, overwrite, train_final, keep_fold_models)
    plan = _plan(fs, split, folds, per_subject, cfg.seed)
    todo = [i for i in range(len(plan)) if str(i) not in state["folds"]]
    keep = bool(out and keep_fold_models)
    common = {"n_classes": n_classes, "cfg": cfg, "keep_model": keep}

    def finished(k: int, done: tuple) -> dict:
        i = todo[k]
        subject, tr, _ = plan[i]
        scores, model = done
        state["folds"][str(i)] = {"fold": i + 1, "subject": subject, **scores}
        if keep:
            save_checkpoint(model, out / "folds" / f"fold_{i + 1}",
                            _card(fs, split, cfg, None, rows=tr), overwrite=True)
        _save_progress(out, state)
        return {"fold": i + 1, "acc": f"{scores['accuracy']:.3f}"}  # the finished one

    run_tasks(cluster, fold_task, [{**common, "train": plan[i][1], "test": plan[i][2],
                                    "desc": f"fold {i + 1}"} for i in todo],
              shared={"X": fs.X, "y": fs.y}, device=dev, desc=f"{split} folds",
              unit="fold", progress=progress, on_done=finished,
              in_process={"progress": progress, "inner": True}, total=len(plan))
    fold_results = [state["folds"][str(i)] for i in range(len(plan))]
    metrics = {
        "protocol": split, "per_subject": per_subject, "folds_requested": folds,
        "folds": fold_results, **_summary(fold_results),
        "target": fs.target, "task": fs.task, "class_names": fs.class_names,
        "n_windows": len(fs), "n_subjects": int(fs.table["subject"].nunique()),
        "train_config": asdict(cfg), "rbt_version": __version__,
        "command": command or " ".join(sys.argv), "run_key": run_key,
    }
    final = None
    if train_final:
        [(_, final)] = run_tasks(
            cluster, fold_task, [{**common, "keep_model": True, "train": None, "test": None,
                                  "desc": "final model (all data)"}],
            shared={"X": fs.X, "y": fs.y}, device=dev, desc="final model",
            unit="model", progress=progress and cluster is not None,
            in_process={"progress": progress, "inner": False})
        final = final.to(dev) if cluster is None else final
    if out:
        _save_results(out, final, _card(fs, split, cfg, metrics), metrics)
    return final, metrics


def _writable_folder(out: Path) -> Path:
    """Check before any training that ``out`` is (or can become) a folder rbt can write in."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out}: is not a folder; --out names the checkpoint folder "
                                 "to write")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out, prefix=".rbt-write-check-")
        probe.close()
    except OSError as err:
        raise OSError(f"{out}: cannot write there ({err.strerror or err}); choose another "
                      "--out") from err
    return out


def _save_results(out: Path, final, card: ModelCard, metrics: dict) -> None:
    """Write the final model and metrics.json; if that fails (a full disk), save them to a new
    folder in the temporary directory instead and say where, so the trained model is kept."""
    def write(folder: Path) -> None:
        if final is not None:
            save_checkpoint(final, folder, card, overwrite=True)
        atomic_write_bytes(folder / "metrics.json", json.dumps(metrics, indent=2).encode())

    try:
        write(out)
    except (OSError, CheckpointError, SafetensorError) as err:
        reason = getattr(err, "strerror", None) or err
        try:
            rescue = Path(tempfile.mkdtemp(prefix=f"rbt-rescued-{out.name}-"))
            write(rescue)
        except (OSError, CheckpointError, SafetensorError) as again:
            raise OSError(
                f"{out}: could not write the trained model ({reason}), nor a rescue copy in "
                f"{tempfile.gettempdir()} ({getattr(again, 'strerror', None) or again}). The "
                f"cross-validation results are kept in {out / 'progress.json'}: free some space "
                "and run the same command again to train only the final model.") from err
        raise OSError(
            f"{out}: could not write the trained model ({reason}). It was saved to {rescue} "
            "instead (the checkpoint and metrics.json): move that folder where you want it."
        ) from err
    (out / "progress.json").unlink(missing_ok=True)


def _plan(fs, split, folds, per_subject, seed):
    if not per_subject:
        return [(None, tr, te) for tr, te in split_folds(fs, split, folds, seed)]
    plan = []
    for subject in sorted(fs.table["subject"].astype(str).unique()):
        idx = np.flatnonzero(fs.table["subject"].astype(str).to_numpy() == subject)
        for tr, te in split_folds(fs.subset(idx), split, folds, seed):
            plan.append((subject, idx[tr], idx[te]))
    return plan


def _run_key(fs, split, folds, per_subject, cfg) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(fs.X).tobytes())
    h.update(np.ascontiguousarray(fs.y).tobytes())
    h.update(json.dumps([split, folds, per_subject, asdict(cfg), __version__]).encode())
    return h.hexdigest()[:24]


def _load_progress(out: Path | None, run_key: str, overwrite: bool, train_final: bool = True,
                   keep_fold_models: bool = False) -> dict:
    fresh = {"run_key": run_key, "folds": {}}
    if out is None:
        return fresh
    holds_model = any((out / name).exists() for name in ("config.json", "model.safetensors"))
    if holds_model and not overwrite:
        raise FileExistsError(f"{out} already holds a trained model; choose another --out or "
                              "pass --overwrite")
    if not holds_model and not overwrite and (out / "metrics.json").exists():
        # a --cv-only run: with the same data and settings, keep its folds and train the final
        # model (fold models were not kept, so asking for them means cross-validating again)
        try:
            done = json.loads((out / "metrics.json").read_text())
        except ValueError:
            done = {}
        if (done.get("run_key") == run_key and done.get("folds") and train_final
                and not keep_fold_models):
            print(f"{out}: cross-validation already done (metrics.json); training the final "
                  "model only", file=sys.stderr)
            return {"run_key": run_key, "folds": {str(i): f for i, f in enumerate(done["folds"])}}
        raise FileExistsError(
            f"{out} already holds cross-validation results (metrics.json) "
            + ("of this run; pass --overwrite to redo them" if done.get("run_key") == run_key
               else "of other data or settings; choose another --out or pass --overwrite"))
    path = out / "progress.json"
    if path.exists():
        try:
            state = json.loads(path.read_text())
        except ValueError:
            return fresh
        if state.get("run_key") == run_key:
            done = len(state.get("folds", {}))
            if done:
                print(f"resuming {out}: {done} fold(s) already finished", file=sys.stderr)
            return state
        if not overwrite:
            raise FileExistsError(f"{out} holds an unfinished run with other data or settings; "
                                  "choose another --out or pass --overwrite")
    return fresh


def _save_progress(out: Path | None, state: dict) -> None:
    if out is not None:
        atomic_write_bytes(out / "progress.json", json.dumps(state).encode())


def _band_pass(value) -> tuple[float, float] | None:
    """The features' band-pass (:func:`rbt.data.preprocess.feature_params`), as the card's."""
    return None if value is None else (float(value[0]), float(value[1]))


def _card(fs, split, cfg, metrics, rows=None) -> ModelCard:
    """What a checkpoint knows about its data; ``rows`` are the windows it was trained on
    (default: all), fingerprinted per trial (see :mod:`rbt.provenance`)."""
    rule = RULES.get(fs.dataset)
    scores = None if metrics is None else Scores(
        protocol=metrics["protocol"],
        **{k: Score(metrics[k]["mean"], metrics[k]["std"]) for k in ("accuracy", "macro_f1")})
    return ModelCard(
        rbt_version=__version__,
        ch_names=tuple(fs.ch_names),
        bands={k: tuple(v) for k, v in fs.bands.items()},
        sfreq=fs.sfreq,
        preprocessing=Preprocessing(**{k: fs.params.get(k) for k in
                                       ("window", "stride", "order", "filter_sfreq", "sfreq",
                                        "reference")},
                                    band_pass=_band_pass(fs.params.get("band_pass"))),
        dataset=fs.dataset,
        target=fs.target,
        task=fs.task,
        class_names=None if fs.class_names is None else tuple(fs.class_names),
        label_rule=rule.description if rule else "annotation description",
        split=split,
        train_config=asdict(cfg),
        scores=scores,
        training_trials=provenance.fingerprints(fs, rows),
    )
