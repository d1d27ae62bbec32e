"""Cheap imports: figures, montages, attention maps and the method tables load neither torch
nor Captum (each checked in a fresh interpreter, where nothing was imported before)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _loaded_after(code: str) -> dict:
    probe = (f"import sys, json\n{code}\n"
             "print(json.dumps({m: m in sys.modules for m in ('torch', 'captum')}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("code", [
    "import rbt.viz",
    "import rbt.montage",
    "import rbt.explain.attention",
    "import rbt.explain",
    "from rbt.explain import METHODS, MASKS, BASELINES, method_record, top_pairs, aggregate",
    "from rbt.viz import attention_lines, band_topomaps",
])
def test_import_loads_neither_torch_nor_captum(code):
    assert _loaded_after(code) == {"torch": False, "captum": False}


def test_public_names_are_still_there_and_load_their_module_on_use():
    loaded = _loaded_after(
        "import rbt.explain as e\n"
        "assert sorted(e.__all__) == e.__all__ and 'attribute' in dir(e)\n"
        "assert callable(e.attribute) and e.aggregate.__module__ == 'rbt.explain.aggregate'\n"
        "import rbt.explain.aggregate\n"
        "from rbt.explain import aggregate\n"
        "assert callable(aggregate) and aggregate.__name__ == 'aggregate'")
    assert loaded["torch"]  # attribute is torch's, loaded when it is first asked for
    import rbt.explain

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        rbt.explain.nothing  # noqa: B018


def test_features_of_one_file_load_no_torch(tmp_path):
    # a features run never needs torch (1.4 s of a cold SEED session's start); scipy.signal,
    # which the BDE does need, is imported beside the file's read
    import numpy as np
    from formats import SEED_SFREQ, eeg_like, write_seed_file, write_seed_labels

    write_seed_labels(tmp_path)
    rng = np.random.default_rng(0)
    session = write_seed_file(tmp_path / "1_20131027.mat",
                              {t: eeg_like(62, 1200, SEED_SFREQ, rng) for t in (1, 2)})
    loaded = _loaded_after(
        "import os\n"
        f"os.environ['RBT_CACHE_DIR'] = {str(tmp_path / 'cache')!r}\n"
        "from rbt.data import load_features\n"
        f"fs = load_features('seed', {str(session)!r}, progress=False)\n"
        "assert fs.X.shape[1:] == (62, 4) and 'scipy.signal' in sys.modules")
    assert loaded == {"torch": False, "captum": False}
