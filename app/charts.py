"""Drawing for the dashboard: Plotly figures with their export menus, tables for export, and
the trust panel."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import streamlit as st
from serving import plain

PLOT_CONFIG = {"displaylogo": False, "scrollZoom": False}
TRUST_NAMES = {"convergence_delta": "convergence δ", "sensitivity_max": "sensitivity",
               "randomisation_spearman": "randomisation ρ", "attention_agreement": "attention ρ"}


def chart(fig, name: str, data=None, key: str | None = None) -> None:
    """Draw a Plotly figure with an export menu: HTML, and the numbers as CSV or NPZ."""
    fmt = st.session_state.get("image_format", "png")
    config = {**PLOT_CONFIG, "toImageButtonOptions": {"format": fmt, "filename": name,
                                                      "scale": 2}}
    st.plotly_chart(fig, config=config, key=key)
    export_menu(fig, name, data)


def export_menu(fig, name: str, data=None) -> None:
    """Download buttons for a figure (HTML) and its numbers (CSV for tables, else NPZ)."""
    from rbt.viz.export import arrays_npz, figure_html

    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")
    with st.popover("Export", icon=":material/download:"):
        if fig is not None:
            st.download_button("Figure (HTML, works offline)", lambda: figure_html(fig),
                               file_name=f"{name}.html", mime="text/html", on_click="ignore",
                               key=f"html_{name}")
        if isinstance(data, pd.DataFrame):
            st.download_button("Numbers (CSV)", lambda: export_csv(data),
                               file_name=f"{name}.csv", mime="text/csv", on_click="ignore",
                               key=f"csv_{name}")
        elif data is not None:
            st.download_button("Numbers (NPZ)", lambda: arrays_npz(data),
                               file_name=f"{name}.npz", mime="application/octet-stream",
                               on_click="ignore", key=f"npz_{name}")
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
