"""``rbt features``: BDE features of a dataset, written to an .npz file."""

from __future__ import annotations

from pathlib import Path

from .args import add_cluster_args, add_data_args, cluster_from, inputs, load


def add_parser(sub) -> None:
    p = sub.add_parser("features", help="compute BDE features and write them to an .npz file")
    add_data_args(p)
    p.add_argument("--electrodes-of", type=Path, metavar="CHECKPOINT",
                   help="MNE recordings: compute the features as this model reads them: on its "
                   "electrodes (the missing ones interpolated, as --interpolate-missing does for "
                   "rbt predict), with its window, stride and rate")
    p.add_argument("--out", required=True, type=Path, help="output .npz file")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    add_cluster_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..bde import pad_heap
    from ..cache import atomic_savez
    from ..safeio import check_output

    pad_heap()  # this process computes BDE on few threads: malloc keeps its pages (rbt.bde)

    out = check_output(args.out, args.force, inputs(args))
    card = None
    if args.electrodes_of is not None:
        from ..checkpoint import load_checkpoint

        card = load_checkpoint(args.electrodes_of).card
        args.interpolate_missing = True
    with cluster_from(args) as cluster:
        fs = load(args, card, cluster)
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
