"""Group differences tested on trial means (rbt.stats): a planted effect is found where it is
planted, noise is not, and a difference of who is in which group (identity) is not called
an emotion's when the test compares the groups within subjects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rbt.data.deap import EEG_CHANNELS
from rbt.stats import group_difference, trial_means

BANDS = ["theta", "alpha"]
WINDOWS = 6  # per trial


def windows(labels_per_trial, subjects_per_trial, rng, effect=None, offset=None):
    """(X, table, window labels) of trials with WINDOWS strongly correlated windows each:
    a trial's own level plus a little window noise; ``effect(label)`` adds (E, bands) to a
    trial of that label, ``offset(subject)`` to every trial of a subject."""
    X, rows, labels = [], [], []
    for t, (label, subject) in enumerate(zip(labels_per_trial, subjects_per_trial)):
        level = rng.normal(size=(len(EEG_CHANNELS), len(BANDS)))
        if effect is not None:
            level = level + effect(label)
        if offset is not None:
            level = level + offset(subject)
        for w in range(WINDOWS):
            X.append(level + 0.1 * rng.normal(size=level.shape))
            rows.append({"subject": subject, "session": 1, "trial": t + 1, "window": w})
            labels.append(label)
    return np.asarray(X, np.float32), pd.DataFrame(rows), np.asarray(labels, dtype=object)


def test_a_planted_difference_is_found_where_it_is_planted_and_not_in_another_band():
    rng = np.random.default_rng(0)
    planted = ["F3", "AF3", "F7"]
    bump = np.zeros((len(EEG_CHANNELS), len(BANDS)))
    bump[[EEG_CHANNELS.index(c) for c in planted], 0] = 1.5

    labels = ["high", "low"] * 20
    subjects = [f"s{i // 10 + 1}" for i in range(40)]
    X, table, y = windows(labels, subjects, rng, effect=lambda lab: bump if lab == "high" else 0)
    test = group_difference(X, table, y, "high", "low", EEG_CHANNELS, BANDS)
    assert test.reason is None and (test.n_a, test.n_b, test.n_subjects) == (20, 20, 4)
    found = test.significant(EEG_CHANNELS, BANDS)
    assert set(planted) <= set(found["theta"]) and "alpha" not in found
    far = [c for c in ("O1", "O2", "Oz", "P8", "T8") if c in found["theta"]]
    assert not far, found  # the cluster stays around the planted electrodes
    assert test.cluster_p["theta"][0] < 0.01


def test_noise_alone_gives_no_cluster_and_windows_do_not_count_as_trials():
    rng = np.random.default_rng(1)
    labels = ["a", "b"] * 15
    X, table, y = windows(labels, ["s1"] * 30, rng)
    test = group_difference(X, table, y, "a", "b", EEG_CHANNELS, BANDS, within_subject=False)
    assert (test.n_a, test.n_b) == (15, 15)  # trials, not the 90 windows of each
    assert not test.mask.any() and test.reason is None
    means, trial_label, subject = trial_means(X, table, y)
    assert means.shape == (30, len(EEG_CHANNELS), len(BANDS))
    np.testing.assert_allclose(means[0], X[:WINDOWS].mean(axis=0), rtol=1e-6)
    assert list(trial_label[:2]) == ["a", "b"] and set(subject) == {"s1"}


def test_identity_is_not_taken_for_emotion_when_tested_within_subjects():
    """Two subjects whose band power differs everywhere, one with mostly 'high' trials and
    one with mostly 'low' ones, and no emotion effect at all: across subjects the classes
    seem to differ; within subjects they do not."""
    rng = np.random.default_rng(2)
    labels = ["high"] * 16 + ["low"] * 4 + ["high"] * 4 + ["low"] * 16
    subjects = ["s1"] * 20 + ["s2"] * 20
    X, table, y = windows(labels, subjects, rng,
                          offset=lambda s: 2.0 if s == "s1" else -2.0)
    across = group_difference(X, table, y, "high", "low", EEG_CHANNELS, BANDS,
                              within_subject=False)
    within = group_difference(X, table, y, "high", "low", EEG_CHANNELS, BANDS)
    assert across.mask.all()  # every electrode of both bands: the subjects' difference
    assert not within.mask.any() and within.n_subjects == 2


def test_too_few_trials_say_so_instead_of_testing():
    rng = np.random.default_rng(3)
    X, table, y = windows(["high", "low", "low"], ["s1", "s1", "s2"], rng)
    test = group_difference(X, table, y, "high", "low", EEG_CHANNELS, BANDS)
    assert not test.mask.any() and not test.cluster_p
    assert test.reason == ("1 trials of high and 1 of low in subjects that have both: a test "
                           "needs at least 2 of each")


@pytest.mark.parametrize("seed", [0, 1])
def test_the_same_seed_gives_the_same_result(seed):
    rng = np.random.default_rng(4)
    X, table, y = windows(["a", "b"] * 8, ["s1"] * 16, rng,
                          effect=lambda lab: 0.8 if lab == "a" else 0.0)
    one, two = (group_difference(X, table, y, "a", "b", EEG_CHANNELS, BANDS, seed=seed,
                                 within_subject=False) for _ in range(2))
    assert one.cluster_p == two.cluster_p and np.array_equal(one.mask, two.mask)


def test_too_few_trials_for_any_p_value_below_alpha_say_so():
    """2 trials against 2 can be split into two such groups in only 3 distinct ways: no
    p-value can fall below 0.05, so the test says it needs more trials instead of 'none'."""
    rng = np.random.default_rng(5)
    X, table, y = windows(["a", "b", "a", "b"], ["s1"] * 4, rng)
    test = group_difference(X, table, y, "a", "b", EEG_CHANNELS, BANDS, within_subject=False)
    assert not test.mask.any() and not test.cluster_p
    assert test.reason == ("2 trials of a and 2 of b can be split into two such groups in only "
                           "3 distinct ways, so no p-value can fall below 0.05: the test needs "
                           "more trials")
    # 10 against 10: enough, and every permutation is one of the possible ones
    X, table, y = windows(["a", "b"] * 10, ["s1"] * 20, rng)
    test = group_difference(X, table, y, "a", "b", EEG_CHANNELS, BANDS, within_subject=False)
    assert test.reason is None and test.n_permutations == 1000
