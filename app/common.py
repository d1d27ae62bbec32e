"""Shared dashboard glue: the sidebar (data, model, device) and cached loading.

Computation lives in ``rbt``; this module only caches its results (models with
``st.cache_resource``, arrays with ``st.cache_data``) and draws widgets.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import serving
import streamlit as st

# figures with their export menus live in charts.py; pages reach them through this module
from charts import band_frame, chart, export_menu, pairs_frame, trust_panel  # noqa: F401
from serving import plain, plain_message

from rbt import dashboard as dash
from rbt.checkpoint import CheckpointError
from rbt.data import DataFormatError
from rbt.montage import UnknownChannelsError

# what can go wrong with a user's data or model: shown as st.error, never as a crash trace
USER_ERRORS = (DataFormatError, CheckpointError, UnknownChannelsError, ValueError,
               FileNotFoundError, OSError, KeyError)
SYNTHETIC_NOTE = ("The demo data are **synthetic**: generated EEG with class effects planted "
                  "at known electrodes and bands, so you can check that the model and its "
                  "explanations find them. They are not recordings of people.")
BASELINES = {"zeros": "zeros (no change from rest)", "subject_mean": "the subject's mean window",
             "sample": "other windows, drawn at random"}
BASELINE_HELP = {
    "zeros": "all zeros, which for baseline-subtracted BDE (DEAP, DREAMER, the demo) means "
             "'no change from the pre-stimulus recording'.",
    "subject_mean": "the subject's mean window: what is unusual about this window for this "
                    "person.",
    "sample": "other windows drawn at random (seeded).",
}


# --------------------------------------------------------------------------------------------
# cached computations (keys are small hashable values; the big objects are resources)


# The loaded features, shared by sessions like st.cache_resource, but kept here because a
# cached function cannot drive a progress bar drawn outside it (Streamlit replays elements).
# One lock per choice: a second session asking for data being loaded waits for it.
_DATA: OrderedDict = OrderedDict()
_DATA_LOCK = threading.Lock()
_LOADING: dict = {}


def data_resource(choice: dash.DataChoice, on_file=None):
    key = choice  # it holds the files' stamp, so files changed on disk are read again
    with _DATA_LOCK:
        lock = _LOADING.setdefault(key, threading.Lock())
    with lock:
        with _DATA_LOCK:
            if key in _DATA:
                _DATA.move_to_end(key)
                return _DATA[key]
        fs = dash.load_data(choice, on_file=on_file)
        with _DATA_LOCK:
            _DATA[key] = fs
            while len(_DATA) > 4:
                _LOADING.pop(_DATA.popitem(last=False)[0], None)
        return fs


@st.cache_resource(show_spinner=False, max_entries=4)
def model_resource(path: str, stamp: float):
    from rbt.checkpoint import load_model

    return load_model(path)


@st.cache_resource(show_spinner=False, max_entries=8)
def device_model(path: str, stamp: float, device: str):
    """The model on ``device``: a copy per device, so that sessions on different devices never
    move one shared model under each other (rbt's functions move a model to their device)."""
    from rbt.device import resolve_device

    model, _ = model_resource(path, stamp)
    return copy.deepcopy(model).to(resolve_device(device)).eval()


@st.cache_resource(show_spinner=False, max_entries=4)
def fitted_resource(choice: dash.DataChoice, model_path: str, stamp: float) -> dash.Fitted:
    model, meta = model_resource(model_path, stamp)
    return dash.fit_model_to_data(model, meta, data_resource(choice))


@st.cache_data(show_spinner="Predicting every window (once)…", max_entries=8)
def predictions(choice: dash.DataChoice, model_path: str, stamp: float, device: str):
    """(probs, pred) for every window; pages that need only one trial use window_predictions."""
    f = fitted_resource(choice, model_path, stamp)
    return dash.predict_all(device_model(model_path, stamp, device), f.X, device=device)


@st.cache_data(show_spinner=False, max_entries=256)
def window_predictions(choice, model_path, stamp, device, rows: tuple[int, ...]):
    """(probs, pred) for a few windows, e.g. one trial's."""
    f = fitted_resource(choice, model_path, stamp)
    return dash.predict_windows(device_model(model_path, stamp, device), f.X[list(rows)],
                                device=device)


@st.cache_data(show_spinner=False, max_entries=8)
def prediction_table(choice, model_path, stamp, device) -> pd.DataFrame:
    f = fitted_resource(choice, model_path, stamp)
    return dash.prediction_frame(f, *predictions(choice, model_path, stamp, device))


@st.cache_data(show_spinner=False, max_entries=64)
def trial_attention(choice, model_path, stamp, device, rows: tuple[int, ...]) -> np.ndarray:
    f = fitted_resource(choice, model_path, stamp)
    return dash.window_attention(device_model(model_path, stamp, device), f.X[list(rows)],
                                 device=device)


@st.cache_data(show_spinner=False, max_entries=16)
def group_attention(choice, model_path, stamp, device, block, head, by: str) -> dict:
    """Group (class or subject) -> mean attention map of one block and head."""
    f = fitted_resource(choice, model_path, stamp)
    pred = None if f.y is not None else predictions(choice, model_path, stamp, device)[1]
    return dash.group_mean_attention(device_model(model_path, stamp, device), f.X,
                                     dash.group_labels(f, pred, by), block, head,
                                     device=device)


def _explain_options(f: dash.Fitted, idx: list[int], baseline: str, target: str) -> dict:
    """What rbt.explain needs besides the windows: the explained class (the true one, or None
    for the predicted) and, for baselines built from other windows, where to find them."""
    subjects = f.table["subject"].to_numpy()
    return dict(target=f.y[idx] if target == "true" and f.y is not None else None,
                baseline=baseline, subject_ids=subjects[idx],
                reference=f.X if baseline in ("subject_mean", "sample") else None,
                reference_subject_ids=subjects if baseline == "subject_mean" else None)


@st.cache_data(show_spinner=False, max_entries=1024)
def attributions(choice, model_path, stamp, device, rows: tuple[int, ...], method: str,
                 baseline: str, target: str) -> np.ndarray:
    """Attributions (windows, E, bands) for a selection of windows, computed once per method."""
    f = fitted_resource(choice, model_path, stamp)
    idx = list(rows)
    return dash.attribute_windows(device_model(model_path, stamp, device), f.X[idx], method,
                                  device=device,
                                  **_explain_options(f, idx, baseline, target))


@st.cache_data(show_spinner=False, max_entries=1024)
def trust(choice, model_path, stamp, device, rows: tuple[int, ...], method: str, baseline: str,
          target: str) -> dict:
    """The explanation's trust numbers for a selection: {"metrics": [...]} or {"error": ...}."""
    f = fitted_resource(choice, model_path, stamp)
    idx = list(rows)
    found = attributions(choice, model_path, stamp, device, rows, method, baseline, target)
    try:
        metrics = dash.trust_numbers(device_model(model_path, stamp, device), f.X[idx], found,
                                     method, device=device,
                                     **_explain_options(f, idx, baseline, target))
    except Exception as err:  # a failing check must not take the maps down with it
        return {"error": f"{type(err).__name__}: {err}"}
    return {"metrics": metrics}


# --------------------------------------------------------------------------------------------
# the sidebar and the loaded state


class Loaded:
    """What the sidebar loaded: the fitted bundle, predictions and the cache keys."""

    def __init__(self, choice, model_path, stamp, device, fitted):
        self.choice, self.model_path, self.stamp, self.device = choice, model_path, stamp, device
        self.fitted = fitted

    def predictions(self):
        """(probs, pred) of every window, computed once."""
        return predictions(*self.key)

    def window_predictions(self, rows):
        return window_predictions(*self.key, tuple(int(r) for r in rows))

    @property
    def key(self) -> tuple:
        return (self.choice, self.model_path, self.stamp, self.device)



def _stamp(path: str) -> float:
    """The weights' modification time, so a rebuilt checkpoint is loaded again."""
    p = Path(path).expanduser()
    weights = p / "model.safetensors" if p.is_dir() else p
    try:
        return weights.stat().st_mtime
    except OSError:
        return 0.0


def max_upload_mb() -> float:
    return float(st.get_option("server.maxUploadSize") or dash.MAX_UPLOAD_MB)


def handle_upload(files) -> str | None:
    """Keep uploaded recording file(s) in this session's own folder once they open as a
    recording (a new upload replaces the last); show an error saying what to do otherwise."""
    uploads = serving.session_uploads()
    files = files if isinstance(files, list) else [files] if files else []
    if not files:
        uploads.clear()  # removed from the widget: deleted from the server too
        st.session_state.pop("_upload", None)
        return None
    key = tuple(f.file_id for f in files)
    saved = st.session_state.get("_upload")
    if saved and saved[0] == key:  # already kept: don't write it on every rerun
        if not uploads.expired:
            uploads.touch()
            return saved[1]
        st.session_state.pop("_upload", None)
        st.session_state["_upload_gen"] = st.session_state.get("_upload_gen", 0) + 1
        ttl = uploads.store.ttl
        idle = f"{ttl / 60:.0f} min" if ttl >= 120 else f"{ttl:.0f} s"
        st.warning(f"The upload was deleted after {idle} without use. Upload it again.")
        return None
    try:
        path = str(uploads.save([(f.name, f.getvalue()) for f in files],
                                max_mb=max_upload_mb(), validate=dash.check_recording))
    except Exception as err:  # any failure to keep or open it is the upload's fault
        st.session_state.pop("_upload", None)
        st.error(f"Upload refused: {plain_message(_message(err))}")
        return None
    st.session_state["_upload"] = (key, path)
    return path


def _message(err: Exception) -> str:
    return str(err).strip() or type(err).__name__


def sidebar() -> tuple[dash.DataChoice | None, str, str]:
    """Draw the data, model and device choices; returns (data choice or None, model, device)."""
    sb = st.sidebar
    sb.header("Data")
    sources = list(dash.SOURCE_LABELS)
    source = sb.selectbox("Source", sources, format_func=dash.SOURCE_LABELS.get, key="source")
    path, choice, renames = None, None, ()
    seed_ref = drop_unknown = uploaded = False
    if source in ("deap", "dreamer", "seed"):
        hint = {"deap": "data_preprocessed_python/", "dreamer": "DREAMER.mat",
                "seed": "Preprocessed_EEG/"}[source]
        path = serving.typed_path(sb, f"Path to {hint}", key=f"path_{source}",
                                  placeholder=f"/data/{hint}")
        if source == "seed":
            seed_ref = sb.checkbox("Reference filters (128 Hz)", key="seed_ref",
                                   help="Official SEED checkpoints expect features filtered as "
                                        "the reference code did, for 128 Hz.")
    elif source == "raw":
        how = sb.radio("Recording", ["Upload", "Path on this machine"], key="raw_how",
                       horizontal=True)
        if how == "Upload":
            gen = st.session_state.get("_upload_gen", 0)
            files = sb.file_uploader(
                "EEG recording (plus .vmrk/.eeg or .fdt companions)", accept_multiple_files=True,
                key="upload" if not gen else f"upload_{gen}",
                help=f"Up to {max_upload_mb():.0f} MB. Only this browser session can use it; "
                     "it is deleted when the session ends or after an idle time.")
            path = handle_upload(files)
            uploaded = path is not None
        else:
            path = serving.typed_path(sb, "Path to the recording", key="path_raw")
        drop_unknown = sb.checkbox("Drop channels that are not 10-05 electrodes",
                                   key="drop_unknown")
        text = sb.text_input("Rename channels", key="channel_map",
                             placeholder="EEG 1=Fp1, EEG 2=Fp2",
                             help="For names rbt does not recognise: each channel's name in the "
                                  "file, '=', and the 10-05 electrode it records.")
        try:
            renames = dash.parse_channel_map(text)
        except ValueError as err:
            sb.error(plain(err))
            path = None  # nothing is loaded until the renames make sense
    targets = dash.targets_for(source)
    target = sb.selectbox("Target", targets, key=f"target_{source}")
    tasks = dash.tasks_for(source)
    task = sb.radio("Task", tasks, key=f"task_{source}", horizontal=True,
                    format_func={"binary": "binary", "multi": "multi-class"}.get)
    if source == "demo":
        sb.caption("Synthetic EEG with planted effects: see Home.")
    if source == "demo" or path:
        choice = dash.DataChoice(source=source, path=path, target=target, task=task,
                                 seed_reference_filters=seed_ref, drop_unknown=drop_unknown,
                                 channel_map=renames, keep_on_disk=not uploaded)
        choice = dataclasses.replace(choice, stamp=dash.data_stamp(choice))
    sb.header("Model")
    kind = sb.radio("Checkpoint", ["Shipped demo checkpoint", "Checkpoint folder"],
                    key="model_kind",
                    help="A folder with config.json and model.safetensors: one rbt wrote, or "
                         "an official RBTransformer checkpoint.")
    if kind == "Shipped demo checkpoint":
        model_path = str(dash.demo_checkpoint())
    else:
        model_path = serving.typed_path(sb, "Checkpoint folder", key="model_path") or ""
    device = sb.selectbox("Device", dash.available_devices(), key="device")
    sb.header("Figures")
    sb.radio("Image format of the chart toolbar's camera", ["png", "svg"], key="image_format",
             horizontal=True, help="Rendered by your browser, so it works offline.")
    return choice, model_path, device


def load(choice, model_path: str, device: str) -> Loaded | None:
    """Load (cached) the data, the model and every window's prediction; show errors plainly."""
    if choice is None:
        st.info("Choose the data in the sidebar: enter a path or upload a recording (and fix "
                "any error shown there).")
        return None
    if not model_path:
        st.info("Enter a checkpoint folder in the sidebar.")
        return None
    stamp = _stamp(model_path)
    key = (choice, model_path, stamp, device)
    first = st.session_state.get("_loaded_key") != key
    box = st.status("Loading…", expanded=False) if first else nullcontext()
    try:
        with box:
            if first:
                st.write(f"Reading {plain_message(choice.describe())} and computing BDE features "
                         + ("…" if not choice.keep_on_disk else
                            "(cached on disk after the first time)…"))
            fs = data_resource(choice, on_file=_file_progress() if first else None)
            if first:
                st.write(f"{len(fs)} windows, {len(fs.ch_names)} electrodes. Loading the "
                         "model…")
            fitted = fitted_resource(choice, model_path, stamp)
            if first:
                box.update(label=f"Loaded {len(fs)} windows and the model", state="complete")
    except Exception as err:  # whatever a file makes rbt raise is shown, never a trace
        if first:
            box.update(label="Loading failed", state="error")
        st.error(_what_to_do(err, choice, model_path))
        st.session_state.pop("_loaded_key", None)
        return None
    st.session_state["_loaded_key"] = key
    for message in fitted.errors:
        st.error(plain_message(message))
    for message in [*fitted.warnings, *fitted.fs.notes]:  # notes: what reading left out
        st.warning(plain_message(message))
    return Loaded(choice, model_path, stamp, device, fitted)


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


def _what_to_do(err: Exception, choice, model_path: str) -> str:
    """The error as Markdown: our words in bold, the error's text (which may echo a file's
    content) escaped."""
    text = plain_message(_message(err))
    if not isinstance(err, USER_ERRORS):
        text = f"{type(err).__name__}: {text}"
    if isinstance(err, CheckpointError):
        return f"**The model could not be used.** {text}"
    if isinstance(err, UnknownChannelsError):
        return (f"**Unknown electrode names.** {text} In the dashboard: 'Rename channels' in "
                "the sidebar (e.g. `EEG 1=Fp1`), or tick 'Drop channels that are not 10-05 "
                "electrodes'.")
    if isinstance(err, (DataFormatError, FileNotFoundError)):
        return (f"**The data could not be read.** {text} Check that the source in the sidebar "
                "matches the file or folder.")
    return f"**Could not load.** {text}"


def demo_bundle():
    """(fitted, cache key) for the demo data and the shipped checkpoint."""
    path = str(dash.demo_checkpoint())
    stamp = _stamp(path)
    device = st.session_state.get("device", "auto")
    try:
        _, meta = model_resource(path, stamp)
        choice = dash.DataChoice("demo", target=(meta or {}).get("target") or "valence",
                                 task=(meta or {}).get("task") or "binary")
        with st.spinner("Loading the demo data and the shipped checkpoint…"):
            fitted = fitted_resource(choice, path, stamp)
    except Exception as err:  # shown, never a trace
        st.error(_what_to_do(err, None, path))
        return None
    return fitted, (choice, path, stamp, device)


@st.cache_resource(show_spinner=False, max_entries=8)
def demo_recording(subject: str):
    from rbt.teaching import demo_recording as read

    return read(subject)


# widget values that must survive moving between pages (Streamlit drops the state of widgets
# that the new page has not drawn yet; re-assigning a value keeps it)
PERSISTENT = ("source", "path_deap", "path_dreamer", "path_seed", "path_raw", "seed_ref",
              "raw_how", "drop_unknown", "channel_map", "target_demo", "target_deap",
              "target_dreamer",
              "target_seed", "target_raw", "task_demo", "task_deap", "task_dreamer", "task_seed",
              "task_raw", "model_kind", "model_path", "device", "image_format", "sel_subject",
              "sel_trial", "sel_window", "map_mode", "map_contours", "map_scale", "map_planted",
              "att_block", "att_head", "att_lines", "att_k", "att_threshold", "att_electrode",
              "attr_method", "attr_baseline", "attr_target")


def setup(title: str, heading: str | None = None, load_data: bool = True) -> Loaded | None:
    """Start a page: configure it, show its heading, draw the sidebar and load (cached) what
    the sidebar chose. Returns None, after saying what to fix, when nothing could be loaded.
    """
    st.set_page_config(page_title=f"{title} · rbt dashboard", page_icon=":material/psychology:",
                       layout="wide")
    st.title(heading or title)
    for key in PERSISTENT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    serving.upload_store().sweep(every=60)  # uploads idle past the TTL, of every session
    choice, model_path, device = sidebar()
    serving.network_notice(st.sidebar)
    if not load_data:
        return None
    loaded = load(choice, model_path, device)
    if loaded is None:
        st.info("Nothing is loaded: fix the data or model choice in the sidebar (see the "
                "message above).")
    return loaded
