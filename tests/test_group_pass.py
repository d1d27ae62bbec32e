"""One pass over a dataset for its predictions and the group sums of BDE and attention
(rbt.explain.group_pass, GroupSums): the same means as a pass per block, head and grouping."""

from pathlib import Path

import numpy as np
import pytest

from rbt import infer
from rbt.checkpoint import load_checkpoint
from rbt.explain import (
    GroupSums,
    compare_groups,
    group_attention_mean,
    group_pass,
    select_attention,
)
from rbt.explain.groups import feature_sums

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"


@pytest.fixture(scope="module")
def windows(demo_valence):
    """200 demo windows of several trials and subjects, not in group order, and the model."""
    fs, _ = demo_valence
    rows = np.random.default_rng(0).permutation(len(fs))[:200]
    model = load_checkpoint(DEMO).model.eval()
    subject = fs.table["subject"].astype(str).to_numpy()[rows]
    true = np.asarray(fs.class_names, dtype=object)[fs.y[rows]]
    return model, fs.X[rows], {"true": true, "subject": subject}, fs.class_names


def test_one_pass_gives_every_block_head_and_grouping_as_a_pass_each(windows):
    model, X, groups, names = windows
    done, out = [], np.full((len(X), 2), np.nan, np.float32)

    def progress(d, t):  # the probabilities so far are in out, the rest not yet
        done.append((d, t))
        assert np.isfinite(out[:d]).all() and np.isnan(out[d:]).all()
    gp = group_pass(model, X, groups, class_names=names, device="cpu", batch_size=64,
                    on_progress=progress, out=out)
    assert done == [(64, 200), (128, 200), (192, 200), (200, 200)]
    assert gp.probs is out
    p = infer.predict_array(model, X, device="cpu")
    np.testing.assert_allclose(gp.probs, p.probs, atol=1e-6)
    assert (gp.pred == p.pred).all()
    groups["predicted"] = np.asarray(names, dtype=object)[p.pred]
    depth, heads = model.config.depth, model.config.heads
    choices = [("rollout", "mean")] + [(b, h) for b in range(depth)
                                       for h in ["mean", *range(heads)]]
    for by, labels in groups.items():
        assert gp.sums.counts(by) == {g: int((labels == g).sum()) for g in dict.fromkeys(labels)}
        for block, head in choices:  # the per-block recomputation: one pass each
            each = infer.group_mean_attention(model, X, labels, block, head, device="cpu")
            for g, mean in each.items():
                np.testing.assert_allclose(group_attention_mean(gp.sums, by, g, block, head),
                                           mean, atol=1e-6)
        a, b = list(dict.fromkeys(labels))[:2]
        mean_a, mean_b, _ = compare_groups(X, labels, a, b)
        np.testing.assert_allclose(gp.sums.mean(by, a, "bde"), mean_a, rtol=1e-5)
        np.testing.assert_allclose(gp.sums.mean(by, b, "bde"), mean_b, rtol=1e-5)
    # the BDE sums without a model run are the pass's
    quick = feature_sums(X, {k: v for k, v in groups.items() if k != "predicted"})
    for g in set(groups["subject"]):
        np.testing.assert_allclose(quick.mean("subject", g, "bde"),
                                   gp.sums.mean("subject", g, "bde"), atol=1e-6)
    # the rollout's sum is its own: the rollout of the mean attention is another map
    g = groups["true"][0]
    assert not np.allclose(group_attention_mean(gp.sums, "true", g),
                           select_attention(gp.sums.mean("true", g, "blocks")), atol=1e-4)


def test_a_stopped_pass_returns_none_and_bad_input_is_named(windows):
    model, X, groups, names = windows
    calls = []
    assert group_pass(model, X, groups, device="cpu", batch_size=50,
                      stop=lambda: calls.append(1) or len(calls) > 2) is None
    assert len(calls) == 3
    with pytest.raises(ValueError, match="grouping 'true' has 3 windows and X 200"):
        group_pass(model, X, {"true": groups["true"][:3]}, device="cpu")
    with pytest.raises(ValueError, match=r"out must have shape \(200, 2\); got \(3, 2\)"):
        group_pass(model, X, groups, device="cpu", out=np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="block must be in"):
        gp = group_pass(model, X[:10], {"true": groups["true"][:10]}, device="cpu",
                        attention=True)
        group_attention_mean(gp.sums, "true", groups["true"][0], block=9)


def test_group_sums_add_up_out_of_order_keys():
    s = GroupSums(("c", "s"))
    s.add([("a", 1), ("b", 1), ("a", 2), ("a", 1)], v=np.arange(4.0)[:, None] * [1, 10])
    s.add([("b", 2)], v=np.array([[5.0, 50.0]]))
    assert s.counts("c") == {"a": 3, "b": 2} and s.counts("s") == {1: 3, 2: 2}
    np.testing.assert_allclose(s.total("c", "a", "v"), [5, 50])  # 0 + 2 + 3
    np.testing.assert_allclose(s.mean("s", 2, "v"), [3.5, 35])  # (2 + 5) / 2
    assert s.nbytes == 4 * 2 * 8
    many = GroupSums(("w",))  # more windows than a chunk, each its own group or a few
    v = np.random.default_rng(0).standard_normal((3000, 3)).astype(np.float32)
    many.add([(i % 7,) for i in range(3000)], v=v)
    for g in range(7):
        np.testing.assert_allclose(many.total("w", g, "v"), v[g::7].astype(np.float64).sum(0),
                                   rtol=1e-5)
    with pytest.raises(ValueError, match="group by one of c, s"):
        s.counts("x")
    with pytest.raises(ValueError, match="no windows in group 'z'"):
        s.total("c", "z", "v")


def test_a_non_finite_window_stays_in_its_own_group():
    # the indicator product would give every group 0 * nan: only the window's group is nan
    s = GroupSums(("c",))
    v = np.ones((6, 3), np.float16)
    v[0, 0], v[4, 2] = np.nan, np.inf
    s.add([("a",), ("a",), ("b",), ("b",), ("c",), ("c",)], v=v)
    np.testing.assert_array_equal(s.total("c", "a", "v"), [np.nan, 2, 2])
    np.testing.assert_array_equal(s.total("c", "b", "v"), [2, 2, 2])
    np.testing.assert_array_equal(s.total("c", "c", "v"), [2, 2, np.inf])
