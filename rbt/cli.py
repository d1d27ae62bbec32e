"""The ``rbt`` command line: thin wrappers over the library."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__


def _add_data_args(p: argparse.ArgumentParser, need_task: bool = True) -> None:
    from .data import SOURCES

    p.add_argument("--source", choices=SOURCES, default="demo",
                   help="dataset reader (default: the built-in synthetic demo)")
    p.add_argument("--path", type=Path, help="dataset file or folder (not needed for demo)")
    p.add_argument("--target", help="rating to predict (default: the dataset's, e.g. valence)")
    if need_task:
        p.add_argument("--task", choices=("binary", "multi"),
                       help="default: binary, or multi where the dataset has no binary rule")
    p.add_argument("--window", type=int, default=512, help="window length in samples")
    p.add_argument("--stride", type=int, default=117, help="window stride in samples")
    p.add_argument("--nonfinite", choices=("raise", "drop"), default="raise",
                   help="NaN/inf samples: stop with an error, or drop the affected windows")
    p.add_argument("--seed-reference-filters", action="store_true",
                   help="SEED: design filters for 128 Hz like the reference code")
    p.add_argument("--raw-sfreq", type=float, default=128.0,
                   help="MNE recordings: resample to this rate (0 keeps the file's)")
    p.add_argument("--channel-map", type=Path,
                   help="MNE recordings: JSON file mapping channel names to 10-05 names")
    p.add_argument("--drop-unknown", action="store_true",
                   help="MNE recordings: drop channels that are not 10-05 names")
    p.add_argument("--no-cache", action="store_true", help="recompute features")


def _load(args):
    from .data import FeatureParams, load_features

    channel_map = None
    if args.channel_map:
        try:
            channel_map = json.loads(args.channel_map.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"{args.channel_map}: not a readable JSON mapping ({err})") from err
    return load_features(
        args.source, args.path, target=args.target, task=getattr(args, "task", None),
        params=FeatureParams(window=args.window, stride=args.stride, nonfinite=args.nonfinite),
        seed_reference_filters=args.seed_reference_filters,
        raw_sfreq=args.raw_sfreq or None, channel_map=channel_map,
        drop_unknown=args.drop_unknown, use_cache=not args.no_cache,
    )


def cmd_features(args) -> int:
    import numpy as np

    from .cache import atomic_savez

    out = Path(args.out)
    if out.exists() and not args.force:
        raise FileExistsError(f"{out} exists; pass --force to overwrite it")
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


if __name__ == "__main__":
    sys.exit(main())
