"""BDE against a plain per-window butter + lfilter implementation of the reference recipe."""

import numpy as np
import pytest
from scipy import signal

from rbt.bde import (
    DEFAULT_BANDS,
    LOG2_2PIE,
    band_differential_entropy,
    design_band_pass,
    differential_entropy,
)


def reference_bde(x, sfreq, bands=DEFAULT_BANDS, order=5):
    """One window and one channel at a time, as the published code does."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape[:-1] + (len(bands),))
    for idx in np.ndindex(x.shape[:-1]):
        for k, (lo, hi) in enumerate(bands.values()):
            b, a = signal.butter(order, [lo, hi], btype="band", fs=sfreq)
            y = signal.lfilter(b, a, x[idx])
            out[idx + (k,)] = 0.5 * np.log2(2 * np.pi * np.e * np.var(y))
    return out


def eeg_like(shape, seed=0):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal(shape), axis=-1) * 0.1 + rng.standard_normal(shape)
    return (x - x.mean(axis=(-2, -1), keepdims=True)) / x.std(axis=(-2, -1), keepdims=True)


@pytest.mark.parametrize("n", [512, 128, 500, 300, 97])
def test_matches_reference_for_any_window_length(n):
    x = eeg_like((3, 4, n), seed=n)
    assert np.abs(band_differential_entropy(x, 128) - reference_bde(x, 128)).max() < 1e-7


@pytest.mark.parametrize("sfreq", [128.0, 200.0, 256.0])
def test_matches_reference_at_dataset_rates(sfreq):
    x = eeg_like((2, 16, 512), seed=int(sfreq))
    assert np.abs(band_differential_entropy(x, sfreq) - reference_bde(x, sfreq)).max() < 1e-7


def test_shape_order_and_leading_axes():
    x = eeg_like((2, 3, 5, 256))
    de = band_differential_entropy(x, 128)
    assert de.shape == (2, 3, 5, 4)
    # the same windows in another leading layout give the same numbers
    flat = band_differential_entropy(x.reshape(6, 5, 256), 128)
    np.testing.assert_array_equal(flat.reshape(de.shape), de)


def test_custom_bands_keep_their_order():
    x = eeg_like((4, 3, 512), seed=3)
    bands = {"gamma": (31.0, 49.0), "delta": (1.0, 4.0)}
    de = band_differential_entropy(x, 128, bands=bands, order=4)
    assert de.shape == (4, 3, 2)
    np.testing.assert_allclose(de, reference_bde(x, 128, bands, order=4), atol=1e-7, rtol=0)


def test_many_rows_use_threads_and_agree_with_single_thread():
    x = eeg_like((40, 32, 512), seed=5)
    two = band_differential_entropy(x, 128, n_jobs=2)
    one = band_differential_entropy(x, 128, n_jobs=1)
    np.testing.assert_allclose(two, one, atol=1e-12, rtol=0)
    ref = reference_bde(x[:2], 128)
    assert np.abs(two[:2] - ref).max() < 1e-7


def test_differential_entropy_is_the_rule_band_entropy_applies():
    x = eeg_like((2, 3, 512), seed=7)
    assert LOG2_2PIE == pytest.approx(np.log2(2 * np.pi * np.e))
    np.testing.assert_allclose(differential_entropy(x), 0.5 * np.log2(2 * np.pi * np.e
                                                                     * x.var(axis=-1)))
    b, a = design_band_pass(8, 14, 128.0)
    filtered = signal.lfilter(b, a, x, axis=-1)
    bde = band_differential_entropy(x, 128.0, bands={"alpha": (8.0, 14.0)})
    np.testing.assert_allclose(bde[..., 0], differential_entropy(filtered), atol=1e-7)


def test_gaussian_white_noise_gives_the_analytic_entropy():
    # For white noise of variance 1 through a filter of noise bandwidth B, var = 2B/fs.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 200_000))
    de = band_differential_entropy(x, 1000.0, bands={"b": (100.0, 200.0)}, order=5)
    b, a = design_band_pass(100, 200, 1000.0)
    w, h = signal.freqz(b, a, worN=1 << 16, fs=1000.0)
    var = np.trapezoid(np.abs(h) ** 2, w) * 2 / 1000.0
    assert abs(de[0, 0, 0] - 0.5 * np.log2(2 * np.pi * np.e * var)) < 0.01


def test_scaling_the_signal_shifts_entropy_by_log2_of_the_gain():
    x = eeg_like((2, 3, 512))
    np.testing.assert_allclose(band_differential_entropy(3 * x, 128),
                               band_differential_entropy(x, 128) + np.log2(3), atol=1e-9)


@pytest.mark.parametrize("band", [(0.0, 8.0), (8.0, 4.0), (30.0, 64.0)])
def test_bands_outside_nyquist_are_refused(band):
    with pytest.raises(ValueError, match="Nyquist"):
        band_differential_entropy(np.zeros((1, 512)), 128, bands={"bad": band})


def test_input_checks():
    with pytest.raises(ValueError, match="channels, samples"):
        band_differential_entropy(np.zeros(512), 128)
