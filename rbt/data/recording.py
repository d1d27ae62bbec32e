"""What readers produce (``Recording``) and what the model consumes (``FeatureSet``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd


class DataFormatError(ValueError):
    """A file is missing, unreadable, or not in the format its reader expects."""


@dataclass
class Trial:
    """One stimulus presentation of one subject."""

    subject: str
    session: int
    trial: int
    signal: np.ndarray  # (channels, samples)
    baseline: np.ndarray | None = None  # (channels, samples) pre-stimulus recording
    ratings: dict[str, float] = field(default_factory=dict)
    start: int = 0  # sample of ``signal`` where the first window starts
    offset: int = 0  # sample of the source recording where ``signal`` begins


@dataclass
class Recording:
    """Trials of raw EEG from one source file, with channel names and sampling rate."""

    dataset: str
    source: str
    ch_names: list[str]
    sfreq: float
    trials: list[Trial]
    notes: list[str] = field(default_factory=list)  # what reading left out, for the user
    interpolated: list[str] = field(default_factory=list)  # electrodes made by interpolation


@dataclass
class FeatureSet:
    """RBTransformer input: windows x electrodes x bands BDE, labels and provenance.

    ``table`` has one row per window: subject, session, trial, window (index within the trial),
    start (first sample of the window in the trial; in the recording for MNE files), recording
    (the source file's name) and the raw rating(s).
    """

    X: np.ndarray  # float32 (windows, electrodes, bands)
    table: pd.DataFrame
    ch_names: list[str]
    sfreq: float
    bands: dict[str, tuple[float, float]]
    dataset: str
    source: str
    params: dict
    target: str | None = None
    task: str | None = None
    y: np.ndarray | None = None  # int64 class index per window
    class_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)  # what reading changed, for the user
    #: electrodes interpolated from the others (fitting a recording to a model's electrodes)
    interpolated: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.X)

    @property
    def n_classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)

    def trial_keys(self) -> np.ndarray:
        """Per window, its trial's key ``"subject/session/trial"`` (a trial is unique only
        within its subject and session)."""
        t = self.table
        return (t["subject"].astype(str) + "/" + t["session"].astype(str) + "/"
                + t["trial"].astype(str)).to_numpy()

    def subjects(self) -> list[str]:
        """The subjects, in natural order (s2 before s10)."""
        return sorted(self.table["subject"].astype(str).unique(), key=_natural)

    def trials(self, subject: str) -> list[tuple[int, int]]:
        """The (session, trial) pairs of one subject, sorted."""
        rows = self.table[self.table["subject"].astype(str) == str(subject)]
        return sorted({(int(s), int(t)) for s, t in zip(rows["session"], rows["trial"])})

    def trial_rows(self, subject: str, session: int, trial: int) -> np.ndarray:
        """Indices of one trial's windows, in window order."""
        t = self.table
        mask = ((t["subject"].astype(str) == str(subject)) & (t["session"] == session)
                & (t["trial"] == trial)).to_numpy()
        idx = np.flatnonzero(mask)
        return idx[np.argsort(t["window"].to_numpy()[idx], kind="stable")]

    def subset(self, mask) -> FeatureSet:
        """The windows selected by a boolean mask or index array."""
        idx = np.arange(len(self))[mask]
        return replace(
            self,
            X=self.X[idx],
            table=self.table.iloc[idx].reset_index(drop=True),
            y=None if self.y is None else self.y[idx],
        )

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """Arrays for ``np.savez``: X, y (when labelled), names, bands and the index columns."""
        out = {
            "X": self.X,
            "ch_names": np.array(self.ch_names),
            "bands": np.array(list(self.bands)),
            "band_edges": np.array(list(self.bands.values()), dtype=float),
            "sfreq": np.array(self.sfreq),
        }
        if self.y is not None:
            out["y"] = self.y
            out["class_names"] = np.array(self.class_names)
            out["target"] = np.array(self.target)
            out["task"] = np.array(self.task)
        if self.interpolated:
            out["interpolated"] = np.array(list(self.interpolated))
        for col in self.table.columns:
            values = self.table[col].to_numpy()
            out[col] = values.astype(str) if values.dtype == object else values
        return out


def _natural(name: str):
    """Sort key: the number in a name first (s2 < s10), then the name."""
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)
