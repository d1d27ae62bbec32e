"""``rbt features`` stays light: it never imports torch, and on cache hits not even
scipy.signal (each checked in a fresh interpreter), and cached features read back identical."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import formats as F
import numpy as np
import pytest
from formats import deap_folder

ROOT = Path(__file__).resolve().parents[1]


def _features_run(folder: Path, out: Path, cache: Path) -> dict:
    probe = ("import json, sys\nfrom rbt.cli import main\n"
             f"code = main(['features', '--source', 'deap', '--path', {str(folder)!r}, '--out', "
             f"{str(out)!r}, '--force'])\n"
             "print(json.dumps({'code': code, **{m: m in sys.modules for m in "
             "('torch', 'scipy.signal')}}))")
    env = {"RBT_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_features_import_no_torch_and_cache_hits_no_scipy_signal(tmp_path):
    folder = deap_folder(tmp_path / "deap", subjects=(1, 2), n_trials=2)
    cold = _features_run(folder, tmp_path / "a.npz", tmp_path / "cache")
    warm = _features_run(folder, tmp_path / "b.npz", tmp_path / "cache")
    assert cold == {"code": 0, "torch": False, "scipy.signal": True}
    assert warm == {"code": 0, "torch": False, "scipy.signal": False}
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])


def test_zscore_inside_bde_equals_zscoring_first():
    from rbt.bde import band_differential_entropy
    from rbt.data.features import window_starts, zscore_windows

    rng = np.random.default_rng(3)
    sig = np.cumsum(rng.standard_normal((32, 3000)), axis=1) + 50.0
    starts = window_starts(3000, 100, 512, 117)
    view = np.lib.stride_tricks.sliding_window_view(sig, 512, axis=1)
    windows = view[:, starts[0]:starts[-1] + 1:117].transpose(1, 0, 2)  # a view, no copy
    assert np.shares_memory(windows, sig)
    # each window z-scored as an array of its own (numpy's sums then do not depend on how the
    # windows lie in memory: at 200 Hz theta's lfilter follows those last bits)
    want = band_differential_entropy(zscore_windows(np.ascontiguousarray(windows)), 128.0)
    for jobs in (1, 2):
        got = band_differential_entropy(windows, 128.0, n_jobs=jobs, zscore=True)
        np.testing.assert_array_equal(got, want)
    picked = view[:, starts[[0, 2, 3]]].transpose(1, 0, 2)  # uneven spacing (dropped windows)
    alone = np.ascontiguousarray(picked)
    np.testing.assert_array_equal(band_differential_entropy(picked, 200.0, zscore=True),
                                  band_differential_entropy(zscore_windows(alone), 200.0))
    np.testing.assert_array_equal(  # the same windows from Fortran-ordered memory
        band_differential_entropy(np.asfortranarray(sig)[None, :, :512], 200.0, zscore=True),
        band_differential_entropy(zscore_windows(np.ascontiguousarray(sig[None, :, :512])),
                                  200.0))


def test_checks_count_only_samples_inside_windows(tmp_path):
    from rbt.data import DataFormatError, load_features

    data, labels = F.deap_arrays(n_samples=F.DEAP_SAMPLES + 20)  # the last 20 in no window
    clean = load_features("deap", F.write_deap(tmp_path / "a" / "s01.dat", data, labels),
                          use_cache=False, progress=False)
    data[0, 3, -5:] = np.nan  # after the last window: no window touches it
    tail = load_features("deap", F.write_deap(tmp_path / "b" / "s01.dat", data, labels),
                         use_cache=False, progress=False)
    np.testing.assert_array_equal(tail.X, clean.X)
    data, labels = F.deap_arrays()
    data[1, 7, 618:] = 2.5  # T7 constant over the last window (618-1130) only
    path = F.write_deap(tmp_path / "c" / "s01.dat", data, labels)
    with pytest.raises(DataFormatError, match=r"trial 2: channel\(s\) T7 are flat .* in 1 of 3"):
        load_features("deap", path, use_cache=False, progress=False)
