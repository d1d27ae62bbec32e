"""The sidebar every page draws: the data (source, path or upload, renames, labels), the model
and the device, and the figures' export format.

The labels and the windows follow the checkpoint (:func:`rbt.model_fit.loading_defaults`):
the features are computed with its window and stride, and when it was trained on the chosen
source, its target and task are selected (once per model, so a choice made afterwards stays).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import serving
import streamlit as st
from choices import (
    AS_NAMED,
    CAP_LAYOUTS,
    SOURCE_LABELS,
    DataChoice,
    data_stamp,
    parse_channel_map,
    targets_for,
    tasks_for,
    with_layout,
)
from serving import plain, plain_message
from state import FOLDER, SHIPPED, TYPED, selection
from uploads import RECORDING_SUFFIXES, SIDECARS, check_recording
from wording import PREPROCESS_LABEL

from rbt.device import available_devices
from rbt.model_card import EMPTY_CARD, ModelCard
from rbt.model_fit import loading_defaults

PATH_HINTS = {"deap": "data_preprocessed_python/", "dreamer": "DREAMER.mat",
              "seed": "Preprocessed_EEG/"}


def max_upload_mb() -> float:
    """The server's upload limit (``server.maxUploadSize``, in MB): the one number the
    uploader widget and the upload check both use."""
    return float(st.get_option("server.maxUploadSize"))


def _to_use(files) -> list:
    """Of every file the uploader holds (in the order they were dropped), the ones to load:
    the last recording and the companion files beside it (the last of each name), so that a
    refused or replaced file dropped earlier does not stand in the way of a new one."""
    recordings = [f for f in files if f.name.lower().endswith(RECORDING_SUFFIXES)]
    if not recordings:
        return files  # the check says what was expected
    companions = {f.name: f for f in files if f.name.lower().endswith(SIDECARS)}
    return [recordings[-1], *companions.values()]


def _upload_changed() -> None:
    st.session_state["_upload_changed"] = True  # by the user: a drop or a removal


def handle_upload(files, sb) -> str | None:
    """Keep uploaded recording file(s) in this session's own folder once they open as a
    recording (a new upload replaces the last); show an error saying what to do otherwise.
    An upload stays in use while the uploader is not drawn (another page, another source),
    although the uploader comes back empty, until the user removes or replaces it."""
    uploads = serving.session_uploads()
    files = files if isinstance(files, list) else [files] if files else []
    changed = st.session_state.pop("_upload_changed", False)
    saved = st.session_state.get("_upload")
    if files:
        st.session_state["_upload_tried"] = True  # this session has uploaded something
    elif saved and not changed and not uploads.expired:  # the uploader came back empty
        uploads.touch()
        sb.caption(f"In use: {plain(Path(saved[1]).name)}, uploaded earlier in this session. "
                   "Drop a recording above to replace it.")
        if sb.button("Remove the upload", key="upload_remove", icon=":material/delete:"):
            uploads.clear()
            st.session_state.pop("_upload", None)
            st.rerun()
        return saved[1]
    if not files:
        uploads.clear()  # removed from the widget: deleted from the server too
        st.session_state.pop("_upload", None)
        return None
    key = tuple(f.file_id for f in files)
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
    refused = st.session_state.get("_upload_refused")
    if refused and refused[0] == key and saved and not uploads.expired:
        st.error(refused[1])  # said before: not read and checked again on every rerun
        uploads.touch()
        return saved[1]
    use = _to_use(files)
    try:
        path = str(uploads.save([(f.name, f.getvalue()) for f in use],
                                max_mb=max_upload_mb(), validate=check_recording))
    except Exception as err:  # any failure to keep or open it is the upload's fault
        still = saved is not None and uploads.main is not None and not uploads.expired
        message = (f"Upload refused: {plain_message(str(err).strip() or type(err).__name__)}"
                   + ("" if len(files) == 1 else
                      " (Remove the files you do not need with their ✕ in the uploader.)")
                   + (f" Still in use: {plain(Path(saved[1]).name)}." if still else ""))
        st.error(message)
        if still:  # the recording kept before stays in use
            st.session_state["_upload_refused"] = (key, message)
            return saved[1]
        st.session_state.pop("_upload", None)
        return None
    st.session_state.pop("_upload_refused", None)
    st.session_state["_upload"] = (key, path)  # the widget's file ids: kept, nothing to do
    return path


def _follow_card(source: str, card: ModelCard, model_id) -> dict:
    """The checkpoint's loading defaults for ``source``; the first time a model is seen for a
    source, its target, task and SEED filters are selected in the widgets."""
    defaults = loading_defaults(card, source)
    seen = f"_defaults_{source}"
    if st.session_state.get(seen) != model_id:
        st.session_state[seen] = model_id
        pinned = selection().pinned  # what a link chose wins over the card, once
        for key, value, options in ((f"target_{source}", defaults["target"],
                                     targets_for(source)),
                                    (f"task_{source}", defaults["task"], tasks_for(source))):
            if key in pinned:
                pinned.discard(key)
            elif value is not None and value in options:
                st.session_state[key] = value
        if source == "seed" and "seed_ref" in pinned:
            pinned.discard("seed_ref")
        elif source == "seed":
            st.session_state["seed_ref"] = defaults["seed_reference_filters"]
    return defaults


def _data_widgets(sb, source: str):
    """Path or upload, and for recordings the channel options; (path, renames, SEED box,
    drop unknown, uploaded) with path None while nothing can be loaded."""
    path, renames, seed_box, drop_unknown, uploaded = None, (), None, False, False
    if source in PATH_HINTS:
        hint = PATH_HINTS[source]
        path = serving.typed_path(sb, f"Path to {hint}", key=f"path_{source}",
                                  placeholder=f"/data/{hint}")
        if source == "seed":
            seed_box = sb.container()  # filled once the checkpoint's default is known
    elif source == "raw":
        how = sb.radio("Recording", ["Upload", TYPED], key="raw_how",
                       horizontal=True)
        if how == "Upload":
            gen = st.session_state.get("_upload_gen", 0)
            files = sb.file_uploader(
                "EEG recording (plus .vmrk/.eeg or .fdt companions)", accept_multiple_files=True,
                key="upload" if not gen else f"upload_{gen}", on_change=_upload_changed,
                help=f"Up to {max_upload_mb():.0f} MB. Only this browser session can use it; "
                     "it is deleted when the session ends or after an idle time.")
            path = handle_upload(files, sb)
            uploaded = path is not None
            if uploaded and len(files or ()) > 1:
                sb.caption(f"In use: {plain(Path(path).name)}")
        else:
            path = serving.typed_path(sb, "Path to a recording or a folder of them",
                                      key="path_raw")
        drop_unknown = sb.checkbox("Drop channels that are not 10-05 electrodes",
                                   key="drop_unknown")
        text = sb.text_input("Rename channels", key="channel_map",
                             placeholder="EEG 1=Fp1, EEG 2=Fp2",
                             help="For names rbt does not recognise: each channel's name in the "
                                  "file, '=', and the 10-05 electrode it records.")
        try:
            renames = parse_channel_map(text)
        except ValueError as err:
            sb.error(plain(err))
            path = None  # nothing is loaded until the renames make sense
        renames = with_layout(_cap_widgets(sb), renames)
        _marker_widgets(sb)
    return path, renames, seed_box, drop_unknown, uploaded


def _marker_widgets(sb) -> None:
    """How a recording's markers become trials, and its subjects' names (read back by
    :func:`_marker_choice`)."""
    box = sb.expander("Trials and subjects")
    box.text_input("Markers that start trials", key="markers",
                   placeholder="all, or e.g. Stimulus/S  1, S  2 or S*",
                   help="Marker descriptions or patterns (* and ?), separated by commas; case "
                        "and spaces do not matter. Others neither start nor end a trial. "
                        "Empty: every marker but New Segment, boundary and BAD_.")
    box.number_input("Trial length after each marker (s)", key="epoch", min_value=0.0,
                     max_value=3600.0, step=1.0,
                     help="0: each trial runs to the next marker. Annotations lasting a "
                          "window or more keep their own span.")
    box.text_input("Subject from the file names (regex)", key="subject_from",
                   placeholder="sub-(?P<subject>[^_]+)(_ses-(?P<session>\\d+))?",
                   help="For a folder of recordings: the group 'subject' (else the first "
                        "group) names the subject, a group 'session' the session. Empty: "
                        "each file is its own subject.")


def _marker_choice() -> dict:
    """The marker and subject fields of the data choice, from their widgets."""
    state = st.session_state
    return {"markers": (state.get("markers") or "").strip() or None,
            "epoch": float(state.get("epoch") or 0.0) or None,
            "subject_from": (state.get("subject_from") or "").strip() or None}


def _preprocess_box(box, steps):
    """For recordings: whether to give them the model's signal steps (``steps``, from its
    card); the steps to do, or None."""
    if steps is None:
        box.caption("The model's card does not say how its training signals were "
                    "preprocessed, so recordings are only resampled.")
        return None
    if not steps.does_something:
        box.caption(f"The model's training data ({steps.origin}) were not re-referenced or "
                    "filtered, so recordings are only resampled.")
        return steps
    st.session_state.setdefault("apply_prep", True)
    on = box.checkbox(PREPROCESS_LABEL, key="apply_prep",
                      help=f"Do what was done to {steps.origin or 'the training data'} "
                           f"({steps.summary}) to the recording, with MNE, at its own rate "
                           "before resampling.")
    return steps if on else None


def _cap_widgets(sb) -> str:
    """The cap layout whose numbers name the channels, and whether to interpolate the model's
    missing electrodes (read back by :func:`_fit_to`); the layout."""
    layout = sb.selectbox("Cap layout", CAP_LAYOUTS, key="cap_layout",
                          format_func=lambda v: v if v == AS_NAMED else f"{v} → 10-20",
                          help="A BioSemi cap's numbered channels (A1, A2, ...) read as the "
                               "10-20 electrodes of that cap. Renames typed above win.")
    sb.checkbox("Interpolate missing model electrodes", key="interpolate",
                help="Electrodes of the model that the recording lacks (at most a quarter, "
                     "each among measured ones) are interpolated from the others, and ringed "
                     "on every map; the recording's other electrodes are left out. A cap "
                     "numbered without 10-05 names (BioSemi 128, EGI) gets all of the "
                     "model's electrodes from its own.")
    return layout


def _fit_to(source: str, card: ModelCard) -> tuple[str, ...]:
    """The model's electrodes when recordings are to be fitted to them (the sidebar's box)."""
    on = source == "raw" and st.session_state.get("interpolate")
    return tuple(card.ch_names or ()) if on else ()


def _figures(sb) -> None:
    sb.header("Figures")
    sb.radio("Image format of the chart toolbar's camera", ["png", "svg"], key="image_format",
             horizontal=True, help="Rendered by your browser, so it works offline.")


def sidebar(demo_checkpoint: str, card_of: Callable[[str], tuple[ModelCard, object]],
            data: bool = True) -> tuple[DataChoice | None, str, str]:
    """Draw the data, model and device choices; returns (data choice or None, model, device).

    ``card_of(path)`` gives a checkpoint's card and an identity that changes when the
    checkpoint does (its card is empty when it cannot be read: loading says why). With
    ``data=False`` (a page that always uses the demo and the shipped checkpoint) only one line
    says so, above the figures' format; the choices not drawn keep their values
    (:mod:`state`), and the return value is (None, the shipped checkpoint, the device)."""
    sb = st.sidebar
    if not data:
        sb.caption("This lesson always uses the demo data and the shipped checkpoint; the "
                   "data and model choices are on the other pages.")
        _figures(sb)
        return None, demo_checkpoint, st.session_state.get("device", "auto")
    sb.header("Data")
    source = sb.selectbox("Source", list(SOURCE_LABELS), format_func=SOURCE_LABELS.get,
                          key="source")
    path, renames, seed_box, drop_unknown, uploaded = _data_widgets(sb, source)
    labels = sb.container()  # the target and task, once the checkpoint's defaults are known
    if source == "demo":
        sb.caption("Synthetic EEG with planted effects: see Overview.")
    sb.header("Model")
    kind = sb.radio("Checkpoint", [SHIPPED, FOLDER],
                    key="model_kind",
                    help="A folder with config.json and model.safetensors: one rbt wrote, or "
                         "an official RBTransformer checkpoint.")
    if kind == SHIPPED:
        model_path = demo_checkpoint
    else:
        model_path = serving.typed_path(sb, "Checkpoint folder", key="model_path") or ""
    device = sb.selectbox("Device", available_devices(), key="device")
    _figures(sb)

    card, model_id = card_of(model_path) if model_path else (EMPTY_CARD, None)
    defaults = _follow_card(source, card, (model_path, model_id))
    target = labels.selectbox("Target", targets_for(source), key=f"target_{source}")
    task = labels.radio("Task", tasks_for(source), key=f"task_{source}", horizontal=True,
                        format_func={"binary": "binary", "multi": "multi-class"}.get)
    prep = _preprocess_box(labels, defaults["preprocess"]) if source == "raw" else None
    seed_ref = seed_box is not None and seed_box.checkbox(
        "Reference filters (128 Hz)", key="seed_ref",
        help="Official SEED checkpoints expect features filtered as the reference code did, "
             "for 128 Hz.")
    if source != "demo" and not path:
        return None, model_path, device
    choice = DataChoice(source=source, path=path, target=target, task=task,
                        seed_reference_filters=bool(seed_ref), drop_unknown=drop_unknown,
                        channel_map=renames, window=defaults["window"],
                        stride=defaults["stride"], raw_sfreq=defaults["raw_sfreq"],
                        keep_on_disk=not uploaded,
                        **(_marker_choice() if source == "raw" else {}))
    choice = dataclasses.replace(choice, preprocess=prep)
    choice = dataclasses.replace(choice, fit_to=_fit_to(source, card))
    return dataclasses.replace(choice, stamp=data_stamp(choice)), model_path, device
