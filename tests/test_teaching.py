"""The teaching steps (rbt.teaching): one window from raw EEG to the token the model reads."""

from __future__ import annotations

import numpy as np
import pytest

from rbt import teaching as T
from rbt.model import RBTransformer, RBTransformerConfig

BANDS = ["theta", "alpha", "beta", "gamma"]


def test_teaching_steps_reproduce_the_features(demo_valence, monkeypatch):
    fs, folder = demo_valence
    monkeypatch.setenv("RBT_CACHE_DIR", str(folder))
    rec = T.demo_recording("s03")
    for trial, window in [(2, 0), (7, 11)]:
        steps = T.window_steps(rec, trial, window, fs.bands, length=fs.params["window"],
                               stride=fs.params["stride"])
        i = fs.trial_rows("s03", 1, trial)[window]
        np.testing.assert_allclose(steps.token, fs.X[i], atol=1e-6)
        assert set(steps.filtered) == set(BANDS)
    # a model with another electrode order reads the same tokens, rearranged by name
    order = list(reversed(fs.ch_names))
    moved = T.in_order(steps.token, [c.upper() for c in rec.ch_names], order)
    np.testing.assert_array_equal(moved, steps.token[::-1])
    np.testing.assert_array_equal(T.in_order(np.arange(2), ["fz", "CZ"], ["Cz", "Fz"]), [1, 0])
    cfg = RBTransformerConfig(num_electrodes=32, embed_dim=16, depth=2, heads=2, head_dim=8,
                              mlp_hidden_dim=16, num_classes=2)
    model = RBTransformer(cfg).eval()
    emb = T.token_embeddings(model, fs.X[0])
    assert emb.shape == (32, 16)
    sim = T.identity_similarity(model)
    np.testing.assert_allclose(np.diag(sim), 1, atol=1e-6)
    with pytest.raises(ValueError, match="no subject"):
        T.demo_recording("s99")
    with pytest.raises(ValueError, match="has no window"):
        T.window_steps(rec, 2, 10_000, fs.bands)
