"""One file's features in two halves, and a dataset's files with the next one read ahead.

:func:`prepare` is a file's I/O: its content digest for the cache key, the cache look-up, and
on a miss the read and parse (for DEAP the bytes are read once, hashed and parsed).
:func:`finish` is its compute: BDE and writing the cache entry. In-process,
:func:`features_in_order` prepares file ``i + 1`` while file ``i`` is finished, one file ahead
at most, so at most two files' signals are in memory.

The read-ahead runs as one task in BDE's own thread pool (:func:`rbt.bde._pool`), the pool
whose threads compute the BDE: while it reads, that pool's other threads do the BDE, and the
process never runs more threads than ``rbt.bde.default_jobs()`` (``RBT_BDE_THREADS``, at most
the CPUs) plus the caller's, which waits on them. With one BDE thread nothing is read ahead.
The read-ahead never waits on the pool, so sharing it cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import wait
from pathlib import Path

import numpy as np
import pandas as pd

from .. import bde, cache
from ..montage import resolve_channels
from ..progress import progress_bar
from . import seed
from .features import FeatureParams, recording_features

#: sources whose readers may run beside other work in another thread. MNE's ("raw") are
#: left out: they change the process's warnings filters (``warnings.catch_warnings`` is not
#: thread-safe) and MNE's log level.
READ_AHEAD_SOURCES = frozenset({"demo", "deap", "dreamer", "seed"})


class Prepared:
    """What :func:`prepare` found: a cache hit, or the recording and its cache key."""

    __slots__ = ("hit", "rec", "key", "root", "file")

    def __init__(self, file, hit=None, rec=None, key=None, root=None):
        self.file, self.hit, self.rec, self.key, self.root = file, hit, rec, key, root


def prepare(reader, source: str, file: Path, params: FeatureParams, read_options: dict,
            use_cache: bool = True, cache_root: str | None = None) -> Prepared:
    """A file's digest, cache look-up and, on a miss, its recording (the I/O half)."""
    identity = [file.name, seed.session_of(file) if source == "seed" else None]
    if getattr(reader, "READER_VERSION", None):  # what the reader reads changed
        identity.append(reader.READER_VERSION)
    root = Path(cache_root) if cache_root else None
    content = key = None
    # a reader that reads the file whole gives its bytes to the digest and the parser
    read_content = getattr(reader, "read_content", None)
    if use_cache:
        if read_content is not None and cache.known_digest(file, root) is None:
            content = read_content(file)
        key = cache.feature_key(reader.key_files(file), params.as_dict(), source, identity,
                                root=root, contents={file: content} if content else None)
        hit = cache.load_features(key, root=root)
        if hit is not None:
            return Prepared(file, hit=hit)
    bde.preload()  # a miss: the BDE's scipy.signal is imported beside the read
    options = dict(read_options)
    if read_content is not None:  # the features only read the signal: no copy of the file
        options["writable"] = False
        if content is not None:
            options["content"] = content[0]
    del content
    rec = reader.read_file(file, **options)
    if source == "demo":
        rec.dataset = "demo"
    resolve_channels(rec.ch_names, source=str(file))
    return Prepared(file, rec=rec, key=key, root=root)


def finish(prepared: Prepared, params: FeatureParams, progress: bool = False
           ) -> tuple[np.ndarray, pd.DataFrame, dict]:
    """The file's ``(X, table, meta)``: the cache hit, or its BDE, written to the cache."""
    if prepared.hit is not None:
        return prepared.hit
    rec = prepared.rec
    prepared.rec = None  # the signal is freed once its features are made
    X, table = recording_features(rec, params, progress=progress)
    meta = {"ch_names": rec.ch_names, "sfreq": rec.sfreq, "source": str(prepared.file),
            "notes": list(rec.notes), "interpolated": list(rec.interpolated)}
    if prepared.key:
        cache.save_features(prepared.key, X, table, meta, root=prepared.root)
    return X, table, meta


def reads_ahead(source: str, n_files: int) -> bool:
    """Whether :func:`features_in_order` reads ahead: several files, a reader that may run in
    a thread, and at least two BDE threads (one does the reading)."""
    return n_files > 1 and source in READ_AHEAD_SOURCES and bde.default_jobs() > 1


def features_in_order(reader, files: list[Path], args: dict, *, desc: str,
                      progress: bool = True,
                      on_done: Callable[[int, object], dict | None] | None = None,
                      keep_errors: tuple[type[Exception], ...] = ()) -> list:
    """``finish(prepare(file))`` for every file, in order, preparing the next file in BDE's
    pool meanwhile; the results in order, as :func:`rbt.cluster.run_tasks` gives them
    in-process (``on_done(i, result)`` after each, its dict beside the bar).

    A file's error is raised here, in order, as when the files are read one by one: the
    reader's own exception (naming the file), never a wrapper; the read ahead of the next
    file is waited for first, so no thread is left reading. An error of a type in
    ``keep_errors`` is that file's result instead, and the files after it are read."""
    params = args["params"]
    io = {k: args[k] for k in ("source", "params", "read_options", "use_cache", "cache_root")}
    pool = bde._pool(bde.default_jobs())
    results: list = []
    ahead = pool.submit(prepare, reader, file=files[0], **io)
    try:
        with progress_bar(total=len(files), desc=desc, unit="file",
                          disable=not progress) as bar:
            for i in range(len(files)):
                try:
                    prepared = ahead.result()
                except keep_errors as err:
                    prepared = err
                ahead = (pool.submit(prepare, reader, file=files[i + 1], **io)
                         if i + 1 < len(files) else None)
                try:
                    result = prepared if isinstance(prepared, Exception) else \
                        finish(prepared, params, progress=progress)
                except keep_errors as err:
                    result = err
                del prepared
                results.append(result)
                postfix = on_done(i, result) if on_done else None
                if postfix:
                    bar.set_postfix(**postfix)
                bar.update(1)
    finally:
        if ahead is not None and not ahead.cancel():
            wait([ahead])  # its result (or error) is dropped: an earlier file failed
    return results
