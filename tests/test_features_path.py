"""``rbt features`` stays light: it never imports torch, and on cache hits not even
scipy.signal (each checked in a fresh interpreter), and cached features read back identical."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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
