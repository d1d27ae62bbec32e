"""One trial's exploring parts: charts whose chosen point selects a window or an electrode,
and the what-if section.

A chart drawn with :func:`clickable` calls back before the next run, and the callback sets the
page's widget key (``sel_window``, ``att_electrode``) from the point chosen. A callback runs
only when the chart's selection changes, so a selection left on the chart never pulls the
slider or the select box back after the user moved them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence

import pandas as pd
import streamlit as st
from charts import PLOT_CONFIG, chart, export_menu
from serving import plain, plain_message

from rbt.viz.timeline import selected_window

WINDOW_KEY, ELECTRODE_KEY = "sel_window", "att_electrode"


def _selection(state: Mapping, chart_key: str) -> Mapping | None:
    event = state.get(chart_key)
    if event is None:
        return None
    try:
        return event["selection"]
    except (KeyError, TypeError):
        return None


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
    st.plotly_chart(fig, config=config, key=key, on_select=lambda: on_pick(),
                    selection_mode="points")
    export_menu(fig, name, data, context=context)


def window_chart(fig, name: str, data, key: str, n_windows: int, context=None) -> None:
    """A timeline whose chosen window becomes the page's window."""
    clickable(fig, name, data, key, lambda: apply_window_pick(st.session_state, key, n_windows),
              context=context)


def electrode_chart(fig, name: str, data, key: str, ch_names, context=None) -> None:
    """A scalp map, attention lines or matrix whose chosen electrode becomes the page's."""
    traces = trace_names(fig)
    clickable(fig, name, data, key,
              lambda: apply_electrode_pick(st.session_state, key, traces, ch_names),
              context=context)


# ---- what if -----------------------------------------------------------------------------------

def _fill(key: str, electrodes: Sequence[str]) -> None:
    st.session_state[key] = list(electrodes)


@st.fragment
def what_if_section(fit, row: int, baseline: str, block, head, k: int, threshold,
                    true: int | None = None, context=None, planted: Sequence[str] = ()) -> None:
    """Edit window ``row`` of ``fit`` (electrodes, bands, regions; a scale) and show its
    probabilities and attention beside the original's. Its widgets rerun only this section."""
    from rbt.explain import BASELINES
    from rbt.explain.whatif import what_if
    from rbt.montage import REGIONS
    from rbt.viz.attention import attention_lines
    from rbt.viz.prediction import probability_bar

    with st.expander("What if…", icon=":material/science:"):
        st.caption("Remove or scale some electrodes, bands or a region of this window (they "
                   f"move towards the baseline: {BASELINES[baseline].label}, as chosen under "
                   "Attributions) and predict it again.")
        c1, c2, c3, c4 = st.columns([2, 1.4, 1.2, 1.2])
        electrodes = c1.multiselect("Electrodes", list(fit.ch_names), key="wi_electrodes")
        if planted:
            c1.button("The demo's planted electrodes", key="wi_planted", on_click=_fill,
                      args=("wi_electrodes", sorted(set(planted))),
                      help="where the demo data carry their class effects")
        regions = c2.multiselect("Regions", list(REGIONS), key="wi_regions",
                                 help="a lobe and a side together: that side of the lobe "
                                      "(frontal + left: the left frontal electrodes)")
        bands = c3.multiselect("Bands", list(fit.band_names), key="wi_bands",
                               help="none chosen: every band of the chosen electrodes; bands "
                                    "alone: those bands of every electrode")
        st.session_state.setdefault("wi_scale", 0.0)
        scale = c4.slider("Scale", 0.0, 2.0, step=0.1, key="wi_scale",
                          help="0 removes them (the baseline's values), 1 keeps them, 2 "
                               "doubles their difference from the baseline")
        if not (electrodes or regions or bands):
            st.info("Choose electrodes, regions or bands to edit.")
            return
        try:
            # on the CPU: the fit's model is shared and stays where it is (3 ms a window)
            wi = what_if(fit, row, electrodes=electrodes, bands=bands, regions=regions,
                         scale=float(scale), baseline=baseline, device="cpu")
        except ValueError as err:
            st.warning(plain_message(str(err)))
            return
        how = "removed" if wi.scale == 0 else f"scaled by {wi.scale:g}"
        st.markdown(f"**{len(wi.electrodes)} electrode(s)** × **{len(wi.bands)} band(s)** "
                    f"{how}: {plain(', '.join(wi.electrodes))}; "
                    f"{plain(', '.join(wi.bands))}.")
        if not wi.changed:
            st.caption("This edit leaves the window as it is (the baseline equals it there).")
        ctx = dict(context or {}) | {"edit": f"{len(wi.electrodes)}x{len(wi.bands)}",
                                     "scale": f"{wi.scale:g}"}
        frame = pd.DataFrame({"class": wi.class_names, "as it is": wi.probs,
                              "edited": wi.edited_probs, "change": wi.change})
        p1, p2, p3 = st.columns([2, 2, 1])
        with p1:
            chart(probability_bar(wi.probs, wi.class_names, true=true, title="As it is"),
                  "whatif_probabilities", frame, key="fig_wi_prob", context=context)
        with p2:
            chart(probability_bar(wi.edited_probs, wi.class_names, true=true, title="Edited"),
                  "whatif_probabilities_edited", frame, key="fig_wi_prob_edited", context=ctx)
        with p3:
            for name, before, change in zip(wi.class_names, wi.probs, wi.change):
                st.metric(plain(name), f"{before + change:.3f}", delta=f"{change:+.3f}",
                          help=f"was {before:.3f}")
        what = "rollout" if block == "rollout" else (
            f"block {block + 1}, " + ("mean of heads" if head == "mean" else f"head {head + 1}"))
        original, edited = wi.maps(block, "mean" if block == "rollout" else head)
        a1, a2 = st.columns(2)
        with a1:
            chart(attention_lines(original, wi.ch_names, k=k, threshold=threshold,
                                  title=f"Pairs as it is: {what}"),
                  "whatif_attention", {"attention": original, "ch_names": wi.ch_names},
                  key="fig_wi_lines", context=context)
        with a2:
            chart(attention_lines(edited, wi.ch_names, k=k, threshold=threshold,
                                  title=f"Pairs edited: {what}"),
                  "whatif_attention_edited", {"attention": edited, "ch_names": wi.ch_names},
                  key="fig_wi_lines_edited", context=ctx)
