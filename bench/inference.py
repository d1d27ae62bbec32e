"""Windows per second for rbt's RBTransformer and a reference-style implementation, on CPU.

Both have the paper's hyper-parameters (32 electrodes, as DEAP) and the same weights; the
reference style uses einops rearranges and an explicit softmax (bench/reference_rbtransformer.py).
rbt runs under torch.inference_mode with the fused scaled_dot_product_attention; "rbt+attention"
asks for the attention matrices too; "rbt bf16" is rbt's opt-in ``precision="bfloat16"``
(autocast), whose largest logit change is printed. Prints medians over repeats and the ratios.

``--fullsize`` times instead what ``rbt predict`` does on all of DEAP (:func:`predict_bench`):
79,360 synthetic windows of 32 electrodes x 4 bands through ``rbt.infer.predict_array`` with
the paper-sized model, without attention, with the rollout and with every block's float16
attention streamed to a temporary folder, each against its target (30 s; 60 s with attention),
with the bytes written and the peak memory.
Usage: python bench/inference.py [--repeats 30] [--device cpu|cuda]
       python bench/inference.py --fullsize [--windows 79360] [--attention none,rollout,full]
           [--threads N] [--batch-size N] [--device auto|cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from bench.reference_rbtransformer import ReferenceRBTransformer  # noqa: E402
from rbt.infer import _autocast  # noqa: E402
from rbt.model import RBTransformer, RBTransformerConfig  # noqa: E402


def interleaved_rates(fns: dict, x, repeats: int, dev=None) -> dict:
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
                if dev is not None and dev.type == "cuda":
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - t0)
    return {name: len(x) / float(np.median(t)) for name, t in times.items()}


DEAP_WINDOWS = 79_360  # 32 subjects x 40 trials x 62 windows (4 s, stride 1 s)
TARGETS = {"none": 30.0, "rollout": 60.0, "full": 60.0}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def predict_bench(tmp=None, n: int = DEAP_WINDOWS, device="auto",
                  batch_size: int | None = None,
                  attention=("none", "rollout", "full"), threads: int | None = None) -> list:
    """``rbt predict``'s work on ``n`` synthetic DEAP-shaped windows, once per ``attention``
    choice ("none", "rollout", "full" or any ``--attention`` text), the attention streamed into
    ``tmp`` (a temporary folder by default; each file removed after it is measured). Returns one
    dict per choice: seconds, windows/s, bytes written, target, peak RSS (MB, process-wide)."""
    from rbt.attention_store import AttentionWriter, parse_attention
    from rbt.device import resolve_device, use_batch_workers
    from rbt.infer import default_batch_size, predict_array

    n_threads = use_batch_workers(threads)  # as rbt predict: batches side by side
    dev = resolve_device(device)
    torch.manual_seed(0)
    model = RBTransformer(RBTransformerConfig(num_electrodes=32)).to(dev).eval()
    cfg = model.config
    X = np.random.default_rng(0).standard_normal((n, 32, 4), dtype=np.float32)
    predict_array(model, X[:1024], device=dev, batch_size=batch_size,
                  attention=True)  # warm up: kernels, allocator
    rows = []
    with tempfile.TemporaryDirectory(dir=tmp) as folder:
        for what in attention:
            paths = {"attention": Path(folder) / "p.attention.npy",
                     "rollout": Path(folder) / "p.rollout.npy"}
            t0 = time.perf_counter()
            if what == "none":
                predict_array(model, X, device=dev, batch_size=batch_size, workers=n_threads)
                written = 0
            else:
                choice = parse_attention(what)
                with AttentionWriter(choice, n, cfg.depth, cfg.heads, cfg.num_electrodes,
                                     paths) as writer:
                    predict_array(model, X, device=dev, batch_size=batch_size,
                                  attention_to=writer, workers=n_threads)
                written = sum(p.stat().st_size for p in writer.paths.values())
            if dev.type == "cuda":
                torch.cuda.synchronize()
            sec = time.perf_counter() - t0
            for p in paths.values():
                p.unlink(missing_ok=True)
            rows.append({"attention": what, "seconds": sec, "rate": n / sec, "bytes": written,
                         "target": TARGETS.get(what, 60.0), "peak_mb": _peak_mb(),
                         "threads": n_threads, "device": str(dev), "windows": n,
                         "batch": batch_size or default_batch_size(dev),
                         "load": os.getloadavg()[0]})
    return rows


def print_predict_bench(rows: list) -> None:
    r0 = rows[0]
    print(f"rbt predict on {r0['windows']:,} windows x 32 x 4 (paper-sized model), batches of "
          f"{r0['batch']} windows, device {r0['device']}, {r0['threads']} batch(es) side by "
          f"side, torch {torch.__version__}")
    print(f"{'attention':>14} {'seconds':>8} {'windows/s':>10} {'written':>10} {'target':>7} "
          f"{'':>7} {'peak RSS':>9} {'load':>5}")
    for r in rows:
        ok = "met" if r["seconds"] <= r["target"] else "NOT met"
        print(f"{r['attention']:>14} {r['seconds']:8.1f} {r['rate']:10.0f} "
              f"{r['bytes'] / 1e6:8.0f} MB {r['target']:6.0f}s {ok:>7} {r['peak_mb']:7.0f} MB "
              f"{r['load']:5.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--fullsize", action="store_true", help="time rbt predict on full DEAP")
    ap.add_argument("--windows", type=int, default=DEAP_WINDOWS)
    ap.add_argument("--attention", default="none,rollout,full",
                    help="comma-separated: none, rollout, full (or ';'-separated --attention "
                    "texts such as 'rollout;0,3')")
    ap.add_argument("--threads", type=int, help="torch threads (default: the free cores)")
    ap.add_argument("--batch-size", type=int, help="default: rbt predict's for the device")
    args = ap.parse_args()
    if args.fullsize:
        choices = args.attention.split(";" if ";" in args.attention else ",")
        print_predict_bench(predict_bench(n=args.windows, device=args.device,
                                          batch_size=args.batch_size, attention=choices,
                                          threads=args.threads))
        return
    torch.manual_seed(0)
    dev = torch.device(args.device if args.device != "auto" else
                       ("cuda" if torch.cuda.is_available() else "cpu"))
    ours = RBTransformer(RBTransformerConfig(num_electrodes=32)).eval().to(dev)
    ref = ReferenceRBTransformer(num_electrodes=32).eval().to(dev)
    ref.load_state_dict(ours.state_dict())

    def bf16(v):
        with _autocast(dev, "bfloat16"):
            return ours(v)

    native = torch.ops.mkldnn._is_mkldnn_bf16_supported() if dev.type == "cpu" else True
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {dev} "
          f"({'with' if native else 'without'} native bfloat16)")
    print(f"{'batch':>5} {'reference':>11} {'rbt':>11} {'rbt+attn':>11} {'rbt bf16':>11} "
          f"{'rbt/ref':>8} {'attn cost':>10} {'bf16/ref':>9} {'bf16 max|dlogit|':>17}")
    for batch in (1, 256):
        x = torch.randn(batch, 32, 4, device=dev)
        with torch.inference_mode():
            exact = ref(x)
            assert torch.allclose(ours(x), exact, atol=1e-5)
            drift = (bf16(x).float() - exact).abs().max().item()
        rates = interleaved_rates({"ref": ref, "rbt": ours,
                                   "att": lambda v: ours(v, return_attention=True),
                                   "bf16": bf16}, x, args.repeats, dev)
        r, o, a, b = rates["ref"], rates["rbt"], rates["att"], rates["bf16"]
        print(f"{batch:>5} {r:>9.0f}/s {o:>9.0f}/s {a:>9.0f}/s {b:>9.0f}/s "
              f"{o / r:>7.2f}x {o / a:>9.2f}x {b / r:>8.2f}x {drift:>17.1e}")
    print("targets: rbt/ref >= 1.3x at batch 256; attention cost <= 1.3x")


if __name__ == "__main__":
    main()
