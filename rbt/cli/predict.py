"""``rbt predict``: per-window predictions of a checkpoint, written to a CSV file."""

from __future__ import annotations

from pathlib import Path

from .args import POSITIVE, accuracy_phrase, add_data_args, add_fit_args, inputs, load
from .problems import blocking_message, print_notes

WRITTEN = "predictions"  # what the notes say is written


def add_parser(sub) -> None:
    from ..options import PRECISIONS

    p = sub.add_parser("predict", help="per-window predictions to CSV")
    p.add_argument("--model", required=True, type=Path, help="checkpoint folder")
    add_data_args(p)
    add_fit_args(p)
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
    from ..checkpoint import load_checkpoint
    from ..infer import predict, prediction_table
    from ..model_fit import fit_data
    from ..safeio import check_output, spreadsheet_safe

    out = check_output(args.out, args.force, inputs(args))
    side = check_output(side_file(out), args.force, inputs(args)) \
        if args.interpolate_missing else None
    checkpoint = load_checkpoint(args.model)
    fit = fit_data(checkpoint, load(args, checkpoint.card))
    blocked = blocking_message(fit, WRITTEN)
    if blocked:
        raise ValueError(blocked)
    result = predict(fit, device=args.device, batch_size=args.batch_size, progress=True,
                     precision=args.precision)
    print_notes(fit, WRITTEN)
    frame = prediction_table(fit, result.probs, result.pred)
    atomic_write_bytes(out, spreadsheet_safe(frame).to_csv(index=False).encode())
    msg = f"wrote {out}: {len(frame)} windows"
    if side is not None and fit.fs.interpolated:
        atomic_write_bytes(side, side_record(args, fit.fs))
        msg += f" (interpolated electrodes: {', '.join(fit.fs.interpolated)}; see {side.name})"
    if fit.y is not None:
        msg += ", " + accuracy_phrase(result.pred, fit.y, result.in_training, fit.fs)
    print(msg)
    return 0


def side_file(out: Path) -> Path:
    """Where the predictions' record of what was interpolated goes: beside ``out``."""
    return out.with_name(out.name + ".json")


def side_record(args, fs) -> bytes:
    """The predictions' side file: the electrodes interpolated and what reading did."""
    import json

    return json.dumps({"predictions": args.out.name, "model": str(args.model),
                       "data": str(fs.source), "interpolated": list(fs.interpolated),
                       "notes": list(fs.notes)}, indent=2).encode()
