"""Everything about a FeatureSet in one call: predictions, attributions, attention, rollout."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..infer import predict_array, predict_on
from ..provenance import as_column
from .aggregate import explanation_table
from .attention import attention_rollout
from .attribution import attribute
from .inputs import baseline_reference
from .integrated import IGReport


@dataclass
class Explanation:
    """The explained windows of a FeatureSet, in the model's electrode order."""

    attributions: np.ndarray  # (windows, E, bands) float32
    probs: np.ndarray  # (windows, classes)
    pred: np.ndarray  # (windows,)
    y: np.ndarray | None  # true class where known
    target: np.ndarray  # the class each window's attribution explains
    attention: np.ndarray | None  # (windows, depth, heads, E, E)
    rollout: np.ndarray | None  # (windows, E, E)
    ch_names: list[str]
    bands: list[str]
    class_names: list[str] | None
    table: pd.DataFrame  # subject, trial, ... plus true, predicted, correct
    index: np.ndarray  # which windows of the FeatureSet
    method: str
    baseline: str
    in_training: np.ndarray | None = None  # per window: trial trained on? 1, 0 or NaN unknown
    interpolated: tuple[str, ...] = ()  # electrodes interpolated from the others (FeatureSet)
    #: integrated gradients' points and completeness error per window (None: another method)
    ig_report: IGReport | None = None

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """Arrays for ``np.savez`` (what ``rbt explain`` writes)."""
        out = {
            "attributions": self.attributions, "ch_names": np.array(self.ch_names),
            "bands": np.array(self.bands), "pred": self.pred, "probs": self.probs,
            "target": self.target, "index": self.index, "method": np.array(self.method),
            "baseline": np.array(self.baseline),
        }
        if self.class_names is not None:
            out["class_names"] = np.array(self.class_names)
        if self.y is not None:
            out["y"] = self.y
        if self.in_training is not None:
            out["in_training"] = self.in_training
        if self.interpolated:
            out["interpolated"] = np.array(list(self.interpolated))
        if self.ig_report is not None:
            out["ig_n_steps"] = self.ig_report.n_steps
            out["ig_delta"] = self.ig_report.delta
            tol = self.ig_report.tolerance
            out["ig_tolerance"] = np.array(np.nan if tol is None else tol)
        if self.attention is not None:
            # float16 halves the largest array (depth x heads x E x E per window); softmax
            # weights in [0, 1] keep about 3 significant digits
            out["attention"] = self.attention.astype(np.float16)
            out["rollout"] = self.rollout.astype(np.float32)
        for col in ("subject", "session", "trial", "window"):
            if col in self.table:
                values = self.table[col].to_numpy()
                out[col] = values.astype(str) if values.dtype == object else values
        return out


def _stored_member(path, zf, name):
    """A read-only memory map of an uncompressed ``.npy`` member of a zip file (what np.savez
    and :func:`save_explanation` write), so a whole dataset's attention is never read into
    memory at once; None when the member is compressed or not a plain array."""
    import os
    import struct
    import zipfile

    if not isinstance(path, (str, os.PathLike)):  # an open file (an upload): read it as it is
        return None
    try:
        info = zf.getinfo(name)
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)
            if local[:4] != b"PK\x03\x04":
                return None
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            f.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(f)
            offset = f.tell()
        if dtype.hasobject or offset + dtype.itemsize * int(np.prod(shape)) > \
                info.header_offset + 30 + name_len + extra_len + info.file_size:
            return None
        return np.memmap(path, dtype=dtype, mode="r", shape=shape, offset=offset,
                         order="F" if fortran else "C")
    except (OSError, ValueError, KeyError, struct.error):
        return None


def load_explanation(path) -> Explanation:
    """Read back what ``rbt explain`` wrote, with its window table (subject, trial, ..., true,
    predicted, correct, in_training) ready for :func:`~rbt.explain.aggregate`. The attention
    and rollout are memory-mapped (read-only) where stored uncompressed, as rbt writes them."""
    with np.load(path, allow_pickle=False) as z:
        missing = {"attributions", "ch_names", "bands", "pred", "probs", "target"} - set(z.files)
        if missing:
            raise ValueError(f"{path}: not an rbt explain file (missing "
                             f"{', '.join(sorted(missing))}); it has {', '.join(z.files)}")
        mapped = {k: _stored_member(path, z.zip, f"{k}.npy") for k in ("attention", "rollout")
                  if k in z.files}
        get = {k: mapped.get(k) if mapped.get(k) is not None else z[k] for k in z.files}
    class_names = [str(c) for c in get["class_names"]] if "class_names" in get else None
    y = get.get("y")
    table = pd.DataFrame({c: get[c] for c in ("subject", "session", "trial", "window")
                          if c in get}, index=pd.RangeIndex(len(get["pred"])))
    table = explanation_table(table, y, get["pred"], class_names)
    if "in_training" in get:
        table["in_training"] = as_column(get["in_training"])
    return Explanation(
        attributions=get["attributions"], probs=get["probs"], pred=get["pred"], y=y,
        target=get["target"], attention=get.get("attention"), rollout=get.get("rollout"),
        ch_names=[str(c) for c in get["ch_names"]], bands=[str(b) for b in get["bands"]],
        class_names=class_names, table=table,
        index=get.get("index", np.arange(len(get["pred"]))),
        method=str(get.get("method", "")), baseline=str(get.get("baseline", "")),
        in_training=get.get("in_training"),
        interpolated=tuple(str(c) for c in get.get("interpolated", ())),
        ig_report=None if "ig_n_steps" not in get else IGReport(
            get["ig_n_steps"], get["ig_delta"], int(get["ig_n_steps"].min(initial=0)),
            None if np.isnan(get["ig_tolerance"]) else float(get["ig_tolerance"])))


def _explained_class(target, pred, y, class_names) -> np.ndarray:
    if target is None or (isinstance(target, str) and target == "predicted"):
        return pred
    if isinstance(target, str) and target == "true":
        if y is None:
            raise ValueError("target='true' needs labelled windows whose classes match the "
                             "model's")
        return y
    if isinstance(target, str):
        if class_names is None or target not in class_names:
            raise ValueError(f"unknown class {target!r}; use 'predicted', 'true', a class index "
                             f"or one of {', '.join(class_names or [])}")
        return np.full(len(pred), class_names.index(target))
    t = np.asarray(target)
    return np.full(len(pred), int(t)) if t.ndim == 0 else t


def explain_features(fit, method: str = "integrated_gradients", attention: bool = False,
                     target=None, baseline="zeros", index=None, smoothgrad: bool = False,
                     device="cpu", progress: bool = False, internal_batch_size: int = 256,
                     seed: int = 0, cluster=None, **options) -> Explanation:
    """Predict, attribute and (with ``attention``) roll out attention for the windows of a
    :class:`~rbt.model_fit.DataFit` (features in the model's electrode order).

    ``index`` (indices or a boolean mask) picks windows; baselines that average or draw windows
    ("subject_mean", "sample") use the whole set, never the explained windows themselves.
    ``target`` is None or "predicted" (each window's predicted class), "true", a class name, a
    class index or one index per window. ``options`` go to :func:`rbt.explain.attribute`;
    with ``cluster`` (:func:`rbt.cluster.connect`) the predictions and each block of windows'
    attributions are Dask tasks, on ``device`` as the workers resolve it, never here.
    """
    fit.require_runnable()
    model, X, fs = fit.model, fit.X, fit.fs
    idx = np.arange(len(fs)) if index is None else np.arange(len(fs))[np.asarray(index)]
    result = predict_on(cluster, model, X[idx], device=device, attention=attention,
                        batch_size=max(internal_batch_size, 1))
    class_names = fit.class_names
    y = None if fit.y is None else fit.y[idx]
    explained = _explained_class(target, result.pred, y, class_names)
    subjects = fs.table["subject"].astype(str).to_numpy()
    kwargs = baseline_reference(baseline, X, idx, subjects)
    attributions, report = attribute(
        model, X[idx], target=explained, method=method, baseline=baseline,
        smoothgrad=smoothgrad, internal_batch_size=internal_batch_size, device=device,
        progress=progress, seed=seed, with_report=True, cluster=cluster, **kwargs, **options)
    table = explanation_table(fs.table.iloc[idx], y, result.pred, class_names)
    seen = fit.in_training
    if seen is not None:
        table["in_training"] = as_column(seen[idx])
    return Explanation(
        attributions=attributions, probs=result.probs, pred=result.pred, y=y,
        target=np.asarray(explained, dtype=np.int64), attention=result.attention,
        rollout=None if result.attention is None else attention_rollout(result.attention),
        ch_names=list(fit.ch_names), bands=list(fit.band_names),
        class_names=class_names, table=table, index=idx, method=method,
        baseline=baseline if isinstance(baseline, str) else "array",
        in_training=None if seen is None else seen[idx],
        interpolated=tuple(fit.fs.interpolated), ig_report=report,
    )


def save_explanation(path, explanation: Explanation, attention=None, model=None, X=None,
                     device="cpu", batch_size: int = 256, progress: bool = False) -> None:
    """Write ``explanation`` as ``rbt explain``'s .npz (uncompressed, as ``np.savez``), atomically.

    With ``attention`` (an :class:`~rbt.attention_store.AttentionChoice`), ``model`` is run
    again over ``X`` (the explained windows) and its attention streamed into the file batch by
    batch: ``attention`` (windows x kept blocks x heads x E x E, float16; ``attention_blocks``
    says which) and ``rollout`` (windows x E x E, float32), so memory stays one batch whatever
    the number of windows. Attention held by ``explanation`` itself is written as it is.
    """
    import os
    import shutil
    import tempfile
    import zipfile
    from pathlib import Path

    from ..attention_store import AttentionWriter
    from ..cache import publish_mode

    path = Path(path)
    arrays = explanation.to_npz_dict()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
    os.close(fd)
    roll_tmp = Path(tmp).with_suffix(".rollout.npy")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            if attention is not None:
                cfg = model.config
                blocks = attention.block_list(cfg.depth)
                arrays.pop("attention", None)
                arrays.pop("rollout", None)
                arrays["attention_blocks"] = np.array(blocks, dtype=np.int64)
            for key, value in arrays.items():
                with zf.open(f"{key}.npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
            if attention is not None:
                n = len(X)
                member = zf.open("attention.npy", "w", force_zip64=True) if blocks else None
                try:
                    with AttentionWriter(attention, n, cfg.depth, cfg.heads, cfg.num_electrodes,
                                         {"rollout": roll_tmp},
                                         {"attention": member} if member else None) as writer:
                        predict_array(model, X, device=device, batch_size=batch_size,
                                      progress=progress, attention_to=writer)
                finally:
                    if member is not None:
                        member.close()
                if attention.rollout:
                    with zf.open("rollout.npy", "w", force_zip64=True) as f, \
                            open(roll_tmp, "rb") as src:
                        shutil.copyfileobj(src, f, 1 << 22)
        publish_mode(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        roll_tmp.unlink(missing_ok=True)
