"""Where a checkpoint meets data: alignment, labels and problems as data (rbt.model_fit)."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rbt.checkpoint import Checkpoint
from rbt.data import FeatureSet
from rbt.data.preprocess import DATASET_STEPS
from rbt.model import RBTransformer, RBTransformerConfig
from rbt.model_card import EMPTY_CARD, ModelCard, Preprocessing
from rbt.model_fit import BLOCKING, CODES, NOTE, WARNING, fit_data, loading_defaults

CFG = RBTransformerConfig(num_electrodes=3, embed_dim=16, depth=2, heads=2, head_dim=8,
                          mlp_hidden_dim=16, num_classes=2)
BANDS = {"theta": (4.0, 8.0), "alpha": (8.0, 14.0), "beta": (14.0, 31.0),
         "gamma": (31.0, 49.0)}
CARD = ModelCard(ch_names=("Fp1", "Cz", "O2"), bands=BANDS, class_names=("low", "high"),
                 dataset="deap", target="valence", task="binary", sfreq=128.0,
                 preprocessing=Preprocessing(window=512, stride=117))


def checkpoint(card=CARD, config=CFG) -> Checkpoint:
    return Checkpoint(model=RBTransformer(config).eval(), card=card, path=Path("test"))


def features(ch_names=("Fp1", "Cz", "O2"), bands=None, n=6, seed=0, **kw):
    rng = np.random.default_rng(seed)
    bands = bands or BANDS
    X = rng.standard_normal((n, len(ch_names), len(bands))).astype(np.float32)
    table = pd.DataFrame({"subject": "s01", "session": 1, "trial": 1, "window": range(n)})
    fs = FeatureSet(X=X, table=table, ch_names=list(ch_names), sfreq=128.0, bands=bands,
                    dataset="deap", source="test", params={"window": 512, "stride": 117})
    return dataclasses.replace(fs, **kw)


def labelled(fs, target="valence", task="binary", names=("low", "high")):
    return dataclasses.replace(fs, target=target, task=task, class_names=list(names),
                               y=np.arange(len(fs)) % len(names))


def test_every_code_has_a_severity_and_a_meaning():
    assert {s for s, _ in CODES.values()} == {BLOCKING, WARNING, NOTE}
    assert all(meaning for _, meaning in CODES.values())


def test_channels_in_another_order_are_reordered_by_name():
    fs = labelled(features(["O2", "fp1", "CZ"]))  # same electrodes, other order and case
    fit = fit_data(checkpoint(), fs)
    np.testing.assert_array_equal(fit.X, fs.X[:, [1, 2, 0]])
    assert fit.runnable and fit.problems == [] and fit.ch_names == ["Fp1", "Cz", "O2"]
    np.testing.assert_array_equal(fit.y, fs.y)
    assert fit.class_names == ["low", "high"]


@pytest.mark.parametrize("names, missing, extra", [
    (["Fp1", "Cz"], ["O2"], []),
    (["Fp1", "Cz", "Pz"], ["O2"], ["Pz"]),
])
def test_other_electrodes_block_with_the_names(names, missing, extra):
    fit = fit_data(checkpoint(), features(names))
    assert not fit.runnable and fit.X is None and fit.codes == ["electrodes", "unlabelled"]
    facts = fit.problem("electrodes").facts
    assert facts["missing"] == missing and facts["extra"] == extra
    assert fit.problem("electrodes").severity == BLOCKING


def test_other_bands_block():
    bands = {"theta": (4.0, 7.0), "alpha": (8.0, 13.0), "beta": (14.0, 30.0),
             "gamma": (31.0, 45.0)}
    fit = fit_data(checkpoint(), features(bands=bands))
    assert not fit.runnable and fit.problem("bands").facts["data"]["theta"] == [4.0, 7.0]


def test_official_checkpoint_checks_the_count_only():
    fit = fit_data(checkpoint(EMPTY_CARD), features(["Fp1", "Cz", "O2", "Pz"]))
    assert fit.problem("electrode_count").facts == {"model": 3, "data": 4, "dataset": "deap"}
    fs = labelled(features(["Fp1", "Cz", "O2"]))
    fit = fit_data(checkpoint(EMPTY_CARD), fs)
    np.testing.assert_array_equal(fit.X, fs.X)
    assert fit.codes == ["no_card"] and fit.problem("no_card").severity == NOTE
    assert fit.class_names == ["low", "high"] and fit.in_training is None


def test_labels_for_another_target_are_kept_with_a_warning():
    fit = fit_data(checkpoint(), labelled(features(), target="arousal"))
    assert fit.codes == ["target"] and fit.y is not None
    assert fit.problem("target").facts == {"model_target": "valence", "model_task": "binary",
                                           "data_target": "arousal", "data_task": "binary"}


def test_other_classes_drop_the_labels():
    fit = fit_data(checkpoint(), labelled(features(), names=("neg", "pos")))
    assert fit.codes == ["class_names"] and fit.y is None
    assert fit.class_names == ["low", "high"]
    fit = fit_data(checkpoint(), labelled(features(), task="multi", names="abc"))
    assert fit.codes == ["class_count"] and fit.y is None
    assert fit.problem("class_count").facts["data"] == ["a", "b", "c"]
    assert fit_data(checkpoint(), features()).codes == ["unlabelled"]


def test_preprocessing_differences_are_listed():
    # another stride gives other windows but the same features per window: no problem
    assert fit_data(checkpoint(), labelled(features(params={"window": 512, "stride": 64}))
                    ).problems == []
    fs = labelled(features(params={"window": 256, "stride": 64}))
    card = dataclasses.replace(CARD, training_trials=[[0, 1.0, 2.0, 3.0, 4.0]])
    fit = fit_data(checkpoint(card), fs)
    assert fit.codes == ["preprocessing"] and fit.runnable
    assert fit.problem("preprocessing").facts["differences"] == [
        {"what": "window", "model": 512, "data": 256}]
    # features made another way cannot be matched to the training trials: unknown, not "no"
    assert np.isnan(fit.in_training).all()


def test_the_same_classes_in_another_order_are_matched_by_name():
    fs = labelled(features(), names=("high", "low"))  # y: 0 = high, 1 = low
    fit = fit_data(checkpoint(), fs)  # the model: 0 = low, 1 = high
    assert fit.problems == [] and fit.class_names == ["low", "high"]
    np.testing.assert_array_equal(fit.y, 1 - fs.y)


def test_seed_reference_filters_both_ways():
    seed = features(dataset="seed", sfreq=200.0, params={})
    ref = dataclasses.replace(CARD, sfreq=200.0, preprocessing=Preprocessing(filter_sfreq=128.0))
    fit = fit_data(checkpoint(ref), seed)
    assert fit.problem("preprocessing").facts["differences"] == [
        {"what": "filter_sfreq", "model": 128.0, "data": 200.0}]
    filtered = dataclasses.replace(seed, params={"filter_sfreq": 128.0})
    assert fit_data(checkpoint(ref), filtered).codes == ["unlabelled", "rest_baseline"]
    seed_card = dataclasses.replace(ref, dataset="seed")
    assert fit_data(checkpoint(seed_card), filtered).codes == ["unlabelled"]
    official = fit_data(checkpoint(EMPTY_CARD), dataclasses.replace(seed,
                                                                    params={"filter_sfreq": 200.0}))
    assert official.codes == ["unlabelled", "no_card", "reference_features"]
    assert fit_data(checkpoint(EMPTY_CARD), filtered).codes == ["unlabelled", "no_card"]


def test_partial_cards_note_unnamed_electrodes_and_check_bands():
    partial = ModelCard(target="valence", task="binary", bands=BANDS)
    fit = fit_data(checkpoint(partial), labelled(features()))
    assert fit.runnable and fit.codes == ["unnamed_electrodes"]
    other = {**BANDS, "gamma": (31.0, 45.0)}
    fit = fit_data(checkpoint(partial), labelled(features(bands=other)))
    assert not fit.runnable and fit.codes[0] == "bands"


def test_loading_follows_the_card():
    card = dataclasses.replace(CARD, preprocessing=Preprocessing(window=256, stride=32))
    assert loading_defaults(card, "deap") == {"window": 256, "stride": 32, "target": "valence",
                                              "task": "binary", "seed_reference_filters": False,
                                              "raw_sfreq": 128.0, "preprocess": None}
    other = loading_defaults(card, "dreamer")  # another dataset: its own target and task
    assert (other["window"], other["target"], other["task"]) == (256, None, None)
    # an official checkpoint expects the reference code's SEED features; no model, the true rate
    assert loading_defaults(EMPTY_CARD, "seed") == {
        "window": 512, "stride": 117, "target": None, "task": None,
        "seed_reference_filters": True, "raw_sfreq": 128.0, "preprocess": None}
    assert loading_defaults(None, "seed")["seed_reference_filters"] is False
    # recordings are resampled to the rate the model was trained at
    assert loading_defaults(dataclasses.replace(CARD, sfreq=200.0), "raw")["raw_sfreq"] == 200.0
    assert loading_defaults(dataclasses.replace(CARD, sfreq=50.0), "raw")["raw_sfreq"] == 128.0
    ref = dataclasses.replace(CARD, dataset="seed",
                              preprocessing=Preprocessing(filter_sfreq=128.0))
    assert loading_defaults(ref, "seed")["seed_reference_filters"] is True
    # recordings get the signal steps of the model's training data (here DEAP's release)
    assert loading_defaults(card, "raw")["preprocess"] is DATASET_STEPS["deap"]
    assert loading_defaults(EMPTY_CARD, "raw")["preprocess"] is None  # not said


def test_predictions_table_from_the_fit():
    from rbt.infer import predict, prediction_table

    fs = labelled(features(["O2", "Fp1", "Cz"]))
    fit = fit_data(checkpoint(), fs)
    result = predict(fit, device="cpu")
    table = prediction_table(fit, result.probs, result.pred)
    assert list(table.columns) == ["subject", "session", "trial", "window", "true", "predicted",
                                   "confidence", "correct", "p_low", "p_high"]
    np.testing.assert_allclose(table["p_high"], result.probs[:, 1])
    assert (table["correct"] == (result.pred == fs.y)).all()
    with pytest.raises(ValueError, match="cannot read these data: the data's electrodes"):
        predict(fit_data(checkpoint(), features(["Fp1", "Cz"])))


def test_features_relative_to_rest_or_not_are_told_apart():
    # DEAP's features are relative to each trial's rest baseline, a recording's are levels
    fit = fit_data(checkpoint(), labelled(features(dataset="raw")))
    assert fit.codes == ["rest_baseline"] and fit.runnable
    assert fit.problem("rest_baseline").severity == WARNING
    assert fit.problem("rest_baseline").facts == {"model": "deap", "data": "raw",
                                                  "model_relative": True}
    assert fit_data(checkpoint(), labelled(features(dataset="dreamer"))).problems == []
    levels = dataclasses.replace(CARD, dataset="seed")
    assert fit_data(checkpoint(levels), labelled(features())).codes == ["rest_baseline"]
    assert fit_data(checkpoint(dataclasses.replace(CARD, dataset=None)),
                    labelled(features(dataset="raw"))).problems == []  # not said: not judged
