"""The session's selection: one object that every page's widgets take their values from, and
that lives in the URL (``st.query_params``) so a reload keeps the view and a link opens it.

Streamlit forgets the value of a widget that the page now shown does not draw, so the
selection keeps the last value of every widget it tracks and hands it back when the widget is
drawn again. What the URL names is read once, on a session's first run: values that can be
checked without the data (source, target, task, model, method, baseline) are checked there;
the others (subject, trial, window, block, head, electrode) wait as text until the page that
draws them knows its options (:meth:`Selection.resolve`); so do Across trials' filters, groups
and maps. Unknown values are left out, said in a warning beside their widgets. Uploaded files
are never put in the URL, nor the subjects named after them: they stay on the server, for
this session only (a reload starts a new session without them). How a recording is read
(renames, cap layout, interpolation, markers) is in the URL whether it was typed or uploaded,
so a reload followed by the same upload gives the same view again; each such option, and
each of Across trials', is written only when it differs from its default, to keep links
short. The URL is read again when it is not the one the app wrote (Back, Forward, an edited
address).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import streamlit as st
from choices import AS_NAMED, CAP_LAYOUTS, SOURCE_LABELS, targets_for, tasks_for
from streamlit.runtime.scriptrunner import get_script_run_ctx

from rbt.explain import BASELINES, METHOD_REGISTRY

SHIPPED = "Shipped demo checkpoint"
FOLDER = "Checkpoint folder"
TYPED = "Path on this machine"

# widget keys whose values the selection keeps across pages (the URL holds a subset)
SOURCES = tuple(SOURCE_LABELS)
KEPT = (("source", "raw_how", "drop_unknown", "channel_map", "seed_ref", "model_kind",
         "model_path", "device", "image_format", "sel_subject", "sel_trial", "sel_window",
         "map_mode", "map_contours", "map_scale", "map_planted", "att_block", "att_head",
         "att_lines", "att_k", "att_threshold", "att_electrode", "attr_method",
         "attr_baseline", "attr_target", "wi_electrodes", "wi_regions", "wi_bands", "wi_scale",
         "wi_baseline", "wi_view")
        + tuple(f"path_{s}" for s in SOURCES if s != "demo")
        + tuple(f"{w}_{s}" for w in ("target", "task") for s in SOURCES)
        + ("markers", "epoch", "subject_from"))  # recordings: how markers become trials
KEPT += ("apply_prep",)  # recordings: the model's preprocessing applied (app/sidebar.py)
KEPT += ("cap_layout", "interpolate")  # recordings: app/sidebar.py _cap_widgets
KEPT += ("x_method", "x_baseline")  # Across trials' own attribution method and baseline
KEPT += ("x_subjects", "x_classes", "x_outcome", "x_normalize", "x_quantity", "x_by", "x_a",
         "x_b", "x_block", "x_head", "x_all", "x_within")  # Across trials' filters and maps

# URL name -> widget key, for the values resolved against the data where they are drawn
LATER = {"subject": "sel_subject", "trial": "sel_trial", "window": "sel_window",
         "block": "att_block", "head": "att_head", "electrode": "att_electrode"}
# URL name -> (widget key, its default): how a recording is read (source raw) and SEED's
# filters; an option at its default is left out of the URL
READING = {"drop": ("drop_unknown", False), "rename": ("channel_map", ""),
           "cap": ("cap_layout", AS_NAMED), "interpolate": ("interpolate", False),
           "markers": ("markers", ""), "epoch": ("epoch", 0.0),
           "subject_from": ("subject_from", ""), "prep": ("apply_prep", True)}
SEED_FILTERS = "reference_filters"  # the SEED box; its default follows the checkpoint
ACROSS = {"across_method": "x_method", "across_baseline": "x_baseline"}
# URL name -> widget key: Across trials' table filters and group maps, resolved where they are
# drawn like LATER's, and written only when they differ from their defaults (DEFAULTS)
ACROSS_VIEW = {"subjects": "x_subjects", "classes": "x_classes", "windows": "x_outcome",
               "map": "x_quantity", "group_by": "x_by", "group_a": "x_a", "group_b": "x_b",
               "across_block": "x_block", "across_head": "x_head", "within": "x_within"}
LATER |= ACROSS_VIEW
DEFAULTS = {"x_subjects": [], "x_classes": [], "x_outcome": "all", "x_quantity": "BDE",
            "x_by": "class", "x_block": "rollout", "x_head": "mean", "x_within": True}
MANY = ("x_subjects", "x_classes")  # multiselects: their URL text is the choices, comma-joined
URL_ORDER = ("source", "path", "model", "target", "task", *READING, SEED_FILTERS, *LATER,
             "method", "baseline", *ACROSS)


def _flag(text: str) -> bool | None:
    """A URL's yes/no (``1``/``0``, ``true``/``false``); None if it is neither."""
    return {"1": True, "true": True, "0": False, "false": False}.get(text.strip().lower())


def _read_option(key: str, text: str):
    """A reading option's value from its URL text; None if the text cannot be one."""
    default = dict(READING.values())[key]
    if isinstance(default, bool):
        return _flag(text)
    if key == "cap_layout":
        return text if text in CAP_LAYOUTS else None
    if key == "epoch":
        try:
            value = float(text)
        except ValueError:
            return None
        return value if 0.0 <= value <= 3600.0 else None  # the widget's range
    return text


def _option_text(value) -> str:
    return ("1" if value else "0") if isinstance(value, bool) else f"{value:g}" \
        if isinstance(value, float) else str(value)


def trial_text(value) -> str:
    """(session, trial) as the URL writes it: ``3`` in session 1, else ``2-3``."""
    session, trial = value
    return f"{trial}" if int(session) == 1 else f"{session}-{trial}"


def numbered(value) -> str:
    """A block or head as its label numbers it (from 1); rollout and mean by name."""
    return str(value) if isinstance(value, str) else str(int(value) + 1)


def listed(values) -> str:
    """A multiselect's choices as the URL writes them: comma-joined."""
    return ",".join(str(v) for v in values)


def _pieces(text: str, options: Sequence) -> tuple[list, list[str]]:
    """The options a comma-joined text names, and the pieces that name none. A name that has
    commas of its own (a recording's file name) is the longest run of pieces that names one."""
    by_text, pieces = {str(o): o for o in options}, text.split(",")
    found, unknown, i = [], [], 0
    while i < len(pieces):
        ends = [j for j in range(len(pieces), i, -1) if ",".join(pieces[i:j]) in by_text]
        if ends:  # the longest run of pieces that is an option's name
            found.append(by_text[",".join(pieces[i:ends[0]])])
            i = ends[0]
        else:
            unknown.append(pieces[i])
            i += 1
    return found, unknown


# how each later value is written (and matched against its options)
TEXT: dict[str, Callable[[Any], str]] = {"sel_subject": str, "sel_trial": trial_text,
                                          "sel_window": str, "att_block": numbered,
                                          "att_head": numbered, "att_electrode": str,
                                          "x_subjects": listed, "x_classes": listed,
                                          "x_outcome": str, "x_quantity": str, "x_by": str,
                                          "x_a": str, "x_b": str, "x_block": numbered,
                                          "x_head": numbered, "x_within": _option_text}


@dataclass
class Selection:
    """What this session has chosen: widget key -> value, the URL's values still to be
    checked against the data (key -> text), keys set from the URL that the checkpoint's
    defaults must not overwrite, and notes about ignored URL values."""

    values: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)
    pinned: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)  # the view's URL, as last read or set

    # ---- the URL ---------------------------------------------------------------------------
    @classmethod
    def from_url(cls, params: dict[str, str]) -> Selection:
        """The selection a link names; what is unknown is left out, with a note."""
        sel = cls()
        source = params.get("source", "demo")
        if source not in SOURCE_LABELS:
            sel.notes.append(f"source {source!r}")
            source = "demo"
        if "source" in params and source == params["source"]:
            sel.values["source"] = source
        if params.get("path") and source != "demo":
            sel.values[f"path_{source}"] = params["path"]
            if source == "raw":
                sel.values["raw_how"] = TYPED
        model = params.get("model")
        if model == "shipped":
            sel.values["model_kind"] = SHIPPED
        elif model:
            sel.values["model_kind"], sel.values["model_path"] = FOLDER, model
        for name, options in (("target", targets_for(source)), ("task", tasks_for(source))):
            if name in params:
                sel._choose(f"{name}_{source}", params[name], options, name)
        for name, options in (("method", METHOD_REGISTRY), ("baseline", BASELINES)):
            if name in params:
                sel._choose(f"attr_{name}", params[name], list(options), name)
            across = f"across_{name}"
            if across in params:
                sel._choose(ACROSS[across], params[across], list(options), across)
            elif f"attr_{name}" in sel.values:  # a link naming one method: both pages start there
                sel.values[ACROSS[across]] = sel.values[f"attr_{name}"]
        if source == "raw":
            for name, (key, _) in READING.items():
                if name in params:
                    value = _read_option(key, params[name])
                    if value is None:
                        sel.notes.append(f"{name} {params[name]!r}")
                    else:
                        sel.values[key] = value
        if source == "seed" and SEED_FILTERS in params:
            value = _flag(params[SEED_FILTERS])
            if value is None:
                sel.notes.append(f"{SEED_FILTERS} {params[SEED_FILTERS]!r}")
            else:
                sel.values["seed_ref"] = value
                sel.pinned.add("seed_ref")  # not overwritten by the checkpoint's default
        for name, key in LATER.items():
            if params.get(name):
                sel.pending[key] = params[name]
        return sel

    def _choose(self, key: str, text: str, options: Sequence[str], name: str) -> None:
        if text in options:
            self.values[key] = text
            self.pinned.add(key)
        else:
            self.notes.append(f"{name} {text!r}")

    def url(self) -> dict[str, str]:
        """The query parameters naming this selection (no uploads: they stay server-side)."""
        v, out = self.values, {}
        source = v.get("source", "demo")
        out["source"] = source
        if source in ("deap", "dreamer", "seed") or (source == "raw" and v.get("raw_how") == TYPED):
            if v.get(f"path_{source}"):
                out["path"] = v[f"path_{source}"]
        if v.get("model_kind") == FOLDER and v.get("model_path"):
            out["model"] = v["model_path"]
        else:
            out["model"] = "shipped"
        for name in ("target", "task"):
            if f"{name}_{source}" in v:
                out[name] = str(v[f"{name}_{source}"])
        if source == "raw":
            for name, (key, default) in READING.items():
                if key in v and v[key] is not None and v[key] != default:
                    out[name] = _option_text(v[key])
        if source == "seed" and "seed_ref" in v:
            out[SEED_FILTERS] = _option_text(bool(v["seed_ref"]))
        upload = source == "raw" and v.get("raw_how") != TYPED
        named = {"subject", "subjects"} | ({"group_a", "group_b"} if v.get("x_by") == "subject"
                                           else set())
        for name, key in LATER.items():
            if name in named and upload:
                continue  # an upload's subject is its file's name: it stays in the session
            if key in self.pending:
                out[name] = self.pending[key]
            elif key in v and v[key] is not None and (
                    key not in DEFAULTS or v[key] != DEFAULTS[key]):
                out[name] = TEXT[key](v[key])
        for name in ("method", "baseline"):
            if f"attr_{name}" in v:
                out[name] = str(v[f"attr_{name}"])
        for name, key in ACROSS.items():  # written only where it differs from One trial's
            if v.get(key) is not None and v[key] != v.get(f"attr_{name.split('_')[1]}"):
                out[name] = str(v[key])
        return {k: out[k] for k in URL_ORDER if k in out}

    # ---- the widgets -----------------------------------------------------------------------
    def resolve(self, key: str, options: Sequence, default=None) -> None:
        """Before drawing the widget ``key`` with ``options``: select what the URL named if it
        is one of them (else note it), and replace a kept value that is no longer an option
        with ``default`` (else the first option). Replaced, not deleted: a value deleted here
        stays shown in the browser's widget while the page uses the widget's default."""
        name = next(n for n, k in LATER.items() if k == key)
        if key in self.pending and key in MANY:
            found, unknown = _pieces(self.pending.pop(key), options)
            st.session_state[key] = self.values[key] = found
            self.notes += [f"{name} {u!r}" for u in unknown]
        elif key in self.pending:
            text = self.pending.pop(key)
            found = [o for o in options if TEXT[key](o) == text]
            if found:
                st.session_state[key] = self.values[key] = found[0]
            else:
                self.notes.append(f"{name} {text!r}")
        if key not in st.session_state:
            return
        value, options = st.session_state[key], list(options)
        if key in MANY:  # keep the choices that are still options
            kept = [v for v in value if v in options]
            if kept != list(value):
                st.session_state[key] = self.values[key] = kept
        elif value not in options and options:
            st.session_state[key] = self.values[key] = (
                default if default in options else options[0])
        elif value not in options:
            del st.session_state[key]
            self.values.pop(key, None)

    def show_notes(self) -> None:
        """Say where the page is drawn which values of the link were not used (a warning, not
        a toast, which is gone before it is read); said once: the next run is quiet."""
        if self.notes:
            st.warning("Not in these data or options, so left out of the view: "
                       + ", ".join(self.notes) + " (from the link). The address now names "
                       "what is shown.", icon=":material/link_off:")
            self.notes.clear()


def _view_params() -> dict[str, str]:
    """The URL's parameters that name the view (not a page's own, such as the lesson's step)."""
    return {k: st.query_params.get(k) for k in st.query_params if k in URL_ORDER}


def selection() -> Selection:
    """This session's selection; the first run reads it from the URL, and so does a run whose
    URL is not the one the app last wrote: the browser went Back or Forward (or the address
    was edited), and the view follows it. A URL without parameters is a page chosen in the
    navigation (which drops them): the selection stays."""
    sel = st.session_state.get("_selection")
    params = _view_params()
    if sel is None or (params and params != sel.written):
        again = sel is not None  # Back or Forward, or an edited address
        sel = Selection.from_url(params)
        sel.written = params
        st.session_state["_selection"] = sel
        for key, value in sel.values.items():
            st.session_state[key] = value
        # a choice at its default is not in the URL: an address without it (Back to before
        # it was made) sets it back, or the newer choice would stay and be written again
        gone = {key: DEFAULTS[key] for name, key in ACROSS_VIEW.items()
                if again and name not in params and key in DEFAULTS}
        if again and params.get("source") == "raw":
            gone |= {key: default for name, (key, default) in READING.items()
                     if name not in params}
        for key, default in gone.items():
            st.session_state[key] = sel.values[key] = (
                list(default) if isinstance(default, list) else default)
    return sel


def begin_run() -> Selection:
    """At the start of every run: take the widgets' latest values into the selection and give
    back those that Streamlit dropped while another page was shown."""
    sel = selection()
    state = st.session_state
    for key in KEPT:
        if key in state:
            sel.values[key] = state[key]
        if key in sel.values:
            # written back even when it is there (Streamlit's documented way to keep a widget's
            # value across pages): a value once set through this API would otherwise come back
            # in place of the user's later choice when the widget is next not drawn
            state[key] = sel.values[key]
    return sel


def _fragment_run() -> bool:
    """Whether this run reruns only a fragment (a section), not the whole page."""
    ctx = get_script_run_ctx()
    return bool(ctx and ctx.fragment_ids_this_run)


def sync(keep: Sequence[str] = (), *, last: bool = False) -> None:
    """Take the widgets drawn so far into the selection and put it in the URL when it differs,
    as one message to the browser, which makes it one history entry (the Back button's step).
    A whole page's run writes it once, at its end (``last``: app/Home.py after the page); a
    section that reruns alone writes it itself. Parameters named in ``keep`` are the page's
    own (e.g. the lesson's ``step``): they are left as they are."""
    sel = selection()
    for key in KEPT:
        if key in st.session_state:
            sel.values[key] = st.session_state[key]
    if not (last or _fragment_run()):
        return
    want = sel.url()
    sel.written = want
    have = {k: st.query_params.get(k) for k in st.query_params}
    if want == have:
        return
    # one message for the whole change (a key at a time made a page switch a dozen entries
    # for the Back button to walk through)
    st.query_params.from_dict({k: v for k, v in have.items() if k in keep and k not in want}
                              | want)
