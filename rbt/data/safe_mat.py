"""A bounded MATLAB v5 ``.mat`` loader: declared sizes are checked before anything is inflated
or allocated, then ``scipy.io.loadmat`` reads the checked bytes.

``scipy.io.loadmat`` trusts a file's declared sizes: a few MB of zlib data inflate to gigabytes,
an element's declared byte count is allocated before it is read, and a cell or struct array's
declared dimensions become an object array of that many elements whatever the payload holds.
No library checks these, so rbt walks the MAT v5 layout itself (by hand, following MathWorks'
"MAT-File Format" description):

- The input is a regular file (never a FIFO or device) of at most :data:`MAX_FILE_BYTES`.
- Each top-level variable is read or inflated on its own, incrementally: the size its array
  declares is checked against the budget first, and inflating stops at that size. All
  variables together may hold at most ``budget = min(4 GiB, max(1 GiB, 10 x file size))`` bytes. The
  released DREAMER.mat is about 450 MB on disk and 1.5 GB inflated (3.3x); SEED's files are
  stored uncompressed or nearly so. A zlib bomb (up to ~1000x) is refused at the budget.
- Inside a variable every element must fit in its parent; numeric and char data must hold
  exactly ``prod(dims)`` values; a cell or struct array's ``prod(dims) x fields`` elements must
  each have their 8-byte tag in the payload; nesting is at most :data:`MAX_DEPTH` deep and a
  file has at most :data:`MAX_ARRAYS` arrays; the arrays scipy will build total at most the
  budget. Sparse arrays, MATLAB objects and function handles (in neither dataset) are refused.
- MATLAB v7.3 files (HDF5) and v4 files are refused with a clear error.
"""

from __future__ import annotations

import io
import math
import os
import struct
import zlib

import numpy as np
import scipy.io

from ..safeio import open_regular
from .recording import DataFormatError

MAX_FILE_BYTES = 2 * 1024**3  # DREAMER.mat, the largest, is about 450 MB
MIN_BUDGET = 1024**3
BUDGET_FACTOR = 10
MAX_BUDGET = 4 * 1024**3  # whatever the file's size: DREAMER.mat inflates to about 1.5 GB
MAX_DEPTH = 16  # DREAMER nests 6 deep (struct, cell, struct, struct, cell, matrix)
MAX_ARRAYS = 200_000  # DREAMER.mat holds about 2,000 arrays
_CHUNK = 1 << 20
_HEADER = 128

miINT8, miINT32, miUINT32, miMATRIX, miCOMPRESSED, miUTF8 = 1, 5, 6, 14, 15, 16
_DATA_SIZES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}  # numeric miTYPEs
_CHAR_SIZES = {**_DATA_SIZES, 16: 1, 17: 2, 18: 4}
mxCELL, mxSTRUCT, mxCHAR = 1, 2, 4
_CLASS_SIZES = {mxCHAR: 4, 6: 8, 7: 4, 8: 1, 9: 1, 10: 2, 11: 2, 12: 4, 13: 4, 14: 8, 15: 8}
_REFUSED_CLASSES = {3: "a MATLAB object", 5: "a sparse array", 16: "a function handle",
                    17: "a MATLAB object"}


class _Bad(Exception):
    """A reason the file is not a sound MAT v5 file (the caller adds the path)."""


class _Budget:
    def __init__(self, limit: int):
        self.limit = limit
        self.inflated = 0
        self.decoded = 0
        self.arrays = 0

    def inflate(self, n: int) -> None:
        self.inflated += n
        if self.inflated > self.limit:
            raise _Bad(f"its variables inflate to more than {self.limit / 1024**2:.0f} MB, "
                       "the most rbt reads from a file this size (a zlib bomb?)")

    def decode(self, n: int) -> None:
        self.decoded += n
        if self.decoded > self.limit:
            raise _Bad(f"its arrays would need more than {self.limit / 1024**2:.0f} MB")


# --------------------------------------------------------------------------------------------
# Walking one variable's miMATRIX element


class _Walker:
    def __init__(self, buf, order: str, budget: _Budget):
        self.buf, self.order, self.budget = buf, order, budget

    def element(self, pos: int, end: int) -> tuple[int, int, int, int]:
        """(type, data start, data end, next element) of the element at ``pos``."""
        if end - pos < 8:
            raise _Bad("a data element is cut off")
        word, n = struct.unpack_from(self.order + "II", self.buf, pos)
        if word >> 16:  # the small format: up to 4 bytes of data inside the tag
            mtype, n = word & 0xFFFF, word >> 16
            if n > 4:
                raise _Bad("a small data element declares more than 4 bytes")
            return mtype, pos + 4, pos + 4 + n, pos + 8
        if n > end - pos - 8:
            raise _Bad(f"a data element declares {n} bytes; only {end - pos - 8} are left")
        return word, pos + 8, pos + 8 + n, min(pos + 8 + n + (-n % 8), end)

    def ints(self, start: int, end: int, code: str) -> tuple[int, ...]:
        return struct.unpack_from(f"{self.order}{(end - start) // 4}{code}", self.buf, start)

    def matrix(self, start: int, end: int, depth: int) -> None:
        """Check the payload ``buf[start:end]`` of a miMATRIX element."""
        self.budget.arrays += 1
        if self.budget.arrays > MAX_ARRAYS:
            raise _Bad(f"more than {MAX_ARRAYS} arrays")
        if depth > MAX_DEPTH:
            raise _Bad(f"arrays nested more than {MAX_DEPTH} deep")
        if start == end:
            return  # an empty array
        mtype, ds, de, pos = self.element(start, end)
        if mtype != miUINT32 or de - ds != 8:
            raise _Bad("an array without its flags")
        flags = self.ints(ds, de, "I")[0]
        cls, is_complex = flags & 0xFF, bool(flags & 0x800)
        mtype, ds, de, pos = self.element(pos, end)
        ndim = (de - ds) // 4
        if mtype != miINT32 or (de - ds) % 4 or not 1 <= ndim <= 32:
            raise _Bad("an array without valid dimensions")
        dims = self.ints(ds, de, "i")
        if min(dims) < 0:
            raise _Bad(f"an array with negative dimensions {dims}")
        count = math.prod(dims)
        mtype, ds, de, pos = self.element(pos, end)
        if mtype != miINT8:
            raise _Bad("an array without its name")
        if cls in _REFUSED_CLASSES:
            raise _Bad(f"it holds {_REFUSED_CLASSES[cls]}, which rbt does not read")
        if cls in _CLASS_SIZES:
            self.numbers(cls, is_complex, dims, count, pos, end)
        elif cls == mxCELL:
            self.children(count, 1, dims, pos, end, depth)
        elif cls == mxSTRUCT:
            mtype, ds, de, pos = self.element(pos, end)
            if mtype != miINT32 or de - ds != 4:
                raise _Bad("a struct without its field name length")
            name_length = self.ints(ds, de, "i")[0]
            mtype, ds, de, pos = self.element(pos, end)
            if mtype != miINT8 or not 1 <= name_length <= 4096 or (de - ds) % name_length:
                raise _Bad("a struct with malformed field names")
            self.children(count, (de - ds) // name_length, dims, pos, end, depth)
        else:
            raise _Bad(f"an array of unknown class {cls}")

    def numbers(self, cls, is_complex, dims, count, pos, end) -> None:
        sizes = _CHAR_SIZES if cls == mxCHAR else _DATA_SIZES
        for _ in range(2 if is_complex else 1):
            mtype, ds, de, pos = self.element(pos, end)
            if mtype not in sizes:
                raise _Bad(f"an array whose data has unknown type {mtype}")
            n = de - ds
            if mtype == miUTF8 and n < count or mtype != miUTF8 and n != count * sizes[mtype]:
                raise _Bad(f"an array of {'x'.join(map(str, dims))} values holds "
                           f"{n // sizes[mtype]}")
        self.budget.decode(count * _CLASS_SIZES[cls] * (2 if is_complex else 1))

    def children(self, count, n_fields, dims, pos, end, depth) -> None:
        """A cell (one child per element) or struct array (one per element and field)."""
        total = count * n_fields
        if count > MAX_ARRAYS or total * 8 > end - pos:
            raise _Bad(f"a {'x'.join(map(str, dims))} cell or struct array whose elements "
                       f"cannot fit in its {end - pos} bytes")
        self.budget.decode(8 * max(total, count))
        for _ in range(total):
            mtype, ds, de, pos = self.element(pos, end)
            if mtype != miMATRIX:
                raise _Bad("a cell or struct element that is not an array")
            self.matrix(ds, de, depth + 1)


# --------------------------------------------------------------------------------------------
# Reading the file


class _View(io.RawIOBase):
    """A read-only file over a buffer, so scipy reads it without a second copy."""

    def __init__(self, buf):
        self._view, self._pos = memoryview(buf), 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._pos

    def seek(self, offset, whence=0):
        base = {0: 0, 1: self._pos, 2: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n=-1):
        end = len(self._view) if n is None or n < 0 else min(self._pos + n, len(self._view))
        out = bytes(self._view[self._pos:end])
        self._pos = max(self._pos, end)
        return out

    def readinto(self, b):
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _read_exact(fh, n: int, what: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise _Bad(f"{what} is cut off (truncated file?)")
    return data


def _buffer(header: bytes, tag: bytes, payload: int) -> memoryview:
    """Room for one variable as a MAT file of its own: header, tag, payload.

    ``np.zeros`` takes its memory lazily (calloc), so a size that is declared but never filled
    costs address space only."""
    length = len(header) + len(tag) + payload
    out = memoryview(np.zeros(length, dtype=np.uint8)).cast("B")
    out[: len(header)] = header
    out[len(header): len(header) + len(tag)] = tag
    return out


def _inflate(fh, n: int, header: bytes, order: str, budget: _Budget) -> memoryview:
    """The variable compressed in the next ``n`` bytes of ``fh``, inflated incrementally: its
    declared size is checked against the budget before anything more is inflated."""
    inflater = zlib.decompressobj()
    left = n

    def more(limit: int) -> bytes:
        nonlocal left
        while not inflater.eof:
            if inflater.unconsumed_tail:
                data = inflater.unconsumed_tail
            elif left:
                data = fh.read(min(_CHUNK, left))
                if not data:
                    raise _Bad("a compressed variable is cut off (truncated file?)")
                left -= len(data)
            else:
                data = b""  # zlib may still hold output
            try:
                piece = inflater.decompress(data, limit)
            except zlib.error as err:
                raise _Bad(f"a compressed variable is corrupt ({err})") from None
            if piece or not (data or inflater.unconsumed_tail):
                return piece
        return b""

    tag = b""
    while len(tag) < 8:
        piece = more(8 - len(tag))
        if not piece:
            raise _Bad("a compressed variable holds nothing")
        tag += piece
    mtype, length = struct.unpack(order + "II", tag)
    if mtype != miMATRIX:
        raise _Bad("a compressed variable is not an array")
    budget.inflate(8 + length)
    out = _buffer(header, tag, length)
    pos = len(header) + 8
    while pos < len(out):
        piece = more(min(16 * _CHUNK, len(out) - pos))
        if not piece:
            raise _Bad("a compressed variable inflates to less than it declares (truncated?)")
        out[pos: pos + len(piece)] = piece
        pos += len(piece)
    if left:
        fh.seek(left, os.SEEK_CUR)  # anything after the array is not read
    return out


def _variables(fh, size: int, dataset: str, path):
    """Each top-level variable as a checked, uncompressed MAT file of its own."""
    header = fh.read(_HEADER)
    if not header:
        raise _Bad("the file is empty")
    if 0 in header[:4]:
        raise _Bad("not a MATLAB v5 file (MATLAB v4 files and other formats are not read)")
    if len(header) < _HEADER:
        raise _Bad("shorter than a MATLAB header")
    order = {b"IM": "<", b"MI": ">"}.get(header[126:128])
    if order is None:
        raise _Bad("not a MATLAB v5 file (no MATLAB header)")
    version = struct.unpack_from(order + "H", header, 124)[0]
    if version == 0x0200:
        raise DataFormatError(f"{path}: MATLAB v7.3 (HDF5) files are not {dataset}'s format; "
                              "save it as a v7 MAT file (save -v7)")
    if version != 0x0100:
        raise _Bad("not a MATLAB v5 file (unknown version)")
    budget = _Budget(min(MAX_BUDGET, max(MIN_BUDGET, BUDGET_FACTOR * size)))
    pos = _HEADER
    while pos < size:
        tag = _read_exact(fh, 8, "a variable's tag")
        word, n = struct.unpack(order + "II", tag)
        if n > size - pos - 8:
            raise _Bad(f"a variable declares {n} bytes; the file has {size - pos - 8} left")
        if word == miCOMPRESSED:
            out = _inflate(fh, n, header, order, budget)
        elif word == miMATRIX:
            budget.inflate(8 + n)
            out = _buffer(header, tag, n)
            if fh.readinto(out[_HEADER + 8:]) != n:
                raise _Bad("a variable is cut off (truncated file?)")
        else:
            raise _Bad(f"a top-level element of type {word & 0xFFFF}, not a variable")
        pos += 8 + n
        _Walker(out, order, budget).matrix(_HEADER + 8, len(out), 0)
        yield out


def loadmat(path, dataset: str) -> dict:
    """``scipy.io.loadmat`` of ``path`` after the checks in this module's docstring.

    Every problem is a :class:`DataFormatError` naming ``path``; ``dataset`` (e.g. "DREAMER")
    names what the file should have been."""

    class Refused(Exception):
        pass

    def unreadable(reason: str) -> DataFormatError:
        return DataFormatError(f"{path}: not a readable MATLAB file ({reason})")

    expected = f"{dataset}'s .mat file"
    try:
        fh = open_regular(path, MAX_FILE_BYTES, Refused, expected)
    except Refused as err:
        raise unreadable(str(err).removeprefix(f"{path}: ")) from None
    with fh:
        st = os.fstat(fh.fileno())
        result: dict = {}
        try:
            for variable in _variables(fh, st.st_size, dataset, path):
                try:
                    result.update(scipy.io.loadmat(_View(variable)))
                except Exception as err:  # scipy's many error types; the layout is checked
                    raise _Bad(f"{type(err).__name__}: {str(err)[:200]}") from None
        except _Bad as err:
            raise unreadable(str(err)) from None
        except OSError as err:
            raise unreadable(f"cannot read: {err.strerror or err}") from None
    if not result:
        raise unreadable("it holds no variables")
    return result


def describe(value) -> str:
    """What a MATLAB value (as :func:`loadmat` gives it) is, briefly: never its whole content,
    for errors that say what was found."""
    if isinstance(value, np.ndarray):
        shape = "x".join(map(str, value.shape))
        if value.dtype.names is not None:
            return f"a {shape} struct array"
        if value.dtype == object:
            return f"a {shape} cell array"
        if value.dtype.kind in "US":
            return f"text ({str(value.ravel()[0])[:40]!r})" if value.size else "empty text"
        return f"a {shape} {value.dtype} array"
    if isinstance(value, str):
        return f"text ({value[:40]!r})"
    return type(value).__name__
