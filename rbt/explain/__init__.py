"""Explanations: where the model looked (attention) and what drove it (attributions).

* :mod:`.attention`: per block and head, the head mean, the rollout, per-electrode summaries and
  the strongest pairs, on the ``(..., depth, heads, E, E)`` attention of the model.
* :mod:`.attribution`: :func:`attribute`, Captum's methods in one call shape.
* :mod:`.trust`: how far a map can be trusted, one :class:`TrustMetric` per check.
* :mod:`.aggregate`: means over subjects, trials, classes, predictions; class differences.
* :mod:`.features`: :func:`explain_features`, all of it for a FeatureSet.
"""

from .aggregate import aggregate, class_difference, explanation_table
from .attention import (
    attention_received,
    attention_rollout,
    attention_sent,
    electrode_column,
    electrode_row,
    head_mean,
    select_attention,
    top_pairs,
)
from .attribution import MASKS, METHODS, OUTPUTS, attribute
from .features import Explanation, explain_features, load_explanation
from .inputs import BASELINES, make_baseline, subject_means
from .trust import (
    TrustMetric,
    attention_agreement,
    randomised_copy,
    row_spearman,
    sanity_check,
    trust_metrics,
)

__all__ = [
    "BASELINES", "MASKS", "METHODS", "OUTPUTS", "Explanation", "TrustMetric", "aggregate",
    "attention_agreement", "attention_received", "attention_rollout", "attention_sent",
    "attribute", "class_difference", "electrode_column", "electrode_row", "explain_features",
    "explanation_table", "head_mean", "load_explanation", "make_baseline", "randomised_copy",
    "row_spearman", "sanity_check", "select_attention", "subject_means", "top_pairs",
    "trust_metrics",
]
