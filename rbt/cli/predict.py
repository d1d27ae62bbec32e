"""``rbt predict``: per-window predictions of a checkpoint, written to a CSV file."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from .args import POSITIVE, accuracy_phrase, add_data_args, inputs, load


def add_parser(sub) -> None:
    from ..infer import PRECISIONS

    p = sub.add_parser("predict", help="per-window predictions to CSV")
    p.add_argument("--model", required=True, type=Path, help="checkpoint folder")
    add_data_args(p)
    p.add_argument("--out", required=True, type=Path, help="output .csv")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--batch-size", type=POSITIVE, default=512)
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="bfloat16 is faster on GPUs and on CPUs with native bfloat16, and "
                   "moves probabilities slightly (on the demo: median 2e-4, at most 0.02); float32 "
                   "(default) is exact")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..cache import atomic_write_bytes
    from ..checkpoint import class_names_for, data_notes, load_model
    from ..infer import predict
    from ..safeio import check_output, spreadsheet_safe

    out = check_output(args.out, args.force, inputs(args))
    model, meta = load_model(args.model)
    fs = load(args, meta)
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
        msg += ", " + accuracy_phrase(result.pred, fs.y, result.in_training, fs)
    print(msg)
    return 0
