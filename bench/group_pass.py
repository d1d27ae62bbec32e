"""One pass over every window for the dashboard's Across trials page, against two.

    python bench/group_pass.py [--windows 8192] [--device cpu] [--repeats 3]

*baseline*: what the page ran before: the predictions (``rbt.infer.predict_array``), then the
attention group sums of one grouping (``rbt.infer.attention_sums``, float64 per batch);
*ours*: ``rbt.explain.group_pass``: predictions and the group sums of BDE, every block and
head and the rollout, for every grouping at once, in one pass. Demo checkpoint (32
electrodes), random windows; medians of interleaved repeats, the ratio and ``uptime`` load.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=8192)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from rbt import infer
    from rbt.checkpoint import load_checkpoint
    from rbt.explain import group_pass

    model = load_checkpoint(ROOT / "assets" / "demo-checkpoint").model.eval()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.windows, model.config.num_electrodes, 4)).astype(np.float32)
    subject = np.repeat([f"s{i:02d}" for i in range(32)], -(-args.windows // 32))[:len(X)]
    true = rng.choice(np.array(["high", "low"], dtype=object), len(X))
    groups = {"subject": subject.astype(object), "true": true}

    def baseline():
        infer.predict_array(model, X, device=args.device, batch_size=256)
        infer.attention_sums(model, X, true, device=args.device, batch_size=256)

    def ours():
        group_pass(model, X, groups, class_names=["high", "low"], device=args.device,
                   batch_size=256)

    times: dict[str, list[float]] = {"baseline": [], "ours": []}
    for _ in range(args.repeats):
        for name, run in (("baseline", baseline), ("ours", ours)):
            t = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t)
    base, mine = (float(np.median(times[k])) for k in ("baseline", "ours"))
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"{len(X):,} windows on {args.device}, load {' '.join(load)}")
    print(f"baseline (predict, then attention sums of one grouping): {base:.2f} s "
          f"({len(X) / base:,.0f} windows/s)")
    print(f"ours (one pass: predictions, BDE and attention sums of every grouping): "
          f"{mine:.2f} s ({len(X) / mine:,.0f} windows/s)")
    print(f"ratio baseline / ours: {base / mine:.2f}x; full DEAP (79,360 windows) at this pace: "
          f"{79_360 / len(X) * mine:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
