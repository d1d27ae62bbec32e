"""rbt's batched integrated gradients against Captum one window at a time, in one process.

Model: RBTransformer with the paper's hyper-parameters (32 electrodes, embed 128, depth 4,
6 heads x 32, MLP 128; random weights, seed 0) in eval mode. Input: 512 windows of synthetic
BDE (``--demo``: the demo dataset's first windows). Each window is explained for the class the
model predicts for it, from a zeros baseline, with 50 Gauss-Legendre steps (Captum's defaults).

  (a) Captum, one window per call, defaults: ``IntegratedGradients(model).attribute(x[None],
      target=t)`` (its 50 path points go through the model in one pass);
  (b) ``rbt.explain.attribute(model, X, target=t, n_steps=50)``: many windows' path points per
      pass, at most ``--internal-batch-size`` model inputs each.

Prints the time of each (the median of ``--repeats`` interleaved runs), the ratio and the
largest disagreement. Usage:
  python bench/explain.py [--windows 512] [--device auto] [--internal-batch-size N] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import torch


def windows(n: int, demo: bool) -> np.ndarray:
    if demo:
        from rbt.data import load_features

        return load_features("demo", progress=False).X[:n]
    return np.random.default_rng(0).normal(0.0, 1.0, size=(n, 32, 4)).astype(np.float32)


def captum_one_at_a_time(model, X: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(model)
    out = [ig.attribute(X[i: i + 1], target=int(target[i])).detach() for i in range(len(X))]
    return torch.cat(out).cpu().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=512)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--internal-batch-size", type=int,
                        help="model inputs per pass for rbt (default: 256 on CPU, as rbt "
                        "explain; 32768 on GPU)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--demo", action="store_true", help="demo windows instead of synthetic")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*required_grads.*")

    from rbt.device import resolve_device
    from rbt.explain import attribute
    from rbt.model import RBTransformer

    dev = resolve_device(args.device)
    ibs = args.internal_batch_size or (256 if dev.type == "cpu" else 32768)
    torch.manual_seed(0)
    model = RBTransformer(num_electrodes=32).to(dev).eval()
    X = windows(args.windows, args.demo)
    Xt = torch.from_numpy(X).to(dev)
    with torch.no_grad():
        target = model(Xt).argmax(-1)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def run_captum():
        return captum_one_at_a_time(model, Xt, target)

    def run_rbt():
        return attribute(model, X, target=target.cpu().numpy(), n_steps=args.steps,
                         internal_batch_size=ibs, device=dev)

    # warm up both paths (allocator, kernels, Captum's imports)
    captum_one_at_a_time(model, Xt[:2], target[:2])
    attribute(model, X[:8], target=target[:8].cpu().numpy(), n_steps=args.steps,
              internal_batch_size=ibs, device=dev)
    times: dict[str, list[float]] = {"captum": [], "rbt": []}
    results = {}
    for _ in range(args.repeats):
        for name, fn in (("captum", run_captum), ("rbt", run_rbt)):
            sync()
            t0 = time.perf_counter()
            results[name] = fn()
            sync()
            times[name].append(time.perf_counter() - t0)
    t_a, t_b = (float(np.median(times[k])) for k in ("captum", "rbt"))
    diff = np.abs(results["captum"] - results["rbt"]).max()
    scale = np.abs(results["captum"]).max()
    n = len(X)
    print(f"device {dev} ({torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs), "
          f"torch {torch.__version__}; {n} windows x 32 electrodes x 4 bands, "
          f"{args.steps} steps, paper-sized model")
    print(f"(a) Captum, one window per call : {t_a:8.2f} s  ({n / t_a:7.1f} windows/s)")
    print(f"(b) rbt.explain.attribute       : {t_b:8.2f} s  ({n / t_b:7.1f} windows/s, "
          f"internal_batch_size {ibs})")
    print(f"ratio (a)/(b): {t_a / t_b:.2f}x")
    print(f"largest difference: {diff:.2e} (largest attribution {scale:.2e}; "
          f"relative {diff / scale:.1e})")


if __name__ == "__main__":
    main()
