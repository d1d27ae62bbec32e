"""Hostile inputs to the CLI and the shared pipeline: ratings, recordings, numbers, outputs.

Every hostile file is built here; blow-ups are caught by the ``memory_limit`` fixture and
anything that could block (FIFOs) runs in a subprocess with a timeout.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import formats as F
import mne
import numpy as np
import pandas as pd
import pytest

from rbt.cli import main
from rbt.data import DataFormatError, FeatureParams, LabelError, load_features
from rbt.safeio import OutputPathError, check_output, spreadsheet_safe

ROOT = Path(__file__).resolve().parents[1]


def load(source, path, **kw):
    kw.setdefault("task", "binary")
    return load_features(source, path, progress=False, use_cache=False, **kw)


def cli(*args) -> subprocess.CompletedProcess:
    """``rbt`` in a subprocess (so a blocking read fails the test by timeout, not by hanging)."""
    return subprocess.run([sys.executable, "-m", "rbt.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


# --------------------------------------------------------------------------------------------
# Ratings never silently become classes


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("task", ["binary", "multi"])
def test_non_finite_rating_is_an_error_naming_the_trial(tmp_path, bad, task, memory_limit):
    data, labels = F.deap_arrays()
    labels[1, 0] = bad
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    with pytest.raises(LabelError) as info:
        load("deap", path, task=task)
    message = str(info.value)
    assert "s01.dat" in message and "trial 2" in message and "valence" in message, message
    assert "1 to 9" in message


def test_nan_rating_trial_is_dropped_and_reported_under_nonfinite_drop(tmp_path):
    data, labels = F.deap_arrays()
    labels[1, 0] = np.nan
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    full = load("deap", path, target="arousal")  # another target's NaN does not matter
    fs = load("deap", path, params=FeatureParams(nonfinite="drop"))
    assert sorted(fs.table["trial"].unique()) == [1, 3]
    assert len(fs) == len(full) - int((full.table["trial"] == 2).sum())
    assert len(fs.notes) == 1 and "trial 2" in fs.notes[0] and "valence" in fs.notes[0]
    with pytest.raises(LabelError, match="--nonfinite drop"):
        load("deap", path)


def test_cli_reports_dropped_trials(tmp_path, capsys):
    data, labels = F.deap_arrays()
    labels[0, 0] = np.nan
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    out = tmp_path / "f.npz"
    assert main(["features", "--source", "deap", "--path", str(path), "--out", str(out)]) == 2
    assert "trial 1" in capsys.readouterr().err
    assert not out.exists()
    assert main(["features", "--source", "deap", "--path", str(path), "--out", str(out),
                 "--nonfinite", "drop"]) == 0
    err = capsys.readouterr().err
    assert "note: left out" in err and "trial 1" in err


@pytest.mark.parametrize("rating", [0.5, 9.01, 42.0, -1.0])
def test_deap_rating_off_the_scale_is_not_clipped(tmp_path, rating):
    data, labels = F.deap_arrays()
    labels[2, 1] = rating
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    with pytest.raises(LabelError) as info:
        load("deap", path, target="arousal", task="multi")
    assert "trial 3" in str(info.value) and f"{rating:g}" in str(info.value)
    assert "clip" in str(info.value)


def test_dreamer_rating_that_is_not_a_whole_number_is_refused(tmp_path):
    stimuli, baselines, scores = F.dreamer_arrays(n_subjects=1, n_clips=2)
    scores["ScoreValence"][0][1] = 2.5
    path = F.write_dreamer(tmp_path / "DREAMER.mat", stimuli, baselines, scores)
    with pytest.raises(LabelError, match="whole numbers from 1 to 5"):
        load("dreamer", path)


def test_ratings_on_the_scale_still_give_the_documented_classes(tmp_path):
    data, labels = F.deap_arrays()
    labels[:, 0] = [1.0, 4.99, 9.0]
    fs = load("deap", F.write_deap(tmp_path / "s01.dat", data, labels), task="multi")
    per_trial = pd.Series(fs.y).groupby(fs.table["trial"]).first().tolist()
    assert per_trial == [0, 3, 8]


# --------------------------------------------------------------------------------------------
# Recordings: flat channels, truncated or unscalable EDF, headers that point elsewhere


def test_flat_channel_in_a_recording_is_an_error(tmp_path):
    raw = F.make_raw(seconds=20)
    raw._data[3] = 0.0  # a disconnected electrode
    path = F.save_fif(raw, tmp_path / "rec_raw.fif")
    with pytest.raises(DataFormatError) as info:
        load("raw", path, task="multi")
    assert str(path) in str(info.value) and "f4" in str(info.value)
    assert "flat" in str(info.value)


def test_truncated_edf_is_refused_not_half_read(tmp_path):
    path = F.save_edf(F.make_raw(seconds=20), tmp_path / "rec.edf")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="truncated") as info:
        load("raw", path, task="multi")
    assert str(path) in str(info.value)


def test_edf_channel_with_equal_digital_min_and_max_is_refused(tmp_path):
    path = F.save_edf(F.make_raw(seconds=20), tmp_path / "rec.edf")
    header = bytearray(path.read_bytes())
    ns = int(header[252:256])
    digmin = 256 + ns * (16 + 80 + 8 + 8 + 8)  # EDF header: per-signal fields, 8 chars each
    digmax = digmin + 8 * ns
    header[digmax : digmax + 8] = header[digmin : digmin + 8]
    path.write_bytes(bytes(header))
    with pytest.raises(DataFormatError, match="digital minimum and maximum") as info:
        load("raw", path, task="multi")
    assert "FP1" in str(info.value)


def write_brainvision(folder: Path, data_file: str, marker_file: str = "rec.vmrk",
                      n_channels: int = 3, seconds: float = 10.0) -> Path:
    """A minimal BrainVision recording (header, markers, float32 samples) whose header names
    ``data_file`` and ``marker_file`` as they are written."""
    folder.mkdir(parents=True, exist_ok=True)
    names = ["Fp1", "Fp2", "Cz", "Pz", "O1", "O2"][:n_channels]
    rng = np.random.default_rng(0)
    samples = (rng.standard_normal((int(128 * seconds), n_channels)) * 10).astype("<f4")
    (folder / "rec.eeg").write_bytes(samples.tobytes())
    (folder / "rec.vmrk").write_text(
        "Brain Vision Data Exchange Marker File, Version 1.0\n[Common Infos]\n"
        "Codepage=UTF-8\nDataFile=rec.eeg\n[Marker Infos]\n")
    channels = "".join(f"Ch{i + 1}={n},,1,µV\n" for i, n in enumerate(names))
    header = folder / "rec.vhdr"
    header.write_text(
        "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={data_file}\nMarkerFile={marker_file}\nDataFormat=BINARY\n"
        f"DataOrientation=MULTIPLEXED\nNumberOfChannels={n_channels}\n"
        "SamplingInterval=7812.5\n[Binary Infos]\nBinaryFormat=IEEE_FLOAT_32\n"
        f"[Channel Infos]\n{channels}")
    return header


def test_brainvision_recording_beside_its_header_is_read(tmp_path):
    fs = load("raw", write_brainvision(tmp_path / "ok", "rec.eeg"), task="multi")
    assert fs.ch_names == ["Fp1", "Fp2", "Cz"] and len(fs) > 0


@pytest.mark.parametrize("reference", ["../../../../../../etc/passwd", "/etc/passwd",
                                       "../secret/rec.eeg"])
@pytest.mark.parametrize("field", ["data", "marker"])
def test_brainvision_header_may_not_point_outside_its_folder(tmp_path, reference, field):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "rec.eeg").write_bytes(np.zeros(3 * 1280, "<f4").tobytes())
    kw = {"data_file": reference} if field == "data" else {"data_file": "rec.eeg",
                                                           "marker_file": reference}
    header = write_brainvision(tmp_path / "rec", **kw)
    with pytest.raises(DataFormatError, match="outside its own folder") as info:
        load("raw", header, task="multi")
    assert "root:" not in str(info.value)
    result = cli("features", "--source", "raw", "--path", header, "--out", tmp_path / "f.npz")
    assert result.returncode == 2 and "outside its own folder" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "f.npz").exists()


def test_brainvision_symlinked_data_file_leading_outside_is_refused(tmp_path):
    header = write_brainvision(tmp_path / "rec", "link.eeg")
    (tmp_path / "rec" / "link.eeg").symlink_to("/etc/passwd")
    with pytest.raises(DataFormatError, match="outside its own folder"):
        load("raw", header, task="multi")


def test_fifo_as_data_never_blocks(tmp_path):
    fifo = tmp_path / "s01.dat"
    os.mkfifo(fifo)
    for source in ("deap", "raw"):
        result = cli("features", "--source", source, "--path", fifo, "--out",
                     tmp_path / "f.npz")
        assert result.returncode == 2, result.stderr
        assert "FIFO" in result.stderr and "Traceback" not in result.stderr
    header = write_brainvision(tmp_path / "rec", "rec.eeg")
    (tmp_path / "rec" / "rec.eeg").unlink()
    os.mkfifo(tmp_path / "rec" / "rec.eeg")
    result = cli("features", "--source", "raw", "--path", header, "--out", tmp_path / "g.npz")
    assert result.returncode == 2 and "FIFO" in result.stderr, result.stderr


# --------------------------------------------------------------------------------------------
# Numbers on the command line: 0 is never a default, absurd sizes are refused up front


@pytest.mark.parametrize("args, says", [
    (["features", "--stride", "0"], "--stride: must be at least 1"),
    (["features", "--window", "0"], "--window: must be at least 2"),
    (["features", "--window", "-5"], "--window: must be at least 2"),
    (["features", "--raw-sfreq", "1e6"], "--raw-sfreq: must be at least 100"),
    (["features", "--raw-sfreq", "-128"], "--raw-sfreq"),
    (["train", "--epochs", "-3"], "--epochs: must be at least 1"),
    (["train", "--epochs", "0"], "--epochs: must be at least 1"),
    (["train", "--folds", "1"], "--folds: must be at least 2"),
    (["train", "--batch-size", "0"], "--batch-size: must be at least 1"),
    (["train", "--lr", "nan"], "--lr"),
    (["explain", "--model", "m", "--internal-batch-size", "0"], "--internal-batch-size"),
    (["explain", "--model", "m", "--n-steps", "1000000"], "--n-steps: must be from 1 to 1000"),
])
def test_bad_numbers_are_refused_before_any_work(tmp_path, capsys, args, says):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main([*args, "--out", str(out)])
    assert info.value.code == 2
    assert says in capsys.readouterr().err
    assert not out.exists()


def test_library_refuses_absurd_resampling_and_integration_steps(tmp_path, memory_limit):
    from rbt.explain.attribution import MAX_SAMPLES, resolve_options

    path = F.save_fif(F.make_raw(seconds=10), tmp_path / "rec_raw.fif")
    with pytest.raises(ValueError, match="4096 Hz"):
        load("raw", path, raw_sfreq=1e6)
    with pytest.raises(ValueError, match=f"1 to {MAX_SAMPLES}"):
        resolve_options("integrated_gradients", False, {"n_steps": 10**6})


@pytest.mark.parametrize("content, says", [
    ('["EEG 1", "Fp1"]', "found list"),
    ('{"EEG 1": 3}', "not all strings"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("{not json", "not valid JSON"),
])
def test_channel_map_that_is_not_a_mapping(tmp_path, capsys, content, says):
    path = F.save_fif(F.make_raw(seconds=10), tmp_path / "rec_raw.fif")
    mapping = tmp_path / "map.json"
    mapping.write_text(content)
    code = main(["features", "--source", "raw", "--path", str(path), "--channel-map",
                 str(mapping), "--out", str(tmp_path / "f.npz")])
    err = capsys.readouterr().err
    assert code == 2 and str(mapping) in err and says in err, err


# --------------------------------------------------------------------------------------------
# Outputs: only regular files are replaced, never through a symlink, never an input


def _features(tmp_path, *extra) -> int:
    data, labels = F.deap_arrays()
    path = F.write_deap(tmp_path / "in" / "s01.dat", data, labels)
    return main(["features", "--source", "deap", "--path", str(path), *map(str, extra)])


def test_force_never_replaces_a_fifo_or_a_device(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert _features(tmp_path, "--out", fifo, "--force") == 2
    assert "FIFO" in capsys.readouterr().err and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    if os.geteuid() == 0:  # a device node needs root to make
        dev = tmp_path / "null"
        os.mknod(dev, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        assert _features(tmp_path, "--out", dev, "--force") == 2
        assert "character device" in capsys.readouterr().err
        assert stat.S_ISCHR(os.lstat(dev).st_mode)


@pytest.mark.parametrize("force", [False, True])
def test_symlink_at_out_is_never_written_through_or_replaced(tmp_path, capsys, force):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    for link, points_to in ((tmp_path / "dangling.npz", tmp_path / "nowhere.npz"),
                            (tmp_path / "link.npz", target)):
        link.symlink_to(points_to)
        assert _features(tmp_path, "--out", link, *(["--force"] if force else [])) == 2
        assert "symlink" in capsys.readouterr().err
        assert link.is_symlink() and os.readlink(link) == str(points_to)
    assert target.read_text() == "keep me" and not (tmp_path / "nowhere.npz").exists()


def test_out_equal_to_an_input_is_refused_even_with_force(tmp_path, capsys):
    data, labels = F.deap_arrays()
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    before = path.read_bytes()
    assert main(["features", "--source", "deap", "--path", str(path), "--out", str(path),
                 "--force"]) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    assert path.read_bytes() == before
    folder_file = tmp_path / "notes.npz"  # an existing file inside an input folder
    folder_file.write_bytes(b"x")
    assert main(["features", "--source", "deap", "--path", str(tmp_path), "--out",
                 str(folder_file), "--force"]) == 2
    assert folder_file.read_bytes() == b"x"


def test_check_output_allows_new_and_forced_regular_files(tmp_path):
    new = tmp_path / "sub" / "new.npz"
    assert check_output(new) == new
    existing = tmp_path / "old.csv"
    existing.write_text("x")
    with pytest.raises(FileExistsError):
        check_output(existing)
    assert check_output(existing, force=True, inputs=[tmp_path / "data"]) == existing
    with pytest.raises(OutputPathError):
        check_output(tmp_path, force=True)


def test_train_refuses_an_unusable_out_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["train", "--out", str(blocker), "--epochs", "1"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["train", "--out", str(blocker / "sub"), "--epochs", "1"]) == 2
    assert "cannot write there" in capsys.readouterr().err
    assert blocker.read_text() == "not a folder"


@pytest.fixture
def small_disk(tmp_path):
    """A 96 KiB tmpfs: enough for training progress, too small for a checkpoint."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_at_the_end_of_training_keeps_the_model(small_disk, tmp_path, monkeypatch,
                                                          demo_valence, capsys):
    from rbt.checkpoint import load_checkpoint

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # let TMPDIR take effect in this process
    _, cache = demo_valence
    monkeypatch.setenv("RBT_CACHE_DIR", str(cache))
    out = small_disk / "model"
    code = main(["train", "--out", str(out), "--epochs", "1", "--folds", "2", "--embed-dim",
                 "64", "--depth", "2", "--heads", "2", "--head-dim", "16", "--mlp-hidden-dim",
                 "64", "--split", "window-kfold"])
    err = capsys.readouterr().err
    assert code == 2 and "could not write the trained model" in err, err
    rescued = [p for p in (tmp_path / "tmp").iterdir() if p.name.startswith("rbt-rescued-")]
    assert len(rescued) == 1 and str(rescued[0]) in err
    rescued_model = load_checkpoint(rescued[0])
    assert rescued_model.config.embed_dim == 64 and rescued_model.card.target == "valence"
    assert (rescued[0] / "metrics.json").exists()
    assert (out / "progress.json").exists()  # the folds are not lost either
    assert not (out / "model.safetensors").exists()


# --------------------------------------------------------------------------------------------
# CSV cells that a spreadsheet would evaluate


def test_spreadsheet_safe_neutralises_formulas_but_not_numbers():
    frame = pd.DataFrame({"subject": ["=HYPERLINK(\"http://x\",\"y\")", "s01", "+1", "@a"],
                          "=cmd": [-0.5, 0.1, 0.2, 0.3], "window": [-1, 0, 1, 2]})
    safe = spreadsheet_safe(frame)
    assert safe["subject"].tolist() == ["'=HYPERLINK(\"http://x\",\"y\")", "s01", "'+1", "'@a"]
    assert list(safe.columns) == ["subject", "'=cmd", "window"]
    assert safe["window"].tolist() == [-1, 0, 1, 2] and safe["'=cmd"].iloc[0] == -0.5
    assert frame["subject"].iloc[0].startswith("=")  # the input is not changed


def test_predictions_csv_from_hostile_annotations_is_safe(tmp_path, capsys):
    annotations = [(0, 10, '=HYPERLINK("http://evil/","x")'), (10, 10, "+calm")]
    path = F.save_fif(F.make_raw(seconds=20, annotations=annotations), tmp_path / "=1_raw.fif")
    model = tmp_path / "model"
    assert main(["train", "--source", "raw", "--path", str(path), "--task", "binary", "--out",
                 str(model), "--epochs", "1", "--folds", "2", "--split", "window-kfold",
                 "--embed-dim", "16", "--depth", "1", "--heads", "1", "--head-dim", "8",
                 "--mlp-hidden-dim", "16"]) == 0
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(model), "--source", "raw", "--path", str(path),
                 "--out", str(out)]) == 0
    text = out.read_text()
    for line in text.splitlines():
        for cell in line.split(","):
            assert not cell.lstrip('"').startswith(("=", "+", "@")), line
    assert "'=HYPERLINK" in text and "'+calm" in text and "'=1_raw" in text


def test_recording_whose_resampling_would_explode_is_refused(tmp_path, memory_limit):
    raw = F.make_raw(sfreq=128.0, seconds=20)
    info = mne.create_info(raw.ch_names, 0.1, "eeg")
    slow = mne.io.RawArray(np.tile(raw.get_data(), 16), info, verbose="error")
    path = F.save_fif(slow, tmp_path / "slow_raw.fif")
    with pytest.raises(DataFormatError, match="would hold at 128 Hz") as err:
        load("raw", path, task="multi")
    assert str(path) in str(err.value)


def test_duplicated_annotations_cannot_multiply_the_work(tmp_path, memory_limit):
    annotations = [(0, 19.9, "same")] * 50
    path = F.save_fif(F.make_raw(seconds=20, annotations=annotations), tmp_path / "dup_raw.fif")
    with pytest.raises(DataFormatError, match="cover the recording 50 times"):
        load("raw", path, task="multi")


def test_train_refuses_a_stride_its_checkpoint_could_not_be_loaded_with(tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["train", "--stride", "1", "--out", str(out), "--epochs", "1",
                 "--no-cache"]) == 2
    assert "stride 1 is too small" in capsys.readouterr().err
    assert not (out / "progress.json").exists()


def mat_zlib_bomb(path: Path, rows: int = 1000, cols: int = 200_000) -> Path:
    """A MAT v5 file holding one compressed double array of zeros, written in a stream so the
    test never holds the inflated bytes (rows x cols x 8: 1.6 GB by default)."""
    import struct
    import zlib

    data = rows * cols * 8
    inner = (struct.pack("<II", 6, 8) + struct.pack("<II", 6, 0)  # array flags: double
             + struct.pack("<II", 5, 8) + struct.pack("<ii", rows, cols)  # dims
             + struct.pack("<II", 1, 3) + b"EEG\0\0\0\0\0"  # name
             + struct.pack("<II", 9, data))  # the real part's tag
    z = zlib.compressobj(9)
    chunks = [z.compress(struct.pack("<II", 14, len(inner) + data) + inner)]
    zeros = bytes(1 << 24)
    for start in range(0, data, len(zeros)):
        chunks.append(z.compress(zeros[: min(len(zeros), data - start)]))
    chunks.append(z.flush())
    body = b"".join(chunks)
    header = b"MATLAB 5.0 MAT-file, rbt test".ljust(116) + bytes(8) + b"\x00\x01IM"
    path.write_bytes(header + struct.pack("<II", 15, len(body)) + body)
    return path


def test_eeglab_set_zlib_bomb_is_refused_before_mne_inflates_it(tmp_path, memory_limit):
    path = mat_zlib_bomb(tmp_path / "bomb.set")
    assert path.stat().st_size < 8 * 1024**2
    with pytest.raises(DataFormatError, match="zlib bomb") as info:
        load("raw", path, task="multi")
    assert str(path) in str(info.value)


def test_gzip_bomb_named_fif_gz_is_refused_before_mne_inflates_it(tmp_path, memory_limit):
    import gzip

    path = tmp_path / "bomb_raw.fif.gz"
    zeros = bytes(1 << 24)
    with gzip.open(path, "wb", compresslevel=9) as fh:
        for _ in range(72):  # 1.2 GB of zeros in about 1 MB
            fh.write(zeros)
    with pytest.raises(DataFormatError, match="gzip bomb") as info:
        load("raw", path, task="multi")
    assert str(path) in str(info.value)


def test_brainvision_with_a_stale_marker_file_name_still_reads(tmp_path):
    header = write_brainvision(tmp_path / "rec", "rec.eeg", marker_file="renamed.vmrk")
    fs = load("raw", header, task="multi")  # MNE falls back to rec.vmrk beside the header
    assert len(fs) > 0


def test_out_may_not_replace_a_companion_file_of_the_input(tmp_path, capsys):
    header = write_brainvision(tmp_path / "rec", "rec.eeg")
    data = (tmp_path / "rec" / "rec.eeg").read_bytes()
    other = tmp_path / "elsewhere"  # the recording given by a path outside its own folder
    assert main(["features", "--source", "raw", "--path", str(header), "--out",
                 str(tmp_path / "rec" / "rec.eeg"), "--force"]) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    assert (tmp_path / "rec" / "rec.eeg").read_bytes() == data
    F.seed_folder(other)
    label = other / "label.mat"
    before = label.read_bytes()
    assert main(["features", "--source", "seed", "--path", str(other / "1_20131027.mat"),
                 "--out", str(label), "--force"]) == 2
    assert label.read_bytes() == before


@pytest.mark.parametrize("line", ["DataFile: {target}", "DataFile : {target}"])
def test_brainvision_colon_separated_reference_is_checked_as_mne_reads_it(tmp_path, line):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    header = write_brainvision(tmp_path / "rec", "rec.eeg")
    text = header.read_text().replace("DataFile=rec.eeg", line.format(target=fifo))
    header.write_text(text)
    result = cli("features", "--source", "raw", "--path", header, "--out", tmp_path / "f.npz")
    assert result.returncode == 2 and "outside its own folder" in result.stderr, result.stderr


@pytest.mark.parametrize("sfreq", [3.0, 1e20])
def test_dreamer_sampling_rate_that_no_filter_can_use_is_an_error(tmp_path, sfreq):
    stimuli, baselines, scores = F.dreamer_arrays(n_subjects=1, n_clips=2)
    path = F.write_dreamer(tmp_path / "DREAMER.mat", stimuli, baselines, scores, sfreq=sfreq)
    with pytest.raises(DataFormatError, match="is not usable") as info:
        load("dreamer", path)
    assert str(path) in str(info.value)


def test_weights_that_overflow_give_an_error_not_a_score(tmp_path, capsys, demo_valence,
                                                         monkeypatch):
    import shutil

    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "huge"
    shutil.copytree(ROOT / "assets" / "demo-checkpoint", folder)
    weights = {k: v * np.float32(1e30) if v.ndim == 2 else v
               for k, v in load_file(folder / "model.safetensors").items()}
    assert all(np.isfinite(v).all() for v in weights.values())
    save_file(weights, folder / "model.safetensors")
    _, cache = demo_valence
    monkeypatch.setenv("RBT_CACHE_DIR", str(cache))
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(folder), "--out", str(out)]) == 2
    assert "not finite" in capsys.readouterr().err and not out.exists()
