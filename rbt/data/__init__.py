"""Dataset readers and the one entry point that turns files into a :class:`FeatureSet`."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .. import cache
from ..montage import UnknownChannelsError, resolve_channels
from . import deap, demo, dreamer, pipeline, raw, seed
from .features import FeatureParams
from .labels import RULES, LabelError, make_labels, missing_ratings, trials_named
from .preprocess import SignalSteps, feature_params
from .preprocess import resolve as resolve_steps
from .recording import DataFormatError, FeatureSet, Recording, Trial

__all__ = [
    "DataFormatError", "FeatureParams", "FeatureSet", "LabelError", "Recording", "Trial",
    "SOURCES", "input_files",
    "load_features", "RULES",
]

SOURCES = ("demo", "deap", "dreamer", "seed", "raw")
_READERS = {"demo": deap, "deap": deap, "dreamer": dreamer, "seed": seed, "raw": raw}


def load_features(
    source: str,
    path: str | Path | None = None,
    *,
    target: str | None = None,
    task: str | None = None,
    params: FeatureParams | None = None,
    seed_reference_filters: bool = False,
    raw_sfreq: float | None = raw.DEFAULT_SFREQ,
    channel_map: dict[str, str] | None = None,
    drop_unknown: bool = False,
    epoch: float | None = None,
    markers: str | None = None,
    subject_from: str | None = None,
    fit_to: Sequence[str] | None = None,
    preprocess: SignalSteps | str | None = None,
    use_cache: bool = True,
    progress: bool = True,
    on_file: Callable[[int, int, str], None] | None = None,
    cluster=None,
    read_ahead: bool = True,
    skip_unreadable: bool = False,
) -> FeatureSet:
    """Read a dataset and return its BDE features, labels and per-window table.

    Parameters
    ----------
    source : {"demo", "deap", "dreamer", "seed", "raw"}
        Which reader. "raw" is any recording MNE opens.
    path : path
        DEAP's ``data_preprocessed_python/`` (or one ``sNN.dat``), ``DREAMER.mat``, SEED's
        ``Preprocessed_EEG/`` (or one subject file), or a recording (or a folder of them).
        Not needed for "demo".
    target, task
        Which rating to predict and ``"binary"`` or ``"multi"``; see :mod:`rbt.data.labels`.
        None takes the dataset's default: valence and binary, or emotion and multi for SEED.
    params : FeatureParams
        Window, stride, bands, filter order and the NaN policy.
    seed_reference_filters : bool
        Design SEED's filters for 128 Hz as the reference code did (official SEED checkpoints
        expect these features); by default the true 200 Hz is used.
    raw_sfreq : float or None
        MNE recordings are resampled to this rate (None keeps theirs).
    channel_map, drop_unknown
        For MNE recordings: rename channels to 10-05 names, or drop those that are not.
    epoch, markers
        For MNE recordings: a trial of ``epoch`` seconds after each point marker (None: to
        the next marker), and which markers are trials (``"Stimulus/S  1,Stimulus/S  2"``,
        ``"S*"``; None: all); see :mod:`rbt.data.markers`.
    subject_from
        For MNE recordings: a regular expression naming each file's subject (group
        ``subject``, else the first) and session (group ``session``); None: the file's stem.
    fit_to
        For MNE recordings: a model's electrodes. Those a recording lacks are
        interpolated and the others dropped, within limits (:mod:`rbt.data.fitting`);
        ``FeatureSet.interpolated`` names the interpolated ones.
    preprocess : SignalSteps, "deap", "dreamer", "seed" or None
        For MNE recordings: signal steps done at the file's rate before resampling, e.g. a
        model's (:func:`rbt.data.preprocess.steps_for`); None or "none": none.
    progress, on_file
        A tqdm bar per file; ``on_file(done, total, name)`` is called before each file (and
        with ``done == total`` at the end), e.g. to drive a progress bar in an app. On a
        cluster, where the files are read side by side, it is called as each finishes (after
        the first call) and ``name`` is the file that just finished.
    cluster
        A :class:`rbt.cluster.Cluster`: each file's features are one Dask task
        (:func:`file_features`), cached where ``RBT_CACHE_DIR`` says (storage the workers
        share); the files' paths must be the same on the workers.
    read_ahead : bool
        In-process, read (and hash, for the cache key) the next file while this one's BDE is
        computed, in BDE's own thread pool, one file ahead (:mod:`rbt.data.pipeline`); the
        features, the cache and a bad file's error are the same either way.
    skip_unreadable : bool
        For a folder of several files: leave out a file that cannot be read (a
        :class:`DataFormatError` or unknown channels) or whose channels or rate differ from
        the first one read, and say so in the notes, rather than fail; the first file's own
        error is raised when none can be read.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    if channel_map is not None and (not isinstance(channel_map, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in channel_map.items())):
        raise ValueError("channel_map must map channel names (str) to 10-05 names (str); got "
                         f"{type(channel_map).__name__}")
    params = params or FeatureParams()
    steps = resolve_steps(preprocess)
    reader = _READERS[source]
    if source == "demo":
        path = path or demo.demo_dir()
    elif path is None:
        raise ValueError(f"source {source!r} needs a path")
    read_options: dict = {}
    if source == "seed" and seed_reference_filters:
        params = replace(params, filter_sfreq=seed.REFERENCE_FILTER_SFREQ)
    if source == "raw":
        read_options = {
            "sfreq": raw_sfreq,
            "window": params.window,
            "channel_map": channel_map,
            "drop_unknown": drop_unknown,
            "epoch": epoch,
            "markers": markers,
            "subject_from": subject_from,
            "fit_to": tuple(fit_to) if fit_to else None,
            "preprocess": steps,
        }
        params = replace(params, extra=tuple(sorted((k, str(v)) for k, v in read_options.items())))
    files = reader.source_files(path)
    from ..cluster import run_tasks

    # a cache path the user gave (RBT_CACHE_DIR) is the workers' too: storage they share
    root = str(cache.cache_dir()) if cluster is not None and cache.CACHE_ENV in os.environ \
        else None
    common = {"source": source, "params": params, "read_options": read_options,
              "use_cache": use_cache, "cache_root": root}

    done = 0

    def finished(i: int, _) -> dict:
        nonlocal done
        done += 1
        if on_file and done < len(files):  # in-process: before the next file
            on_file(done, len(files), files[done if cluster is None else i].name)
        return {"file": files[i].name}  # beside the bar: the one that finished

    if on_file and files:
        on_file(0, len(files), files[0].name)
    skip = skip_unreadable and len(files) > 1
    if cluster is None and read_ahead and pipeline.reads_ahead(source, len(files)):
        results = pipeline.features_in_order(reader, files, common, desc=f"{source} features",
                                             progress=progress, on_done=finished,
                                             keep_errors=UNREADABLE if skip else ())
    else:
        results = run_tasks(cluster, file_features_or_error if skip else file_features,
                            [{**common, "file": f} for f in files],
                            desc=f"{source} features", unit="file", progress=progress,
                            on_done=finished, in_process={"progress": progress})
    parts, meta, notes = [], None, []
    interpolated: list[str] = []
    unread: list[tuple[Path, Exception]] = []
    for file, result in zip(files, results):
        if isinstance(result, Exception):
            unread.append((file, result))
            continue
        X, table, file_meta = result
        if meta is None:
            meta = file_meta
        elif (resolve_channels(file_meta["ch_names"]) != resolve_channels(meta["ch_names"])
              or file_meta["sfreq"] != meta["sfreq"]):
            mine, first = (resolve_channels(m["ch_names"]) for m in (file_meta, meta))
            how = [f"{file_meta['sfreq']:g} Hz vs {meta['sfreq']:g} Hz"] \
                if file_meta["sfreq"] != meta["sfreq"] else []
            if mine != first:
                extra = [c for c in mine if c not in first]
                lacking = [c for c in first if c not in mine]
                how.append(f"channels not in the first: {', '.join(extra) or 'none'}; "
                           f"missing: {', '.join(lacking) or 'none'}"
                           + ("; same channels in another order" if not extra and not lacking
                              else ""))
            differ = DataFormatError(
                f"{file}: its channels or sampling rate differ from {meta['source']} "
                f"({'; '.join(how)}); load them separately")
            if not skip:
                raise differ
            unread.append((file, differ))
            continue
        parts.append((X, table))
        notes += [n for n in file_meta.get("notes", []) if n not in notes]
        interpolated += [c for c in file_meta.get("interpolated", [])
                         if c not in interpolated]
    if not parts:  # none could be read: the first one's own error (its type, its words)
        raise unread[0][1]
    if unread:
        notes.insert(0, f"{Path(path).name}: left out {len(unread)} of its {len(files)} "
                        "recordings, which could not be used: "
                        + " | ".join(str(err) for _, err in unread))
    if on_file:
        on_file(len(files), len(files), "")
    X = np.concatenate([p[0] for p in parts])
    table = pd.concat([p[1] for p in parts], ignore_index=True)
    table["subject"] = table["subject"].astype(str)
    fs = FeatureSet(
        X=X, table=table, ch_names=list(meta["ch_names"]), sfreq=float(meta["sfreq"]),
        bands=params.band_dict, dataset=source, source=str(path),
        params={**params.as_dict(), "sfreq": float(meta["sfreq"]),
                "filter_sfreq": params.filter_sfreq or float(meta["sfreq"])},
        notes=notes,
        interpolated=tuple(c for c in meta["ch_names"] if c in interpolated),
    )
    fs.params.update(feature_params(source, steps))  # the signal steps, for model cards
    return with_labels(fs, target, task)


def file_features(source: str, file: Path, params: FeatureParams, read_options: dict,
                  use_cache: bool = True, cache_root: str | None = None,
                  progress: bool = False) -> tuple[np.ndarray, pd.DataFrame, dict]:
    """One file's features ``(X, table, meta)``, from the content-keyed cache (in
    ``cache_root``, default :func:`rbt.cache.cache_dir`) when there; the task of
    :func:`load_features` per file, in-process and on a cluster alike."""
    prepared = pipeline.prepare(_READERS[source], source, file, params, read_options,
                                use_cache, cache_root)
    return pipeline.finish(prepared, params, progress=progress)


# what leaves a file out of a folder read with skip_unreadable (the reader's own errors)
UNREADABLE = (DataFormatError, UnknownChannelsError)


def file_features_or_error(**task) -> tuple[np.ndarray, pd.DataFrame, dict] | Exception:
    """:func:`file_features`, with an :data:`UNREADABLE` error as the file's result (a Dask
    task's too: the other files go on)."""
    try:
        return file_features(**task)
    except UNREADABLE as err:
        return err


def input_files(source: str, path) -> list[Path]:
    """Every file the reader of ``source`` would read for ``path`` (companions included:
    BrainVision .eeg/.vmrk, EEGLAB .fdt, SEED's label.mat), e.g. so no output replaces one.
    Empty when ``path`` cannot be read (loading it says why)."""
    if source == "demo" or path is None or source not in _READERS:
        return []
    reader = _READERS[source]
    try:
        return [k for f in reader.source_files(path) for k in reader.key_files(f)]
    except (DataFormatError, OSError):
        return []


def with_labels(fs: FeatureSet, target: str | None, task: str | None = None) -> FeatureSet:
    """The same features labelled for ``target`` and ``task``.

    A missing (NaN) rating of the target is an error naming its trials, unless the features
    were made with ``nonfinite="drop"``: then those trials are left out, and ``fs.notes`` says
    which."""
    rule = RULES.get(fs.dataset)
    name = (target.strip().lower() if isinstance(target, str) else target) or (
        rule.default_target if rule else None)
    missing = missing_ratings(fs.table, name) if rule else np.zeros(len(fs), bool)
    if missing.any() and fs.params.get("nonfinite") == "drop":
        note = (f"left out {int(missing.sum())} window(s) whose {name} rating is missing: "
                f"{trials_named(fs.table, missing)}")
        fs = replace(fs.subset(~missing), notes=[*fs.notes, note])
        if not len(fs):
            raise LabelError(f"{fs.source}: every {name} rating is missing; nothing is left")
    fs.y, fs.class_names, fs.target, fs.task = make_labels(fs.dataset, fs.table, target, task)
    return fs
