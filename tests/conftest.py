"""Shared fixtures: every test gets its own empty rbt cache, never ~/.cache."""

from __future__ import annotations

import dataclasses
import sys

import pytest

# the test process's own __main__, before any test runs: Streamlit's script runner (AppTest)
# puts the app's page in its place and leaves it there
_PROCESS_MAIN = sys.modules["__main__"]


@pytest.fixture(scope="module")
def process_main():
    """This process's own ``__main__`` back in place for a module's tests (restored after):
    processes started by "spawn", such as a Dask LocalCluster's workers, run the main
    module's file again, which after an AppTest would be the dashboard's page."""
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = _PROCESS_MAIN
    yield _PROCESS_MAIN
    sys.modules["__main__"] = saved


@pytest.fixture(autouse=True)
def rbt_cache(tmp_path, monkeypatch):
    """A fresh ``RBT_CACHE_DIR`` for each test."""
    folder = tmp_path / "rbt-cache"
    monkeypatch.setenv("RBT_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def demo_valence(tmp_path_factory):
    """The demo's features (valence, binary), built once per session in a cache of its own.

    The demo takes seconds to generate, so tests share this one build; tests that want it
    labelled otherwise relabel a copy (``with_labels(dataclasses.replace(fs), ...)``).
    """
    from rbt.data import load_features

    folder = tmp_path_factory.mktemp("demo-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RBT_CACHE_DIR", str(folder))
        fs = load_features("demo", target="valence", task="binary", progress=False)
    return dataclasses.replace(fs), folder


def _address_space_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.fixture
def memory_limit():
    """Cap this process's address space for one test (its current size plus 3 GiB), so that
    a hostile input that blows up allocates into a MemoryError that fails the test instead of
    exhausting the machine. Yields the headroom in bytes; the old limit is restored after."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    headroom = 3 * 1024**3
    cap = _address_space_bytes() + headroom
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield headroom
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
