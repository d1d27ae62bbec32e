"""Channel names, aliases and 2-D topomap positions against MNE."""

import mne
import numpy as np
import pytest

from rbt.data import deap, dreamer, seed
from rbt.montage import (
    UnknownChannelsError,
    canonical_name,
    head_sphere,
    make_info,
    positions_2d,
    resolve_channels,
    template_montage,
)


@pytest.mark.parametrize("names", [deap.EEG_CHANNELS, dreamer.CHANNELS, seed.CHANNELS])
def test_every_dataset_montage_resolves(names):
    resolved = resolve_channels(names)
    assert len(resolved) == len(names)
    assert set(resolved) <= set(template_montage().ch_names)


def test_case_and_mne_aliases():
    assert resolve_channels(["FP1", "cz", "CB1", "cb2"]) == ["Fp1", "Cz", "POO7", "POO8"]


def test_unknown_names_are_listed_with_how_to_fix():
    with pytest.raises(UnknownChannelsError) as err:
        resolve_channels(["Fp1", "EEG 001", "foo"], source="rec.edf")
    msg = str(err.value)
    assert "EEG 001" in msg and "foo" in msg and "rec.edf" in msg and "channel_map" in msg
    assert err.value.unknown == ["EEG 001", "foo"]
    assert resolve_channels(["EEG 001"], channel_map={"EEG 001": "Oz"}) == ["Oz"]


def test_positions_match_mne_topomap_projection():
    from mne.channels.layout import _find_topomap_coords  # the oracle: MNE's own projection

    names = seed.CHANNELS
    info = make_info(names, 200.0)
    expected = _find_topomap_coords(info, picks=None, sphere=head_sphere())
    np.testing.assert_allclose(positions_2d(names), expected, atol=1e-9)


def test_positions_are_anatomically_sensible():
    pos = dict(zip(deap.EEG_CHANNELS, positions_2d(deap.EEG_CHANNELS)))
    assert pos["Fp1"][1] > pos["Cz"][1] > pos["Oz"][1]  # nose is +y
    assert pos["T7"][0] < pos["Cz"][0] < pos["T8"][0]  # right is +x
    cx, cy, _, r = head_sphere()
    assert np.linalg.norm(pos["Cz"] - [cx, cy]) < 0.2 * r
    on_circle = positions_2d(["Fpz", "Oz", "T7", "T8"]) - [cx, cy]
    np.testing.assert_allclose(np.linalg.norm(on_circle, axis=1), r, rtol=0.15)
    assert isinstance(make_info(["Fp1", "Cz"], 128.0), mne.Info)


def test_old_1020_names_are_the_renamed_electrodes():
    from pathlib import Path

    import pandas as pd

    from rbt.checkpoint import Checkpoint
    from rbt.data import FeatureSet
    from rbt.model import RBTransformer, RBTransformerConfig
    from rbt.model_card import ModelCard
    from rbt.model_fit import fit_data
    from rbt.montage import name_order

    assert [canonical_name(n) for n in ("T3", "t4", "T5", "T6")] == ["T7", "T8", "P7", "P8"]
    assert name_order(["T5", "T3", "Cz"], ["T7", "Cz", "P7"]) == [1, 2, 0]
    # a model trained on the new names reads a file with the old ones, reordered by name
    bands = {"theta": (4.0, 8.0), "alpha": (8.0, 14.0), "beta": (14.0, 31.0),
             "gamma": (31.0, 49.0)}
    X = np.random.default_rng(0).standard_normal((4, 3, 4)).astype(np.float32)
    fs = FeatureSet(X=X, table=pd.DataFrame({"subject": "s01", "session": 1, "trial": 1,
                                             "window": range(4)}),
                    ch_names=["T5", "T3", "Cz"], sfreq=128.0, bands=bands, dataset="deap",
                    source="test", params={"window": 512, "stride": 117})
    model = RBTransformer(RBTransformerConfig(num_electrodes=3, embed_dim=8, depth=1, heads=1,
                                              head_dim=4, mlp_hidden_dim=8))
    card = ModelCard.from_dict({"ch_names": ["T7", "Cz", "P7"],
                                "bands": {k: list(v) for k, v in bands.items()}})
    fit = fit_data(Checkpoint(model, card, Path("test-model")), fs)
    np.testing.assert_array_equal(fit.X, fs.X[:, [1, 2, 0]])


def test_edf_decorations_are_ignored_but_bipolar_pairs_are_not():
    names = ["EEG FP1-REF", "EEG T3-REF", "eeg c3-le", "Fp1-A1", "EEG Cz-AVG"]
    assert [canonical_name(n) for n in names] == ["Fp1", "T7", "C3", "Fp1", "Cz"]
    for odd in ("Fp1-F7", "EEG EKG1-REF", "EEG 1-REF", "ECG", "EEG A1-A2", "M1-A2"):
        assert canonical_name(odd) is None
    with pytest.raises(ValueError, match="same electrode more than once: Fp1"):
        resolve_channels(["Fp1", "EEG FP1-REF"])
