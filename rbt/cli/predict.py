"""``rbt predict``: per-window predictions of a checkpoint, written to a CSV file."""

from __future__ import annotations

import argparse
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
    p.add_argument("--batch-size", type=POSITIVE, help="windows per forward pass (default: "
                   "128 on a CPU, where a batch's products then stay in the core's cache; 4096 "
                   "on a GPU)")
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="bfloat16 is faster on GPUs and on CPUs with native bfloat16, and "
                   "moves probabilities slightly (on the demo: median 2e-4, at most 0.02); float32 "
                   "(default) is exact")
    p.add_argument("--attention", nargs="?", const=DEFAULT_ATTENTION, type=attention_choice,
                   metavar="WHAT", help="also write the attention beside --out, streamed to "
                   "disk as it is computed (OUT.attention.npy: windows x blocks x heads x E x E, "
                   "float16; OUT.rollout.npy: windows x E x E, float32; OUT.attention.json says "
                   "which): full (every block), rollout, block indices (0,3), or a mix "
                   f"(rollout,3); bare --attention: {DEFAULT_ATTENTION}")
    p.add_argument("--threads", type=POSITIVE, help="CPU batches run side by side, one torch "
                   "thread each (default: RBT_TORCH_THREADS if set, else every CPU)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=run)


DEFAULT_ATTENTION = "full,rollout"


def attention_choice(text: str):
    """argparse type for ``--attention`` (:func:`rbt.attention_store.parse_attention`)."""
    from ..attention_store import parse_attention

    try:
        return parse_attention(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--attention: ")) from None


def attention_paths(out: Path) -> dict[str, Path]:
    """Where ``--attention`` writes, beside the predictions: OUT.attention.npy,
    OUT.rollout.npy and OUT.attention.json (what was kept)."""
    stem = out.with_suffix("") if out.suffix else out
    return {k: stem.with_name(f"{stem.name}.{k}.npy") for k in ("attention", "rollout")} | {
        "json": stem.with_name(f"{stem.name}.attention.json")}


def attention_plan(choice, n: int, config, out_dir: Path) -> str:
    """The disk the attention will take, said before it is written; a ValueError when the
    disk has not that much free."""
    import shutil

    from ..attention_store import human_bytes

    per = choice.bytes_per_window(config.depth, config.heads, config.num_electrodes)
    total = per * n
    free = shutil.disk_usage(out_dir).free
    if total > free:
        raise ValueError(f"--attention {choice.describe(config.depth)} needs "
                         f"{human_bytes(total)} for {n:,} windows ({per:,} bytes a window) but "
                         f"{out_dir} has {human_bytes(free)} free; keep less (--attention "
                         "rollout, or chosen blocks such as --attention 3) or write elsewhere")
    return (f"writing {choice.describe(config.depth)}: {per:,} bytes a window, "
            f"{human_bytes(total)} for {n:,} windows")


def run(args) -> int:
    from ..attention_store import AttentionWriter, human_bytes
    from ..cache import atomic_write_bytes
    from ..checkpoint import load_checkpoint
    from ..device import use_batch_workers
    from ..infer import predict, prediction_table
    from ..model_fit import fit_data
    from ..safeio import check_output, spreadsheet_safe

    out = check_output(args.out, args.force, inputs(args))
    side = check_output(side_file(out), args.force, inputs(args)) \
        if args.interpolate_missing else None
    choice = getattr(args, "attention", None)
    # every attention file beside OUT is checked, written or not: one left from an earlier run
    # would be read as these predictions' attention (it is removed below, with --force)
    companions = attention_paths(out)
    for path in companions.values():
        check_output(path, args.force, inputs(args))
    paths = companions if choice else {}
    workers = use_batch_workers(getattr(args, "threads", None))
    checkpoint = load_checkpoint(args.model)
    fit = fit_data(checkpoint, load(args, checkpoint.card))
    blocked = blocking_message(fit, WRITTEN)
    if blocked:
        raise ValueError(blocked)
    if choice:
        cfg = fit.model.config
        print(attention_plan(choice, len(fit.X), cfg, out.parent.resolve()), flush=True)
        writer = AttentionWriter(choice, len(fit.X), cfg.depth, cfg.heads, cfg.num_electrodes,
                                 paths)
        with writer:
            result = predict(fit, device=args.device, batch_size=args.batch_size, progress=True,
                             precision=args.precision, attention_to=writer, workers=workers)
        atomic_write_bytes(paths["json"], attention_record(args, writer, fit))
    else:
        result = predict(fit, device=args.device, batch_size=args.batch_size, progress=True,
                         precision=args.precision, workers=workers)
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
    if choice:
        print("wrote " + ", ".join(f"{p} ({human_bytes(p.stat().st_size)})"
                                   for p in writer.paths.values()))
    written = set(writer.paths.values()) | {paths["json"]} if choice else set()
    stale = [p for p in companions.values() if p not in written and p.exists()]
    for path in stale:
        path.unlink()
    if stale:
        print("removed " + ", ".join(str(p) for p in stale) + " (attention of the predictions "
              "this file replaced)")
    return 0


def attention_record(args, writer, fit) -> bytes:
    """OUT.attention.json: what the attention files hold."""
    import json

    return json.dumps({
        "predictions": args.out.name, "model": str(args.model),
        "files": {k: p.name for k, p in writer.paths.items()},
        "blocks": writer.blocks, "heads": fit.model.config.heads,
        "electrodes": list(fit.ch_names), "attention_dtype": "float16",
        "rollout_dtype": "float32", "windows": writer.n}, indent=2).encode()


def side_file(out: Path) -> Path:
    """Where the predictions' record of what was interpolated goes: beside ``out``."""
    return out.with_name(out.name + ".json")


def side_record(args, fs) -> bytes:
    """The predictions' side file: the electrodes interpolated and what reading did."""
    import json

    return json.dumps({"predictions": args.out.name, "model": str(args.model),
                       "data": str(fs.source), "interpolated": list(fs.interpolated),
                       "notes": list(fs.notes)}, indent=2).encode()
