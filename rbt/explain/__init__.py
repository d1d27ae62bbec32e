"""Explanations: where the model looked (attention) and what drove it (attributions).

* :mod:`.attention`: per block and head, the head mean, the rollout, per-electrode summaries and
  the strongest pairs, on the ``(..., depth, heads, E, E)`` attention of the model.
* :mod:`.methods`: the attribution methods, one :class:`Method` record each.
* :mod:`.attribution`: :func:`attribute`, Captum's methods in one call shape.
* :mod:`.inputs`: windows, baselines (:data:`BASELINES`) and targets.
* :mod:`.trust`: how far a map can be trusted, one :class:`TrustMetric` per check.
* :mod:`.aggregate`: means over subjects, trials, classes, predictions; group differences.
  (Streamed group means of attention are :func:`rbt.infer.group_mean_attention`.)
* :mod:`.features`: :func:`explain_features`, all of it for a FeatureSet.
* :mod:`.whatif`: :func:`what_if`, one window with electrodes, bands or a region edited
  towards a baseline, predicted beside the original.
* :mod:`.groups`: :func:`group_maps`, group means of a saved explanation (``rbt explain``).
* :func:`group_pass`: one pass of a model over a dataset, its predictions and the group sums
  (:class:`GroupSums`) of BDE and attention for every grouping, block and head at once.

The names below are loaded on first use (PEP 562), so ``import rbt.explain.attention`` or
reading :data:`METHODS` costs neither torch nor Captum.
"""

from __future__ import annotations

import importlib

# public name -> the submodule that defines it
_WHERE = {
    **dict.fromkeys(("aggregate", "class_difference", "compare_groups", "explanation_table"),
                    "aggregate"),
    **dict.fromkeys(("attention_received", "attention_rollout", "attention_sent",
                     "electrode_column", "electrode_row", "head_mean", "select_attention",
                     "top_pairs"), "attention"),
    **dict.fromkeys(("ALIASES", "MASKS", "METHODS", "METHOD_REGISTRY", "OUTPUTS", "Method",
                     "method_record", "passes_per_window", "register_method"), "methods"),
    "attribute": "attribution",
    **dict.fromkeys(("Explanation", "explain_features", "load_explanation"), "features"),
    **dict.fromkeys(("BASELINES", "Baseline", "baseline_reference", "make_baseline",
                     "subject_means"), "inputs"),
    **dict.fromkeys(("TrustMetric", "attention_agreement", "randomised_copy", "row_spearman",
                     "sanity_check", "trust_metrics"), "trust"),
    **dict.fromkeys(("WhatIf", "edit_cells", "edit_window", "what_if"), "whatif"),
    **dict.fromkeys(("GROUP_BY", "GroupMaps", "explanation_differences", "group_maps"), "groups"),
    **dict.fromkeys(("GroupSums", "group_attention_mean"), "aggregate"),
    **dict.fromkeys(("GroupPass", "group_pass"), "groups"),
}

__all__ = sorted(_WHERE)

# ``aggregate`` is a function and the submodule it lives in; the first import of the submodule
# would bind the module to that name, so the function is bound now (numpy only)
from .aggregate import aggregate  # noqa: E402, F401


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
