"""The ``rbt`` command line: thin wrappers over the library."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from . import __version__


def _int_at_least(low: int):
    """An argparse type: an integer of at least ``low`` (0 or a negative is never a default)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}; got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _float_in(low: float, high: float, *, low_open: bool = False, zero: bool = False):
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


POSITIVE = _int_at_least(1)


def _add_data_args(p: argparse.ArgumentParser, need_task: bool = True) -> None:
    from .data import SOURCES

    p.add_argument("--source", choices=SOURCES, default="demo",
                   help="dataset reader (default: the built-in synthetic demo)")
    p.add_argument("--path", type=Path, help="dataset file or folder (not needed for demo)")
    p.add_argument("--target", help="rating to predict (default: the dataset's, e.g. valence)")
    if need_task:
        p.add_argument("--task", choices=("binary", "multi"),
                       help="default: binary, or multi where the dataset has no binary rule")
    p.add_argument("--window", type=_int_at_least(2),
                   help="window length in samples (default 512)")
    p.add_argument("--stride", type=POSITIVE, help="window stride in samples (default 117)")
    p.add_argument("--nonfinite", choices=("raise", "drop"), default="raise",
                   help="NaN/inf samples: stop with an error, or drop the affected windows")
    p.add_argument("--seed-reference-filters", action="store_true",
                   help="SEED: design filters for 128 Hz like the reference code")
    from .data.raw import MAX_SFREQ, MIN_SFREQ

    p.add_argument("--raw-sfreq", type=_float_in(MIN_SFREQ, MAX_SFREQ, zero=True), default=128.0,
                   help=f"MNE recordings: resample to this rate, {MIN_SFREQ:g} to "
                   f"{MAX_SFREQ:g} Hz (0 keeps the file's)")
    p.add_argument("--channel-map", type=Path,
                   help="MNE recordings: JSON file mapping channel names to 10-05 names")
    p.add_argument("--drop-unknown", action="store_true",
                   help="MNE recordings: drop channels that are not 10-05 names")
    p.add_argument("--no-cache", action="store_true", help="recompute features")


def _load(args, metadata: dict | None = None):
    """Features for the data arguments; a model's metadata fills in what the user left out."""
    from .data import FeatureParams, load_features

    channel_map = _channel_map(args.channel_map) if args.channel_map else None
    meta = metadata or {}
    prep = meta.get("preprocessing") or {}
    window = _first_given(args.window, prep.get("window"), 512)
    stride = _first_given(args.stride, prep.get("stride"), 117)
    same_dataset = meta.get("dataset") == args.source
    target = args.target or (meta.get("target") if same_dataset else None)
    task = getattr(args, "task", None) or (meta.get("task") if same_dataset else None)
    reference_filters = args.seed_reference_filters or (
        args.source == "seed" and prep.get("filter_sfreq") == 128.0)
    fs = load_features(
        args.source, args.path, target=target, task=task,
        params=FeatureParams(window=window, stride=stride, nonfinite=args.nonfinite),
        seed_reference_filters=reference_filters,
        raw_sfreq=args.raw_sfreq or None, channel_map=channel_map,
        drop_unknown=args.drop_unknown, use_cache=not args.no_cache,
    )
    for note in fs.notes:
        print(f"note: {note}", file=sys.stderr)
    return fs


def _first_given(*values):
    """The first value that is not None (so a given 0 is never replaced by a default)."""
    return next(v for v in values if v is not None)


def _channel_map(path: Path) -> dict[str, str]:
    """A ``--channel-map`` file: a JSON object of channel name -> 10-05 name."""
    from .safeio import read_json

    mapping = read_json(path, expected='a JSON object such as {"EEG 001": "Fp1"}',
                        max_bytes=1024**2)
    if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        found = type(mapping).__name__ if not isinstance(mapping, dict) else \
            "an object whose values are not all strings"
        raise ValueError(f'{path}: expected a JSON object of channel names, such as '
                         f'{{"EEG 001": "Fp1"}}; found {found}')
    return mapping


def _inputs(args) -> list:
    """The files and folders a command reads, which no output may replace."""
    from .data import input_files

    given = [p for p in (getattr(args, "path", None), getattr(args, "model", None),
                         getattr(args, "channel_map", None)) if p is not None]
    return given + input_files(args.source, getattr(args, "path", None))


def cmd_features(args) -> int:
    import numpy as np

    from .cache import atomic_savez
    from .safeio import check_output

    out = check_output(args.out, args.force, _inputs(args))
    fs = _load(args)
    atomic_savez(out, **fs.to_npz_dict())
    if fs.y is None:
        labels = "unlabelled"
    else:
        counts = np.bincount(fs.y, minlength=fs.n_classes)
        labels = f"{fs.target}/{fs.task}: " + ", ".join(
            f"{n}={int(c)}" for n, c in zip(fs.class_names, counts))
    print(f"wrote {out}: {fs.X.shape[0]} windows x {fs.X.shape[1]} electrodes x "
          f"{fs.X.shape[2]} bands, {fs.table['subject'].nunique()} subject(s); {labels}")
    return 0


def _rerunnable_command() -> str:
    """This command as a shell line that reruns it from any folder (relative paths kept)."""
    return f"cd {shlex.quote(os.getcwd())} && rbt {shlex.join(sys.argv[1:])}"


def cmd_train(args) -> int:
    from .train import TrainConfig, fit

    model = {k: v for k, v in (("embed_dim", args.embed_dim), ("depth", args.depth),
                                ("heads", args.heads), ("head_dim", args.head_dim),
                                ("mlp_hidden_dim", args.mlp_hidden_dim),
                                ("dropout", args.dropout)) if v is not None}
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay,
                      label_smoothing=args.label_smoothing, batch_size=args.batch_size,
                      late_batch_size=args.late_batch_size, oversample=args.oversample,
                      seed=args.seed, model=model)
    fs = _load(args)
    _, metrics = fit(fs, split=args.split, folds=args.folds, per_subject=args.per_subject,
                     config=cfg, device=args.device, out=args.out,
                     keep_fold_models=args.keep_fold_models, overwrite=args.overwrite,
                     command=_rerunnable_command(), train_final=not args.cv_only)
    acc, f1 = metrics["accuracy"], metrics["macro_f1"]
    print(f"{args.split}{' per subject' if args.per_subject else ''}, "
          f"{len(metrics['folds'])} folds: accuracy {acc['mean']:.3f} ± {acc['std']:.3f}, "
          f"macro-F1 {f1['mean']:.3f} ± {f1['std']:.3f}")
    files = "metrics.json" if args.cv_only else (
        "config.json, model.safetensors, rbt_metadata.json, metrics.json")
    print(f"wrote {args.out}/ ({files})")
    return 0


def cmd_predict(args) -> int:
    from .cache import atomic_write_bytes
    from .checkpoint import class_names_for, data_notes, load_model
    from .infer import predict
    from .safeio import check_output, spreadsheet_safe

    out = check_output(args.out, args.force, _inputs(args))
    model, meta = load_model(args.model)
    fs = _load(args, meta)
    result = predict(model, fs, device=args.device, batch_size=args.batch_size, metadata=meta,
                     progress=True, precision=args.precision)
    names, comparable = class_names_for(model, meta, fs)
    for note in data_notes(meta, fs, scored=comparable):
        print(f"note: {note}", file=sys.stderr)
    if fs.y is not None and not comparable:
        model_classes = ", ".join(map(str, names or range(model.config.num_classes)))
        print(f"note: the data's {fs.target}/{fs.task} labels ({', '.join(fs.class_names)}) are "
              f"not the model's classes ({model_classes}); writing predictions without a "
              "true-label column", file=sys.stderr)
        fs = replace(fs, y=None)
    frame = result.to_frame(fs, names)
    atomic_write_bytes(out, spreadsheet_safe(frame).to_csv(index=False).encode())
    msg = f"wrote {out}: {len(frame)} windows"
    if comparable:
        msg += ", " + _accuracy(result.pred, fs.y, result.in_training, fs)
    print(msg)
    return 0


def _accuracy(pred, y, in_training, fs) -> str:
    """The "accuracy A against target/task" phrase; notes on stderr any training windows."""
    from .provenance import training_note

    note = training_note(in_training, pred == y)
    if note:
        print(f"note: {note}", file=sys.stderr)
    return f"accuracy {(pred == y).mean():.3f} against {fs.target}/{fs.task}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rbt", description="RBTransformer toolkit: BDE features, models, explanations.")
    parser.add_argument("--version", action="version", version=f"rbt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("features", help="compute BDE features and write them to an .npz file")
    _add_data_args(p)
    p.add_argument("--out", required=True, type=Path, help="output .npz file")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=cmd_features)

    from .infer import PRECISIONS
    from .train import DEFAULT_EPOCHS, SPLITS

    p = sub.add_parser("train", help="cross-validate and train an RBTransformer",
                       description="Cross-validate under --split, then train the final model "
                       "on all the data and save it with its metrics.")
    _add_data_args(p)
    p.add_argument("--split", choices=SPLITS, default="trial-kfold",
                   help="window-kfold reproduces the paper (optimistic: overlapping windows "
                   "leak); trial-kfold and subject-out hold whole trials or subjects out")
    p.add_argument("--folds", type=_int_at_least(2), default=5)
    p.add_argument("--per-subject", action="store_true", help="one model per subject")
    p.add_argument("--epochs", type=POSITIVE, default=DEFAULT_EPOCHS,
                   help=f"default {DEFAULT_EPOCHS} (the paper: 300)")
    p.add_argument("--out", required=True, type=Path, help="checkpoint folder to write")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--lr", type=_float_in(0, 10, low_open=True), default=1e-3)
    p.add_argument("--weight-decay", type=_float_in(0, 10), default=1e-3)
    p.add_argument("--label-smoothing", type=_float_in(0, 0.99), default=0.12)
    p.add_argument("--batch-size", type=POSITIVE, default=256)
    p.add_argument("--late-batch-size", type=POSITIVE, default=64,
                   help="batch size for the second half of the epochs")
    p.add_argument("--oversample", action="store_true", help="SMOTE on each training fold")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-fold-models", action="store_true")
    p.add_argument("--cv-only", action="store_true",
                   help="only cross-validate: write metrics.json, train no final model (run again "
                   "without it to add the final model)")
    p.add_argument("--overwrite", action="store_true", help="replace a trained model in --out")
    for name in ("embed-dim", "depth", "heads", "head-dim", "mlp-hidden-dim"):
        p.add_argument(f"--{name}", type=POSITIVE, help="model size (default: the paper's)")
    p.add_argument("--dropout", type=_float_in(0, 0.99))
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="per-window predictions to CSV")
    p.add_argument("--model", required=True, type=Path, help="checkpoint folder")
    _add_data_args(p)
    p.add_argument("--out", required=True, type=Path, help="output .csv")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--batch-size", type=POSITIVE, default=512)
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="bfloat16 is faster on GPUs and on CPUs with native bfloat16, and "
                   "moves probabilities slightly (on the demo: median 2e-4, at most 0.02); float32 "
                   "(default) is exact")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=cmd_predict)

    from .explain.cli import add_parser as add_explain_parser
    add_explain_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileExistsError, FileNotFoundError, OSError) as err:
        print(f"rbt {args.command}: error: {err}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"rbt {args.command}: error: out of memory; try fewer files or windows at a time, "
              "or a smaller --batch-size / --internal-batch-size", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
