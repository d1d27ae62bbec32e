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


def test_identity_layout_tells_a_map_of_the_head_from_random_name_tags():
    from rbt.data.deap import EEG_CHANNELS
    from rbt.montage import positions_2d

    torch = pytest.importorskip("torch")
    cfg = RBTransformerConfig(num_electrodes=32, embed_dim=64, depth=1, heads=2, head_dim=8,
                              mlp_hidden_dim=16, num_classes=2)
    torch.manual_seed(0)
    model = RBTransformer(cfg).eval()  # identities as initialised: random vectors
    names = list(EEG_CHANNELS)
    layout = T.identity_layout(model, names)
    assert len(layout.pairs) == len(layout.distance) == len(layout.similarity) == 32 * 31 // 2
    assert layout.pairs[0] == (names[0], names[1])
    assert layout.random_spread == pytest.approx(1 / 8)
    assert abs(layout.rank_correlation) < 0.2
    assert 0.7 * layout.random_spread < layout.spread < 1.3 * layout.random_spread
    # identities that encode where each electrode sits: neighbours are alike
    pos = positions_2d(names)
    centres = np.random.default_rng(1).uniform(-0.1, 0.1, size=(64, 2))
    bumps = np.exp(-((pos[:, None, :] - centres[None]) ** 2).sum(-1) / (2 * 0.04 ** 2))
    with torch.no_grad():
        model.electrode_id_embedding.embedding[0] = torch.as_tensor(bumps, dtype=torch.float32)
    mapped = T.identity_layout(model, names)
    assert mapped.rank_correlation < -0.5
    assert mapped.spread > 1.5 * mapped.random_spread
