"""Label rules: how each dataset's ratings become binary or multi-class targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LabelRule:
    targets: tuple[str, ...]
    default_target: str
    binary_threshold: float | None  # rating >= threshold -> class 1 ("high")
    multi_classes: tuple[str, ...]
    multi_offset: float  # class = floor(rating) - offset
    description: str
    rating_range: tuple[float, float]  # the ratings the dataset's scale allows
    integer_ratings: bool = False  # the scale has whole numbers only

    def classes(self, task: str) -> list[str]:
        return ["low", "high"] if task == "binary" else list(self.multi_classes)


class LabelError(ValueError):
    """Ratings that cannot become classes: not numbers, or outside the dataset's scale."""


_DEAP = LabelRule(
    targets=("valence", "arousal", "dominance", "liking"),
    default_target="valence",
    binary_threshold=5.0,
    multi_classes=tuple(str(i) for i in range(1, 10)),
    multi_offset=1.0,
    description="binary: rating >= 5 is high; multi: int(rating) - 1 (9 classes)",
    rating_range=(1.0, 9.0),
)

RULES: dict[str, LabelRule] = {
    "deap": _DEAP,
    "demo": _DEAP,
    "dreamer": LabelRule(
        targets=("valence", "arousal", "dominance"),
        default_target="valence",
        binary_threshold=3.0,
        multi_classes=tuple(str(i) for i in range(1, 6)),
        multi_offset=1.0,
        description="binary: rating >= 3 is high; multi: rating - 1 (5 classes)",
        rating_range=(1.0, 5.0),
        integer_ratings=True,
    ),
    "seed": LabelRule(
        targets=("emotion",),
        default_target="emotion",
        binary_threshold=None,
        multi_classes=("negative", "neutral", "positive"),
        multi_offset=-1.0,
        description="multi: label + 1, so negative/neutral/positive are 0/1/2",
        rating_range=(-1.0, 1.0),
        integer_ratings=True,
    ),
}


def make_labels(dataset: str, table, target: str | None, task: str | None):
    """Class indices, class names, target and task used, from the ratings in ``table``.

    ``task=None`` means binary where the dataset has a binary rule, else multi.

    ``dataset`` "raw" uses the ``annotation`` column (the event or annotation description) as
    the class, in sorted order.
    """
    rule = RULES.get(dataset)
    target = target.strip().lower() if isinstance(target, str) else target  # "Valence" too
    task = task.strip().lower() if isinstance(task, str) else task
    if task is None:
        task = "multi" if rule is None or rule.binary_threshold is None else "binary"
    if task not in ("binary", "multi"):
        raise ValueError(f"task must be 'binary' or 'multi'; got {task!r}")
    if dataset == "raw":
        if target not in (None, "annotation"):
            raise ValueError(f"MNE recordings have one target, 'annotation'; got {target!r}")
        if "annotation" not in table or table["annotation"].isna().all():
            return None, None, None, None
        names = sorted(table["annotation"].astype(str).unique())
        if task == "binary" and len(names) != 2:
            raise ValueError(
                f"a binary task needs exactly 2 annotation kinds; found {len(names)}: "
                f"{', '.join(names)}. Use task='multi'."
            )
        y = np.searchsorted(names, table["annotation"].astype(str).to_numpy())
        return y.astype(np.int64), names, "annotation", task
    target = target or rule.default_target
    if target not in rule.targets:
        raise ValueError(
            f"{dataset} has targets {', '.join(rule.targets)}; got {target!r}"
        )
    ratings = _checked_ratings(dataset, rule, table, target)
    if task == "binary":
        if rule.binary_threshold is None:
            raise ValueError(
                f"{dataset} {target} has no binary rule ({rule.description}); use task='multi'"
            )
        y = (ratings >= rule.binary_threshold).astype(np.int64)
    else:
        y = np.floor(ratings).astype(np.int64) - int(rule.multi_offset)
    return y, rule.classes(task), target, task


def _checked_ratings(dataset: str, rule: LabelRule, table, target: str) -> np.ndarray:
    """The ``target`` ratings as floats; a :class:`LabelError` names the trials whose ratings
    are not numbers or lie outside the dataset's scale (never clipped or guessed)."""
    ratings = pd.to_numeric(table[target], errors="coerce").to_numpy(dtype=float)
    lo, hi = rule.rating_range
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(ratings) | (ratings < lo) | (ratings > hi)
        if rule.integer_ratings:
            bad |= ratings != np.round(ratings)
    if not bad.any():
        return ratings
    missing = missing_ratings(table, target)
    what = (" Pass nonfinite='drop' (--nonfinite drop) to leave out the trials whose rating "
            "is missing." if missing.any() else " rbt does not clip or round ratings.")
    raise LabelError(
        f"{_where(table, bad)}: {target} rating(s) {_values(table[target], bad)} are not "
        f"{'whole ' if rule.integer_ratings else ''}numbers from {lo:g} to {hi:g}, as "
        f"{dataset} ratings are ({rule.description}).{what}")


def missing_ratings(table, target: str | None) -> np.ndarray:
    """Per window: is its ``target`` rating missing (NaN or None)?"""
    if target is None or target not in table:
        return np.zeros(len(table), bool)
    return table[target].isna().to_numpy()


def trials_named(table, mask) -> str:
    """``recording subject s01 trial 3, ...`` for the trials of the windows in ``mask``."""
    return _where(table, mask)


def _where(table, mask) -> str:
    cols = [c for c in ("recording", "subject", "trial") if c in table]
    rows = table.loc[np.asarray(mask), cols].drop_duplicates()
    parts = [" ".join(f"{'' if c == 'recording' else c + ' '}{r[c]}" for c in cols)
             for _, r in rows.head(5).iterrows()]
    more = f" and {len(rows) - 5} more trial(s)" if len(rows) > 5 else ""
    return "; ".join(parts) + more


def _values(column, mask) -> str:
    values = pd.unique(column[np.asarray(mask)])
    return ", ".join(f"{float(v):g}" if isinstance(v, int | float | np.number) else repr(v)
                     for v in values[:5]) + (" ..." if len(values) > 5 else "")
