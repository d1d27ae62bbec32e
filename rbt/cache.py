"""On-disk cache: content digests of source files, and atomically written feature files.

A feature file's key is a hash of the source files' content, the feature parameters and the rbt
version. Hashing gigabytes on every run would not be instant, so each file's content digest is
remembered against its (path, size, mtime); a changed file is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .safeio import require_regular_file

#: the environment variable naming the cache folder
CACHE_ENV = "RBT_CACHE_DIR"


def cache_dir() -> Path:
    """``$RBT_CACHE_DIR``, else ``$XDG_CACHE_HOME/rbt``, else ``~/.cache/rbt``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rbt"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_mode(path: Path, directory: bool = False) -> None:
    """Give a temp file (0600) or folder (0700) the mode a plain create would have had."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and ``os.replace``: never a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        publish_mode(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_savez(path: Path, **arrays) -> None:
    """``np.savez`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        publish_mode(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _digest_index(root: Path | None) -> tuple[Path, dict]:
    index_path = (root or cache_dir()) / "digests.json"
    try:
        return index_path, json.loads(index_path.read_text())
    except (OSError, ValueError):
        return index_path, {}


def known_digest(path: Path, root: Path | None = None) -> str | None:
    """The remembered digest of ``path`` as it is now (its path, size and mtime), or None:
    whether :func:`file_digest` would have to read the file."""
    path = Path(path).resolve()
    try:
        st = path.stat()
    except OSError:
        return None
    return _digest_index(root)[1].get(f"{path}|{st.st_size}|{st.st_mtime_ns}")


def file_digest(path: Path, root: Path | None = None, content=None) -> str:
    """SHA-256 of the file's content, remembered (in ``root``, default :func:`cache_dir`)
    against its path, size and mtime.

    ``content``: the file's bytes already read, with ``os.fstat`` of the descriptor they were
    read from, taken before reading (a ``(bytes, stat_result)`` pair): those bytes are hashed
    instead of reading the file a second time (the digest is the same)."""
    path = Path(path).resolve()
    if content is None:
        st = require_regular_file(path)  # a FIFO or device would block or never end
    else:
        data, st = content
    stamp = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    index_path, index = _digest_index(root)
    if stamp in index:
        return index[stamp]
    if content is None:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    else:
        h = hashlib.sha256(data)
    digest = h.hexdigest()
    index = {k: v for k, v in index.items() if not k.startswith(f"{path}|")}
    index[stamp] = digest
    try:
        atomic_write_bytes(index_path, json.dumps(index).encode())
    except OSError:
        pass  # a read-only cache only costs speed
    return digest


def feature_key(files: list[Path], params: dict, reader: str, identity=None,
                root: Path | None = None, contents: dict | None = None) -> str:
    """Key of a feature file: content, parameters, version, and ``identity`` (what the reader
    derives from file names, such as subject and session, so a renamed file is recomputed).
    ``contents`` maps a file to its bytes already read (see :func:`file_digest`)."""
    contents = contents or {}
    payload = json.dumps(
        {"rbt": __version__, "reader": reader, "params": params, "identity": identity,
         "files": [file_digest(f, root, contents.get(f)) for f in files]},
        sort_keys=True, default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def load_features(key: str, root: Path | None = None
                  ) -> tuple[np.ndarray, pd.DataFrame, dict] | None:
    """Cached (X, table, meta) for ``key`` (in ``root``, default :func:`cache_dir`), or None.
    A damaged entry counts as a miss."""
    path = (root or cache_dir()) / "features" / f"{key}.npz"
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            table = pd.DataFrame({c: z[f"table.{c}"] for c in meta["columns"]})
            return z["X"], table, meta
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def save_features(key: str, X: np.ndarray, table: pd.DataFrame, meta: dict,
                  root: Path | None = None) -> None:
    meta = {**meta, "columns": list(table.columns)}
    arrays = {"X": X, "meta": np.array(json.dumps(meta))}
    for col in table.columns:
        values = table[col].to_numpy()
        arrays[f"table.{col}"] = values.astype(str) if values.dtype == object else values
    try:
        atomic_savez((root or cache_dir()) / "features" / f"{key}.npz", **arrays)
    except OSError:
        pass  # a read-only cache only costs speed
