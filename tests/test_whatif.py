"""What if: a window edited (electrodes, bands, regions) and predicted again (rbt.explain.whatif),
and the named regions of the montage it uses."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rbt.checkpoint import Checkpoint, load_checkpoint
from rbt.data import FeatureSet
from rbt.data.demo import PLANTED_EFFECTS
from rbt.explain import WhatIf, edit_cells, select_attention, what_if
from rbt.infer import predict_array
from rbt.model import RBTransformer, RBTransformerConfig
from rbt.model_card import ModelCard, Preprocessing
from rbt.model_fit import fit_data
from rbt.montage import LOBES, REGIONS, SIDES, electrode_region, electrode_regions

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"
NAMES = ("Fp1", "F4", "Cz", "T7", "P3", "O2")
BANDS = {"theta": (4.0, 8.0), "alpha": (8.0, 14.0), "beta": (14.0, 31.0),
         "gamma": (31.0, 49.0)}


@pytest.fixture(scope="module")
def small_fit():
    torch.manual_seed(0)
    config = RBTransformerConfig(num_electrodes=len(NAMES), embed_dim=16, depth=2, heads=2,
                                 head_dim=8, mlp_hidden_dim=16, num_classes=3)
    card = ModelCard(ch_names=NAMES, bands=BANDS, class_names=("a", "b", "c"), dataset="deap",
                     sfreq=128.0, preprocessing=Preprocessing(window=512, stride=117))
    ck = Checkpoint(model=RBTransformer(config).eval(), card=card, path=Path("test"))
    rng = np.random.default_rng(0)
    n = 12
    table = pd.DataFrame({"subject": ["s01"] * 6 + ["s02"] * 6, "session": 1,
                          "trial": 1, "window": list(range(6)) * 2})
    fs = FeatureSet(X=rng.standard_normal((n, len(NAMES), 4)).astype(np.float32), table=table,
                    ch_names=list(NAMES), sfreq=128.0, bands=BANDS, dataset="deap",
                    source="test", params={"window": 512, "stride": 117})
    return fit_data(ck, fs)


@pytest.fixture(scope="module")
def demo_fit(demo_valence):
    fs, _ = demo_valence
    return fit_data(load_checkpoint(DEMO), dataclasses.replace(fs))


def test_removing_nothing_changes_nothing_exactly(small_fit):
    for kw in ({}, {"electrodes": ["Cz"], "scale": 1.0}, {"bands": []}):
        r = what_if(small_fit, 3, device="cpu", **kw)
        assert isinstance(r, WhatIf) and not r.changed
        np.testing.assert_array_equal(r.edited_x, small_fit.X[3])
        np.testing.assert_array_equal(r.edited_probs, r.probs)
        np.testing.assert_array_equal(r.change, np.zeros(3))
        np.testing.assert_array_equal(r.edited_attention, r.attention)
    assert not what_if(small_fit, 3, device="cpu").cells.any()
    # and the probabilities are the window's own prediction
    alone = predict_array(small_fit.model, small_fit.X[3:4], device="cpu", attention=True)
    np.testing.assert_allclose(r.probs, alone.probs[0], atol=1e-6)
    assert r.attention.shape == (2, 2, len(NAMES), len(NAMES))


def test_removing_every_electrode_is_predicting_the_zero_window(small_fit):
    r = what_if(small_fit, 5, electrodes=list(NAMES), device="cpu")
    assert r.cells.all() and r.changed and r.electrodes == NAMES and r.scale == 0.0
    np.testing.assert_array_equal(r.edited_x, np.zeros((len(NAMES), 4), np.float32))
    zero = predict_array(small_fit.model, np.zeros((1, len(NAMES), 4), np.float32),
                         device="cpu", attention=True)
    np.testing.assert_allclose(r.edited_probs, zero.probs[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r.edited_attention, zero.attention[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r.change, r.edited_probs - r.probs)
    before, after = r.maps("rollout")
    np.testing.assert_allclose(after, select_attention(zero.attention[0], "rollout"), atol=1e-5)
    np.testing.assert_allclose(before.sum(1), 1, atol=1e-5)


def test_cells_scale_and_baselines(small_fit):
    x = small_fit.X[2]
    r = what_if(small_fit, 2, electrodes="f4", bands=["alpha", "Gamma"], scale=2.5,
                device="cpu")
    expect = x.copy()
    expect[1, [1, 3]] *= np.float32(2.5)
    np.testing.assert_allclose(r.edited_x, expect, rtol=1e-6)
    assert r.electrodes == ("F4",) and r.bands == ("alpha", "gamma") and r.cells.sum() == 2
    # a band alone: that band of every electrode; the subject's mean window as baseline
    r = what_if(small_fit, 8, bands="beta", baseline="subject_mean", device="cpu")
    mean = small_fit.X[6:].mean(axis=0)  # window 8 is s02's, windows 6..11
    np.testing.assert_allclose(r.edited_x[:, 2], mean[:, 2], rtol=1e-6)
    np.testing.assert_array_equal(r.edited_x[:, [0, 1, 3]], small_fit.X[8][:, [0, 1, 3]])
    # another window, drawn with the seed (never the window itself)
    r1 = what_if(small_fit, 0, regions="temporal", baseline="sample", seed=1, device="cpu")
    r2 = what_if(small_fit, 0, regions="temporal", baseline="sample", seed=1, device="cpu")
    np.testing.assert_array_equal(r1.edited_x, r2.edited_x)
    row = r1.edited_x[NAMES.index("T7")]
    assert any(np.array_equal(row, small_fit.X[w][3]) for w in range(1, 12))
    assert r1.electrodes == ("T7",) and r1.baseline == "sample"
    r = what_if(small_fit, 0, regions="midline", baseline=np.ones((len(NAMES), 4)),
                device="cpu")
    assert r.baseline == "array" and (r.edited_x[2] == 1).all()


def test_regions_combine_and_names_are_checked(small_fit):
    cells = edit_cells(NAMES, BANDS, regions=["frontal", "right"])
    assert cells[NAMES.index("F4")].all() and cells.sum() == 4  # F4 only: Fp1 is left
    cells = edit_cells(NAMES, BANDS, regions=["frontal", "temporal", "left", "midline"])
    assert [NAMES[i] for i in np.flatnonzero(cells.any(axis=1))] == ["Fp1", "T7"]
    cells = edit_cells(NAMES, BANDS, regions=["central", "occipital"])  # either lobe, any side
    assert [NAMES[i] for i in np.flatnonzero(cells.any(axis=1))] == ["Cz", "O2"]
    cells = edit_cells(NAMES, BANDS, electrodes=["O2"], regions="left", bands="theta")
    assert [NAMES[i] for i in np.flatnonzero(cells[:, 0])] == ["Fp1", "T7", "P3", "O2"]
    assert cells.sum() == 4
    with pytest.raises(ValueError, match=r"unknown electrode\(s\) 'Xx'.*Fp1, F4, Cz"):
        what_if(small_fit, 0, electrodes=["Xx"])
    with pytest.raises(ValueError, match=r"unknown band\(s\) 'delta'.*theta, alpha, beta"):
        what_if(small_fit, 0, bands="delta")
    with pytest.raises(ValueError, match=r"unknown region\(s\) 'lobe'.*frontal, central"):
        what_if(small_fit, 0, regions="lobe")
    with pytest.raises(ValueError, match="none of the model's electrodes is in the regions "
                                         "occipital, left"):
        what_if(small_fit, 0, regions=["occipital", "left"])
    for bad in (-1.0, float("nan"), float("inf"), True, "2"):
        with pytest.raises(ValueError, match="scale must be"):
            what_if(small_fit, 0, electrodes="Cz", scale=bad)
    for bad in (-1, 12, 1.0, True):
        with pytest.raises(ValueError, match=r"window must be .* \[0, 12\)"):
            what_if(small_fit, bad)
    with pytest.raises(ValueError, match="baseline must be one of zeros, subject_mean, sample"):
        what_if(small_fit, 0, electrodes="Cz", baseline="mean")


def test_regions_partition_the_demo_electrodes(demo_fit):
    names = demo_fit.ch_names
    by_region = electrode_regions(names)
    assert set(by_region) == set(REGIONS)
    for group in (LOBES, SIDES):
        members = [n for r in group for n in by_region[r]]
        assert sorted(members) == sorted(names)  # each electrode in exactly one
    assert {"Fp1", "AF3", "F3", "F7", "Fz", "F4", "F8", "AF4", "Fp2"} == set(
        by_region["frontal"])
    assert set(by_region["temporal"]) == {"T7", "T8"}
    assert set(by_region["occipital"]) == {"PO3", "PO4", "O1", "Oz", "O2"}
    assert set(by_region["midline"]) == {"Fz", "Cz", "Pz", "Oz"}
    assert electrode_region("FC5") == ("central", "left")
    assert electrode_region("CP2") == ("parietal", "right")
    assert electrode_region("FTT8h") == ("temporal", "right")
    assert electrode_region("t3") == ("temporal", "left")  # the old name of T7
    with pytest.raises(ValueError, match="not a 10-05 electrode name"):
        electrode_region("X1")


# the subject's mean window holds half of the effect (half its windows are of that class)
@pytest.mark.parametrize("baseline, drop", [("zeros", 0.1), ("subject_mean", 0.02)])
def test_removing_the_planted_effect_lowers_its_class(demo_fit, baseline, drop):
    for cls, effect in PLANTED_EFFECTS["valence"].items():
        k = demo_fit.class_names.index(cls)
        rows = np.flatnonzero(demo_fit.y == k)[::12]
        planted = [what_if(demo_fit, int(w), electrodes=effect["channels"],
                           bands=effect["band"], baseline=baseline, device="cpu").change[k]
                   for w in rows]
        assert np.mean(planted) < -drop, (cls, baseline, np.mean(planted))
        # the same band elsewhere (the occipital alpha rhythm) moves it far less
        control = [what_if(demo_fit, int(w), electrodes=["O1", "Oz", "O2"],
                           bands=effect["band"], baseline=baseline, device="cpu").change[k]
                   for w in rows]
        assert abs(np.mean(control)) < abs(np.mean(planted)) / 5


def test_the_demo_checkpoint_nothing_and_everything(demo_fit):
    nothing = what_if(demo_fit, 100, device="cpu")
    np.testing.assert_array_equal(nothing.edited_probs, nothing.probs)
    np.testing.assert_array_equal(nothing.edited_attention, nothing.attention)
    every = what_if(demo_fit, 100, regions=list(LOBES), device="cpu")  # the lobes: all
    assert every.cells.all()
    zero = predict_array(demo_fit.model, np.zeros((1, 32, 4), np.float32), device="cpu",
                         attention=True)
    np.testing.assert_allclose(every.edited_probs, zero.probs[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(every.probs, predict_array(
        demo_fit.model, demo_fit.X[100:101], device="cpu").probs[0], rtol=1e-5, atol=1e-6)
    assert every.attention.shape == (4, 6, 32, 32)
