"""Electrode names, template positions and 2-D scalp coordinates, all from MNE's 10-05 template."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Mapping, Sequence

import mne
import numpy as np

try:  # MNE documents the aliases (used by set_montage(match_alias=True)) under mne.io.constants
    from mne.io.constants import CHANNEL_LOC_ALIASES
except ImportError:  # but newer releases keep them only here
    from mne._fiff.constants import CHANNEL_LOC_ALIASES

_HORIZON = ("Fpz", "Oz", "T7", "T8")  # electrodes that lie on the drawn head circle
# The old 10-20 names of four electrodes that the 10-10 system renamed (same positions in MNE's
# templates). The templates list both names as separate electrodes, so MNE's alias table (which
# maps T3/T4 to T7/T8 but T5/T6 to T9/T10) never applies to them; without this a model trained
# on T7 would refuse a file that says T3.
_RENAMED_1020 = {"t3": "T7", "t4": "T8", "t5": "P7", "t6": "P8"}


class UnknownChannelsError(ValueError):
    """Raised when channel names are not in the 10-05 template."""

    def __init__(self, unknown: Sequence[str], source: str = ""):
        self.unknown, self.source = list(unknown), source
        where = f" in {source}" if source else ""
        super().__init__(
            f"{len(self.unknown)} channel name(s){where} are not 10-05 electrode names: "
            f"{', '.join(self.unknown)}. Map each to the electrode it records (a JSON object "
            "of file name -> 10-05 name, --channel-map map.json or channel_map= in Python), "
            "or drop the ones that are not EEG electrodes (--drop-unknown, drop_unknown=True)."
        )

    def __reduce__(self):
        # made again from its own arguments (a Dask worker's error comes back pickled; the
        # default would pass the message as the unknown names)
        return type(self), (self.unknown, self.source)


@functools.lru_cache(maxsize=1)
def template_montage() -> mne.channels.DigMontage:
    """MNE's 10-05 template: ``colin27_1005`` where it exists, else ``standard_1005``."""
    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else (
        "standard_1005"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return mne.channels.make_standard_montage(name)


@functools.lru_cache(maxsize=1)
def _lookup() -> dict[str, str]:
    names = template_montage().ch_names
    table = {n.lower(): n for n in names}
    for alias, target in CHANNEL_LOC_ALIASES.items():
        if target.lower() in table:
            table.setdefault(alias.lower(), table[target.lower()])
    table.update(_RENAMED_1020)
    return table


# EDF exports often decorate electrode names: "EEG Fp1-REF", "EEG C3-LE", "Fp1-A1". An "EEG"
# prefix or a reference suffix says nothing about where the electrode is, so a name unknown as
# it stands is looked up again without them. Bipolar pairs ("Fp1-F7") are not one electrode and
# stay unknown. (Written here because MNE matches names exactly or through its alias table.)
_REFERENCES = {"a1", "a2", "m1", "m2"}
# suffixes naming an ear or mastoid reference: an ear or mastoid against one of them is a
# reference pair ("A1-A2", "M1-A2", "A1-LE"); against a common reference ("A1-REF", TUH's
# "EEG A1-REF") it is the ear electrode A1 itself
_EAR_REFERENCES = _REFERENCES | {"a1a2", "a12", "le", "re", "linked"}
_DECORATED = re.compile(r"^(?:eeg[\s_:-]*)?(?P<name>.+?)"
                        r"(?:[\s_-]+(?P<ref>ref|le|re|avg|ar|a1|a2|m1|m2|a1a2|a12|linked))?$",
                        re.IGNORECASE)


def canonical_name(name: str, channel_map: Mapping[str, str] | None = None) -> str | None:
    """The template name for ``name`` (case-insensitive, MNE aliases, old 10-20 names, EDF
    decorations such as "EEG Fp1-REF", PhysioNet's trailing dots "Fc5."), or None if
    unknown."""
    if channel_map and name in channel_map:
        name = channel_map[name]
    # PhysioNet's EEG Motor Movement/Imagery files pad labels with dots ("Fc5.", "Cz..");
    # MNE's eegbci.standardize strips them the same way
    key = str(name).strip().rstrip(".").strip().lower()
    table = _lookup()
    if key in table:
        return table[key]
    bare = _DECORATED.match(key)
    if not bare or bare.group("name").strip() == key:
        return None
    name = bare.group("name").strip()
    if name in _REFERENCES and (bare.group("ref") or "").lower() in _EAR_REFERENCES:
        return None  # "A1-A2", "M1-A2": a reference against another, not a scalp site
    return table.get(name)


def name_order(names: Sequence[str], order: Sequence[str]) -> list[int]:
    """Indices that put channels ``names`` in ``order``, matching names as
    :func:`canonical_name` does; a ValueError when one of ``order`` is not among them."""
    have = [canonical_name(n) or n for n in names]
    return [have.index(canonical_name(n) or n) for n in order]


def resolve_channels(
    names: Sequence[str],
    channel_map: Mapping[str, str] | None = None,
    source: str = "",
) -> list[str]:
    """Template names for ``names``; raises :class:`UnknownChannelsError` listing unknown ones."""
    resolved = [canonical_name(n, channel_map) for n in names]
    unknown = [n for n, r in zip(names, resolved) if r is None]
    if unknown:
        raise UnknownChannelsError(unknown, source)
    dupes = sorted({r for r in resolved if resolved.count(r) > 1})
    if dupes:
        raise ValueError(f"channels{' in ' + source if source else ''} map to the same "
                         f"electrode more than once: {', '.join(dupes)}")
    return resolved


def positions_3d(names: Sequence[str]) -> np.ndarray:
    """Template positions in MNE's head frame (metres), shape (n, 3)."""
    return _head_positions(tuple(resolve_channels(names))).copy()


@functools.lru_cache(maxsize=32)
def _head_positions(canonical: tuple[str, ...]) -> np.ndarray:
    # set_montage moves the template into the head frame defined by its fiducials
    return np.array([ch["loc"][:3] for ch in make_info(list(canonical), 100.0)["chs"]])


@functools.lru_cache(maxsize=1)
def head_sphere() -> np.ndarray:
    """(x, y, z, radius) of the head sphere whose equator runs through Fpz, Oz, T7 and T8.

    This is the sphere MNE calls ``sphere="eeglab"``, taken from the template so that every
    dataset is drawn on the same head.
    """
    fpz, oz, t7, t8 = _head_positions(_HORIZON)
    center = np.array([(t7[0] + t8[0]) / 2, (fpz[1] + oz[1]) / 2,
                       np.mean([fpz[2], oz[2], t7[2], t8[2]])])
    radius = np.mean([abs(t7[0] - center[0]), abs(t8[0] - center[0]),
                      abs(fpz[1] - center[1]), abs(oz[1] - center[1])])
    return np.append(center, radius)


def positions_2d(names: Sequence[str]) -> np.ndarray:
    """2-D scalp coordinates (metres) as MNE's topomaps draw them, shape (n, 2).

    MNE's public API has no function returning these, so we repeat its convention
    (azimuthal equidistant projection about the centre of :func:`head_sphere`; a test checks
    the match with MNE). The head circle is centred at ``head_sphere()[:2]`` with radius
    ``head_sphere()[3]``; the nose points to +y.
    """
    sphere = head_sphere()
    xyz = positions_3d(names) - sphere[:3]
    dist = np.linalg.norm(xyz, axis=1)
    polar = np.arccos(np.clip(xyz[:, 2] / dist, -1.0, 1.0))
    azimuth = np.arctan2(xyz[:, 1], xyz[:, 0])
    radius = polar * dist / (np.pi / 2)
    return np.column_stack([radius * np.cos(azimuth), radius * np.sin(azimuth)]) + sphere[:2]


def make_info(names: Sequence[str], sfreq: float) -> mne.Info:
    """An MNE ``Info`` with template positions, for MNE's topomap and interpolation helpers."""
    canonical = resolve_channels(names)
    info = mne.create_info(canonical, sfreq, ch_types="eeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        info.set_montage(template_montage())
    return info


#: the lobe regions (each electrode is in exactly one) and the sides (likewise)
LOBES = ("frontal", "central", "temporal", "parietal", "occipital")
SIDES = ("left", "right", "midline")
REGIONS = LOBES + SIDES
_NAME_PARTS = re.compile(r"^(?P<row>[A-Za-z]+?)(?P<pos>\d+|z)h?$")
_ROW_LOBE = {"F": "frontal", "C": "central", "P": "parietal", "O": "occipital", "I": "occipital"}


def electrode_region(name: str) -> tuple[str, str]:
    """The lobe and side of a 10-05 electrode, read from its name.

    The row letters give the lobe: a "T" anywhere (T7, FT7, TP7, FTT7h) and the ear and
    mastoid sites (A1, M1) are temporal; otherwise the last row letter decides, so an
    electrode between two rows belongs to the rear one: AF3 and Fp1 frontal, FC3 central,
    CP3 parietal, PO3 and Iz occipital. The number gives the side: odd left, even right,
    "z" the midline (the 10-05 "h" sites, such as FFC1h, by their number).
    """
    canonical = canonical_name(name)
    parts = _NAME_PARTS.match(canonical or "")
    if parts is None:
        raise ValueError(f"{name!r} is not a 10-05 electrode name")
    row, pos = parts["row"].replace("Fp", "F"), parts["pos"]
    lobe = "temporal" if "T" in row or row in ("A", "M") else _ROW_LOBE[row[-1]]
    side = "midline" if pos == "z" else "left" if int(pos) % 2 else "right"
    return lobe, side


def electrode_regions(names: Sequence[str]) -> dict[str, list[str]]:
    """Region (each of :data:`REGIONS`) -> the electrodes of ``names`` in it, in the order of
    ``names``; see :func:`electrode_region` for the rule. Regions with none are empty lists."""
    out: dict[str, list[str]] = {r: [] for r in REGIONS}
    for n in names:
        for region in electrode_region(n):
            out[region].append(n)
    return out
