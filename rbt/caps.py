"""Caps whose electrodes are numbered rather than named: BioSemi's ``A1``-``H32`` and EGI's
(Geodesic / HydroCel) ``E1``-``E257``.

Such names are recognised as a layout (:func:`recognise`) and never read as the 10-05
electrodes some of them are spelled like (BioSemi's ``A1``, ``C3`` or ``F1`` are not the ear, C3
or F1). A recording whose channels are exactly one of MNE's built-in montages of that cap
(``mne.channels.get_builtin_montages()``) gets that montage's positions. BioSemi's 16-, 32- and
64-electrode caps sit on 10-20 sites, and MNE's ``biosemi16/32/64`` montages list those sites in
BioSemi's numbering order (A1, A2, ..., B32), so their numbers are read as the 10-20 names
(``A1`` of a 64 cap is Fp1, ``B1`` Fpz). The denser caps have no 10-05 names: a model of 10-05
electrodes can read them only by interpolation onto its electrodes (:mod:`rbt.data.fitting`).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import mne

from .montage import canonical_name

#: a layout is recognised when at least this share of a recording's EEG channels follow its
#: numbering and at least half of those are no 10-05 names (a 10-20 file's A1, A2, C3, F3 ...
#: are all 10-05 names; a clinical one adds a few others, such as T1 and T2)
MIN_SHARE = 0.8
MIN_CHANNELS = 8


@dataclass(frozen=True)
class Family:
    """One cap maker's numbering and MNE's montages of its caps (fewest electrodes first)."""

    name: str
    pattern: str
    montages: tuple[str, ...]
    #: names a recording may give the vertex reference that some montages list as "Cz"
    reference: tuple[str, ...] = ()

    def matches(self, name: str) -> bool:
        return re.fullmatch(self.pattern, name.strip(), re.IGNORECASE) is not None


FAMILIES = (
    Family("BioSemi", r"[A-H](?:[1-9]|[12]\d|3[0-2])",
           ("biosemi16", "biosemi32", "biosemi64", "biosemi128", "biosemi160", "biosemi256")),
    # the HydroCel nets first: EGI_256 (the older Geodesic net) has GSN-HydroCel-256's names
    Family("EGI", r"E\d{1,3}",
           ("GSN-HydroCel-32", "GSN-HydroCel-64_1.0", "GSN-HydroCel-65_1.0", "GSN-HydroCel-128",
            "GSN-HydroCel-129", "GSN-HydroCel-256", "GSN-HydroCel-257", "EGI_256"),
           reference=("Cz", "VREF", "REF", "Vertex Reference")),
    # other caps lettered in rows (A1-A16, B1-B16, ..., I8): recognised, so that none of their
    # names is taken for a 10-05 electrode, but MNE has no montage of them. Ch1, CH2 ... are
    # a recorder's generic channel numbers, no cap's rows: unknown names to rename
    Family("lettered", r"(?!ch\d)[A-Z]{1,2}\d{1,3}", ()),
)


@dataclass(frozen=True)
class CapLayout:
    """A recording's channels read as a numbered cap.

    ``montage`` is MNE's built-in montage they match (None: none does); ``renames`` maps the
    file's names to the montage's (BioSemi 16/32/64: the 10-20 names; EGI: the reference to
    "Cz"); ``named`` says whether the montage's names are 10-05 electrodes."""

    family: str
    montage: str | None
    channels: tuple[str, ...]
    renames: dict[str, str] = field(default_factory=dict)
    named: bool = False
    extras: tuple[str, ...] = ()  # channels beside the cap's, named as 10-05 electrodes

    @property
    def cap_channels(self) -> list[str]:
        """The cap's channels as named once the layout is applied."""
        return [self.renames.get(c, c) for c in self.channels]

    @property
    def label(self) -> str:
        """E.g. "BioSemi 64" or "EGI GSN-HydroCel-129"; the family alone without a montage."""
        if self.montage is None:
            return self.family
        if self.family == "BioSemi":
            return f"BioSemi {len(numbered_names(self.montage))}"
        return f"EGI {self.montage}"

    def note(self) -> str:
        """What reading made of the names, for the recording's notes."""
        first, last = self.channels[0], self.channels[-1]
        if self.montage is None:
            return (f"{self.family} numbered layout ({_spans(self.channels)}): the electrode "
                    "positions the file carries are used")
        if self.named:
            ten = self.renames[first], self.renames[last]
            return (f"{self.label} layout: {first}..{last} read as the 10-20 names "
                    f"{ten[0]}..{ten[1]} (MNE's {self.montage} montage)" + self._beside())
        return (f"{self.label} layout: {len(self.channels)} electrodes {first}..{last} placed "
                f"at MNE's {self.montage} positions" + self._beside())

    def _beside(self) -> str:
        return f"; beside them {', '.join(self.extras)}" if self.extras else ""


@functools.cache
def builtin_montage(name: str) -> mne.channels.DigMontage:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mne.channels.make_standard_montage(name)


@functools.cache
def numbered_names(montage: str) -> tuple[str, ...]:
    """The cap's own numbering of a montage's electrodes, in the montage's order: BioSemi's
    A1..A32, B1..B32, ... (32 per letter), EGI's E1..En (a last "Cz" is the reference, named
    E{n} on the cap)."""
    names = builtin_montage(montage).ch_names
    if montage.startswith("biosemi"):
        return tuple(f"{chr(ord('A') + i // 32)}{i % 32 + 1}" for i in range(len(names)))
    return tuple(f"E{i + 1}" if n == "Cz" else n for i, n in enumerate(names))


def ten_twenty_layouts() -> dict[str, str]:
    """Cap label -> MNE montage for the numbered caps whose electrodes have 10-20 names
    (BioSemi 16, 32 and 64), e.g. for a list of renames to offer."""
    return {f"BioSemi {len(numbered_names(m))}": m for m in FAMILIES[0].montages
            if all(canonical_name(t) for t in builtin_montage(m).ch_names)}


def layout_renames(label: str) -> dict[str, str]:
    """BioSemi numbers -> 10-20 names for a label of :func:`ten_twenty_layouts`."""
    montage = ten_twenty_layouts()[label]
    return dict(zip(numbered_names(montage), builtin_montage(montage).ch_names))


def recognise(names: Sequence[str]) -> CapLayout | None:
    """The numbered layout ``names`` (a recording's EEG channels) follow, with the montage they
    match, or None when they are not numbered. See :data:`MIN_SHARE`."""
    names = [str(n).strip() for n in names]
    if len(names) < MIN_CHANNELS:
        return None
    layouts = []
    for family in FAMILIES:
        numbered = [n for n in names if family.matches(n)]
        strange = sum(canonical_name(n) is None for n in numbered)
        if len(numbered) >= MIN_SHARE * len(names) and strange >= len(numbered) / 2:
            layouts.append((len(numbered), _match(family, names)))
    # the first family with a montage the channels are; else the one naming the most of them
    placed = [layout for _, layout in layouts if layout.montage is not None]
    if placed or not layouts:
        return placed[0] if placed else None
    return max(layouts, key=lambda pair: pair[0])[1]


def _match(family: Family, names: list[str]) -> CapLayout:
    """The first montage the names are exactly; else the first whose numbered electrodes they
    are, beside channels with 10-05 names (e.g. mastoids an EXG input was mapped to)."""
    for exact in (True, False):
        for montage in family.montages:
            layout = _match_one(family, montage, names, exact)
            if layout is not None:
                return layout
    return CapLayout(family.name, None, tuple(names))


def _match_one(family: Family, montage: str, names: list[str], exact: bool) -> CapLayout | None:
    upper = {n.upper(): n for n in names}
    numbers = numbered_names(montage)
    targets = builtin_montage(montage).ch_names
    wanted = {num.upper(): target for num, target in zip(numbers, targets)}
    have = {k: n for k, n in upper.items() if family.matches(n)}
    if "Cz" in targets:  # the reference: E129 of a 129 net, or VREF, or Cz
        ref = next((upper[r.upper()] for r in (numbers[targets.index("Cz")],
                                               *family.reference) if r.upper() in upper),
                   None)
        if ref is not None:
            have.pop(ref.upper(), None)
            have[numbers[targets.index("Cz")].upper()] = ref
    extras = tuple(n for n in names if n not in have.values())
    if set(have) != set(wanted) or (extras and exact) or not all(
            canonical_name(n) for n in extras):
        return None
    renames = {have[k]: wanted[k] for k in have if have[k] != wanted[k]}
    named = tuple(targets) != numbers and all(canonical_name(t) for t in targets)
    order = [have[num.upper()] for num in numbers]
    return CapLayout(family.name, montage, tuple(order), renames, named, extras)


class CapLayoutError(ValueError):
    """A recording's channels are numbered in a cap's layout that rbt cannot place."""


def apply_layout(raw, source: str) -> CapLayout | None:
    """Recognise the numbered layout of ``raw``'s EEG channels (those the file marks bad
    included: they are on the cap) and apply it in place: BioSemi 16/32/64 numbers renamed to
    their 10-20 names; other caps' channels given MNE's positions of that cap (the reference
    named "Cz" as the montage does). A layout matching no montage keeps the positions the file
    carries for every channel (``montage`` None); without them it is refused
    (:class:`CapLayoutError`). None when the channels are not numbered."""
    eeg = [n for n, t in zip(raw.ch_names, raw.get_channel_types()) if t == "eeg"]
    layout = recognise(eeg)
    if layout is None:
        return None
    if layout.montage is None:
        if _has_positions(raw, eeg):
            return layout
        raise CapLayoutError(refusal(layout, source))
    if layout.renames:
        raw.rename_channels(layout.renames, verbose="error")
    if not layout.named:
        raw.set_montage(builtin_montage(layout.montage), on_missing="ignore", verbose="error")
    return layout


def _has_positions(raw, names: Sequence[str]) -> bool:
    import numpy as np

    locs = [raw.info["chs"][raw.ch_names.index(n)]["loc"][:3] for n in names]
    return all(np.isfinite(p).all() and np.abs(p).sum() > 0 for p in locs)


def refusal(layout: CapLayout, source: str) -> str:
    """Why a recording in ``layout`` cannot be read as 10-05 electrodes, and what to do."""
    shown = _spans(layout.channels)
    if layout.montage is None:
        known = ", ".join(f"{m}: {numbered_names(m)[0]}-{numbered_names(m)[-1]}"
                          for m in _montages(layout))
        which = (f"numbered in {layout.family}'s cap layout, but they are not the electrodes of "
                 f"any {layout.family} cap MNE knows ({known})" if known else
                 "named in a cap's numbered layout (a row letter and a number), of which MNE "
                 "has no montage")
        return (f"{source}: its {len(layout.channels)} EEG channels ({shown}) are {which}, and "
                "the file carries no electrode "
                "positions, so rbt does not know where they are (such numbers are never read "
                "as the 10-05 electrodes spelled the same). Give each channel the 10-05 "
                "electrode it records, from the cap's layout chart (--channel-map map.json, "
                f'such as {{"{layout.channels[0]}": "<10-05 name>"}}, or channel_map= in '
                "Python), or save the recording with its "
                "electrode positions (a FIF file, after MNE's raw.set_montage) and read that "
                "with --interpolate-missing (fit_to= in Python).")
    return (f"{source}: its {len(layout.channels)} EEG channels ({shown}) are the {layout.label} "
            f"cap layout (MNE's {layout.montage} montage), whose electrodes have no 10-05 "
            "names, and rbt's models read 10-05 electrodes. Interpolate the model's electrodes "
            "from the cap's (--interpolate-missing with a model, fit_to= in Python), or give "
            "each channel the 10-05 electrode it records (--channel-map map.json, a JSON object "
            f'such as {{"{layout.channels[0]}": "<10-05 name>"}}).')


def _montages(layout: CapLayout) -> tuple[str, ...]:
    return next(f.montages for f in FAMILIES if f.name == layout.family)


def _spans(names: Sequence[str]) -> str:
    """"A1-A16, B1-B9": runs of one letter with consecutive numbers."""
    parts: list[list] = []
    for n in names:
        m = re.fullmatch(r"([A-Za-z]+)(\d+)", n)
        key = (m[1], int(m[2])) if m else (n, None)
        last = parts[-1] if parts else None
        if last and m and last[0] == key[0] and last[2] is not None and key[1] == last[2] + 1:
            last[2] = key[1]
        else:
            parts.append([key[0], key[1], key[1], n])
    out = [p[3] if p[1] is None or p[1] == p[2] else f"{p[0]}{p[1]}-{p[0]}{p[2]}"
           for p in parts]
    return ", ".join(out if len(out) <= 8 else [*out[:6], "...", *out[-2:]])
