"""Choosing windows in the dashboard (app/selection.py): the predictions table's filters, each
window's group and seeded samples of groups, on a real fit of the demo features."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

APP = Path(__file__).resolve().parent.parent / "app"
if str(APP) not in sys.path:  # the app's modules, as Streamlit imports them
    sys.path.insert(0, str(APP))
from selection import filter_frame, group_labels, sample_rows  # noqa: E402

from rbt.checkpoint import Checkpoint  # noqa: E402
from rbt.explain import compare_groups  # noqa: E402
from rbt.infer import prediction_table  # noqa: E402
from rbt.model import RBTransformer, RBTransformerConfig  # noqa: E402
from rbt.model_card import EMPTY_CARD  # noqa: E402
from rbt.model_fit import fit_data  # noqa: E402


def _fit(fs):
    cfg = RBTransformerConfig(num_electrodes=32, embed_dim=16, depth=2, heads=2, head_dim=8,
                              mlp_hidden_dim=16, num_classes=2)
    return fit_data(Checkpoint(RBTransformer(cfg).eval(), EMPTY_CARD, Path("test")), fs)


def test_selection_helpers(demo_valence):
    fs, _ = demo_valence
    f = _fit(fs)
    probs = np.tile([0.3, 0.7], (len(fs), 1)).astype(np.float32)
    frame = prediction_table(f, probs, probs.argmax(axis=1))
    assert frame["correct"].sum() == (fs.y == 1).sum()
    wrong = filter_frame(frame, ["s01"], ["low"], "wrong")
    assert set(wrong["subject"]) == {"s01"} and set(wrong["true"]) == {"low"}
    assert not wrong["correct"].any()
    labels = group_labels(f, probs.argmax(axis=1), "class")
    a, b, d = compare_groups(fs.X, labels, "high", "low")
    np.testing.assert_allclose(d, fs.X[fs.y == 1].mean(0) - fs.X[fs.y == 0].mean(0), rtol=1e-5)
    rows = sample_rows(labels, ["high", "low"], 10)
    assert len(rows) == 20 and rows == sample_rows(labels, ["high", "low"], 10)
    assert set(group_labels(f, None, "subject")) == {"s01", "s02", "s03", "s04", "s05"}
    with pytest.raises(ValueError, match="group by"):
        group_labels(f, None, "trial")
    unlabelled = frame.drop(columns=["correct"])
    with pytest.raises(ValueError, match="no labels"):
        filter_frame(unlabelled, outcome="wrong")
