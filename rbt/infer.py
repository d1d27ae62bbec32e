"""Per-window predictions on CPU or GPU, streamed in batches."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .device import resolve_device
from .explain.aggregate import explanation_table
from .explain.attention import select_attention
from .model import RBTransformer
from .options import PRECISIONS
from .progress import progress_bar
from .provenance import as_column


@dataclass
class Prediction:
    probs: np.ndarray  # (windows, classes) float32
    pred: np.ndarray  # (windows,) int64
    attention: np.ndarray | None = None  # (windows, depth, heads, E, E) float32
    #: per window: 1 if its trial was in the model's training data, 0 if not, NaN if that
    #: cannot be told; None when the checkpoint does not say (see :mod:`rbt.provenance`)
    in_training: np.ndarray | None = None


def prediction_table(fit, probs: np.ndarray, pred: np.ndarray) -> pd.DataFrame:
    """One row per window of a :class:`~rbt.model_fit.DataFit`: where it is (subject,
    session, trial, window, start), its true class (when the labels are the model's), the
    predicted class and its probability (``confidence``), right or not, each class's
    probability and whether its trial was training data."""
    names = fit.class_names
    where = fit.table[[c for c in ("subject", "session", "trial", "annotation", "window", "start")
                       if c in fit.table]]
    df = explanation_table(where, fit.y, pred, names)
    df.insert(df.columns.get_loc("predicted") + 1, "confidence",
              probs.max(axis=1) if len(probs) else np.zeros(0, np.float32))
    for i, n in enumerate(names):
        df[f"p_{n}"] = probs[:, i]
    if fit.in_training is not None:
        df["in_training"] = as_column(fit.in_training)
    return df


def _autocast(dev: torch.device, precision: str):
    """float32 (exact) runs as is; bfloat16 runs the matrix products in bfloat16 via autocast."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision == "float32":
        return contextlib.nullcontext()
    if dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"this GPU ({torch.cuda.get_device_name(dev)}) has no bfloat16 "
                         "support; use --precision float32")
    if dev.type == "cpu" and not _cpu_has_bf16():
        warnings.warn("this CPU has no native bfloat16 instructions, so --precision bfloat16 "
                      "will be slower than float32", stacklevel=3)
    return torch.autocast(dev.type, dtype=torch.bfloat16)


def _cpu_has_bf16() -> bool:
    try:  # a private check: oneDNN's own test for native bfloat16 (AVX512-BF16, AMX)
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


#: windows a forward pass takes at once on a CPU when the caller does not say: a batch's
#: largest product output (windows x 32 electrodes x 576 for the paper's qkv) then stays in
#: the core's cache. Measured on 2 cores, 20,000 windows, 2 batches side by side (median of 3,
#: load 1 to 1.7): 64 windows 2,854/s, 128 3,246/s, 256 2,899/s, 512 2,401/s.
CPU_BATCH = 128
#: the same for a GPU, whose kernels want many rows at once
GPU_BATCH = 4096


def default_batch_size(device) -> int:
    """The batch size of a forward pass on ``device`` (a torch.device or its name)."""
    return CPU_BATCH if torch.device(device).type == "cpu" else GPU_BATCH


def _batch_size(batch_size: int | None, dev) -> int:
    if batch_size is None:
        return default_batch_size(dev)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    return batch_size


def _in_order(fn, items, workers: int):
    """``map(fn, items)``, with up to ``workers`` calls running side by side in threads
    (twice as many submitted, so memory stays a few batches) and the results in order."""
    if workers <= 1:
        yield from map(fn, items)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix="rbt-predict") as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def predict_array(model: RBTransformer, X: np.ndarray, device="auto",
                  batch_size: int | None = None,
                  attention: bool = False, progress: bool = False,
                  precision: str = "float32",
                  on_progress: Callable[[float], None] | None = None,
                  attention_to=None, workers: int = 1, check: bool = True) -> Prediction:
    """Probabilities, classes and optionally attention for an array (windows, E, bands),
    streamed in batches (of :func:`default_batch_size` windows for the device unless
    ``batch_size`` says); ``on_progress`` gets the fraction done after each batch. Outputs
    that are not finite are an error (unless not ``check``: a task's block, checked whole).

    ``workers`` > 1 runs that many batches side by side on the CPU, in order for the outputs
    (see :func:`rbt.device.use_batch_workers`, which also holds each batch to one torch thread:
    independent batches never wait on each other, where torch's threads meet at every op);
    the results are those of one batch after another.

    ``attention`` keeps every window's attention in memory (float32, 98 KB a window for the
    paper's model); ``attention_to`` (an :class:`~rbt.attention_store.AttentionWriter`) gets
    each batch's attention instead, written to disk as it comes, so memory stays one batch.

    ``precision="bfloat16"`` runs faster on GPUs and on CPUs with native bfloat16
    (AVX512-BF16, AMX) at a small cost in the probabilities (on the demo: median 2e-4, at most
    0.02; the same classes); float32 is exact and the default.
    """
    dev = resolve_device(device)
    batch_size = _batch_size(batch_size, dev)
    model = model.to(dev).eval()
    n = len(X)
    probs = np.empty((n, model.config.num_classes), np.float32)
    maps = []
    with_attention = attention or attention_to is not None
    _autocast(dev, precision)  # checks the precision here, not in a worker

    def run(s: int):
        # inference mode and autocast hold per thread: entered for each batch
        with torch.inference_mode(), _autocast(dev, precision):
            # one float32 contiguous copy of the batch (none when X already is), moved once
            xb = torch.from_numpy(np.ascontiguousarray(X[s: s + batch_size], dtype=np.float32))
            xb = xb.to(dev, non_blocking=True)
            logits, att = model(xb, return_attention=True) if with_attention else (model(xb),
                                                                                    None)
            return s, torch.softmax(logits.float(), dim=-1).cpu().numpy(), att

    starts = range(0, n, batch_size)
    batches = _in_order(run, starts, workers if dev.type == "cpu" else 1)
    with torch.inference_mode():
        for s, p, att in progress_bar(batches, total=len(starts), desc="predict", unit="batch",
                                      disable=not progress):
            probs[s: s + len(p)] = p
            if attention:
                maps.append(att.float().cpu().numpy())
            if attention_to is not None:
                attention_to.write(att)
            if on_progress:
                on_progress(min(1.0, (s + batch_size) / n))
    return _scored(probs, np.concatenate(maps) if attention and maps else None, check)


def _scored(p: np.ndarray, attention, check: bool = True) -> Prediction:
    if check and not np.isfinite(p).all():
        bad = int((~np.isfinite(p)).any(axis=1).sum())
        raise ValueError(f"the model's outputs are not finite (NaN or inf) for {bad} of {len(p)} "
                         "window(s): its weights overflow on these inputs (a broken or hostile "
                         "checkpoint, or features far from its training data); nothing is scored")
    return Prediction(p, p.argmax(axis=1).astype(np.int64), attention)


def predict_task(model, X: np.ndarray, start: int, stop: int, device, batch_size: int | None,
                 attention: bool = False):
    """Windows ``start:stop`` of ``X`` as one Dask task of :func:`predict_on`: the same
    batches as :func:`predict_array` over all of ``X`` (``start`` is a multiple of
    ``batch_size``), on ``device`` resolved where it runs. Returns (probs, attention)."""
    if batch_size is None:  # the block's start is a multiple of CPU_BATCH, GPU_BATCH's divisor
        batch_size = default_batch_size(device)
    p = predict_array(model, X[start:stop], device=device, batch_size=batch_size,
                      attention=attention, check=False)
    return p.probs, p.attention


def predict_on(cluster, model, X: np.ndarray, device="auto", batch_size: int | None = None,
               attention: bool = False, progress: bool = False) -> Prediction:
    """:func:`predict_array` in-process (``cluster`` None), or as Dask tasks of whole batches
    on ``cluster`` (:func:`rbt.cluster.connect`) with ``device`` resolved on the workers,
    never here (the client may lack their GPU): the same numbers on the same device type."""
    if cluster is None:
        return predict_array(model, X, device=device, batch_size=batch_size,
                             attention=attention, progress=progress)
    import copy

    from .cluster import block_starts, run_tasks

    # blocks of whole batches: multiples of GPU_BATCH when the workers choose the size
    step = GPU_BATCH if batch_size is None else _batch_size(batch_size, "cpu")
    parts = run_tasks(cluster, predict_task,
                      [{"start": a, "stop": b, "batch_size": batch_size, "attention": attention}
                       for a, b in block_starts(len(X), step, cluster)],
                      shared={"model": copy.deepcopy(model).cpu(), "X": X}, device=device,
                      desc="predict", unit="block", progress=progress)
    if not parts:
        return predict_array(model, X[:0], device="cpu", batch_size=batch_size,
                             attention=attention)
    return _scored(np.concatenate([p for p, _ in parts]),
                   np.concatenate([a for _, a in parts]) if attention else None)


def predict(fit, device="auto", batch_size: int | None = None, attention: bool = False,
            progress: bool = False, precision: str = "float32",
            on_progress: Callable[[float], None] | None = None,
            attention_to=None, workers: int = 1) -> Prediction:
    """Predict every window of a :class:`~rbt.model_fit.DataFit` (the features in the model's
    electrode order); ``in_training`` marks the windows of the model's training trials."""
    fit.require_runnable()
    result = predict_array(fit.model, fit.X, device=device, batch_size=batch_size,
                           attention=attention, progress=progress, precision=precision,
                           on_progress=on_progress, attention_to=attention_to,
                           workers=workers)
    result.in_training = fit.in_training
    return result


@dataclass
class AttentionSum:
    """The summed attention of ``count`` windows: every block and head ``(depth, heads, E, E)``
    and the rollout ``(E, E)`` (a window's rollout is not linear in its attention, so it is
    summed on its own), in float64. Sums add up (``a + b``), so the sums of small groups (say
    subject × class) give those of any coarser grouping, and :meth:`mean` any block and head,
    without running the model again."""

    blocks: np.ndarray
    rollout: np.ndarray
    count: int

    def __add__(self, other: AttentionSum) -> AttentionSum:
        return AttentionSum(self.blocks + other.blocks, self.rollout + other.rollout,
                            self.count + other.count)

    def mean(self, block="rollout", head="mean") -> np.ndarray:
        """The mean ``(E, E)`` map of one block and head (or their mean, or the rollout)."""
        if isinstance(block, str):
            select_attention(self.blocks, block, head)  # the same checks and messages
            return (self.rollout / self.count).astype(np.float32)
        return (select_attention(self.blocks, block, head) / self.count).astype(np.float32)


def attention_sums(model, X, labels, *, device="auto", batch_size: int = 256,
                   on_progress: Callable[[float], None] | None = None) -> dict:
    """Group -> :class:`AttentionSum` of its windows of ``X``: one pass through ``model`` that
    serves every block, head and rollout. Only running sums are kept, so the
    ``(windows, depth, heads, E, E)`` attention of a large dataset is never held in memory.
    ``on_progress`` gets the fraction done after each batch; groups come in the order they
    first appear in ``labels``."""
    labels = np.asarray(labels)
    if len(labels) != len(X):
        raise ValueError(f"X has {len(X)} windows and labels {len(labels)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    sums: dict = {g: None for g in dict.fromkeys(labels.tolist())}
    for s in range(0, len(X), batch_size):
        att = predict_array(model, X[s: s + batch_size], device=device, batch_size=batch_size,
                            attention=True).attention.astype(np.float64)
        roll = select_attention(att, block="rollout")
        part = labels[s: s + batch_size]
        for g in dict.fromkeys(part.tolist()):
            mask = part == g
            add = AttentionSum(att[mask].sum(axis=0), roll[mask].sum(axis=0), int(mask.sum()))
            sums[g] = add if sums[g] is None else sums[g] + add
        if on_progress:
            on_progress(min(1.0, (s + batch_size) / len(X)))
    return sums


def group_mean_attention(model, X, labels, block="rollout", head="mean", *, device="auto",
                         batch_size: int = 256,
                         on_progress: Callable[[float], None] | None = None) -> dict:
    """Group -> mean ``(E, E)`` attention map of one block and head (or their mean, or the
    rollout; see :func:`rbt.explain.select_attention`) over every window of ``X``, streamed
    (:func:`attention_sums`); float32 means of float64 sums."""
    sums = attention_sums(model, X, labels, device=device, batch_size=batch_size,
                          on_progress=on_progress)
    return {g: total.mean(block, head) for g, total in sums.items()}
