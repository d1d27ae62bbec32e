"""Checkpoint folders: ``config.json`` + ``model.safetensors`` (the official layout, written by
huggingface_hub's PyTorchModelHubMixin), plus rbt's ``rbt_metadata.json``, the model card
(:mod:`rbt.model_card`). This module reads and writes the files; whether a checkpoint fits some
data is :mod:`rbt.model_fit`'s question.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .cache import publish_mode
from .model import MAX_PARAMETERS, ConfigError, RBTransformer, RBTransformerConfig
from .model_card import EMPTY_CARD, MetadataError, ModelCard, read_card
from .model_card import FILE as CARD_FILE
from .safeio import open_regular, read_json, require_regular_file

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
METADATA = CARD_FILE
MAX_CONFIG_BYTES = 1024**2  # a config.json is a few hundred bytes
MAX_HEADER_BYTES = 8 * 1024**2  # the safetensors header of the largest allowed model is ~200 KB
MAX_ZIP_DIRECTORY_BYTES = 1024**2  # a torch.save zip lists ~2 entries per tensor, ~100 B each
# the largest model rbt builds, in float64, plus its header (or zip records)
MAX_WEIGHTS_BYTES = 8 * MAX_PARAMETERS + MAX_HEADER_BYTES + 8
FLOAT_DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32,
                "F64": torch.float64}


class CheckpointError(ValueError):
    """A checkpoint that is missing, unsafe or unreadable, or that cannot be written."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (in eval mode) and its card."""

    model: RBTransformer
    card: ModelCard
    path: Path

    @property
    def config(self) -> RBTransformerConfig:
        return self.model.config


def save_checkpoint(model: RBTransformer, folder, card: ModelCard | None = None,
                    overwrite: bool = False) -> Path:
    """Write the checkpoint folder atomically; refuses to replace one unless ``overwrite``.

    Everything is written to a temporary folder beside ``folder`` first, so a failing write
    (a full disk) raises :class:`CheckpointError` naming the folder and the reason, leaves no
    partial folder and no partial file, and leaves an existing checkpoint there as it was.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"{folder}: is not a folder; a checkpoint is a folder")
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} exists and is not empty; choose another folder or "
                              "allow overwriting")
    try:
        config = json.dumps(model.config.to_dict(), indent=2).encode()
        card = None if card is None or card.is_empty else json.dumps(
            card.to_dict(), indent=2, default=_jsonable).encode()
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{folder}: cannot store the metadata as JSON ({err})") from err
    tmp = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        publish_mode(tmp, directory=True)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS), metadata={"format": "pt"})
        (tmp / CONFIG).write_bytes(config)
        if card is not None:
            (tmp / METADATA).write_bytes(card)
        for file in tmp.iterdir():
            publish_mode(file)
        if folder.exists():  # renames within one file system: they need no space
            for name in (WEIGHTS, CONFIG, METADATA):
                if (tmp / name).exists():
                    os.replace(tmp / name, folder / name)
                else:  # a stale card would describe another model
                    (folder / name).unlink(missing_ok=True)
        else:
            os.replace(tmp, folder)
    except (OSError, SafetensorError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise CheckpointError(
            f"{folder}: could not write the checkpoint ({reason}); nothing was written there"
            f"{' and the checkpoint already there is unchanged' if overwrite else ''}. Free "
            "some space or choose another folder.") from err
    finally:
        if tmp is not None:
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


def load_checkpoint(path, device: str | torch.device = "cpu") -> Checkpoint:
    """The model (in eval mode, on ``device``) and its card, from a checkpoint folder or a
    weights file. Official folders have no card file: their card is :data:`EMPTY_CARD`.

    Accepts a folder with config.json and model.safetensors (official or rbt), or a ``.pt`` /
    ``.bin`` file beside a config.json, which must load with ``torch.load(weights_only=True)``.
    Nothing large is allocated before the files are checked: config.json field by field (and
    against a parameter budget), the weights' names, shapes and dtypes against the shapes the
    config implies (from the safetensors header), and rbt_metadata.json against its schema
    (:mod:`rbt.model_card`). Non-finite weights are refused. Every problem is a
    :class:`CheckpointError`.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint folder or file")
    folder = path if path.is_dir() else path.parent
    config_path = folder / CONFIG
    if not config_path.exists():
        raise CheckpointError(f"{folder}: no {CONFIG}; an RBTransformer checkpoint folder holds "
                              f"{CONFIG} and {WEIGHTS}")
    config = read_config(config_path)
    weights = path if path.is_file() else folder / WEIGHTS
    if path.is_dir() and not weights.exists():
        pickled = sorted(folder.glob("*.bin")) + sorted(folder.glob("*.pt"))
        if not pickled:
            raise CheckpointError(f"{folder}: no {WEIGHTS}")
        weights = pickled[0]
    card = EMPTY_CARD
    if (folder / METADATA).exists() or (folder / METADATA).is_symlink():
        try:
            card = read_card(folder / METADATA, config)
        except MetadataError as err:
            raise CheckpointError(str(err)) from None
    state = read_weights(weights, config)
    model = RBTransformer(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:  # checked above; kept so that nothing escapes as a traceback
        raise CheckpointError(f"{weights}: the weights do not fit {CONFIG} ({err})") from err
    return Checkpoint(model=model.to(device).eval(), card=card, path=path)


def read_config(path) -> RBTransformerConfig:
    """The validated config of a ``config.json`` (see :class:`RBTransformerConfig`)."""
    obj = read_json(path, error=CheckpointError, expected=f"an RBTransformer {CONFIG}",
                    max_bytes=MAX_CONFIG_BYTES)
    try:
        return RBTransformerConfig.from_dict(obj)
    except ConfigError as err:
        raise CheckpointError(f"{path}: not an RBTransformer config ({err})") from None


def read_weights(weights: Path, config: RBTransformerConfig) -> dict[str, torch.Tensor]:
    """The state dict in ``weights``, once its names, shapes and dtypes fit ``config`` and
    every value is finite; :class:`CheckpointError` otherwise."""
    weights = Path(weights)
    st = require_regular_file(weights, CheckpointError, "a weights file")
    if st.st_size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(
            f"{weights}: {st.st_size / 1024**2:,.0f} MB is more than the weights of the largest "
            f"model rbt builds ({MAX_PARAMETERS:,} parameters) can take")
    if weights.suffix == ".safetensors":
        check_tensors(weights, config, _safetensors_header(weights, st.st_size))
        try:
            state = load_file(str(weights))
        except Exception as err:  # safetensors raises its own error types
            raise CheckpointError(f"{weights}: not a readable safetensors file ({err})") from err
    elif weights.suffix in (".pt", ".bin", ".pth"):
        state = _read_pickled(weights, st.st_size)
        check_tensors(weights, config, {k: (tuple(v.shape), _dtype_name(v.dtype))
                                        for k, v in state.items()})
    else:
        raise CheckpointError(f"{weights}: unknown weights format (expected {WEIGHTS})")
    for name, tensor in state.items():
        bad = ~torch.isfinite(tensor)
        if bad.any():
            raise CheckpointError(
                f"{weights}: {name}: {int(bad.sum()):,} of {tensor.numel():,} weights are NaN "
                "or infinite; such a model's predictions (and any accuracy) would be "
                "meaningless. Use a checkpoint from a training run that did not diverge.")
    return state


def _safetensors_header(weights: Path, size: int) -> dict[str, tuple[tuple, str]]:
    """Name -> (shape, dtype) from the header alone. The header's length is checked here
    first; safetensors' ``safe_open`` then parses and validates just the header (the data are
    memory-mapped, not read)."""
    with open_regular(weights, MAX_WEIGHTS_BYTES, CheckpointError, "a weights file") as fh:
        head = fh.read(8)
    n = int.from_bytes(head, "little") if len(head) == 8 else -1
    if not 2 <= n <= min(MAX_HEADER_BYTES, size - 8):
        raise CheckpointError(
            f"{weights}: not a readable safetensors file (its first 8 bytes declare a "
            f"{n:,}-byte header in a {size:,}-byte file; expected at most "
            f"{MAX_HEADER_BYTES:,} bytes)")
    try:
        with safe_open(str(weights), framework="pt") as f:
            return {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype())
                    for k in f.keys()}
    except Exception as err:  # safetensors raises its own error types
        raise CheckpointError(f"{weights}: not a readable safetensors file ({err})") from err


def _dtype_name(dtype: torch.dtype) -> str:
    return next((k for k, v in FLOAT_DTYPES.items() if v == dtype), str(dtype))


def check_tensors(weights: Path, config: RBTransformerConfig,
                  found: dict[str, tuple[tuple, str]]) -> None:
    """Names, shapes and dtypes (``name -> (shape, dtype name)``) against the config's."""
    expected = config.parameter_shapes()
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    if missing or unexpected:
        raise CheckpointError(
            f"{weights}: parameters do not match RBTransformer as {CONFIG} describes it "
            f"({_sizes(config)}): missing {', '.join(missing[:5]) or 'none'}"
            f"{' ...' if len(missing) > 5 else ''}; unexpected "
            f"{', '.join(unexpected[:5]) or 'none'}{' ...' if len(unexpected) > 5 else ''}")
    sizes = [f"size mismatch for {k}: expected {list(shape)} from {CONFIG}, found "
             f"{list(found[k][0])}" for k, shape in expected.items() if found[k][0] != shape]
    if sizes:
        raise CheckpointError(f"{weights}: the weights do not fit {CONFIG} ({_sizes(config)}): "
                              f"{'; '.join(sizes[:3])}{' ...' if len(sizes) > 3 else ''}")
    for name, (_, dtype) in found.items():
        if dtype not in FLOAT_DTYPES:
            raise CheckpointError(
                f"{weights}: {name}: expected floating-point weights ({', '.join(FLOAT_DTYPES)})"
                f", found {dtype}; rbt does not cast other types into weights")


def _sizes(config: RBTransformerConfig) -> str:
    return ", ".join(f"{k} {v}" for k, v in config.to_dict().items())


def _read_pickled(weights: Path, size: int) -> dict:
    """A ``torch.save`` zip loaded with ``weights_only=True``, after checking that it is a zip
    whose records are stored, not compressed (torch would inflate a compressed record however
    large it declares itself), with a small directory. The legacy (pre-1.6) format is refused:
    its loader allocates every storage at the size the pickle declares before reading it."""
    refused = (f"{weights}: refused: pickled weights are only loaded with "
               "torch.load(weights_only=True) from a torch.save zip whose records are not "
               "compressed")
    advice = ("Convert the file to model.safetensors from a trusted environment, or save it "
              "again with torch.save.")
    directory = _zip_directory_size(weights, size)
    if directory is None:
        raise CheckpointError(f"{refused}; this is not a torch.save zip (an old format?). "
                              f"{advice}")
    if directory > MAX_ZIP_DIRECTORY_BYTES:
        raise CheckpointError(f"{refused}; its zip directory of {directory:,} bytes lists far "
                              f"more records than a state dict has. {advice}")
    try:
        with zipfile.ZipFile(weights) as z:
            packed = [i.filename for i in z.infolist() if i.compress_type != zipfile.ZIP_STORED]
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise CheckpointError(f"{refused}; the zip cannot be read ({err}). {advice}") from err
    if packed:
        raise CheckpointError(f"{refused}; {packed[0]} is compressed. {advice}")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"{refused}; torch.load(weights_only=True) failed ({type(err).__name__}). {advice}"
        ) from err
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(f"{weights}: expected a state dict (parameter name -> tensor); "
                              f"found {type(state).__name__}")
    return state


def _zip_directory_size(weights: Path, size: int) -> int | None:
    """The central-directory size a zip's end records declare (ZIP64 ones included, as
    torch.save writes them), or None if there is none. Read by hand because ``zipfile`` builds
    every directory entry in memory before anything can be checked; the records are looked up
    where ``zipfile`` looks for them."""
    tail_len = min(size, 56 + 20 + 22 + 65535)  # ZIP64 record, its locator, end, comment
    with open_regular(weights, MAX_WEIGHTS_BYTES, CheckpointError, "a weights file") as fh:
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    declared = int.from_bytes(tail[at + 12: at + 16], "little")
    locator = at - 20
    if locator >= 0 and tail[locator: locator + 4] == b"PK\x06\x07":
        record = locator - 56
        if record < 0 or tail[record: record + 4] != b"PK\x06\x06":
            return None
        declared = max(declared, int.from_bytes(tail[record + 40: record + 48], "little"))
    return declared


#: the cross-validation results training writes beside a checkpoint, one file per protocol
FOLD_FILES = ("metrics.json", "metrics_window-kfold.json")


def fold_scores(folder):
    """Accuracy and macro-F1 per fold and protocol from the cross-validation files in a
    checkpoint folder (:data:`FOLD_FILES`), as a DataFrame (protocol, fold, accuracy,
    macro_f1); empty when there are none. Unreadable files and malformed folds are skipped:
    these numbers are shown, never computed with."""
    import pandas as pd

    rows = []
    for name in FOLD_FILES:
        path = Path(folder) / name
        if not path.exists():
            continue
        try:
            m = read_json(path, max_bytes=4 * 1024**2)
        except ValueError:
            continue
        folds = m.get("folds") if isinstance(m, dict) else None
        for fold in folds if isinstance(folds, list) else []:
            if isinstance(fold, dict):
                rows.append({"protocol": m.get("protocol", name), "fold": fold.get("fold"),
                             "accuracy": fold.get("accuracy"), "macro_f1": fold.get("macro_f1")})
    return pd.DataFrame(rows, columns=["protocol", "fold", "accuracy", "macro_f1"])
