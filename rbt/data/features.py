"""Recording -> BDE features: windowing, per-window z-score, BDE, baseline subtraction."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..bde import DEFAULT_BANDS, band_differential_entropy
from ..bde_sliding import sliding_band_differential_entropy
from ..progress import progress_bar
from .recording import DataFormatError, Recording, Trial

MAX_SFREQ = 4096.0  # the published filters are numerically unstable at kHz rates
# one trial's channels x samples: windows and z-scores copy it a few times over in float64
# (DEAP's trials hold 2.6e5; an hour of 64 channels at 1 kHz is 2.3e8)
MAX_TRIAL_SAMPLES = 1 << 28


# the published windows: 512 samples (4 s at 128 Hz), a new one every 117 samples
# the sources whose readers subtract each trial's pre-stimulus (rest) baseline from its BDE
REST_BASELINE_SOURCES = frozenset({"demo", "deap", "dreamer"})
DEFAULT_WINDOW = 512
DEFAULT_STRIDE = 117


@dataclass(frozen=True)
class FeatureParams:
    """Everything that changes the features (and so the cache key).

    ``filter_sfreq`` designs the band-pass filters for another rate than the data's; SEED's
    reference features used 128 Hz filters on 200 Hz data. ``nonfinite`` decides what happens to
    NaN or inf samples: "raise" (default) stops with an error naming trial and channels; "drop"
    drops every window (or trial, for a baseline) that touches one.
    """

    window: int = DEFAULT_WINDOW
    stride: int = DEFAULT_STRIDE
    bands: tuple[tuple[str, float, float], ...] = tuple(
        (name, lo, hi) for name, (lo, hi) in DEFAULT_BANDS.items()
    )
    order: int = 5
    filter_sfreq: float | None = None
    nonfinite: str = "raise"
    extra: tuple = field(default=())  # reader options that change the data (part of the key)

    def __post_init__(self):
        if self.window < 2 or self.stride < 1:
            raise ValueError(f"window must be >= 2 and stride >= 1; got {self.window}, "
                             f"{self.stride}")
        if self.nonfinite not in ("raise", "drop"):
            raise ValueError(f"nonfinite must be 'raise' or 'drop'; got {self.nonfinite!r}")

    @property
    def band_dict(self) -> dict[str, tuple[float, float]]:
        return {name: (lo, hi) for name, lo, hi in self.bands}

    def as_dict(self) -> dict:
        return asdict(self)


def window_starts(n_samples: int, start: int, window: int, stride: int) -> np.ndarray:
    """First sample of each full window from ``start`` on."""
    if n_samples - start < window:
        return np.empty(0, dtype=int)
    return np.arange(start, n_samples - window + 1, stride)


def zscore_windows(windows: np.ndarray) -> np.ndarray:
    """Z-score each window over all its channels and samples together (one mean, one std)."""
    mean = windows.mean(axis=(-2, -1), keepdims=True)
    std = windows.std(axis=(-2, -1), keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (windows - mean) / std


def baseline_segment(baseline: np.ndarray, sfreq: float) -> np.ndarray:
    """The pre-stimulus recording cut in 1-s pieces, averaged sample-wise: (channels, sfreq)."""
    second = int(round(sfreq))
    pieces = baseline.shape[-1] // second
    if pieces == 0:
        raise ValueError(f"a baseline needs at least 1 s ({second} samples); "
                         f"got {baseline.shape[-1]}")
    cut = baseline[:, : pieces * second].reshape(baseline.shape[0], pieces, second)
    return cut.mean(axis=1)


def _nonfinite_message(rec: Recording, trial: Trial, part: str, data: np.ndarray) -> str:
    bad = ~np.isfinite(data)
    chans = [rec.ch_names[i] for i in np.flatnonzero(bad.any(axis=1))]
    return (f"{rec.source}: subject {trial.subject} trial {trial.trial} {part} has "
            f"{int(bad.sum())} NaN/inf sample(s) in channel(s) {', '.join(chans[:10])}"
            f"{' ...' if len(chans) > 10 else ''}. Pass nonfinite='drop' (--nonfinite drop) to "
            "drop the affected windows instead.")


def _windows_with(mark: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """How many marked positions each span ``[start, start + length)`` holds: (..., spans).
    Counted with prefix sums over the signal, not over the overlapping windows."""
    counts = np.zeros(mark.shape[:-1] + (mark.shape[-1] + 1,), dtype=np.int64)
    np.cumsum(mark, axis=-1, out=counts[..., 1:])
    return counts[..., starts + length] - counts[..., starts]


def _refuse_flat(rec: Recording, trial: Trial, sig: np.ndarray, starts: np.ndarray,
                 window: int) -> None:
    """A channel that is constant over a window has no band power: BDE would be -inf, or,
    after the whole-window z-score, a filter transient passed off as a value."""
    # constant over a window = no change between neighbouring samples inside it
    change = sig[:, 1:] != sig[:, :-1]
    if change.all():  # float recordings: every sample differs from the last, nothing to count
        return
    flat = (_windows_with(change, starts, window - 1) == 0).T  # (W, C)
    if flat.any():
        chans = [rec.ch_names[i] for i in np.flatnonzero(flat.any(axis=0))]
        raise DataFormatError(
            f"{rec.source}: subject {trial.subject} trial {trial.trial}: channel(s) "
            f"{', '.join(chans[:10])}{' ...' if len(chans) > 10 else ''} are flat (constant) in "
            f"{int(flat.any(axis=1).sum())} of {len(starts)} window(s), so they have no band "
            "power. Remove or repair those channels (for a recording, mark them bad in the "
            "file or leave them out with a channel map).")


def recording_features(
    rec: Recording, params: FeatureParams, progress: bool = False
) -> tuple[np.ndarray, pd.DataFrame]:
    """BDE features (windows, electrodes, bands) as float32 and the per-window table."""
    fs_filter = params.filter_sfreq or rec.sfreq
    bands = params.band_dict
    top = max(hi for _, hi in bands.values())
    if not (np.isfinite(rec.sfreq) and 2 * top < rec.sfreq <= MAX_SFREQ
            and np.isfinite(fs_filter) and 2 * top < fs_filter <= MAX_SFREQ):
        raise DataFormatError(
            f"{rec.source}: sampling rate {rec.sfreq:g} Hz (filters for {fs_filter:g} Hz) is not "
            f"usable: the bands reach {top:g} Hz, so it must be above {2 * top:g} Hz, and at "
            f"most {MAX_SFREQ:g} Hz")
    n_ch = len(rec.ch_names)
    blocks, rows = [], []
    for trial in progress_bar(rec.trials, desc=f"BDE {rec.source.split('/')[-1]}", inner=True,
                              leave=False, disable=not progress):
        if np.size(trial.signal) > MAX_TRIAL_SAMPLES:
            raise DataFormatError(
                f"{rec.source}: subject {trial.subject} trial {trial.trial} holds "
                f"{np.size(trial.signal):.3g} samples (channels x time points), more than the "
                f"{MAX_TRIAL_SAMPLES:.3g} rbt turns into windows at once; cut it into trials")
        sig = np.asarray(trial.signal, dtype=np.float64)
        if sig.ndim != 2 or sig.shape[0] != n_ch:
            raise DataFormatError(
                f"{rec.source}: subject {trial.subject} trial {trial.trial} has signal shape "
                f"{sig.shape}; expected ({n_ch} channels, samples)"
            )
        starts = window_starts(sig.shape[1], trial.start, params.window, params.stride)
        if len(starts) == 0:
            raise DataFormatError(
                f"{rec.source}: subject {trial.subject} trial {trial.trial} has "
                f"{sig.shape[1] - trial.start} samples from sample {trial.start}; one window "
                f"needs {params.window}"
            )
        finite = np.isfinite(sig)
        if not finite.all():
            keep = _windows_with(~finite.all(axis=0), starts, params.window) == 0
            if not keep.all():
                if params.nonfinite == "raise":
                    raise DataFormatError(_nonfinite_message(rec, trial, "signal", sig))
                starts = starts[keep]
                if len(starts) == 0:
                    continue
        _refuse_flat(rec, trial, sig, starts, params.window)
        de = sliding_band_differential_entropy(sig, starts, params.window, fs_filter, bands,
                                               params.order)
        if trial.baseline is not None:
            base = np.asarray(trial.baseline, dtype=np.float64)
            if base.shape[0] != n_ch:
                raise DataFormatError(
                    f"{rec.source}: subject {trial.subject} trial {trial.trial} baseline has "
                    f"{base.shape[0]} channels; the signal has {n_ch}"
                )
            if not np.isfinite(base).all():
                if params.nonfinite == "raise":
                    raise DataFormatError(_nonfinite_message(rec, trial, "baseline", base))
                continue
            try:
                seg = zscore_windows(baseline_segment(base, rec.sfreq)[None])
            except ValueError as err:
                raise DataFormatError(f"{rec.source}: subject {trial.subject} trial "
                                      f"{trial.trial}: {err}") from err
            de = de - band_differential_entropy(seg, fs_filter, bands, params.order)
        if not np.isfinite(de).all():
            chans = [rec.ch_names[i] for i in np.flatnonzero(~np.isfinite(de).all(axis=(0, 2)))]
            raise DataFormatError(
                f"{rec.source}: subject {trial.subject} trial {trial.trial} gives non-finite "
                f"BDE in channel(s) {', '.join(chans)} (a flat channel has no band power)"
            )
        blocks.append(de.astype(np.float32))
        window_index = (starts - trial.start) // params.stride
        rows.append(pd.DataFrame({
            "subject": trial.subject,
            "session": trial.session,
            "trial": trial.trial,
            "window": window_index,
            "start": trial.offset + starts,
            **{k: v for k, v in trial.ratings.items()},
        }))
    if not blocks:
        raise DataFormatError(f"{rec.source}: no window survived (all contained NaN/inf)")
    table = pd.concat(rows, ignore_index=True)
    table.insert(5, "recording", rec.source.split("/")[-1])
    return np.concatenate(blocks), table
