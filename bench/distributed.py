"""Per-subject cross-validation in-process against a local Dask cluster, side by side.

The data are a DEAP-sized synthetic feature set (32 subjects x 40 trials x 62 windows of 32
electrodes x 4 bands, 79,360 windows, a small planted class effect), so no reading or BDE time
is counted: only the folds (``rbt.train.fit(per_subject=True, train_final=False)``). Measured:
the in-process wall time, the wall time on a ``distributed.LocalCluster`` of ``--workers``
processes (start-up reported apart), and each fold's compute time on the workers (Dask's task
stream); the two alternate over groups of subjects, after a warm-up of both, so both see the
machine's load alike. Projected: the wall time on N workers of one core each, from those
per-task times (greedy longest-first assignment, no start-up), which is what a cluster of
that many workers would take if each task ran as fast as it did here.

    python bench/distributed.py [--subjects 32] [--folds 5] [--epochs 2] [--workers 2] [--rounds 4]
"""

from __future__ import annotations

import argparse
import heapq
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

# run as a script, this file's folder comes first on sys.path, and this file would shadow Dask's
# own ``distributed`` package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]


def deap_sized(subjects: int, trials: int = 40, windows: int = 62, seed: int = 0):
    """A FeatureSet shaped like DEAP's (valence, binary) with a learnable effect."""
    from rbt.data import FeatureSet

    rng = np.random.default_rng(seed)
    n = subjects * trials * windows
    ratings = rng.uniform(1, 9, size=(subjects, trials))
    y = (ratings >= 5).astype(np.int64).repeat(windows, axis=1).ravel()
    X = rng.standard_normal((n, 32, 4)).astype(np.float32)
    X[:, :8, 1] += 0.5 * (2 * y[:, None] - 1)  # alpha at 8 electrodes follows the class
    table = pd.DataFrame({
        "subject": np.repeat([f"s{s + 1:02d}" for s in range(subjects)], trials * windows),
        "session": 1,
        "trial": np.tile(np.repeat(np.arange(1, trials + 1), windows), subjects),
        "window": np.tile(np.arange(windows), subjects * trials),
        "valence": ratings.repeat(windows, axis=1).ravel(),
    })
    from rbt.data.deap import EEG_CHANNELS

    return FeatureSet(X=X, table=table, ch_names=list(EEG_CHANNELS), sfreq=128.0,
                      bands={"theta": (4, 8), "alpha": (8, 14), "beta": (14, 31),
                             "gamma": (31, 49)},
                      dataset="deap", source="synthetic", params={"window": 512, "stride": 117},
                      target="valence", task="binary", y=y, class_names=["low", "high"])


def makespan(times: list[float], workers: int) -> float:
    """Longest-first greedy assignment of task times to ``workers``: the last finish."""
    load = [0.0] * workers
    for t in sorted(times, reverse=True):
        heapq.heapreplace(load, load[0] + t)
    return max(load)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", type=int, default=32)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=4,
                    help="alternate in-process and cluster runs over this many subject groups")
    ap.add_argument("--paper-model", action="store_true",
                    help="the paper's model size (default: a small one, embed 32, depth 1)")
    args = ap.parse_args()
    import torch

    from rbt.cluster import connect
    from rbt.train import TrainConfig, fit

    fs = deap_sized(args.subjects)
    model = {} if args.paper_model else dict(embed_dim=32, depth=1, heads=2, head_dim=16,
                                             mlp_hidden_dim=32)
    cfg = TrainConfig(epochs=args.epochs, model=model)
    kw = dict(split="trial-kfold", folds=args.folds, per_subject=True, config=cfg,
              device="cpu", progress=False, train_final=False, command="bench")
    n_tasks = args.subjects * args.folds
    print(f"{len(fs):,} windows, {args.subjects} subjects x {args.folds} folds = {n_tasks} "
          f"tasks, {args.epochs} epoch(s), model {'paper' if args.paper_model else 'small'}")
    print(f"load before: {uptime()}")
    from distributed import get_task_stream

    # the machine is shared: in-process and cluster runs alternate, a group of subjects each
    # round, so both sides see the same load
    subjects = fs.subjects()
    groups = [subjects[i::args.rounds] for i in range(args.rounds)]
    t0 = time.perf_counter()
    with connect(workers=args.workers, dashboard_address=":0", announce=False) as cluster:
        cluster.client.wait_for_workers(args.workers)
        cluster.client.run(lambda: __import__("rbt.train"))  # import torch and rbt once
        t_start = time.perf_counter() - t0
        warm = fs.subset(fs.table["subject"].isin(subjects[:1]).to_numpy())
        fit(warm, **{**kw, "folds": 2})  # lazy imports and torch's first calls, both sides
        fit(warm, **{**kw, "folds": 2 * args.workers}, cluster=cluster)
        t_here = t_there = 0.0
        tasks, same = [], True
        for r, group in enumerate(groups):
            part = fs.subset(fs.table["subject"].isin(group).to_numpy())
            t1 = time.perf_counter()
            _, here = fit(part, **kw)
            t2 = time.perf_counter()
            with get_task_stream(cluster.client) as stream:
                _, there = fit(part, **kw, cluster=cluster)
            t3 = time.perf_counter()
            t_here, t_there = t_here + t2 - t1, t_there + t3 - t2
            tasks += [sum(s["stop"] - s["start"] for s in r_["startstops"]
                          if s["action"] == "compute")
                      for r_ in stream.data if str(r_["key"]).startswith("rbt-fold_task")]
            same &= {k: v for k, v in here.items() if k != "command"} == \
                {k: v for k, v in there.items() if k != "command"}
            print(f"  round {r + 1}/{args.rounds} ({len(group)} subjects): in-process "
                  f"{t2 - t1:.1f} s, cluster {t3 - t2:.1f} s ({(t2 - t1) / (t3 - t2):.2f}x); "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"measured in-process ({torch.get_num_threads()} torch thread(s)): {t_here:.1f} s "
          f"({t_here / n_tasks:.2f} s per fold)")
    print(f"measured on a local cluster of {args.workers} workers (1 thread each): "
          f"{t_there:.1f} s, plus {t_start:.1f} s to start it; speed-up "
          f"{t_here / t_there:.2f}x ({t_here / (t_there + t_start):.2f}x with start-up)")
    print(f"measured per fold on the workers: median {np.median(tasks):.2f} s, "
          f"min {min(tasks):.2f}, max {max(tasks):.2f}, total {sum(tasks):.1f} s "
          f"({len(tasks)} tasks)")
    print(f"metrics.json identical: {same}"
          + ("" if same or torch.get_num_threads() == 1 else
             " (expected only at the same torch thread count: run with OMP_NUM_THREADS=1)"))
    print("projected wall time on N workers of one core each (from the per-fold times above, "
          "longest-first, no start-up or contention):")
    for n in (1, 2, 4, 8, 16, 32, 64, 160):
        if n > n_tasks:
            break
        span = makespan(tasks, n)
        print(f"  N={n:>3}: {span:7.1f} s  ({sum(tasks) / span:5.1f}x one worker)")
    print(f"load after: {uptime()}")
    print(f"cpus: {len(os.sched_getaffinity(0))}")


if __name__ == "__main__":
    main()
