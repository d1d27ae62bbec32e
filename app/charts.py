"""Drawing for the dashboard: Plotly figures with their export menus, tables for export, and
the trust panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from plot_element import plot
from serving import plain

PLOT_CONFIG = {"displaylogo": False, "scrollZoom": False}
TRUST_NAMES = {"convergence_delta": "convergence δ", "sensitivity_max": "sensitivity",
               "randomisation_spearman": "randomisation ρ", "attention_agreement": "attention ρ"}


def chart(fig, name: str, data=None, key: str | None = None, context=None) -> None:
    """Draw a Plotly figure with an export menu: HTML, and the numbers as CSV or NPZ.

    ``context`` (a mapping such as ``{"subject": "s01", "trial": 3, "window": 5, "method":
    "saliency"}``, or a string) goes under the figure's title and into every export's file
    name, so saved figures say what they show and do not overwrite each other.
    """
    from rbt.viz import context_text, export_name, with_context

    if fig is not None and context:
        with_context(fig, context_text(context))
    fmt = st.session_state.get("image_format", "png")
    config = {**PLOT_CONFIG, "toImageButtonOptions": {
        "format": fmt, "filename": export_name(name, context), "scale": 2}}
    plot(fig, key or f"fig_{export_name(name)}", config)
    export_menu(fig, name, data, context=context)


def export_menu(fig, name: str, data=None, context=None) -> None:
    """Download buttons for a figure (HTML) and its numbers (CSV for tables, else NPZ); their
    file names carry ``context`` (:func:`chart`)."""
    from rbt.viz.export import arrays_npz, export_name, figure_html

    ident = export_name(name)  # widget keys stay the same while the context changes
    file = export_name(name, context)
    with st.popover("Export", icon=":material/download:"):
        if fig is not None:
            st.download_button("Figure (HTML, works offline)", lambda: figure_html(fig),
                               file_name=f"{file}.html", mime="text/html", on_click="ignore",
                               key=f"html_{ident}")
        if isinstance(data, pd.DataFrame):
            st.download_button("Numbers (CSV)", lambda: export_csv(data),
                               file_name=f"{file}.csv", mime="text/csv", on_click="ignore",
                               key=f"csv_{ident}")
        elif data is not None:
            st.download_button("Numbers (NPZ)", lambda: arrays_npz(data),
                               file_name=f"{file}.npz", mime="application/octet-stream",
                               on_click="ignore", key=f"npz_{ident}")
        if fig is not None:
            st.caption("PNG or SVG: the camera icon in the chart's toolbar (format in the "
                       "sidebar).")


def export_csv(frame: pd.DataFrame) -> bytes:
    """A table as CSV whose cells a spreadsheet will not run as formulas (class names and
    other text from files may start with '=')."""
    from rbt.safeio import spreadsheet_safe
    from rbt.viz.export import table_csv

    return table_csv(spreadsheet_safe(frame))


def pairs_frame(a2d, ch_names, k, threshold) -> pd.DataFrame:
    from rbt.explain import top_pairs

    pairs = top_pairs(a2d, k=k, threshold=threshold, exclude_self=True, names=list(ch_names))
    return pd.DataFrame(pairs, columns=["from", "to", "attention"])


def trust_panel(result: dict) -> None:
    """The explanation's trust numbers: value, a tick when it is in the healthy range (a warning
    sign when not), and on hover what it means and what is healthy."""
    st.markdown("**Trust**", help="Checks of this attribution map (rbt.explain.trust_metrics), "
                "from 16 perturbations and 2 re-attributions of this window.")
    if "error" in result:
        st.warning(f"The trust checks failed for this method: {plain(result['error'])}")
        return
    for m in result["metrics"]:
        flag = "" if m["ok"] is None else (" ✓" if m["ok"] else " ⚠")
        st.metric(TRUST_NAMES.get(m["name"], m["name"].replace("_", " ")) + flag,
                  f"{m['value']:.3g}",
                  help=f"{m['meaning']} Healthy: {m['healthy']}")


def band_frame(values, ch_names, band_names) -> pd.DataFrame:
    """An (electrodes x bands) array as a table with an electrode column."""
    return pd.DataFrame(np.asarray(values), index=list(ch_names),
                        columns=list(band_names)).rename_axis("electrode").reset_index()
