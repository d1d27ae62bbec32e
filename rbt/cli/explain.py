"""``rbt explain``: attributions (and attention) for every window, written to an .npz file."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..explain.inputs import BASELINES
from ..explain.methods import (
    ALIASES,
    COMMON_OPTIONS,
    DEFAULT_MAX_STEPS,
    MASKS,
    MAX_SAMPLES,
    METHOD_REGISTRY,
    METHODS,
    OUTPUTS,
    method_record,
)
from .args import (
    accuracy_phrase,
    add_cluster_args,
    add_data_args,
    add_fit_args,
    cluster_from,
    inputs,
    int_in,
    load,
)
from .predict import DEFAULT_ATTENTION, attention_choice, attention_plan
from .problems import blocking_message, print_notes

WRITTEN = "attributions"  # what the notes say is written

#: the method options this command has flags for (each goes to the methods that take it)
FLAGGED_OPTIONS = ("n_steps", "tolerance", "mask")


def _method(name: str) -> str:
    """A method's name, alias or label (the registry's, :mod:`rbt.explain.methods`)."""
    try:
        return method_record(name).name
    except ValueError:
        short = ", ".join(f"{a} ({m})" for a, m in ALIASES.items())
        raise argparse.ArgumentTypeError(
            f"unknown method {name.lower()!r}; choose from {', '.join(METHODS)} or a short "
            f"name: {short}") from None


def _tolerance(text: str):
    """``--ig-tolerance``: a number > 0, or none (exactly --n-steps for every window)."""
    if text.strip().lower() in ("none", "off"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0 or none; got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0 (or none); got {text}")
    return value


def _default(option: str):
    """The registry's default for a method option (from the first method that takes it)."""
    return next(m.options[option] for m in METHOD_REGISTRY.values() if option in m.options)


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``explain`` subcommand to the ``rbt`` subparsers."""
    p = sub.add_parser(
        "explain", help="per-window attributions (and attention) to an .npz file",
        description="Explain a model's predictions: for every window, attributions per "
        "electrode and band (windows x electrodes x bands), with predictions and, with "
        "--attention, each block's attention and the rollout. --target and --task default to "
        "the model's.")
    p.add_argument("--model", required=True, type=Path, help="checkpoint folder")
    add_data_args(p)
    add_fit_args(p)
    p.add_argument("--method", type=_method, default="integrated_gradients",
                   metavar="{" + ",".join(METHODS) + "}",
                   help="attribution method (default: integrated_gradients; short names: "
                   + ", ".join(f"{a}={m}" for a, m in ALIASES.items()) + ")")
    p.add_argument("--baseline", choices=list(BASELINES), default="zeros",
                   help="what 'absent' means: " + "; ".join(
                       f"{b.name}: {b.label}" for b in BASELINES.values())
                   + " (default: zeros)")
    p.add_argument("--class", dest="explain_class", default="predicted",
                   help="class to explain: predicted (default), true, a class name or index")
    p.add_argument("--smoothgrad", action="store_true", help="wrap the method in SmoothGrad")
    p.add_argument("--n-steps", type=int_in(1, MAX_SAMPLES), default=_default("n_steps"),
                   help=f"integrated gradients: Gauss-Legendre points every window gets first "
                   f"(1 to {MAX_SAMPLES}; default {_default('n_steps')})")
    p.add_argument("--ig-tolerance", dest="tolerance", type=_tolerance,
                   default=_default("tolerance"), metavar="TOL",
                   help="integrated gradients: windows whose completeness error |sum(attr) - "
                   "(f(x) - f(baseline))| exceeds TOL are recomputed with twice the points, up "
                   f"to {DEFAULT_MAX_STEPS} or --n-steps (default {_default('tolerance'):g}; none: "
                   "exactly --n-steps)")
    p.add_argument("--mask", choices=MASKS, default=_default("mask"),
                   help="occlusion / feature ablation: remove cells, electrodes or bands")
    p.add_argument("--output", choices=OUTPUTS, default=COMMON_OPTIONS["output"],
                   help="the model output to attribute (default: logit)")
    p.add_argument("--attention", nargs="?", const=DEFAULT_ATTENTION, type=attention_choice,
                   metavar="WHAT", help="also write the attention, streamed into the file "
                   "(attention: windows x blocks x heads x E x E, float16; rollout: windows x "
                   "E x E, float32): full (every block), rollout, block indices (0,3) or a mix "
                   f"(rollout,3); bare --attention: {DEFAULT_ATTENTION}")
    p.add_argument("--subjects", nargs="+", metavar="S",
                   help="explain only these subjects' windows (e.g. s05 s06); baselines that "
                   "average or draw windows still use the whole data")
    p.add_argument("--trials", nargs="+", type=int, metavar="T",
                   help="explain only these trial numbers (of every chosen subject)")
    p.add_argument("--out", required=True, type=Path, help="output .npz file")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--internal-batch-size", type=int_in(1, 1 << 16),
                   help="model inputs per forward pass; bounds memory (default: 256 on CPU, "
                   "16384 on GPU)")
    p.add_argument("--threads", type=int_in(1), help="torch's CPU threads (default: "
                   "RBT_TORCH_THREADS if set, else the cores not busy with other work)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    add_cluster_args(p)
    p.set_defaults(func=run)
    return p


def _options(args) -> dict:
    """``--output`` and the flagged options the chosen method takes."""
    takes = method_record(args.method).options
    return {"output": args.output,
            **{k: getattr(args, k) for k in FLAGGED_OPTIONS if k in takes}}


def _selection(table, subjects, trials):
    """Boolean mask of the windows of ``subjects`` and ``trials`` (None: all); an empty
    selection is an error that lists what there is."""
    import numpy as np

    keep = np.ones(len(table), bool)
    have = table["subject"].astype(str)
    if subjects:
        unknown = sorted(set(subjects) - set(have))
        if unknown:
            raise ValueError(f"no subject {', '.join(unknown)} in these data; they have "
                             f"{', '.join(sorted(set(have)))}")
        keep &= have.isin(subjects).to_numpy()
    if trials:
        keep &= table["trial"].isin(trials).to_numpy()
        if not keep.any():
            raise ValueError(f"no windows of trial(s) {', '.join(map(str, trials))} in the "
                             f"chosen subjects; trials run from {table['trial'].min()} to "
                             f"{table['trial'].max()}")
    return keep


def run(args) -> int:
    with cluster_from(args) as cluster:
        return _explain(args, cluster)


def _explain(args, cluster) -> int:
    from ..checkpoint import load_checkpoint
    from ..cluster import task_device
    from ..device import use_torch_threads
    from ..explain.features import explain_features, save_explanation
    from ..model_fit import fit_data
    from ..safeio import check_output

    out = check_output(args.out, args.force, inputs(args))
    target = args.explain_class
    if target.lstrip("-").isdigit():
        target = int(target)
    # in-process resolved here (a device this machine lacks is an error); on a cluster a name
    # each task resolves on its worker ("auto" is cuda where workers offer GPUs)
    device = task_device(args.device, cluster)
    use_torch_threads(args.threads)
    batch = args.internal_batch_size or (256 if device in ("cpu", "auto") else 16384)  # never 0
    checkpoint = load_checkpoint(args.model)
    fit = fit_data(checkpoint, load(args, checkpoint.card, cluster))
    blocked = blocking_message(fit, WRITTEN)
    if blocked:
        raise ValueError(blocked)
    index = (_selection(fit.table, args.subjects, args.trials)
             if args.subjects or args.trials else None)
    plan = None
    if args.attention:
        n = len(fit.X) if index is None else int(index.sum())
        plan = attention_plan(args.attention, n, fit.model.config, out.parent.resolve())
    result = explain_features(fit, method=args.method, target=target, baseline=args.baseline,
                              index=index, smoothgrad=args.smoothgrad, device=device,
                              progress=True, internal_batch_size=batch, seed=args.seed,
                              cluster=cluster, **_options(args))
    if plan:
        print(plan + ("; the attention computed here, on the CPU" if cluster else ""),
              flush=True)
    # the attention is streamed into the file batch by batch (memory: one batch), so it is
    # computed here, not in tasks that would send whole blocks back; on a cluster on the CPU
    # (in CPU-sized batches), since the device asked for is the workers' and this machine
    # may have no GPU
    here = ("cpu", args.internal_batch_size or 256) if cluster is not None else (device, batch)
    save_explanation(out, result, attention=args.attention, model=fit.model,
                     X=fit.X[result.index], device=here[0], batch_size=here[1], progress=True)
    n, e, b = result.attributions.shape
    how = (f"{args.method}, baseline {args.baseline}"
           if method_record(args.method).uses_baseline else args.method)
    msg = f"wrote {out}: attributions for {n} windows x {e} electrodes x {b} bands ({how})"
    print_notes(fit, WRITTEN)
    if result.y is not None:
        msg += "; " + accuracy_phrase(result.pred, result.y, result.in_training, fit.fs)
    print(msg)
    if result.ig_report is not None:
        print(result.ig_report.summary())
    return 0
