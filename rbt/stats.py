"""Whether two groups' band maps differ beyond chance: MNE's cluster permutation test over
electrodes, one band at a time, on one value per trial.

Windows of one trial are not independent observations (they overlap and share the trial's
state), so testing windows would call almost any difference significant; each trial's mean is
one observation instead. Comparing classes across subjects mixes emotion with identity: a
subject's band power differs from another's more than one emotion's from another's, and the
subjects are not equally represented in each class. With ``within_subject`` each subject's
mean over its trials of both groups is removed first, and only subjects with trials in both
groups take part, so what is left is the difference inside each person.

The test (:func:`mne.stats.permutation_cluster_test`, an F test per electrode, clusters of
neighbouring electrodes from :func:`mne.channels.find_ch_adjacency`) controls the chance of
any false cluster at ``alpha`` over all electrodes of a band.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .montage import make_info

TRIAL_KEYS = ("subject", "session", "trial")


@dataclass(frozen=True)
class GroupDifference:
    """The test of group A against group B: ``mask`` (electrodes, bands) marks electrodes in
    a cluster with p < ``alpha``; ``cluster_p`` each band's clusters' p-values (smallest
    first); how many trials (and subjects, within subject) took part; ``reason`` says why
    nothing was tested (too few trials), else None."""

    mask: np.ndarray
    cluster_p: dict[str, list[float]]
    n_a: int
    n_b: int
    n_subjects: int
    within_subject: bool
    alpha: float
    n_permutations: int
    reason: str | None = None

    def significant(self, ch_names: Sequence[str], band_names: Sequence[str]
                    ) -> dict[str, list[str]]:
        """Band -> the electrodes in its significant clusters."""
        return {b: [c for e, c in enumerate(ch_names) if self.mask[e, j]]
                for j, b in enumerate(band_names) if self.mask[:, j].any()}


def trial_means(X: np.ndarray, table: pd.DataFrame, labels: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each trial's mean window ``(trials, electrodes, bands)``, its label and its subject.
    A trial whose windows carry more than one label (labels by prediction) counts once per
    label, with the mean of those windows."""
    keys = [k for k in TRIAL_KEYS if k in table]
    frame = table[keys].astype(str).assign(_label=np.asarray(labels, dtype=str))
    groups = frame.groupby(keys + ["_label"], sort=True).indices
    means = np.stack([X[rows].mean(axis=0) for rows in groups.values()]) if groups else \
        np.zeros((0, *X.shape[1:]), X.dtype)
    names = list(groups)
    return (means.astype(np.float64), np.array([n[-1] for n in names], dtype=object),
            np.array([n[0] for n in names], dtype=object))


def group_difference(X: np.ndarray, table: pd.DataFrame, labels: np.ndarray, a: str, b: str,
                     ch_names: Sequence[str], band_names: Sequence[str], *,
                     within_subject: bool = True, alpha: float = 0.05,
                     n_permutations: int = 1000, seed: int = 0) -> GroupDifference:
    """Test whether the windows labelled ``a`` and those labelled ``b`` (``labels``, one per
    row of ``X`` and ``table``) differ, electrode by electrode and band by band, on trial
    means (see the module's text)."""
    import mne

    means, trial_label, subject = trial_means(X, table, labels)
    keep = np.isin(trial_label, [a, b])
    means, trial_label, subject = means[keep], trial_label[keep], subject[keep]
    if within_subject:
        both = [s for s in np.unique(subject)
                if {a, b} <= set(trial_label[subject == s])]
        keep = np.isin(subject, both)
        means, trial_label, subject = means[keep], trial_label[keep], subject[keep]
        for s in both:
            rows = subject == s
            means[rows] -= means[rows].mean(axis=0)
    n_a, n_b = int((trial_label == a).sum()), int((trial_label == b).sum())
    n_subjects = len(np.unique(subject))
    shape = (len(ch_names), len(band_names))
    empty = dict(mask=np.zeros(shape, bool), cluster_p={}, n_a=n_a, n_b=n_b,
                 n_subjects=n_subjects, within_subject=within_subject, alpha=alpha,
                 n_permutations=n_permutations)
    where = " in subjects that have both" if within_subject else ""
    if min(n_a, n_b) < 2:
        return GroupDifference(**empty, reason=f"{n_a} trials of {a} and {n_b} of {b}{where}: "
                                               "a test needs at least 2 of each")
    # the trials can be split into the two groups in only so many ways (half as many
    # distinct ones when the groups are as large): the smallest p-value there can be
    splits = math.comb(n_a + n_b, n_a) // (2 if n_a == n_b else 1)
    if splits * alpha <= 1:
        return GroupDifference(**empty, reason=(
            f"{n_a} trials of {a} and {n_b} of {b}{where} can be split into two such groups "
            f"in only {splits} distinct ways, so no p-value can fall below {alpha:g}: the "
            "test needs more trials"))
    empty["n_permutations"] = min(n_permutations, math.comb(n_a + n_b, n_a))
    # neighbours from the template positions' Delaunay triangulation (MNE says so, quietened)
    with warnings.catch_warnings(), mne.utils.use_log_level("error"):
        warnings.simplefilter("ignore")
        adjacency, _ = mne.channels.find_ch_adjacency(make_info(list(ch_names), 128.0), "eeg")
    mask, cluster_p = np.zeros(shape, bool), {}
    for j, band in enumerate(band_names):
        values = means[..., j]
        _, clusters, p_values, _ = mne.stats.permutation_cluster_test(
            [values[trial_label == a], values[trial_label == b]], n_permutations=n_permutations,
            tail=1, adjacency=adjacency, rng=seed, out_type="mask", verbose="error")
        for cluster, p in zip(clusters, p_values):
            if p < alpha:
                mask[:, j] |= cluster
        cluster_p[band] = sorted(float(p) for p in p_values)
    return GroupDifference(**{**empty, "mask": mask, "cluster_p": cluster_p})
