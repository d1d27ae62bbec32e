"""The built-in demo dataset: deterministic synthetic EEG with documented, planted class effects.

The data are synthetic. They are written as DEAP ``sNN.dat`` files (40 channels, 128 Hz, a 3-s
pre-stimulus baseline, then the stimulus) and read back by the real DEAP reader.

Each subject's signal is built at one source per electrode and then mixed by volume conduction
(a Gaussian kernel over the template electrode positions, 3 cm wide):

* background: 1/f^1.5 noise at every source, with a per-subject gain per channel;
* an occipital alpha rhythm (per-subject peak 9-11 Hz, slowly waxing and waning) at O1, Oz, O2,
  PO3 and PO4;
* the planted effects in :data:`PLANTED_EFFECTS`: during the stimulus only (never the baseline),
  band-limited activity with 1.5 times the background's power in that band is added at the named
  sources. Each trial is high or low on valence and, independently, on arousal, and carries the
  effects of both of its classes.

Ratings follow the classes: "high" trials are rated in [5.5, 9], "low" ones in [1, 4.5]
(DEAP's binary rule: rating >= 5 is high). Dominance and liking are random.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .. import cache
from ..montage import positions_3d
from . import deap

VERSION = 1
N_SUBJECTS = 5
N_TRIALS = 16
STIMULUS_SECONDS = 20
SFREQ = 128

#: target -> class -> where the effect is planted. The single source of truth for the demo.
PLANTED_EFFECTS: dict[str, dict[str, dict]] = {
    "valence": {
        "high": {"band": "alpha", "channels": ("F4", "AF4", "F8")},
        "low": {"band": "theta", "channels": ("F3", "AF3", "F7")},
    },
    "arousal": {
        "high": {"band": "beta", "channels": ("C3", "Cz", "C4")},
        "low": {"band": "theta", "channels": ("P7", "Pz", "P8")},
    },
}
_BAND_EDGES = {"theta": (4.0, 8.0), "alpha": (8.0, 14.0), "beta": (14.0, 31.0)}
_EFFECT_POWER = 1.5  # added band power, relative to the background's power in that band
_ALPHA_SOURCES = ("O1", "Oz", "O2", "PO3", "PO4")


def planted_electrodes(dataset: str, target: str | None) -> dict[str, list[str]]:
    """Band -> electrodes where the demo plants the effects of ``target``; empty for data
    other than the demo or a target without planted effects."""
    if dataset != "demo" or target not in PLANTED_EFFECTS:
        return {}
    out: dict[str, list[str]] = {}
    for effect in PLANTED_EFFECTS[target].values():
        out.setdefault(effect["band"], []).extend(effect["channels"])
    return out


def demo_dir() -> Path:
    """The folder holding the demo's DEAP files, generated on first use."""
    folder = cache.cache_dir() / "demo" / f"v{VERSION}"
    if not (folder / "COMPLETE").exists():
        write_demo(folder)
    return folder


def write_demo(folder: Path) -> None:
    """Generate every subject file into ``folder``, atomically (a temp folder, then a rename)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-", dir=folder.parent))
    cache.publish_mode(tmp, directory=True)
    try:
        for s in range(1, N_SUBJECTS + 1):
            data, labels = generate_subject(s)
            with open(tmp / f"s{s:02d}.dat", "wb") as fh:
                pickle.dump({"data": data, "labels": labels}, fh, protocol=2)
        (tmp / "COMPLETE").write_text("rbt demo data (synthetic)\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def trial_classes(n_trials: int = N_TRIALS) -> np.ndarray:
    """(n_trials, 2) 0/1 classes for valence and arousal, balanced and crossed."""
    v = np.arange(n_trials) % 2
    a = (np.arange(n_trials) // 2) % 2
    return np.column_stack([v, a])


def _pink(rng, n_sources: int, n: int, exponent: float = 1.5) -> np.ndarray:
    spec = rng.standard_normal((n_sources, n // 2 + 1)) + 1j * rng.standard_normal(
        (n_sources, n // 2 + 1))
    f = np.fft.rfftfreq(n, 1 / SFREQ)
    f[0] = np.inf
    x = np.fft.irfft(spec * f ** (-exponent / 2), n=n, axis=1)
    return x / x.std(axis=1, keepdims=True)


def _band_noise(rng, n: int, band: str) -> np.ndarray:
    from scipy import signal  # imported on first use: reading rbt.data needs no scipy.signal

    sos = signal.butter(4, _BAND_EDGES[band], btype="band", fs=SFREQ, output="sos")
    x = signal.sosfiltfilt(sos, rng.standard_normal(n + 256))[128:-128]
    return x / x.std()


def _band_power(x: np.ndarray, band: str) -> float:
    from scipy import signal

    sos = signal.butter(4, _BAND_EDGES[band], btype="band", fs=SFREQ, output="sos")
    return float(signal.sosfiltfilt(sos, x).var())


def generate_subject(subject: int) -> tuple[np.ndarray, np.ndarray]:
    """One subject in DEAP's layout: data (trials, 40, samples) float32, labels (trials, 4)."""
    rng = np.random.default_rng(1000 + subject)
    names = deap.EEG_CHANNELS
    pos = positions_3d(names)
    dist2 = ((pos[:, None] - pos[None]) ** 2).sum(-1)
    mixing = np.exp(-dist2 / (2 * 0.03**2))
    mixing /= mixing.sum(axis=1, keepdims=True)
    gains = rng.uniform(0.8, 1.25, size=len(names))
    alpha_peak = rng.uniform(9.0, 11.0)
    n_base = deap.BASELINE_SAMPLES
    n = n_base + STIMULUS_SECONDS * SFREQ
    classes = trial_classes()
    data = np.empty((N_TRIALS, deap.N_CHANNELS, n), dtype=np.float32)
    labels = np.empty((N_TRIALS, 4))
    t = np.arange(n) / SFREQ
    for trial, (v, a) in enumerate(classes):
        sources = _pink(rng, len(names), n) * 10.0
        envelope = 1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 6))
        alpha = np.sin(2 * np.pi * alpha_peak * t + rng.uniform(0, 6)) * envelope * 12.0
        for ch in _ALPHA_SOURCES:
            sources[names.index(ch)] += alpha * rng.uniform(0.7, 1.0)
        for target, cls in (("valence", v), ("arousal", a)):
            effect = PLANTED_EFFECTS[target]["high" if cls else "low"]
            for ch in effect["channels"]:
                i = names.index(ch)
                scale = np.sqrt(_EFFECT_POWER * _band_power(sources[i, n_base:], effect["band"]))
                sources[i, n_base:] += scale * _band_noise(rng, n - n_base, effect["band"])
        eeg = (mixing @ sources) * gains[:, None]
        data[trial, :32] = eeg
        data[trial, 32:] = rng.standard_normal((8, n)) * 5.0
        rate = lambda high: rng.uniform(5.5, 9.0) if high else rng.uniform(1.0, 4.5)  # noqa: E731
        labels[trial] = [rate(v), rate(a), rng.uniform(1, 9), rng.uniform(1, 9)]
    return data, labels
