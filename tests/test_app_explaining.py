"""The dashboard's explanation path (app/explaining.py) on a real fit of the demo features
with the shipped checkpoint: what attribute() is given for a selection of windows, and the
group means of attention the Across trials page draws."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

APP = Path(__file__).resolve().parent.parent / "app"
if str(APP) not in sys.path:  # the app's modules, as Streamlit imports them
    sys.path.insert(0, str(APP))
from explaining import attribution_inputs  # noqa: E402
from locate import demo_checkpoint  # noqa: E402
from selection import group_labels, sample_rows  # noqa: E402

from rbt.checkpoint import load_checkpoint  # noqa: E402
from rbt.explain import attribute, make_baseline, select_attention  # noqa: E402
from rbt.infer import group_mean_attention, predict_array  # noqa: E402
from rbt.model import RBTransformer, RBTransformerConfig  # noqa: E402
from rbt.model_fit import fit_data  # noqa: E402


@pytest.fixture(scope="module")
def fit(demo_valence):
    fs, _ = demo_valence
    return fit_data(load_checkpoint(demo_checkpoint()), fs)


def _windows(X) -> set[bytes]:
    return {np.ascontiguousarray(w).tobytes() for w in X}


def _selections(f):
    trial = [int(r) for r in f.fs.trial_rows("s02", 1, 3)]
    return {"one window (One trial page)": (trial[4],), "one trial": tuple(trial),
            "groups (Across trials page)": sample_rows(group_labels(f, None, "class"),
                                                       ["high", "low"], 60)}


def test_the_sample_baseline_never_draws_an_explained_window(fit):
    f = fit
    for what, rows in _selections(f).items():
        explained = f.X[list(rows)]
        assert _windows(explained) <= _windows(f.X)  # all of X, as before, would offer them
        kw = attribution_inputs(f, rows, "sample", "predicted")
        pool = kw["reference"]
        assert len(pool) == len(f.X) - len(rows), what
        assert not _windows(pool) & _windows(explained), what
        for method in ("integrated_gradients", "gradient_shap"):
            for seed in range(5):
                drawn = make_baseline(explained, "sample", method=method, reference=pool,
                                      seed=seed)
                assert len(drawn) and not _windows(drawn) & _windows(explained), (what, method)
    # and attribute() runs on exactly these arguments, as the page calls it
    rows = _selections(f)["one window (One trial page)"]
    A = attribute(f.model, f.X[list(rows)], method="deeplift", device="cpu",
                  **attribution_inputs(f, rows, "sample", "true"))
    assert A.shape == (1, 32, 4) and np.isfinite(A).all()


def test_the_other_baselines_and_the_explained_class(fit):
    f = fit
    rows = (3, 700, 701)
    kw = attribution_inputs(f, rows, "subject_mean", "true")
    np.testing.assert_array_equal(kw["target"], f.y[list(rows)])
    assert list(kw["subject_ids"]) == list(f.table["subject"].iloc[list(rows)])
    assert len(kw["reference"]) == len(f.X) == len(kw["reference_subject_ids"])
    kw = attribution_inputs(f, rows, "zeros", "predicted")
    assert kw == {"target": None, "baseline": "zeros"}


def test_group_mean_attention_streams_the_same_means(fit, demo_valence):
    fs, _ = demo_valence
    cfg = RBTransformerConfig(num_electrodes=32, embed_dim=16, depth=2, heads=2, head_dim=8,
                              mlp_hidden_dim=16, num_classes=2)
    model = RBTransformer(cfg).eval()
    X = fs.X[:70]
    labels = np.array(["a", "b"] * 35)
    means = group_mean_attention(model, X, labels, 1, "mean", device="cpu", batch_size=16)
    full = select_attention(predict_array(model, X, device="cpu", attention=True).attention,
                            block=1, head="mean")
    for g in ("a", "b"):
        np.testing.assert_allclose(means[g], full[labels == g].mean(axis=0), atol=1e-5)
    rollout = group_mean_attention(model, X, labels, "rollout", "mean", device="cpu")
    np.testing.assert_allclose(rollout["a"].sum(axis=1), 1, atol=1e-4)
    p = predict_array(model, X[:5], device="cpu", batch_size=5)
    np.testing.assert_allclose(p.probs.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(p.pred, p.probs.argmax(axis=1))
    # the page's grouping: the fit's true classes
    by_class = group_mean_attention(fit.model, fit.X[:64], group_labels(fit, None, "class")[:64],
                                    "rollout", "mean", device="cpu")
    assert set(by_class) == set(group_labels(fit, None, "class")[:64])
