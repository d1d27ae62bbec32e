"""One trial's charts whose chosen point selects a window or an electrode.

A chart drawn with :func:`clickable` calls back before the next run when one of its points is
clicked, and the callback sets the page's widget key (``sel_window``, ``att_electrode``) from
that point. A click is an event, not a state kept on the chart, so it never pulls the slider or
the select box back after the user moved them. A chart in a fragment reruns only its
fragment: one outside the attention section (``outside=True``) asks for a whole-page rerun
(:func:`follow_electrode_pick`), so the attention shows the electrode chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence

import streamlit as st
from charts import PLOT_CONFIG, export_menu
from plot_element import clicked_points, plot

from rbt.viz.timeline import selected_window

WINDOW_KEY, ELECTRODE_KEY = "sel_window", "att_electrode"
RERUN_KEY = "_electrode_picked_outside"


def _selection(state: Mapping, chart_key: str) -> Mapping | None:
    return clicked_points(state, chart_key)


def apply_window_pick(state: MutableMapping, chart_key: str, n_windows: int) -> int | None:
    """Select in ``state`` the window chosen on the timeline ``chart_key`` (its point's id is
    the window's position in the trial); the window, or None when no window was chosen."""
    window = selected_window(_selection(state, chart_key))
    if window is None or not 0 <= window < n_windows:
        return None
    state[WINDOW_KEY] = window
    return window


def trace_names(fig) -> list[tuple[str | None, list | None]]:
    """(name, text) of each trace of ``fig``: what a chosen point's curve number refers to."""
    out = []
    for trace in fig.data:
        text = getattr(trace, "text", None)
        out.append((trace.name, list(text) if text is not None and not isinstance(text, str)
                    else None))
    return out


def picked_electrode(selection: Mapping | None, traces: Sequence[tuple[str | None, list | None]],
                     ch_names: Sequence[str]) -> str | None:
    """The electrode a chosen point names: a sensor of a scalp map or of the attention lines
    (its text), the looking electrode of an attention matrix cell (its y) or of a pair on the
    lines ("Fz → Pz": Fz). None when no such point was chosen (the last one when several)."""
    names = [str(c) for c in ch_names]
    for point in reversed((selection or {}).get("points") or []):
        curve, index = point.get("curve_number"), point.get("point_index")
        if curve is None or not 0 <= curve < len(traces):
            continue
        name, text = traces[curve]
        value = None
        if name == "attention":  # a matrix cell: y is the electrode that looks
            value = point.get("y")
        elif name in ("sensors", "pairs") and text is not None and index is not None \
                and 0 <= index < len(text):
            value = str(text[index]).split(" → ")[0]
        if value is not None and str(value) in names:
            return str(value)
    return None


def apply_electrode_pick(state: MutableMapping, chart_key: str, traces, ch_names) -> str | None:
    """Select in ``state`` the electrode chosen on the chart ``chart_key``; it, or None."""
    electrode = picked_electrode(_selection(state, chart_key), traces, ch_names)
    if electrode is not None:
        state[ELECTRODE_KEY] = electrode
    return electrode


def clickable(fig, name: str, data, key: str, on_pick: Callable[[], object],
              context=None) -> None:
    """Draw ``fig`` like :func:`charts.chart`, with points that can be chosen: choosing one
    calls ``on_pick`` before the next run."""
    from rbt.viz import context_text, export_name, with_context

    if context:
        with_context(fig, context_text(context))
    fmt = st.session_state.get("image_format", "png")
    config = {**PLOT_CONFIG, "toImageButtonOptions": {
        "format": fmt, "filename": export_name(name, context), "scale": 2}}
    plot(fig, key, config, on_click=lambda: on_pick())
    export_menu(fig, name, data, context=context)


def window_chart(fig, name: str, data, key: str, n_windows: int, context=None) -> None:
    """A timeline whose chosen window becomes the page's window."""
    clickable(fig, name, data, key, lambda: apply_window_pick(st.session_state, key, n_windows),
              context=context)


def electrode_chart(fig, name: str, data, key: str, ch_names, context=None,
                    outside: bool = False) -> None:
    """A scalp map, attention lines or matrix whose chosen electrode becomes the page's;
    ``outside``: the chart is in a fragment that does not hold the attention section."""
    traces = trace_names(fig)

    def pick() -> None:
        if apply_electrode_pick(st.session_state, key, traces, ch_names) and outside:
            st.session_state[RERUN_KEY] = True

    clickable(fig, name, data, key, pick, context=context)


def follow_electrode_pick() -> None:
    """At the start of a fragment with ``outside`` charts: rerun the whole page when one of
    them chose an electrode, so that every section shows it."""
    if st.session_state.pop(RERUN_KEY, False):
        st.rerun(scope="app")
