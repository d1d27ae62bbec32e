"""Every reader on tiny files in the real formats: windows, labels, index table and BDE values.

The BDE values are checked against a plain, slow re-implementation of the published recipe
written here (z-score each window with one mean and one std, butter(5) + lfilter from zero
state per channel and band, DE = 0.5 * log2(2 pi e var), minus the baseline's BDE).
"""

from __future__ import annotations

import dataclasses
import functools
import shutil

import formats as F
import mne
import numpy as np
import pytest
from scipy import signal
from scipy.io import loadmat

from rbt.data import DataFormatError, deap, demo, dreamer, load_features, seed, with_labels
from rbt.data.demo import PLANTED_EFFECTS
from rbt.montage import UnknownChannelsError, resolve_channels

BANDS = {"theta": (4.0, 8.0), "alpha": (8.0, 14.0), "beta": (14.0, 31.0), "gamma": (31.0, 49.0)}
ATOL = 1e-5  # the features are float32


# --------------------------------------------------------------------------------------------
# The reference recipe, written out plainly


@functools.cache
def _butter(lo, hi, fs):
    return signal.butter(5, [lo, hi], btype="band", fs=fs)


def ref_bde(window, filter_fs):
    """(channels, bands) BDE of one (channels, samples) window."""
    z = (window - window.mean()) / window.std()
    out = np.empty((window.shape[0], len(BANDS)))
    for c in range(window.shape[0]):
        for k, (lo, hi) in enumerate(BANDS.values()):
            b, a = _butter(lo, hi, filter_fs)
            y = signal.lfilter(b, a, z[c])
            out[c, k] = 0.5 * np.log2(2 * np.pi * np.e * np.var(y))
    return out


def ref_baseline_bde(baseline, sfreq, filter_fs):
    """BDE of the sample-wise mean of the baseline's whole 1-s pieces."""
    second = int(sfreq)
    pieces = [baseline[:, i : i + second] for i in range(0, baseline.shape[1] - second + 1, second)]
    return ref_bde(np.mean(pieces, axis=0), filter_fs)


def ref_trial(sig, start, filter_fs, baseline=None, sfreq=None):
    """(windows, channels, bands) for one trial; windows of 512 every 117 from ``start``."""
    out = []
    for s in range(start, sig.shape[1] - 512 + 1, 117):
        out.append(ref_bde(sig[:, s : s + 512], filter_fs))
    out = np.array(out)
    if baseline is not None:
        out = out - ref_baseline_bde(baseline, sfreq, filter_fs)
    return out


def n_windows(n_samples, start=0):
    return (n_samples - start - 512) // 117 + 1


# --------------------------------------------------------------------------------------------
# DEAP


@pytest.fixture
def deap_dir(tmp_path):
    return F.deap_folder(tmp_path / "data_preprocessed_python", subjects=(1, 2))


def test_deap_windows_table_and_labels(deap_dir):
    fs = load_features("deap", deap_dir, target="valence", task="binary", progress=False)
    per_trial = n_windows(F.DEAP_SAMPLES, F.DEAP_BASELINE)
    assert per_trial == 3
    assert fs.X.dtype == np.float32
    assert fs.X.shape == (2 * 3 * per_trial, 32, 4)
    assert fs.ch_names == deap.EEG_CHANNELS
    assert fs.sfreq == 128.0 and list(fs.bands) == list(BANDS)
    t = fs.table
    assert list(t.columns[:5]) == ["subject", "session", "trial", "window", "start"]
    assert {"valence", "arousal", "dominance", "liking"} <= set(t.columns)
    assert t["subject"].tolist() == ["s01"] * 9 + ["s02"] * 9
    assert t["session"].tolist() == [1] * 18
    assert t["trial"].tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3] * 2
    assert t["window"].tolist() == [0, 1, 2] * 6
    assert t["start"].tolist() == [384, 501, 618] * 6  # windows start after the 3-s baseline
    ratings = np.repeat(F.DEAP_LABELS, per_trial, axis=0)
    for k, name in enumerate(["valence", "arousal", "dominance", "liking"]):
        np.testing.assert_array_equal(t[name].to_numpy(dtype=float), np.tile(ratings[:, k], 2))
    # binary: rating >= 5 (4.99 is low, 5.0 is high)
    assert fs.y.dtype == np.int64
    assert fs.y.tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1] * 2
    assert fs.class_names == ["low", "high"] and fs.target == "valence" and fs.task == "binary"


@pytest.mark.parametrize(
    "target, task, expected",
    [
        ("arousal", "binary", [0, 1, 1]),  # 1.0, 9.0, 5.5
        ("arousal", "multi", [0, 8, 4]),  # int(rating) - 1
        ("valence", "multi", [3, 4, 6]),  # 4.99 -> 3, 5.0 -> 4, 7.3 -> 6
        ("dominance", "multi", [2, 5, 7]),
        ("liking", "binary", [1, 0, 0]),
        ("Arousal", "Binary", [0, 1, 1]),  # names in any case
    ],
)
def test_deap_label_rules(deap_dir, target, task, expected):
    fs = load_features("deap", deap_dir / "s01.dat", target=target, task=task, progress=False)
    assert fs.y.tolist() == list(np.repeat(expected, 3))
    assert fs.n_classes == (2 if task.lower() == "binary" else 9)
    assert fs.target == target.lower()


def test_deap_bde_matches_reference_recipe(deap_dir):
    fs = load_features("deap", deap_dir, progress=False)
    expected = []
    for s in (1, 2):
        data, _ = F.deap_arrays(seed=s)
        for trial in data:
            eeg = trial[:32]
            expected.append(ref_trial(eeg, 384, 128.0, baseline=eeg[:, :384], sfreq=128.0))
    expected = np.concatenate(expected)
    np.testing.assert_allclose(fs.X, expected, rtol=0, atol=ATOL)
    # the baseline really is subtracted: without it the values are far off
    unsubtracted = ref_trial(F.deap_arrays(seed=1)[0][0, :32], 384, 128.0)
    assert np.abs(fs.X[:3] - unsubtracted).max() > 0.1


@pytest.mark.parametrize("n_samples", [384 + 512, 384 + 512 + 116, 384 + 512 + 117, 384 + 1500])
def test_deap_window_count(tmp_path, n_samples):
    data, labels = F.deap_arrays(n_trials=2, n_samples=n_samples)
    F.write_deap(tmp_path / "s07.dat", data, labels)
    fs = load_features("deap", tmp_path, progress=False)
    per_trial = n_windows(n_samples, 384)
    assert len(fs) == 2 * per_trial
    assert fs.table["start"].tolist() == [384 + 117 * i for i in range(per_trial)] * 2
    assert set(fs.table["subject"]) == {"s07"}


def test_deap_python2_pickle_reads_like_python3(tmp_path):
    """The real files are Python-2 pickles (array bytes as str): they need latin-1."""
    data, labels = F.deap_arrays(n_trials=2)
    p2 = F.write_deap(tmp_path / "py2" / "s01.dat", data, labels, py2=True)
    p3 = F.write_deap(tmp_path / "py3" / "s01.dat", data, labels)
    assert p2.read_bytes() != p3.read_bytes()
    assert b"numpy.core.multiarray" in p2.read_bytes()
    r2, r3 = deap.read_file(p2), deap.read_file(p3)
    for a, b in zip(r2.trials, r3.trials):
        np.testing.assert_array_equal(a.signal, b.signal)
        np.testing.assert_array_equal(a.baseline, b.baseline)
        assert a.ratings == b.ratings
    np.testing.assert_array_equal(
        load_features("deap", p2, progress=False).X, load_features("deap", p3, progress=False).X
    )


def test_deap_files_sorted_by_number(tmp_path):
    for name in ("s10.dat", "s2.dat", "S03.DAT"):  # copies may come with upper-case names
        data, labels = F.deap_arrays(n_trials=1, seed=len(name))
        F.write_deap(tmp_path / name, data, labels)
    (tmp_path / "README.txt").write_text("not a subject")
    fs = load_features("deap", tmp_path, progress=False)
    assert fs.table["subject"].unique().tolist() == ["s02", "s03", "s10"]


# --------------------------------------------------------------------------------------------
# DREAMER


@pytest.fixture
def dreamer_file(tmp_path):
    stimuli, baselines, scores = F.dreamer_arrays()
    path = F.write_dreamer(tmp_path / "DREAMER.mat", stimuli, baselines, scores)
    return path, stimuli, baselines, scores


def test_dreamer_builder_gives_the_documented_scipy_paths(dreamer_file):
    path, stimuli, baselines, scores = dreamer_file
    m = loadmat(path)
    root = m["DREAMER"][0, 0]
    assert float(np.squeeze(root["SamplingRate"])) == 128.0
    for s in range(2):
        subj = root["Data"][0, s]
        for t in range(3):
            np.testing.assert_array_equal(subj["EEG"][0, 0]["stimuli"][0, 0][t, 0], stimuli[s][t])
            np.testing.assert_array_equal(
                subj["EEG"][0, 0]["baseline"][0, 0][t, 0], baselines[s][t]
            )
            assert subj["EEG"][0, 0]["stimuli"][0, 0][t, 0].shape == (F.DREAMER_STIM, 14)
            for key in ("ScoreValence", "ScoreArousal", "ScoreDominance"):
                assert subj[key][0, 0][t, 0] == scores[key][s][t]


def test_dreamer_windows_table_and_labels(dreamer_file):
    path, *_ = dreamer_file
    fs = load_features("dreamer", path, target="valence", task="binary", progress=False)
    per_clip = n_windows(F.DREAMER_STIM)
    assert per_clip == 3
    assert fs.X.dtype == np.float32 and fs.X.shape == (2 * 3 * per_clip, 14, 4)
    assert fs.ch_names == dreamer.CHANNELS and fs.sfreq == 128.0
    t = fs.table
    assert list(t.columns[:5]) == ["subject", "session", "trial", "window", "start"]
    assert t["subject"].tolist() == ["01"] * 9 + ["02"] * 9
    assert t["session"].tolist() == [1] * 18
    assert t["trial"].tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3] * 2
    assert t["start"].tolist() == [0, 117, 234] * 6  # no in-signal baseline: start at 0
    valence = np.repeat(np.ravel(F.DREAMER_SCORES["ScoreValence"]), 3)
    np.testing.assert_array_equal(t["valence"].to_numpy(dtype=float), valence)
    assert fs.y.tolist() == (valence >= 3).astype(int).tolist()  # [1,3,5],[2,4,3]
    # a folder holding DREAMER.mat is accepted too
    assert len(load_features("dreamer", path.parent, progress=False)) == len(fs)


@pytest.mark.parametrize("target, key", [("valence", "ScoreValence"),
                                         ("arousal", "ScoreArousal"),
                                         ("dominance", "ScoreDominance")])
def test_dreamer_multi_labels(dreamer_file, target, key):
    fs = load_features("dreamer", dreamer_file[0], target=target, task="multi", progress=False)
    expected = np.repeat(np.ravel(F.DREAMER_SCORES[key]), 3) - 1
    assert fs.y.tolist() == expected.tolist()
    assert fs.class_names == ["1", "2", "3", "4", "5"]


def test_dreamer_bde_matches_reference_recipe(dreamer_file):
    path, stimuli, baselines, _ = dreamer_file
    fs = load_features("dreamer", path, progress=False)
    expected = np.concatenate([
        ref_trial(stimuli[s][t].T, 0, 128.0, baseline=baselines[s][t].T, sfreq=128.0)
        for s in range(2) for t in range(3)
    ])
    np.testing.assert_allclose(fs.X, expected, rtol=0, atol=ATOL)


# --------------------------------------------------------------------------------------------
# SEED


@pytest.fixture
def seed_dir(tmp_path):
    folder = tmp_path / "Preprocessed_EEG"
    written = F.seed_folder(folder, trial_numbers=(1, 3, 10))
    return folder, written


def test_seed_windows_table_and_labels(seed_dir):
    folder, written = seed_dir
    fs = load_features("seed", folder, task="multi", progress=False)
    lengths = {t: x.shape[1] for t, x in written["1_20131027.mat"].items()}
    counts = {t: n_windows(n) for t, n in lengths.items()}
    assert counts == {1: 2, 3: 2, 10: 3}
    per_file = sum(counts.values())
    assert fs.X.dtype == np.float32 and fs.X.shape == (3 * per_file, 62, 4)
    assert resolve_channels(fs.ch_names) == resolve_channels(seed.CHANNELS)
    assert fs.sfreq == 200.0
    t = fs.table
    assert list(t.columns[:5]) == ["subject", "session", "trial", "window", "start"]
    assert t["subject"].tolist() == ["01"] * 2 * per_file + ["02"] * per_file
    # session = rank of the date among the subject's files
    assert t["session"].tolist() == [1] * per_file + [2] * per_file + [1] * per_file
    # trial keys are ordered by number (eeg10 after eeg3), and windows start at 0
    assert t["trial"].tolist()[:per_file] == [1, 1, 3, 3, 10, 10, 10]
    assert t["start"].tolist()[:per_file] == [0, 117, 0, 117, 0, 117, 234]
    # emotion = label + 1: label.mat has 1, -1, 1 for trials 1, 3, 10
    assert t["emotion"].tolist()[:per_file] == [1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0]
    assert fs.y.tolist()[:per_file] == [2, 2, 0, 0, 2, 2, 2]
    assert fs.class_names == ["negative", "neutral", "positive"] and fs.target == "emotion"
    assert fs.params["filter_sfreq"] == 200.0


def test_seed_bde_matches_reference_recipe_at_true_rate(seed_dir):
    folder, written = seed_dir
    fs = load_features("seed", folder / "2_20140404.mat", task="multi", progress=False)
    expected = np.concatenate([ref_trial(x, 0, 200.0) for _, x in sorted(
        written["2_20140404.mat"].items())])
    np.testing.assert_allclose(fs.X, expected, rtol=0, atol=ATOL)


def test_seed_reference_filter_switch(seed_dir):
    folder, written = seed_dir
    file = folder / "2_20140404.mat"
    true_rate = load_features("seed", file, task="multi", progress=False)
    reference = load_features("seed", file, task="multi", seed_reference_filters=True,
                              progress=False)
    assert reference.params["filter_sfreq"] == 128.0 and reference.sfreq == 200.0
    assert reference.X.shape == true_rate.X.shape
    assert np.abs(reference.X - true_rate.X).max() > 0.05
    trials = [x for _, x in sorted(written["2_20140404.mat"].items())]
    expected = np.concatenate([ref_trial(x, 0, 128.0) for x in trials])
    np.testing.assert_allclose(reference.X, expected, rtol=0, atol=ATOL)


def test_seed_binary_task_is_refused(seed_dir):
    with pytest.raises(ValueError, match="multi"):
        load_features("seed", seed_dir[0], task="binary", progress=False)


# --------------------------------------------------------------------------------------------
# Any recording MNE reads

ANNOTATIONS = [
    (1.0, 6.0, "happy"),  # 768 samples: 3 windows
    (8.0, 5.0, "sad"),  # 640 samples: 2 windows
    (14.0, 5.0, "happy"),
    (13.5, 1.0, "short"),  # shorter than a window: not a trial
    (2.0, 5.0, "BAD_muscle"),  # bad spans are not trials
]


def _check_annotation_trials(fs, path):
    assert fs.X.dtype == np.float32 and fs.X.shape == (7, len(F.RAW_CHANNELS), 4)
    # the names, whatever their case, resolve to template electrodes in the file's order
    assert resolve_channels(fs.ch_names) == ["Fp1", "Fp2", "F3", "F4", "Cz", "C3", "C4", "Pz",
                                             "O1", "O2"]
    t = fs.table
    assert t["trial"].tolist() == [1, 1, 1, 2, 2, 3, 3]
    assert t["window"].tolist() == [0, 1, 2, 0, 1, 0, 1]
    # start counts from the beginning of the recording (128 Hz, onsets 1 s, 8 s and 14 s)
    assert t["start"].tolist() == [128, 245, 362, 1024, 1141, 1792, 1909]
    assert t["annotation"].tolist() == ["happy"] * 3 + ["sad"] * 2 + ["happy"] * 2
    assert set(t["subject"]) == {path.stem}
    assert fs.target == "annotation" and fs.class_names == ["happy", "sad"]
    assert fs.y.tolist() == [0, 0, 0, 1, 1, 0, 0]
    # the values: the recipe on what MNE reads back from the file
    data = mne.io.read_raw(path, preload=True, verbose="error").get_data()
    expected = np.concatenate([
        ref_trial(data[:, int(on * 128) : int((on + dur) * 128)], 0, 128.0)
        for on, dur, _ in ANNOTATIONS[:3]
    ])
    np.testing.assert_allclose(fs.X, expected, rtol=0, atol=ATOL)


def test_fif_annotations_are_trials(tmp_path):
    path = F.save_fif(F.make_raw(annotations=ANNOTATIONS), tmp_path / "rec_raw.fif")
    fs = load_features("raw", path, task="binary", progress=False)
    _check_annotation_trials(fs, path)
    multi = load_features("raw", path, target="annotation", task="multi", progress=False)
    assert multi.y.tolist() == fs.y.tolist()


def test_edf_annotations_are_trials(tmp_path):
    pytest.importorskip("edfio", reason="MNE's EDF export needs edfio")
    path = F.save_edf(F.make_raw(annotations=ANNOTATIONS), tmp_path / "rec.edf")
    fs = load_features("raw", path, task="binary", progress=False)
    _check_annotation_trials(fs, path)


def test_stim_channel_events_are_trials(tmp_path):
    events = [(256, 1), (1280, 2), (2000, 1)]  # each trial runs to the next event
    path = F.save_fif(F.make_raw(stim_events=events), tmp_path / "events_raw.fif")
    fs = load_features("raw", path, task="binary", progress=False)
    assert fs.X.shape == (n_windows(1024) + n_windows(720) + n_windows(560), 10, 4)
    assert fs.table["trial"].tolist() == [1] * 5 + [2] * 2 + [3]
    assert fs.class_names == ["1", "2"]
    assert fs.y.tolist() == [0] * 5 + [1] * 2 + [0]
    data = mne.io.read_raw(path, preload=True, verbose="error").pick("eeg").get_data()
    np.testing.assert_allclose(fs.X[5:7], ref_trial(data[:, 1280:2000], 0, 128.0), atol=ATOL)


def test_recording_without_events_is_one_unlabelled_trial(tmp_path):
    path = F.save_fif(F.make_raw(seconds=20.0), tmp_path / "rest_raw.fif")
    fs = load_features("raw", path, progress=False)
    assert len(fs) == n_windows(20 * 128)
    assert fs.y is None and fs.target is None and fs.class_names is None
    assert fs.table["trial"].unique().tolist() == [1]
    data = mne.io.read_raw(path, preload=True, verbose="error").get_data()
    np.testing.assert_allclose(fs.X, ref_trial(data, 0, 128.0), rtol=0, atol=ATOL)


def test_recordings_are_resampled_to_raw_sfreq(tmp_path):
    path = F.save_fif(F.make_raw(sfreq=256.0, annotations=ANNOTATIONS[:1]), tmp_path / "a_raw.fif")
    at_128 = load_features("raw", path, progress=False, task="multi")
    assert at_128.sfreq == 128.0 and len(at_128) == n_windows(6 * 128)
    native = load_features("raw", path, raw_sfreq=None, progress=False, task="multi")
    assert native.sfreq == 256.0 and len(native) == n_windows(6 * 256)


def test_unknown_channel_is_named_and_can_be_mapped_or_dropped(tmp_path):
    names = ["Fp1", "Cz", "Xyz7", "O2"]
    path = F.save_fif(F.make_raw(names, annotations=ANNOTATIONS[:2]), tmp_path / "odd_raw.fif")
    with pytest.raises(UnknownChannelsError) as info:
        load_features("raw", path, progress=False)
    assert info.value.unknown == ["Xyz7"]
    assert "Xyz7" in str(info.value) and "odd_raw.fif" in str(info.value)
    mapped = load_features("raw", path, channel_map={"Xyz7": "oz"}, progress=False)
    assert resolve_channels(mapped.ch_names) == ["Fp1", "Cz", "Oz", "O2"]
    assert mapped.X.shape[1] == 4
    dropped = load_features("raw", path, drop_unknown=True, progress=False)
    assert dropped.ch_names == ["Fp1", "Cz", "O2"] and dropped.X.shape[1] == 3
    assert len(mapped) == len(dropped) == n_windows(768) + n_windows(640)
    # when no name is known, dropping leaves nothing: say so and how to map them
    odd = ["EEG 1-REF", "EEG 2-REF", "EEG 3-REF"]
    path = F.save_fif(F.make_raw(odd, annotations=ANNOTATIONS[:1]), tmp_path / "all_raw.fif")
    with pytest.raises(DataFormatError, match=r"all_raw.fif: none of its 3 EEG channels "
                       r"\(EEG 1-REF, EEG 2-REF, EEG 3-REF\).*--channel-map"):
        load_features("raw", path, drop_unknown=True, progress=False)


def test_recording_with_edf_style_names_needs_no_map(tmp_path):
    names = ["EEG FP1-REF", "EEG CZ-REF", "EEG T3-REF", "EEG O2-REF"]
    path = F.save_fif(F.make_raw(names, annotations=ANNOTATIONS[:2]), tmp_path / "tuh_raw.fif")
    fs = load_features("raw", path, progress=False)
    assert resolve_channels(fs.ch_names) == ["Fp1", "Cz", "T7", "O2"]


def test_folder_of_recordings_with_names_in_different_case(tmp_path):
    F.save_fif(F.make_raw(["Fp1", "Cz", "O2"], seconds=6.0), tmp_path / "a_raw.fif")
    F.save_fif(F.make_raw(["FP1", "cz", "o2"], seconds=6.0, seed=1), tmp_path / "b_raw.fif")
    fs = load_features("raw", tmp_path, progress=False)
    assert len(fs) == 2 * n_windows(6 * 128)
    assert resolve_channels(fs.ch_names) == ["Fp1", "Cz", "O2"]
    assert fs.table["subject"].unique().tolist() == ["a_raw", "b_raw"]


# --------------------------------------------------------------------------------------------
# The demo dataset


def test_demo_is_deap_files_read_by_the_deap_reader(demo_valence):
    fs, cache = demo_valence
    folder = cache / "demo" / f"v{demo.VERSION}"
    files = sorted(p.name for p in folder.glob("s*.dat"))
    assert files == [f"s{s:02d}.dat" for s in range(1, demo.N_SUBJECTS + 1)]
    rec = deap.read_file(folder / "s01.dat")
    assert len(rec.trials) == demo.N_TRIALS and rec.sfreq == 128.0
    per_trial = n_windows(384 + demo.STIMULUS_SECONDS * 128, 384)
    assert fs.X.shape == (demo.N_SUBJECTS * demo.N_TRIALS * per_trial, 32, 4)
    assert fs.X.dtype == np.float32 and fs.dataset == "demo"
    assert np.bincount(fs.y).tolist() == [len(fs) // 2] * 2


def test_demo_is_deterministic(demo_valence, rbt_cache):
    fs, cache = demo_valence
    assert cache != rbt_cache
    again = load_features("demo", progress=False)  # generated afresh in this test's cache
    assert (rbt_cache / "demo" / f"v{demo.VERSION}" / "COMPLETE").exists()
    np.testing.assert_array_equal(again.X, fs.X)
    assert again.y.tolist() == fs.y.tolist()
    shutil.rmtree(rbt_cache / "demo")


@pytest.mark.parametrize("target", ["valence", "arousal"])
def test_demo_planted_effects_are_the_largest_class_differences(demo_valence, target):
    fs = with_labels(dataclasses.replace(demo_valence[0]), target, "binary")
    diff = fs.X[fs.y == 1].mean(axis=0) - fs.X[fs.y == 0].mean(axis=0)  # (electrodes, bands)
    bands = list(fs.bands)
    order = np.argsort(-np.abs(diff), axis=None)[:6]
    top6 = {(fs.ch_names[i // len(bands)], bands[i % len(bands)]) for i in order}
    for cls, sign in (("high", 1), ("low", -1)):
        effect = PLANTED_EFFECTS[target][cls]
        for ch in effect["channels"]:
            cell = (ch, effect["band"])
            assert cell in top6, f"{target} {cls}: {cell} not among the top 6 {sorted(top6)}"
            value = diff[fs.ch_names.index(ch), bands.index(effect["band"])]
            assert np.sign(value) == sign


def test_demo_planted_electrodes_and_the_feature_set_lookups(demo_valence):
    fs, _ = demo_valence
    assert demo.planted_electrodes("demo", "valence") == {"alpha": ["F4", "AF4", "F8"],
                                                          "theta": ["F3", "AF3", "F7"]}
    assert demo.planted_electrodes("deap", "valence") == {}
    assert fs.subjects() == ["s01", "s02", "s03", "s04", "s05"]
    trials = fs.trials("s02")
    assert trials[0] == (1, 1) and len(trials) == 16
    rows = fs.trial_rows("s02", 1, 3)
    assert (fs.table.loc[rows, "window"].to_numpy() == np.arange(len(rows))).all()
    shuffled = fs.subset(np.random.default_rng(0).permutation(len(fs)))
    again = shuffled.trial_rows("s02", 1, 3)
    np.testing.assert_array_equal(shuffled.X[again], fs.X[rows])  # in window order
