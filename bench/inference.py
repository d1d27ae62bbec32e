"""Windows per second for rbt's RBTransformer and a reference-style implementation, on CPU.

Both have the paper's hyper-parameters (32 electrodes, as DEAP) and the same weights; the
reference style uses einops rearranges and an explicit softmax (bench/reference_rbtransformer.py).
rbt runs under torch.inference_mode with the fused scaled_dot_product_attention; "rbt+attention"
asks for the attention matrices too; "rbt bf16" is rbt's opt-in ``precision="bfloat16"``
(autocast), whose largest logit change is printed. Prints medians over repeats and the ratios.
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
from rbt.infer import _autocast  # noqa: E402
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
    cpu = torch.device("cpu")

    def bf16(v):
        with _autocast(cpu, "bfloat16"):
            return ours(v)

    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU "
          f"({'with' if native else 'without'} native bfloat16)")
    print(f"{'batch':>5} {'reference':>11} {'rbt':>11} {'rbt+attn':>11} {'rbt bf16':>11} "
          f"{'rbt/ref':>8} {'attn cost':>10} {'bf16/ref':>9} {'bf16 max|dlogit|':>17}")
    for batch in (1, 256):
        x = torch.randn(batch, 32, 4)
        with torch.inference_mode():
            exact = ref(x)
            assert torch.allclose(ours(x), exact, atol=1e-5)
            drift = (bf16(x).float() - exact).abs().max().item()
        rates = interleaved_rates({"ref": ref, "rbt": ours,
                                   "att": lambda v: ours(v, return_attention=True),
                                   "bf16": bf16}, x, args.repeats)
        r, o, a, b = rates["ref"], rates["rbt"], rates["att"], rates["bf16"]
        print(f"{batch:>5} {r:>9.0f}/s {o:>9.0f}/s {a:>9.0f}/s {b:>9.0f}/s "
              f"{o / r:>7.2f}x {o / a:>9.2f}x {b / r:>8.2f}x {drift:>17.1e}")
    print("targets: rbt/ref >= 1.3x at batch 256; attention cost <= 1.3x")


if __name__ == "__main__":
    main()
