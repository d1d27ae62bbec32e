"""Group maps of an `rbt explain` file, read back without recomputing (rbt.explain.groups)."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rbt.checkpoint import load_checkpoint
from rbt.cli import main
from rbt.explain import GROUP_BY, explanation_differences, group_maps, load_explanation
from rbt.model_fit import fit_data

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"


@pytest.fixture(scope="module")
def explained(demo_valence, tmp_path_factory):
    """Saliency and attention of two demo subjects, written by `rbt explain`, read back."""
    fs, folder = demo_valence
    out = tmp_path_factory.mktemp("explain") / "e.npz"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RBT_CACHE_DIR", str(folder))
        assert main(["explain", "--model", str(DEMO), "--source", "demo", "--method",
                     "saliency", "--attention", "--subjects", "s01", "s02", "--device", "cpu",
                     "--out", str(out)]) == 0
    return load_explanation(out), fit_data(load_checkpoint(DEMO), dataclasses.replace(fs))


def test_group_means_are_the_means_of_the_stored_maps(explained):
    e, fit = explained
    t = e.table
    assert set(GROUP_BY) <= set(t.columns) and set(t["subject"]) == {"s01", "s02"}
    for by in GROUP_BY:
        g = group_maps(e, by)
        assert g.by == by and g.method == "saliency" and g.ch_names == fit.ch_names
        assert g.n_windows == len(t) and list(g.means) == sorted(g.means)
        for key, mean in g.means.items():
            rows = (t[by].astype(str) == key).to_numpy()
            assert g.counts[key] == rows.sum() > 0
            np.testing.assert_allclose(mean, e.attributions[rows].mean(axis=0), rtol=1e-5)
            assert mean.shape == (len(fit.ch_names), len(fit.band_names))
    assert set(group_maps(e, "true").means) == set(fit.class_names)
    assert set(group_maps(e, "correct").means) <= {"True", "False"}
    r = group_maps(e, "predicted", values="rollout", where={"subject": "s02"})
    rows = (t["subject"] == "s02").to_numpy()
    assert r.n_windows == rows.sum()
    for key, mean in r.means.items():
        pick = rows & (t["predicted"] == key).to_numpy()
        np.testing.assert_allclose(mean, e.rollout[pick].mean(axis=0), rtol=1e-5)
        np.testing.assert_allclose(mean.sum(axis=1), 1, atol=1e-4)  # rollout rows sum to 1


def test_what_cannot_be_grouped_says_what_can(explained):
    e, fit = explained
    with pytest.raises(ValueError, match="by must be one of true, predicted, subject, correct"):
        group_maps(e, "trial_type")
    with pytest.raises(ValueError, match="values must be one of attributions, rollout"):
        group_maps(e, values="attention")
    unlabelled = dataclasses.replace(e, table=e.table.drop(columns=["true", "correct"]),
                                     y=None, rollout=None)
    with pytest.raises(ValueError, match="no true labels to group by; it can be grouped by "
                                         "predicted, subject"):
        group_maps(unlabelled, "true")
    with pytest.raises(ValueError, match="made without attention"):
        group_maps(unlabelled, "subject", values="rollout")


def test_differences_from_the_model_at_hand(explained):
    e, fit = explained
    assert explanation_differences(e, fit) == []
    flipped = dataclasses.replace(e, ch_names=e.ch_names[::-1])
    assert explanation_differences(flipped, fit) == ["its electrodes are in another order"]
    other = dataclasses.replace(e, ch_names=["Cz", "Pz"], bands=["alpha"],
                                class_names=["happy", "sad"])
    found = explanation_differences(other, fit)
    assert len(found) == 3 and found[0].startswith("its electrodes (2: Cz, Pz) are not")
    assert "its classes (happy, sad) are not the model's (low, high)" in found
