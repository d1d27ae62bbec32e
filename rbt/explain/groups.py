"""Group mean maps of an explanation computed elsewhere (``rbt explain``'s .npz file, read by
:func:`~rbt.explain.load_explanation`): by true class, predicted class, subject or correctness.

Nothing is recomputed: the means are over the stored per-window maps, so a file made on a GPU
machine gives its group maps at once. Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .aggregate import _selection, aggregate

#: the window table's columns a file's maps can be grouped by
GROUP_BY = ("true", "predicted", "subject", "correct")
#: the per-window maps of a file that can be averaged
GROUP_VALUES = ("attributions", "rollout")


@dataclass(frozen=True)
class GroupMaps:
    """Mean maps per group of an explanation's windows."""

    by: str  # the column grouped by
    values: str  # "attributions" (E, bands) or "rollout" (E, E)
    means: dict[str, np.ndarray]  # group -> mean map, groups in sorted order
    counts: dict[str, int]  # group -> its number of windows
    ch_names: list[str]
    bands: list[str]
    method: str
    baseline: str
    interpolated: tuple[str, ...] = ()  # the explanation's interpolated electrodes

    @property
    def n_windows(self) -> int:
        return sum(self.counts.values())


def group_maps(explanation, by: str = "true", *, values: str = "attributions",
               where=None) -> GroupMaps:
    """Mean attribution (or rollout) map per group of an explanation's windows.

    Parameters
    ----------
    explanation : Explanation
        From :func:`~rbt.explain.load_explanation` or :func:`~rbt.explain.explain_features`.
    by : str
        One of :data:`GROUP_BY`: ``"true"`` needs a file with true labels, ``"correct"`` one
        with true labels and predictions.
    values : str
        ``"attributions"`` or ``"rollout"`` (in files written with attention).
    where : None, dict or boolean mask
        Which windows count, as for :func:`~rbt.explain.aggregate`
        (``{"subject": "s01"}``, ``{"correct": True}``).
    """
    if by not in GROUP_BY:
        raise ValueError(f"by must be one of {', '.join(GROUP_BY)}; got {by!r}")
    if values not in GROUP_VALUES:
        raise ValueError(f"values must be one of {', '.join(GROUP_VALUES)}; got {values!r}")
    table = explanation.table
    if by not in table:
        why = "true labels" if by in ("true", "correct") else f"a {by} column"
        have = [c for c in GROUP_BY if c in table]
        raise ValueError(f"this explanation has no {why} to group by; it can be grouped by "
                         f"{', '.join(have) or 'nothing'}")
    maps = getattr(explanation, values)
    if maps is None:
        raise ValueError("this explanation has no attention rollout (it was made without "
                         "attention); group its attributions instead")
    means = aggregate(maps, table, by, where)
    column = table[by].reset_index(drop=True)
    counts = column[_selection(table, where)].value_counts()  # the windows of the means
    return GroupMaps(
        by=by, values=values,
        means={str(k): np.asarray(v, dtype=np.float32) for k, v in means.items()},
        counts={str(k): int(counts[k]) for k in means},
        ch_names=list(explanation.ch_names), bands=list(explanation.bands),
        method=explanation.method, baseline=explanation.baseline,
        interpolated=tuple(getattr(explanation, "interpolated", ())))


def explanation_differences(explanation, fit) -> list[str]:
    """How an explanation's model differs from a :class:`~rbt.model_fit.DataFit`'s: electrodes
    (their order too), bands and classes, one sentence each; empty when they agree, so its maps
    can be drawn beside the fit's own."""
    out = []
    if list(explanation.ch_names) != list(fit.ch_names):
        same = sorted(explanation.ch_names) == sorted(fit.ch_names)
        out.append("its electrodes are in another order" if same else
                   f"its electrodes ({len(explanation.ch_names)}: "
                   f"{', '.join(explanation.ch_names)}) are not the model's "
                   f"({len(fit.ch_names)}: {', '.join(fit.ch_names)})")
    if list(explanation.bands) != list(fit.band_names):
        out.append(f"its bands ({', '.join(explanation.bands)}) are not the model's "
                   f"({', '.join(fit.band_names)})")
    names = explanation.class_names
    if names is not None and list(names) != list(fit.class_names):
        out.append(f"its classes ({', '.join(names)}) are not the model's "
                   f"({', '.join(fit.class_names)})")
    return out
