"""Uploaded recordings: one private folder per dashboard session, validated before they are
kept, deleted when the session ends or has been idle too long.

Layout: a per-server root made by ``tempfile.mkdtemp`` (mode 0700, unguessable name) holds one
``mkdtemp`` folder per session (0700); files are written 0600. The path of an upload is never
shown or accepted as a typed path (see :mod:`roots`), so one session cannot read another's.
The size limit is the server's ``server.maxUploadSize``, passed in by the caller.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

from rbt.data.raw import SUFFIXES as RECORDING_SUFFIXES
from rbt.data.recording import DataFormatError

UPLOAD_TTL_S = 3600.0  # uploads idle this long are deleted (RBT_UPLOAD_TTL overrides)

# companion files that a recording's main file needs beside it
SIDECARS = (".eeg", ".vmrk", ".fdt")


def _write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by the server's user only (0600); never through a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(data)


def save_uploads(files: Sequence[tuple[str, bytes]], folder: Path, max_mb: float) -> Path:
    """Write uploaded recording file(s) to ``folder/<digest>/`` (0700, files 0600) and return
    the main file. The same files land in the same place.

    Several files are allowed where a format needs them together (BrainVision .vhdr + .vmrk +
    .eeg, EEGLAB .set + .fdt). Raises ValueError saying what to do for an oversized upload or
    a file type MNE recordings do not use.
    """
    if not files:
        raise ValueError("no file was uploaded")
    total = sum(len(data) for _, data in files)
    if total > max_mb * 1024**2:
        raise ValueError(
            f"the upload is {total / 1024**2:.0f} MB; the dashboard accepts up to {max_mb:.0f} MB. "
            "Choose 'Path on this machine' in the sidebar and enter the file's path instead.")
    names = [Path(n).name for n, _ in files]  # no folders: only the names are used
    main = [n for n in names if n.lower().endswith(RECORDING_SUFFIXES)]
    if len(main) != 1:
        raise ValueError(
            f"{', '.join(names)}: expected one EEG recording ({', '.join(RECORDING_SUFFIXES)}) "
            "plus its companion files if the format has them (.vmrk/.eeg, .fdt). For DEAP, "
            "DREAMER or SEED choose that source and enter the folder or file path instead.")
    for name in names:
        if not name.lower().endswith(RECORDING_SUFFIXES + SIDECARS) or "\0" in name:
            raise ValueError(f"{name}: not an EEG recording or a companion file "
                             f"({', '.join(RECORDING_SUFFIXES + SIDECARS)})")
    if len(set(names)) != len(names):
        raise ValueError(f"{', '.join(names)}: two uploaded files have the same name")
    digest = hashlib.sha256()
    for name, (_, data) in sorted(zip(names, files)):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    target = Path(folder) / digest.hexdigest()[:16]
    if not target.is_dir():
        target.mkdir(mode=0o700, parents=True)
    for name, (_, data) in zip(names, files):
        path = target / name
        if path.is_file() and not path.is_symlink() and path.stat().st_size == len(data):
            continue
        path.unlink(missing_ok=True)
        _write_private(path, data)
    return target / main[0]


def _inside(path: Path, folder: Path) -> bool:
    real = Path(os.path.realpath(path))
    return real == folder or folder in real.parents


def check_recording(file: Path) -> None:
    """Raise :class:`DataFormatError` (naming the file only, not its folder) unless ``file``
    opens as a recording whose data all lie in its own folder (``rbt.data.raw.open_recording``:
    headers checked before MNE opens them, samples not read)."""
    from rbt.data.raw import CompanionFileError, open_recording

    file = Path(file)
    try:
        open_recording(file, all_companions=True)
    except CompanionFileError as err:
        named = f"names {err.companion}, which is" if err.companion else "names a file which is"
        uploaded = ", ".join(sorted(p.name for p in file.parent.iterdir()))
        raise DataFormatError(
            f"{file.name}: its header {named} not one of the uploaded files ({uploaded}); "
            "upload the .vhdr with its .vmrk and .eeg files (or the .set with its .fdt)"
        ) from None
    except DataFormatError as err:
        folder = os.path.realpath(file.parent)
        message = str(err).replace(str(file), file.name)
        message = message.replace(folder + os.sep, "").replace(str(file.parent) + os.sep, "")
        raise DataFormatError(message[:500]) from None


class UploadStore:
    """The server's uploads: a private root holding one folder per session.

    ``parent`` is where the root is made (default: the system's temporary folder); folders
    idle for ``ttl`` seconds are removed by :meth:`sweep`. The root goes when the store is
    collected or the server exits.
    """

    def __init__(self, parent: str | Path | None = None, ttl: float = UPLOAD_TTL_S):
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
        self.root = Path(os.path.realpath(tempfile.mkdtemp(prefix="rbt-uploads-",
                                                           dir=parent)))
        self.ttl = float(ttl)
        self._lock = threading.Lock()
        self._last_sweep = 0.0
        self._owners: dict[str, str] = {}  # session folder -> the id of the session using it
        weakref.finalize(self, shutil.rmtree, str(self.root), True)
        self._remove_stale_roots()

    def _remove_stale_roots(self) -> None:
        """Remove the upload roots of earlier servers that ended without cleaning up (killed):
        this user's ``rbt-uploads-*`` folders beside this one with nothing used within the
        TTL. A running server's active sessions keep their folders fresh."""
        for other in self.root.parent.glob("rbt-uploads-*"):
            try:
                st = other.lstat()
                if other == self.root or not other.is_dir() or other.is_symlink() or (
                        st.st_uid != os.getuid()):
                    continue
                newest = max([st.st_mtime] + [e.stat(follow_symlinks=False).st_mtime
                                              for e in os.scandir(other)])
            except OSError:
                continue
            if time.time() - newest > self.ttl:
                shutil.rmtree(other, ignore_errors=True)

    def session(self, owner: str | None = None) -> SessionUploads:
        """A new session's (empty) uploads; ``owner`` names the session (see
        :meth:`remove_ended`)."""
        return SessionUploads(self, owner)

    def own(self, folder: Path, owner: str | None) -> None:
        """Record that ``folder`` belongs to the session ``owner``."""
        if owner is not None:
            with self._lock:
                self._owners[str(folder)] = owner

    def remove_ended(self, ended: Callable[[str], bool]) -> list[Path]:
        """Remove the folders of sessions for which ``ended(owner)`` is true; returns them.

        Deleting a session's files when its state is collected is not enough: anything that
        still refers to the state (a thread, a cached value) keeps them, so the server asks
        its own session registry instead."""
        with self._lock:
            gone = [f for f, owner in self._owners.items() if ended(owner)]
            for folder in gone:
                del self._owners[folder]
        for folder in gone:
            shutil.rmtree(folder, ignore_errors=True)
        return [Path(f) for f in gone]

    def sweep(self, now: float | None = None, every: float = 0.0) -> list[Path]:
        """Remove session folders unused for longer than the TTL; returns what was removed.
        With ``every``, do nothing when the last sweep was less than that many seconds ago."""
        now = time.time() if now is None else now
        with self._lock:
            if every and now - self._last_sweep < every:
                return []
            self._last_sweep = now
            removed = []
            try:
                entries = list(os.scandir(self.root))
            except OSError:
                return []
            for entry in entries:
                try:
                    idle = now - entry.stat(follow_symlinks=False).st_mtime
                except OSError:
                    continue
                if entry.is_dir(follow_symlinks=False) and idle > self.ttl:
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed.append(Path(entry.path))
            return removed

    def holds(self, path) -> bool:
        """Is ``path`` (symlinks resolved) inside this store?"""
        return _inside(Path(path), self.root)


class SessionUploads:
    """One session's uploads, in its own folder; deleted when this object is collected (keep
    it in the session's state, which is dropped when the session ends)."""

    def __init__(self, store: UploadStore, owner: str | None = None):
        self.store = store
        self.owner = owner
        self.folder: Path | None = None
        self.main: Path | None = None
        self._finalizer: weakref.finalize | None = None

    def _ensure_folder(self) -> Path:
        if self.folder is None or not self.folder.is_dir():  # new, or swept after the TTL
            self.folder = Path(tempfile.mkdtemp(prefix="session-", dir=self.store.root))
            if self._finalizer is not None:
                self._finalizer.detach()
            self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.folder), True)
            self.store.own(self.folder, self.owner)
        return self.folder

    @property
    def expired(self) -> bool:
        """Was a kept upload deleted (the session was idle past the TTL)?"""
        return self.main is not None and not self.main.is_file()

    def touch(self) -> None:
        """Mark the uploads as in use (the TTL counts from the last use)."""
        if self.folder is not None:
            try:
                os.utime(self.folder)
            except OSError:
                pass

    def clear(self, keep: Path | None = None) -> None:
        """Delete every uploaded file but those in the folder ``keep`` (the folder stays)."""
        if keep is None:
            self.main = None
        if self.folder is not None and self.folder.is_dir():
            for entry in os.scandir(self.folder):
                if keep is not None and Path(entry.path) == keep:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)

    def save(self, files: Sequence[tuple[str, bytes]], max_mb: float,
             validate=check_recording) -> Path:
        """Replace this session's upload with ``files``; returns the main file.

        The files are written into the session's folder and ``validate(main)`` must pass, else
        they are deleted, its error is raised and the upload kept before stays as it was.
        Expired folders of every session are swept.
        """
        self.store.sweep()
        kept = self.main.parent if self.main is not None and self.main.is_file() else None
        if kept is None:
            self.clear()
        try:
            main = save_uploads(files, self._ensure_folder(), max_mb=max_mb)
            validate(main)
        except BaseException:
            self.clear(keep=kept)
            raise
        self.main = main
        self.clear(keep=main.parent)
        self.touch()
        return main

    def close(self) -> None:
        """Delete the session's folder now."""
        self.main = None
        if self._finalizer is not None:
            self._finalizer()
