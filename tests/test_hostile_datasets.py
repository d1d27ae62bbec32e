"""Hostile dataset files: the DEAP, DREAMER and SEED readers never crash, never allocate what a
file only declares, never block on special files, and always end in a DataFormatError that
names the file. Every hostile file is built here, and every test runs under a memory limit."""

from __future__ import annotations

import os
import pickle
import pickletools
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path

import formats as F
import numpy as np
import pytest
import scipy.io
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rbt.data import DataFormatError, deap, dreamer, load_features, safe_mat, seed
from rbt.data.safe_pickle import (
    NotAnArrayDictError,
    PickleFormatError,
    UnsafePickleError,
    load_arrays,
)

pytestmark = pytest.mark.usefixtures("memory_limit")


def refused(path, *fragments):
    """``pytest.raises(DataFormatError)`` whose message names ``path`` and each fragment."""

    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(DataFormatError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            message = str(self.info.value)
            assert str(path) in message, message
            for fragment in fragments:
                assert fragment in message, f"{fragment!r} not in {message!r}"
            return handled

    return Check()


def quickly(seconds: float):
    """Assert the block ran within ``seconds`` (a refusal must not first do the work)."""

    class Timer:
        def __enter__(self):
            self.start = time.perf_counter()

        def __exit__(self, *exc):
            took = time.perf_counter() - self.start
            assert took < seconds, f"took {took:.1f} s"

    return Timer()


# --------------------------------------------------------------------------------------------
# Pickle opcodes, for hostile pickles built by hand

PROTO2 = b"\x80\x02"


def sbs(s: bytes) -> bytes:  # SHORT_BINSTRING (Python 2's str)
    return b"U" + bytes([len(s)]) + s


def bint(i: int) -> bytes:
    return b"K" + bytes([i]) if 0 <= i < 256 else b"J" + struct.pack("<i", i)


def binbytes(b: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(b)) + b


def dtype_op(code: bytes, state_order: bytes = b"<", flags: int = 0) -> bytes:
    """``numpy.dtype(code, False, True)`` with its BUILD state, as numpy pickles it."""
    return (b"cnumpy\ndtype\n" + sbs(code) + bint(0) + bint(1) + b"\x87R"
            + b"(" + bint(3) + sbs(state_order) + b"NNN" + bint(-1) + bint(-1) + bint(flags)
            + b"tb")


def array_op(shape, dtype: bytes, raw: bytes) -> bytes:
    """``_reconstruct`` plus BUILD (version 1, shape, dtype, C order, raw bytes)."""
    out = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
    out += bint(0) + b"\x85" + sbs(b"b") + b"\x87R"
    out += b"(" + bint(1) + b"(" + b"".join(bint(n) for n in shape) + b"t"
    return out + dtype + b"\x89" + binbytes(raw) + b"tb"


def deap_dict(data_op: bytes, labels_op: bytes | None = None) -> bytes:
    labels_op = labels_op or array_op((1, 4), dtype_op(b"f8"), bytes(32))
    return PROTO2 + b"}(" + sbs(b"data") + data_op + sbs(b"labels") + labels_op + b"u."


def segfault_pickle() -> bytes:
    """The issue's crash: an ``O8`` dtype whose BUILD state clears the object dtype's flags, then
    ``scalar`` on it, which made numpy read 8 raw bytes as an object pointer."""
    dtype = dtype_op(b"O8", state_order=b"|")
    pointer = struct.pack("<Q", 0x41414141)
    return PROTO2 + b"cnumpy.core.multiarray\nscalar\n(" + dtype + sbs(pointer) + b"tR."


# --------------------------------------------------------------------------------------------
# DEAP: what real files contain still loads


@pytest.mark.parametrize("protocol", ["py2", 2, 3, 4, 5])
def test_deap_real_pickles_load(tmp_path, protocol):
    data, labels = F.deap_arrays(n_trials=2)
    path = tmp_path / "s01.dat"
    if protocol == "py2":
        F.write_deap(path, data, labels, py2=True)
    else:
        path.write_bytes(pickle.dumps({"data": data, "labels": labels}, protocol=protocol))
    rec = deap.read_file(path)
    assert len(rec.trials) == 2
    np.testing.assert_array_equal(rec.trials[1].signal, data[1, :32])
    assert rec.trials[1].ratings["valence"] == labels[1, 0]


@pytest.mark.parametrize("protocol", [2, 5])
def test_deap_unpickler_rebuilds_numeric_arrays_exactly(protocol):
    arrays = {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "big_endian": np.arange(5, dtype=">i2"),
        "bool": np.array([True, False]),
        "u8": np.arange(3, dtype=np.uint8),
        "empty": np.zeros((0, 40)),
        "scalar": np.float64(2.5),
    }
    out = load_arrays(pickle.dumps(arrays, protocol=protocol))
    assert sorted(out) == sorted(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(out[key], value)
        assert out[key].dtype == value.dtype
    assert out["fortran"].flags.writeable and out["f32"].flags.writeable


def test_deap_same_array_twice_is_built_once():
    a = np.arange(4.0)
    out = load_arrays(pickle.dumps({"x": a, "y": a}, protocol=2))
    assert out["x"] is out["y"]


# --------------------------------------------------------------------------------------------
# DEAP: hostile pickles


def test_segfault_pickle_is_refused_in_a_subprocess(tmp_path):
    """Run in a child so that a crash fails this test instead of killing pytest."""
    path = tmp_path / "s01.dat"
    path.write_bytes(segfault_pickle())
    code = textwrap.dedent(f"""
        from rbt.data import DataFormatError, deap
        try:
            deap.read_file({str(path)!r})
        except DataFormatError as err:
            print("REFUSED", err)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert "REFUSED" in done.stdout and "'O8' refused" in done.stdout, done.stdout


def test_segfault_pickle_here(tmp_path):
    path = tmp_path / "s01.dat"
    path.write_bytes(segfault_pickle())
    with refused(path, "not a readable DEAP .dat pickle", "dtype 'O8' refused"):
        deap.read_file(path)


@pytest.mark.parametrize("code, order, flags, why", [
    (b"O8", b"|", 0, "'O8' refused"),
    (b"V0", b"|", 0, "'V0' refused"),
    (b"S0", b"|", 0, "'S0' refused"),
    (b"U4", b"<", 0, "'U4' refused"),
    (b"c16", b"<", 0, "'c16' refused"),
    (b"f8", b"<", 63, "flags"),
    (b"f8", b"?", 0, "byte order"),
    (b"f8", b"|", 0, "needs a byte order"),
])
def test_dtypes_other_than_plain_numbers_are_refused(tmp_path, code, order, flags, why):
    path = tmp_path / "s01.dat"
    path.write_bytes(deap_dict(array_op((1, 40, 1), dtype_op(code, order, flags), bytes(320))))
    with refused(path, "not a readable DEAP .dat pickle", why):
        deap.read_file(path)


@pytest.mark.parametrize("shape, raw", [
    ((1, 40, 10**7), bytes(8)),  # the 223-byte zero-stride array: 3 GB declared
    ((2, 40, 8 * 10**6), bytes(16)),  # the 324-byte one
    ((10**7, 40, 1000), b""),
    ((1, 40, 2), bytes(641)),  # one byte too many
])
def test_declared_shape_must_match_the_bytes_present(tmp_path, shape, raw):
    path = tmp_path / "s01.dat"
    content = deap_dict(array_op(shape, dtype_op(b"f8"), raw))
    assert len(content) < 1000
    path.write_bytes(content)
    with quickly(2), refused(path, "not a readable DEAP .dat pickle", "needs",
                             f"the pickle holds {len(raw)}"):
        deap.read_file(path)


def frombuffer_op(shape, raw: bytes) -> bytes:
    """``_frombuffer(bytearray, dtype, shape, "C")``, as protocol 5 pickles arrays."""
    return (b"cnumpy._core.numeric\n_frombuffer\n(" + b"\x96" + struct.pack("<Q", len(raw))
            + raw + dtype_op(b"f8") + b"(" + b"".join(bint(n) for n in shape) + b"t"
            + b"\x8c\x01C" + b"tR")


def test_frombuffer_shape_must_match_the_bytes_present(tmp_path):
    path = tmp_path / "s01.dat"
    path.write_bytes(deap_dict(frombuffer_op((1, 40, 2), bytes(640))))
    assert load_arrays(path.read_bytes())["data"].shape == (1, 40, 2)  # a sound one loads
    path.write_bytes(deap_dict(frombuffer_op((1, 40, 10**7), bytes(16))))
    with quickly(2), refused(path, "not a readable DEAP .dat pickle", "needs 3200000000"):
        deap.read_file(path)


@pytest.mark.parametrize("opcode", [b"\x96", b"\x8e", b"\x8d"])  # BYTEARRAY8 BINBYTES8 UNICODE8
def test_huge_declared_lengths_are_not_allocated(tmp_path, opcode):
    path = tmp_path / "s01.dat"
    path.write_bytes(b"\x80\x05" + opcode + struct.pack("<Q", 2**40) + b"abc.")
    with quickly(2), refused(path, "not a readable DEAP .dat pickle"):
        deap.read_file(path)


def test_memo_shared_nested_list_is_refused_cheaply(tmp_path):
    nested: list = [1.0]
    for _ in range(40):  # 2**40 leaves when walked; a few hundred bytes pickled
        nested = [nested, nested]
    path = tmp_path / "s01.dat"
    path.write_bytes(pickle.dumps({"data": nested, "labels": np.zeros((1, 4))}, protocol=2))
    with quickly(2), refused(path, "expected a DEAP dict", "'data' is a list"):
        deap.read_file(path)


def _shared(depth: int = 40, kind=tuple):
    """A value whose memo-shared nesting has 2**depth leaves: tiny pickled, endless walked."""
    value = kind([1.0])
    for _ in range(depth):
        value = kind([value, value])
    return value


def _shared_ops(kind=tuple) -> bytes:
    return pickle.dumps(_shared(kind=kind), protocol=2)[2:-1]  # the opcodes that push it


@pytest.mark.parametrize("build", [
    # as a dict key (building this dict in Python would itself hash for ever)
    pytest.param(lambda: PROTO2 + b"}" + _shared_ops() + bint(1) + b"s.", id="dict-key"),
    pytest.param(lambda: PROTO2 + b"(" + _shared_ops() + bint(1) + b"d.", id="DICT-key"),
    pytest.param(lambda: pickle.dumps(_shared(kind=list), protocol=2), id="top-list"),
    pytest.param(lambda: pickle.dumps({"data": np.zeros(3), "labels": [_shared()]},
                                      protocol=2), id="in-a-list"),
])
def test_memo_shared_nesting_is_never_walked(tmp_path, build):
    path = tmp_path / "s01.dat"
    content = build()
    assert len(content) < 2000
    path.write_bytes(content)
    with quickly(2), refused(path):
        deap.read_file(path)


@pytest.mark.parametrize("where", ["code", "order", "shape"])
def test_nested_values_in_dtype_and_shape_are_described_not_printed(where):
    nested = _shared_ops()
    body = {
        "code": b"cnumpy\ndtype\n(" + nested + bint(0) + bint(1) + b"tR.",
        "order": b"cnumpy\ndtype\n" + sbs(b"f8") + bint(0) + bint(1) + b"\x87R("
                 + bint(3) + nested + b"NNN" + bint(-1) + bint(-1) + bint(0) + b"tb.",
        "shape": b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n" + nested
                 + sbs(b"b") + b"tR.",
    }[where]
    with quickly(2), pytest.raises(PickleFormatError, match="refused") as info:
        load_arrays(PROTO2 + body)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("obj, found", [
    ([np.zeros(3)], "found list"),
    ({"data": (np.zeros(3),), "labels": np.zeros((1, 4))}, "'data' is a tuple"),
    ({"data": {"x": np.zeros(3)}, "labels": np.zeros((1, 4))}, "'data' is a dict"),
    ({"data": np.zeros((1, 40, 400)), "labels": np.zeros((1, 4)), 3: np.zeros(1)},
     "keys are int, str"),
    ({b"data": np.zeros(1)}, "keys are bytes"),
])
def test_containers_and_mixed_keys_are_refused(tmp_path, obj, found):
    path = tmp_path / "s01.dat"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with refused(path, "expected a DEAP dict with 'data' and 'labels'", found):
        deap.read_file(path)


def test_object_array_of_dicts_is_refused(tmp_path):
    cells = np.empty(2, dtype=object)
    cells[:] = [{"a": 1}, {"b": 2}]
    path = tmp_path / "s01.dat"
    path.write_bytes(pickle.dumps({"data": cells, "labels": np.zeros((1, 4))}, protocol=2))
    with refused(path, "not a readable DEAP .dat pickle", "'O8' refused"):
        deap.read_file(path)


def test_too_many_operations_are_refused(tmp_path):
    path = tmp_path / "s01.dat"
    path.write_bytes(pickle.dumps({"data": list(range(100_000))}, protocol=2))
    with quickly(5), refused(path, "more than 10000 pickle operations"):
        deap.read_file(path)


def test_disallowed_operations_and_callables_are_refused():
    with pytest.raises(PickleFormatError, match="not allowed"):
        load_arrays(pickle.dumps({1, 2}, protocol=4))  # EMPTY_SET
    # REDUCE on something that is not one of numpy's array builders (a tuple, say)
    with pytest.raises(PickleFormatError, match="calls something other"):
        load_arrays(PROTO2 + b")" + b")" + b"R.")
    # BUILD on a dict (the stock unpickler would set attributes)
    with pytest.raises(PickleFormatError, match="sets the state of a dict"):
        load_arrays(PROTO2 + b"}}b.")
    with pytest.raises(UnsafePickleError, match="refused to load builtins.getattr"):
        load_arrays(PROTO2 + b"cbuiltins\ngetattr\n.")
    with pytest.raises(NotAnArrayDictError):
        load_arrays(pickle.dumps([1, 2], protocol=2))


def test_python2_long_strings_are_only_array_data():
    """Long Python-2 strings are kept as bytes (for speed); anywhere but array data they are
    refused like any other non-array."""
    long = b"T" + struct.pack("<i", 70_000) + b"x" * 70_000
    with pytest.raises(NotAnArrayDictError, match="keys are long str"):
        load_arrays(PROTO2 + b"}" + long + bint(1) + b"s.")
    with pytest.raises(NotAnArrayDictError, match="'data' is a long str"):
        load_arrays(PROTO2 + b"}" + sbs(b"data") + long + b"s.")
    with pytest.raises(PickleFormatError, match="truncated"):
        load_arrays(PROTO2 + b"T" + struct.pack("<i", 2**31 - 1) + b"x" * 10)
    with pytest.raises(PickleFormatError, match="negative"):
        load_arrays(PROTO2 + b"T" + struct.pack("<i", -5) + b".")
    short = array_op((1, 2), dtype_op(b"f8"), bytes(16)).replace(binbytes(bytes(16)),
                                                                 b"T" + struct.pack("<i", 16)
                                                                 + bytes(16))
    np.testing.assert_array_equal(load_arrays(PROTO2 + b"}" + sbs(b"a") + short + b"s.")["a"],
                                  np.zeros((1, 2)))


def test_file_larger_than_the_cap_is_refused_before_reading(tmp_path):
    path = tmp_path / "s01.dat"
    with open(path, "wb") as fh:  # sparse: no disk space used
        fh.truncate(deap.MAX_FILE_BYTES + 1)
    with quickly(2), refused(path, "cannot read it", "1024 MB"):
        deap.read_file(path)


# --------------------------------------------------------------------------------------------
# DEAP: folders


def test_two_files_of_one_subject_are_refused(tmp_path):
    data, labels = F.deap_arrays(n_trials=1)
    F.write_deap(tmp_path / "s1.dat", data, labels)
    F.write_deap(tmp_path / "s01.dat", data, labels)
    F.write_deap(tmp_path / "s02.dat", data, labels)
    with refused(tmp_path, "s01.dat and s1.dat are both subject s01", "Keep one"):
        deap.source_files(tmp_path)
    (tmp_path / "s1.dat").unlink()
    assert [p.name for p in deap.source_files(tmp_path)] == ["s01.dat", "s02.dat"]


def _in_thread(fn, seconds: float = 20):
    """fn() in a daemon thread; fails the test if it has not returned in time (it blocked)."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            box["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked on a special file"
    if "error" in box:
        raise box["error"]
    return box.get("value")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_deap_fifo_never_blocks(tmp_path):
    data, labels = F.deap_arrays(n_trials=1)
    F.write_deap(tmp_path / "s01.dat", data, labels)
    os.mkfifo(tmp_path / "s02.dat")
    with refused(tmp_path / "s02.dat", "FIFO"):
        _in_thread(lambda: load_features("deap", tmp_path, progress=False, use_cache=False))
    with refused(tmp_path / "s02.dat", "FIFO"):
        _in_thread(lambda: deap.source_files(tmp_path / "s02.dat"))
    with refused(tmp_path / "s02.dat", "FIFO"):
        _in_thread(lambda: deap.read_file(tmp_path / "s02.dat"))


def test_deap_device_is_refused(tmp_path):
    with refused("/dev/zero", "character device"):
        _in_thread(lambda: deap.read_file(Path("/dev/zero")))


# --------------------------------------------------------------------------------------------
# DEAP fuzz: any bytes load into a valid recording or raise DataFormatError

_SMALL_DEAP = {
    "py2": F._py2_pickle({"data": F.deap_arrays(1, 385)[0][:, :, :385].astype(np.float64),
                          "labels": np.array([[5.0, 1, 2, 3]])}),
    "p2": pickle.dumps({"data": np.zeros((1, 40, 385)), "labels": np.ones((1, 4))}, protocol=2),
    "p5": pickle.dumps({"data": np.zeros((1, 40, 385), np.float32),
                        "labels": np.ones((1, 4))}, protocol=5),
}
_TINY = {name: pickle.dumps({"data": np.arange(6.0).reshape(1, 2, 3), "labels": np.ones((1, 4))},
                            protocol=p) for name, p in (("t2", 2), ("t4", 4), ("t5", 5))}
_TINY["py2"] = F._py2_pickle({"data": np.arange(6.0).reshape(1, 2, 3)})
_SEEDS = {**_SMALL_DEAP, **_TINY}


def _boundaries(data: bytes) -> list[int]:
    return [pos for _, _, pos in pickletools.genops(data)] + [len(data)]


_OPS = {name: _boundaries(data) for name, data in _SEEDS.items()}


@st.composite
def hostile_pickles(draw):
    kind = draw(st.sampled_from(["bytes", "flip", "truncate", "splice", "repeat"]))
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    name = draw(st.sampled_from(sorted(_SEEDS)))
    data, ops = _SEEDS[name], _OPS[name]
    if kind == "flip":  # near an opcode, where the structure is
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            at = min(draw(st.sampled_from(ops)) + draw(st.integers(0, 9)), len(out) - 1)
            out[at] = draw(st.integers(0, 255))
        return bytes(out)
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    other = draw(st.sampled_from(sorted(_SEEDS)))
    a, b = sorted(draw(st.lists(st.sampled_from(ops), min_size=2, max_size=2)))
    if kind == "repeat":  # an opcode run said again (memo and stack games)
        return data[:b] + data[a:b] * draw(st.integers(1, 30)) + data[b:]
    c = draw(st.sampled_from(_OPS[other]))
    return data[:a] + _SEEDS[other][c:] if draw(st.booleans()) else data[:a] + data[b:]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(content=hostile_pickles())
def test_fuzz_deap_reader(tmp_path, content):
    path = tmp_path / "s01.dat"
    path.write_bytes(content)
    try:
        rec = deap.read_file(path)
    except DataFormatError as err:
        assert str(path) in str(err)
        event("refused")
        return
    event("loaded")
    assert rec.trials and rec.ch_names == deap.EEG_CHANNELS
    for trial in rec.trials:
        assert trial.signal.dtype.kind in "biuf" and trial.signal.shape[0] == 32
        assert set(trial.ratings) == set(deap.RATINGS)


@settings(max_examples=300, deadline=None)
@given(content=hostile_pickles())
def test_fuzz_deap_unpickler(content):
    try:
        out = load_arrays(content)
    except (UnsafePickleError, PickleFormatError, NotAnArrayDictError) as err:
        event(type(err).__name__)
        return
    event("loaded")
    assert isinstance(out, dict) and all(type(k) is str for k in out)
    for value in out.values():
        assert isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "biuf"
        assert value.nbytes <= len(content)


# --------------------------------------------------------------------------------------------
# MAT v5 bytes, built by hand

MI_INT8, MI_INT32, MI_UINT32, MI_DOUBLE, MI_MATRIX, MI_COMPRESSED = 1, 5, 6, 9, 14, 15
MX_CELL, MX_STRUCT, MX_CHAR, MX_SPARSE, MX_DOUBLE = 1, 2, 4, 5, 6


def mat_header(version: int = 0x0100) -> bytes:
    return b"MATLAB 5.0 MAT-file, written by rbt's tests".ljust(116) + bytes(8) + \
        struct.pack("<H", version) + b"IM"


def element(mtype: int, data: bytes) -> bytes:
    return struct.pack("<II", mtype, len(data)) + data + bytes(-len(data) % 8)


def matrix(cls: int, dims, name: bytes = b"", body: bytes = b"") -> bytes:
    payload = (element(MI_UINT32, struct.pack("<II", cls, 0))
               + element(MI_INT32, struct.pack(f"<{len(dims)}i", *dims))
               + element(MI_INT8, name) + body)
    return struct.pack("<II", MI_MATRIX, len(payload)) + payload


def doubles(name: bytes, values) -> bytes:
    values = np.asarray(values, dtype="<f8")
    dims = values.shape if values.ndim >= 2 else (1, values.size)
    return matrix(MX_DOUBLE, dims, name, element(MI_DOUBLE, values.tobytes(order="F")))


def compressed(variable: bytes) -> bytes:
    data = zlib.compress(variable)
    return struct.pack("<II", MI_COMPRESSED, len(data)) + data


def test_hand_built_mat_bytes_are_real_mat_files(tmp_path):
    """The builders below write what scipy reads (so refusing their hostile forms means
    something)."""
    path = tmp_path / "x.mat"
    cell = matrix(MX_CELL, (1, 2), b"c", doubles(b"", [1.0]) + doubles(b"", [2.0, 3.0]))
    path.write_bytes(mat_header() + doubles(b"x", [[1.0, 2.0]]) + compressed(cell))
    for mat in (scipy.io.loadmat(path), safe_mat.loadmat(path, "test")):
        np.testing.assert_array_equal(mat["x"], [[1.0, 2.0]])
        np.testing.assert_array_equal(mat["c"][0, 1], [[2.0, 3.0]])


def zlib_bomb(inflated: int) -> bytes:
    """A compressed variable: a 1 x n double array of zeros that inflates to ``inflated`` bytes,
    compressed by repeating one flushed 16 MB block (so it is built in milliseconds)."""
    n = inflated // 8
    head = (element(MI_UINT32, struct.pack("<II", MX_DOUBLE, 0))
            + element(MI_INT32, struct.pack("<2i", 1, n)) + element(MI_INT8, b"x"))
    tag = struct.pack("<II", MI_MATRIX, len(head) + 8 + n * 8) + head + \
        struct.pack("<II", MI_DOUBLE, n * 8)
    zc = zlib.compressobj()
    start = zc.compress(tag) + zc.flush(zlib.Z_FULL_FLUSH)
    block = zc.compress(bytes(1 << 24)) + zc.flush(zlib.Z_FULL_FLUSH)
    body = start + block * (inflated >> 24)
    return struct.pack("<II", MI_COMPRESSED, len(body)) + body


def test_zlib_bomb_is_refused_before_inflating(tmp_path):
    path = tmp_path / "DREAMER.mat"
    path.write_bytes(mat_header() + zlib_bomb(int(3.7 * 1024**3)))  # the 3.7 GB
    assert path.stat().st_size < 4 * 1024**2
    with quickly(3), refused(path, "not a readable MATLAB file", "inflate to more than 1024 MB"):
        dreamer.read_file(path)


def test_many_small_bombs_stop_at_the_budget(tmp_path, monkeypatch):
    """Each variable declares what it holds, but together they pass the budget (made small
    here so the test inflates little)."""
    monkeypatch.setattr(safe_mat, "MIN_BUDGET", 64 * 1024**2)
    path = tmp_path / "label.mat"
    path.write_bytes(mat_header() + zlib_bomb(16 * 1024**2) * 5)
    with quickly(10), refused(path, "inflate to more than 64 MB"):
        seed.read_labels(tmp_path)


def test_compressed_files_within_the_budget_load(tmp_path):
    stimuli, baselines, scores = F.dreamer_arrays(n_subjects=2, n_clips=2)
    plain = F.write_dreamer(tmp_path / "plain" / "DREAMER.mat", stimuli, baselines, scores)
    packed = tmp_path / "packed" / "DREAMER.mat"
    packed.parent.mkdir()
    scipy.io.savemat(packed, {"DREAMER": scipy.io.loadmat(plain)["DREAMER"]},
                     do_compression=True)
    assert packed.stat().st_size < plain.stat().st_size
    a, b = dreamer.read_file(plain), dreamer.read_file(packed)
    assert len(a.trials) == len(b.trials) == 4
    for x, y in zip(a.trials, b.trials):
        np.testing.assert_array_equal(x.signal, y.signal)
        assert x.ratings == y.ratings


@pytest.mark.parametrize("body, why", [
    pytest.param(matrix(MX_CELL, (100_000, 100_000), b"DREAMER"), "cannot fit", id="huge-cell"),
    pytest.param(matrix(MX_CELL, (3, 1), b"DREAMER", doubles(b"", [1.0])), "cut off",
                 id="cell-missing-elements"),
    pytest.param(matrix(MX_STRUCT, (10**9, 1), b"DREAMER",
                        element(MI_INT32, struct.pack("<i", 8)) + element(MI_INT8, b"")),
                 "cannot fit", id="fieldless-struct"),
    pytest.param(matrix(MX_STRUCT, (1, 1), b"DREAMER",
                        element(MI_INT32, struct.pack("<i", 8))
                        + element(MI_INT8, b"Data".ljust(8, b"\0") * 50_000)),
                 "cannot fit", id="struct-many-fields"),
    pytest.param(matrix(MX_DOUBLE, (100_000, 100_000), b"DREAMER", element(MI_DOUBLE, bytes(16))),
                 "holds 2", id="doubles-declared-not-present"),
    pytest.param(struct.pack("<II", MI_MATRIX, 2**32 - 1) + bytes(64), "declares 4294967295",
                 id="element-length"),
    pytest.param(matrix(MX_SPARSE, (10**6, 10**6), b"DREAMER"), "sparse", id="sparse"),
    pytest.param(matrix(3, (1, 1), b"DREAMER"), "MATLAB object", id="object"),
    pytest.param(matrix(MX_DOUBLE, (1, -5), b"DREAMER"), "negative", id="negative-dims"),
    pytest.param(element(MI_INT8, b"abc"), "not a variable", id="not-a-matrix"),
])
def test_declared_sizes_are_checked_before_scipy_allocates(tmp_path, body, why):
    path = tmp_path / "DREAMER.mat"
    path.write_bytes(mat_header() + body)
    with quickly(3), refused(path, "not a readable MATLAB file", why):
        dreamer.read_file(path)
    if why.startswith("declares") or why == "not a variable":
        return
    path.write_bytes(mat_header() + compressed(body))  # the same, compressed
    with quickly(3), refused(path, "not a readable MATLAB file", why):
        dreamer.read_file(path)


def test_deep_nesting_is_refused(tmp_path):
    nested = doubles(b"", [1.0])
    for _ in range(200):
        nested = matrix(MX_CELL, (1, 1), b"", nested)
    path = tmp_path / "DREAMER.mat"
    path.write_bytes(mat_header() + compressed(matrix(MX_CELL, (1, 1), b"DREAMER", nested)))
    with refused(path, "nested more than 16 deep"):
        dreamer.read_file(path)


def test_mat_versions_and_header_bytes(tmp_path):
    path = tmp_path / "DREAMER.mat"
    path.write_bytes(mat_header(0x0200) + bytes(512))
    with refused(path, "MATLAB v7.3 (HDF5) files are not DREAMER's format"):
        dreamer.read_file(path)
    path.write_bytes(struct.pack("<5i", 0, 1, 1, 0, 2) + b"x\0" + bytes(8))  # MATLAB v4
    with refused(path, "not a readable MATLAB file", "v4"):
        dreamer.read_file(path)
    # a text file's bytes 124-125 were echoed as "version 58, 55": an oracle on any file
    path.write_bytes(b"root:$6$salt:19000:0:99999:7:::\n" * 10)
    with refused(path, "not a readable MATLAB file") as info:
        dreamer.read_file(path)
    message = str(info.value).replace(str(path), "")
    assert "version" not in message and "58" not in message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_mat_fifos_never_block(tmp_path):
    os.mkfifo(tmp_path / "DREAMER.mat")
    with refused(tmp_path / "DREAMER.mat", "FIFO"):
        _in_thread(lambda: load_features("dreamer", tmp_path, progress=False, use_cache=False))
    with refused(tmp_path / "DREAMER.mat", "FIFO"):
        _in_thread(lambda: dreamer.read_file(tmp_path / "DREAMER.mat"))
    folder = tmp_path / "seed"
    F.seed_folder(folder, files=("1_20131027.mat",), trial_numbers=(1,))
    os.mkfifo(folder / "2_20131027.mat")
    with refused(folder / "2_20131027.mat", "FIFO"):
        _in_thread(lambda: load_features("seed", folder, task="multi", progress=False,
                                         use_cache=False))
    (folder / "label.mat").unlink()
    os.mkfifo(folder / "label.mat")
    with refused(folder / "label.mat", "FIFO"):
        _in_thread(lambda: seed.read_file(folder / "1_20131027.mat"))
    with refused(folder / "2_20131027.mat", "FIFO"):
        _in_thread(lambda: seed.source_files(folder / "2_20131027.mat"))


# --------------------------------------------------------------------------------------------
# DREAMER: malformed structures


def _dreamer(tmp_path, change=None, n_clips: int = 3):
    """A DREAMER.mat whose scipy structure ``change(root)`` has edited before saving."""
    stimuli, baselines, scores = F.dreamer_arrays(n_subjects=2, n_clips=n_clips)
    path = F.write_dreamer(tmp_path / "DREAMER.mat", stimuli, baselines, scores)
    if change:
        mat = scipy.io.loadmat(path)
        change(mat["DREAMER"])
        scipy.io.savemat(path, {"DREAMER": mat["DREAMER"]})
    return path


def _subject(root, s):
    return root[0, 0]["Data"][0, s]


def test_score_vector_shorter_than_the_clips(tmp_path):
    def shorten(root):
        _subject(root, 1)[0, 0]["ScoreArousal"] = np.array([[1.0], [2.0]])
    path = _dreamer(tmp_path, shorten)
    with refused(path, "subject 02 has 3 clips", "DREAMER.Data{2}.ScoreArousal has 2 ratings"):
        dreamer.read_file(path)


def test_baselines_fewer_than_clips(tmp_path):
    def drop(root):
        eeg = _subject(root, 0)[0, 0]["EEG"][0, 0]
        eeg["baseline"] = eeg["baseline"][:2]
    path = _dreamer(tmp_path, drop)
    with refused(path, "subject 01 has 3 clips", "2 baselines"):
        dreamer.read_file(path)


def test_rating_that_is_not_a_number(tmp_path):
    def texts(root):
        cells = np.empty((3, 1), dtype=object)
        cells[:, 0] = [np.array([[4.0]]), np.array([[2.0]]), "high"]
        _subject(root, 0)[0, 0]["ScoreValence"] = cells
    path = _dreamer(tmp_path, texts)
    with refused(path, "subject 01 clip 3", "ScoreValence", "should be a number", "high"):
        dreamer.read_file(path)


@pytest.mark.parametrize("change, where", [
    (lambda root: root[0, 0].__setitem__("Data", np.array([[1.0, 2.0]])),
     "DREAMER.Data should be a cell array"),
    (lambda root: root[0, 0]["Data"].__setitem__((0, 1), "a subject"),
     "DREAMER.Data{2} should be a 1x1"),
    (lambda root: _subject(root, 0)[0, 0].__setitem__("EEG", np.array([[3.0]])),
     "DREAMER.Data{1}.EEG should be a 1x1 MATLAB struct"),
    (lambda root: _subject(root, 0)[0, 0]["EEG"][0, 0].__setitem__("stimuli", np.ones((3, 1))),
     "DREAMER.Data{1}.EEG.stimuli should be a cell array"),
    (lambda root: _subject(root, 1)[0, 0]["EEG"][0, 0]["stimuli"].__setitem__((1, 0), "text"),
     "subject 02 clip 2 stimuli (DREAMER.Data{2}.EEG.stimuli{2}) should be a samples x 14"),
    (lambda root: _subject(root, 0)[0, 0].__setitem__("ScoreDominance", "abc"),
     "DREAMER.Data{1}.ScoreDominance"),
    (lambda root: root[0, 0].__setitem__("SamplingRate", "128 Hz"),
     "DREAMER.SamplingRate should be a number"),
    (lambda root: root[0, 0].__setitem__("SamplingRate", np.array([[-1.0]])),
     "DREAMER.SamplingRate should be a positive sampling rate"),
])
def test_wrong_types_anywhere_name_the_path(tmp_path, change, where):
    path = _dreamer(tmp_path, change)
    with refused(path, where):
        dreamer.read_file(path)


def test_dreamer_variable_of_the_wrong_kind(tmp_path):
    path = tmp_path / "DREAMER.mat"
    scipy.io.savemat(path, {"DREAMER": np.arange(3.0)})
    with refused(path, "DREAMER should be a 1x1 MATLAB struct", "1x3 float64 array"):
        dreamer.read_file(path)
    scipy.io.savemat(path, {"DREAMER": {"Data": np.arange(3.0)}})
    with refused(path, "DREAMER.Data should be a cell array"):
        dreamer.read_file(path)
    scipy.io.savemat(path, {"DREAMER": {"Other": 1}})
    with refused(path, "DREAMER has no field 'Data'"):
        dreamer.read_file(path)


# --------------------------------------------------------------------------------------------
# SEED: trial numbers, labels, arrays


def _seed_trials(folder, trials: dict, labels=F.SEED_LABELS):
    F.write_seed_labels(folder, labels)
    rng = np.random.default_rng(0)
    file = folder / "1_20131027.mat"
    scipy.io.savemat(file, {k: (F.eeg_like(62, 700, 200.0, rng) if v is None else v)
                            for k, v in trials.items()})
    return file


def test_seed_trial_zero_is_refused(tmp_path):
    file = _seed_trials(tmp_path, {"x_eeg0": None, "x_eeg1": None})
    with refused(file, "x_eeg0 is trial 0", "trials 1 to 15"):
        seed.read_file(file)


def test_seed_trial_past_the_labels_is_refused(tmp_path):
    file = _seed_trials(tmp_path, {"x_eeg16": None, "x_eeg2": None})
    with refused(file, "x_eeg16 is trial 16", "trials 1 to 15"):
        seed.read_file(file)


def test_seed_same_trial_twice_is_refused(tmp_path):
    file = _seed_trials(tmp_path, {"a_eeg3": None, "b_eeg03": None})
    with refused(file, "both trial 3"):
        seed.read_file(file)


@pytest.mark.parametrize("labels, fragments", [
    ([1, 0, 2] + [0] * 12, ["label 3 is 2", "-1 (negative), 0 (neutral) or 1 (positive)"]),
    ([1, 0.5] + [0] * 13, ["label 2 is 0.5"]),
    ([np.nan] + [0] * 14, ["label 1 is nan"]),
    ([0] * 14 + [-3], ["label 15 is -3"]),
])
def test_seed_labels_must_be_minus_one_zero_or_one(tmp_path, labels, fragments):
    F.write_seed_labels(tmp_path, [0] * 15)
    scipy.io.savemat(tmp_path / "label.mat", {"label": np.array([labels], dtype=float)})
    with refused(tmp_path / "label.mat", *fragments):
        seed.read_labels(tmp_path)


@pytest.mark.parametrize("label, found", [
    (np.zeros((3, 5)), "a 3x5 float64 array"),
    (np.zeros((1, 0)), "a 1x0 float64 array"),
    ("positive", "text"),
    ({"a": 1}, "struct"),
])
def test_seed_labels_of_the_wrong_kind(tmp_path, label, found):
    F.write_seed_labels(tmp_path)
    scipy.io.savemat(tmp_path / "label.mat", {"label": label})
    with refused(tmp_path / "label.mat", "'label' should be a vector of numbers", found):
        seed.read_labels(tmp_path)


@pytest.mark.parametrize("value, found", [
    ("not eeg", "text"),
    ({"a": 1}, "struct"),
    (np.ones((62, 700)) * 1j, "complex128"),
])
def test_seed_trial_that_is_not_numbers(tmp_path, value, found):
    cells = np.empty((1, 2), dtype=object)
    cells[0, 0], cells[0, 1] = np.ones((62, 5)), "x"
    for v, f in ((value, found), (cells, "cell")):
        file = _seed_trials(tmp_path, {"x_eeg1": v})
        with refused(file, "x_eeg1 should be a 62 channels x samples matrix of numbers", f):
            seed.read_file(file)
