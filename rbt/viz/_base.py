"""Building figures fast: plain dicts turned into a Figure without per-property validation.

``go.Figure(...)`` validates every property on assignment, which costs tens of milliseconds for
a figure of a few maps; the dashboard redraws several per click. The figure functions build
plain dicts and skip that step; ``tests/test_viz.py`` validates every figure they make
(``go.Figure(fig.to_dict())``), so no invalid property goes unnoticed.
"""

from __future__ import annotations

import plotly.graph_objects as go


def figure(data: list[dict], layout: dict) -> go.Figure:
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
