"""The model card: what a checkpoint expects and promises (its ``rbt_metadata.json``).

:class:`ModelCard` holds the electrodes, bands, sampling and filter rates, window and stride,
classes, target, task, label rule, protocol and scores, and the training-trial fingerprints.
Training writes it (:meth:`ModelCard.to_dict`); loading reads it with :func:`read_card`, which
bounds the file's size and nesting and checks the type and bounds of every field, so no later
step meets a value of the wrong type (a traceback) or a size that multiplies the work. Unknown
fields are kept but never used. Every error is a :class:`MetadataError` naming the file and the
field, what was expected and what was found. An official folder has no card file: its card is
:data:`EMPTY_CARD`, with every field unknown.

The checks are written by hand rather than as a JSON Schema: several are across fields (counts
against the model's config, the stride against the window, electrode names compared as
electrodes), the messages follow rbt's wording, and a checkpoint may fingerprint 200,000 trials,
which a generic validator walks far more slowly than the loop below.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass, field, fields

from .montage import canonical_name
from .safeio import read_json

FILE = "rbt_metadata.json"
MAX_METADATA_BYTES = 32 * 1024**2  # 200,000 fingerprints written with indent=2 take ~22 MB
MAX_TRAINING_TRIALS = 200_000  # DEAP has 1,280 trials, SEED 675; this is ample headroom
MAX_NAME = 200  # electrode, band and class names; target, task, dataset, protocol
MAX_TEXT = 4000  # the label rule and other sentences
MAX_RATE = 100_000.0  # Hz; EEG amplifiers sample at up to ~20 kHz
MAX_WINDOW = 65536  # samples
MAX_ORDER = 32  # Butterworth order of the band-pass filters (rbt uses 5)
MAX_INDEX = 10**9  # first-window index in a training-trial fingerprint
# Each sample lies in window / stride windows, so that ratio multiplies the work of computing
# the features. Front ends adopt a checkpoint's window and stride, so a card may ask at most
# 64 windows per sample: 512/8 at the paper's window, 15x the work of its 512/117 (and 50%,
# 75% or 90% overlaps pass). Stride 1 at window 512 would be 512 windows per sample.
MAX_OVERLAP = 64
REFERENCES = ("average", "as recorded")  # preprocessing.reference (rbt.data.preprocess's)

# the fields of an rbt_metadata.json that rbt reads; others are kept as they are
FIELDS = ("rbt_version", "ch_names", "bands", "sfreq", "preprocessing", "dataset", "target",
          "task", "class_names", "label_rule", "split", "train_config", "metrics",
          "training_trials")

_show = reprlib.Repr()
_show.maxstring, _show.maxother, _show.maxlist, _show.maxdict, _show.maxlevel = 40, 40, 4, 3, 2


class MetadataError(ValueError):
    """An ``rbt_metadata.json`` with a field of the wrong type, size or bounds."""


def stride_problem(window: int, stride: int) -> str | None:
    """Why a card may not ask for this window and stride (see :data:`MAX_OVERLAP`), or None.
    Training can check it up front, so that it never writes a checkpoint rbt will not load."""
    if stride * MAX_OVERLAP < window:
        return (f"at least window / {MAX_OVERLAP} = {math.ceil(window / MAX_OVERLAP)} for "
                f"window {window} (so that each sample is in at most {MAX_OVERLAP} windows)")
    return None


@dataclass(frozen=True)
class Preprocessing:
    """How the training features were computed; None where the card does not say."""

    window: int | None = None  # samples per window
    stride: int | None = None  # samples between window starts
    order: int | None = None  # Butterworth order of the band-pass filters
    filter_sfreq: float | None = None  # the rate the filters were designed for (Hz)
    sfreq: float | None = None  # the data's sampling rate (Hz)
    # the signal steps before the features (see rbt.data.preprocess); None: not said (older
    # cards). A card that gives ``reference`` says its steps: a None band_pass is then "none"
    reference: str | None = None  # "average" or "as recorded"
    band_pass: tuple[float, float] | None = None  # (low Hz, high Hz); low 0: no high-pass


@dataclass(frozen=True)
class Score:
    mean: float
    std: float


@dataclass(frozen=True)
class Scores:
    """Cross-validated scores and the protocol that produced them."""

    protocol: str | None = None
    accuracy: Score | None = None
    macro_f1: Score | None = None


@dataclass(frozen=True)
class ModelCard:
    """What a checkpoint expects of its input and what it was trained to do.

    Every field may be None ("not said"): official checkpoints and older rbt ones say little.
    """

    ch_names: tuple[str, ...] | None = None  # electrodes, in the model's order
    bands: dict[str, tuple[float, float]] | None = None  # name -> (low Hz, high Hz)
    sfreq: float | None = None
    preprocessing: Preprocessing = Preprocessing()
    dataset: str | None = None
    target: str | None = None
    task: str | None = None
    class_names: tuple[str, ...] | None = None
    label_rule: str | None = None
    split: str | None = None
    scores: Scores | None = None
    #: one fingerprint per training trial (see :mod:`rbt.provenance`)
    training_trials: list | None = field(default=None, repr=False)
    train_config: dict | None = None
    rbt_version: str | None = None
    extra: dict = field(default_factory=dict, repr=False)  # unknown fields: kept, never used

    @property
    def is_empty(self) -> bool:
        """True when the card says nothing (an official folder without rbt metadata)."""
        return self == EMPTY_CARD

    @property
    def filter_rate(self) -> float | None:
        """The rate the band-pass filters were designed for (Hz), when the card says."""
        prep = self.preprocessing
        return prep.filter_sfreq or prep.sfreq or self.sfreq

    @classmethod
    def from_dict(cls, obj, source: str = FILE, config=None) -> ModelCard:
        """The card in a parsed ``rbt_metadata.json``, checked field by field (see
        :func:`validate_metadata`); ``source`` names the file in errors."""
        d = validate_metadata(obj, source, config)
        metrics = d.get("metrics") or None
        scores = None if metrics is None else Scores(
            protocol=metrics.get("protocol"),
            **{k: Score(metrics[k]["mean"], metrics[k]["std"]) if metrics.get(k) else None
               for k in ("accuracy", "macro_f1")})
        prep = d.get("preprocessing") or {}
        return cls(
            ch_names=_tuple(d.get("ch_names")),
            bands=None if d.get("bands") is None else {
                k: (float(lo), float(hi)) for k, (lo, hi) in d["bands"].items()},
            sfreq=d.get("sfreq"),
            preprocessing=Preprocessing(**{f.name: _tuple(prep.get(f.name))
                                           if f.name == "band_pass" else prep.get(f.name)
                                           for f in fields(Preprocessing)}),
            dataset=d.get("dataset"), target=d.get("target"), task=d.get("task"),
            class_names=_tuple(d.get("class_names")), label_rule=d.get("label_rule"),
            split=d.get("split"), scores=scores, training_trials=d.get("training_trials"),
            train_config=d.get("train_config"), rbt_version=d.get("rbt_version"),
            extra={k: v for k, v in d.items() if k not in FIELDS},
        )

    def to_dict(self) -> dict:
        """The JSON object written as ``rbt_metadata.json`` (the layout rbt has always used)."""
        prep = self.preprocessing
        scores = self.scores
        out = {
            "rbt_version": self.rbt_version,
            "ch_names": None if self.ch_names is None else list(self.ch_names),
            "bands": None if self.bands is None else {k: list(v) for k, v in self.bands.items()},
            "sfreq": self.sfreq,
            # the signal steps only when said, so that older cards read back as they were
            "preprocessing": {f.name: list(v) if isinstance(v, tuple) else v
                              for f in fields(Preprocessing)
                              if (v := getattr(prep, f.name)) is not None
                              or f.name not in ("reference", "band_pass")},
            "dataset": self.dataset, "target": self.target, "task": self.task,
            "class_names": None if self.class_names is None else list(self.class_names),
            "label_rule": self.label_rule, "split": self.split,
            "train_config": self.train_config,
            "metrics": None if scores is None else {
                "protocol": scores.protocol,
                **{k: None if getattr(scores, k) is None else
                   {"mean": getattr(scores, k).mean, "std": getattr(scores, k).std}
                   for k in ("accuracy", "macro_f1")}},
            "training_trials": self.training_trials,
        }
        return {**out, **self.extra}


EMPTY_CARD = ModelCard()


def _tuple(value):
    return None if value is None else tuple(value)


def read_card(path, config=None) -> ModelCard:
    """The validated card in the ``rbt_metadata.json`` at ``path``."""
    obj = read_json(path, error=MetadataError, expected="rbt checkpoint metadata (a JSON object)",
                    max_bytes=MAX_METADATA_BYTES)
    return ModelCard.from_dict(obj, str(path), config)


def validate_metadata(obj, source: str = FILE, config=None) -> dict:
    """``obj`` checked field by field, as a new dict; :class:`MetadataError` otherwise.

    ``source`` names the file in errors. With ``config`` (an
    :class:`~rbt.model.RBTransformerConfig`), the electrode, band and class counts must be the
    model's. Absent fields and ``None`` mean "not said" (older and partial cards).
    """
    check = _Checker(source)
    if not isinstance(obj, dict):
        check.fail("", "a JSON object", obj)
    out = dict(obj)
    for key in ("rbt_version", "dataset", "target", "task", "split"):
        check.optional(out, key, check.name)
    check.optional(out, "label_rule", check.text)
    check.optional(out, "sfreq", check.rate)
    check.optional(out, "train_config", lambda v, f: check.kind(v, f, dict, "a JSON object"))
    for key, fn in (("ch_names", check.ch_names), ("bands", check.bands),
                    ("class_names", check.class_names), ("preprocessing", check.preprocessing),
                    ("metrics", check.metrics), ("training_trials", check.training_trials)):
        check.optional(out, key, fn)
    if config is not None:
        for key, size, what in (("ch_names", config.num_electrodes, "num_electrodes"),
                                ("bands", config.bde_dim, "bde_dim"),
                                ("class_names", config.num_classes, "num_classes")):
            if out.get(key) is not None and len(out[key]) != size:
                check.fail(key, f"{size} entries ({what} in config.json)",
                           f"{len(out[key])}", shown=True)
    return out


class _Checker:
    """Type and bound checks that raise :class:`MetadataError` naming ``source`` and the field."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, field: str, expected: str, found, shown: bool = False):
        where = f"{self.source}: {field}" if field else self.source
        raise MetadataError(f"{where}: expected {expected}, found "
                            f"{found if shown else _show.repr(found)}")

    def optional(self, obj: dict, key: str, fn) -> None:
        if obj.get(key) is not None:
            obj[key] = fn(obj[key], key)

    def kind(self, value, field, types, expected):
        if isinstance(value, bool) or not isinstance(value, types):
            self.fail(field, expected, value)
        return value

    def name(self, value, field, limit: int = MAX_NAME):
        self.kind(value, field, str, "a string")
        if not value.strip() or len(value) > limit:
            self.fail(field, f"a non-empty string of at most {limit} characters",
                      f"{len(value)} characters" if value.strip() else value,
                      shown=bool(value.strip()))
        return value

    def text(self, value, field):
        return self.name(value, field, MAX_TEXT)

    def number(self, value, field, low: float, high: float, low_open: bool = False,
               expected: str | None = None) -> float:
        expected = expected or f"a number from {low:g} to {high:g}"
        self.kind(value, field, int | float, expected)
        # ints are compared as ints: a 400-digit JSON integer has no float
        ok = (low < value if low_open else low <= value) and value <= high
        if not ok or (isinstance(value, float) and not math.isfinite(value)):
            self.fail(field, expected, value)
        return float(value)

    def integer(self, value, field, low: int, high: int) -> int:
        expected = f"an integer from {low} to {high}"
        self.kind(value, field, int, expected)
        if not low <= value <= high:
            self.fail(field, expected, value)
        return value

    def rate(self, value, field):
        return self.number(value, field, 0.0, MAX_RATE, low_open=True,
                           expected=f"a rate in Hz above 0 and at most {MAX_RATE:g}")

    def names(self, value, field, limit: int, same=lambda name: name):
        self.kind(value, field, list, "a list of names")
        if not value or len(value) > limit:
            self.fail(field, f"a list of 1 to {limit} names", f"{len(value)}", shown=True)
        seen: dict = {}
        for i, item in enumerate(value):
            self.name(item, f"{field}[{i}]")
            key = same(item)
            if key in seen:
                self.fail(f"{field}[{i}]", f"names that differ from each other (the same "
                          f"as {field}[{seen[key]}] {value[seen[key]]!r})", item)
            seen[key] = i
        return value

    def ch_names(self, value, field):
        from .model import LIMITS

        return self.names(value, field, LIMITS["num_electrodes"],
                          same=lambda n: canonical_name(n) or n)

    def class_names(self, value, field):
        from .model import LIMITS

        return self.names(value, field, LIMITS["num_classes"])

    def bands(self, value, field):
        from .model import LIMITS

        self.kind(value, field, dict, "a JSON object of band name -> [low Hz, high Hz]")
        if not value or len(value) > LIMITS["bde_dim"]:
            self.fail(field, f"1 to {LIMITS['bde_dim']} bands", f"{len(value)}", shown=True)
        out = {}
        for name, edges in value.items():
            where = f"{field}.{name}"
            self.name(name, f"{field} (a band name)")
            if isinstance(edges, list) and len(edges) == 2:
                lo, hi = (self.number(v, f"{where}[{i}]", 0.0, MAX_RATE / 2)
                          for i, v in enumerate(edges))
                if lo < hi:
                    out[name] = [lo, hi]
                    continue
            self.fail(where, "[low Hz, high Hz] with low < high", edges)
        return out

    def preprocessing(self, value, field):
        self.kind(value, field, dict, "a JSON object")
        out = dict(value)
        window, stride = out.get("window"), out.get("stride")
        if window is not None:
            self.integer(window, f"{field}.window", 2, MAX_WINDOW)
        if stride is not None:
            self.integer(stride, f"{field}.stride", 1, MAX_WINDOW)
        if window is not None or stride is not None:
            # front ends fill in rbt's default for the one the card leaves out
            from .data.features import DEFAULT_STRIDE, DEFAULT_WINDOW

            used = (DEFAULT_WINDOW if window is None else window,
                    DEFAULT_STRIDE if stride is None else stride)
            problem = stride_problem(*used)
            if problem and stride is None:
                self.fail(f"{field}.window", f"a window of at most {MAX_OVERLAP} x the default "
                          f"stride {DEFAULT_STRIDE} (no stride is given)", window)
            if problem:
                self.fail(f"{field}.stride", problem, stride)
        if out.get("order") is not None:
            self.integer(out["order"], f"{field}.order", 1, MAX_ORDER)
        for key in ("filter_sfreq", "sfreq"):
            if out.get(key) is not None:
                out[key] = self.rate(out[key], f"{field}.{key}")
        if out.get("reference") is not None and out["reference"] not in REFERENCES:
            self.fail(f"{field}.reference", " or ".join(map(repr, REFERENCES)), out["reference"])
        band = out.get("band_pass")
        if band is not None:
            where = f"{field}.band_pass"
            expected = "[low Hz, high Hz] with 0 <= low < high (low 0: no high-pass)"
            if not isinstance(band, list) or len(band) != 2:
                self.fail(where, expected, band)
            low, high = (self.number(v, f"{where}[{i}]", 0.0, MAX_RATE / 2)
                         for i, v in enumerate(band))
            if not low < high:
                self.fail(where, expected, band)
            out["band_pass"] = [low, high]
        return out

    def metrics(self, value, field):
        self.kind(value, field, dict, "a JSON object")
        out = dict(value)
        self.optional(out, "protocol", lambda v, f: self.name(v, f"{field}.{f}"))
        for key in ("accuracy", "macro_f1"):
            score = out.get(key)
            if score is None:
                continue
            where = f"{field}.{key}"
            if not isinstance(score, dict) or not {"mean", "std"} <= set(score):
                self.fail(where, '{"mean": score, "std": spread}', score)
            out[key] = {**score, **{part: self.score(score[part], f"{where}.{part}")
                                    for part in ("mean", "std")}}
        return out

    def score(self, value, field):
        if isinstance(value, float) and math.isnan(value):  # a fold that could not be scored
            return value
        return self.number(value, field, 0.0, 1.0)

    def training_trials(self, value, field):
        self.kind(value, field, list, "a list of trial fingerprints")
        if len(value) > MAX_TRAINING_TRIALS:
            self.fail(field, f"at most {MAX_TRAINING_TRIALS:,} trials", f"{len(value):,}",
                      shown=True)
        layout = "[first window index, 4 numbers] (see rbt.provenance)"
        for i, entry in enumerate(value):
            if not isinstance(entry, list) or len(entry) != 5:
                self.fail(f"{field}[{i}]", layout, entry)
            self.integer(entry[0], f"{field}[{i}][0]", 0, MAX_INDEX)
            for j in range(1, 5):
                v = entry[j]
                if isinstance(v, bool) or not isinstance(v, int | float) or not (
                        math.isfinite(v) if isinstance(v, float) else abs(v) < 1e300):
                    self.fail(f"{field}[{i}][{j}]", "a finite number", v)
        return value

