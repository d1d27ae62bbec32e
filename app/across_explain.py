"""The Across trials page's "Open an rbt explain file" section: attributions computed elsewhere
(``rbt explain --out file.npz`` on a GPU machine or a cluster) drawn as group maps at once,
from the file's stored per-window maps (:func:`rbt.explain.group_maps`), nothing recomputed."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import across_parts as parts
import common
import numpy as np
import pandas as pd
import serving
import streamlit as st
from serving import plain, plain_message

from rbt.explain import GROUP_BY, METHOD_REGISTRY, attention_received, load_explanation
from rbt.explain.groups import explanation_differences, group_maps
from rbt.viz.topomap import topomap_row

TYPED = "Path on this machine"
READ_ERRORS = common.USER_ERRORS + (zipfile.BadZipFile, EOFError)


class _Named(io.BytesIO):
    """Uploaded bytes that read as their file's name in messages (load_explanation names the
    file it could not read)."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name = name

    def __str__(self) -> str:
        return self.name


@st.cache_data(show_spinner=False, max_entries=4)
def read_explanation(name: str, data: bytes | None, stamp: float):
    """The explanation in a file (``data`` None: read ``name`` from disk; ``stamp`` its
    modification time, so a rewritten file is read again) or in uploaded bytes."""
    return load_explanation(name if data is None else _Named(data, name))


def _roomy_chart(fig, *args, **kwargs) -> None:
    """common.chart for a row of maps, with room for its context line (parts.with_room)."""
    common.chart(parts.with_room(fig), *args, **kwargs)


def _chosen_file():
    """(name, bytes or None, stamp) of the file the user chose, or None."""
    how = st.radio("Explain file", ["Upload", TYPED], key="x_ex_how", horizontal=True,
                   label_visibility="collapsed")
    if how == "Upload":
        up = st.file_uploader("rbt explain file (.npz)", type=["npz"], key="x_ex_upload")
        return (up.name, up.getvalue(), 0.0) if up else None
    path = serving.typed_path(st, "Path to an rbt explain file (.npz)", key="x_ex_path",
                              placeholder="/data/explain.npz")
    if path is None:
        return None
    try:
        return path, None, Path(path).stat().st_mtime
    except OSError:
        st.error(f"There is no file at {plain_message(path)}.")
        return None


def explanation_section(fit) -> None:
    """Draw the section: choose a file, say how its model differs from the loaded one, and
    draw its group means (one shared range across the groups)."""
    with st.expander("Open an rbt explain file (attributions computed elsewhere)",
                     icon=":material/upload_file:"):
        st.caption("`rbt explain --out file.npz` writes every window's attributions (and with "
                   "`--attention` its attention rollout), for instance on a GPU machine; their "
                   "group means are drawn here at once, without recomputing.")
        chosen = _chosen_file()
        if chosen is None:
            return
        try:
            e = read_explanation(*chosen)
        except READ_ERRORS as err:
            st.error(f"This file could not be read as an rbt explain file: "
                     f"{plain_message(err)}.")
            return
        for difference in explanation_differences(e, fit):
            st.warning(f"This file was made with another model: {plain_message(difference)}. "
                       "Its maps are drawn with its own electrodes, not beside the loaded "
                       "model's.")
        have = [c for c in GROUP_BY if c in e.table]
        c1, c2, c3 = st.columns(3)
        by = c1.selectbox("Group by", have, key="x_ex_by")
        kinds = ["attributions"] + (["rollout"] if e.rollout is not None else [])
        values = c2.radio("Maps", kinds, key="x_ex_values", horizontal=True)
        try:
            gm = group_maps(e, by, values=values)
        except ValueError as err:
            st.error(plain_message(err))
            return
        groups = list(gm.means)
        # one widget per grouping: a kept choice of classes is no choice of subjects
        shown = c3.multiselect("Groups", groups, default=groups[:4], key=f"x_ex_groups_{by}")
        record = METHOD_REGISTRY.get(gm.method)
        st.caption(plain(f"{gm.method or 'unknown method'}"
                         + (f", baseline {gm.baseline}" if gm.baseline else "") + "; "
                         + ", ".join(f"{g}: {gm.counts[g]} windows" for g in groups)
                         + f" ({gm.n_windows} in the file)."))
        if shown:
            _draw(gm, shown, record.signed() if record else None)


def _draw(gm, shown, signed) -> None:
    context = {"file_by": gm.by, "method": gm.method}
    if gm.values == "rollout":
        received = {g: attention_received(gm.means[g]) for g in shown}
        _roomy_chart(topomap_row(received, gm.ch_names, signed=False,
                                 title="Attention each electrode receives (rollout, column "
                                       "mean), from the file",
                                 colorbar_title="attention received",
                                 interpolated=gm.interpolated),
                     "file_attention_received",
                     pd.DataFrame(received, index=gm.ch_names).rename_axis("electrode")
                     .reset_index(), key="x_ex_received", context=context)
        return
    means = {g: {b: gm.means[g][:, j] for j, b in enumerate(gm.bands)}
             | {"total": gm.means[g].sum(axis=1)} for g in shown}
    # the groups share one range, so equal colours are equal values across them
    together = parts.shared_zrange([v for g in shown for v in means[g].values()], signed)
    for g in shown:
        _roomy_chart(topomap_row(means[g], gm.ch_names, signed=signed, zrange=together,
                                 title=f"Mean attribution from the file: {g}",
                                 colorbar_title="attribution", interpolated=gm.interpolated),
                     f"file_attribution_{g}",
                     pd.DataFrame(means[g], index=gm.ch_names).rename_axis("electrode")
                     .reset_index(), key=f"x_ex_{g}", context={**context, "group": g})
    if len(shown) == 2:
        a, b = shown
        diff = {k: np.asarray(means[a][k]) - np.asarray(means[b][k]) for k in means[a]}
        _roomy_chart(topomap_row(diff, gm.ch_names, signed=True,
                                 title=f"Mean attribution from the file: {a} − {b}",
                                 colorbar_title="difference", interpolated=gm.interpolated),
                     "file_attribution_difference",
                     pd.DataFrame(diff, index=gm.ch_names).rename_axis("electrode")
                     .reset_index(), key="x_ex_diff", context={**context, "groups": f"{a} vs {b}"})
