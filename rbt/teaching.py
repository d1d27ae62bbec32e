"""The steps from raw EEG to a prediction, one window at a time, for the teaching page.

Each function repeats one step of the feature pipeline (:mod:`rbt.data.features`) or of the
model's first layers, for a single trial or window, exposing what the pipeline does not keep:
the filtered signals, the baseline's BDE, the token embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import signal

from .bde import design_band_pass, differential_entropy
from .data import Recording, deap, demo
from .data.features import DEFAULT_STRIDE, DEFAULT_WINDOW, baseline_segment, zscore_windows
from .montage import name_order


def demo_recording(subject: str) -> Recording:
    """One demo subject's raw trials (``subject`` as in the feature table, e.g. "s01")."""
    number = int("".join(ch for ch in str(subject) if ch.isdigit()) or 0)
    path = Path(demo.demo_dir()) / f"s{number:02d}.dat"
    if not path.exists():
        raise ValueError(f"the demo has no subject {subject!r}; it has s01 to "
                         f"s{demo.N_SUBJECTS:02d}")
    rec = deap.read_file(path, dataset="demo")
    rec.dataset = "demo"
    return rec


@dataclass
class WindowSteps:
    """One window through the feature pipeline."""

    raw: np.ndarray  # (C, n) the window as recorded
    zscored: np.ndarray  # (C, n) z-scored over all channels together
    filtered: dict[str, np.ndarray]  # band -> (C, n), causal band-pass from zero state
    de: np.ndarray  # (C, bands) differential entropy of the window
    baseline_de: np.ndarray | None  # (C, bands) of the trial's 1-s mean baseline segment
    token: np.ndarray  # (C, bands) de - baseline_de: what the model reads
    start: int  # first sample of the window in the trial's signal


def window_steps(rec: Recording, trial: int, window: int, bands: dict, *,
                 length: int = DEFAULT_WINDOW, stride: int = DEFAULT_STRIDE,
                 order: int = 5) -> WindowSteps:
    """Repeat the pipeline for one window of one trial (``trial`` 1-based, ``window`` 0-based),
    with the features' window ``length`` and ``stride`` (``fs.params``)."""
    tr = next((t for t in rec.trials if t.trial == trial), None)
    if tr is None:
        raise ValueError(f"{rec.source} has no trial {trial}")
    start = tr.start + window * stride
    if window < 0 or start + length > tr.signal.shape[1]:
        raise ValueError(f"trial {trial} has no window {window}")
    raw = np.asarray(tr.signal[:, start: start + length], dtype=np.float64)
    z = zscore_windows(raw[None])[0]
    filtered = {}
    for name, (lo, hi) in bands.items():
        b, a = design_band_pass(lo, hi, rec.sfreq, order)
        filtered[name] = signal.lfilter(b, a, z, axis=-1)  # causal, from zero state
    de = np.stack([differential_entropy(f) for f in filtered.values()], axis=-1)
    base = None
    if tr.baseline is not None:
        seg = zscore_windows(baseline_segment(np.asarray(tr.baseline, np.float64),
                                              rec.sfreq)[None])[0]
        base = np.stack([differential_entropy(signal.lfilter(*design_band_pass(lo, hi, rec.sfreq,
                                                                               order), seg))
                         for lo, hi in bands.values()], axis=-1)
    token = de - base if base is not None else de
    return WindowSteps(raw=raw, zscored=z, filtered=filtered, de=de, baseline_de=base,
                       token=token, start=start)


def in_order(values: np.ndarray, names: list[str], order: list[str]) -> np.ndarray:
    """Rows of ``values`` (one per channel in ``names``) rearranged to ``order`` (e.g. the
    model's electrode order), matching names as the montage does (case, aliases)."""
    return values[name_order(names, order)]


def token_embeddings(model, x: np.ndarray) -> np.ndarray:
    """(E, embed_dim): each electrode's BDE projected, plus its identity embedding (as the
    model's first two steps, without dropout)."""
    model = model.eval()
    with torch.inference_mode():
        xt = torch.as_tensor(np.asarray(x, np.float32)[None], device=_device(model))
        return model.electrode_id_embedding(model.bde_proj_layer(xt))[0].float().cpu().numpy()


def identity_similarity(model) -> np.ndarray:
    """(E, E) cosine similarity of the learned electrode identity embeddings."""
    with torch.inference_mode():
        e = model.electrode_id_embedding.embedding[0].float().cpu()
        e = e / e.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return (e @ e.T).numpy()


def _device(model) -> torch.device:
    return next(model.parameters()).device


@dataclass
class IdentityLayout:
    """How the identity embeddings' similarities relate to where the electrodes sit."""

    pairs: list[tuple[str, str]]  # every pair of electrodes once
    distance: np.ndarray  # (pairs,) distance on the 2-D scalp layout (head radius ~0.095)
    similarity: np.ndarray  # (pairs,) cosine similarity of their identity embeddings
    spread: float  # standard deviation of the similarities
    random_spread: float  # what vectors drawn at random would give: 1 / sqrt(embed_dim)
    rank_correlation: float  # Spearman correlation of similarity with distance


def identity_layout(model, ch_names: list[str]) -> IdentityLayout:
    """Compare each pair of electrodes' identity similarity with their distance on the scalp:
    whether the model learned that neighbours are alike (a negative correlation), and whether
    the identities are further from orthogonal than random vectors of their size."""
    from scipy.stats import spearmanr

    from .montage import positions_2d

    sim = identity_similarity(model)
    pos = positions_2d(list(ch_names))
    i, j = np.triu_indices(len(ch_names), 1)
    distance = np.linalg.norm(pos[i] - pos[j], axis=1)
    similarity = sim[i, j]
    dim = model.electrode_id_embedding.embedding.shape[-1]
    rho = float(spearmanr(similarity, distance).statistic) if len(i) > 2 else float("nan")
    return IdentityLayout(pairs=[(ch_names[a], ch_names[b]) for a, b in zip(i, j)],
                          distance=distance, similarity=similarity,
                          spread=float(np.std(similarity)), random_spread=float(dim ** -0.5),
                          rank_correlation=rho)
