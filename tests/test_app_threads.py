"""torch's thread count in the dashboard (app/threads.py): fixed once per process, never
changed by a request."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "app") not in sys.path:  # the app's modules, as Streamlit imports them
    sys.path.insert(0, str(ROOT / "app"))
import threads  # noqa: E402


def test_the_count_comes_from_the_environment_or_torch():
    assert threads.from_env({}) is None
    assert threads.from_env({"RBT_TORCH_THREADS": "1"}) == 1
    assert threads.from_env({"RBT_TORCH_THREADS": str(10**6)}) == os.cpu_count()
    for bad in ("", "0", "-2", "two", "1.5"):
        assert threads.from_env({"RBT_TORCH_THREADS": bad}) is None, bad


def test_it_is_set_once_and_no_request_changes_it():
    n = threads.configure()
    # in this test process an rbt command run in-process (rbt.device.use_torch_threads) may
    # have set torch's count since; what the dashboard must never do is change it per request
    torch.set_num_threads(n)
    assert threads.configure({"RBT_TORCH_THREADS": str(n + 1)}) == n  # later calls: no change
    assert torch.get_num_threads() == n
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app" / "Home.py"), default_timeout=180).run()
    at.switch_page("views/1_One_trial.py").run()
    at.selectbox(key="attr_method").set_value("gradient_shap").run()
    assert not at.exception and torch.get_num_threads() == n
    # only the start-up code sets it: the app's threads module, and rbt.device's policy that
    # the rbt commands apply once when they start; no request path in the app or the library
    allowed = {ROOT / "app" / "threads.py", ROOT / "rbt" / "device.py"}
    for folder in (ROOT / "app", ROOT / "rbt"):
        for path in folder.rglob("*.py"):
            if path not in allowed:
                assert "set_num_threads" not in path.read_text(), path
                if path.parent.name != "cli":
                    assert "use_torch_threads(" not in path.read_text(), path
