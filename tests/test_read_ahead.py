"""Reading the next file while this one's BDE runs (rbt.data.pipeline): same features, same
cache, same errors as one file after another; DEAP's bytes read once for digest and parse."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import formats as F
import numpy as np
import pytest

from rbt import bde, cache
from rbt.cli import main
from rbt.data import DataFormatError, FeatureParams, deap, load_features, pipeline
from rbt.data.safe_pickle import load_arrays

SAMPLES = 384 + 1024  # the 3-s baseline and 8 s: 5 windows a trial


@pytest.fixture
def two_bde_threads():
    """Two BDE threads, so that the next file is read ahead even on a one-CPU machine."""
    bde.set_default_jobs(2)
    yield
    bde.set_default_jobs(None)


def _folder(tmp_path: Path, subjects=(1, 2, 3, 4), py2: bool = True) -> Path:
    folder = tmp_path / "data_preprocessed_python"
    for s in subjects:
        data, labels = F.deap_arrays(2, SAMPLES, seed=s)
        F.write_deap(folder / f"s{s:02d}.dat", data, labels, py2=py2)
    return folder


def _entries(root: Path) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for path in sorted((root / "features").glob("*.npz")):
        with np.load(path, allow_pickle=False) as z:
            out[path.name] = {k: z[k] for k in z.files}
    return out


@pytest.mark.parametrize("py2", [True, False], ids=["python2-pickles", "python3-pickles"])
def test_read_ahead_gives_the_same_features_and_cache(tmp_path, monkeypatch, two_bde_threads,
                                                      py2):
    folder = _folder(tmp_path, py2=py2)
    files = deap.source_files(folder)
    # where each file was read: the spy calls the real reader
    where: dict[str, str] = {}
    real = deap.read_file

    def spy(file, *args, **kwargs):
        where[Path(file).name] = threading.current_thread().name
        return real(file, *args, **kwargs)

    monkeypatch.setattr(deap, "read_file", spy)
    results = {}
    for ahead in (True, False):
        root = tmp_path / f"cache-{ahead}"
        monkeypatch.setenv("RBT_CACHE_DIR", str(root))
        where.clear()
        results[ahead] = (load_features("deap", folder, progress=False, read_ahead=ahead),
                          _entries(root), json.loads((root / "digests.json").read_text()),
                          dict(where))
    (fa, ea, da, wa), (fs, es, ds, ws) = results[True], results[False]
    assert pipeline.reads_ahead("deap", len(files))
    assert all(name.startswith("rbt-bde") for name in wa.values()), wa  # in BDE's pool
    assert set(ws.values()) == {threading.current_thread().name}
    np.testing.assert_array_equal(fa.X, fs.X)  # bit for bit
    assert fa.table.equals(fs.table) and fa.ch_names == fs.ch_names
    assert sorted(ea) == sorted(es) and len(ea) == len(files)  # the same keys
    for name in ea:
        assert ea[name].keys() == es[name].keys()
        for k in ea[name]:
            np.testing.assert_array_equal(ea[name][k], es[name][k])
    # the digests hashed from the bytes read once are the files' SHA-256, remembered as before
    digests = {k.split("|")[0]: v for k, v in da.items()}
    assert digests == {k.split("|")[0]: v for k, v in ds.items()}
    for f in files:
        assert digests[str(f.resolve())] == hashlib.sha256(f.read_bytes()).hexdigest()
    # and the keys are those the cache computed before: it reads and hashes each file itself
    params = FeatureParams().as_dict()
    fresh = tmp_path / "fresh-root"
    assert sorted(ea) == sorted(
        f"{cache.feature_key([f], params, 'deap', [f.name, None], root=fresh)}.npz"
        for f in files)
    # a second run is served from the cache, ahead or not
    monkeypatch.setenv("RBT_CACHE_DIR", str(tmp_path / "cache-True"))
    warm = load_features("deap", folder, progress=False)
    np.testing.assert_array_equal(warm.X, fa.X)


def _error(folder: Path, monkeypatch, root: Path, ahead: bool) -> DataFormatError:
    monkeypatch.setenv("RBT_CACHE_DIR", str(root))
    with pytest.raises(DataFormatError) as info:
        load_features("deap", folder, progress=False, read_ahead=ahead)
    return info.value


def test_a_corrupt_file_mid_folder_gives_the_same_clear_error(tmp_path, monkeypatch,
                                                              two_bde_threads):
    folder = _folder(tmp_path)
    bad = folder / "s02.dat"
    bad.write_bytes(bad.read_bytes()[: 200_000])  # truncated mid-array
    errors = {ahead: _error(folder, monkeypatch, tmp_path / f"c{ahead}", ahead)
              for ahead in (True, False)}
    assert str(errors[True]) == str(errors[False])
    assert str(errors[True]).startswith(f"{bad}: ")
    assert "truncated" in str(errors[True])
    # the file before it was finished and cached; none after it was read
    for ahead in (True, False):
        assert len(list((tmp_path / f"c{ahead}" / "features").glob("*.npz"))) == 1


def test_a_bad_signal_while_the_next_file_is_read_gives_the_same_error(tmp_path, monkeypatch,
                                                                       two_bde_threads):
    folder = _folder(tmp_path)
    data, labels = F.deap_arrays(2, SAMPLES, seed=3)
    data[1, 5, 600:] = 7.0  # a flat channel: found while BDE runs, s04 being read meanwhile
    F.write_deap(folder / "s03.dat", data, labels, py2=True)
    errors = {ahead: _error(folder, monkeypatch, tmp_path / f"c{ahead}", ahead)
              for ahead in (True, False)}
    assert str(errors[True]) == str(errors[False])
    assert str(errors[True]).startswith(f"{folder / 's03.dat'}: subject s03 trial 2")
    assert "flat" in str(errors[True])


def test_cli_names_the_corrupt_file_without_a_traceback(tmp_path, capsys, two_bde_threads):
    folder = _folder(tmp_path, subjects=(1, 2, 3))
    bad = folder / "s02.dat"
    bad.write_bytes(b"\x80\x02not a pickle at all")
    out = tmp_path / "f.npz"
    assert main(["features", "--source", "deap", "--path", str(folder), "--out",
                 str(out)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err
    assert not out.exists()


def test_arrays_without_copy_are_read_only_views_with_the_same_values(tmp_path):
    data, labels = F.deap_arrays(2, 600, seed=1)
    path = F.write_deap(tmp_path / "s01.dat", data, labels, py2=True)
    raw = path.read_bytes()
    copied, viewed = load_arrays(raw), load_arrays(raw, copy=False)
    for key in ("data", "labels"):
        np.testing.assert_array_equal(copied[key], viewed[key])
        assert copied[key].flags.writeable
    assert not viewed["data"].flags.writeable  # the big array: a view (short ones are copied)
    assert np.shares_memory(viewed["data"], np.frombuffer(raw, np.uint8))
    rec = deap.read_file(path, content=raw, writable=False)
    np.testing.assert_array_equal(rec.trials[1].signal, data[1, :32])
    assert deap.read_file(path).trials[0].signal.flags.writeable  # the default: a copy


def test_read_content_stat_is_the_files_before_reading(tmp_path):
    path = tmp_path / "s01.dat"
    path.write_bytes(b"x" * 5000)
    content, st = deap.read_content(path)
    assert content == b"x" * 5000 and (st.st_size, st.st_mtime_ns) == (
        os.stat(path).st_size, os.stat(path).st_mtime_ns)
    root = tmp_path / "root"
    assert cache.known_digest(path, root) is None
    digest = cache.file_digest(path, root, content=(content, st))
    assert digest == hashlib.sha256(content).hexdigest() == cache.known_digest(path, root)


def test_flat_windows_are_found_in_quantised_signals_too(tmp_path):
    """Float signals skip the count of unchanged neighbours; integer-like ones, where equal
    neighbours are common, are still counted: short runs pass, a flat window is refused."""
    data, labels = F.deap_arrays(2, SAMPLES, seed=5)
    data = np.round(data / 8.0)  # quantised: many equal neighbours, no window flat
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    fs = load_features("deap", path, progress=False)
    assert np.isfinite(fs.X).all() and len(fs) == 2 * 5
    data[0, 3, 800:1400] = 4.0  # constant over a whole window of trial 1
    F.write_deap(path, data, labels)
    with pytest.raises(DataFormatError, match="trial 1: channel.*F7.* are flat"):
        load_features("deap", path, progress=False)


def test_heap_pad_is_set_once_with_glibc_and_the_users_setting_wins(monkeypatch):
    import platform
    import sys

    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert bde.pad_heap() is glibc
    monkeypatch.setenv("MALLOC_TOP_PAD_", str(1 << 20))
    assert bde.pad_heap() is False


def test_only_the_features_command_pads_the_heap(tmp_path):
    # the pad is held per malloc arena: a process of many threads (the dashboard) pays it
    # per thread, so a library call's BDE leaves malloc alone and `rbt features` sets it
    import platform
    import subprocess
    import sys

    data, labels = F.deap_arrays(2, SAMPLES, seed=6)
    path = F.write_deap(tmp_path / "s01.dat", data, labels)
    probe = ("import os, sys\n"
             f"os.environ['RBT_CACHE_DIR'] = {str(tmp_path / 'cache')!r}\n"
             "from rbt import bde\n"
             "from rbt.data import load_features\n"
             f"load_features('deap', {str(path)!r}, progress=False)\n"
             "library = bool(bde._padded)\n"
             "from rbt.cli import main\n"
             f"main(['features', '--source', 'deap', '--path', {str(path)!r}, '--out', "
             f"{str(tmp_path / 'f.npz')!r}])\n"
             "print(library, bool(bde._padded))")
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TOP_PAD_"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=300, check=True, env=env).stdout.split()
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert out[-2:] == ["False", str(glibc)]
