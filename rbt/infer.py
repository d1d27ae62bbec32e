"""Per-window predictions on CPU or GPU, streamed in batches."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .checkpoint import align_features
from .device import resolve_device
from .model import RBTransformer
from .progress import progress_bar
from .provenance import as_column, seen_in_training


@dataclass
class Prediction:
    probs: np.ndarray  # (windows, classes) float32
    pred: np.ndarray  # (windows,) int64
    attention: np.ndarray | None = None  # (windows, depth, heads, E, E) float32
    #: per window: 1 if its trial was in the model's training data, 0 if not, NaN if that
    #: cannot be told; None when the checkpoint does not say (see :mod:`rbt.provenance`)
    in_training: np.ndarray | None = None

    def to_frame(self, fs, class_names: list[str] | None = None) -> pd.DataFrame:
        """One row per window: subject, trial, window, true label, predicted label, probs.

        ``class_names`` name the model's classes; without them the data's names are used when
        there are as many, else the class indices. True labels carry the data's names."""
        k = self.probs.shape[1]
        names = class_names or (fs.class_names if len(fs.class_names or ()) == k else None) \
            or [str(i) for i in range(k)]
        df = fs.table[["subject", "session", "trial", "window"]].copy()
        if fs.y is not None:
            data_names = fs.class_names or [str(i) for i in range(int(fs.y.max()) + 1)]
            df["true"] = [data_names[i] for i in fs.y]
        df["predicted"] = [names[i] for i in self.pred]
        for i, n in enumerate(names):
            df[f"p_{n}"] = self.probs[:, i]
        if self.in_training is not None:
            df["in_training"] = as_column(self.in_training)
        return df


PRECISIONS = ("float32", "bfloat16")


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


def predict_array(model: RBTransformer, X: np.ndarray, device="auto", batch_size: int = 512,
                  attention: bool = False, progress: bool = False,
                  precision: str = "float32") -> Prediction:
    """Probabilities, classes and optionally attention for an array (windows, E, bands).

    ``precision="bfloat16"`` runs faster on GPUs and on CPUs with native bfloat16
    (AVX512-BF16, AMX) at a small cost in the probabilities (on the demo: median 2e-4, at most
    0.02; the same classes); float32 is exact and the default.
    """
    dev = resolve_device(device)
    model = model.to(dev).eval()
    probs, maps = [], []
    starts = range(0, len(X), batch_size)
    with torch.inference_mode(), _autocast(dev, precision):
        for s in progress_bar(starts, desc="predict", unit="batch", disable=not progress):
            xb = torch.as_tensor(np.ascontiguousarray(X[s: s + batch_size]), dtype=torch.float32,
                                 device=dev)
            if attention:
                logits, att = model(xb, return_attention=True)
                maps.append(att.float().cpu().numpy())
            else:
                logits = model(xb)
            probs.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
    p = np.concatenate(probs) if probs else np.zeros((0, model.config.num_classes), np.float32)
    if not np.isfinite(p).all():
        bad = int((~np.isfinite(p)).any(axis=1).sum())
        raise ValueError(f"the model's outputs are not finite (NaN or inf) for {bad} of {len(p)} "
                         "window(s): its weights overflow on these inputs (a broken or hostile "
                         "checkpoint, or features far from its training data); nothing is scored")
    return Prediction(p, p.argmax(axis=1).astype(np.int64),
                      np.concatenate(maps) if attention and maps else None)


def predict(model: RBTransformer, features, device="auto", batch_size: int = 512,
            attention: bool = False, metadata: dict | None = None,
            progress: bool = False, precision: str = "float32") -> Prediction:
    """Predict every window of a :class:`~rbt.data.FeatureSet`.

    Channels are checked against (and reordered to) the model's, using ``metadata`` when given.
    Where the metadata fingerprints the training trials, ``in_training`` marks their windows.
    """
    X = align_features(model, metadata, features)
    result = predict_array(model, X, device=device, batch_size=batch_size, attention=attention,
                           progress=progress, precision=precision)
    result.in_training = seen_in_training(metadata, features, X)
    return result
