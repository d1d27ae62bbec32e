"""One trial's What if… section: edit the window (electrodes, bands, regions; a scale towards
a baseline) and see its probabilities and attention beside the original's.

A fragment with choices of its own (what to edit, the baseline, which attention), so its
widgets rerun only this section and it never shows another section's stale choice. The
baseline and attention start as the Attributions and Attention sections chose them.
"""

from __future__ import annotations

from collections.abc import Sequence

import common
import pandas as pd
import state
import streamlit as st
from charts import chart
from serving import plain, plain_message
from trial_sections import baseline_label, block_text

EDIT_KEYS = ("wi_electrodes", "wi_regions", "wi_bands")


def _fill(key: str, electrodes: Sequence[str]) -> None:
    st.session_state[key] = list(electrodes)


def _keep_options(key: str, options: Sequence[str]) -> None:
    """Drop kept choices that the data shown now do not have (another montage or bands)."""
    if key in st.session_state:
        st.session_state[key] = [v for v in st.session_state[key] if v in options]


@st.fragment
def what_if_section(shown, planted: Sequence[str] = ()) -> None:
    """Edit the window ``shown`` (a :class:`trial_sections.Shown`) and predict it again."""
    from rbt.explain import BASELINES
    from rbt.explain.whatif import what_if
    from rbt.montage import REGIONS
    from rbt.viz.attention import attention_lines
    from rbt.viz.prediction import probability_bar

    fit = shown.fit
    with st.expander("What if…", icon=":material/science:"):
        st.caption("Remove or scale some electrodes, bands or a region of this window (they "
                   "move towards the baseline) and predict it again.")
        c1, c2, c3, c4 = st.columns([2, 1.4, 1.2, 1.2])
        _keep_options("wi_electrodes", list(fit.ch_names))
        _keep_options("wi_bands", list(fit.band_names))
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
        b1, b2 = st.columns(2)
        st.session_state.setdefault("wi_baseline", st.session_state.get("attr_baseline",
                                                                         "zeros"))
        baseline = b1.selectbox("Towards the baseline", list(BASELINES), key="wi_baseline",
                                format_func=lambda b: baseline_label(b, fit.fs),
                                help="what a removed cell becomes")
        att = common.trial_attention(*shown.loaded.key, shown.rows)[shown.window]
        views = ["rollout"] + [(b, "mean") for b in range(att.shape[0])]
        st.session_state.setdefault("wi_view", "rollout")
        if st.session_state["wi_view"] not in views:
            st.session_state["wi_view"] = "rollout"
        view = b2.selectbox("Attention", views, key="wi_view",
                            format_func=lambda v: "rollout (all blocks)" if v == "rollout"
                            else block_text(*v))
        state.sync()
        if not (electrodes or regions or bands):
            st.info("Choose electrodes, regions or bands to edit.")
            return
        try:
            model = common.device_model(shown.loaded.model_path, shown.loaded.stamp,
                                        shown.loaded.device)
            wi = what_if(fit, shown.row, electrodes=electrodes, bands=bands, regions=regions,
                         scale=float(scale), baseline=baseline, device=shown.loaded.device,
                         model=model)
        except ValueError as err:
            st.warning(plain_message(str(err)))
            return
        how = "removed" if wi.scale == 0 else f"scaled by {wi.scale:g}"
        st.markdown(f"**{len(wi.electrodes)} electrode(s)** × **{len(wi.bands)} band(s)** "
                    f"{how}: {plain(', '.join(wi.electrodes))}; "
                    f"{plain(', '.join(wi.bands))}.")
        if not wi.changed:
            st.caption("This edit leaves the window as it is (the baseline equals it there).")
        context = shown.here
        ctx = context | {"edit": f"{len(wi.electrodes)}x{len(wi.bands)}",
                         "scale": f"{wi.scale:g}"}
        frame = pd.DataFrame({"class": wi.class_names, "as it is": wi.probs,
                              "edited": wi.edited_probs, "change": wi.change})
        p1, p2, p3 = st.columns([2, 2, 1])
        with p1:
            chart(probability_bar(wi.probs, wi.class_names, true=shown.true, title="As it is"),
                  "whatif_probabilities", frame, key="fig_wi_prob", context=context)
        with p2:
            chart(probability_bar(wi.edited_probs, wi.class_names, true=shown.true,
                                  title="Edited"),
                  "whatif_probabilities_edited", frame, key="fig_wi_prob_edited", context=ctx)
        with p3:
            for name, before, change in zip(wi.class_names, wi.probs, wi.change):
                st.metric(plain(name), f"{before + change:.3f}", delta=f"{change:+.3f}",
                          help=f"was {before:.3f}")
        block, head = ("rollout", "mean") if view == "rollout" else view
        what = block_text(block, head)
        original, edited = wi.maps(block, head)
        a1, a2 = st.columns(2)
        with a1:
            chart(attention_lines(original, wi.ch_names, k=12, title=f"Pairs as it is: {what}",
                                  interpolated=fit.fs.interpolated),
                  "whatif_attention", {"attention": original, "ch_names": wi.ch_names},
                  key="fig_wi_lines", context=context)
        with a2:
            chart(attention_lines(edited, wi.ch_names, k=12, title=f"Pairs edited: {what}",
                                  interpolated=fit.fs.interpolated),
                  "whatif_attention_edited", {"attention": edited, "ch_names": wi.ch_names},
                  key="fig_wi_lines_edited", context=ctx)
