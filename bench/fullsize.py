"""Issue 14 end to end: full-size DEAP (and a SEED session) through features, predict and IG.

Composes the full-size benches, each timing the real code path on data in the real formats:

* :func:`bench.features_fullsize.features_bench`: writes a synthetic DEAP
  ``data_preprocessed_python/`` (Python-2 pickles of float64, as released) and one SEED session
  (MATLAB v5) into a temporary folder and times ``load_features`` cold and warm and the warm
  CLI, each in a fresh interpreter with its peak RSS;
* :func:`bench.inference.predict_bench`: ``rbt predict``'s work on as many windows as the
  subjects have (79,360 for 32), without attention, with the rollout and with every block's
  float16 attention streamed to disk (bytes written); and
  :func:`bench.inference.interleaved_rates`: rbt's model against the reference-style one;
* :func:`bench.explain.ig_bench`: rbt's adaptive integrated gradients on one subject's 2,480
  windows, and on ``--ig-compare`` windows side by side with Captum's default one window a
  call;
* :func:`bench.bde.deap_subject_trials` and ``sliding``: the BDE kernel ``rbt features`` runs
  (one pass a band per trial) against the per-window path on one subject, side by side.

Each line is printed against its target (issue 14; 2 quiet cores, targets scaled to
``--subjects``) with the peak memory and the load average. ``--device cuda`` runs predict and
IG on the GPU (features are CPU work), where the targets are 5 s for predict with attention
and 10 s for IG on one subject.

    python bench/fullsize.py [--subjects 32] [--device auto|cpu|cuda] [--tmp DIR [--reuse]]
        [--keep] [--no-seed] [--threads N] [--ig-compare 32] [--no-ig]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

WINDOWS_PER_SUBJECT = 40 * 62  # DEAP: 40 trials of 62 windows
GPU_TARGETS = {"predict with attention": 5.0, "IG, one subject": 10.0}


def load() -> str:
    return "load " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def line(name: str, seconds: float, target: float | None, extra: str = "") -> bool:
    ok = target is None or seconds <= target
    goal = f"target <= {target:6.1f} s  {'ok' if ok else 'MISSED'}" if target else "(no target)"
    print(f"{name:<44} {seconds:8.2f} s  {goal}  [{load()}]{extra}", flush=True)
    return ok


def bde_side_by_side() -> None:
    """The features' BDE kernel against the per-window path on one DEAP subject."""
    import numpy as np

    from bench.bde import SFREQ, deap_subject_trials, deap_subject_windows, sliding
    from rbt.bde import band_differential_entropy

    trials = deap_subject_trials()
    windows = deap_subject_windows(trials)
    sliding(trials[:1])
    band_differential_entropy(windows[:1], SFREQ)
    times = {"sliding": [], "per window": []}
    for _ in range(3):
        t0 = time.perf_counter()
        ours = sliding(trials)
        times["sliding"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        base = band_differential_entropy(windows, SFREQ)
        times["per window"].append(time.perf_counter() - t0)
    one, per = (float(np.median(times[k])) for k in ("sliding", "per window"))
    print(f"BDE of one DEAP subject: one pass a band {one:.2f} s, each window on its own "
          f"{per:.2f} s (medians of 3): {per / one:.2f}x; largest difference "
          f"{np.abs(ours - base).max():.1e}  [{load()}]", flush=True)


def predict_lines(tmp: Path, subjects: int, device: str, threads: int | None) -> list[bool]:
    import torch

    from bench.inference import DEAP_WINDOWS, interleaved_rates, predict_bench
    from bench.reference_rbtransformer import ReferenceRBTransformer
    from rbt.model import RBTransformer, RBTransformerConfig

    n = subjects * WINDOWS_PER_SUBJECT
    rows = predict_bench(tmp, n=n, device=device, threads=threads)
    gpu = rows[0]["device"].startswith("cuda")
    oks = []
    print(f"predict: {n:,} windows, device {rows[0]['device']}, {rows[0]['threads']} batch(es) "
          "side by side", flush=True)
    for r in rows:
        target = r["target"] * n / DEAP_WINDOWS
        if gpu and r["attention"] != "none":
            target = GPU_TARGETS["predict with attention"] * n / DEAP_WINDOWS
        oks.append(line(f"predict, attention {r['attention']}", r["seconds"], target,
                        f" {r['rate']:.0f} windows/s, {r['bytes'] / 1e6:.0f} MB written, peak "
                        f"{r['peak_mb'] / 1e3:.2f} GB"))
    torch.manual_seed(0)
    dev = torch.device(rows[0]["device"])
    ours = RBTransformer(RBTransformerConfig(num_electrodes=32)).eval().to(dev)
    ref = ReferenceRBTransformer(num_electrodes=32).eval().to(dev)
    ref.load_state_dict(ours.state_dict())
    rates = interleaved_rates({"reference": ref, "rbt": ours},
                              torch.randn(512, 32, 4, device=dev), 5, dev)
    print(f"model alone, batch 512: rbt {rates['rbt']:.0f} windows/s, reference style "
          f"{rates['reference']:.0f}/s: {rates['rbt'] / rates['reference']:.2f}x  [{load()}]",
          flush=True)
    return oks


def ig_lines(device: str, compare: int) -> list[bool]:
    import resource

    from bench.explain import ig_bench

    r = ig_bench(WINDOWS_PER_SUBJECT, device, methods=("rbt",))
    gpu = str(r["device"]).startswith("cuda")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    ok = line("IG (adaptive), one subject", r["rbt"]["seconds"],
              GPU_TARGETS["IG, one subject"] if gpu else None,
              f" {r['rbt']['rate']:.1f} windows/s, worst |delta| {r['rbt']['worst']:.1e}, "
              f"peak {peak:.2f} GB")
    if compare:
        c = ig_bench(compare, device, methods=("captum", "rbt"))
        print(f"IG on {compare} windows: rbt {c['rbt']['seconds']:.2f} s (worst |delta| "
              f"{c['rbt']['worst']:.1e}), Captum's default one window a call "
              f"{c['captum']['seconds']:.2f} s ({c['captum']['worst']:.1e}): "
              f"{c['captum']['seconds'] / c['rbt']['seconds']:.2f}x  [{load()}]", flush=True)
    return [ok]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=32, choices=range(1, 33), metavar="N",
                        help="DEAP files to write, read and predict (1-32, default 32)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda: predict and IG")
    parser.add_argument("--tmp", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --tmp: read the data an earlier run wrote there")
    parser.add_argument("--keep", action="store_true", help="keep the written data")
    parser.add_argument("--no-seed", action="store_true", help="skip the SEED session")
    parser.add_argument("--threads", type=int, help="torch and BDE threads (default: rbt's)")
    parser.add_argument("--ig-compare", type=int, default=32, metavar="N",
                        help="windows for IG side by side with Captum (0: none)")
    parser.add_argument("--no-ig", action="store_true", help="skip integrated gradients")
    args = parser.parse_args(argv)
    from bench.features_fullsize import features_bench

    tmp = args.tmp or Path(tempfile.mkdtemp(prefix="rbt-fullsize-"))
    print(f"work folder {tmp}; {os.cpu_count()} CPUs; [{load()}]", flush=True)
    try:
        rows = features_bench(tmp, args.subjects, not args.no_seed, args.threads,
                              reuse=args.reuse and args.tmp is not None)
        oks = [r["ok"] for r in rows]
        oks += predict_lines(tmp, args.subjects, args.device, args.threads)
        if not args.no_ig:
            oks += ig_lines(args.device, args.ig_compare)
        bde_side_by_side()  # last: its arrays would count in the peaks above
    finally:
        if not args.keep and args.tmp is None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{sum(oks)} of {len(oks)} targets met  [{load()}]")
    return 0 if all(oks) else 1


if __name__ == "__main__":
    sys.exit(main())
