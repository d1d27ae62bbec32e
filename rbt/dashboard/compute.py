"""The dashboard's model computations: predictions, attention, attributions and trust
numbers, kept interactive (one torch thread for small jobs, streamed means for large ones)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
import torch

from ..infer import predict_array
from ..model import RBTransformer


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
    from ..explain import attribute

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
    from ..explain import select_attention

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
    from ..explain import trust_metrics

    attention = window_attention(model, X, device)
    with few_threads(len(X)):
        metrics = trust_metrics(model, X, attributions, method, target=target,
                                baseline=baseline, attention=attention, device=device,
                                n_perturb_samples=n_perturb_samples,
                                n_sensitivity_samples=n_sensitivity_samples, **attribute_options)
    return [{"name": m.name, "value": float(m.value), "meaning": m.meaning,
             "healthy": m.healthy, "ok": m.ok} for m in metrics.values()]
