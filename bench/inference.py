"""Windows per second for rbt's RBTransformer and a reference-style implementation, on CPU.

Both have the paper's hyper-parameters (32 electrodes, as DEAP) and the same weights; the
reference style uses einops rearranges and an explicit softmax (bench/reference_rbtransformer.py).
rbt runs under torch.inference_mode with the fused scaled_dot_product_attention; "rbt+attention"
asks for the attention matrices too. Prints medians over repeats and the ratios.
Usage: python bench/inference.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from bench.reference_rbtransformer import ReferenceRBTransformer  # noqa: E402
from rbt.model import RBTransformer, RBTransformerConfig  # noqa: E402


def interleaved_rates(fns: dict, x, repeats: int) -> dict:
    """Windows per second of each function: warmed up, then timed in turns, median per function.

    Taking turns spreads the machine's noise over all contestants instead of one of them."""
    times = {name: [] for name in fns}
    with torch.inference_mode():
        for fn in fns.values():
            for _ in range(5):
                fn(x)
        for _ in range(repeats):
            for name, fn in fns.items():
                t0 = time.perf_counter()
                fn(x)
                times[name].append(time.perf_counter() - t0)
    return {name: len(x) / float(np.median(t)) for name, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    torch.manual_seed(0)
    ours = RBTransformer(RBTransformerConfig(num_electrodes=32)).eval()
    ref = ReferenceRBTransformer(num_electrodes=32).eval()
    ref.load_state_dict(ours.state_dict())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print(f"{'batch':>5} {'reference':>12} {'rbt':>12} {'rbt+attention':>14} "
          f"{'rbt/ref':>8} {'attention cost':>15}")
    for batch in (1, 256):
        x = torch.randn(batch, 32, 4)
        with torch.inference_mode():
            assert torch.allclose(ours(x), ref(x), atol=1e-5)
        rates = interleaved_rates({"ref": ref, "rbt": ours,
                                   "att": lambda v: ours(v, return_attention=True)},
                                  x, args.repeats)
        r, o, a = rates["ref"], rates["rbt"], rates["att"]
        print(f"{batch:>5} {r:>10.0f}/s {o:>10.0f}/s {a:>12.0f}/s {o / r:>7.2f}x {o / a:>14.2f}x")
    print("targets: rbt/ref >= 1.3x at batch 256; attention cost <= 1.3x")


if __name__ == "__main__":
    main()
