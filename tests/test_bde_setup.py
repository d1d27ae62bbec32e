"""BDE's data-independent set-up (filters, probes, block plan, modal poles, threads) is made
once per band set, rate, order and window length, and reusing it changes no value."""

import mpmath
import numpy as np
from scipy import signal
from test_bde import eeg_like, reference_bde

from rbt import bde
from rbt.bde import DEFAULT_BANDS, band_differential_entropy


def test_the_setup_is_made_once_and_reused_with_identical_features():
    x = eeg_like((3, 8, 512), seed=11)
    bde._setup.cache_clear()
    first = band_differential_entropy(x, 128.0)
    made = bde._setup.cache_info()
    again = band_differential_entropy(x.copy(), 128.0)
    info = bde._setup.cache_info()
    assert (made.misses, info.misses, info.hits - made.hits) == (1, 1, 1)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - reference_bde(x, 128.0)).max() < 1e-7
    # another window length or rate is another set-up
    band_differential_entropy(x[..., :500], 128.0)
    band_differential_entropy(x, 200.0)
    assert bde._setup.cache_info().misses == 3


def test_polished_poles_are_polyroots_poles():
    for sfreq in (128.0, 200.0, 1000.0):
        for lo, hi in [*DEFAULT_BANDS.values(), (0.5, 4.0)]:
            _, a = signal.butter(5, [lo, hi], btype="band", fs=sfreq)
            with mpmath.workdps(60):
                am = [mpmath.mpf(v) / mpmath.mpf(a[0]) for v in a]
                fast = bde._polished_roots(am)
                slow = mpmath.polyroots(am, maxsteps=400, extraprec=400)
                assert fast is not None
                for p in slow:  # every pole found, to far below float64's resolution
                    assert min(abs(p - q) for q in fast) < mpmath.mpf(10) ** -40


def test_default_jobs_follow_the_setting_and_threads_agree():
    x = eeg_like((20, 32, 512), seed=3)
    try:
        bde.set_default_jobs(1)
        assert bde.default_jobs() == 1
        one = band_differential_entropy(x, 128.0)
        bde.set_default_jobs(2)
        assert bde.default_jobs() == 2
        two = band_differential_entropy(x, 128.0)
    finally:
        bde.set_default_jobs(None)
    assert 1 <= bde.default_jobs() <= 2
    np.testing.assert_allclose(one, two, atol=1e-12, rtol=0)


def test_blas_limit_is_restored_after_the_call():
    from threadpoolctl import threadpool_info

    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    band_differential_entropy(eeg_like((20, 32, 512), seed=4), 128.0, n_jobs=2)
    after = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    assert before == after
