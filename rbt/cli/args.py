"""What every data-reading command shares: argparse types, the data arguments, and loading the
features they describe."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def int_in(low: int, high: int | None = None):
    """An argparse type: an integer of at least ``low`` and, given ``high``, at most ``high``
    (so 0 or a negative is never taken where it means nothing)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if high is None and value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}; got {value}")
        if high is not None and not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}; got {value}")
        return value

    parse.__name__ = f"integer >= {low}" if high is None else f"integer {low}..{high}"
    return parse


def float_in(low: float, high: float, *, low_open: bool = False, zero: bool = False):
    """An argparse type: a finite number in [low, high] ((low, high] with ``low_open``);
    ``zero`` also allows 0 (meaning "keep")."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
        if zero and value == 0:
            return value
        ok = (low < value if low_open else low <= value) and value <= high
        if not ok:
            raise argparse.ArgumentTypeError(
                f"must be {'above' if low_open else 'at least'} {low:g} and at most {high:g}"
                f"{' (or 0)' if zero else ''}; got {text}")
        return value

    parse.__name__ = "number"
    return parse


POSITIVE = int_in(1)


def add_data_args(p: argparse.ArgumentParser, need_task: bool = True) -> None:
    """The options that choose and read a dataset (``--source``, ``--path``, windows, ...)."""
    from ..data import SOURCES
    from ..data.features import DEFAULT_STRIDE, DEFAULT_WINDOW
    from ..data.preprocess import DATASET_STEPS
    from ..data.raw import DEFAULT_SFREQ, MAX_SFREQ, MIN_SFREQ

    p.add_argument("--source", choices=SOURCES, default="demo",
                   help="dataset reader (default: the built-in synthetic demo)")
    p.add_argument("--path", type=Path, help="dataset file or folder (not needed for demo)")
    p.add_argument("--target", help="rating to predict (default: the dataset's, e.g. valence)")
    if need_task:
        p.add_argument("--task", choices=("binary", "multi"),
                       help="default: binary, or multi where the dataset has no binary rule")
    p.add_argument("--window", type=int_in(2),
                   help="window length in samples (default: the model's, else "
                   f"{DEFAULT_WINDOW})")
    p.add_argument("--stride", type=POSITIVE,
                   help=f"window stride in samples (default: the model's, else {DEFAULT_STRIDE})")
    p.add_argument("--nonfinite", choices=("raise", "drop"), default="raise",
                   help="NaN/inf samples: stop with an error, or drop the affected windows")
    p.add_argument("--seed-reference-filters", action=argparse.BooleanOptionalAction,
                   help="SEED: design filters for 128 Hz like the reference code (default: "
                   "the model's choice; on for official checkpoints, which expect it)")
    p.add_argument("--raw-sfreq", type=float_in(MIN_SFREQ, MAX_SFREQ, zero=True),
                   help=f"MNE recordings: resample to this rate, {MIN_SFREQ:g} to "
                   f"{MAX_SFREQ:g} Hz (0 keeps the file's; default: the model's training "
                   f"rate, else {DEFAULT_SFREQ:g})")
    p.add_argument("--preprocess", choices=("model", "none", *DATASET_STEPS), default="model",
                   help="MNE recordings: signal steps done before resampling: the model's "
                   "training data's (default; e.g. DEAP's average reference and 4-45 Hz "
                   "band-pass), none, or those of a dataset's released files")
    p.add_argument("--channel-map", type=Path,
                   help="MNE recordings: JSON file mapping channel names to 10-05 names")
    p.add_argument("--drop-unknown", action="store_true",
                   help="MNE recordings: drop channels that are not 10-05 names")
    p.add_argument("--epoch", type=float_in(0.0, 3600.0, low_open=True), metavar="SECONDS",
                   help="MNE recordings: each point marker's trial lasts this long (default: "
                   "to the next marker)")
    p.add_argument("--markers", metavar="PATTERN",
                   help="MNE recordings: which markers are trials, descriptions or patterns "
                   "separated by commas, e.g. 'Stimulus/S  1,Stimulus/S  2' or 'S*' (case and "
                   "spaces ignored; default: all but New Segment, boundary and BAD_ ones)")
    p.add_argument("--subject-from", metavar="REGEX",
                   help="MNE recordings: a regular expression naming each file's subject "
                   "(group 'subject', else the first group) and session (group 'session'), "
                   r"e.g. 'sub-(?P<subject>[^_]+)(_ses-(?P<session>\d+))?' (default: each "
                   "file is a subject, named by its stem)")
    p.add_argument("--skip-unreadable", action="store_true",
                   help="a folder of files: leave out (with a note) a file that cannot be "
                   "read or whose channels or rate differ from the first, instead of stopping")
    p.add_argument("--no-cache", action="store_true", help="recompute features")


def add_cluster_args(p: argparse.ArgumentParser) -> None:
    """``--scheduler`` and ``--workers``: run the command's tasks on Dask (:mod:`rbt.cluster`)."""
    from ..cluster import SCHEDULER_ENV

    g = p.add_argument_group("Dask cluster (pip install 'rbt[cluster]')")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the tasks (folds, files, blocks of windows) on the Dask scheduler "
                   f"at ADDRESS, e.g. tcp://10.0.0.5:8786 (default: ${SCHEDULER_ENV}); "
                   "RBT_CACHE_DIR should be on storage the workers share")
    g.add_argument("--workers", type=int_in(1), metavar="N",
                   help="start a local Dask cluster of N worker processes (one thread each); "
                   "without --scheduler or --workers the command runs in this process")


def cluster_from(args):
    """A context holding the :class:`rbt.cluster.Cluster` ``args`` ask for (None: in-process),
    closed on leaving it."""
    import contextlib

    from ..cluster import connect

    cluster = connect(getattr(args, "scheduler", None), getattr(args, "workers", None))
    return contextlib.nullcontext() if cluster is None else cluster


def add_fit_args(p: argparse.ArgumentParser) -> None:
    """The option that fits a recording to the model's electrodes (commands with a model)."""
    p.add_argument("--interpolate-missing", action="store_true",
                   help="MNE recordings: interpolate the model's electrodes a recording lacks "
                   "(at most a quarter, each among measured ones) or, for a cap numbered "
                   "without 10-05 names (BioSemi 128, EGI), all of them from the cap's "
                   "positions; drop the electrodes the model does not read")


def fit_to(args, card) -> tuple[str, ...] | None:
    """The model's electrodes when ``--interpolate-missing`` asks to fit recordings to them."""
    if not getattr(args, "interpolate_missing", False):
        return None
    if args.source != "raw":
        raise ValueError("--interpolate-missing is for MNE recordings (--source raw)")
    if card is None or not card.ch_names:
        raise ValueError("--interpolate-missing needs a model card that names the model's "
                         "electrodes; this checkpoint's does not (an official checkpoint?)")
    return tuple(card.ch_names)


def load(args, card=None, cluster=None):
    """Features for the data arguments; a model's card fills in what the user left out
    (:func:`rbt.model_fit.loading_defaults`: its window and stride, target and task, SEED
    filters and recordings' rate). With ``cluster``, each file is one Dask task."""
    from ..data import FeatureParams, load_features
    from ..model_fit import loading_defaults

    channel_map = channel_map_file(args.channel_map) if args.channel_map else None
    defaults = loading_defaults(card, args.source)
    fs = load_features(
        args.source, args.path, target=args.target or defaults["target"],
        task=getattr(args, "task", None) or defaults["task"],
        params=FeatureParams(window=first_given(args.window, defaults["window"]),
                             stride=first_given(args.stride, defaults["stride"]),
                             nonfinite=args.nonfinite),
        seed_reference_filters=first_given(args.seed_reference_filters,
                                           defaults["seed_reference_filters"]),
        raw_sfreq=first_given(args.raw_sfreq, defaults["raw_sfreq"]) or None,
        preprocess=(steps := preprocess_steps(args, defaults, card)),
        channel_map=channel_map,
        fit_to=fit_to(args, card),
        drop_unknown=args.drop_unknown, use_cache=not args.no_cache,
        epoch=args.epoch, markers=args.markers, subject_from=args.subject_from,
        cluster=cluster, skip_unreadable=args.skip_unreadable,
    )
    for note in fs.notes:
        print(f"note: {note}", file=sys.stderr)
    if steps is not None and steps.does_something:
        print("note: --preprocess none reads the recordings without these steps", file=sys.stderr)
    return fs


def preprocess_steps(args, defaults: dict, card):
    """The signal steps ``--preprocess`` asks for recordings (:mod:`rbt.data.preprocess`):
    the model's, none, or a dataset's; says so when the model's card does not tell."""
    from ..data.preprocess import DATASET_STEPS

    choice = getattr(args, "preprocess", "model")
    if args.source != "raw" or choice == "none":
        return None
    if choice != "model":
        return DATASET_STEPS[choice]
    if card is not None and defaults["preprocess"] is None:
        print("note: the model's card does not say how its training signals were "
              "preprocessed, so the recordings are only resampled (--preprocess deap, dreamer "
              "or seed does the steps of that dataset's released files)", file=sys.stderr)
    steps = defaults["preprocess"]
    if steps is not None and not steps.does_something:
        print(f"note: the model's training data ({steps.origin}) were not re-referenced or "
              f"filtered{f' ({steps.remark})' if steps.remark else ''}, so the recordings are "
              "only resampled", file=sys.stderr)
    return steps


def first_given(*values):
    """The first value that is not None (so a given 0 is never replaced by a default)."""
    return next(v for v in values if v is not None)


def channel_map_file(path: Path) -> dict[str, str]:
    """A ``--channel-map`` file: a JSON object of channel name -> 10-05 name."""
    from ..safeio import read_json

    mapping = read_json(path, expected='a JSON object such as {"EEG 001": "Fp1"}',
                        max_bytes=1024**2)
    if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        found = type(mapping).__name__ if not isinstance(mapping, dict) else \
            "an object whose values are not all strings"
        raise ValueError(f'{path}: expected a JSON object of channel names, such as '
                         f'{{"EEG 001": "Fp1"}}; found {found}')
    return mapping


def inputs(args) -> list:
    """The files and folders a command reads, which no output may replace."""
    from ..data import input_files

    given = [p for p in (getattr(args, "path", None), getattr(args, "model", None),
                         getattr(args, "channel_map", None)) if p is not None]
    return given + input_files(args.source, getattr(args, "path", None))


def accuracy_phrase(pred, y, in_training, fs) -> str:
    """The "accuracy A against target/task" phrase; notes on stderr any training windows."""
    from ..provenance import training_note

    note = training_note(in_training, pred == y)
    if note:
        print(f"note: {note}", file=sys.stderr)
    return f"accuracy {(pred == y).mean():.3f} against {fs.target}/{fs.task}"
