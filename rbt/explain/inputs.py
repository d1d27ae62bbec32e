"""Checking and resolving the inputs of an attribution: windows, baselines and targets.

Imports no torch (a target is resolved with the torch the model brought).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .methods import method_record


@dataclass(frozen=True)
class Baseline:
    """What "absent" means for an attribution: a short label and a one-line meaning."""

    name: str
    label: str
    meaning: str


#: baseline name -> :class:`Baseline`
BASELINES: dict[str, Baseline] = {b.name: b for b in (
    Baseline("zeros", "zeros (no change from rest)",
             "all zeros, which for baseline-subtracted BDE (DEAP, DREAMER, the demo) means "
             "'no change from the pre-stimulus recording'."),
    Baseline("subject_mean", "the subject's mean window",
             "the subject's mean window: what is unusual about this window for this person."),
    Baseline("sample", "other windows, drawn at random",
             "other windows drawn at random (seeded), never an explained one: one per window, "
             "or a set to draw from for GradientSHAP."),
)}


def check_windows(model, X) -> np.ndarray:
    """``X`` as float32 ``(windows, E, bands)`` that fits ``model``, or a clear ValueError."""
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    e, b = model.config.num_electrodes, model.config.bde_dim
    if X.ndim != 3 or X.shape[1:] != (e, b):
        raise ValueError(f"expected windows of shape (windows, {e} electrodes, {b} bands); got "
                         f"{X.shape}")
    if not np.issubdtype(X.dtype, np.number) or not np.isfinite(X).all():
        raise ValueError("windows must be finite numbers")
    return np.ascontiguousarray(X, dtype=np.float32)


def subject_means(X: np.ndarray, subject_ids) -> dict:
    """Mean BDE ``(E, bands)`` of each subject's windows."""
    ids = np.asarray(subject_ids)
    return {s: X[ids == s].mean(axis=0) for s in np.unique(ids)}


def make_baseline(X: np.ndarray, baseline="zeros", *, method="integrated_gradients",
                  subject_ids=None, reference=None, reference_subject_ids=None, seed: int = 0,
                  n_baselines: int = 16) -> np.ndarray:
    """The baseline(s) for each window: ``(windows, E, bands)``.

    For a method that draws from a baseline set (GradientSHAP) with ``"sample"`` it is instead
    a shared set ``(n_baselines, E, bands)`` to draw from. ``baseline`` may also be an array,
    ``(E, bands)`` for every window or ``(windows, E, bands)``. ``"subject_mean"`` averages
    each subject's windows in ``reference`` (with ``reference_subject_ids``) when given, else
    in ``X``. ``method`` is a name, alias or :class:`~rbt.explain.methods.Method`.
    """
    n = len(X)
    if reference is not None:
        reference = np.asarray(reference, dtype=np.float32)
        if reference.ndim != 3 or reference.shape[1:] != X.shape[1:] or not len(reference):
            raise ValueError(f"reference must be windows of shape (n, {X.shape[1]}, "
                             f"{X.shape[2]}); got {reference.shape}")
    if not isinstance(baseline, str):
        b = np.asarray(baseline, dtype=np.float32)
        if b.shape == X.shape[1:]:
            return np.broadcast_to(b, X.shape).copy()
        if b.shape != X.shape:
            raise ValueError(f"a baseline array must have shape {X.shape[1:]} or {X.shape}; "
                             f"got {b.shape}")
        return b
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)} or an array; got "
                         f"{baseline!r}")
    if baseline == "zeros":
        return np.zeros_like(X)
    if baseline == "subject_mean":
        if subject_ids is None or len(subject_ids) != n:
            raise ValueError("baseline='subject_mean' needs subject_ids: one subject label per "
                             f"window ({n})")
        if reference is None:
            means = subject_means(X, subject_ids)
        else:
            if reference_subject_ids is None or len(reference_subject_ids) != len(reference):
                raise ValueError("subject_mean with a reference needs reference_subject_ids, "
                                 "one per reference window")
            means = subject_means(reference, reference_subject_ids)
        missing = sorted({str(s) for s in np.unique(subject_ids)} - {str(s) for s in means})
        if missing:
            raise ValueError(f"no reference windows for subject(s) {', '.join(missing)}")
        means = {str(k): v for k, v in means.items()}
        return np.stack([means[str(s)] for s in subject_ids]).astype(np.float32)
    rng = np.random.default_rng(seed)
    pool = X if reference is None else reference
    if reference is None and n < 2:
        raise ValueError("baseline='sample' draws other windows: pass more than one window or a "
                         "reference set")
    if method_record(method).baseline_set:
        return pool[rng.choice(len(pool), size=min(n_baselines, len(pool)), replace=False)]
    if reference is not None:
        return pool[rng.integers(len(pool), size=n)]
    draw = rng.integers(n - 1, size=n)
    return pool[draw + (draw >= np.arange(n))]  # never the window itself


def resolve_target(fwd, X, target, n_classes: int, batch: int):
    """Per-window class indices (a tensor): the predicted class when ``target`` is None."""
    import torch

    n = len(X)
    if target is None:
        with torch.no_grad():
            return torch.cat([fwd(X[s: s + batch]).argmax(-1) for s in range(0, n, batch)]) \
                if n else torch.zeros(0, dtype=torch.long, device=X.device)
    t = np.asarray(target.cpu() if hasattr(target, "cpu") else target)
    if t.ndim == 0:
        t = np.full(n, t)
    if t.shape != (n,) or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"target must be None, a class index or one class index per window "
                         f"({n}); got {t.dtype} array of shape {t.shape}")
    if n and (t.min() < 0 or t.max() >= n_classes):
        raise ValueError(f"target classes must be in [0, {n_classes}); got {t.min()}..{t.max()}")
    return torch.as_tensor(t, dtype=torch.long, device=X.device)


def baseline_reference(baseline, X: np.ndarray, rows=None, subject_ids=None) -> dict:
    """What :func:`~rbt.explain.attribute` needs besides ``X[rows]`` for ``baseline``: the
    keyword arguments that point it at the rest of the data.

    Parameters
    ----------
    baseline : str or ndarray
        A key of :data:`BASELINES` or an array (which needs nothing more).
    X : ndarray, shape (windows, E, bands)
        Every window at hand, the explained ones among them.
    rows : None, indices or boolean mask
        The explained windows (None: all of them).
    subject_ids : sequence, optional
        One subject per window of ``X``; needed for ``"subject_mean"``.

    Returns
    -------
    dict
        ``"subject_mean"``: ``subject_ids`` of the explained windows, and all of ``X`` with its
        subjects as the reference the means come from. ``"sample"``: the windows of ``X`` that
        are not explained as the pool to draw from, so an explained window is never a
        baseline; when every window is explained, nothing (each draws from the other
        explained windows, never itself). ``"zeros"`` or an array: nothing.
    """
    X = np.asarray(X)
    idx = np.arange(len(X))[np.asarray(rows)] if rows is not None else np.arange(len(X))
    if not isinstance(baseline, str) or baseline == "zeros":
        return {}
    if baseline == "subject_mean":
        if subject_ids is None or len(subject_ids) != len(X):
            raise ValueError(f"baseline='subject_mean' needs subject_ids: one subject label per "
                             f"window of X ({len(X)})")
        ids = np.asarray(subject_ids)
        return {"subject_ids": ids[idx], "reference": X, "reference_subject_ids": ids}
    if baseline == "sample":
        others = np.delete(X, np.unique(idx), axis=0)
        if len(others):
            return {"reference": others}
        if len(np.unique(idx)) < len(idx):
            raise ValueError("baseline='sample' draws windows other than the explained ones; "
                             "these rows explain every window, some twice, so there are none")
        return {}
    raise ValueError(f"baseline must be one of {', '.join(BASELINES)} or an array; got "
                     f"{baseline!r}")


def spread(X: np.ndarray) -> float:
    """The range of the values, robustly: 99th minus 1st percentile (0 for no windows)."""
    return float(np.subtract(*np.percentile(X, [99, 1]))) if np.size(X) else 0.0
