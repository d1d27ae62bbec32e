"""Bad input stops with a clear error that names the file and says what was expected or found."""

from __future__ import annotations

import collections
import contextlib
import datetime
import os
import pickle
import shutil

import formats as F
import numpy as np
import pytest
import scipy.io

from rbt.cli import main
from rbt.data import DataFormatError, FeatureParams, deap, dreamer, load_features, seed


def load(source, path, **kw):
    kw.setdefault("task", "multi" if source == "seed" else "binary")
    return load_features(source, path, progress=False, use_cache=False, **kw)


@contextlib.contextmanager
def raises_naming(path, *fragments, exc=DataFormatError):
    """``pytest.raises`` whose message must contain the path and every fragment."""
    with pytest.raises(exc) as info:
        yield info
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


# --------------------------------------------------------------------------------------------
# Missing and unreadable paths


@pytest.mark.parametrize("source, expected", [
    ("deap", "data_preprocessed_python"), ("dreamer", "DREAMER.mat"),
    ("seed", "Preprocessed_EEG"), ("raw", "MNE"),
])
def test_missing_path(tmp_path, source, expected):
    missing = tmp_path / "nowhere" / "data"
    with raises_naming(missing, "no such file", expected):
        load(source, missing)


def test_folder_with_no_dataset_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with raises_naming(tmp_path, "sNN.dat", "found 1 other entries"):
        load("deap", tmp_path)
    with raises_naming(tmp_path, "<subject>_<yyyymmdd>.mat", "found 1 other entries"):
        load("seed", tmp_path)
    with raises_naming(tmp_path, "no EEG recordings"):
        load("raw", tmp_path)


def test_directory_where_a_file_is_expected(tmp_path):
    (tmp_path / "deap" / "s01.dat").mkdir(parents=True)
    with raises_naming(tmp_path / "deap" / "s01.dat", "cannot read"):
        load("deap", tmp_path / "deap")
    (tmp_path / "dreamer" / "DREAMER.mat").mkdir(parents=True)
    with raises_naming(tmp_path / "dreamer" / "DREAMER.mat", "expected DREAMER.mat"):
        load("dreamer", tmp_path / "dreamer" / "DREAMER.mat")
    F.write_seed_labels(tmp_path / "seed")
    (tmp_path / "seed" / "1_20131027.mat").mkdir()
    with raises_naming(tmp_path / "seed" / "1_20131027.mat", "not a readable MATLAB file"):
        load("seed", tmp_path / "seed")
    (tmp_path / "raw" / "rec_raw.fif").mkdir(parents=True)
    with raises_naming(tmp_path / "raw" / "rec_raw.fif", "is a folder"):
        load("raw", tmp_path / "raw")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    data, labels = F.deap_arrays(n_trials=1)
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    path.chmod(0)
    try:
        with raises_naming(path, "cannot read"):
            load("deap", path)
    finally:
        path.chmod(0o644)


def test_seed_needs_label_mat(tmp_path):
    F.seed_folder(tmp_path, files=("1_20131027.mat",), trial_numbers=(1,))
    (tmp_path / "label.mat").unlink()
    with raises_naming(tmp_path, "label.mat is missing"):
        load("seed", tmp_path)
    scipy.io.savemat(tmp_path / "label.mat", {"labels_of_something": np.ones((1, 15))})
    with raises_naming(tmp_path / "label.mat", "no 'label' variable"):
        load("seed", tmp_path)


def test_seed_path_that_is_another_file(tmp_path):
    other = tmp_path / "DREAMER.mat"
    scipy.io.savemat(other, {"DREAMER": np.ones(1)})
    with raises_naming(other, "not a SEED subject file", "Preprocessed_EEG/"):
        load("seed", other)


def test_recordings_with_different_channels_say_which(tmp_path):
    F.save_fif(F.make_raw(["Fp1", "Cz", "O2"], annotations=[(1, 6, "a")]), tmp_path / "a_raw.fif")
    b = F.save_fif(F.make_raw(["Fp1", "Cz", "Pz"], annotations=[(1, 6, "a")]),
                   tmp_path / "b_raw.fif")
    with raises_naming(b, "channels not in the first: Pz; missing: O2", "load them separately"):
        load("raw", tmp_path)


def _folder_with_bad_files(folder):
    """Three good recordings, one text file renamed .edf, one of other channels."""
    for name in ("a", "b", "c"):
        F.save_fif(F.make_raw(["Fp1", "Cz", "O2"], annotations=[(1, 6, name)]),
                   folder / f"{name}_raw.fif")
    (folder / "notes.edf").write_text("not a recording\n")
    F.save_fif(F.make_raw(["Fp1", "Cz", "Pz"], annotations=[(1, 6, "d")]), folder / "d_raw.fif")
    return folder


@pytest.mark.parametrize("read_ahead", [True, False])
def test_a_folder_can_leave_out_its_unreadable_files_and_say_which(tmp_path, read_ahead):
    folder = _folder_with_bad_files(tmp_path)
    with raises_naming(folder / "notes.edf", "not an EDF file"):
        load("raw", folder, read_ahead=read_ahead)  # strict by default
    fs = load("raw", folder, read_ahead=read_ahead, skip_unreadable=True, task="multi")
    assert sorted(set(fs.table["subject"])) == ["a_raw", "b_raw", "c_raw"]
    alone = load("raw", folder / "b_raw.fif", task="multi")
    np.testing.assert_array_equal(fs.X[fs.table["subject"].to_numpy() == "b_raw"], alone.X)
    (note,) = [n for n in fs.notes if "left out" in n]
    assert note.startswith(f"{folder.name}: left out 2 of its 5 recordings")
    assert f"{folder / 'notes.edf'}: " in note and "channels not in the first: Pz" in note
    # nothing readable: the first file's own error
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    for name in ("x", "y"):
        (only_bad / f"{name}.edf").write_text("text\n")
    with raises_naming(only_bad / "x.edf"):
        load("raw", only_bad, skip_unreadable=True)


def test_cli_skip_unreadable_reads_the_rest_and_notes_the_others(tmp_path, capsys):
    folder = _folder_with_bad_files(tmp_path / "recs")
    out = tmp_path / "f.npz"
    assert main(["features", "--source", "raw", "--path", str(folder), "--out", str(out),
                 "--no-cache"]) == 2
    assert not out.exists()
    capsys.readouterr()
    assert main(["features", "--source", "raw", "--path", str(folder), "--out", str(out),
                 "--no-cache", "--skip-unreadable"]) == 0
    err = capsys.readouterr().err
    assert "note: recs: left out 2 of its 5 recordings" in err and "notes.edf" in err
    assert out.exists()


def test_seed_more_trials_than_labels(tmp_path):
    F.write_seed_labels(tmp_path)
    rng = np.random.default_rng(0)
    file = F.write_seed_file(tmp_path / "4_20140101.mat",
                             {t: F.eeg_like(62, 700, 200.0, rng) for t in range(1, 17)})
    with raises_naming(file, "16 trials", "15 labels"):
        load("seed", tmp_path)


# --------------------------------------------------------------------------------------------
# A file of another dataset


@pytest.fixture
def dataset_files(tmp_path):
    """One small file of each kind, each alone in its own folder."""
    data, labels = F.deap_arrays(n_trials=1)
    stimuli, baselines, scores = F.dreamer_arrays(n_subjects=1, n_clips=1)
    files = {
        "deap": F.write_deap(tmp_path / "deap" / "s01.dat", data, labels),
        "dreamer": F.write_dreamer(tmp_path / "dreamer" / "DREAMER.mat", stimuli, baselines,
                                   scores),
        "fif": F.save_fif(F.make_raw(seconds=5.0), tmp_path / "fif" / "rec_raw.fif"),
        "random_mat": tmp_path / "other" / "random.mat",
    }
    files["random_mat"].parent.mkdir()
    scipy.io.savemat(files["random_mat"], {"spikes": np.arange(6.0).reshape(2, 3)})
    F.seed_folder(tmp_path / "seed", files=("1_20131027.mat",), trial_numbers=(1,))
    files["seed"] = tmp_path / "seed" / "1_20131027.mat"
    return files


@pytest.mark.parametrize("kind, source, fragments", [
    ("dreamer", "deap", ["not a readable DEAP .dat pickle"]),
    ("fif", "deap", ["not a readable DEAP .dat pickle"]),
    ("random_mat", "dreamer", ["no 'DREAMER' variable", "spikes"]),
    ("seed", "dreamer", ["no 'DREAMER' variable", "p0_eeg1"]),
    ("deap", "dreamer", ["not a readable MATLAB file"]),
    ("deap", "raw", ["MNE cannot read"]),
    ("random_mat", "raw", ["MNE cannot read"]),
])
def test_file_of_another_dataset(dataset_files, kind, source, fragments):
    path = dataset_files[kind]
    with raises_naming(path, *fragments):
        load(source, path)


def test_deap_file_given_to_the_seed_reader(dataset_files, tmp_path):
    folder = dataset_files["seed"].parent
    dat = shutil.copy(dataset_files["deap"], folder / "s01.dat")
    with raises_naming(dat, "not a SEED subject file"):
        load("seed", dat)
    with raises_naming(dat, "not a readable MATLAB file"):
        seed.read_file(dat)
    # a DEAP pickle named like a SEED file is still refused, and so is DREAMER.mat
    renamed = shutil.copy(dataset_files["deap"], folder / "2_20140101.mat")
    with raises_naming(renamed, "not a readable MATLAB file"):
        seed.read_file(renamed)
    dreamer_as_seed = shutil.copy(dataset_files["dreamer"], folder / "3_20140101.mat")
    with raises_naming(dreamer_as_seed, "no SEED trial variables", "DREAMER"):
        seed.read_file(dreamer_as_seed)


@pytest.mark.parametrize("obj, found", [
    ({"eeg": np.zeros((1, 40, 10))}, "keys ['eeg']"),
    ([np.zeros(3)], "list"),
    (np.zeros((3, 40, 10)), "ndarray"),
])
def test_pickle_that_is_not_a_deap_dict(tmp_path, obj, found):
    path = tmp_path / "s01.dat"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with raises_naming(path, "expected a DEAP dict with 'data' and 'labels'", found):
        deap.read_file(path)


# --------------------------------------------------------------------------------------------
# Truncated and corrupt files


@pytest.fixture
def deap_bytes(tmp_path):
    """A one-trial .dat as DEAP ships them (a Python-2 pickle)."""
    data, labels = F.deap_arrays(n_trials=1)
    path = F.write_deap(tmp_path / "orig" / "s01.dat", data, labels, py2=True)
    assert deap.read_file(path).trials  # intact, it loads
    return path.read_bytes()


@pytest.mark.parametrize("keep", [0.5, 0.999, 40, 2, 0])
def test_truncated_dat(tmp_path, deap_bytes, keep):
    n = int(len(deap_bytes) * keep) if isinstance(keep, float) else keep
    path = tmp_path / "s01.dat"
    path.write_bytes(deap_bytes[:n])
    with raises_naming(path, "not a readable DEAP .dat pickle", "truncated or corrupt"):
        load("deap", path)


@pytest.mark.parametrize("corrupt", [
    pytest.param(lambda b: b.replace(b"\x85", b"\x86", 1), id="opcode"),
    pytest.param(lambda b: b[:200] + bytes(range(256)) * 4 + b[200:], id="garbage-inside"),
    pytest.param(lambda b: b.replace(b"K\x00tb\x89", b"K\xbbtb\x89", 1), id="dtype-flags",
                 marks=pytest.mark.filterwarnings(
                     "ignore::pytest.PytestUnraisableExceptionWarning")),
    pytest.param(lambda b: b"\x80\x05\x96" + b"\xff" * 8 + b[11:], id="huge-length"),
])
def test_corrupt_dat(tmp_path, deap_bytes, corrupt):
    path = tmp_path / "s01.dat"
    damaged = corrupt(deap_bytes)
    assert damaged != deap_bytes
    path.write_bytes(damaged)
    with raises_naming(path, "not a readable DEAP .dat pickle"):
        load("deap", path)


@pytest.fixture
def dreamer_bytes(tmp_path):
    stimuli, baselines, scores = F.dreamer_arrays(n_subjects=1, n_clips=2)
    path = F.write_dreamer(tmp_path / "orig" / "DREAMER.mat", stimuli, baselines, scores)
    return path.read_bytes()


@pytest.mark.parametrize("keep", [
    0.5, 0.9, 200,
    100,
    10,
    0,
])
def test_truncated_mat(tmp_path, dreamer_bytes, keep):
    n = int(len(dreamer_bytes) * keep) if isinstance(keep, float) else keep
    path = tmp_path / "DREAMER.mat"
    path.write_bytes(dreamer_bytes[:n])
    with raises_naming(path, "not a readable MATLAB file"):
        load("dreamer", path)


@pytest.mark.parametrize("keep", [0.5, 10])
def test_truncated_seed_mat(tmp_path, keep):
    F.seed_folder(tmp_path, files=("1_20131027.mat",), trial_numbers=(1, 2))
    path = tmp_path / "1_20131027.mat"
    content = path.read_bytes()
    path.write_bytes(content[: int(len(content) * keep) if isinstance(keep, float) else keep])
    with raises_naming(path, "not a readable MATLAB file"):
        load("seed", tmp_path)


def test_corrupt_mat(tmp_path, dreamer_bytes):
    noise = np.random.default_rng(7).integers(0, 256, 1000, dtype=np.uint8).tobytes()
    path = tmp_path / "DREAMER.mat"
    path.write_bytes(dreamer_bytes[:300] + noise + dreamer_bytes[1300:])
    with raises_naming(path, "not a readable MATLAB file"):
        load("dreamer", path)
    path.write_bytes(np.random.default_rng(8).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with raises_naming(path, "not a readable MATLAB file"):
        load("dreamer", path)


# --------------------------------------------------------------------------------------------
# A pickle that tries to run code


class _Payload:
    """Unpickling this runs ``os.system(command)``."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _EvalPayload:
    def __init__(self, expr):
        self.expr = expr

    def __reduce__(self):
        return eval, (self.expr,)


def test_payload_is_live(tmp_path):
    """The payload used below really runs under plain pickle (so refusing it means something)."""
    sentinel = tmp_path / "PLAIN_PICKLE_RAN"
    pickle.loads(pickle.dumps(_Payload(f"touch {sentinel}"), protocol=2))
    assert sentinel.exists()


@pytest.mark.parametrize("where", ["top", "data", "labels"])
def test_pickle_with_code_is_refused_without_running_it(tmp_path, where):
    sentinel = tmp_path / "SENTINEL"
    payload = _Payload(f"touch {sentinel}")
    data, labels = F.deap_arrays(n_trials=1)
    obj = {"top": payload, "data": {"data": payload, "labels": labels},
           "labels": {"data": data, "labels": payload}}[where]
    path = tmp_path / "s01.dat"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with raises_naming(path, "refused to load", "system"):
        load("deap", path)
    assert not sentinel.exists()
    with raises_naming(path, "refused to load"):
        deap.read_file(path)
    assert not sentinel.exists()


def test_pickle_with_eval_is_refused(tmp_path):
    sentinel = tmp_path / "EVAL_RAN"
    path = tmp_path / "s01.dat"
    path.write_bytes(pickle.dumps(
        {"data": _EvalPayload(f"open({str(sentinel)!r}, 'w')"), "labels": np.zeros((1, 4))},
        protocol=2))
    with raises_naming(path, "refused to load", "eval"):
        load("deap", path)
    assert not sentinel.exists()


@pytest.mark.parametrize("value, refused", [
    (collections.OrderedDict(a=1), "collections.OrderedDict"),
    (datetime.date(2020, 1, 1), "datetime.date"),
    (np.float64(1.5).__class__, "numpy"),  # a class object, not an array
])
def test_pickle_with_other_objects_is_refused(tmp_path, value, refused):
    path = tmp_path / "s01.dat"
    path.write_bytes(pickle.dumps({"data": value, "labels": np.zeros((1, 4))}, protocol=2))
    with raises_naming(path, "refused to load", refused):
        deap.read_file(path)


# --------------------------------------------------------------------------------------------
# NaN and inf


@pytest.fixture
def deap_with_nan(tmp_path):
    data, labels = F.deap_arrays()
    clean = F.write_deap(tmp_path / "clean" / "s01.dat", data, labels)
    data[1, 5, 384 + 600] = np.nan  # trial 2, FC1: inside windows 1 and 2 (start 501, 618)
    return F.write_deap(tmp_path / "nan" / "s01.dat", data, labels), clean


def test_nan_raises_naming_trial_and_channel(deap_with_nan):
    path, _ = deap_with_nan
    with raises_naming(path, "trial 2", "FC1", "NaN/inf", "nonfinite"):
        load("deap", path)


def test_nan_drop_drops_only_affected_windows(deap_with_nan):
    path, clean = deap_with_nan
    fs = load("deap", path, params=FeatureParams(nonfinite="drop"))
    full = load("deap", clean)
    assert len(full) == 9 and len(fs) == 7
    kept = list(zip(fs.table["trial"], fs.table["window"]))
    assert kept == [(1, 0), (1, 1), (1, 2), (2, 0), (3, 0), (3, 1), (3, 2)]
    rows = [i for i, tw in enumerate(zip(full.table["trial"], full.table["window"])) if tw in kept]
    np.testing.assert_array_equal(fs.X, full.X[rows])
    assert fs.y.tolist() == full.y[rows].tolist()


def test_nan_in_baseline_drops_the_trial(tmp_path):
    data, labels = F.deap_arrays()
    data[2, 0, 100] = np.inf  # trial 3, Fp1, in the 3-s baseline
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    with raises_naming(path, "trial 3", "baseline", "Fp1"):
        load("deap", path)
    fs = load("deap", path, params=FeatureParams(nonfinite="drop"))
    assert fs.table["trial"].tolist() == [1, 1, 1, 2, 2, 2]


def test_nan_outside_the_eeg_channels_is_ignored(tmp_path):
    data, labels = F.deap_arrays()
    data[0, 35, 500:600] = np.nan  # a peripheral channel (32-39 are not EEG)
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    assert len(load("deap", path)) == 9


def test_all_nan_leaves_no_window(tmp_path):
    data, labels = F.deap_arrays()
    data[:, :32, 384:] = np.nan
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    with raises_naming(path, "no window survived"):
        load("deap", path, params=FeatureParams(nonfinite="drop"))


def test_dreamer_nan(tmp_path):
    stimuli, baselines, scores = F.dreamer_arrays()
    stimuli[1][0][300, 3] = np.nan  # subject 2, clip 1, FC5: windows 0, 1 and 2
    baselines[0][2][10, 0] = -np.inf  # subject 1, clip 3's baseline, AF3
    path = F.write_dreamer(tmp_path / "DREAMER.mat", stimuli, baselines, scores)
    with raises_naming(path, "trial 3", "baseline", "AF3"):
        load("dreamer", path)
    fs = load("dreamer", path, params=FeatureParams(nonfinite="drop"))
    assert len(fs) == 18 - 3 - 3
    assert sorted(set(zip(fs.table["subject"], fs.table["trial"]))) == [
        ("01", 1), ("01", 2), ("02", 2), ("02", 3)]


def test_seed_inf(tmp_path):
    written = F.seed_folder(tmp_path, files=("1_20131027.mat",), trial_numbers=(1, 2))
    x = written["1_20131027.mat"][2]
    x[61, 50] = np.inf  # trial 2, CB2, window 0 only
    F.write_seed_file(tmp_path / "1_20131027.mat", written["1_20131027.mat"], prefix="p0")
    path = tmp_path / "1_20131027.mat"
    with raises_naming(path, "trial 2", "CB2"):
        load("seed", tmp_path)
    fs = load("seed", tmp_path, params=FeatureParams(nonfinite="drop"))
    assert list(zip(fs.table["trial"], fs.table["window"])) == [(1, 0), (1, 1), (2, 1)]


# --------------------------------------------------------------------------------------------
# Too short, flat, or the wrong number of channels


def test_deap_trial_shorter_than_one_window(tmp_path):
    data, labels = F.deap_arrays(n_samples=384 + 500)
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    with raises_naming(path, "500 samples from sample 384", "one window needs 512"):
        load("deap", path)
    data, labels = F.deap_arrays(n_samples=300)
    path = F.write_deap(tmp_path / "s02.dat", data, labels)
    with raises_naming(path, "300 samples", "384-sample baseline"):
        load("deap", path)


def test_dreamer_clip_shorter_than_one_window(tmp_path):
    stimuli, baselines, scores = F.dreamer_arrays(n_subjects=1, n_clips=2, stim_samples=400)
    path = F.write_dreamer(tmp_path / "DREAMER.mat", stimuli, baselines, scores)
    with raises_naming(path, "400 samples", "one window needs 512"):
        load("dreamer", path)


def test_dreamer_baseline_shorter_than_one_second(tmp_path):
    stimuli, baselines, scores = F.dreamer_arrays(n_subjects=1, n_clips=2, base_samples=100)
    path = F.write_dreamer(tmp_path / "DREAMER.mat", stimuli, baselines, scores)
    with raises_naming(path, "baseline", "1 s", exc=ValueError):
        load("dreamer", path)


def test_seed_trial_shorter_than_one_window(tmp_path):
    F.seed_folder(tmp_path, files=("3_20140101.mat",), trial_numbers=(1,), n_samples=300)
    with raises_naming(tmp_path / "3_20140101.mat", "313 samples", "one window needs 512"):
        load("seed", tmp_path)


def test_flat_trial(tmp_path):
    data, labels = F.deap_arrays()
    data[2, :32] = 3.0
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    with raises_naming(path, "trial 3", "flat (constant)"):
        load("deap", path)


def test_deap_with_32_channels(tmp_path):
    data, labels = F.deap_arrays()
    path = F.write_deap(tmp_path / "s01.dat", data[:, :32], labels)
    with raises_naming(path, "40 channels", "(3, 32, 1130)"):
        load("deap", path)


def test_deap_labels_do_not_match_trials(tmp_path):
    data, labels = F.deap_arrays()
    path = F.write_deap(tmp_path / "s01.dat", data, labels[:2])
    with raises_naming(path, "3 trials x 4 ratings", "(2, 4)"):
        load("deap", path)


def test_dreamer_with_13_channels(tmp_path):
    stimuli, baselines, scores = F.dreamer_arrays(n_channels=13)
    path = F.write_dreamer(tmp_path / "DREAMER.mat", stimuli, baselines, scores)
    with raises_naming(path, "samples x 14 channels", f"({F.DREAMER_STIM}, 13)"):
        load("dreamer", path)


def test_dreamer_baseline_with_13_channels(tmp_path):
    stimuli, baselines, scores = F.dreamer_arrays(n_subjects=1, n_clips=2)
    baselines[0][1] = baselines[0][1][:, :13]
    path = F.write_dreamer(tmp_path / "DREAMER.mat", stimuli, baselines, scores)
    with raises_naming(path, "clip 2 baseline", "14 channels"):
        dreamer.read_file(path)


def test_seed_with_61_rows(tmp_path):
    F.seed_folder(tmp_path, files=("3_20140101.mat",), trial_numbers=(1,), n_channels=61)
    with raises_naming(tmp_path / "3_20140101.mat", "62 channels", "(61, "):
        load("seed", tmp_path)


# --------------------------------------------------------------------------------------------
# The CLI turns these errors into one line and exit code 2


def _error_lines(err: str) -> list[str]:
    """stderr without tqdm's progress bars."""
    return [line for line in err.splitlines() if line.strip() and "%|" not in line]


def test_cli_missing_path(tmp_path, capsys):
    missing = tmp_path / "no_such_folder"
    out = tmp_path / "f.npz"
    code = main(["features", "--source", "deap", "--path", str(missing), "--out", str(out)])
    assert code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("rbt features: error:") and str(missing) in lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()


def test_cli_bad_file(tmp_path, capsys):
    path = tmp_path / "s01.dat"
    path.write_bytes(b"\x80\x02}q\x00(")  # a pickle cut short
    code = main(["features", "--source", "deap", "--path", str(path), "--out",
                 str(tmp_path / "f.npz")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = _error_lines(err)
    assert len(lines) == 1, err
    assert lines[0].startswith("rbt features: error:")
    assert str(path) in lines[0] and "truncated or corrupt" in lines[0]


def test_cli_error_from_mne_is_one_line(tmp_path, capsys):
    data, labels = F.deap_arrays(n_trials=1)
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    code = main(["features", "--source", "raw", "--path", str(path), "--out",
                 str(tmp_path / "f.npz")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = _error_lines(err)
    assert len(lines) == 1, err
    assert str(path) in lines[0] and "MNE cannot read" in lines[0]


@pytest.mark.parametrize("suffix", [".edf", ".bdf"])
def test_an_empty_renamed_or_cut_header_edf_says_which(tmp_path, suffix):
    from rbt.data.raw import open_recording

    kind = suffix[1:].upper()
    empty = tmp_path / f"empty{suffix}"
    empty.write_bytes(b"")
    with raises_naming(empty, "the file is empty (0 bytes)"):
        open_recording(empty)
    notes = tmp_path / f"notes{suffix}"
    notes.write_text("Minutes of the lab meeting\n")
    with raises_naming(notes, f"not an {kind} file", "starts with text", "'Minutes of the lab"):
        open_recording(notes)
    real = F.write_biosemi_bdf(tmp_path / "real.bdf", {"Fp1": np.zeros(512)}) \
        if suffix == ".bdf" else F.save_edf(F.make_raw(["Fp1", "Fz"], seconds=4),
                                            tmp_path / "real.edf")
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(real.read_bytes()[:200])
    with raises_naming(cut, "the file is 200 bytes", f"shorter than an {kind} header"):
        open_recording(cut)
    assert open_recording(real).ch_names[0] == "Fp1"  # a whole file still opens
