"""Integrated gradients by accuracy per cost: Captum's default against rbt's, in one process.

Model: RBTransformer with the paper's hyper-parameters (32 electrodes, embed 128, depth 4,
6 heads x 32, MLP 128; random weights, seed 0) in eval mode, or ``--demo``: the shipped demo
checkpoint on the demo dataset's first windows. Each window is explained for the class the
model predicts for it, from a zeros baseline.

  (a) Captum's default, one window per call: ``IntegratedGradients(model).attribute(x[None],
      target=t, return_convergence_delta=True)`` (50 Gauss-Legendre points in one pass);
  (b) ``rbt.explain.attribute(model, X, target=t)`` with its defaults: 16 Gauss-Legendre points
      for every window, raised (twice the points, again while needed) only for the windows
      whose completeness error |sum(attr) - (f(x) - f(x'))| exceeds the tolerance (1e-4);
  (c) rbt with Captum's 50 points and no raising, many windows per pass (the batching check:
      never slower than (a)).

Prints, for each, the time (median of ``--repeats`` interleaved runs), windows per second and
the worst and median completeness error, and the ratios against (a). Usage:
  python bench/explain.py [--windows 256] [--device auto|cpu|cuda] [--demo] [--tolerance 1e-4]
      [--internal-batch-size N] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"


def windows(n: int, demo: bool) -> np.ndarray:
    if demo:
        from rbt.data import load_features

        return load_features("demo", progress=False).X[:n]
    return np.random.default_rng(0).normal(0.0, 1.0, size=(n, 32, 4)).astype(np.float32)


def captum_one_at_a_time(model, X: torch.Tensor, target: torch.Tensor):
    """Captum's defaults, one window per call: attributions and |convergence delta|."""
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(model)
    out, deltas = [], []
    for i in range(len(X)):
        a, d = ig.attribute(X[i: i + 1], target=int(target[i]), return_convergence_delta=True)
        out.append(a.detach())
        deltas.append(d.detach().abs())
    return torch.cat(out).cpu().numpy(), torch.cat(deltas).double().cpu().numpy()


def completeness(model, X: np.ndarray, target: np.ndarray, attr: np.ndarray, dev) -> np.ndarray:
    """|sum(attr) - (f(x) - f(0))| per window, in float64 sums of the float32 outputs."""
    with torch.no_grad():
        x = torch.from_numpy(X).to(dev)
        t = torch.from_numpy(target).to(dev)[:, None]
        change = (model(x).gather(1, t) - model(torch.zeros_like(x)).gather(1, t)).squeeze(1)
    return np.abs(attr.reshape(len(attr), -1).sum(axis=1, dtype=np.float64)
                  - change.double().cpu().numpy())


def ig_bench(n_windows: int = 256, device: str = "auto", demo: bool = False,
             tolerance: float = 1e-4, internal_batch_size: int | None = None,
             repeats: int = 1, methods=("captum", "rbt", "rbt50")) -> dict:
    """Time and completeness of (a), (b) and (c) (see the module's docstring), those of
    ``methods`` only; a dict of ``{name: {"seconds", "worst", "median", ...}}`` plus
    ``"device"`` and ``"report"`` (rbt's, None without "rbt")."""
    from rbt.device import resolve_device
    from rbt.explain import attribute
    from rbt.model import RBTransformer

    warnings.filterwarnings("ignore", message=".*required_grads.*")
    dev = resolve_device(device)
    ibs = internal_batch_size or (256 if dev.type == "cpu" else 32768)
    if demo:
        from rbt.checkpoint import load_checkpoint

        model = load_checkpoint(DEMO).model.to(dev).eval()
    else:
        torch.manual_seed(0)
        model = RBTransformer(num_electrodes=32).to(dev).eval()
    X = windows(n_windows, demo)
    Xt = torch.from_numpy(X).to(dev)
    with torch.no_grad():
        target = model(Xt).argmax(-1)
    tg = target.cpu().numpy()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    runs = {
        "captum": lambda: captum_one_at_a_time(model, Xt, target),
        "rbt": lambda: attribute(model, X, target=tg, tolerance=tolerance,
                                 internal_batch_size=ibs, device=dev, with_report=True),
        "rbt50": lambda: (attribute(model, X, target=tg, n_steps=50, tolerance=None,
                                    internal_batch_size=ibs, device=dev), None),
    }
    runs = {k: v for k, v in runs.items() if k in methods}
    # warm up every path (allocator, kernels, Captum's imports, the frozen copy)
    if "captum" in runs:
        captum_one_at_a_time(model, Xt[:2], target[:2])
    attribute(model, X[:8], target=tg[:8], internal_batch_size=ibs, device=dev)
    times: dict[str, list[float]] = {k: [] for k in runs}
    results = {}
    for _ in range(repeats):
        for name, fn in runs.items():
            sync()
            t0 = time.perf_counter()
            results[name] = fn()
            sync()
            times[name].append(time.perf_counter() - t0)
    out: dict = {"device": dev, "ibs": ibs, "n": len(X),
                 "report": results["rbt"][1] if "rbt" in results else None}
    for name in runs:
        attr = results[name][0]
        delta = results[name][1] if name == "captum" else completeness(model, X, tg, attr, dev)
        sec = float(np.median(times[name]))
        out[name] = {"seconds": sec, "rate": len(X) / sec, "worst": float(delta.max()),
                     "median": float(np.median(delta)), "attr": attr}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=256)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="rbt's completeness tolerance (its default 1e-4)")
    parser.add_argument("--internal-batch-size", type=int,
                        help="model inputs per pass for rbt (default: 256 on CPU, as rbt "
                        "explain; 32768 on GPU)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--demo", action="store_true",
                        help="the demo checkpoint on demo windows instead of random weights on "
                        "synthetic windows")
    args = parser.parse_args()
    r = ig_bench(args.windows, args.device, args.demo, args.tolerance,
                 args.internal_batch_size, args.repeats)
    a = r["captum"]
    print(f"device {r['device']} ({torch.get_num_threads()} torch threads, {os.cpu_count()} "
          f"CPUs, load {os.getloadavg()[0]:.2f}), torch {torch.__version__}; {r['n']} windows "
          f"x 32 electrodes x 4 bands, {'demo checkpoint' if args.demo else 'paper-sized model'}")
    rows = (("(a) Captum default, 50 steps, 1 window a call", "captum"),
            ("(b) rbt default (adaptive, 16 points first)", "rbt"),
            ("(c) rbt, 50 points, batched", "rbt50"))
    print(f"{'':48} {'seconds':>8} {'windows/s':>10} {'worst |d|':>10} {'median |d|':>10} "
          f"{'speed-up':>9}")
    for label, key in rows:
        v = r[key]
        print(f"{label:48} {v['seconds']:8.2f} {v['rate']:10.1f} {v['worst']:10.1e} "
              f"{v['median']:10.1e} {a['seconds'] / v['seconds']:8.2f}x")
    print(r["report"].summary())
    diff = np.abs(a["attr"] - r["rbt50"]["attr"]).max()
    print(f"(c) against (a): largest difference {diff:.1e} (largest attribution "
          f"{np.abs(a['attr']).max():.1e}); internal_batch_size {r['ibs']}")
    b = r["rbt"]
    print(f"targets: (b) >= 3x faster than (a): {a['seconds'] / b['seconds']:.2f}x "
          f"{'met' if a['seconds'] >= 3 * b['seconds'] else 'NOT met'}; worst |delta| no "
          f"worse: {b['worst']:.1e} vs {a['worst']:.1e} "
          f"{'met' if b['worst'] <= a['worst'] else 'NOT met'}; (c) never slower than (a): "
          f"{a['seconds'] / r['rbt50']['seconds']:.2f}x")


if __name__ == "__main__":
    main()
