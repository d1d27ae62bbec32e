"""rbt's BDE against two baselines on one DEAP-sized subject, side by side in one process.

Input: 40 trials x 62 windows x 32 channels x 512 samples at 128 Hz (z-scored windows of a
synthetic 1/f signal, windowed exactly as DEAP is).

  (a) reference style: one window at a time; for each channel and band design the Butterworth
      filter and lfilter it (how the published code and TorchEEG run the transform);
  (b) one vectorised scipy.signal.lfilter call per band over all windows.

and rbt's two paths: ``band_differential_entropy`` (each window filtered on its own, in blocks)
and ``sliding_band_differential_entropy`` (what ``rbt features`` runs: each band filtered once
per trial, each window's response recovered from it), the latter from the raw trials with the
per-window z-score inside.

Prints medians of repeated runs, the ratios, the largest disagreement and the load average.
Usage: python bench/bde.py [--repeats 5] [--quick]   (--quick times (a) on 4 trials and scales)
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy import signal

from rbt.bde import DEFAULT_BANDS, band_differential_entropy
from rbt.bde_sliding import sliding_band_differential_entropy
from rbt.data.features import window_starts, zscore_windows

SFREQ = 128.0


STARTS = window_starts(8064, 384, 512, 117)


def deap_subject_trials(seed: int = 0) -> np.ndarray:
    """40 trials x 32 channels x 8064 samples of a synthetic 1/f signal."""
    rng = np.random.default_rng(seed)
    n = 8064
    shape = (40, 32, n // 2 + 1)
    spec = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    f = np.fft.rfftfreq(n, 1 / SFREQ)
    f[0] = np.inf
    return np.fft.irfft(spec * f**-0.75, n=n)


def deap_subject_windows(trials: np.ndarray) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(trials, 512, axis=-1)[:, :, STARTS]
    return zscore_windows(windows.transpose(0, 2, 1, 3))  # (40, 62, 32, 512)


def sliding(trials: np.ndarray) -> np.ndarray:
    return np.stack([sliding_band_differential_entropy(t, STARTS, 512, SFREQ) for t in trials])


def baseline_a(x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape[:-1] + (len(DEFAULT_BANDS),))
    for t in range(x.shape[0]):
        for w in range(x.shape[1]):
            window = x[t, w]
            for c in range(window.shape[0]):
                for k, (lo, hi) in enumerate(DEFAULT_BANDS.values()):
                    b, a = signal.butter(5, [lo, hi], btype="band", fs=SFREQ)
                    y = signal.lfilter(b, a, window[c])
                    out[t, w, c, k] = 0.5 * np.log2(2 * np.pi * np.e * np.var(y))
    return out


def baseline_b(x: np.ndarray) -> np.ndarray:
    out = []
    for lo, hi in DEFAULT_BANDS.values():
        b, a = signal.butter(5, [lo, hi], btype="band", fs=SFREQ)
        out.append(0.5 * np.log2(2 * np.pi * np.e * signal.lfilter(b, a, x, axis=-1).var(axis=-1)))
    return np.stack(out, axis=-1)


def timed(fn, x, repeats):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="time baseline (a) on 4 trials, scaled")
    args = ap.parse_args()
    trials = deap_subject_trials()
    x = deap_subject_windows(trials)
    print(f"input: {x.shape} float64 windows ({x.nbytes / 1e6:.0f} MB)")
    band_differential_entropy(x[:1], SFREQ)  # filter design and plan are cached once per process
    sliding(trials[:1])
    t_rbt, ours = timed(lambda v: band_differential_entropy(v, SFREQ), x, args.repeats)
    t_one, one_pass = timed(sliding, trials, args.repeats)
    t_b, ref_b = timed(baseline_b, x, args.repeats)
    a_trials = 4 if args.quick else x.shape[0]
    t_a, ref_a = timed(baseline_a, x[:a_trials], 1)
    t_a *= x.shape[0] / a_trials
    err_a = np.abs(ours[:a_trials] - ref_a).max()
    err_b = np.abs(ours - ref_b).max()
    err_one = np.abs(one_pass - ours).max()
    print(f"rbt sliding, one pass a band  : {t_one:8.3f} s (median of {args.repeats}, "
          "z-score included)")
    print(f"rbt band_differential_entropy : {t_rbt:8.3f} s (median of {args.repeats})")
    print(f"(b) lfilter per band, all win. : {t_b:8.3f} s (median of {args.repeats})")
    print(f"(a) per window, design per ch. : {t_a:8.3f} s"
          f"{' (4 trials, scaled to 40)' if args.quick else ''}")
    print(f"ratio (a)/rbt = {t_a / t_rbt:7.1f}x   [target >= 100x]")
    print(f"ratio (b)/rbt = {t_b / t_rbt:7.2f}x   [target >= 2x]")
    print(f"ratio rbt per window / sliding = {t_rbt / t_one:5.2f}x")
    print(f"max |rbt - (a)| = {err_a:.2e}, max |rbt - (b)| = {err_b:.2e}, "
          f"max |sliding - rbt| = {err_one:.2e}   [must be <= 1e-7]")
    print("load " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    if max(err_a, err_b, err_one) > 1e-7:
        raise SystemExit("results differ by more than 1e-7")


if __name__ == "__main__":
    main()
