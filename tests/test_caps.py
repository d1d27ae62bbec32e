"""Caps with numbered layouts (rbt.caps): BioSemi's A1-H32 and EGI's E1-E257, in files
written as the caps' software exports them (BDF through edfio, FIF through MNE)."""

from __future__ import annotations

import json
from pathlib import Path

import formats as F
import mne
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment

from rbt import caps
from rbt.cli import main
from rbt.data import load_features
from rbt.montage import canonical_name, make_info

pytest.importorskip("edfio", reason="BDF files are written with edfio")

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"
MODEL = json.loads((DEMO / "rbt_metadata.json").read_text())["ch_names"]  # 32 electrodes
SECONDS, RATE = 6.0, 256.0


def features(path, **kw):
    return load_features("raw", path, progress=False, **kw)


def biosemi_file(path: Path, montage: str, names=None, external: bool = True) -> Path:
    """A BDF as ActiView writes it: the cap's numbered channels, EXG1-EXG8 and Status."""
    names = list(names or caps.numbered_names(montage))
    signals = F.labelled_signals(names, sfreq=RATE, seconds=SECONDS)
    if external:
        signals.update(F.labelled_signals(F.BIOSEMI_EXTERNAL, sfreq=RATE, seconds=SECONDS,
                                          seed=3))
    return F.write_biosemi_bdf(path, signals, sfreq=RATE,
                               status=np.zeros(int(SECONDS * RATE)) if external else None)


def test_biosemi_numbering_is_mne_montage_order_and_names_fit_positions():
    """BioSemi 16/32/64: A1.. are read as the 10-20 names MNE's montage lists in that order,
    and the montage's positions are the 10-05 template's sites of those names."""
    assert caps.layout_renames("BioSemi 32")["A1"] == "Fp1"
    assert caps.layout_renames("BioSemi 32")["A32"] == "Cz"
    assert caps.layout_renames("BioSemi 64")["B1"] == "Fpz"
    assert caps.layout_renames("BioSemi 64")["B32"] == "O2"
    assert list(caps.ten_twenty_layouts()) == ["BioSemi 16", "BioSemi 32", "BioSemi 64"]
    for montage in caps.ten_twenty_layouts().values():
        names = caps.builtin_montage(montage).ch_names
        cap, template = mne.create_info(names, 100.0, "eeg"), make_info(names, 100.0)
        cap.set_montage(caps.builtin_montage(montage))
        directions = []
        for info in (cap, template):  # seen from the centre of each one's fitted sphere
            _, centre, _ = mne.bem.fit_sphere_to_headshape(info, ("eeg",), units="m",
                                                           verbose="error")
            xyz = np.array([ch["loc"][:3] for ch in info["chs"]]) - centre
            directions.append(xyz / np.linalg.norm(xyz, axis=1)[:, None])
        # the closest pairing of the cap's positions with the template's sites (Oz and Iz,
        # 2 cm apart, are near enough on the two heads that only the pairing as a whole tells)
        _, pairing = linear_sum_assignment(-directions[0] @ directions[1].T)
        assert [names[i] for i in pairing] == names, montage


def test_biosemi_64_bdf_reads_as_10_20_electrodes(tmp_path):
    path = biosemi_file(tmp_path / "biosemi64.bdf", "biosemi64")
    fs = features(path)
    assert fs.ch_names == caps.builtin_montage("biosemi64").ch_names
    assert fs.ch_names[:3] == ["Fp1", "AF7", "AF3"] and "A1" not in fs.ch_names
    assert fs.notes[1] == ("biosemi64.bdf: BioSemi 64 layout: A1..B32 read as the 10-20 names "
                           "Fp1..O2 (MNE's biosemi64 montage)")
    assert "misc: EXG1" in fs.notes[0] and "stim: Status" in fs.notes[0]
    # the same samples written under the 10-20 names give the same features
    named = dict(zip(caps.builtin_montage("biosemi64").ch_names,
                     F.labelled_signals(caps.numbered_names("biosemi64"), sfreq=RATE,
                                        seconds=SECONDS).values()))
    ref = features(F.write_biosemi_bdf(tmp_path / "named.bdf", named, sfreq=RATE))
    assert ref.ch_names == fs.ch_names
    np.testing.assert_allclose(fs.X, ref.X, rtol=0, atol=1e-4)


def test_biosemi_32_cap_is_scored_by_the_demo_model(tmp_path):
    path = biosemi_file(tmp_path / "b32.bdf", "biosemi32")
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(DEMO), "--source", "raw", "--path", str(path),
                 "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == (int(SECONDS * 128) - 512) // 117 + 1


def test_biosemi_128_is_refused_without_interpolation_naming_the_layout(tmp_path, capsys):
    path = biosemi_file(tmp_path / "b128.bdf", "biosemi128")
    with pytest.raises(caps.CapLayoutError) as err:
        features(path, drop_unknown=True)  # A1, C3, F1 ... are never taken for 10-05 sites
    text = str(err.value)
    assert str(path) in text and "A1-A32, B1-B32, C1-C32, D1-D32" in text
    assert "BioSemi 128 cap layout (MNE's biosemi128 montage)" in text
    assert "--interpolate-missing" in text and "--channel-map" in text
    code = main(["predict", "--model", str(DEMO), "--source", "raw", "--path", str(path),
                 "--out", str(tmp_path / "p.csv")])
    stderr = capsys.readouterr().err
    assert code == 2 and "BioSemi 128 cap layout" in stderr and "Traceback" not in stderr


def test_biosemi_128_with_interpolation_is_scored_by_a_32_electrode_model(tmp_path, capsys):
    path = biosemi_file(tmp_path / "b128.bdf", "biosemi128")
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(DEMO), "--source", "raw", "--path", str(path),
                 "--out", str(out), "--interpolate-missing"]) == 0
    captured = capsys.readouterr()
    assert "BioSemi 128 layout: 128 electrodes A1..D32 placed at MNE's biosemi128" in \
        captured.err
    assert "the model's 32 electrodes interpolated from the BioSemi 128 cap's 128" in \
        captured.err
    frame = pd.read_csv(out)
    assert len(frame) == (int(SECONDS * 128) - 512) // 117 + 1
    side = json.loads((tmp_path / "p.csv.json").read_text())
    assert side["interpolated"] == MODEL and "p.csv.json" in captured.out


def test_egi_129_layout_with_gsn_positions(tmp_path):
    names = [f"E{i}" for i in range(1, 130)]
    rng = np.random.default_rng(0)
    data = F.eeg_like(129, int(SECONDS * 250), 250.0, rng) * 1e-6
    raw = mne.io.RawArray(data, mne.create_info(names, 250.0, "eeg"), verbose="error")
    path = tmp_path / "egi_raw.fif"
    raw.save(path, verbose="error")
    with pytest.raises(caps.CapLayoutError, match="EGI GSN-HydroCel-129 cap layout"):
        features(path)
    fs = features(path, fit_to=MODEL)
    assert fs.ch_names == MODEL and fs.interpolated == tuple(MODEL)
    assert fs.notes[0] == ("egi_raw.fif: EGI GSN-HydroCel-129 layout: 129 electrodes E1..E129 "
                           "placed at MNE's GSN-HydroCel-129 positions")
    # the reference may be written VREF: it is the montage's Cz
    layout = caps.recognise(names[:128] + ["VREF"])
    assert layout.montage == "GSN-HydroCel-129" and layout.renames == {"VREF": "Cz"}


def test_a_layout_matching_no_montage_is_refused_with_what_to_do(tmp_path):
    names = [f"A{i}" for i in range(1, 17)] + [f"B{i}" for i in range(1, 10)]
    path = biosemi_file(tmp_path / "odd.bdf", None, names=names, external=False)
    for kw in ({}, {"drop_unknown": True}, {"fit_to": MODEL}):
        with pytest.raises(caps.CapLayoutError) as err:
            features(path, **kw)
        text = str(err.value)
        assert "25 EEG channels (A1-A16, B1-B9) are numbered in BioSemi's cap layout" in text
        assert "biosemi64: A1-B32" in text and "--channel-map" in text
        assert "positions" in text
    # with a channel map naming every channel, the file reads as those electrodes
    chosen = caps.builtin_montage("biosemi64").ch_names[:25]
    fs = features(path, channel_map=dict(zip(names, chosen)))
    assert fs.ch_names == chosen


def test_ten_twenty_files_with_ear_electrodes_are_not_taken_for_a_cap():
    ten_twenty = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4",
                  "T5", "P3", "Pz", "P4", "T6", "O1", "O2", "A1", "A2"]
    assert caps.recognise(ten_twenty) is None
    assert caps.recognise(["C3", "C4", "F3", "F4"]) is None  # too few to tell
    assert all(canonical_name(n) for n in ten_twenty)


def test_channels_beside_a_cap_keep_their_10_05_names(tmp_path):
    """Mastoids recorded on EXG1 and EXG2 and mapped to M1 and M2 sit beside the cap."""
    path = biosemi_file(tmp_path / "b64.bdf", "biosemi64")
    fs = features(path, channel_map={"EXG1": "M1", "EXG2": "M2"})
    assert fs.ch_names == caps.builtin_montage("biosemi64").ch_names + ["M1", "M2"]
    assert fs.notes[1].endswith("(MNE's biosemi64 montage); beside them M1, M2")
    path = biosemi_file(tmp_path / "b128.bdf", "biosemi128")
    fs = features(path, channel_map={"EXG1": "M1"}, fit_to=MODEL)
    assert fs.ch_names == MODEL
    assert any("left out M1, beside the BioSemi 128 cap" in n for n in fs.notes)
    # EGI: a 129 net's reference written Cz is the montage's Cz, not a channel beside a 128 net
    layout = caps.recognise([f"E{i}" for i in range(1, 129)] + ["Cz"])
    assert layout.montage == "GSN-HydroCel-129" and not layout.extras


def test_a_lettered_layout_of_no_known_cap_is_refused(tmp_path):
    """139 channels in rows A..I (as a lab's export had them): refused, even with
    --drop-unknown, never read as the 20 names that look like 10-05 ones."""
    names = [f"{row}{i}" for row in "ABCDEFGH" for i in range(1, 17)] + [
        f"I{i}" for i in range(1, 9)] + ["J1", "J2", "J3"]
    path = biosemi_file(tmp_path / "rows.bdf", None, names=names, external=False)
    with pytest.raises(caps.CapLayoutError) as err:
        features(path, drop_unknown=True)
    text = str(err.value)
    assert "139 EEG channels (A1-A16, B1-B16" in text and "I1-I8" in text
    assert "a cap's numbered layout (a row letter and a number)" in text
    # a clinical 10-20 file with T1 and T2 beside its 10-20 electrodes is no cap layout
    clinical = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4",
                "T5", "P3", "Pz", "P4", "T6", "O1", "O2", "T1", "T2", "X1"]
    assert caps.recognise(clinical) is None
    # a recorder's generic channel numbers are no cap's rows: unknown names, to be renamed
    generic = [f"Ch{i}" for i in range(1, 33)]
    assert caps.recognise(generic) is None and caps.recognise([n.upper() for n in generic]) is None
    assert caps.recognise(["Fp1", "AF3", "F3", "F7", "FC5"] + generic[5:]) is None
