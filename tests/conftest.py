"""Shared fixtures: every test gets its own empty rbt cache, never ~/.cache."""

from __future__ import annotations

import dataclasses

import pytest


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
