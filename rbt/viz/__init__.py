"""Figures: functions that return ``plotly.graph_objects.Figure``, testable without Streamlit."""

from ._base import with_context
from .attention import attention_heatmap, attention_lines
from .export import arrays_npz, context_text, export_name, figure_html, figure_image, table_csv
from .prediction import accuracy_per_trial, confusion_matrix_figure, probability_bar
from .teaching import (
    band_pass_figure,
    eeg_traces,
    protocol_comparison,
    similarity_heatmap,
    token_heatmap,
)
from .topomap import band_topomaps, interpolate, scalp_topomap, topomap_row

__all__ = [
    "accuracy_per_trial", "arrays_npz", "attention_heatmap", "attention_lines",
    "band_pass_figure", "band_topomaps", "confusion_matrix_figure", "context_text",
    "eeg_traces", "export_name", "figure_html", "figure_image", "interpolate",
    "probability_bar", "protocol_comparison", "scalp_topomap", "similarity_heatmap",
    "table_csv", "token_heatmap", "topomap_row", "with_context",
]
