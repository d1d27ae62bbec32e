"""The dashboard's charts as AppTest sees them: each is the app's Plotly element
(app/plot_element.py, a Streamlit component), whose proto carries the figure as JSON bytes."""

from __future__ import annotations

import json

ELEMENT = "bidi_component"


def charts(at) -> list:
    """The chart elements drawn, in page order."""
    return [el for el in at.get(ELEMENT) if el.proto.component_name == "rbt_plot"]


def spec(element) -> dict:
    """One chart's figure: ``{"data": [...], "layout": {...}, "config": {...}}``."""
    return json.loads(element.proto.bytes)


def figures(at) -> list[dict]:
    return [spec(el) for el in charts(at)]


def chart_with_key(at, key: str):
    """The chart drawn under the widget key ``key`` (its element id contains the key)."""
    found = [el for el in charts(at) if key in el.proto.id]
    assert found, f"no chart with key {key!r}"
    return found[0]
