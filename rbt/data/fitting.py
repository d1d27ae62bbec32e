"""Fitting a recording to a model's electrodes: the ones it lacks interpolated with MNE's
spherical splines from those it measured, the ones the model does not read dropped.

The limits keep the input a measurement rather than a guess. Spherical splines rebuild a
site well from measured electrodes around it, and badly from far away or from few: so

- at most a quarter of the model's electrodes may be missing (:data:`MAX_MISSING`). Beyond
  that a large part of what the model reads, and every pattern between the missing sites,
  would be the splines' smooth guess; EEG practice likewise gives up a recording with more than
  about a fifth to a quarter of its channels bad;
- each missing electrode needs :data:`NEIGHBOURS` measured electrodes within
  :data:`RADIUS` of it (about the spacing of the 10-20 sites, so that a missing site sits among
  measured ones and is not extrapolated past the cap's edge).

Every measured electrode with a 10-05 name counts as a neighbour and feeds the splines, the
model's or not (a recording's POz helps rebuild Oz); those the model does not read are dropped
after interpolating.

A cap numbered without 10-05 names (BioSemi 128, EGI; :mod:`rbt.caps`) measures none of the
model's sites by name: every one is interpolated from the cap's positions, under the neighbour
rule (dense caps pass it everywhere they cover).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mne
import numpy as np

from ..caps import CapLayout, CapLayoutError, refusal
from ..montage import canonical_name, make_info, resolve_channels, template_montage
from .recording import DataFormatError

MAX_MISSING = 0.25  # of the model's electrodes
NEIGHBOURS = 3
RADIUS = 0.07  # metres between the missing site and a measured electrode, head frame


class CannotInterpolate(DataFormatError):
    """A recording's missing model electrodes cannot be interpolated (too many, or too far
    from the measured ones); the recording itself is readable as it is."""


@dataclass
class Fitted:
    """What fitting did: the model's electrodes interpolated (in its order) and the notes."""

    interpolated: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


def fit_electrodes(raw, file: Path, cap: CapLayout | None,
                   fit_to: Sequence[str] | None) -> tuple[mne.io.BaseRaw, Fitted]:
    """``raw`` (loaded, EEG channels only) with exactly the electrodes ``fit_to`` in that
    order, the missing ones interpolated; unchanged without ``fit_to``. A cap positioned by
    its layout but without 10-05 names is refused without ``fit_to`` (it cannot meet a model
    otherwise). Raises DataFormatError beyond the limits (see the module's docstring)."""
    file = Path(file)
    notes = [f"{file.name}: {cap.note()}"] if cap else []
    positioned = cap is not None and not cap.named
    if not fit_to:
        if positioned:
            raise CapLayoutError(refusal(cap, str(file)))
        return raw, Fitted(notes=notes)
    want = resolve_channels(list(fit_to), source="the model's electrodes")
    if positioned:
        return _onto_sites(raw, file, cap, want, notes)
    have: dict[str, str] = {}  # 10-05 name -> the channel's name in the file
    for n in raw.ch_names:
        if canonical_name(n) is not None:
            have.setdefault(canonical_name(n), n)
    missing = [w for w in want if w not in have]
    dropped = [n for n in raw.ch_names if canonical_name(n) not in want]
    limit = int(MAX_MISSING * len(want))
    if len(missing) > limit:
        raise CannotInterpolate(
            f"{file}: it lacks {len(missing)} of the model's {len(want)} electrodes "
            f"({', '.join(missing)}); rbt interpolates at most {limit} (a quarter of them): "
            "with more, much of what the model reads would be the interpolation's guess, not "
            "the recording. Use a model trained on this recording's electrodes (rbt train), "
            "or, if some channels are these electrodes under other names, map them "
            "(--channel-map map.json).")
    # every measured electrode at a known site helps rebuild a missing one (POz for Oz),
    # not only the model's: the others are dropped after interpolating
    used = list(have) if missing else [w for w in want if w in have]
    raw.pick([have[w] for w in used])
    raw.rename_channels({have[w]: w for w in used if have[w] != w}, verbose="error")
    if missing:
        _check_neighbours(file, missing, _template_xyz(missing), _template_xyz(used), used)
        raw = _interpolate_missing(raw, missing)
        raw.pick(want)
    raw.reorder_channels(want)
    if missing:
        notes.append(f"{file.name}: interpolated {len(missing)} of the model's electrodes "
                     f"it lacks ({', '.join(missing)}) from its {len(used)} measured ones "
                     "(MNE's spherical splines)")
    if dropped:
        notes.append(f"{file.name}: left out {len(dropped)} electrode"
                     f"{'s' if len(dropped) != 1 else ''} the model does not read "
                     f"({_some(dropped)})")
    return raw, Fitted(tuple(missing), notes)


def _interpolate_missing(raw, missing: list[str]):
    """``raw`` plus flat channels ``missing``, all at the 10-05 template's positions, the new
    ones then interpolated (MNE's ``interpolate_bads``)."""
    info = mne.create_info(missing, raw.info["sfreq"], "eeg")
    blank = mne.io.RawArray(np.zeros((len(missing), raw.n_times)), info,
                            first_samp=raw.first_samp, verbose="error")
    with warnings.catch_warnings(), mne.utils.use_log_level("error"):
        warnings.simplefilter("ignore")
        blank.set_meas_date(raw.info["meas_date"])
        raw.add_channels([blank], force_update_info=True)
        raw.set_montage(template_montage(), verbose="error")
        raw.info["bads"] = list(missing)
        raw.interpolate_bads(reset_bads=True, verbose="error")
    return raw


def _onto_sites(raw, file: Path, cap: CapLayout, want: list[str], notes: list[str]):
    """Every model electrode interpolated from a cap's own positions
    (MNE's ``interpolate_to`` onto the 10-05 template's sites)."""
    sites = make_info(want, raw.info["sfreq"]).get_montage()
    beside = [c for c in raw.ch_names if c not in cap.cap_channels]  # placed by name only
    if beside:
        raw.pick([c for c in raw.ch_names if c in cap.cap_channels])
        notes.append(f"{file.name}: left out {', '.join(beside)}, beside the {cap.label} cap "
                     "(the model's electrodes are interpolated from the cap's alone)")
    cap_xyz = np.array([ch["loc"][:3] for ch in raw.info["chs"]])
    _check_neighbours(file, want, _template_xyz(want), cap_xyz, raw.ch_names,
                      where=f"the {cap.label} cap's")
    with warnings.catch_warnings(), mne.utils.use_log_level("error"):
        warnings.simplefilter("ignore")
        fitted = _timed_like(raw.interpolate_to(sites, method="spline"), raw)
    fitted.reorder_channels(want)
    notes.append(f"{file.name}: the model's {len(want)} electrodes interpolated from the "
                 f"{cap.label} cap's {len(raw.ch_names)} (MNE's spherical splines)")
    return fitted, Fitted(tuple(want), notes)


def _timed_like(new, raw):
    """``new`` (MNE's ``interpolate_to`` result, which starts at sample 0 with no date and no
    annotations) with ``raw``'s first sample, measurement date and annotations (the markers)."""
    with warnings.catch_warnings(), mne.utils.use_log_level("error"):
        warnings.simplefilter("ignore")
        out = mne.io.RawArray(new.get_data(), new.info, first_samp=raw.first_samp,
                              verbose="error")
        out.set_meas_date(raw.info["meas_date"])
        out.set_annotations(raw.annotations)
    return out


def _template_xyz(names: Sequence[str]) -> np.ndarray:
    return np.array([ch["loc"][:3] for ch in make_info(list(names), 100.0)["chs"]])


def _check_neighbours(file: Path, targets: Sequence[str], target_xyz, measured_xyz,
                      measured: Sequence[str], where: str = "its") -> None:
    distance = np.linalg.norm(target_xyz[:, None] - measured_xyz[None], axis=2)
    near = (distance <= RADIUS).sum(axis=1)
    lonely = [t for t, k in zip(targets, near) if k < NEIGHBOURS]
    if lonely:
        closest = [", ".join(measured[i] for i in np.argsort(distance[targets.index(t)])[:3])
                   for t in lonely[:3]]
        raise CannotInterpolate(
            f"{file}: cannot interpolate {', '.join(lonely)}: each needs at least {NEIGHBOURS} "
            f"of {where} electrodes within {RADIUS * 100:g} cm, so as to lie among measured "
            "ones, and " + "; ".join(f"{t} has {k} (nearest: {c})" for t, k, c in
                                     zip(lonely, [near[targets.index(t)] for t in lonely],
                                         closest))
            + ". Use a model trained on this recording's electrodes (rbt train).")


def _some(names: list[str], most: int = 12) -> str:
    more = len(names) - most
    return ", ".join(names[:most]) + (f", ... ({more} more)" if more > 0 else "")
