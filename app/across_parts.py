"""Pieces of the Across trials page that can be checked without drawing it: what the table's
caption and the means' note say, the bounded sample of windows for group attributions, one
colour range for two group maps, and the window a clicked table row names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from serving import plain

from rbt.viz.scales import color_range

#: group attributions use at most this many windows per group unless all are asked for
DEFAULT_PER_GROUP = 60


def selection_caption(frame: pd.DataFrame, shown: pd.DataFrame, chosen: pd.DataFrame,
                      outcome: str) -> str:
    """The line under the table's filters. A "wrong" (or "correct") filter makes accuracy 0
    (or 1) by construction, so it then counts the windows and gives the accuracy of the chosen
    subjects and classes instead."""
    head = f"{len(shown)} of {len(frame)} windows"
    if "correct" not in shown or not len(chosen):
        return head + "."
    if outcome in ("wrong", "correct"):
        acc = chosen["correct"].mean()
        text = (f"{len(shown)} {outcome} window{'s' if len(shown) != 1 else ''} of "
                f"{len(chosen)} in the chosen subjects and classes (accuracy there {acc:.1%}"
                + (")" if len(chosen) == len(frame) else f"; {len(frame)} windows in all)"))
    else:
        text = f"{head}; accuracy in this selection {shown['correct'].mean():.1%}"
    seen = int(shown["in_training"].sum()) if "in_training" in shown and len(shown) else 0
    if seen:
        text += (f" ({'all' if seen == len(shown) else seen} from trials the model was trained "
                 "on: a training score, not a held-out one)")
    return text + "."


def predicting_caption(frame: pd.DataFrame, shown: pd.DataFrame, done: int) -> str:
    """The line under the table while its predictions come: how many windows are predicted
    so far (their columns are blank for the others)."""
    return (f"{len(shown):,} of {len(frame):,} windows; {done:,} of {len(frame):,} predicted "
            "so far: the prediction columns fill in as the pass goes on, accuracy once it is "
            "done.")


def filter_note(subjects: Sequence, classes: Sequence, outcome: str) -> str:
    """What the means below use: every window of each group, whatever the table shows."""
    active = [name for name, on in (("subjects", bool(subjects)), ("classes", bool(classes)),
                                    (f"{outcome} windows only", outcome != "all")) if on]
    if not active:
        return ("The means use every window of each group (the table's filters do not apply "
                "to them).")
    return ("The means use every window of each group: the table's filters ("
            + ", ".join(active) + ") do not apply to them.")


def stratified_rows(labels: np.ndarray, strata: np.ndarray, groups: Sequence[str],
                    per_group: int | None, seed: int = 0) -> tuple[int, ...]:
    """Up to ``per_group`` windows of each group (all of them when None), spread evenly over
    the group's strata (its subjects), with a fixed seed; sorted indices.

    A plain random draw can leave a subject out of a small sample; drawing the strata in turn
    keeps every subject in it, as long as the sample has room for one window each."""
    rng = np.random.default_rng(seed)
    picked: list[int] = []
    for g in groups:
        idx = np.flatnonzero(labels == g)
        if per_group is None or len(idx) <= per_group:
            picked.extend(int(i) for i in idx)
            continue
        pools = [rng.permutation(idx[strata[idx] == s]) for s in np.unique(strata[idx])]
        take = []
        for depth in range(max(len(p) for p in pools)):  # one from each stratum, in turn
            take.extend(int(p[depth]) for p in pools if depth < len(p))
            if len(take) >= per_group:
                break
        picked.extend(take[:per_group])
    return tuple(sorted(set(picked)))


def sample_note(labels: np.ndarray, rows: Sequence[int], groups: Sequence[str],
                everything: bool) -> str:
    """How many windows of each group the maps average, and whether that is a sample."""
    chosen = labels[list(rows)]
    counts = ", ".join(f"{int((chosen == g).sum())} of {int((labels == g).sum())} windows of "
                       f"{g}" for g in groups)
    if everything:
        return f"Means over all windows: {counts}."
    return (f"Means over a seeded sample, drawn evenly across subjects: {counts}. Turn on "
            "\"All windows\" for every window (slower).")


def shared_zrange(arrays: Sequence[np.ndarray], signed: bool) -> tuple[float, float]:
    """One colour range for several maps (two groups' means), so equal colours mean equal
    values across them."""
    together = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays])
    return color_range(together, signed=signed)[0]


def window_of(table: pd.DataFrame, row: int, trial_rows) -> dict:
    """The One trial selection that shows window ``row`` (a row index of the fit's table):
    subject, (session, trial) and the window's position in its trial (the window slider's
    value). ``trial_rows(subject, session, trial)`` gives a trial's rows in window order."""
    subject = str(table["subject"].iloc[row])
    session, trial = int(table["session"].iloc[row]), int(table["trial"].iloc[row])
    order = [int(r) for r in trial_rows(subject, session, trial)]
    return {"sel_subject": subject, "sel_trial": (session, trial),
            "sel_window": order.index(int(row))}


def clicked_row(shown: pd.DataFrame, selection) -> int | None:
    """The fit's row index of the table row a dataframe selection names (its positions are
    those of the rows shown, after filtering), or None when nothing is selected."""
    found = (selection.get("rows") if isinstance(selection, Mapping)
             else getattr(selection, "rows", None))
    rows = list(found or [])
    if not rows or not 0 <= int(rows[0]) < len(shown):
        return None
    return int(shown.index[int(rows[0])])


def with_room(fig, top: int = 95):
    """A row of maps with room above its subplot titles for the context line that
    :func:`common.chart` puts under the title (else the two overlap); the maps keep their
    size."""
    have = fig.layout.margin.t or 0
    if have < top:
        fig.layout.margin.t = top
        fig.layout.height = (fig.layout.height or 300) + top - have
    return fig


def difference_caption(test, a: str, b: str, by: str) -> str:
    """What the rings on the difference row mean (a :class:`rbt.stats.GroupDifference`, or
    None where the groups are predictions and nothing is tested)."""
    if test is None:
        return ("No test of the difference: the groups are the model's predicted classes, "
                "which would make it circular.")
    if test.reason:
        return f"No test of the difference: {plain(test.reason)}."
    design = (f"each of {test.n_subjects} subjects' own mean removed, so the groups are "
              "compared inside each person" if test.within_subject else
              "subjects not separated" + (": the groups are subjects" if by == "subject"
                                          else ", so who is in which group counts too"))
    found = sum(len(v) for v in test.cluster_p.values() if v)
    ringed = int(test.mask.sum())
    what = ("Ringed in gold on the difference row: electrodes in clusters where the trial "
            f"means of {plain(a)} and {plain(b)} differ (p < {test.alpha:g})" if ringed else
            f"No cluster where the trial means of {plain(a)} and {plain(b)} differ "
            f"(p < {test.alpha:g} for none of the {found} clusters found)" if found else
            f"No cluster where the trial means of {plain(a)} and {plain(b)} differ")
    return (f"{what}: MNE's cluster permutation test per band, {test.n_permutations:,} "
            f"permutations, on {test.n_a} trials of {plain(a)} and {test.n_b} of {plain(b)} "
            f"(one mean per trial: a trial's windows are not independent), {design}. A "
            "cluster is significant as a whole, not each electrode in it.")
