"""Label rules: how each dataset's ratings become binary or multi-class targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelRule:
    targets: tuple[str, ...]
    default_target: str
    binary_threshold: float | None  # rating >= threshold -> class 1 ("high")
    multi_classes: tuple[str, ...]
    multi_offset: float  # class = floor(rating) - offset
    description: str

    def classes(self, task: str) -> list[str]:
        return ["low", "high"] if task == "binary" else list(self.multi_classes)


_DEAP = LabelRule(
    targets=("valence", "arousal", "dominance", "liking"),
    default_target="valence",
    binary_threshold=5.0,
    multi_classes=tuple(str(i) for i in range(1, 10)),
    multi_offset=1.0,
    description="binary: rating >= 5 is high; multi: int(rating) - 1 (9 classes)",
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
    ),
    "seed": LabelRule(
        targets=("emotion",),
        default_target="emotion",
        binary_threshold=None,
        multi_classes=("negative", "neutral", "positive"),
        multi_offset=-1.0,
        description="multi: label + 1, so negative/neutral/positive are 0/1/2",
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
    ratings = table[target].to_numpy(dtype=float)
    if task == "binary":
        if rule.binary_threshold is None:
            raise ValueError(
                f"{dataset} {target} has no binary rule ({rule.description}); use task='multi'"
            )
        y = (ratings >= rule.binary_threshold).astype(np.int64)
    else:
        y = np.floor(ratings).astype(np.int64) - int(rule.multi_offset)
        y = np.clip(y, 0, len(rule.multi_classes) - 1)
    return y, rule.classes(task), target, task
