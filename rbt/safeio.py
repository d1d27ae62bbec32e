"""Careful file access for untrusted inputs and for outputs the user names.

Inputs: only regular files are read (a FIFO or a device would block or never end), reads are
bounded, and JSON is parsed with its depth and size bounded. Outputs: only regular files are
replaced, never through a symlink, and never one of the inputs.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

MAX_JSON_BYTES = 64 * 1024**2  # metadata and configs are kilobytes; training state is megabytes


class OutputPathError(ValueError):
    """An output path that rbt refuses to write: not a regular file, a symlink, or an input."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symlink")):
        if test(mode):
            return name
    return "not a regular file"


def require_regular_file(path, error: type[Exception] = ValueError,
                         expected: str = "a file") -> os.stat_result:
    """``os.stat`` of ``path`` if it is a regular file (symlinks followed), else ``error``
    saying what it is. Never opens the path, so a FIFO cannot block."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise error(f"{path}: no such file (expected {expected})") from None
    except OSError as err:
        raise error(f"{path}: cannot read ({err.strerror or err})") from err
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path}: is {_kind(st.st_mode)}; expected {expected}")
    return st


def open_regular(path, max_bytes: int, error: type[Exception] = ValueError,
                 expected: str = "a file"):
    """A binary file object for a regular file of at most ``max_bytes``, else ``error``.

    The file is opened non-blocking and checked on the open descriptor, so a path swapped for
    a FIFO between a check and the open still cannot block."""
    path = Path(path)
    require_regular_file(path, error, expected)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise error(f"{path}: cannot read ({err.strerror or err})") from err
    fh = os.fdopen(fd, "rb")
    st = os.fstat(fh.fileno())
    if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
        fh.close()
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{path}: is {_kind(st.st_mode)}; expected {expected}")
        raise error(f"{path}: {st.st_size / 1024**2:.1f} MB is more than the "
                    f"{max_bytes / 1024**2:.0f} MB that {expected} can be")
    return fh


def read_bytes(path, max_bytes: int, error: type[Exception] = ValueError,
               expected: str = "a file") -> bytes:
    """The content of a regular file of at most ``max_bytes`` (see :func:`open_regular`)."""
    return read_content(path, max_bytes, error, expected)[0]


def read_content(path, max_bytes: int, error: type[Exception] = ValueError,
                 expected: str = "a file") -> tuple[bytes, os.stat_result]:
    """:func:`read_bytes` and ``os.fstat`` of the descriptor, taken before reading (what a
    content digest is remembered against: a file changed while it was read shows a newer
    mtime next time)."""
    with open_regular(path, max_bytes, error, expected) as fh:
        st = os.fstat(fh.fileno())
        try:
            # its size and one byte more, not max_bytes + 1: a buffer of that size would be
            # allocated (and paged in by the kernel in part) only to be shrunk
            data = fh.read(min(st.st_size, max_bytes) + 1)
            if len(data) > st.st_size:  # it grew since: read on, up to the bound
                data += fh.read(max_bytes + 1 - len(data))
        except OSError as err:
            raise error(f"{path}: cannot read ({err.strerror or err})") from err
    if len(data) > max_bytes:
        raise error(f"{path}: grew past {max_bytes / 1024**2:.0f} MB while being read")
    return data, st


def read_json(path, error: type[Exception] = ValueError, expected: str = "a JSON file",
              max_bytes: int = MAX_JSON_BYTES):
    """Parsed JSON from a regular file, with size and nesting bounded; ``error`` names the
    file and what is wrong (never a RecursionError or a decoding traceback)."""
    data = read_bytes(path, max_bytes, error, expected)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise error(f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); expected "
                    f"{expected}") from None
    except RecursionError:
        raise error(f"{path}: JSON nested too deeply; expected {expected}") from None
    except ValueError as err:
        raise error(f"{path}: not valid JSON ({err}); expected {expected}") from None


def check_output(path, force: bool = False, inputs: Iterable = ()) -> Path:
    """Check that ``path`` may be written as a regular file; returns it.

    Refused, with :class:`OutputPathError`: a symlink (dangling or not), anything that is not
    a regular file (a folder, FIFO, device), or an existing file that is one of ``inputs`` or
    lies inside an input folder (it may be read as data). An existing regular file needs
    ``force`` (``FileExistsError`` otherwise).
    """
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise OutputPathError(f"{path}: is a symlink; rbt does not write through or over "
                              "symlinks. Give the real path of the output instead.")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputPathError(f"{path}: is {_kind(st.st_mode)}; the output must be a regular "
                              "file (--force replaces only regular files)")
    for given in inputs if st is not None else ():  # a file not there yet is no input
        if given is None:
            continue
        if is_same_or_inside(path, Path(given)):
            raise OutputPathError(f"{path}: is one of the inputs ({given}); choose another "
                                  "output path so the input is not overwritten")
    if st is not None and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    return path


def is_same_or_inside(path: Path, other: Path) -> bool:
    """Is ``path`` the file ``other`` (also through links), or inside the folder ``other``?"""
    try:
        if path.exists() and other.exists() and os.path.samefile(path, other):
            return True
    except OSError:
        pass
    return is_inside(path, other)


def is_inside(path, folder) -> bool:
    """Is ``path`` the folder ``folder`` or inside it, once every link on both is resolved?"""
    mine, theirs = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return mine == theirs or theirs in mine.parents


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells and column names cannot run as spreadsheet formulas: those
    starting with ``= + - @`` or a tab or carriage return get a leading apostrophe (the
    OWASP rule for CSV injection). Numbers are left as they are."""

    def safe(value):
        if isinstance(value, str) and value.startswith(_FORMULA_START):
            return "'" + value
        return value

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype):
            out[col] = out[col].map(safe)
        elif isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object).map(safe)
    out.columns = [safe(str(c)) if isinstance(c, str) else c for c in out.columns]
    return out
