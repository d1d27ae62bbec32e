"""Attention maps: head mean, rollout, selections, per-electrode summaries, top pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rbt.explain import (
    attention_received,
    attention_rollout,
    attention_sent,
    electrode_column,
    electrode_row,
    head_mean,
    select_attention,
    top_pairs,
)
from rbt.model import RBTransformer


def _stochastic(rng, *shape):
    a = rng.random(shape) + 0.05
    return a / a.sum(axis=-1, keepdims=True)


@pytest.fixture
def att():
    """(windows 3, depth 2, heads 2, E 4, E 4), rows summing to 1."""
    return _stochastic(np.random.default_rng(0), 3, 2, 2, 4, 4)


@pytest.fixture(scope="module")
def model_attention():
    torch.manual_seed(0)
    model = RBTransformer(num_electrodes=5, embed_dim=16, depth=3, heads=2, head_dim=8,
                          mlp_hidden_dim=16).eval()
    with torch.no_grad():
        _, att = model(torch.randn(4, 5, 4), return_attention=True)
    return att


def test_head_mean_averages_heads(att):
    out = head_mean(att)
    assert out.shape == (3, 2, 4, 4)
    np.testing.assert_allclose(out[1, 0], (att[1, 0, 0] + att[1, 0, 1]) / 2)


def test_rollout_matches_hand_computation_for_depth_2(att):
    a1 = att[0, 0].mean(axis=0)
    a2 = att[0, 1].mean(axis=0)
    eye = np.eye(4)
    r1 = (a1 + eye) / (a1 + eye).sum(axis=1, keepdims=True)  # = (a1 + I) / 2
    r2 = (a2 + eye) / (a2 + eye).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(attention_rollout(att)[0], r2 @ r1, rtol=1e-12)
    np.testing.assert_allclose(r1, (a1 + eye) / 2)
    # without the residual: the plain product, later block on the left
    np.testing.assert_allclose(attention_rollout(att, residual=False)[0], a2 @ a1, rtol=1e-12)
    assert not np.allclose(r2 @ r1, r1 @ r2)  # the order matters, and is checked


def test_rollout_of_the_model_is_row_stochastic(model_attention):
    assert model_attention.shape == (4, 3, 2, 5, 5)
    r = attention_rollout(model_attention)  # torch in, numpy out
    assert isinstance(r, np.ndarray) and r.shape == (4, 5, 5)
    np.testing.assert_allclose(r.sum(axis=-1), 1.0, atol=1e-5)
    assert (r >= 0).all()
    # received attention of a row-stochastic map sums to 1 over electrodes
    np.testing.assert_allclose(attention_received(r).sum(axis=-1), 1.0, atol=1e-5)


def test_rollout_works_without_leading_dimensions(att):
    np.testing.assert_allclose(attention_rollout(att[1]), attention_rollout(att)[1])


def test_select_attention(att):
    np.testing.assert_allclose(select_attention(att, block=1, head=0), att[:, 1, 0])
    np.testing.assert_allclose(select_attention(att, block=-1, head="mean"),
                               att[:, 1].mean(axis=1))
    np.testing.assert_allclose(select_attention(att), attention_rollout(att))
    with pytest.raises(ValueError, match="block"):
        select_attention(att, block=2)
    with pytest.raises(ValueError, match="head"):
        select_attention(att, block=0, head=5)
    with pytest.raises(ValueError, match="rollout"):
        select_attention(att, block="rollout", head=1)
    with pytest.raises(ValueError, match="block"):
        select_attention(att, block="last")
    with pytest.raises(ValueError, match="depth, heads"):
        select_attention(att[0, 0, 0])


def test_received_sent_row_and_column():
    a = np.array([[0.5, 0.3, 0.2],
                  [0.1, 0.8, 0.1],
                  [0.6, 0.0, 0.4]])
    np.testing.assert_allclose(attention_received(a), [0.4, 1.1 / 3, 0.7 / 3])
    np.testing.assert_allclose(attention_sent(a), [0.5, 0.2, 0.6])
    np.testing.assert_allclose(electrode_row(a, 2), [0.6, 0.0, 0.4])
    np.testing.assert_allclose(electrode_column(a, 0), [0.5, 0.1, 0.6])
    stacked = np.stack([a, a.T])
    np.testing.assert_allclose(attention_received(stacked)[1], a.T.mean(axis=0))
    with pytest.raises(ValueError, match="electrodes, electrodes"):
        attention_received(np.ones((3, 4)))


def test_top_pairs_order_threshold_and_self():
    a = np.array([[0.9, 0.05, 0.05],
                  [0.3, 0.2, 0.5],
                  [0.4, 0.4, 0.2]])
    assert top_pairs(a, k=3) == [(1, 2, 0.5), (2, 0, 0.4), (2, 1, 0.4)]  # tie: by (i, j)
    assert top_pairs(a, k=1, exclude_self=False) == [(0, 0, 0.9)]
    assert top_pairs(a, k=2, names=["Fz", "Cz", "Pz"]) == [("Cz", "Pz", 0.5), ("Pz", "Fz", 0.4)]
    with pytest.raises(ValueError, match="names has 2 entries for 3 electrodes"):
        top_pairs(a, names=["Fz", "Cz"])
    assert [p[:2] for p in top_pairs(a, k=10, threshold=0.3)] == [(1, 2), (2, 0), (2, 1), (1, 0)]
    assert len(top_pairs(a, k=10)) == 6
    sym = top_pairs(a, k=2, symmetric=True)
    assert [p[:2] for p in sym] == [(1, 2), (0, 2)]
    assert sym[0][2] == pytest.approx(0.45)
    with pytest.raises(ValueError, match="single"):
        top_pairs(np.stack([a, a]))


def test_group_mean_attention_streams_the_means_of_a_direct_computation():
    from rbt.infer import group_mean_attention

    torch.manual_seed(3)
    model = RBTransformer(num_electrodes=5, embed_dim=16, depth=2, heads=2, head_dim=8,
                          mlp_hidden_dim=16).eval()
    X = np.random.default_rng(4).normal(size=(23, 5, 4)).astype(np.float32)
    labels = np.array(["b", "a", "c"] * 7 + ["a", "a"])
    with torch.no_grad():
        _, att = model(torch.from_numpy(X), return_attention=True)
    att = att.numpy()
    done = []
    for block, head in [(1, "mean"), (0, 1), ("rollout", "mean")]:
        means = group_mean_attention(model, X, labels, block, head, device="cpu", batch_size=4,
                                     on_progress=done.append)
        assert list(means) == ["b", "a", "c"]  # the order groups first appear in
        direct = select_attention(att, block=block, head=head)
        for g in ("a", "b", "c"):
            assert means[g].dtype == np.float32 and means[g].shape == (5, 5)
            np.testing.assert_allclose(means[g], direct[labels == g].mean(axis=0), atol=1e-6)
    assert done[:6] == [4 / 23, 8 / 23, 12 / 23, 16 / 23, 20 / 23, 1.0]
    np.testing.assert_allclose(means["a"].sum(axis=1), 1, atol=1e-5)  # rollout rows
    with pytest.raises(ValueError, match="labels 3"):
        group_mean_attention(model, X, labels[:3], 0, "mean", device="cpu")


def test_attention_sums_serve_every_block_head_and_coarser_grouping_from_one_pass():
    import functools
    import operator

    from rbt.infer import attention_sums

    torch.manual_seed(5)
    model = RBTransformer(num_electrodes=6, embed_dim=16, depth=3, heads=2, head_dim=8,
                          mlp_hidden_dim=16).eval()
    X = np.random.default_rng(6).normal(size=(30, 6, 4)).astype(np.float32)
    subject = np.repeat(["s1", "s2", "s3"], 10)
    cls = np.array(["low", "high"] * 15)
    fine = attention_sums(model, X, [f"{s}|{c}" for s, c in zip(subject, cls)], device="cpu",
                          batch_size=7)
    with torch.no_grad():
        _, att = model(torch.from_numpy(X), return_attention=True)
    att = att.numpy()
    # a class's sum is the sum of its subjects' sums: no second pass for another grouping
    high = functools.reduce(operator.add, [t for k, t in fine.items() if k.endswith("|high")])
    assert high.count == 15
    for block, head in [(0, "mean"), (2, 1), (-1, 0), ("rollout", "mean")]:
        direct = select_attention(att, block=block, head=head)
        np.testing.assert_allclose(high.mean(block, head), direct[cls == "high"].mean(axis=0),
                                   atol=1e-6)
        np.testing.assert_allclose(fine["s2|low"].mean(block, head),
                                   direct[(subject == "s2") & (cls == "low")].mean(axis=0),
                                   atol=1e-6)
    with pytest.raises(ValueError, match="rollout averages the heads"):
        high.mean("rollout", 1)
    with pytest.raises(ValueError, match=r"block must be in \[0, 3\)"):
        high.mean(3, "mean")
