"""Group mean maps of an explanation computed elsewhere (``rbt explain``'s .npz file, read by
:func:`~rbt.explain.load_explanation`): by true class, predicted class, subject or correctness.

Nothing is recomputed: the means are over the stored per-window maps, so a file made on a GPU
machine gives its group maps at once. Numpy only, but for :func:`group_pass`, which runs a model
once over a whole dataset for its predictions and the group sums of its BDE and attention.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .aggregate import GroupSums, _selection, aggregate

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


#: the grouping :func:`group_pass` adds: each window's predicted class
PREDICTED = "predicted"


@dataclass
class GroupPass:
    """What one pass of a model over a dataset gives: every window's probabilities and
    class, and the per-group sums (:class:`~rbt.explain.aggregate.GroupSums`) of its BDE
    (``"bde"``) and, when asked for, its attention: every block and head (``"blocks"``) and
    the rollout (``"rollout"``)."""

    probs: np.ndarray
    pred: np.ndarray
    sums: GroupSums
    stored: bool = False  # read from what rbt predict wrote (no model run)

    @property
    def nbytes(self) -> int:
        return self.probs.nbytes + self.pred.nbytes + self.sums.nbytes


class _LastAttention:
    """:func:`~rbt.infer.predict_array`'s ``attention_to``: holds the batch's attention tensor
    as the model gave it, so that it is summed without the float32 copy that
    ``attention=True`` makes of every batch."""

    att = None

    def write(self, att) -> None:
        self.att = att


def _columns(groups: Mapping[str, np.ndarray], n: int) -> list[np.ndarray]:
    columns = []
    for name, g in groups.items():
        g = np.asarray(g, dtype=object)
        if len(g) != n:
            raise ValueError(f"grouping {name!r} has {len(g)} windows and X {n}")
        columns.append(g)
    return columns


def group_pass(model, X, groups: Mapping[str, np.ndarray], *, class_names=None,
               attention: bool = True, device="auto", batch_size: int = 256,
               on_progress: Callable[[int, int], None] | None = None,
               stop: Callable[[], bool] | None = None,
               out: np.ndarray | None = None) -> GroupPass | None:
    """Predict every window of ``X`` (windows, E, bands) once and sum its BDE and attention
    per group, for every grouping at once.

    ``groups`` maps a grouping's name to each window's group in it (class, subject...); the
    predicted class (its name from ``class_names``) is added as the grouping
    :data:`PREDICTED`. Only running sums are kept, never the attention of all windows (nor a
    float64 copy of a batch's), and each window's rollout is computed once.
    ``on_progress(done, total)`` is called after each batch, by when the probabilities of the
    first ``done`` windows are in ``out`` (windows, classes) float32 when given (to show them
    while the pass goes on); when ``stop()`` turns true the pass ends early and returns None.
    """
    from ..infer import predict_array
    from .attention import attention_rollout

    names = tuple(groups) + (PREDICTED,)
    columns = _columns(groups, len(X))
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    n_classes = model.config.num_classes
    probs = np.empty((len(X), n_classes), np.float32) if out is None else out
    if probs.shape != (len(X), n_classes):
        raise ValueError(f"out must have shape {(len(X), n_classes)}; got {probs.shape}")
    pred = np.empty(len(X), np.int64)
    named = None if class_names is None else np.asarray(class_names, dtype=object)
    sums, last = GroupSums(names), _LastAttention() if attention else None
    for s in range(0, len(X), batch_size):
        if stop is not None and stop():
            return None
        xb = X[s: s + batch_size]
        p = predict_array(model, xb, device=device, batch_size=len(xb), attention_to=last)
        probs[s: s + len(xb)], pred[s: s + len(xb)] = p.probs, p.pred
        predicted = named[p.pred] if named is not None else p.pred.astype(object)
        keys = list(zip(*(c[s: s + batch_size] for c in columns), predicted))
        values = {"bde": xb}
        if attention:  # float32 (a view of the tensor on a CPU): summed per group at once
            att = last.att.float().cpu().numpy()
            values |= {"blocks": att, "rollout": attention_rollout(att)}
        sums.add(keys, **values)
        if on_progress:
            on_progress(s + len(xb), len(X))
    return GroupPass(probs, pred, sums)


def feature_sums(X, groups: Mapping[str, np.ndarray]) -> GroupSums:
    """The group sums of the BDE of every window of ``X`` in the groupings known before
    predicting (true class, subject...): no model run, so their means are there at once."""
    sums = GroupSums(tuple(groups))
    sums.add(list(zip(*_columns(groups, len(X)))), bde=X)
    return sums


def predicted_pass(X, groups: Mapping[str, np.ndarray], probs, pred, *,
                   class_names=None, attention=None, rollout=None, rows=None,
                   chunk: int = 512, on_progress: Callable[[int, int], None] | None = None,
                   stop: Callable[[], bool] | None = None) -> GroupPass | None:
    """A :class:`GroupPass` from predictions made before (say, read back from the file
    ``rbt predict`` wrote) without running the model: its BDE group sums and, given the
    attention written with them (``attention`` (n, depth, heads, E, E) and ``rollout``
    (n, E, E), arrays or :class:`~rbt.predictions_file.NpyRows`; window ``i`` is their row
    ``rows[i]``), its attention sums, read ``chunk`` windows at a time, with
    ``on_progress`` and ``stop`` as for :func:`group_pass`."""
    probs, pred = np.asarray(probs, dtype=np.float32), np.asarray(pred, dtype=np.int64)
    if not len(probs) == len(pred) == len(X):
        raise ValueError(f"X has {len(X)} windows and the predictions {len(pred)}")
    columns = _columns(groups, len(X))
    predicted = (np.asarray(class_names, dtype=object)[pred] if class_names is not None
                 else pred.astype(object))
    sums = GroupSums(tuple(groups) + (PREDICTED,))
    if (attention is None) != (rollout is None):
        raise ValueError("give both the attention and its rollout, or neither")
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    step = chunk if attention is not None else max(len(X), 1)
    for s in range(0, len(X), step):
        if stop is not None and stop():
            return None
        part = slice(s, s + step)
        keys = list(zip(*(c[part] for c in columns), predicted[part]))
        values = {"bde": X[part]}
        if attention is not None:
            r = rows[part]  # in order, as rbt predict wrote them: read as a slice
            at = (slice(r[0], r[-1] + 1) if len(r) and (np.diff(r) == 1).all() else r)
            values |= {"blocks": attention[at], "rollout": rollout[at]}
        sums.add(keys, **values)
        if on_progress:
            on_progress(min(len(X), s + step), len(X))
    return GroupPass(probs, pred, sums, stored=attention is not None)
