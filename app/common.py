"""Shared dashboard glue: cached loading and computations (their cache keys), and the page
set-up (heading, sidebar, what was loaded and what does not fit).

Computation lives in ``rbt``; this module only caches its results (checkpoints with
``st.cache_resource``, arrays with ``st.cache_data``) and shows the fit's problems in the
dashboard's words (:mod:`wording`). Every cached function is keyed by small hashable values:
the data choice, the checkpoint's path and modification stamp, the device and the rows.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path

import background
import numpy as np
import pandas as pd
import serving
import streamlit as st
import threads
from byte_cache import MB, ByteLRU, nbytes_of

# figures with their export menus live in charts.py; pages reach them through this module
from charts import band_frame, chart, export_menu, pairs_frame, trust_panel  # noqa: F401
from choices import DataChoice, load_data
from explaining import attribution_inputs, trust_numbers
from locate import demo_checkpoint  # the shipped checkpoint, in a clone or a wheel
from serving import plain_message
from sidebar import sidebar
from wording import USER_ERRORS, phrase, what_to_do  # noqa: F401 (pages catch USER_ERRORS)

from rbt import infer
from rbt.checkpoint import CONFIG, METADATA, WEIGHTS
from rbt.data.fitting import CannotInterpolate
from rbt.model_card import EMPTY_CARD
from rbt.model_fit import BLOCKING, NOTE, DataFit, fit_data, loading_defaults

threads.configure()  # once per process: torch's thread count is shared by every session

SYNTHETIC_NOTE = ("The demo data are **synthetic**: generated EEG with class effects planted "
                  "at known electrodes and bands, so you can check that the model and its "
                  "explanations find them. They are not recordings of people.")


# --------------------------------------------------------------------------------------------
# cached computations (keys are small hashable values; the big objects are resources)


# The loaded features, shared by sessions like st.cache_resource, but kept here because a
# cached function cannot drive a progress bar drawn outside it (Streamlit replays elements).
# One lock per choice: a second session asking for data being loaded waits for it.
_DATA: OrderedDict = OrderedDict()
_DATA_LOCK = threading.Lock()
_LOADING: dict = {}
DATA_BUDGET = 1024 * MB  # loaded features kept beyond the newest (SEED's are 340 MB)


def data_resource(choice: DataChoice, on_file=None):
    key = choice  # it holds the files' stamp, so files changed on disk are read again
    with _DATA_LOCK:
        lock = _LOADING.setdefault(key, threading.Lock())
    with lock:
        with _DATA_LOCK:
            if key in _DATA:
                _DATA.move_to_end(key)
                return _DATA[key]
        fs = load_data(choice, on_file=on_file)
        with _DATA_LOCK:
            _DATA[key] = fs
            while len(_DATA) > 1 and (len(_DATA) > 4 or sum(
                    nbytes_of(v) for v in _DATA.values()) > DATA_BUDGET):
                _LOADING.pop(_DATA.popitem(last=False)[0], None)
        return fs


@st.cache_resource(show_spinner=False, max_entries=4)
def checkpoint_resource(path: str, stamp: float):
    """The loaded checkpoint (model and card), shared by every session."""
    from rbt.checkpoint import load_checkpoint

    return load_checkpoint(path)


@st.cache_resource(show_spinner=False, max_entries=8)
def device_model(path: str, stamp: float, device: str):
    """The model on ``device``: a copy per device, so that sessions on different devices never
    move one shared model under each other (rbt's functions move a model to their device)."""
    from rbt.device import resolve_device

    model = checkpoint_resource(path, stamp).model
    return copy.deepcopy(model).to(resolve_device(device)).eval()


@st.cache_resource(show_spinner=False, max_entries=4)
def fit_resource(choice: DataChoice, model_path: str, stamp: float) -> DataFit:
    return fit_data(checkpoint_resource(model_path, stamp), data_resource(choice))


def pass_groups(fit) -> dict:
    """Each window's group in the groupings known before predicting: its true class (when
    the data have the model's labels), subject and own label ("" when none)."""
    from selection import own_labels_of

    own = own_labels_of(fit.fs)
    groups = {"subject": fit.table["subject"].astype(str).to_numpy(),
              "label": np.full(len(fit.fs), "", dtype=object) if own is None else own}
    if fit.y is not None:
        groups["true"] = np.asarray(fit.class_names, dtype=object)[fit.y]
    return groups


#: a pass started by loading the data waits this long before its first batch, so that the
#: page that loaded them is drawn first (measured on 2 busy cores, full DEAP: the first page
#: took a median 6.1 s with the pass starting at once, 4.5 s without it)
LOAD_GRACE_S = 3.0
_ASKED: dict = {}  # pass key -> set when a page asks for the pass: its grace ends


def whole_pass(choice, model_path, stamp, device, attention: bool = True,
               grace_s: float = 0.0) -> background.Job:
    """The one pass over every window (:func:`rbt.explain.group_pass`), in the background,
    started once per data and model: every window's predictions (the job's ``partial`` holds
    them as they come, so the table is drawn meanwhile) and the group sums of BDE and
    attention (every block and head, and the rollout) that serve every map. For the table
    (``attention`` False) predictions read from a file (:func:`predictions_from_file`) win;
    the pass goes on for the attention. A new pass waits ``grace_s`` before its first batch,
    unless a page asks for it meanwhile."""
    key = ("pass", choice, model_path, stamp, device)
    asked = _ASKED.setdefault(key, threading.Event())
    if not grace_s:
        asked.set()
    if not attention:
        kept = background.running(key + (False,))  # predictions read from a file
        if kept is not None:
            return kept
    f = fit_resource(choice, model_path, stamp)
    model = device_model(model_path, stamp, device)
    groups = pass_groups(f)

    def work(report, stopped):
        from rbt.explain import group_pass

        probs = np.zeros((len(f.X), model.config.num_classes), np.float32)
        report(0, len(f.X), probs)
        end = time.monotonic() + grace_s  # a page that asks for it ends the grace
        while time.monotonic() < end and not stopped() and not asked.is_set():
            time.sleep(0.05)
        return group_pass(model, f.X, groups, class_names=f.class_names, device=device,
                          batch_size=256, on_progress=report, stop=stopped, out=probs)
    return background.job(key + (True,), work)


def predictions_from_file(choice, model_path, stamp, device, source) -> bool:
    """Take every window's predictions from the CSV ``rbt predict`` wrote (a path or an
    uploaded file) instead of computing them: they become the table's at once. Beside a
    path, the attention ``rbt predict --attention`` wrote (every block and the rollout) is
    read in the background instead of the pass over every window (stopped), for the
    attention means. True when there is such attention."""
    from rbt.explain.groups import predicted_pass
    from rbt.predictions_file import read_attention, read_predictions_rows

    f = fit_resource(choice, model_path, stamp)
    probs, pred, rows = read_predictions_rows(source, f)
    stored = read_attention(source, f, rows) if isinstance(source, str) else None
    groups, key = pass_groups(f), ("pass", choice, model_path, stamp, device)
    background.finish(key + (False,), predicted_pass(f.X, groups, probs, pred,
                                                     class_names=f.class_names))
    if stored is None or background.RESULTS.get(key + (True,)) is not None:
        return stored is not None

    def work(report, stopped):
        return predicted_pass(f.X, groups, probs, pred, class_names=f.class_names,
                              attention=stored[0], rollout=stored[1], rows=rows,
                              on_progress=report, stop=stopped)
    background.replace(key + (True,), work)
    return True


def feature_group_sums(choice, model_path, stamp):
    """The BDE group sums of every window in the groupings known before predicting
    (:func:`pass_groups`; :func:`rbt.explain.groups.feature_sums`): no model run, so the BDE
    means are drawn while the pass goes on. Kept per data and model."""
    from rbt.explain.groups import feature_sums

    f = fit_resource(choice, model_path, stamp)
    return background.RESULTS.get_or_compute(("bde", choice, model_path, stamp),
                                             lambda: feature_sums(f.X, pass_groups(f)))


def predictions(choice: DataChoice, model_path: str, stamp: float, device: str):
    """(probs, pred) for every window, waiting for the background pass; pages that need
    only one trial use window_predictions."""
    job = whole_pass(choice, model_path, stamp, device, attention=False)
    job.wait()
    if job.error is not None:
        raise job.error
    if job.result is None:
        raise RuntimeError("the predictions were stopped")
    return job.result.probs, job.result.pred


@st.cache_data(show_spinner=False, max_entries=256)
def window_predictions(choice, model_path, stamp, device, rows: tuple[int, ...]):
    """(probs, pred) for a few windows, e.g. one trial's."""
    f = fit_resource(choice, model_path, stamp)
    p = infer.predict_array(device_model(model_path, stamp, device), f.X[list(rows)],
                            device=device, batch_size=max(len(rows), 1))
    return p.probs, p.pred


TABLES = ByteLRU(256 * MB)  # prediction tables (80 MB for all of SEED)
ATTENTION = ByteLRU(384 * MB)  # trials' attention: 6 MB a DEAP trial, 150 MB a SEED one


def prediction_table(choice, model_path, stamp, device, probs, pred) -> pd.DataFrame:
    """The predictions table of every window (a copy: pages add columns to it), kept per
    set of predictions (computed, or read from a file)."""
    import hashlib

    f = fit_resource(choice, model_path, stamp)
    which = hashlib.blake2b(np.ascontiguousarray(probs).tobytes(), digest_size=16).hexdigest()
    return TABLES.get_or_compute((choice, model_path, stamp, device, which),
                                 lambda: infer.prediction_table(f, probs, pred)).copy()


def trial_attention(choice, model_path, stamp, device, rows: tuple[int, ...]) -> np.ndarray:
    """(windows, depth, heads, E, E) attention of a few windows (read-only, shared)."""
    def compute():
        f = fit_resource(choice, model_path, stamp)
        return infer.predict_array(device_model(model_path, stamp, device), f.X[list(rows)],
                                   device=device, batch_size=max(len(rows), 1),
                                   attention=True).attention
    return ATTENTION.get_or_compute((choice, model_path, stamp, device, tuple(rows)), compute)


@st.cache_data(show_spinner=False, max_entries=1024)
def attributions(choice, model_path, stamp, device, rows: tuple[int, ...], method: str,
                 baseline: str, target: str) -> np.ndarray:
    """Attributions (windows, E, bands) for a selection of windows, computed once per method."""
    from rbt.explain import attribute

    f = fit_resource(choice, model_path, stamp)
    return attribute(device_model(model_path, stamp, device), f.X[list(rows)], method=method,
                     device=device, **attribution_inputs(f, rows, baseline, target))


@st.cache_data(show_spinner=False, max_entries=1024)
def trust(choice, model_path, stamp, device, rows: tuple[int, ...], method: str, baseline: str,
          target: str) -> dict:
    """The explanation's trust numbers for a selection: {"metrics": [...]} or {"error": ...}."""
    f = fit_resource(choice, model_path, stamp)
    found = attributions(choice, model_path, stamp, device, rows, method, baseline, target)
    try:
        metrics = trust_numbers(device_model(model_path, stamp, device), f.X[list(rows)],
                                found, method, device=device,
                                **attribution_inputs(f, rows, baseline, target))
    except Exception as err:  # a failing check must not take the maps down with it
        return {"error": f"{type(err).__name__}: {err}"}
    return {"metrics": metrics}


@st.cache_resource(show_spinner=False, max_entries=8)
def demo_recording(subject: str):
    from rbt.teaching import demo_recording as read

    return read(subject)


# --------------------------------------------------------------------------------------------
# the sidebar and the loaded state


class Loaded:
    """What the sidebar loaded: the fit (checkpoint and data) and the cache keys."""

    def __init__(self, choice, model_path, stamp, device, fit: DataFit):
        self.choice, self.model_path, self.stamp, self.device = choice, model_path, stamp, device
        self.fit = fit

    @property
    def runnable(self) -> bool:
        """Can the model read the data? When not, only the data's own views can be shown."""
        return self.fit.runnable

    def predictions(self):
        """(probs, pred) of every window, computed once."""
        return predictions(*self.key)

    def window_predictions(self, rows):
        return window_predictions(*self.key, tuple(int(r) for r in rows))

    @property
    def key(self) -> tuple:
        return (self.choice, self.model_path, self.stamp, self.device)


def _stamp(path: str) -> float:
    """The newest modification time of the checkpoint's files (weights, config, card), so a
    rebuilt or edited checkpoint is loaded again."""
    p = Path(path).expanduser()
    folder = p if p.is_dir() else p.parent
    files = [p / WEIGHTS if p.is_dir() else p, folder / CONFIG, folder / METADATA]
    times = []
    for file in files:
        try:
            times.append(file.stat().st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)


def card_of(path: str):
    """(card, stamp) of a checkpoint for the sidebar's defaults; an empty card when it cannot
    be loaded (loading it for the pages says why)."""
    stamp = _stamp(path)
    try:
        return checkpoint_resource(path, stamp).card, stamp
    except Exception:  # noqa: BLE001 - shown by load(), with what to do
        return EMPTY_CARD, stamp


def show_problems(fit: DataFit) -> bool:
    """The fit's problems in the dashboard's words: blocking ones as errors (and then nothing
    else), warnings as warnings, notes as notes. True when the model can read the data."""
    blocking = [p for p in fit.problems if p.severity == BLOCKING]
    if blocking:
        for p in blocking:
            st.error(f"**The model could not be used.** {plain_message(phrase(p, fit))}")
        return False
    for p in fit.problems:
        show = st.info if p.severity == NOTE else st.warning
        show(plain_message(phrase(p, fit)))
    for message in fit.fs.notes:  # what reading the files left out
        st.warning(plain_message(message))
    return True


def load(choice, model_path: str, device: str) -> Loaded | None:
    """Load (cached) the data and the model and fit them; show errors and problems plainly.
    A model that cannot read the data still gives a :class:`Loaded` (not ``runnable``), so
    pages can show the data's own views."""
    if choice is None:
        if (st.query_params.get("source") == "raw" and "path" not in st.query_params
                and not st.session_state.get("_upload_tried")):
            # a link made while a recording was uploaded: the upload stayed in its session
            st.info("This link shows a recording that was uploaded in another session; "
                    "uploads stay private to the session that made them. Upload the "
                    "recording again in the sidebar (with the same options) to see this view.")
        else:
            st.info("Choose the data in the sidebar: enter a path or upload a recording (and "
                    "fix any error shown there).")
        return None
    if not model_path:
        st.info("Enter a checkpoint folder in the sidebar.")
        return None
    stamp = _stamp(model_path)
    choice = _without_interpolation(choice)
    key = (choice, model_path, stamp, device)
    first = st.session_state.get("_loaded_key") != key
    box = st.status("Loading…", expanded=False) if first else nullcontext()
    try:
        with box:
            if first:
                st.write(f"Reading {plain_message(choice.describe())} and computing BDE features "
                         + ("…" if not choice.keep_on_disk else
                            "(cached on disk after the first time)…"))
            try:
                fs = data_resource(choice, on_file=_file_progress() if first else None)
            except CannotInterpolate as err:
                if not choice.fit_to:
                    raise
                # the recording is readable as it is: its own views, and why not the model
                st.session_state[NO_INTERPOLATION] = (choice, plain_message(err))
                box.update(label="The missing electrodes cannot be interpolated",
                           state="complete")
                return load(choice, model_path, device)
            if first:
                st.write(f"{len(fs)} windows, {len(fs.ch_names)} electrodes. Loading the "
                         "model…")
            fit = fit_resource(choice, model_path, stamp)
            if first:
                box.update(label=f"Loaded {len(fs)} windows and the model", state="complete")
    except Exception as err:  # whatever a file makes rbt raise is shown, never a trace
        if first:
            box.update(label="Loading failed", state="error")
        st.error(what_to_do(err))
        st.info("Nothing is loaded: fix the data or model choice in the sidebar.")
        st.session_state.pop("_loaded_key", None)
        return None
    show_problems(fit)
    st.session_state["_loaded_key"] = key
    if fit.runnable and first:  # every window's predictions and attention sums, in the
        whole_pass(*key, grace_s=LOAD_GRACE_S)  # background (once: if stopped, it stays so)
    return Loaded(choice, model_path, stamp, device, fit)


NO_INTERPOLATION = "_no_interpolation"  # (the choice, why its electrodes cannot be interpolated)


def _without_interpolation(choice):
    """``choice`` without interpolation onto the model's electrodes when that was found not
    possible for it (too many missing, or too far from the measured ones), saying so."""
    found = st.session_state.get(NO_INTERPOLATION)
    if found is None or found[0] != choice:
        return choice
    st.warning(f"**The missing electrodes cannot be interpolated.** {found[1]} The recording "
               "is shown as it is, without the model.")
    return dataclasses.replace(choice, fit_to=())


def _file_progress():
    """A ``load_features`` ``on_file`` callback: a progress bar, drawn when files are read."""
    bar = []

    def report(done: int, total: int, name: str) -> None:
        text = (f"file {done + 1} of {total}: {plain_message(name)}" if done < total else
                f"{total} file{'s' if total != 1 else ''} read")
        if not bar:
            bar.append(st.progress(0.0))
        bar[0].progress(done / max(total, 1), text=text)
    return report


def demo_bundle():
    """(fit, cache key) for the demo data and the shipped checkpoint, labelled as it was
    trained, with its window and stride."""
    path = str(demo_checkpoint())
    stamp = _stamp(path)
    device = st.session_state.get("device", "auto")
    try:
        defaults = loading_defaults(checkpoint_resource(path, stamp).card, "demo")
        choice = DataChoice("demo", target=defaults["target"] or "valence",
                            task=defaults["task"] or "binary", window=defaults["window"],
                            stride=defaults["stride"])
        with st.spinner("Loading the demo data and the shipped checkpoint…"):
            fit = fit_resource(choice, path, stamp)
    except Exception as err:  # shown, never a trace
        st.error(what_to_do(err))
        return None
    if not fit.runnable:
        show_problems(fit)
        return None
    return fit, (choice, path, stamp, device)


def draw_sidebar(data: bool = True) -> None:
    """Draw the sidebar (once per run, for whichever page is shown) and keep what it chose
    for the page's :func:`setup`; ``data=False`` hides the data and model choices (a page
    that always uses the demo)."""
    serving.tidy_uploads()  # uploads of ended sessions and idle past the TTL
    st.session_state["_chosen"] = sidebar(str(demo_checkpoint()), card_of, data=data)
    serving.network_notice(st.sidebar)


DATA_ONLY_NOTE = ("The views below need no model: they show the data's own band maps, band "
                  "power over time and group means by label.")


def setup(title: str, heading: str | None = None, load_data: bool = True,
          data_only: bool = False) -> Loaded | None:
    """Start a page: show its heading and load (cached) what the sidebar chose. Returns None,
    after saying what to fix, when nothing could be loaded, or when the model cannot read the
    data and the page has no ``data_only`` views (then it gets a Loaded that is not
    ``runnable``)."""
    st.title(heading or title)
    if not load_data:
        return None
    choice, model_path, device = st.session_state["_chosen"]
    loaded = load(choice, model_path, device)
    if loaded is None:  # load() said what to fix
        return None
    if not loaded.runnable:
        if not data_only:
            st.info("Nothing more to show with this model: fix the model choice in the "
                    "sidebar (see the message above), or open One trial or Across trials "
                    "for the data's own views.")
            return None
    return loaded
