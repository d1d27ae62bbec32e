"""The feature cache (hits, invalidation, damage, atomic writes) and ``rbt features``."""

from __future__ import annotations

import json
import os

import formats as F
import numpy as np
import pandas as pd
import pytest

from rbt import cache
from rbt.cli import main
from rbt.data import FeatureParams, deap, load_features


@pytest.fixture
def reads(monkeypatch):
    """Count calls to the real DEAP reader (it still does all the work)."""
    calls = []
    real = deap.read_file

    def counting(file, *args, **kwargs):
        calls.append(file)
        return real(file, *args, **kwargs)

    monkeypatch.setattr(deap, "read_file", counting)
    return calls


@pytest.fixture
def deap_dir(tmp_path):
    return F.deap_folder(tmp_path / "deap", subjects=(1, 2))


def feature_files(cache_dir):
    return sorted((cache_dir / "features").glob("*.npz"))


def error_lines(err: str) -> list[str]:
    """stderr without tqdm's progress bars."""
    return [line for line in err.splitlines() if line.strip() and "%|" not in line]


def no_temp_files(folder):
    leftovers = [p for p in folder.rglob("*") if p.name.startswith(".")]
    assert leftovers == [], leftovers


def test_second_call_hits_the_cache(deap_dir, reads, rbt_cache):
    first = load_features("deap", deap_dir, progress=False)
    assert len(reads) == 2
    assert len(feature_files(rbt_cache)) == 2  # one entry per source file
    second = load_features("deap", deap_dir, progress=False)
    assert len(reads) == 2  # nothing was read again
    np.testing.assert_array_equal(second.X, first.X)
    assert second.X.dtype == np.float32
    np.testing.assert_array_equal(second.y, first.y)
    assert second.ch_names == first.ch_names and second.sfreq == first.sfreq
    pd.testing.assert_frame_equal(second.table, first.table, check_dtype=False)
    assert second.table.columns.tolist() == first.table.columns.tolist()


def test_on_file_reports_each_file_then_the_end(deap_dir, rbt_cache):
    calls = []
    load_features("deap", deap_dir, progress=False, on_file=lambda *a: calls.append(a))
    names = sorted(p.name for p in deap_dir.iterdir())
    assert calls == [(0, 2, names[0]), (1, 2, names[1]), (2, 2, "")]


def test_relabelling_uses_the_same_cache_entry(deap_dir, reads, rbt_cache):
    load_features("deap", deap_dir, progress=False)
    fs = load_features("deap", deap_dir, target="arousal", task="multi", progress=False)
    assert len(reads) == 2 and len(feature_files(rbt_cache)) == 2
    assert fs.y.tolist() == [0, 0, 0, 8, 8, 8, 4, 4, 4] * 2


def test_changed_content_invalidates_and_same_content_does_not(deap_dir, reads, rbt_cache):
    first = load_features("deap", deap_dir, progress=False)
    # rewrite s02.dat with identical bytes: new mtime, same content -> still a hit
    s02 = deap_dir / "s02.dat"
    s02.write_bytes(s02.read_bytes())
    os.utime(s02, ns=(s02.stat().st_atime_ns, s02.stat().st_mtime_ns + 10**9))
    load_features("deap", deap_dir, progress=False)
    assert len(reads) == 2
    # change s02.dat's content: only that file is read again
    data, labels = F.deap_arrays(seed=99)
    F.write_deap(s02, data, labels)
    os.utime(s02, ns=(s02.stat().st_atime_ns, s02.stat().st_mtime_ns + 2 * 10**9))
    changed = load_features("deap", deap_dir, progress=False)
    assert [p.name for p in reads] == ["s01.dat", "s02.dat", "s02.dat"]
    assert len(feature_files(rbt_cache)) == 3
    np.testing.assert_array_equal(changed.X[:9], first.X[:9])
    assert np.abs(changed.X[9:] - first.X[9:]).max() > 0.1
    assert json.loads((rbt_cache / "digests.json").read_text())  # digests remembered


def test_feature_parameters_are_part_of_the_key(deap_dir, reads, rbt_cache):
    load_features("deap", deap_dir / "s01.dat", progress=False)
    other = load_features("deap", deap_dir / "s01.dat", params=FeatureParams(stride=200),
                          progress=False)
    assert len(reads) == 2 and len(feature_files(rbt_cache)) == 2
    assert other.table["start"].tolist() == [384, 584] * 3


def test_use_cache_false_reads_and_writes_nothing(deap_dir, reads, rbt_cache):
    load_features("deap", deap_dir, use_cache=False, progress=False)
    load_features("deap", deap_dir, use_cache=False, progress=False)
    assert len(reads) == 4
    assert feature_files(rbt_cache) == []


@pytest.mark.parametrize("damage", [
    pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
    pytest.param(lambda b: b"", id="empty"),
    pytest.param(lambda b: b[:30] + b"\0" * 64 + b[94:], id="zeroed-header",
                 ),
    pytest.param(lambda b: b"not a zip file at all" * 10, id="garbage"),
])
def test_damaged_cache_entry_is_a_miss_and_is_rebuilt(deap_dir, reads, rbt_cache, damage):
    first = load_features("deap", deap_dir / "s01.dat", progress=False)
    (entry,) = feature_files(rbt_cache)
    entry.write_bytes(damage(entry.read_bytes()))
    again = load_features("deap", deap_dir / "s01.dat", progress=False)
    assert len(reads) == 2  # a miss: read again
    np.testing.assert_array_equal(again.X, first.X)
    hit = cache.load_features(entry.stem)  # and the entry is whole again
    assert hit is not None
    np.testing.assert_array_equal(hit[0], first.X)


def test_no_temporary_files_are_left(deap_dir, rbt_cache, tmp_path):
    load_features("deap", deap_dir, progress=False)
    no_temp_files(rbt_cache)
    out = tmp_path / "out" / "f.npz"
    assert main(["features", "--source", "deap", "--path", str(deap_dir), "--out", str(out)]) == 0
    no_temp_files(out.parent)
    no_temp_files(rbt_cache)


class _Unconvertible:
    """An array-like whose conversion fails part-way through a save."""

    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("cannot convert")


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "entry.npz"
    cache.atomic_savez(path, X=np.arange(3))
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="cannot convert"):
        cache.atomic_savez(path, X=np.arange(5), bad=_Unconvertible())
    assert path.read_bytes() == before
    no_temp_files(tmp_path)
    with pytest.raises(TypeError):
        cache.atomic_write_bytes(tmp_path / "digests.json", "text, not bytes")
    assert not (tmp_path / "digests.json").exists()
    no_temp_files(tmp_path)


def test_cache_dir_comes_from_the_environment(rbt_cache, monkeypatch, tmp_path):
    assert cache.cache_dir() == rbt_cache
    monkeypatch.delenv("RBT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "rbt"


# --------------------------------------------------------------------------------------------
# rbt features


def test_cli_features_writes_the_arrays(deap_dir, tmp_path, capsys):
    out = tmp_path / "F.npz"
    code = main(["features", "--source", "deap", "--path", str(deap_dir), "--target", "arousal",
                 "--task", "multi", "--out", str(out)])
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    with np.load(out, allow_pickle=False) as z:
        for key in ("X", "y", "ch_names", "bands", "subject", "trial", "window"):
            assert key in z.files, key
        assert z["X"].dtype == np.float32 and z["X"].shape == (18, 32, 4)
        assert z["y"].tolist() == [0, 0, 0, 8, 8, 8, 4, 4, 4] * 2  # int(arousal) - 1
        assert z["ch_names"].tolist() == deap.EEG_CHANNELS
        assert z["bands"].tolist() == ["theta", "alpha", "beta", "gamma"]
        assert z["subject"].tolist() == ["s01"] * 9 + ["s02"] * 9
        assert z["trial"].tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3] * 2
        assert z["window"].tolist() == [0, 1, 2] * 6
        assert str(z["target"]) == "arousal" and str(z["task"]) == "multi"
        assert z["class_names"].tolist() == [str(i) for i in range(1, 10)]
        X = z["X"]
    lib = load_features("deap", deap_dir, target="arousal", task="multi", progress=False)
    np.testing.assert_array_equal(X, lib.X)


def test_cli_refuses_to_overwrite_without_force(deap_dir, tmp_path, capsys):
    out = tmp_path / "F.npz"
    out.write_bytes(b"precious")
    args = ["features", "--source", "deap", "--path", str(deap_dir / "s01.dat"), "--out",
            str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and "--force" in err[0]
    assert out.read_bytes() == b"precious"
    assert main([*args, "--force"]) == 0
    with np.load(out) as z:
        assert z["X"].shape == (9, 32, 4)


def test_cli_options_reach_the_features(tmp_path, rbt_cache):
    data, labels = F.deap_arrays(n_trials=1)
    data[0, 3, 1000] = np.nan  # in the second window of stride 200 only
    F.write_deap(tmp_path / "s01.dat", data, labels)
    out = tmp_path / "F.npz"
    assert main(["features", "--source", "deap", "--path", str(tmp_path), "--out", str(out),
                 "--stride", "200", "--nonfinite", "drop", "--no-cache"]) == 0
    with np.load(out) as z:
        assert z["start"].tolist() == [384]  # 584 held the NaN
    assert feature_files(rbt_cache) == []


def test_cli_channel_map_for_recordings(tmp_path, capsys):
    names = ["Fp1", "Cz", "Xyz7", "O2"]
    path = F.save_fif(F.make_raw(names, seconds=8.0), tmp_path / "odd_raw.fif")
    out = tmp_path / "F.npz"
    args = ["features", "--source", "raw", "--path", str(path), "--out", str(out)]
    assert main(args) == 2
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and "Xyz7" in err[0] and "--channel-map" in err[0]
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"Xyz7": "Oz"}))
    assert main([*args, "--channel-map", str(mapping)]) == 0
    with np.load(out) as z:
        assert z["ch_names"].tolist() == ["Fp1", "Cz", "Oz", "O2"]
        assert "y" not in z.files  # no annotations: unlabelled
    assert main([*args, "--drop-unknown", "--force"]) == 0
    with np.load(out) as z:
        assert z["ch_names"].tolist() == ["Fp1", "Cz", "O2"]
    mapping.write_text("{not json")
    assert main([*args, "--channel-map", str(mapping), "--force"]) == 2
    assert str(mapping) in capsys.readouterr().err


def test_renamed_file_gets_its_new_subject_not_a_cached_one(tmp_path):
    data, labels = F.deap_arrays(n_trials=1)
    first = F.write_deap(tmp_path / "a" / "s01.dat", data, labels)
    assert set(load_features("deap", first, progress=False).table["subject"]) == {"s01"}
    renamed = tmp_path / "b" / "s05.dat"
    renamed.parent.mkdir()
    first.rename(renamed)
    fs = load_features("deap", renamed, progress=False)
    assert set(fs.table["subject"]) == {"s05"} and set(fs.table["recording"]) == {"s05.dat"}


def test_progress_bars_are_quiet_in_logs(monkeypatch):
    import io

    from rbt.progress import progress_bar

    log = io.StringIO()  # not a terminal
    monkeypatch.setattr("sys.stderr", log)
    assert progress_bar(range(3), inner=True, file=log).disable
    outer = progress_bar(range(3), file=log)
    assert not outer.disable and outer.mininterval == 10.0  # redraws at most every 10 s

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stderr", Terminal())
    assert not progress_bar(range(3), inner=True, file=io.StringIO()).disable
