"""The one-pass BDE of a trial's overlapping windows gives each window's own z-scored,
zero-state BDE: the reference recipe's numbers, whatever the stride, rate or offset."""

import numpy as np
import pytest
from test_bde import reference_bde

from rbt import bde_sliding
from rbt.bde import band_differential_entropy
from rbt.bde_sliding import sliding_band_differential_entropy
from rbt.data.features import window_starts, zscore_windows


def drifting(channels, samples, seed, offset=0.0):
    """A random walk with white noise and per-channel offsets: strong low frequencies and DC."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.standard_normal((channels, samples)), axis=1)
    return walk + rng.standard_normal((channels, samples)) + offset * rng.standard_normal((
        channels, 1))


def windows_of(sig, starts, window):
    view = np.lib.stride_tricks.sliding_window_view(sig, window, axis=1)
    return view[:, starts].transpose(1, 0, 2)


@pytest.mark.parametrize("samples, window, stride, offset", [
    (8064, 512, 117, 50.0),  # DEAP's trials, windows and stride
    (24000, 512, 117, 0.0),  # a long trial: the block recursion runs in lfilter
    (3000, 512, 117, 1e4),  # a large DC offset, cancelled through the step response
    (2000, 468, 117, 0.0),  # windows made of whole blocks (no partial last block)
    (2500, 300, 101, 5.0),  # a prime stride: one block per stride
    (1500, 256, 64, 0.0),
])
def test_one_pass_equals_each_window_filtered_on_its_own(samples, window, stride, offset):
    sig = drifting(6, samples, seed=samples, offset=offset)
    starts = window_starts(samples, 100, window, stride)
    assert bde_sliding._plan(((4.0, 8.0),), 128.0, 5, window, stride) is not None
    got = sliding_band_differential_entropy(sig, starts, window, 128.0)
    windows = windows_of(sig, starts, window)
    assert got.shape == (len(starts), 6, 4)
    np.testing.assert_allclose(got, band_differential_entropy(windows, 128.0, zscore=True),
                               atol=1e-10, rtol=0)
    picked = [0, len(starts) // 2, len(starts) - 1]
    reference = reference_bde(zscore_windows(windows[picked]), 128.0)
    # as close as rbt.bde's per-window path (lfilter's own rounding, up to 2e-8 on theta)
    assert np.abs(got[picked] - reference).max() < 1e-7


def test_rows_split_over_threads_agree():
    sig = drifting(9, 6000, seed=4)
    starts = window_starts(6000, 0, 512, 117)
    one = sliding_band_differential_entropy(sig, starts, 512, 128.0, n_jobs=1)
    two = sliding_band_differential_entropy(sig, starts, 512, 128.0, n_jobs=2)
    np.testing.assert_allclose(one, two, atol=1e-12, rtol=0)


def test_bands_only_lfilter_reproduces_are_computed_as_before():
    # at 200 Hz theta's reference rounding is lfilter's own: that band keeps the per-window
    # path and gives bit-identical values; the others take the one-pass path
    sig = drifting(5, 9000, seed=2)
    starts = window_starts(9000, 0, 512, 117)
    view = np.lib.stride_tricks.sliding_window_view(sig, 512, axis=1)
    windows = view[:, starts[0] : starts[-1] + 1 : 117].transpose(1, 0, 2)
    want = band_differential_entropy(windows, 200.0, zscore=True)
    got = sliding_band_differential_entropy(sig, starts, 512, 200.0)
    np.testing.assert_array_equal(got[..., 0], want[..., 0])
    np.testing.assert_allclose(got[..., 1:], want[..., 1:], atol=1e-10, rtol=0)


def test_theta_at_200_hz_is_the_reference_recipes_to_rounding():
    # lfilter's rounding on theta at 200 Hz follows the input's last bits (one ulp on every
    # sample moves DE by 1e-6), so the per-window path must z-score exactly as the reference:
    # numpy's mean and std of each window as one contiguous array (a strided view's sums
    # missed by 1.2e-6)
    sig = drifting(62, 4000, seed=12, offset=20.0)
    starts = window_starts(4000, 0, 512, 117)
    got = sliding_band_differential_entropy(sig, starts, 512, 200.0)
    picked = [0, 5, len(starts) - 1]
    reference = reference_bde(zscore_windows(windows_of(sig, starts, 512)[picked]), 200.0)
    assert np.abs(got[picked, :, 0] - reference[..., 0]).max() < 1e-12
    assert np.abs(got[picked] - reference).max() < 1e-7


@pytest.mark.parametrize("case", ["uneven", "nan", "stride without a block", "no overlap"])
def test_other_windows_take_the_per_window_path(case):
    sig = drifting(4, 4000, seed=9)
    window, stride = 512, 117
    starts = window_starts(4000, 0, window, stride)
    if case == "uneven":
        starts = starts[[0, 2, 3, 7]]
    elif case == "nan":
        sig[2, 1500] = np.nan  # only the windows holding it become NaN
    elif case == "stride without a block":
        stride = 13
        starts = window_starts(4000, 0, window, stride)
    else:
        stride = 600
        starts = window_starts(4000, 0, window, stride)
    got = sliding_band_differential_entropy(sig, starts, window, 128.0)
    want = band_differential_entropy(windows_of(sig, starts, window), 128.0, zscore=True)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, atol=1e-10, rtol=0)
    if case == "nan":
        hit = (starts <= 1500) & (1500 < starts + window)
        assert np.isnan(got[hit]).all() and np.isfinite(got[~hit]).all()


def test_windows_outside_the_signal_are_refused():
    with pytest.raises(ValueError, match="must lie inside the 1000 samples"):
        sliding_band_differential_entropy(np.zeros((2, 1000)), [0, 600], 512, 128.0)
