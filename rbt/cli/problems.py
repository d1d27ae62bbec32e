"""The CLI's words for :class:`rbt.model_fit.Problem` records (the dashboard has its own).

:data:`PHRASES` maps every code of :data:`rbt.model_fit.CODES` to a function of the problem's
facts. A command stops with :func:`blocking_message` when the model cannot read the data
(exit status 2) and prints the rest with :func:`print_notes`.
"""

from __future__ import annotations

import sys


def _names(names) -> str:
    return ", ".join(map(str, names)) or "none"


def _bands(bands: dict) -> str:
    return ", ".join(f"{name} {lo:g}-{hi:g} Hz" for name, (lo, hi) in bands.items())


def _labels(f: dict) -> str:
    return (f"the data's {f['data_target']}/{f['data_task']} labels ({_names(f['data'])}) are "
            f"not the model's classes ({_names(f['model'])}); writing {f['written']} without "
            "a true-label column")


def _signal_difference(d: dict) -> str:
    """A recording's signal step that differs from the training data's (rbt.data.preprocess)."""
    from ..data.preprocess import band_words

    if d["what"] == "reference":
        return ("not average-referenced as the training data were" if d["model"] == "average"
                else "average-referenced, which the training data were not")
    if d["data"] is None:
        return f"no {band_words(d['model'])} filter, which the training data had"
    if d["model"] is None:
        return f"a {band_words(d['data'])} filter, which the training data did not have"
    return f"{band_words(d['model'])} (model) vs {band_words(d['data'])} (data)"


def _signal_hint(differences) -> str:
    return (" (--preprocess model, the default, does the model's signal steps)"
            if any(d["what"] in ("reference", "band_pass") for d in differences) else "")


def _difference(d: dict) -> str:
    if d["what"] in ("reference", "band_pass"):
        return _signal_difference(d)
    if d["what"] == "filter_sfreq":
        return (f"band-pass filters designed for {float(d['model']):g} Hz (model) vs "
                f"{float(d['data']):g} Hz (data)")
    return f"{d['what']} {d['model']} (model) vs {d['data']} (data)"


def _where(f: dict) -> str:
    """"FILE: " for the data's file or folder (``source``), "" when not known."""
    return f"{f['source']}: " if f.get("source") else ""


#: code -> facts -> sentence. Besides a problem's own facts, the CLI passes ``data_target``,
#: ``data_task`` (the labels loaded), ``dataset``, ``source`` (the data's file or folder) and
#: ``written`` (what the command writes).
PHRASES = {
    "electrodes": lambda f: (
        _where(f) + f"the model was trained on {len(f['model'])} electrodes and the data has "
        f"{len(f['data'])}; missing from the data: {_names(f['missing'])}; not in the model: "
        f"{_names(f['extra'])}. Use a checkpoint trained on these data's electrodes (rbt train "
        "on this dataset makes one)"
        + (", or, for recordings, interpolate the missing ones (--interpolate-missing)"
           if f.get("dataset") == "raw" else "")),
    "electrode_count": lambda f: (
        f"the model expects {f['model']} electrodes; the data has {f['data']} "
        f"({f['dataset']})"),
    "bands": lambda f: (
        f"the model expects bands {_bands(f['model'])}; the data has {_bands(f['data'])}"),
    "band_count": lambda f: (
        f"the model expects {f['model']} bands per electrode; the data has {f['data']}"),
    "unlabelled": lambda f: (
        f"the data have no labels: writing {f['written']} without a true-label column or an "
        "accuracy"),
    "class_names": _labels,
    "class_count": _labels,
    "target": lambda f: (
        f"the model was trained to predict {f['model_target']}/{f['model_task']}, but these "
        f"labels are {f['data_target']}/{f['data_task']}: the accuracy compares two different "
        "things"),
    "preprocessing": lambda f: (
        "the features were computed differently from the model's training features: "
        + "; ".join(map(_difference, f["differences"])) + _signal_hint(f["differences"])),
    "no_card": lambda f: (
        "this checkpoint has no rbt metadata (an official folder?), so the data's electrode "
        "order and classes are assumed to be its training ones"),
    "unnamed_electrodes": lambda f: (
        "the checkpoint's metadata names no electrodes, so the data's electrode order is "
        "assumed to be its training order"),
    "reference_features": lambda f: (
        "official SEED checkpoints expect the reference code's features: pass "
        "--seed-reference-filters"),
    "rest_baseline": lambda f: (
        f"the model was trained on BDE relative to each trial's rest baseline ({f['model']}); "
        f"these {f['data']} features have none, so the predictions may mean little"
        if f["model_relative"] else
        f"the model was trained on BDE without a rest baseline ({f['model']}); these "
        f"{f['data']} features are relative to one, so the predictions may mean little"),
}


def phrase(problem, fs=None, written: str = "the results") -> str:
    """The CLI's sentence for ``problem``; ``fs`` (the FeatureSet) names the labels loaded."""
    facts = {"data_target": getattr(fs, "target", None), "data_task": getattr(fs, "task", None),
             "dataset": getattr(fs, "dataset", None), "source": getattr(fs, "source", None),
             "written": written, **problem.facts}
    words = PHRASES.get(problem.code)
    if words is None:  # a code newer than this CLI: the library's own meaning
        return problem.meaning
    return words(facts)


def blocking_message(fit, written: str = "the results") -> str | None:
    """Why the model cannot read the data (None when it can)."""
    found = [phrase(p, fit.fs, written) for p in fit.problems if p.severity == "blocking"]
    return "; ".join(found) or None


def print_notes(fit, written: str = "the results", file=None) -> None:
    """Each warning and note of ``fit`` on stderr, as ``warning: ...`` or ``note: ...``."""
    for p in fit.problems:
        if p.severity != "blocking":
            print(f"{p.severity}: {phrase(p, fit.fs, written)}", file=file or sys.stderr)
