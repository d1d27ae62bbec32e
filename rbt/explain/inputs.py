"""Checking and resolving the inputs of an attribution: windows, baselines and targets."""

from __future__ import annotations

import numpy as np
import torch

#: baseline name -> one-line description
BASELINES: dict[str, str] = {
    "zeros": "all zeros: for baseline-subtracted BDE (DEAP, DREAMER, the demo) this is 'no "
    "change from the pre-stimulus recording'",
    "subject_mean": "each window's subject's mean BDE: what is unusual about this window for "
    "this person",
    "sample": "other windows drawn at random (seeded): one per window, or a set of them for "
    "GradientSHAP",
}


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


def make_baseline(X: np.ndarray, baseline="zeros", *, method: str = "integrated_gradients",
                  subject_ids=None, reference=None, reference_subject_ids=None, seed: int = 0,
                  n_baselines: int = 16) -> np.ndarray:
    """The baseline(s) for each window: ``(windows, E, bands)``.

    For GradientSHAP with ``"sample"`` it is instead a shared set ``(n_baselines, E, bands)``
    to draw from. ``baseline`` may also be an array, ``(E, bands)`` for every window or
    ``(windows, E, bands)``. ``"subject_mean"`` averages each subject's windows in
    ``reference`` (with ``reference_subject_ids``) when given, else in ``X``.
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
    if method == "gradient_shap":
        return pool[rng.choice(len(pool), size=min(n_baselines, len(pool)), replace=False)]
    if reference is not None:
        return pool[rng.integers(len(pool), size=n)]
    draw = rng.integers(n - 1, size=n)
    return pool[draw + (draw >= np.arange(n))]  # never the window itself


def resolve_target(fwd, X: torch.Tensor, target, n_classes: int, batch: int) -> torch.Tensor:
    """Per-window class indices: the predicted class when ``target`` is None."""
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


def spread(X: np.ndarray) -> float:
    """The range of the values, robustly: 99th minus 1st percentile (0 for no windows)."""
    return float(np.subtract(*np.percentile(X, [99, 1]))) if np.size(X) else 0.0
