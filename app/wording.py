"""The dashboard's words for what can go wrong: one sentence per fit problem code
(:data:`rbt.model_fit.CODES`) and the message for an error raised while loading.

The library reports problems as data (a code and its facts); these sentences say what to do in
the dashboard's own terms (its sidebar and its widgets). They are plain text: the caller
escapes them for Markdown, since names in them come from files.
"""

from __future__ import annotations

from collections.abc import Callable

from choices import targets_for
from serving import plain_message

from rbt.caps import CapLayoutError
from rbt.checkpoint import CheckpointError
from rbt.data import DataFormatError
from rbt.data.preprocess import band_words
from rbt.model_fit import Problem
from rbt.montage import UnknownChannelsError

# what can go wrong with a user's data or model: shown as st.error, never as a crash trace
USER_ERRORS = (DataFormatError, CheckpointError, UnknownChannelsError, ValueError,
               FileNotFoundError, OSError, KeyError)
SEED_FILTERS = "tick 'Reference filters (128 Hz)' in the sidebar"
PREPROCESS_LABEL = "Apply the model's preprocessing"
PREPROCESS_BOX = f"Tick '{PREPROCESS_LABEL}' in the sidebar to give the recording its steps"


def _names(values) -> str:
    return ", ".join(map(str, values)) or "none"


def _data_name(fit) -> str:
    """"this data", with its files' names (a recording's) when known."""
    table = fit.fs.table
    files = list(dict.fromkeys(table["recording"].astype(str))) if "recording" in table else []
    if not files:
        return "this data"
    more = len(files) - 1
    return f"this data ({files[0]}" + (f" and {more} other file{'s' * (more > 1)})" if more
                                       else ")")


def _cannot_read(why: str, fit) -> str:
    trained = fit.card.dataset
    hint = (f"it was trained on {trained} data" if trained else
            "it carries no metadata about its training data")
    # plain text: the page escapes it whole (file and channel names may hold Markdown)
    return (f"This model cannot read {_data_name(fit)}: {why}. The model ({hint}) needs the "
            "same electrodes and bands it was trained on. To use a model here, choose a "
            "checkpoint trained on data with these electrodes and bands, or train one on these "
            "data (rbt train, see the README); or choose data recorded with the model's "
            "electrodes.")


def _model_task(f: dict) -> str:
    return f"{f['model_target']}/{f['model_task']}" if f.get("model_target") else "its task"


def _electrodes(f, fit):
    text = _cannot_read(f"the model was trained on {len(f['model'])} electrodes and the data "
                        f"has {len(f['data'])}; missing from the data: {_names(f['missing'])}; "
                        f"not in the model: {_names(f['extra'])}", fit)
    if fit.fs.dataset == "raw" and f["missing"]:
        text += (" For a recording that lacks a few of them, tick 'Interpolate missing model "
                 "electrodes' in the sidebar (at most a quarter of the model's electrodes, "
                 "each among measured ones).")
    return text


def _electrode_count(f, fit):
    return _cannot_read(f"the model expects {f['model']} electrodes; the data has "
                        f"{f['data']} ({f.get('dataset')})", fit)


def _bands(f, fit):
    def edges(bands):
        return ", ".join(f"{k} {lo:g}-{hi:g} Hz" for k, (lo, hi) in bands.items())

    return _cannot_read(f"the model expects the bands {edges(f['model'])}; the data has "
                        f"{edges(f['data'])}", fit)


def _band_count(f, fit):
    return _cannot_read(f"the model expects {f['model']} bands per electrode; the data has "
                        f"{f['data']}", fit)


def _unlabelled(f, fit):
    return ("These data have no labels, so there is no true class and no accuracy; the "
            "predictions are still shown.")


def _class_names(f, fit):
    return (f"The data's classes ({_names(f['data'])}) are not the model's "
            f"({_names(f['model'])}), so no true labels or accuracy are shown; the "
            "predictions are.")


def _classes(n: int) -> str:
    return f"{n} class" if n == 1 else f"{n} classes"


def _class_count(f, fit):
    what = _model_task(f)
    named = f" ({what})" if f.get("model_target") else ""
    said = (f"The model predicts {_classes(len(f['model']))} ({_names(f['model'])}) for {what}, "
            f"but the data are labelled {f['data_target']}/{f['data_task']} with "
            f"{_classes(len(f['data']))} ({_names(f['data'])}). ")
    if f.get("model_target") and f["model_target"] not in targets_for(fit.fs.dataset):
        return (said + f"These data have no {f['model_target']} labels, so none are scored: "
                "the data's own labels are shown as they are. To score them, train a model on "
                "these labels (rbt train).")
    return (said + f"Choose the target and task the model was trained for in the sidebar{named}. "
            "Until then no true labels or accuracy are shown.")


def _target(f, fit):
    what = _model_task(f)
    return (f"The model was trained to predict {what}; the labels shown are "
            f"{f['data_target']}/{f['data_task']}. Accuracy then compares two different things; "
            f"choose {what} in the sidebar to compare like with like.")


def _preprocessing(f, fit):
    def one(d):
        if d["what"] == "reference":
            return ("not average-referenced as the training data were" if d["model"] ==
                    "average" else "average-referenced, which the training data were not")
        if d["what"] == "band_pass":
            return (f"no {band_words(d['model'])} filter, which the training data had"
                    if d["data"] is None else
                    f"a {band_words(d['data'])} filter, which the training data did not have"
                    if d["model"] is None else
                    f"{band_words(d['model'])} (model) vs {band_words(d['data'])} (data)")
        if d["what"] == "filter_sfreq":
            return (f"band-pass filters designed for {d['model']:g} Hz (model) vs "
                    f"{d['data']:g} Hz (data)")
        return f"{d['what']} {d['model']} (model) vs {d['data']} (data)"

    hint = f" For SEED, {SEED_FILTERS}." if fit.fs.dataset == "seed" else ""
    if any(d["what"] in ("reference", "band_pass") for d in f["differences"]):
        hint += f" {PREPROCESS_BOX}."
    return ("The data were preprocessed differently from the model's training data: "
            + "; ".join(one(d) for d in f["differences"]) + "." + hint)


def _rest_baseline(f, fit):
    if f["model_relative"]:
        return ("The model was trained on BDE relative to each trial's rest baseline "
                f"({f['model']}: a change from rest, near 0 on average); these data have no rest "
                "baseline, so their BDE is a level (the log of band power), which the model never "
                "saw. Its predictions and attributions here may mean little: train a model on "
                "data like these (rbt train) to compare like with like.")
    return (f"The model was trained on BDE levels ({f['model']}: no rest baseline); these data "
            "are relative to each trial's rest baseline, which the model never saw. Its "
            "predictions here may mean little.")


def _no_card(f, fit):
    return ("This checkpoint has no rbt metadata (an official RBTransformer folder?), so "
            "electrode order and class names are assumed to be the data's.")


def _unnamed_electrodes(f, fit):
    return ("This checkpoint's card names no electrodes, so the data's electrode order is "
            "assumed to be the order it was trained on.")


def _reference_features(f, fit):
    return f"Official SEED checkpoints expect the reference code's features: {SEED_FILTERS}."


#: problem code -> its sentence, from the problem's facts and the fit
PHRASES: dict[str, Callable[[dict, object], str]] = {
    "electrodes": _electrodes, "electrode_count": _electrode_count, "bands": _bands,
    "band_count": _band_count, "unlabelled": _unlabelled, "class_names": _class_names,
    "class_count": _class_count, "target": _target, "preprocessing": _preprocessing,
    "rest_baseline": _rest_baseline, "no_card": _no_card,
    "unnamed_electrodes": _unnamed_electrodes,
    "reference_features": _reference_features,
}


def phrase(problem: Problem, fit) -> str:
    """What ``problem`` means for this fit and what to do, in the dashboard's words."""
    words = PHRASES.get(problem.code)
    if words is None:  # a code newer than this app: the library's own meaning
        return problem.meaning[:1].upper() + problem.meaning[1:] + "."
    return words(problem.facts, fit)


def _message(err: Exception) -> str:
    return str(err).strip() or type(err).__name__


def what_to_do(err: Exception) -> str:
    """An error raised while loading, as Markdown: our words in bold, the error's text (which
    may echo a file's content) escaped."""
    text = plain_message(_message(err))
    if not isinstance(err, USER_ERRORS):
        text = f"{type(err).__name__}: {text}"
    if isinstance(err, CheckpointError):
        return f"**The model could not be used.** {text}"
    if isinstance(err, UnknownChannelsError):
        return (f"**Unknown electrode names.** {text} In the dashboard: 'Rename channels' in "
                "the sidebar (e.g. `EEG 1=Fp1`), or tick 'Drop channels that are not 10-05 "
                "electrodes'.")
    if isinstance(err, CapLayoutError):
        return (f"**Channels numbered in a cap's layout.** {text} In the dashboard: tick "
                "'Interpolate missing model electrodes', or choose the 'Cap layout' or type "
                "the 'Rename channels' in the sidebar.")
    if isinstance(err, (DataFormatError, FileNotFoundError)):
        return (f"**The data could not be read.** {text} Check that the source in the sidebar "
                "matches the file or folder.")
    return f"**Could not load.** {text}"
