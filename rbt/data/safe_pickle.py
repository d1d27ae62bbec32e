"""A restricted, bounded unpickler for DEAP's ``.dat`` files: a dict of numeric numpy arrays.

Nothing in the pickle reaches numpy's own reconstructors, which trust their arguments (a dtype's
BUILD state can make numpy read raw bytes as object pointers). The globals a pickle may name are
rbt's stand-ins that only record validated arguments; rbt then builds the arrays itself, from
numeric dtypes only, after checking with Python ints that each array's bytes are exactly
``prod(shape) * itemsize`` and that all arrays together fit in the bytes the file holds.

Written by hand because no library restricts what an unpickler *allocates*: the pure-Python
``pickle._Unpickler`` runs with only the opcodes numpy arrays need (CPython's C unpickler
allocates the length an opcode declares before reading it; so does ``BYTEARRAY8`` here, which is
replaced), a bounded number of operations, and no way to call anything but the stand-ins.
"""

from __future__ import annotations

import io
import math
import pickle
import re
import struct

import numpy as np

MAX_OPERATIONS = 10_000  # a DEAP file takes about 60; each one costs bounded time and memory
MAX_NDIM = 32
_RAW_TEXT_MIN = 1 << 16  # BINSTRINGs this long are array data (DEAP's keys are short)
_DTYPE_CODE = re.compile(r"^[biuf][0-9]{1,2}$")  # what numpy pickles for bool, int, uint, float
_BYTE_ORDERS = {"<": "<", ">": ">", "=": "=", "|": "|"}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked for an object other than numpy arrays, dicts and scalars."""


class PickleFormatError(pickle.UnpicklingError):
    """A pickle that is malformed, oversized, or holds arrays rbt does not rebuild."""


class NotAnArrayDictError(ValueError):
    """The pickle is sound but is not a dict of named arrays; ``found`` says what it is."""

    def __init__(self, found: str):
        super().__init__(found)
        self.found = found


def _short(text, limit: int = 60) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def _text(obj) -> str:
    """A bounded description of a value meant to be a short str (never a nested repr)."""
    return repr(obj[:20]) if type(obj) is str else _kind(obj)


def _kind(obj) -> str:
    """A short, bounded description of ``obj`` (never its repr, which may be huge or nested)."""
    if isinstance(obj, _Array):
        return "ndarray"
    if isinstance(obj, _Scalar):
        return "numpy scalar"
    if isinstance(obj, _Dtype):
        return "numpy dtype"
    if isinstance(obj, _RawText):
        return "long str"
    return type(obj).__name__


# --------------------------------------------------------------------------------------------
# Stand-ins: what the pickle's globals resolve to. They check and record, never build.


class _Dtype:
    """``numpy.dtype(code, align, copy)`` plus its BUILD state, for numeric codes only."""

    __slots__ = ("dtype",)

    def __init__(self, code, align=False, copy=True):
        if type(code) is not str or not _DTYPE_CODE.match(code):
            raise PickleFormatError(f"dtype {_text(code)} refused: only numeric arrays "
                                    "(bool, int, uint, float) are allowed")
        if align not in (0, 1) or copy not in (0, 1):
            raise PickleFormatError("dtype with unexpected arguments")
        dtype = np.dtype(code)  # a plain code like 'f8', checked above: cannot name objects
        if dtype.kind not in "biuf" or dtype.hasobject or dtype.fields is not None:
            raise PickleFormatError(f"dtype {code!r} refused: not a plain numeric type")
        self.dtype = dtype

    def __setstate__(self, state):
        # numpy writes (3, byte order, None, None, None, -1, -1, 0) for numeric types
        if type(state) is not tuple or len(state) != 8 or state[0] != 3:
            raise PickleFormatError("dtype state refused: not numpy's numeric dtype state")
        order = state[1]
        if type(order) is not str or order not in _BYTE_ORDERS:
            raise PickleFormatError(f"dtype byte order {_text(order)} refused")
        if state[2:5] != (None, None, None) or state[5:7] != (-1, -1) or state[7] != 0:
            raise PickleFormatError("dtype state refused: sub-arrays, fields, sizes or flags "
                                    "are not allowed (numeric dtypes have none)")
        if self.dtype.itemsize > 1 and order != "|":
            self.dtype = self.dtype.newbyteorder(order)
        elif self.dtype.itemsize > 1:
            raise PickleFormatError("dtype state refused: a multi-byte type needs a byte order")


class _RawText:
    """A long Python-2 ``str`` (BINSTRING), left as the bytes it is: only array data uses it.

    Decoding it to text and encoding it back (latin-1) would cost two copies of every array."""

    __slots__ = ("view",)

    def __init__(self, view: memoryview):
        self.view = view


class _NdarrayClass:
    """``numpy.ndarray`` as an argument of ``_reconstruct``; not callable."""

    __slots__ = ()


_NDARRAY = _NdarrayClass()


def _check_shape(shape) -> tuple[int, ...]:
    if type(shape) is not tuple or len(shape) > MAX_NDIM or not all(
            type(n) is int and n >= 0 for n in shape):
        found = _kind(shape) if type(shape) is not tuple else "(" + ", ".join(
            _short(n, 20) if type(n) is int else _kind(n) for n in shape[:8]) + ")"
        raise PickleFormatError(f"array shape refused: expected up to {MAX_NDIM} non-negative "
                                f"ints; found {found}")
    return shape


class _Array:
    """An array's validated parts: shape, dtype, memory order and exactly its bytes."""

    __slots__ = ("shape", "dtype", "fortran", "data", "budget", "copy")

    def __init__(self, budget, copy: bool = True):
        self.shape = self.dtype = self.fortran = self.data = None
        self.budget, self.copy = budget, copy

    def set_parts(self, shape, dtype, fortran, data):
        shape = _check_shape(shape)
        if not isinstance(dtype, _Dtype):
            raise PickleFormatError(f"array dtype refused: found {_kind(dtype)}")
        if type(fortran) not in (bool, int) or fortran not in (0, 1):
            raise PickleFormatError("array order flag refused")
        if type(data) is _RawText:
            self.budget.spend(len(data.view))
            # without copy: the array is a read-only view of the pickle's own bytes
            data = bytearray(data.view) if self.copy else data.view
        elif type(data) is str:  # Python 2 wrote the bytes as a str; latin-1 gives them back
            self.budget.spend(len(data))
            try:
                data = bytearray(data, "latin-1")
            except UnicodeEncodeError:
                raise PickleFormatError("array data is text, not bytes") from None
        if type(data) not in (bytes, bytearray, memoryview):
            raise PickleFormatError(f"array data refused: found {_kind(data)} (object arrays "
                                    "are not allowed)")
        expected = math.prod(shape) * dtype.dtype.itemsize  # Python ints: no overflow
        if len(data) != expected:
            raise PickleFormatError(
                f"array of shape {_short(shape)} and type {dtype.dtype.str} needs {expected} "
                f"bytes; the pickle holds {len(data)}")
        self.shape, self.dtype, self.fortran, self.data = shape, dtype, bool(fortran), data

    def __setstate__(self, state):
        if type(state) is tuple and len(state) == 5 and state[0] == 1:
            state = state[1:]
        if type(state) is not tuple or len(state) != 4:
            raise PickleFormatError("array state refused: not numpy's array state")
        self.set_parts(*state)


class _Scalar:
    """``numpy.core.multiarray.scalar(dtype, bytes)`` for a numeric dtype."""

    __slots__ = ("dtype", "data")

    def __init__(self, dtype, data):
        if not isinstance(dtype, _Dtype):
            raise PickleFormatError(f"scalar dtype refused: found {_kind(dtype)}")
        if type(data) is str:
            data = data.encode("latin-1")
        if type(data) is not bytes or len(data) != dtype.dtype.itemsize:
            raise PickleFormatError("scalar data refused: not the bytes of one number")
        self.dtype, self.data = dtype, data


def _empty_bytes() -> bytes:
    """``bytes()``: Python 3 pickles ``b""`` with protocol 2 as this call."""
    return b""


class _Budget:
    """Bytes the stand-ins may produce beyond what the pickle reads: at most the input size."""

    def __init__(self, limit: int):
        self.left = limit

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise PickleFormatError("the pickle decodes to more data than the file holds")


# --------------------------------------------------------------------------------------------
# The unpickler


_KEY_TYPES = (str, int, float, bool, bytes, type(None), _RawText)


def _check_key(key) -> None:
    # hashing a memo-shared nested tuple takes exponential time: keys are plain values only
    if type(key) not in _KEY_TYPES:
        raise PickleFormatError(f"a dict key that is a {_kind(key)}")


class _Dispatch(dict):
    def __missing__(self, code):
        raise PickleFormatError(f"pickle operation {bytes([code])!r} is not allowed in a DEAP "
                                ".dat file")


_ALLOWED_OPS = (
    "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP",
    "NONE", "NEWTRUE", "NEWFALSE", "BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT",
    "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
    "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
    "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_LIST", "LIST", "APPEND",
    "APPENDS", "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS",
    "BINGET", "LONG_BINGET", "BINPUT", "LONG_BINPUT", "MEMOIZE",
    "GLOBAL", "STACK_GLOBAL",
)


def _counted(handler):
    def op(self):
        self.operations += 1
        if self.operations > MAX_OPERATIONS:
            raise PickleFormatError(f"more than {MAX_OPERATIONS} pickle operations (a DEAP "
                                    "file needs about 60)")
        handler(self)
    return op


class _Unpickler(pickle._Unpickler):
    dispatch = _Dispatch()

    def __init__(self, data: bytes, copy: bool = True):
        self.input, self.view = io.BytesIO(data), memoryview(data)
        self.copy = copy
        super().__init__(self.input, encoding="latin1")
        self.size = len(data)
        self.budget = _Budget(len(data))
        self.operations = 0
        self.arrays: list[_Array] = []
        self.globals = {
            ("numpy.core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy.core.multiarray", "scalar"): _Scalar,
            ("numpy._core.multiarray", "scalar"): _Scalar,
            ("numpy.core.numeric", "_frombuffer"): self._frombuffer,
            ("numpy._core.numeric", "_frombuffer"): self._frombuffer,
            ("numpy", "ndarray"): _NDARRAY,
            ("numpy", "dtype"): _Dtype,
            ("_codecs", "encode"): self._encode,  # protocol-2 bytes written by Python 3
            ("__builtin__", "bytes"): _empty_bytes,  # ... and b"" (an empty array's data)
            ("builtins", "bytes"): _empty_bytes,
        }

    def find_class(self, module, name):
        try:
            return self.globals[(module, name)]
        except (KeyError, TypeError):
            raise UnsafePickleError(
                f"refused to load {_short(module)}.{_short(name)}: only numpy arrays, dicts "
                "and scalars are allowed in a DEAP .dat file") from None

    # the stand-in functions a REDUCE may call

    def _reconstruct(self, cls, shape, typecode):
        if cls is not _NDARRAY or typecode not in (b"b", "b"):
            raise PickleFormatError("array reconstruction refused: not a plain numpy array")
        _check_shape(shape)
        array = _Array(self.budget, self.copy)
        self.arrays.append(array)
        return array

    def _frombuffer(self, buf, dtype, shape, order):
        if order not in ("C", "F"):
            raise PickleFormatError("array order refused")
        array = _Array(self.budget)
        array.set_parts(shape, dtype, order == "F", buf)
        self.arrays.append(array)
        return array

    def _encode(self, obj, encoding="utf-8"):
        if type(obj) is not str or encoding not in ("latin1", "latin-1"):
            raise PickleFormatError("_codecs.encode refused: only latin-1 text is allowed")
        self.budget.spend(len(obj))
        return obj.encode("latin-1")

    # operations that differ from pickle's own

    def load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        callable_ = (_Dtype, _Scalar, _empty_bytes, self._reconstruct, self._frombuffer,
                     self._encode)
        if type(args) is not tuple or not any(func is f or func == f for f in callable_):
            raise PickleFormatError("pickle calls something other than numpy's array builders")
        self.stack[-1] = func(*args)

    def load_build(self):
        state = self.stack.pop()
        target = self.stack[-1]
        if type(target) not in (_Dtype, _Array):
            raise PickleFormatError(f"pickle sets the state of a {_kind(target)}")
        target.__setstate__(state)

    def load_global(self):
        module, name = self.readline(), self.readline()
        if not (module.endswith(b"\n") and name.endswith(b"\n")):
            raise PickleFormatError("pickle data was truncated")
        self.append(self.find_class(module[:-1].decode("utf-8"), name[:-1].decode("utf-8")))

    def load_binstring(self):
        (n,) = struct.unpack("<i", self.read(4))
        if n < 0:
            raise PickleFormatError("BINSTRING with a negative length")
        if n >= _RAW_TEXT_MIN and self._unframer.current_frame is None:
            start = self.input.tell()  # Python 2's array bytes: kept as bytes, not decoded
            if start + n > self.size:
                raise PickleFormatError("pickle data was truncated")
            self.input.seek(start + n)
            self.append(_RawText(self.view[start:start + n]))
            return
        data = self.read(n)
        if len(data) != n:
            raise PickleFormatError("pickle data was truncated")
        self.append(data.decode("latin-1"))

    def load_bytearray8(self):
        (n,) = struct.unpack("<Q", self.read(8))
        if n > self.size:
            raise PickleFormatError(f"BYTEARRAY8 declares {n} bytes; the file has {self.size}")
        if self._unframer.current_frame is None:  # big buffers lie outside frames: one copy
            start = self.input.tell()
            if start + n > self.size:
                raise PickleFormatError("pickle data was truncated")
            self.input.seek(start + n)
            self.append(bytearray(self.view[start:start + n]))
            return
        data = self.read(n)
        if len(data) != n:
            raise PickleFormatError("pickle data was truncated")
        self.append(bytearray(data))

    def load_append(self):
        value = self.stack.pop()
        if type(self.stack[-1]) is not list:
            raise PickleFormatError("APPEND to something that is not a list")
        self.stack[-1].append(value)

    def load_appends(self):
        items = self.pop_mark()
        if type(self.stack[-1]) is not list:
            raise PickleFormatError("APPENDS to something that is not a list")
        self.stack[-1].extend(items)

    def load_setitem(self):
        value, key = self.stack.pop(), self.stack.pop()
        _check_key(key)
        if type(self.stack[-1]) is not dict:
            raise PickleFormatError("SETITEM on something that is not a dict")
        self.stack[-1][key] = value

    def load_dict(self):
        items = self.pop_mark()
        if len(items) % 2:
            raise PickleFormatError("DICT with a key but no value")
        for key in items[::2]:
            _check_key(key)
        self.append(dict(zip(items[::2], items[1::2])))

    def load_setitems(self):
        items = self.pop_mark()
        if type(self.stack[-1]) is not dict or len(items) % 2:
            raise PickleFormatError("SETITEMS on something that is not a dict")
        target = self.stack[-1]
        for i in range(0, len(items), 2):
            _check_key(items[i])
            target[items[i]] = items[i + 1]


for _name in (*_ALLOWED_OPS, "REDUCE", "BUILD", "BYTEARRAY8"):
    _code = getattr(pickle, _name)[0]
    _own = vars(_Unpickler).get(f"load_{_name.lower()}")  # rbt's version where it has one
    _Unpickler.dispatch[_code] = _counted(_own or pickle._Unpickler.dispatch[_code])


# --------------------------------------------------------------------------------------------
# Building real arrays from validated parts


def _build(spec: _Array | _Scalar, fresh: set[int]):
    if isinstance(spec, _Scalar):
        return np.frombuffer(spec.data, dtype=spec.dtype.dtype)[0]
    if spec.data is None:
        raise PickleFormatError("an array without data (its state was never set)")
    flat = np.frombuffer(spec.data, dtype=spec.dtype.dtype)
    # a bytearray used by this array alone becomes the array's own memory; anything else is
    # copied, so arrays are writable and never share memory through the pickle's memo; a
    # memoryview of the pickle's bytes (load_arrays(copy=False)) stays a read-only view
    if type(spec.data) is memoryview:
        pass
    elif not (type(spec.data) is bytearray and id(spec.data) in fresh):
        flat = flat.copy()
    fresh.discard(id(spec.data))
    return flat.reshape(spec.shape, order="F" if spec.fortran else "C")


def load_arrays(data: bytes, copy: bool = True) -> dict[str, np.ndarray]:
    """The dict of named numeric arrays pickled in ``data``, rebuilt by rbt.

    ``copy=False``: arrays whose bytes lie in ``data`` as they are (Python 2's pickles, as
    DEAP was released) are read-only views of ``data`` instead of writable copies, which
    spares a copy of the whole file (for a reader that only reads the signal).

    Raises
    ------
    UnsafePickleError
        The pickle names a global other than numpy's array builders.
    PickleFormatError
        Malformed, truncated, oversized, or an array rbt does not rebuild (object, text or
        structured dtypes; bytes that do not match the shape).
    NotAnArrayDictError
        A sound pickle of something else (``found`` says what).
    """
    unpickler = _Unpickler(data, copy)
    try:
        top = unpickler.load()
    except (UnsafePickleError, PickleFormatError):
        raise
    except Exception as err:  # safe: only the stand-ins above can have run
        raise PickleFormatError(f"{type(err).__name__}: {_short(err, 200)}") from None
    if type(top) is not dict:
        raise NotAnArrayDictError(_kind(top))
    if any(type(k) is not str for k in top):
        key_types = sorted({_kind(k) for k in top})
        raise NotAnArrayDictError(f"a dict whose keys are {', '.join(key_types)} (expected "
                                  "names)")
    for key, value in top.items():
        if not isinstance(value, (_Array, _Scalar)):
            raise NotAnArrayDictError(f"a dict whose {_short(key)!r} is a {_kind(value)}, not "
                                      "a numpy array")
    distinct = {id(v): v for v in top.values() if isinstance(v, _Array)}
    total = sum(len(v.data) for v in distinct.values() if v.data is not None)
    if total > len(data):
        raise PickleFormatError("the arrays together need more bytes than the file holds")
    counts: dict[int, int] = {}
    for arr in unpickler.arrays:
        if arr.data is not None:
            counts[id(arr.data)] = counts.get(id(arr.data), 0) + 1
    fresh = {i for i, n in counts.items() if n == 1}
    built: dict[int, np.ndarray] = {}
    out = {}
    for key, value in top.items():
        if id(value) not in built:
            built[id(value)] = _build(value, fresh)
        out[key] = built[id(value)]
    return out
