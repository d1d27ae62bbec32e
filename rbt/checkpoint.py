"""Checkpoint folders: ``config.json`` + ``model.safetensors`` (the official layout, written by
huggingface_hub's PyTorchModelHubMixin), plus rbt's ``rbt_metadata.json``.

The metadata says what the model expects: channel names, bands, sampling and filter rates,
window and stride, class names, target, task and label rule, and how it was trained.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .cache import publish_mode
from .model import RBTransformer, RBTransformerConfig
from .montage import canonical_name, name_order

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
METADATA = "rbt_metadata.json"


class CheckpointError(ValueError):
    """A checkpoint is missing, unsafe, or does not fit the data."""


def save_checkpoint(model: RBTransformer, folder, metadata: dict | None = None,
                    overwrite: bool = False) -> Path:
    """Write the checkpoint folder atomically; refuses to replace one unless ``overwrite``."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} exists and is not empty; choose another folder or "
                              "allow overwriting")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    publish_mode(tmp, directory=True)
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS), metadata={"format": "pt"})
        (tmp / CONFIG).write_text(json.dumps(model.config.to_dict(), indent=2))
        if metadata is not None:
            (tmp / METADATA).write_text(json.dumps(metadata, indent=2, default=_jsonable))
        for file in tmp.iterdir():
            publish_mode(file)
        if folder.exists():
            for name in (WEIGHTS, CONFIG, METADATA):
                if (tmp / name).exists():
                    os.replace(tmp / name, folder / name)
        else:
            os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in checkpoint metadata")


def load_model(path, device: str | torch.device = "cpu") -> tuple[RBTransformer, dict | None]:
    """``(model in eval mode, metadata or None)`` from a checkpoint folder or weights file.

    Accepts a folder with config.json and model.safetensors (official or rbt), or a ``.pt`` /
    ``.bin`` file beside a config.json, which must load with ``torch.load(weights_only=True)``.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint folder or file")
    folder = path if path.is_dir() else path.parent
    config_path = folder / CONFIG
    if not config_path.exists():
        raise CheckpointError(f"{folder}: no {CONFIG}; an RBTransformer checkpoint folder holds "
                              f"{CONFIG} and {WEIGHTS}")
    try:
        config = RBTransformerConfig.from_dict(json.loads(config_path.read_text()))
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{config_path}: not an RBTransformer config ({err})") from err
    weights = path if path.is_file() else folder / WEIGHTS
    if path.is_dir() and not weights.exists():
        pickled = sorted(folder.glob("*.bin")) + sorted(folder.glob("*.pt"))
        if not pickled:
            raise CheckpointError(f"{folder}: no {WEIGHTS}")
        weights = pickled[0]
    state = _read_weights(weights)
    model = RBTransformer(config)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shapes that do not fit the config
        sizes = [line.strip() for line in str(err).splitlines() if "size mismatch" in line]
        raise CheckpointError(
            f"{weights}: the weights do not fit {config_path.name} "
            f"({config.to_dict()}): {'; '.join(sizes[:3]) or err}") from err
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"{weights}: parameters do not match RBTransformer: missing "
            f"{', '.join(result.missing_keys[:5]) or 'none'}; unexpected "
            f"{', '.join(result.unexpected_keys[:5]) or 'none'}"
        )
    metadata = None
    if (folder / METADATA).exists():
        try:
            metadata = json.loads((folder / METADATA).read_text())
        except ValueError as err:
            raise CheckpointError(f"{folder / METADATA}: not valid JSON ({err})") from err
    return model.to(device).eval(), metadata


def _read_weights(weights: Path) -> dict:
    if weights.suffix == ".safetensors":
        try:
            return load_file(str(weights))
        except Exception as err:  # safetensors raises its own error types
            raise CheckpointError(f"{weights}: not a readable safetensors file ({err})") from err
    if weights.suffix in (".pt", ".bin", ".pth"):
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as err:
            raise CheckpointError(
                f"{weights}: refused: pickled weights are only loaded with "
                f"torch.load(weights_only=True), which failed ({type(err).__name__}). Convert "
                "the file to model.safetensors from a trusted environment."
            ) from err
        if not isinstance(state, dict):
            raise CheckpointError(f"{weights}: expected a state dict; found {type(state).__name__}")
        return state
    raise CheckpointError(f"{weights}: unknown weights format (expected {WEIGHTS})")


def class_names_for(model: RBTransformer, metadata: dict | None, fs):
    """``(class names, labels comparable)`` for the model's outputs on these features.

    The labels are comparable when the data have as many classes as the model predicts and,
    where the checkpoint names its classes, the same names. Names come from the checkpoint, else
    from comparable data, else None.
    """
    model_names = (metadata or {}).get("class_names")
    comparable = fs.y is not None and fs.n_classes == model.config.num_classes and (
        model_names is None or list(model_names) == list(fs.class_names))
    return model_names or (fs.class_names if comparable else None), comparable


def target_note(metadata: dict | None, fs) -> str | None:
    """A warning when labelled data are labelled for another target or task than the model's
    (the classes may share names, as low/high do, yet the accuracy would mean nothing)."""
    meta = metadata or {}
    if fs.y is None or not meta.get("target"):
        return None
    if (meta["target"], meta.get("task")) == (fs.target, fs.task):
        return None
    return (f"the model was trained to predict {meta['target']}/{meta.get('task')}, but these "
            f"labels are {fs.target}/{fs.task}: the accuracy compares two different things")


def preprocessing_differences(metadata: dict | None, fs) -> list[str]:
    """How the features were computed differently from the model's training features (window,
    stride, the rate the band-pass filters were designed for); empty when they agree or the
    checkpoint does not say."""
    meta = metadata or {}
    prep = meta.get("preprocessing") or {}
    out = [f"{key} {prep[key]} (model) vs {fs.params.get(key)} (data)"
           for key in ("window", "stride")
           if prep.get(key) is not None and fs.params.get(key) is not None
           and float(prep[key]) != float(fs.params[key])]
    model_rate = prep.get("filter_sfreq") or prep.get("sfreq") or meta.get("sfreq")
    data_rate = fs.params.get("filter_sfreq") or fs.sfreq
    if model_rate and data_rate and float(model_rate) != float(data_rate):
        out.append(f"band-pass filters designed for {float(model_rate):g} Hz (model) vs "
                   f"{float(data_rate):g} Hz (data)")
    return out


def uses_reference_filters(fs) -> bool:
    """Were the band-pass filters designed for another rate than the data's (SEED's switch)?"""
    return float(fs.params.get("filter_sfreq") or fs.sfreq) != float(fs.sfreq)


def data_notes(metadata: dict | None, fs, scored: bool = True) -> list[str]:
    """Warnings for predictions or explanations of ``fs`` with a model of this metadata:
    another target (when ``scored``: an accuracy is reported), other preprocessing, or a
    checkpoint that says nothing about its data."""
    notes = [n for n in [target_note(metadata, fs)] if n and scored]
    diffs = preprocessing_differences(metadata, fs)
    if diffs:
        notes.append("the features were computed differently from the model's training "
                     "features: " + "; ".join(diffs))
    if not metadata:
        notes.append("this checkpoint has no rbt metadata (an official folder?), so the "
                     "data's electrode order and classes are assumed to be its training ones")
        if fs.dataset == "seed" and not uses_reference_filters(fs):
            notes.append("official SEED checkpoints expect the reference code's features: "
                         "pass --seed-reference-filters")
    return notes


def align_features(model: RBTransformer, metadata: dict | None, fs):
    """Check that features fit the model and return X ordered as the model expects.

    Electrode count, channel names (case and aliases ignored) and bands must match; channels in
    another order are reordered by name. Official checkpoints carry no channel names, so only the
    count is checked and the data's order is assumed to be the training order.
    """
    n = model.config.num_electrodes
    if metadata and metadata.get("ch_names"):
        want = [canonical_name(c) or c for c in metadata["ch_names"]]
        have = [canonical_name(c) or c for c in fs.ch_names]
        if sorted(want) != sorted(have):
            missing = [c for c in want if c not in have]
            extra = [c for c in have if c not in want]
            raise CheckpointError(
                f"the model was trained on {len(want)} electrodes and the data has {len(have)}; "
                f"missing from the data: {', '.join(missing) or 'none'}; not in the model: "
                f"{', '.join(extra) or 'none'}"
            )
        X = fs.X[:, name_order(fs.ch_names, metadata["ch_names"])]
        bands = metadata.get("bands")
        if bands and [list(map(float, v)) for v in bands.values()] != [
                list(map(float, v)) for v in fs.bands.values()]:
            raise CheckpointError(f"the model expects bands {bands}; the data has {fs.bands}")
    else:
        if fs.X.shape[1] != n:
            raise CheckpointError(f"the model expects {n} electrodes; the data has "
                                  f"{fs.X.shape[1]} ({fs.dataset})")
        X = fs.X
    if X.shape[2] != model.config.bde_dim:
        raise CheckpointError(f"the model expects {model.config.bde_dim} bands per electrode; "
                              f"the data has {X.shape[2]}")
    return X
