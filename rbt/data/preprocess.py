"""The signal steps a model's training data had, and doing them to a recording through MNE.

DEAP, DREAMER and SEED were released already preprocessed, as their published descriptions say
(:data:`DATASET_STEPS`): a model trained on them learnt from signals so treated, so a raw
recording it scores should be treated the same way before its features are computed. Training
records the steps in the model card (``preprocessing.reference`` and ``.band_pass``);
:func:`steps_for` reads them back, falling back on the dataset's recipe for older cards, and
:func:`apply` does them to a recording, at its own rate, before it is resampled.

The steps are MNE's: ``set_eeg_reference("average", projection=False)`` and ``filter`` with
MNE's defaults (a zero-phase FIR filter, firwin design with a Hamming window, transition bands
and length chosen by MNE). What a release did that cannot be redone on another recording
(DEAP's EOG artefact removal) is said, not done.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model_card import REFERENCES

#: ``reference`` of signals kept on the reference they were recorded with
AS_RECORDED = REFERENCES[1]


@dataclass(frozen=True)
class SignalSteps:
    """What was done to a signal before its features: its reference and band-pass.

    ``band_pass`` is (low Hz, high Hz), low 0 meaning no high-pass, or None (no filter).
    ``origin`` names whose steps they are and ``remark`` adds what the words must say besides
    (both only words)."""

    reference: str = AS_RECORDED  # "average" or "as recorded"
    band_pass: tuple[float, float] | None = None
    origin: str | None = None  # e.g. "DEAP's released data"
    remark: str | None = None

    def __post_init__(self):
        if self.reference not in REFERENCES:
            raise ValueError(f"reference must be one of {', '.join(map(repr, REFERENCES))}; "
                             f"got {self.reference!r}")
        if self.band_pass is not None:
            low, high = self.band_pass
            if not 0 <= low < high:
                raise ValueError(f"band_pass must be (low Hz, high Hz) with 0 <= low < high; "
                                 f"got {self.band_pass!r}")
            object.__setattr__(self, "band_pass", (float(low), float(high)))

    @property
    def does_something(self) -> bool:
        """False for steps that leave a signal as it is (DREAMER's, the demo's)."""
        return self.reference == "average" or self.band_pass is not None

    @property
    def summary(self) -> str:
        """The steps in a few words, e.g. "average reference, band-pass 4-45 Hz"."""
        parts = ["average reference"] if self.reference == "average" else []
        if self.band_pass:
            parts.append(band_words(self.band_pass))
        return ", ".join(parts) or "no re-referencing or filtering"

    @property
    def card_fields(self) -> dict:
        """The model card's ``preprocessing`` fields for these steps."""
        return {"reference": self.reference,
                "band_pass": None if self.band_pass is None else list(self.band_pass)}


def band_words(band_pass) -> str:
    low, high = band_pass
    return f"band-pass {low:g}-{high:g} Hz" if low > 0 else f"low-pass {high:g} Hz"


#: how each dataset's released files were preprocessed, from the datasets' own descriptions
DATASET_STEPS: dict[str, SignalSteps] = {
    # data_preprocessed_python: downsampled to 128 Hz, EOG removed, 4-45 Hz, common average
    "deap": SignalSteps("average", (4.0, 45.0), origin="DEAP's released data",
                        remark="DEAP's EOG artefact removal is not reproduced"),
    # Preprocessed_EEG: downsampled to 200 Hz, band-passed 0-75 Hz; reference as recorded
    "seed": SignalSteps(AS_RECORDED, (0.0, 75.0), origin="SEED's released data"),
    # the Emotiv EPOC's own output at 128 Hz, released without further processing
    "dreamer": SignalSteps(AS_RECORDED, None, origin="DREAMER's released data",
                           remark="only the Emotiv EPOC headset's own band limit, about "
                                  "0.16-43 Hz, shaped them"),
    # synthetic signals written in DEAP's format, but generated clean: never filtered
    "demo": SignalSteps(AS_RECORDED, None, origin="the synthetic demo data",
                        remark="the synthetic signals were generated clean"),
}


def steps_for(card) -> SignalSteps | None:
    """The steps a model's training signals had: the card's (``preprocessing.reference`` and
    ``.band_pass``), else, for an older card of a dataset rbt knows, that dataset's recipe;
    None when the card does not say (an official checkpoint, an older card of recordings)."""
    if card is None:
        return None
    prep = card.preprocessing
    known = DATASET_STEPS.get(card.dataset or "")
    if prep.reference is None:
        return known
    steps = SignalSteps(prep.reference, prep.band_pass, origin="the model's training data")
    if known is not None and (known.reference, known.band_pass) == (steps.reference,
                                                                    steps.band_pass):
        return known
    return steps


def resolve(preprocess) -> SignalSteps | None:
    """``preprocess`` as steps: SignalSteps, None, "none" or a dataset name of
    :data:`DATASET_STEPS`."""
    if preprocess is None or isinstance(preprocess, SignalSteps):
        return preprocess
    if isinstance(preprocess, str) and preprocess.lower() == "none":
        return None
    if isinstance(preprocess, str) and preprocess.lower() in DATASET_STEPS:
        return DATASET_STEPS[preprocess.lower()]
    raise ValueError(f"preprocess must be SignalSteps, None, 'none' or one of "
                     f"{', '.join(DATASET_STEPS)}; got {preprocess!r}")


def feature_params(source: str, steps: SignalSteps | None) -> dict:
    """The ``reference`` and ``band_pass`` of features from ``source``: a dataset's recipe,
    or for recordings the ``steps`` done to them (None: none)."""
    done = DATASET_STEPS.get(source) if source != "raw" else steps or SignalSteps()
    return {} if done is None else done.card_fields


def apply(raw, steps: SignalSteps) -> list[str]:
    """Do ``steps`` to the EEG channels of ``raw`` (loaded, at its own rate), in place.

    Returns the words for what was done (and what could not be). A low-pass at or above the
    recording's Nyquist frequency is left out: the recording holds nothing there. A ValueError
    says why a step cannot be done."""
    words = []
    eeg = [n for n, kind in zip(raw.ch_names, raw.get_channel_types()) if kind == "eeg"]
    if steps.reference == "average":
        if len(eeg) < 2:
            raise ValueError(f"an average reference needs at least 2 EEG electrodes; it has "
                             f"{len(eeg)}")
        raw.set_eeg_reference("average", projection=False, verbose="error")
        words.append(f"re-referenced to the average of its {len(eeg)} EEG electrodes")
    if steps.band_pass:
        low, high = steps.band_pass
        sfreq = raw.info["sfreq"]
        nyquist = sfreq / 2
        if low >= nyquist:
            raise ValueError(f"a {low:g} Hz high-pass needs a rate above {2 * low:g} Hz; the "
                             f"recording is at {sfreq:g} Hz")
        h_freq = high if high < nyquist else None
        if low > 0 or h_freq is not None:
            raw.filter(low or None, h_freq, picks="eeg", verbose="error")
            done = (low, h_freq) if h_freq is not None else None
            words.append((band_words(done) if done else f"high-pass {low:g} Hz")
                         + f" (MNE's zero-phase FIR filter, at the recording's {sfreq:g} Hz)")
        if h_freq is None:
            words.append(f"no low-pass at {high:g} Hz needed: at {sfreq:g} Hz the recording "
                         f"holds nothing above {nyquist:g} Hz")
    if steps.remark:
        words.append(steps.remark)
    return words


def note(file_name: str, steps: SignalSteps, words: list[str]) -> str:
    """The recording's note for steps done: what was done, like whose data."""
    whose = f" as {steps.origin} were" if steps.origin else ""
    return f"{file_name}: preprocessed{whose}: " + "; ".join(words)
