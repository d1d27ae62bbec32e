"""Building figures fast: plain dicts turned into a Figure without per-property validation.

``go.Figure(...)`` validates every property on assignment, which costs tens of milliseconds for
a figure of a few maps; the dashboard redraws several per click. The figure functions build
plain dicts and skip that step; ``tests/test_viz.py`` validates every figure they make
(``go.Figure(fig.to_dict())``), so no invalid property goes unnoticed.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

# the trace and axis entries that show labels from the data (electrode, class, subject names)
_LABEL_KEYS = ("x", "y", "text", "name", "ticktext")


def plain(text) -> str:
    """``text`` as Plotly shows it literally. Plotly renders a subset of HTML in labels, titles
    and hover text (``<a href>``, ``<b>``, ``<br>``, entities), so a name from a file could
    otherwise add a link or markup: ``&``, ``<`` and ``>`` become entities."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain_labels(value):
    if isinstance(value, str):
        return plain(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUS":
        value = value.tolist()
    elif hasattr(value, "dtype") and hasattr(value, "tolist") and (
            value.dtype == object or str(value.dtype).startswith("string")):
        value = value.tolist()  # a pandas Series of strings
    if isinstance(value, (list, tuple)):
        return [_plain_labels(v) if isinstance(v, (str, list, tuple)) else v for v in value]
    return value


def _plain_title(entry):
    if isinstance(entry, dict) and isinstance(entry.get("title"), dict):
        title = entry["title"]
        if isinstance(title.get("text"), str):
            entry["title"] = {**title, "text": plain(title["text"])}
    return entry


def figure(data: list[dict], layout: dict) -> go.Figure:
    """A Figure from plain dicts, with the labels that come from data made plain text.

    This is the one place where names reach the figure: trace coordinates, texts and names,
    axis tick texts, and the figure's, axes' and colour bars' titles are escaped (:func:`plain`).
    Annotations and hover templates carry this package's own markup; their data parts are
    escaped where they are built.
    """
    for trace in data:
        for key in _LABEL_KEYS:
            if key in trace:
                trace[key] = _plain_labels(trace[key])
        _plain_title(trace.get("colorbar"))
        if isinstance(trace.get("marker"), dict):
            _plain_title(trace["marker"].get("colorbar"))
    for key, entry in layout.items():
        if key == "title" and isinstance(entry, dict) and isinstance(entry.get("text"), str):
            layout["title"] = {**entry, "text": plain(entry["text"])}
        elif key.startswith(("xaxis", "yaxis")) and isinstance(entry, dict):
            _plain_title(entry)
            if "ticktext" in entry:
                entry["ticktext"] = _plain_labels(entry["ticktext"])
        elif key.startswith("coloraxis") and isinstance(entry, dict):
            _plain_title(entry.get("colorbar"))
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def margin(title: str | None, bottom: int = 10) -> dict:
    return dict(l=10, r=10, t=40 if title else 10, b=bottom)


def column_domains(n: int, spacing: float = 0.02) -> list[tuple[float, float]]:
    """x domains of ``n`` equal side-by-side subplots (as make_subplots lays them out)."""
    width = (1 - spacing * (n - 1)) / n
    return [(i * (width + spacing), i * (width + spacing) + width) for i in range(n)]


def colorscale(name) -> list:
    """A Plotly colour scale as [[position, colour], ...]. Names such as "RdBu_r" are resolved
    here because these figures skip the validation that would otherwise resolve them."""
    from plotly.colors import get_colorscale

    return get_colorscale(name) if isinstance(name, str) else list(name)


def with_context(fig: go.Figure, context: str | None) -> go.Figure:
    """``fig`` with ``context`` (say "subject s01 · trial 3 · window 5 · saliency") under its
    title, so a saved or copied figure says what it shows. Changes ``fig`` and returns it; an
    untitled figure gets the context as its title."""
    if not context:
        return fig
    text = plain(context)
    if fig.layout.title.text:
        fig.layout.title.subtitle.text = text
        fig.layout.title.subtitle.font.size = 11
        top = 62
    else:
        fig.layout.title.text = text
        fig.layout.title.font.size = 13
        top = 40
    if (fig.layout.margin.t or 0) < top:
        fig.layout.margin.t = top
    return fig
