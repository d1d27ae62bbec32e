"""Where a checkpoint meets data: the one step that says whether, and how, a model reads a
:class:`~rbt.data.FeatureSet`.

:func:`fit_data` puts the data's electrodes in the model's order, decides which labels can be
compared with the model's outputs, marks the windows of trials the model was trained on, and
lists what does not fit as :class:`Problem` records: a code (see :data:`CODES`), a severity and
the facts. It holds no sentences for users: each front end (the CLI, the dashboard) phrases the
problems in its own words. :func:`loading_defaults` says how data should be loaded for a
checkpoint (its window and stride, target and task), so that every front end follows the card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .data.features import DEFAULT_STRIDE, DEFAULT_WINDOW, REST_BASELINE_SOURCES
from .data.preprocess import steps_for
from .model_card import EMPTY_CARD, ModelCard
from .montage import canonical_name, name_order
from .provenance import seen_in_training

if TYPE_CHECKING:  # checkpoint imports torch: not needed to compute features
    from .checkpoint import Checkpoint
    from .data import FeatureSet

BLOCKING, WARNING, NOTE = "blocking", "warning", "note"

#: code -> (severity, what it means). Blocking: the model cannot read the data. Warning: the
#: results or the scores may mislead. Note: worth knowing. The facts each code carries:
CODES = {
    # model, data: electrode names (the model's order, the data's); missing, extra: names
    "electrodes": (BLOCKING, "the data's electrodes are not the model's"),
    # model, data: counts; the card names no electrodes (an official checkpoint)
    "electrode_count": (BLOCKING, "the data have another number of electrodes"),
    # model, data: band name -> [low Hz, high Hz]
    "bands": (BLOCKING, "the data's frequency bands are not the model's"),
    # model, data: counts
    "band_count": (BLOCKING, "the data have another number of bands per electrode"),
    "unlabelled": (NOTE, "the data have no labels: no true class and no accuracy"),
    # model, data: class names (same count, other names); labels are not used
    "class_names": (WARNING, "the data's classes are not the model's"),
    # model, data: class names; model_target, model_task, data_target, data_task
    "class_count": (WARNING, "the data have another number of classes than the model predicts"),
    # model_target, model_task, data_target, data_task; the labels are used
    "target": (WARNING, "the labels are for another target or task than the model's"),
    # differences: [{"what": "window" | "filter_sfreq" | "reference" | "band_pass", "model": v,
    # "data": v}] (reference and band_pass: recordings only, see rbt.data.preprocess); a trial's
    # training fingerprint then cannot be matched, so ``in_training`` is unknown (NaN)
    "preprocessing": (WARNING, "the features were computed differently from the training ones"),
    "no_card": (NOTE, "the checkpoint has no model card: the data's electrode order and "
                      "classes are assumed to be its training ones"),
    # a card that names no electrodes (but says other things)
    "unnamed_electrodes": (NOTE, "the model card names no electrodes: the data's electrode "
                                 "order is assumed to be the training order"),
    # model, data: the training and the data's sources; model_relative: whether the training
    # features were relative to a rest baseline (the data's are the other way)
    "rest_baseline": (WARNING, "the training features were relative to a rest baseline and "
                               "these are not, or the other way round"),
    # dataset: "seed"; an official checkpoint on SEED features made with the data's own rate
    "reference_features": (WARNING, "official SEED checkpoints expect the reference code's "
                                    "128 Hz filters"),
}


@dataclass(frozen=True)
class Problem:
    """Something about a model and data that a user should know; see :data:`CODES`."""

    code: str
    facts: dict = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return CODES[self.code][0]

    @property
    def meaning(self) -> str:
        return CODES[self.code][1]


@dataclass
class DataFit:
    """A checkpoint and a FeatureSet, fitted: what every prediction and explanation uses."""

    checkpoint: Checkpoint
    fs: FeatureSet
    X: np.ndarray | None  # (windows, E, bands) in the model's electrode order; None: cannot run
    y: np.ndarray | None  # true class per window in the model's classes; None: not comparable
    ch_names: list[str]  # the model's electrode order
    band_names: list[str]
    class_names: list[str]  # one name per model output
    #: per window: 1 if its trial was in the model's training data, 0 if not, NaN if that cannot
    #: be told; None when the card does not say (see :mod:`rbt.provenance`)
    in_training: np.ndarray | None
    problems: list[Problem]

    @property
    def model(self):
        return self.checkpoint.model

    @property
    def card(self) -> ModelCard:
        return self.checkpoint.card

    @property
    def table(self) -> pd.DataFrame:
        return self.fs.table

    @property
    def runnable(self) -> bool:
        """Can the model read these data (no blocking problem)?"""
        return self.X is not None

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]

    def problem(self, code: str) -> Problem | None:
        return next((p for p in self.problems if p.code == code), None)

    def require_runnable(self) -> None:
        """Raise ValueError, with what blocks, when the model cannot read the data."""
        if not self.runnable:
            raise ValueError("the model cannot read these data: " + "; ".join(
                p.meaning for p in self.problems if p.severity == BLOCKING))


def loading_defaults(card: ModelCard | None, source: str) -> dict:
    """How to load data from ``source`` for a model with this card (None: no model, as for
    training), unless the user says
    otherwise: ``window`` and ``stride`` (the card's, else rbt's defaults), ``target`` and
    ``task`` (the card's when it was trained on this source, else None: the source's default),
    ``seed_reference_filters`` (SEED features made as the reference code made them: when the
    card says so, and for official checkpoints, which expect them) and ``raw_sfreq`` (the rate
    recordings are resampled to: the card's training rate, else 128 Hz) and ``preprocess``
    (for recordings: the signal steps of the model's training data,
    :func:`rbt.data.preprocess.steps_for`; None when the card does not say)."""
    from .data.raw import DEFAULT_SFREQ, MAX_SFREQ, MIN_SFREQ

    official = card is not None and card.is_empty
    card = EMPTY_CARD if card is None else card
    prep = card.preprocessing
    same = card.dataset is not None and card.dataset == source
    rate = prep.sfreq or card.sfreq
    return {
        "window": prep.window if prep.window is not None else DEFAULT_WINDOW,
        "stride": prep.stride if prep.stride is not None else DEFAULT_STRIDE,
        "target": card.target if same else None,
        "task": card.task if same else None,
        "seed_reference_filters": source == "seed" and (
            prep.filter_sfreq == 128.0 or official),
        "raw_sfreq": float(rate) if rate and MIN_SFREQ <= rate <= MAX_SFREQ else DEFAULT_SFREQ,
        "preprocess": steps_for(card) if source == "raw" and not official else None,
    }


def fit_data(checkpoint: Checkpoint, fs) -> DataFit:
    """Fit ``fs`` to the checkpoint's model; blocking problems leave ``X`` None.

    Electrodes are compared by name (case and aliases ignored) and reordered to the model's;
    a card without names (official checkpoints) is checked by count only, the data's order
    taken as the training order. Bands must be the card's. Labels are kept when the data have
    the model's number of classes and, where the card names them, the same names (in any
    order: they are matched by name).
    """
    card, config = checkpoint.card, checkpoint.config
    problems = _card_problems(card, fs)
    X, blocking = _align(card, config, fs)
    k = config.num_classes
    y = _labels_in_model_order(card, fs, k)
    names = list(card.class_names or (fs.class_names if y is not None else None)
                 or [f"class {i}" for i in range(k)])
    problems = blocking + _label_problems(card, fs, names, y is not None, k) + problems
    in_training = None if X is None else seen_in_training(card.training_trials, fs, X)
    if in_training is not None and any(p.code == "preprocessing" for p in problems):
        # features computed another way fingerprint differently: not "held out", unknown
        in_training = np.full(len(in_training), np.nan, np.float32)
    return DataFit(
        checkpoint=checkpoint, fs=fs, X=None if X is None else np.ascontiguousarray(X),
        y=y, ch_names=list(card.ch_names or fs.ch_names), band_names=list(fs.bands),
        class_names=names, in_training=in_training, problems=problems)


def _labels_in_model_order(card: ModelCard, fs, k: int) -> np.ndarray | None:
    """The true class of each window as the model's output index, or None when the data's
    classes are not the model's (their count, or, where the card names them, their names;
    the same names in another order are matched by name)."""
    if fs.y is None or fs.n_classes != k:
        return None
    if card.class_names is None or list(card.class_names) == list(fs.class_names):
        return fs.y
    if sorted(card.class_names) != sorted(fs.class_names):
        return None
    order = np.array([list(card.class_names).index(n) for n in fs.class_names])
    return order[fs.y]


def _align(card: ModelCard, config, fs) -> tuple[np.ndarray | None, list[Problem]]:
    """X in the model's electrode order, or None with the blocking problem."""
    if card.ch_names:
        want = [canonical_name(c) or c for c in card.ch_names]
        have = [canonical_name(c) or c for c in fs.ch_names]
        if sorted(want) != sorted(have):
            return None, [Problem("electrodes", {
                "model": list(card.ch_names), "data": list(fs.ch_names),
                "missing": [c for c in want if c not in have],
                "extra": [c for c in have if c not in want]})]
        X = fs.X[:, name_order(fs.ch_names, list(card.ch_names))]
    elif fs.X.shape[1] != config.num_electrodes:
        return None, [Problem("electrode_count", {"model": config.num_electrodes,
                                                  "data": int(fs.X.shape[1]),
                                                  "dataset": fs.dataset})]
    else:
        X = fs.X
    if card.bands and _edges(card.bands) != _edges(fs.bands):
        return None, [Problem("bands", {"model": _listed(card.bands), "data": _listed(fs.bands)})]
    if X.shape[2] != config.bde_dim:
        return None, [Problem("band_count", {"model": config.bde_dim, "data": int(X.shape[2])})]
    return X, []


def _edges(bands: dict) -> list[list[float]]:
    return [[float(lo), float(hi)] for lo, hi in bands.values()]


def _listed(bands: dict) -> dict:
    return {k: [float(lo), float(hi)] for k, (lo, hi) in bands.items()}


def _label_problems(card, fs, names, comparable, k) -> list[Problem]:
    if fs.y is None:
        return [Problem("unlabelled")]
    targets = {"model_target": card.target, "model_task": card.task,
               "data_target": fs.target, "data_task": fs.task}
    if not comparable:
        data = list(map(str, fs.class_names or range(fs.n_classes or 0)))
        if fs.n_classes == k:
            return [Problem("class_names", {"model": names, "data": data})]
        return [Problem("class_count", {"model": names, "data": data, **targets})]
    if card.target and (card.target, card.task) != (fs.target, fs.task):
        return [Problem("target", targets)]
    return []


def _card_problems(card: ModelCard, fs) -> list[Problem]:
    """Preprocessing differences, and what a missing card leaves unknown."""
    out = []
    prep, params = card.preprocessing, fs.params
    # the stride only changes how many windows there are, not what a window's features are
    differences = []
    if prep.window is not None and params.get("window") is not None and \
            int(prep.window) != int(params["window"]):
        differences.append({"what": "window", "model": prep.window, "data": params["window"]})
    model_rate = card.filter_rate
    data_rate = params.get("filter_sfreq") or fs.sfreq
    if model_rate and data_rate and float(model_rate) != float(data_rate):
        differences.append({"what": "filter_sfreq", "model": float(model_rate),
                            "data": float(data_rate)})
    differences += _signal_differences(card, fs)
    if differences:
        out.append(Problem("preprocessing", {"differences": differences}))
    if card.dataset and fs.dataset and (card.dataset in REST_BASELINE_SOURCES) != (
            fs.dataset in REST_BASELINE_SOURCES):
        out.append(Problem("rest_baseline", {
            "model": card.dataset, "data": fs.dataset,
            "model_relative": card.dataset in REST_BASELINE_SOURCES}))
    if card.is_empty:
        out.append(Problem("no_card"))
        if fs.dataset == "seed" and float(data_rate) == float(fs.sfreq):
            out.append(Problem("reference_features", {"dataset": "seed"}))
    elif card.ch_names is None:
        out.append(Problem("unnamed_electrodes"))
    return out


def _signal_differences(card: ModelCard, fs) -> list[dict]:
    """A recording read without the signal steps the model's training data had (or with
    others): each step that differs. Nothing when either side does not say."""
    model = steps_for(card)
    if fs.dataset != "raw" or model is None or fs.params.get("reference") is None:
        return []
    out = []
    for what, value in model.card_fields.items():
        data = fs.params.get(what)
        same = (value == data if what == "reference" else
                (value is None) == (data is None) and (value is None or [
                    float(v) for v in value] == [float(v) for v in data]))
        if not same:
            out.append({"what": what, "model": value, "data": data})
    return out
