"""What if: one window with some electrodes, bands or a region removed or scaled, predicted again.

An edit picks cells of the ``(E, bands)`` window (:func:`edit_cells`) and moves them towards a
baseline (:data:`~rbt.explain.inputs.BASELINES`): ``scale=0`` replaces them by the baseline
(removes them), ``scale=1`` leaves them as they are, ``scale=2`` doubles their difference from
the baseline. The original and the edited window are predicted in one batch, with attention.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..infer import predict_array
from ..montage import LOBES, REGIONS, SIDES, canonical_name, electrode_regions
from .attention import select_attention
from .inputs import baseline_reference, make_baseline


@dataclass(frozen=True)
class WhatIf:
    """One window before and after an edit (electrodes and bands in the model's order)."""

    window: int  # the window's row in ``fit.X``
    cells: np.ndarray  # (E, bands) bool: the edited cells
    electrodes: tuple[str, ...]  # the edited electrodes (rows of ``cells`` with any edit)
    bands: tuple[str, ...]  # the edited bands (columns with any edit)
    scale: float  # 0: removed (replaced by the baseline)
    baseline: str  # the baseline's name ("array" for one given as an array)
    x: np.ndarray  # (E, bands) the window as it is
    edited_x: np.ndarray  # (E, bands) the window edited
    probs: np.ndarray  # (classes,) before
    edited_probs: np.ndarray  # (classes,) after
    change: np.ndarray  # (classes,) edited_probs - probs
    attention: np.ndarray  # (depth, heads, E, E) before
    edited_attention: np.ndarray  # (depth, heads, E, E) after
    ch_names: list[str]
    band_names: list[str]
    class_names: list[str]

    @property
    def changed(self) -> bool:
        """Did the edit change the window at all?"""
        return bool(self.cells.any()) and not np.array_equal(self.x, self.edited_x)

    def maps(self, block="rollout", head="mean") -> tuple[np.ndarray, np.ndarray]:
        """The ``(E, E)`` attention map before and after, of one block and head (or their mean,
        or the rollout; see :func:`~rbt.explain.select_attention`)."""
        return (select_attention(self.attention, block, head),
                select_attention(self.edited_attention, block, head))


def _as_names(value, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) and not isinstance(value, (set, frozenset, np.ndarray)):
        raise ValueError(f"{what} must be a name or a list of names; got {type(value).__name__}")
    return [str(v) for v in value]


def _match(asked: list[str], valid: Sequence[str], what: str, key) -> list[int]:
    table = {key(v): i for i, v in enumerate(valid)}
    unknown = [a for a in asked if key(a) not in table]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}; expected one of "
                         f"{', '.join(valid)}")
    return [table[key(a)] for a in asked]


def _electrode_key(name: str) -> str:
    return (canonical_name(name) or str(name)).lower()


def edit_cells(ch_names: Sequence[str], band_names: Sequence[str], *, electrodes=(),
               bands=(), regions=()) -> np.ndarray:
    """The ``(E, bands)`` cells an edit touches: the chosen electrodes x the chosen bands.

    ``electrodes`` (names, matched as the montage does) and the electrodes of ``regions``
    (:data:`~rbt.montage.REGIONS`: any of the lobes named and any of the sides named, so
    ``["frontal", "temporal", "left"]`` is the left frontal and left temporal electrodes)
    together give the rows, every electrode when neither is given; ``bands`` the
    columns, every band when none is given. Nothing given: no cell. A ValueError names the
    valid choices for an unknown name, and says so when the regions hold none of the electrodes.
    """
    ch_names, band_names = [str(c) for c in ch_names], [str(b) for b in band_names]
    rows = _match(_as_names(electrodes, "electrodes"), ch_names, "electrode(s)", _electrode_key)
    region_names = _as_names(regions, "regions")
    _match(region_names, REGIONS, "region(s)", str.lower)
    if region_names:
        by_region = electrode_regions(ch_names)
        inside = set(range(len(ch_names)))
        for kind in (LOBES, SIDES):  # either of the lobes, and either of the sides
            chosen = [r.lower() for r in region_names if r.lower() in kind]
            if chosen:
                inside &= {ch_names.index(n) for r in chosen for n in by_region[r]}
        if not inside:
            raise ValueError("none of the model's electrodes is in the regions "
                             f"{', '.join(region_names)} (a lobe named there and a side)")
        rows += sorted(inside)
    cols = _match(_as_names(bands, "bands"), band_names, "band(s)", str.lower)
    cells = np.zeros((len(ch_names), len(band_names)), dtype=bool)
    if not rows and not cols and not region_names:
        return cells
    cells[np.ix_(rows or list(range(len(ch_names))), cols or list(range(len(band_names))))] = True
    return cells


def _check_scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise ValueError(f"scale must be a number >= 0; got {scale!r}")
    if not math.isfinite(float(scale)) or scale < 0:
        raise ValueError(f"scale must be finite and >= 0 (0 removes, 1 keeps); got {scale!r}")
    return float(scale)


def edit_window(x: np.ndarray, cells: np.ndarray, base: np.ndarray,
                scale: float = 0.0) -> np.ndarray:
    """``x`` with ``cells`` moved to ``base + scale * (x - base)``; ``scale=0`` puts the
    baseline there exactly."""
    scale = _check_scale(scale)
    moved = base if scale == 0 else base + np.float32(scale) * (x - base)
    return np.where(cells, moved, x).astype(np.float32)


def what_if(fit, window: int, *, electrodes=(), bands=(), regions=(), scale: float = 0.0,
            baseline="zeros", seed: int = 0, device="auto", model=None) -> WhatIf:
    """Predict window ``window`` of a :class:`~rbt.model_fit.DataFit` as it is and edited.

    Parameters
    ----------
    fit : DataFit
        A runnable fit (``fit.X`` in the model's electrode order).
    window : int
        The window's row in ``fit.X`` (as in :func:`rbt.infer.prediction_table`).
    electrodes, bands, regions
        What to edit; see :func:`edit_cells`.
    scale : float
        0 removes the cells (the baseline's values), 1 keeps them, others scale their
        difference from the baseline. Finite and >= 0.
    baseline : str or ndarray
        ``"zeros"``, ``"subject_mean"`` (the mean of the window's subject's windows),
        ``"sample"`` (another window, drawn with ``seed``) or an ``(E, bands)`` array.
    model : the model to run (default: the fit's own), e.g. a copy already on ``device``.

    Returns
    -------
    WhatIf
        Probabilities and attention before and after, their change and the edited cells.
    """
    fit.require_runnable()
    X = fit.X
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or not (
            0 <= window < len(X)):
        raise ValueError(f"window must be a row of the data, an integer in [0, {len(X)}); "
                         f"got {window!r}")
    window = int(window)
    cells = edit_cells(fit.ch_names, fit.band_names, electrodes=electrodes, bands=bands,
                       regions=regions)
    scale = _check_scale(scale)
    x = np.asarray(X[window], dtype=np.float32)
    if isinstance(baseline, str):
        subjects = fit.table["subject"].to_numpy() if "subject" in fit.table else None
        reference = baseline_reference(baseline, X, rows=[window], subject_ids=subjects)
        base = make_baseline(X[[window]], baseline, seed=seed, **reference)[0]
        name = baseline
    else:
        base = make_baseline(X[[window]], baseline)[0]
        name = "array"
    edited = edit_window(x, cells, base, scale)
    same = np.array_equal(edited, x)  # one row then: nothing changed means exactly nothing
    pred = predict_array(fit.model if model is None else model,
                         x[None] if same else np.stack([x, edited]), device=device,
                         attention=True)
    after = 0 if same else 1
    rows, cols = cells.any(axis=1), cells.any(axis=0)
    return WhatIf(
        window=window, cells=cells,
        electrodes=tuple(n for n, r in zip(fit.ch_names, rows) if r),
        bands=tuple(b for b, c in zip(fit.band_names, cols) if c), scale=scale, baseline=name,
        x=x, edited_x=edited, probs=pred.probs[0], edited_probs=pred.probs[after],
        change=pred.probs[after] - pred.probs[0], attention=pred.attention[0],
        edited_attention=pred.attention[after], ch_names=list(fit.ch_names),
        band_names=list(fit.band_names), class_names=list(fit.class_names))
