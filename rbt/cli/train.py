"""``rbt train``: cross-validate an RBTransformer, then train and save the final model."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from .args import POSITIVE, add_cluster_args, add_data_args, cluster_from, float_in, int_in, load


def add_parser(sub) -> None:
    from ..options import DEFAULT_EPOCHS, SPLITS

    p = sub.add_parser("train", help="cross-validate and train an RBTransformer",
                       description="Cross-validate under --split, then train the final model "
                       "on all the data and save it with its metrics.")
    add_data_args(p)
    p.add_argument("--split", choices=SPLITS, default="trial-kfold",
                   help="window-kfold reproduces the paper (optimistic: overlapping windows "
                   "leak); trial-kfold and subject-out hold whole trials or subjects out")
    p.add_argument("--folds", type=int_in(2), default=5)
    p.add_argument("--per-subject", action="store_true", help="one model per subject")
    p.add_argument("--epochs", type=POSITIVE, default=DEFAULT_EPOCHS,
                   help=f"default {DEFAULT_EPOCHS} (the paper: 300)")
    p.add_argument("--out", required=True, type=Path, help="checkpoint folder to write")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--lr", type=float_in(0, 10, low_open=True), default=1e-3)
    p.add_argument("--weight-decay", type=float_in(0, 10), default=1e-3)
    p.add_argument("--label-smoothing", type=float_in(0, 0.99), default=0.12)
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
    p.add_argument("--dropout", type=float_in(0, 0.99))
    add_cluster_args(p)
    p.set_defaults(func=run)


def rerunnable_command() -> str:
    """This command as a shell line that reruns it from any folder (relative paths kept)."""
    return f"cd {shlex.quote(os.getcwd())} && rbt {shlex.join(sys.argv[1:])}"


def run(args) -> int:
    from ..train import TrainConfig, fit

    model = {k: v for k, v in (("embed_dim", args.embed_dim), ("depth", args.depth),
                                ("heads", args.heads), ("head_dim", args.head_dim),
                                ("mlp_hidden_dim", args.mlp_hidden_dim),
                                ("dropout", args.dropout)) if v is not None}
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay,
                      label_smoothing=args.label_smoothing, batch_size=args.batch_size,
                      late_batch_size=args.late_batch_size, oversample=args.oversample,
                      seed=args.seed, model=model)
    with cluster_from(args) as cluster:
        fs = load(args, cluster=cluster)
        _, metrics = fit(fs, split=args.split, folds=args.folds, per_subject=args.per_subject,
                         config=cfg, device=args.device, out=args.out,
                         keep_fold_models=args.keep_fold_models, overwrite=args.overwrite,
                         command=rerunnable_command(), train_final=not args.cv_only,
                         cluster=cluster)
    acc, f1 = metrics["accuracy"], metrics["macro_f1"]
    print(f"{args.split}{' per subject' if args.per_subject else ''}, "
          f"{len(metrics['folds'])} folds: accuracy {acc['mean']:.3f} ± {acc['std']:.3f}, "
          f"macro-F1 {f1['mean']:.3f} ± {f1['std']:.3f}")
    files = "metrics.json" if args.cv_only else (
        "config.json, model.safetensors, rbt_metadata.json, metrics.json")
    print(f"wrote {args.out}/ ({files})")
    return 0
